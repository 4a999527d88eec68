"""A small retrieval-augmented question-answering app: the example the plugin's docs walk through."""

from .app import Answer, Assistant, CitedAnswer
from .retriever import Retriever

__all__ = ["Answer", "Assistant", "CitedAnswer", "Retriever"]
