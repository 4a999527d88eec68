"""``python -m pytest_llmops <command>``: the plugin's command-line tools.

Each command lives in its own module and is listed in ``COMMANDS`` as ``"module:factory"``; the
factory returns a ``Command`` (name, one-line help, a function adding its arguments to an argparse
parser, and a function running it and returning the exit status). Adding a command is one line here
plus its module; modules are imported only when their command runs (``--help`` imports them all).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["COMMANDS", "Command", "main"]


@dataclass(frozen=True)
class Command:
    """One subcommand of ``python -m pytest_llmops``."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    description: str | None = None


#: Subcommands, in the order ``--help`` lists them: name -> "module:factory" (factory() -> Command).
COMMANDS: dict[str, str] = {
    "audit": "pytest_llmops.audit:COMMAND",
    "promote": "pytest_llmops.promote:COMMAND",
    "review": "pytest_llmops.review:COMMAND",
}


def load(name: str) -> Command:
    module_name, _, factory = COMMANDS[name].partition(":")
    return getattr(importlib.import_module(module_name), factory)()


def parser(names: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser, with the named subcommands configured (all of them by default)."""
    top = argparse.ArgumentParser(prog="python -m pytest_llmops", description="pytest-llmops command-line tools.")
    sub = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        if names is not None and name not in names:
            sub.add_parser(name, help="(run it with --help for its options)")
            continue
        command = load(name)
        command_parser = sub.add_parser(name, help=command.help, description=command.description or command.help)
        command.configure(command_parser)
        command_parser.set_defaults(_run=command.run)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in args_list if not a.startswith("-")), None)
    names = [chosen] if chosen in COMMANDS else None
    args = parser(names).parse_args(args_list)
    try:
        return int(args._run(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `... | head`
        return 0
