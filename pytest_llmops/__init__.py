"""pytest-llmops: regression-test LLM applications with pytest."""

__version__ = "0.1.0"
__all__ = ["__version__"]
