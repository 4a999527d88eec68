"""The run's settings, resolved once from the command line, the ini file and the environment.

Precedence for the mode: ``CI=true`` means replay unless ``--llm-live`` is on the command line typed
for this run (an ``--llm-live`` that comes from ``addopts`` or ``PYTEST_ADDOPTS`` is ignored in CI, so a
forgotten setting never spends money in CI). Outside CI, ``--llm-live`` from anywhere counts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = ["KEY_VARIABLES", "MISSING_KEY", "PROMPT_LOCK_NAME", "REVIEWS_FILE", "Settings", "Mode", "parse_model_map",
           "placeholder_keys", "restore_keys"]

Mode = Literal["replay", "live", "new"]
_TRUE = {"1", "true", "yes", "on"}

#: The providers' API key variables.
KEY_VARIABLES = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
#: Put in a provider's key variable when it is unset, so clients can be built; never sent live.
MISSING_KEY = "pytest-llmops-no-key"
#: The prompt lock file, in ``llm_prompt_dir`` (``prompts.DEFAULT_LOCK_NAME``).
PROMPT_LOCK_NAME = "prompts.lock"
#: The human review decisions, beside the baseline (``review.REVIEWS_FILE``).
REVIEWS_FILE = "llm-reviews.json"


def placeholder_keys() -> dict[str, str | None]:
    """Clients are often built at import time (``client = OpenAI()``), which fails without a key. Replay
    needs none, so a missing key gets a placeholder (in live mode the transport refuses to send it and
    names the variable to set). Returns the variables as they were, for ``restore_keys``."""
    saved = {name: os.environ.get(name) for name in KEY_VARIABLES.values()}
    for name, value in saved.items():
        if not value:
            os.environ[name] = MISSING_KEY
    return saved


def restore_keys(saved: dict[str, str | None]) -> None:
    """Undo ``placeholder_keys``."""
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        elif not value:
            os.environ[name] = value


def parse_model_map(pairs: list[str] | None) -> dict[str, str]:
    """``["gpt-4o=gpt-4.1"]`` -> ``{"gpt-4o": "gpt-4.1"}``; a malformed pair is a usage error."""
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise ValueError(f"--llm-model expects OLD=NEW (e.g. gpt-4o=gpt-4.1), got {pair!r}")
        mapping[old.strip()] = new.strip()
    return mapping


@dataclass(frozen=True)
class Settings:
    """Everything the plugin's modules need to know about this run."""

    mode: Mode = "replay"
    rootpath: Path = field(default_factory=Path.cwd)
    cassette_dir: Path = Path("cassettes")
    prompt_dir: Path = Path("prompts")
    baseline_path: Path = Path("llm-baseline.json")
    tolerance: float = 0.05
    judge_model: str | None = None
    filter_headers: tuple[str, ...] = ()
    model_map: dict[str, str] = field(default_factory=dict)
    ci: bool = False
    ignored_live: bool = False  # --llm-live came from addopts while CI=true, and was ignored

    @property
    def live(self) -> bool:
        return self.mode != "replay"

    def header_lines(self) -> list[str]:
        """pytest's report header: the mode, where the cassettes are, what CI and --llm-model changed."""
        mode = {"replay": "replay (offline)", "live": "live: re-recording", "new": "live: recording new tests only"}
        line = f"llmops: {mode[self.mode]}, cassettes in {self.cassette_dir}"
        if self.ci and self.mode == "replay":
            line += " (CI=true: replay only)"
        lines = [line]
        if self.ignored_live:
            lines.append("llmops: --llm-live from addopts ignored because CI=true; pass it on the command line")
        if self.model_map:
            lines.append("llmops: model substitution " + ", ".join(f"{a} -> {b}" for a, b in self.model_map.items()))
        return lines

    @property
    def prompt_lock_path(self) -> Path:
        """The prompt lock file (as ``prompts.PromptRegistry(prompt_dir).lock_path``)."""
        return self.prompt_dir.absolute() / PROMPT_LOCK_NAME

    @property
    def reviews_path(self) -> Path:
        """The human review decisions (``llm-reviews.json``) beside the baseline."""
        return self.baseline_path.parent / REVIEWS_FILE

    @classmethod
    def from_config(cls, config: Any) -> Settings:
        root = Path(config.rootpath)
        ci = os.environ.get("CI", "").strip().lower() in _TRUE
        option = config.getoption("llm_live", None)
        mode: Mode = "replay"
        ignored = False
        if option:
            typed = any(str(a).startswith("--llm-live") for a in config.invocation_params.args)
            if ci and not typed:
                ignored = True
            else:
                mode = "new" if option == "new" else "live"

        def path(name: str) -> Path:
            value = Path(str(config.getini(name)))
            return value if value.is_absolute() else root / value

        return cls(
            mode=mode,
            rootpath=root,
            cassette_dir=path("llm_cassette_dir"),
            prompt_dir=path("llm_prompt_dir"),
            baseline_path=path("llm_baseline"),
            tolerance=float(config.getini("llm_tolerance")),
            judge_model=config.getini("llm_judge_model") or None,
            filter_headers=tuple(h.lower() for h in config.getini("llm_filter_headers")),
            model_map=parse_model_map(config.getoption("llm_model", None)),
            ci=ci,
            ignored_live=ignored,
        )
