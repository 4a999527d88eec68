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

__all__ = ["Settings", "Mode", "parse_model_map"]

Mode = Literal["replay", "live", "new"]
_TRUE = {"1", "true", "yes", "on"}


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
