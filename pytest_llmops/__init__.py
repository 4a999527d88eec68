"""pytest-llmops: regression-test LLM applications with pytest."""

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "Usage", "classify_error", "classify_response", "ErrorClass", "Faults",
           "assert_schema", "assert_faithful", "assert_judge", "Judge", "JudgeScore", "JudgeError", "JudgeConfigError",
           "FaithfulnessAssertionError", "JudgeAssertionError", "SchemaAssertionError",
           "Prompt", "PromptRegistry", "PromptError", "load_prompt",
           "BaselineError", "BaselineVerdict", "SnapshotVerdict", "RepeatError", "RepeatWarning",
           "capture"]

#: Public names imported on first use (keeps ``import pytest_llmops`` cheap): name -> module.
_LAZY = {
    "Usage": "pytest_llmops.usage",
    "classify_error": "pytest_llmops.classify",
    "classify_response": "pytest_llmops.classify",
    "ErrorClass": "pytest_llmops.classify",
    "Faults": "pytest_llmops.faults",
    "assert_schema": "pytest_llmops.assertions",
    "assert_faithful": "pytest_llmops.assertions",
    "assert_judge": "pytest_llmops.assertions",
    "FaithfulnessAssertionError": "pytest_llmops.assertions",
    "JudgeAssertionError": "pytest_llmops.assertions",
    "SchemaAssertionError": "pytest_llmops.schema",
    "Judge": "pytest_llmops.judge",
    "JudgeScore": "pytest_llmops.judge",
    "JudgeError": "pytest_llmops.judge",
    "JudgeConfigError": "pytest_llmops.judge",
    "Prompt": "pytest_llmops.prompts",
    "PromptRegistry": "pytest_llmops.prompts",
    "PromptError": "pytest_llmops.prompts",
    "load_prompt": "pytest_llmops.prompts",
    "BaselineError": "pytest_llmops.baseline",
    "BaselineVerdict": "pytest_llmops.baseline",
    "SnapshotVerdict": "pytest_llmops.baseline",
    "RepeatError": "pytest_llmops.repeat",
    "RepeatWarning": "pytest_llmops.repeat",
}


#: Public names that are modules (``pytest_llmops.capture`` is a callable module: see its docstring).
_LAZY_MODULES = {"capture": "pytest_llmops.capture"}


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        import importlib

        return importlib.import_module(_LAZY_MODULES[name])
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_llmops' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
