"""Every command in the docs is one that works: the fenced code blocks of README.md and docs/*.md, run.

Each page is one test. Its blocks run in order in one pytester project (so a page can write a test
file, record it, replay it, break it and show the failure), against the loopback server when a command
records (``--llm-live``: base URLs pointing at it, dummy keys, never a real provider) and offline
otherwise (no keys, base URLs pointing at a closed port). What a block is, is said by an HTML comment
on the line just before it (invisible on GitHub):

``<!-- docs-test: file=tests/test_x.py -->``
    the block is a file of the reader's project: written there (any language).
``<!-- docs-test: run -->`` (python)
    executed in the project folder, in a namespace shared by the page's ``run`` blocks (a later block
    may use what an earlier one defined); ``expect-error=AssertionError`` when the page shows it failing.
``<!-- docs-test: doctest -->`` (python)
    its ``>>>`` examples are checked with doctest.
``<!-- docs-test: expect-exit=1 -->`` (bash, sh, console)
    every command of the block must exit with that status (default 0): a command shown failing
    on purpose.
``<!-- docs-test: skip reason=... -->``
    not run, for the reason given (``pip install`` from PyPI, GitHub Actions YAML, a signature, a
    fragment of a larger file).
``<!-- docs-test: yaml -->``
    the block must be valid YAML (CI workflow files, which cannot run here).

A page-level comment ``<!-- docs-test: page project=examples -->`` starts the page's project with a
copy of ``examples/`` (commands run from the folder holding it, like the repository root), and its
live commands are answered by the example's toy model (``examples/loopback_model.py``).

Shell blocks (bash, sh, shell; console lines starting with ``$ ``) are run by default, command by
command (``&&`` chains, ``\\`` continuations and ``VAR=value`` prefixes understood):
``pytest ...`` and ``python -m pytest ...`` run in-process (pytester), ``python -m pytest_llmops ...``
through its ``main()``; ``cp mv rm mkdir cat diff ls touch`` as processes; ``cd`` changes folder;
``export`` sets a variable (``*_API_KEY`` ones are ignored: the live environment has dummy keys);
``git`` commands are not run (the project copy is no repository). Anything else fails the page: run
it or skip it explicitly. Python blocks must say what they are. Other languages (text, json, yaml,
toml, diff, ...) are output or configuration shown to the reader, unless a directive says more.

Pages still being written by others are listed in ``UNCOVERED`` with the reason; they are reported
as skipped, never silently passed.
"""

from __future__ import annotations

import contextlib
import doctest
import importlib.util
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

# Imported here, once, like the SDKs in conftest.py: pytester's in-process runs drop the modules a run
# imported, so each run would import (and assertion-rewrite) the plugin's lazily imported modules again.
import pytest_llmops.audit
import pytest_llmops.baseline
import pytest_llmops.htmlreport
import pytest_llmops.judge
import pytest_llmops.prompt_session
import pytest_llmops.report
import pytest_llmops.usage  # noqa: F401
from pytest_llmops.loopback import LoopbackProvider

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PAGES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md")),
         "examples/README.md", "examples/resilience/README.md"]
#: Pages not checked yet, and why (reported as skipped).
UNCOVERED: dict[str, str] = {}
SHELL = {"bash", "sh", "shell", "console"}
PYTHON = {"python", "py", "python3"}
RUNNABLE = SHELL | PYTHON
PROCESSES = {"cp", "mv", "rm", "mkdir", "cat", "diff", "ls", "touch"}
DEAD_URL = "http://127.0.0.1:9"  # the discard port: nothing listens, any request would fail to connect
_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_DIRECTIVE = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<body>.*?)\s*-->\s*$")


# -- the pages -------------------------------------------------------------------------------------
@dataclass
class Block:
    page: str
    line: int  # of the opening fence, 1-based
    lang: str
    text: str
    directive: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def kind(self) -> str:
        """What the test does with the block: file, skip, yaml, run, doctest, shell, show; or
        ``missing`` for a python block that says nothing."""
        d = self.directive
        if "skip" in d:
            return "skip"
        if "file" in d:
            return "file"
        if "yaml" in d:
            return "yaml"
        if self.lang in PYTHON:
            return "run" if "run" in d else "doctest" if "doctest" in d else "missing"
        if self.lang in SHELL:
            return "shell"
        return "show"


def parse_directive(body: str) -> dict[str, str]:
    body = body.strip()
    if body == "skip" or body.startswith("skip "):
        reason = body[4:].strip()
        return {"skip": reason.removeprefix("reason=").strip()}
    found: dict[str, str] = {}
    for token in shlex.split(body):
        key, _, value = token.partition("=")
        found[key] = value
    return found


def parse_page(page: str) -> tuple[dict[str, str], list[Block]]:
    """The page-level directive and the fenced blocks of a Markdown page, with their directives."""
    lines = (ROOT / page).read_text(encoding="utf-8").splitlines()
    page_directive: dict[str, str] = {}
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        found = _DIRECTIVE.match(lines[i])
        if found and found.group("body").startswith("page"):
            page_directive = parse_directive(found.group("body")[4:])
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence = len(opening.group("indent")), opening.group("fence")
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence[0] * len(fence)):
            j += 1
        body = [line[indent:] if line[:indent].strip() == "" else line for line in lines[i + 1 : j]]
        before = next((lines[k] for k in range(i - 1, -1, -1) if lines[k].strip()), "")
        directive = _DIRECTIVE.match(before)
        blocks.append(Block(page, i + 1, opening.group("info").strip().split(" ")[0].lower(), "\n".join(body) + "\n",
                            parse_directive(directive.group("body")) if directive else {}))
        i = j + 1
    return page_directive, blocks


# -- running a page --------------------------------------------------------------------------------
def shell_commands(block: Block) -> Iterator[tuple[int, list[str]]]:
    """(line, argv) for each command of a shell block: continuations joined, comments dropped, ``&&``
    chains split; console blocks keep only ``$ `` lines."""
    pending = ""
    for offset, raw in enumerate(block.text.splitlines(), start=1):
        line = raw.rstrip()
        if block.lang == "console":
            if not line.startswith("$ "):
                continue
            line = line[2:]
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        argv = shlex.split(line, comments=True)
        while argv:
            cut = argv.index("&&") if "&&" in argv else len(argv)
            yield block.line + offset, argv[:cut]
            argv = argv[cut + 1 :]


class PageRun:
    """One page's project (a pytester folder) and the state its blocks share."""

    def __init__(self, page: str, pytester: pytest.Pytester, provider: LoopbackProvider,
                 monkeypatch: pytest.MonkeyPatch, options: dict[str, str]) -> None:
        self.page = page
        self.pytester = pytester
        self.provider = provider
        self.monkeypatch = monkeypatch
        self.cwd = pytester.path
        self.exports: dict[str, str] = {}
        self.failures: list[str] = []
        self.counts = {"run": 0, "skipped": 0, "shown": 0}
        self.namespace: dict[str, Any] = {"__name__": "__docs__"}  # shared by the page's `run` blocks
        self.not_run: list[str] = []  # commands seen but deliberately not run (git)
        for name in ("CI", "PYTEST_ADDOPTS", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "ANTHROPIC_AUTH_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        self.reply: Any = None
        if options.get("project") == "examples":
            shutil.copytree(EXAMPLES, pytester.path / "examples",
                            ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", ".hypothesis"))
            self.reply = _load_reply(pytester.path / "examples" / "loopback_model.py")
        else:
            pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")

    # -- blocks ------------------------------------------------------------------------------------
    def run(self, block: Block) -> None:
        kind = block.kind
        if kind == "skip":
            self.counts["skipped"] += 1
            if not block.directive["skip"]:
                self.fail(block, "a skipped block must say why: <!-- docs-test: skip reason=... -->")
            return
        if kind == "show":
            self.counts["shown"] += 1
            return
        if kind == "missing":
            self.fail(block, "a python block must say what it is: <!-- docs-test: file=... -->, run, doctest, "
                             "or skip reason=...")
            return
        self.counts["run"] += 1
        if kind == "file":
            path = self.cwd / block.directive["file"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(block.text, encoding="utf-8")
        elif kind == "yaml":
            try:
                yaml.safe_load(block.text)
            except yaml.YAMLError as exc:
                self.fail(block, f"not valid YAML: {exc}")
        elif kind == "run":
            self.run_python(block)
        elif kind == "doctest":
            self.run_doctest(block)
        else:
            expected = int(block.directive.get("expect-exit", "0"))
            for line, argv in shell_commands(block):
                self.command(block, line, argv, expected)

    def run_python(self, block: Block) -> None:
        expected = block.directive.get("expect-error")
        with self.at(self.cwd):
            try:
                exec(compile(block.text, block.where, "exec"), self.namespace)  # noqa: S102
            except BaseException as exc:  # noqa: BLE001 - reported, not hidden
                names = {cls.__name__ for cls in type(exc).__mro__}
                if expected not in names:
                    self.fail(block, f"raised {type(exc).__name__}: {exc}")
                return
        if expected:
            self.fail(block, f"expected {expected}, nothing was raised")

    def run_doctest(self, block: Block) -> None:
        test = doctest.DocTestParser().get_doctest(block.text, {}, block.where, block.page, block.line)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        output = io.StringIO()
        with self.at(self.cwd):
            runner.run(test, out=output.write)
        if runner.failures:
            self.fail(block, output.getvalue())

    # -- commands ----------------------------------------------------------------------------------
    def command(self, block: Block, line: int, argv: list[str], expected: int) -> None:
        env: dict[str, str] = {}
        while argv and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", argv[0]):
            name, _, value = argv.pop(0).partition("=")
            env[name] = value
        if not argv:
            return
        where, shown = f"{block.page}:{line}", shlex.join(argv)
        program = argv[0]
        if program in ("python", "python3") and argv[1:2] == ["-m"] and len(argv) > 2:
            program, argv = f"-m {argv[2]}", argv[2:]
        if program in ("pytest", "-m pytest"):
            status, output = self.pytest(argv[1:], env)
        elif program == "-m pytest_llmops":
            status, output = self.cli(argv[1:], env)
        elif program in PROCESSES:
            done = subprocess.run(argv, cwd=self.cwd, capture_output=True, text=True,
                                  env={**os.environ, **self.exports, **env}, check=False)
            status, output = done.returncode, done.stdout + done.stderr
        elif program == "cd":
            self.cwd = (self.cwd / argv[1]).resolve()
            return
        elif program == "export":
            for assignment in argv[1:]:
                name, _, value = assignment.partition("=")
                if not name.endswith("_API_KEY"):
                    self.exports[name] = value
            return
        elif program == "git":
            self.not_run.append(f"{where}: {shown}")
            return
        else:
            self.failures.append(f"{where}: cannot run `{shown}` here: run it (see tests/test_docs.py) or mark the "
                                 f"block <!-- docs-test: skip reason=... -->")
            return
        if status != expected:
            tail = "\n".join(output.splitlines()[-60:])
            self.failures.append(f"{where}: `{shown}` exited {status}, the page expects {expected}:\n{tail}")

    def pytest(self, args: list[str], env: dict[str, str]) -> tuple[int, str]:
        live = any(a == "--llm-live" or a.startswith("--llm-live=") for a in args)
        with self.monkeypatch.context() as mp, self.at(self.cwd):
            if live:
                mp.setenv("OPENAI_BASE_URL", self.provider.openai_base_url)
                mp.setenv("ANTHROPIC_BASE_URL", self.provider.anthropic_base_url)
                mp.setenv("OPENAI_API_KEY", "sk-docs-test-openai")
                mp.setenv("ANTHROPIC_API_KEY", "sk-ant-docs-test")
            else:
                mp.setenv("OPENAI_BASE_URL", DEAD_URL + "/v1")
                mp.setenv("ANTHROPIC_BASE_URL", DEAD_URL)
                mp.delenv("OPENAI_API_KEY", raising=False)
                mp.delenv("ANTHROPIC_API_KEY", raising=False)
            for name, value in {**self.exports, **env}.items():
                mp.setenv(name, value)
            self.provider.reply = self.reply
            try:
                # Hypothesis' pytest plugin imports (and rewrites) ~200 modules per run for its summary;
                # no docs command uses Hypothesis.
                with own_test_modules(self.pytester.path):
                    result = self.pytester.runpytest_inprocess("-p", "no:hypothesispytest", *args)
            finally:
                self.provider.reply = None
        return int(result.ret), "\n".join(result.outlines + result.errlines)

    def cli(self, args: list[str], env: dict[str, str]) -> tuple[int, str]:
        from pytest_llmops.cli import main

        output = io.StringIO()
        with self.monkeypatch.context() as mp, self.at(self.cwd):
            for name, value in {**self.exports, **env}.items():
                mp.setenv(name, value)
            with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
                try:
                    status = main(args)
                except SystemExit as exc:  # argparse
                    status = exc.code if isinstance(exc.code, int) else 2
        return status, output.getvalue()

    # -- helpers -----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def at(self, folder: Path) -> Iterator[None]:
        previous = Path.cwd()
        os.chdir(folder)
        try:
            yield
        finally:
            os.chdir(previous)

    def fail(self, block: Block, message: str) -> None:
        self.failures.append(f"{block.where} ({block.lang or 'no language'}): {message}")


@contextlib.contextmanager
def own_test_modules(folder: Path) -> Iterator[None]:
    """Hide, for an in-process run under ``folder``, the outer session's test modules that have the same
    basename as one of the folder's (``tests/test_usage.py`` here and ``examples/tests/test_usage.py``
    there would be "import file mismatch": pytest imports test files by basename)."""
    names = {p.stem for p in folder.rglob("test_*.py")} | {p.stem for p in folder.rglob("*_test.py")}
    hidden = {name: sys.modules.pop(name) for name in names
              if name in sys.modules and not str(getattr(sys.modules[name], "__file__", "")).startswith(str(folder))}
    try:
        yield
    finally:
        sys.modules.update(hidden)


def _load_reply(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"_docs_loopback_model_{abs(hash(path))}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.reply


# -- the tests -------------------------------------------------------------------------------------
def test_every_runnable_block_is_run_or_explicitly_skipped() -> None:
    """No python/shell block goes unchecked by accident: each runs, or says why not."""
    problems = []
    for page in PAGES:
        if page in UNCOVERED:
            continue
        for block in parse_page(page)[1]:
            if block.kind == "missing":
                problems.append(f"{block.where}: python block without a docs-test directive")
            elif block.kind == "skip" and not block.directive["skip"]:
                problems.append(f"{block.where}: skipped without a reason")
            elif "file" in block.directive and not block.directive["file"]:
                problems.append(f"{block.where}: file= needs a path")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", PAGES)
def test_page(page: str, pytester: pytest.Pytester, provider: LoopbackProvider,
              monkeypatch: pytest.MonkeyPatch, record_property: Any) -> None:
    if page in UNCOVERED:
        pytest.skip(f"{page}: {UNCOVERED[page]}")
    options, blocks = parse_page(page)
    run = PageRun(page, pytester, provider, monkeypatch, options)
    for block in blocks:
        run.run(block)
    for key, value in run.counts.items():
        record_property(f"blocks_{key}", value)
    assert not run.failures, "\n\n".join(run.failures)


def coverage() -> dict[str, dict[str, int]]:
    """Blocks per page by kind (``python -c 'from tests.test_docs import coverage; print(coverage())'``)."""
    table: dict[str, dict[str, int]] = {}
    for page in PAGES:
        counts: dict[str, int] = {}
        for block in parse_page(page)[1]:
            kind = "uncovered" if page in UNCOVERED and block.lang in RUNNABLE else block.kind
            counts[kind] = counts.get(kind, 0) + 1
        table[page] = counts
    return table


# -- the reference page lists everything the plugin has ---------------------------------------------
def _reference_script() -> Any:
    spec = importlib.util.spec_from_file_location("_reference_script", ROOT / "scripts" / "reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def test_reference_lists_everything(pytester: pytest.Pytester) -> None:
    """docs/reference.md names every option of the llmops group (pytest --help), every llm_* ini setting,
    every llm* marker (pytest --markers), every fixture of the plugin (pytest --fixtures), every
    ``python -m pytest_llmops`` command and every public name; regenerate it with
    ``python scripts/reference.py --write``."""
    from pytest_llmops.cli import parser

    script = _reference_script()
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    help_lines = pytester.runpytest_inprocess("--help", "-p", "no:hypothesispytest").outlines
    found = {
        "Command-line options": [f"`{n}" for n in script.parse_options(help_lines)],
        "ini settings": [f"`{n}`" for n in script.parse_ini(help_lines)],
        "Markers": [f"`@pytest.mark.{n}" for n in script.parse_markers(
            pytester.runpytest_inprocess("--markers", "-p", "no:hypothesispytest").outlines)],
        "Fixtures": [f"`{n}`" for n in script.parse_fixtures(
            pytester.runpytest_inprocess("--fixtures", "-p", "no:hypothesispytest").outlines)],
        "`python -m pytest_llmops` commands": [f"`{n}`" for n in script.parse_commands(
            parser().format_help().splitlines())],
        "Public API (`pytest_llmops`)": [f"`{n}`" for n in script.public_names()],
    }
    assert len(found["Command-line options"]) >= 9 and len(found["Fixtures"]) >= 7, found  # the parsers work
    page = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    missing = [f"{title}: {name.strip('`')}" for title, names in found.items()
               for name in names if name not in _section(page, title)]
    assert not missing, ("docs/reference.md does not list (run python scripts/reference.py --write):\n"
                         + "\n".join(missing))


# -- links -------------------------------------------------------------------------------------------
_LINK = re.compile(r"\]\((?!https?://|mailto:|#)([^)\s]+)\)")


def test_the_index_links_every_page() -> None:
    index = (ROOT / "docs" / "README.md").read_text(encoding="utf-8")
    linked = {target.split("#")[0] for target in _LINK.findall(index)}
    pages = {p.name for p in (ROOT / "docs").glob("*.md")} - {"README.md"}
    assert not pages - linked, f"docs/README.md does not link: {sorted(pages - linked)}"
    assert "docs/README.md" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_relative_links_resolve() -> None:
    """Every relative link of the checked pages points at a file of the repository (pages still being
    written, in UNCOVERED, may be linked before they exist)."""
    broken = []
    for page in PAGES:
        text = (ROOT / page).read_text(encoding="utf-8")
        for target in _LINK.findall(text):
            path = (ROOT / page).parent / target.split("#")[0]
            pending = str(path.resolve().relative_to(ROOT)) in UNCOVERED if path.resolve().is_relative_to(ROOT) else False
            if target.split("#")[0] and not path.exists() and not pending:
                broken.append(f"{page}: {target}")
    assert not broken, "\n".join(broken)
