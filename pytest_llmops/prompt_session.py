"""The prompts of one pytest session: the registry behind ``llm_prompts`` and ``llm_prompt``, the lock
check at session start, locking new versions on first use, and model substitution on the call log.

Plain objects; ``plugin.py`` wires them to pytest (section ``# -- prompts``). See docs/prompts.md.

- ``SessionPrompts.start()`` (session start, the xdist controller or a run without xdist): with
  ``--llm-lock-prompts`` it re-locks every version and writes the lock file; otherwise it checks the
  lock and raises ``SessionPromptError`` when a locked version was edited or removed (the session
  stops before any test runs). Workers only re-lock in memory.
- A test *uses* a version when it gets one from ``llm_prompts`` / ``llm_prompt``, or when its code
  renders one (``Prompt.render`` / ``call_kwargs`` tell ``context.current()``), including prompts the
  application loads through its own ``PromptRegistry`` of the same folder. ``after_test`` records
  those lineages; a version that is not in the lock yet is locked on first use.
- ``finish()`` (controller): writes the new entries to the lock file, except under ``CI=true``, where
  nothing is written and the unlocked versions fail the session (``unlocked_in_ci``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

from .context import TestContext, current
from .prompts import (
    LOCK_OPTION,
    Prompt,
    PromptError,
    PromptLockError,
    PromptRegistry,
    _display,
)
from .settings import Settings

__all__ = ["PromptParam", "PromptsFixture", "SessionPromptError", "SessionPrompts", "marker_args", "version_params"]


class SessionPromptError(Exception):
    """A problem with the prompts that stops the session before tests run (a usage error)."""


@dataclass(frozen=True)
class PromptParam:
    """The parameter of one run of a test marked ``llm_prompt(name, versions=[...])``."""

    name: str
    version: str

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


def marker_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, list[str] | None]:
    """``llm_prompt("summarize", versions=["v2", "v3"])`` -> ``("summarize", ["v2", "v3"])``.

    ``versions`` may be one string; duplicates are dropped. Raises ``ValueError`` with the problem.
    """
    unknown = sorted(set(kwargs) - {"name", "versions"})
    if unknown:
        hint = " (did you mean versions=[...]?)" if "version" in unknown else ""
        raise ValueError(f"unknown argument {unknown[0]}={kwargs[unknown[0]]!r}{hint}")
    if "name" in kwargs:
        args = (kwargs["name"], *args)
    if len(args) != 1 or not isinstance(args[0], str) or not args[0]:
        raise ValueError("give the prompt's name, e.g. @pytest.mark.llm_prompt(\"summarize\", versions=[\"v1\", \"v2\"])")
    versions = kwargs.get("versions")
    if versions is None:
        return args[0], None
    if isinstance(versions, str):
        versions = [versions]
    if not isinstance(versions, (list, tuple)) or not versions or not all(
        isinstance(v, str) and v for v in versions
    ):
        raise ValueError(f"versions must be a non-empty list of version names like [\"v1\", \"v2\"], got {versions!r}")
    return args[0], list(dict.fromkeys(versions))


def version_params(nodeid: str, marker: Any, fixturenames: Collection[str]) -> list[PromptParam] | None:
    """The runs of a test marked ``llm_prompt(name, versions=[...])``: one ``PromptParam`` per version
    (None without ``versions``: one run, the latest). ValueError says what is wrong with the marker."""
    try:
        name, versions = marker_args(marker.args, marker.kwargs)
    except ValueError as exc:
        raise ValueError(f"{nodeid}: @pytest.mark.llm_prompt: {exc}") from None
    if "llm_prompt" not in fixturenames:
        raise ValueError(
            f"{nodeid}: @pytest.mark.llm_prompt({name!r}) gives the test its prompt through "
            f"the `llm_prompt` fixture, which the test does not take: add llm_prompt to its arguments."
        )
    return None if versions is None else [PromptParam(name, version) for version in versions]


class PromptsFixture:
    """What the ``llm_prompts`` fixture gives: the session's ``PromptRegistry``, whose ``get`` also
    tells the running test which version it uses (its calls and scores then carry the lineage).

    Everything else (``names()``, ``versions()``, iteration, ``in``, ``prompt_dir``, ``lock_path``,
    ...) is the registry's own.
    """

    def __init__(self, prompts: SessionPrompts) -> None:
        self._prompts = prompts
        self.registry = prompts.registry

    def get(self, name: str, version: str | None = None) -> Prompt:
        """The prompt ``name`` at ``version`` (the latest when None); see ``PromptRegistry.get``."""
        return self._prompts.use(name, version)

    def latest(self, name: str) -> Prompt:
        return self._prompts.use(name, None)

    def __iter__(self) -> Iterator[Prompt]:
        return iter(self.registry)

    def __contains__(self, ref: object) -> bool:
        return ref in self.registry

    def __getattr__(self, name: str) -> Any:
        return getattr(self.registry, name)

    def __repr__(self) -> str:
        return f"<llm_prompts {_display(self.registry.prompt_dir)}/>"


class SessionPrompts:
    """The prompt registry of one pytest process, and what the session did with the lock."""

    def __init__(self, settings: Settings, *, relock: bool = False, worker: bool = False) -> None:
        self.settings = settings
        self.registry = PromptRegistry(settings.prompt_dir, model_map=settings.model_map)
        self.relock_requested = relock
        self.worker = worker
        #: ``--llm-lock-prompts``: the refs whose lock entry changed (None when not asked).
        self.relocked: list[str] | None = None
        #: Refs locked on first use and written to the lock file at the end of this session.
        self.locked_now: list[str] = []
        #: Under CI=true: refs used but not in the lock file (the lock file is never written in CI).
        self.unlocked_in_ci: list[str] = []
        #: Error writing the lock file at the end, if any.
        self.write_error: str | None = None
        #: Prompts handed out by this registry, by ref: to tell a call to NEW that --llm-model made.
        self._handed: dict[str, Prompt] = {}
        #: Every version used in this process: ref -> digest (merged from xdist workers on the controller).
        self.used: dict[str, str] = {}

    @property
    def lock_display(self) -> str:
        return _display(self.registry.lock_path)

    # -- session start -----------------------------------------------------------------------------
    def start(self) -> None:
        """Re-lock (``--llm-lock-prompts``) or check the lock; ``SessionPromptError`` stops the session."""
        if self.relock_requested:
            self._relock()
            return
        if self.worker or not self.registry.lock_path.exists():
            return
        try:
            violations = self.registry.check_lock(unreadable=[])
        except PromptError as exc:  # the lock file itself is malformed
            raise SessionPromptError(f"pytest-llmops: cannot read the prompt lock file.\n{exc}") from None
        if violations:
            count = len(violations)
            raise SessionPromptError(
                f"pytest-llmops: {count} released prompt version{'s were' if count > 1 else ' was'} changed "
                f"after {'they were' if count > 1 else 'it was'} locked in {self.lock_display}; no test was run.\n\n"
                + str(PromptLockError(violations))
            )

    def _relock(self) -> None:
        if self.settings.ci:
            raise SessionPromptError(
                f"pytest-llmops: {LOCK_OPTION} rewrites {self.lock_display}, which CI must not do (CI=true).\n"
                f"Re-lock on your machine (pytest {LOCK_OPTION}), review the lock file's diff and commit it."
            )
        try:
            changed = self.registry.relock()
        except PromptError as exc:
            raise SessionPromptError(
                f"pytest-llmops: {LOCK_OPTION}: cannot re-lock, a prompt file is broken; "
                f"{self.lock_display} was not changed.\n{exc}"
            ) from None
        if not self.worker:
            try:
                self.registry.save_lock()
            except OSError as exc:
                raise SessionPromptError(f"pytest-llmops: {LOCK_OPTION}: cannot write {self.lock_display}: {exc}") from None
        self.relocked = changed

    # -- during the tests --------------------------------------------------------------------------
    def use(self, name: str, version: str | None = None, *, under_test: bool = False) -> Prompt:
        """Get a version for the running test and tell the test's context (lineage of its calls and
        scores). ``under_test``: the version is what the test is about (``llm_prompt`` marker)."""
        prompt = self.registry.get(name, version)
        self._handed[prompt.ref] = prompt
        self.used[prompt.ref] = prompt.digest
        ctx = current()
        if ctx is not None:
            ctx.use_prompt(prompt.lineage)
            if under_test:
                ctx.prompt_under_test = prompt.lineage
        return prompt

    def after_test(self, ctx: TestContext | None) -> None:
        """Lock on first use the versions the test's code rendered from this prompt folder (also
        through the application's own registry). Other content under the same name is not ours."""
        for lineage in ctx.prompts if ctx is not None else ():
            self.mark_used(lineage.get("prompt", ""), lineage.get("prompt_digest", ""))

    def mark_used(self, ref: str, digest: str) -> None:
        if ref in self.used:
            return
        name, _, version = ref.rpartition("@")
        if not name or not version or ref not in self.registry:
            return
        try:
            prompt = self.registry._load(name, version)
            if prompt.digest == digest:
                self.registry.get(name, version)
                self.used[ref] = digest
        except PromptError:
            return  # a broken file or an edited locked version: reported where it is used

    def fill_substitution(self, exchange: Any) -> None:
        """Session listener (runs before the call log): a call made with a prompt whose model
        ``--llm-model`` already replaced asked for NEW, so the transport saw nothing to rewrite."""
        if exchange.substituted_model is not None or not self.registry.model_map or not exchange.prompt:
            return
        prompt = self._handed.get(exchange.prompt.get("prompt", ""))
        if (
            prompt is not None
            and prompt.digest == exchange.prompt.get("prompt_digest")
            and prompt.substitution is not None
            and exchange.model == prompt.model
        ):
            exchange.substituted_model = (prompt.original_model, prompt.model)

    # -- xdist ---------------------------------------------------------------------------------------
    def collect(self) -> list[list[str]]:
        """On a worker: the versions it used, as [ref, digest] pairs."""
        return [[ref, digest] for ref, digest in sorted(self.used.items())]

    def merge(self, pairs: list[list[str]]) -> None:
        """On the controller: versions a worker used."""
        for ref, digest in pairs:
            self.mark_used(ref, digest)

    # -- session end ---------------------------------------------------------------------------------
    def finish(self) -> bool:
        """Controller: write versions locked on first use; under CI=true write nothing and return
        False when versions were used that the lock file does not hold (the session must fail)."""
        new = self.registry.newly_locked
        if not new:
            return True
        if self.settings.ci:
            self.unlocked_in_ci = new
            return False
        try:
            self.registry.save_lock()
        except (OSError, PromptError) as exc:
            self.write_error = f"{exc}"
            return True
        self.locked_now = new
        return True

    def summary_lines(self) -> list[tuple[str, dict[str, bool]]]:
        """Lines for the terminal summary, with their markup."""
        lock = self.lock_display
        lines: list[tuple[str, dict[str, bool]]] = []
        if self.relocked:
            text = f"llmops: {LOCK_OPTION}: re-locked {', '.join(self.relocked)} in {lock}; review its diff and commit it"
            lines.append((text, {"yellow": True}))
        elif self.relocked is not None:
            lines.append((f"llmops: {LOCK_OPTION}: {lock} already matches every prompt version", {}))
        if self.locked_now:
            plural = "s" if len(self.locked_now) > 1 else ""
            text = (f"llmops: locked new prompt version{plural} {', '.join(self.locked_now)} in {lock}; "
                    "commit it with the prompt files")
            lines.append((text, {}))
        if self.write_error:
            lines.append((f"llmops: could not write {lock}: {self.write_error}", {"red": True}))
        if self.unlocked_in_ci:
            many = len(self.unlocked_in_ci) > 1
            text = (f"llmops: prompt version{'s' if many else ''} {', '.join(self.unlocked_in_ci)} "
                    f"{'are' if many else 'is'} not in {lock}. Under CI=true the lock file is never written, "
                    f"so the session fails: run the tests on your machine (that locks new versions) and commit {lock}.")
            lines.append((text, {"red": True, "bold": True}))
        return lines
