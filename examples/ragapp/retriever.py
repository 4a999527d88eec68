"""A keyword retriever (BM25) over the documents in ``ragapp/documents``: no model, no index files."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

DOCUMENTS = Path(__file__).parent / "documents"
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset("a an and are as at be by can do does for from how i in is it of on or the to what when which who why with".split())


def _terms(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


@dataclass(frozen=True)
class Document:
    name: str
    text: str


class Retriever:
    """Ranks documents for a question with BM25 (k1=1.5, b=0.75)."""

    def __init__(self, folder: Path = DOCUMENTS) -> None:
        self.documents = [Document(p.stem, p.read_text().strip()) for p in sorted(folder.glob("*.md"))]
        self._terms = [Counter(_terms(d.text)) for d in self.documents]
        self._lengths = [sum(t.values()) for t in self._terms]
        self._average = sum(self._lengths) / max(len(self._lengths), 1)
        frequency = Counter(term for terms in self._terms for term in terms)
        n = len(self.documents)
        self._idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in frequency.items()}

    def search(self, question: str, k: int = 2) -> list[Document]:
        query = _terms(question)
        scores = []
        for i, terms in enumerate(self._terms):
            norm = 1.5 * (0.25 + 0.75 * self._lengths[i] / self._average)
            score = sum(self._idf.get(q, 0.0) * terms[q] * 2.5 / (terms[q] + norm) for q in query if q in terms)
            scores.append((score, i))
        ranked = sorted(scores, key=lambda s: (-s[0], s[1]))
        return [self.documents[i] for score, i in ranked[:k] if score > 0]
