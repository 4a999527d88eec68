"""Offline faithfulness check: does the context support every claim of an answer?

The engine behind ``assert_faithful(answer, context, threshold=...)``: pure Python (standard
library only), no model call, nothing downloaded, deterministic, a few milliseconds per check.

    >>> r = check_faithfulness("The tower is 330 metres tall.", "The tower is 324 metres tall.")
    >>> r.passed, r.unsupported[0].reasons
    (False, ('number 330 not in context',))

Method (details and measurements in docs/faithfulness.md)
----------------------------------------------------------
1. **Claims.** The answer is split into sentences, and a sentence into clauses at ``;``, at
   ", and" / ", but" / ", while" ... and at a bare "and"/"but" when both sides have enough
   content words of their own (``MIN_CLAUSE_WORDS``; lists of names such as "Tom, Anna and
   Bob" stay whole).
2. **Context index** (built once per context, LRU-cached by its text). The context, a string or
   a sequence of passages, is split into sentences; each becomes a set of terms: lower-cased,
   accent-folded, lightly stemmed content words (stopwords removed) and normalised numbers
   ("1,000" = "1000" = "one thousand"; "$3.5m" = 3,500,000; "12%" = "12 percent"). An inverted
   index gives each term its sentences and an IDF weight. Questions in the context ("...?")
   count as context but never as evidence: a question asserts nothing.
3. **Evidence.** Sentences are ranked by the IDF-weighted claim terms they contain; the
   evidence is the best one, extended greedily by up to ``MAX_EVIDENCE_SENTENCES - 1`` more
   that cover claim terms it lacks (a summary sentence often fuses two or three sentences).
4. **Claim score** = mean of two coverages:

   * words: each content word of the claim counts 1 if in the evidence, ``ELSEWHERE_CREDIT``
     if only elsewhere in the context, a quarter if only a word of the same family is
     ("economic"/"economy"), 0 if nowhere; names and numbers weigh ``ENTITY_WEIGHT``;
   * pairs: each pair of content words at most ``PAIR_WINDOW`` apart in the claim counts 1 if
     the two stand together in one evidence sentence, ``ELSEWHERE_CREDIT`` if in another
     sentence of the context, else 0. This is what catches words of the context recombined
     into a claim the context does not make.

   ``PAIR_WEIGHT`` is the share of the pair coverage.
5. **Strict checks** (where hallucinations live). A claim fails, whatever its word overlap, and
   its score is multiplied by ``PENALTY`` per failure, when

   * a number of the claim is not in the context ("number 1998 not in context"), or not in
     its evidence; a claim may round a context number to the precision it states ("$3.5
     million" for $3,460,000), a bare integer must match exactly;
   * a number's unit differs: every number carries the words right after it ("60 days"), a
     percent sign, a currency or a month next to it ("March 2010", "5 March"), and the
     context must state the value with the claim's unit when both give one ("number 60 days
     not in context (it has 60 pounds)"; "12%" is not "12 stores"). A unit word standing
     elsewhere in the number's sentence counts unless it is another number's unit; a claim
     unit that the context never attaches to a number (a synonym, perhaps) only lowers the
     score;
   * a number of the claim is stated in the context, but of something else: an evidence
     sentence fits the claim better and has another number of the same kind in its place
     ("The standard plan costs $49" against "The standard plan costs $29 ... The premium plan
     costs $49": "number $49 where the context has $29");
   * a proper name (a capitalised word inside a sentence, or a mixed-case word) is nowhere in
     the context, allowing for initials ("FA" for "Football Association") and derived forms
     ("Chinese" for "China");
   * a name of the claim takes the place of another name of the context: a context sentence
     states the claim's nearby names/numbers with another name Y next to the same word, and
     the context puts the claim's name next to that word in another sentence ("Madrid is the
     capital of Germany" against "Berlin is the capital of Germany. Madrid is the capital of
     Spain.": "name 'Madrid' where the context has 'Berlin'");
   * the claim is negated and its evidence is not ("not", "no", "never", "n't", "without",
     ...), or the best evidence sentence negates a word that the claim states positively;
   * a comparative, quantifier or order word is reversed about the same thing ("more" /
     "fewer tracks", "before" / "after the war", "all" / "some employees"), or the claim
     says "only X" where the evidence states X without a restriction;
   * a claim word is missing from the evidence while its antonym (a built-in list of
     unambiguous pairs: increase/decrease, higher/lower, win/lose, rose/fell, ...) is there,
     near a word that is near the claim's word (said of the same thing).

6. **Verdict.** ``FaithfulnessResult.score`` is the mean of the claim scores weighted by each
   claim's amount of content (the share of the answer that the context supports). A claim is
   unsupported when a strict check fails or its score is below ``CLAIM_FLOOR * threshold``.
   ``passed`` = no unsupported claim and ``score >= threshold``: a wrong number, name or
   negation fails the answer; loose paraphrase is tolerated up to the threshold; a sentence
   with nothing to do with the context fails on its own.

Edge cases: an answer with no claim ("", whitespace, punctuation) passes with score 1.0, as
does a claim with nothing checkable ("Yes."); against an empty context every claim fails with
"context is empty" (score 0.0).

Known misses: synonyms count as missing words (they lower a faithful paraphrase's score); a
relation reversed between the entities of one sentence ("A hired B" for "B hired A") passes,
and so does a number or word taken from another clause of the same sentence; a name swapped
with one that the context never puts in the same place passes, and an alias used in the same
place ("the Toffees" for "Everton") fails.
"""

from __future__ import annotations

import bisect
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "DEFAULT_THRESHOLD",
    "ClaimCheck",
    "FaithfulnessResult",
    "check_faithfulness",
    "split_claims",
    "split_sentences",
]

# --------------------------------------------------------------------------------------------
# Constants. Each has one meaning; the four marked "tuned" were chosen on half of the dev data
# and checked on the other half (docs/faithfulness.md); the others are fixed by design.
# --------------------------------------------------------------------------------------------

#: default pass mark for the answer's score (tuned)
DEFAULT_THRESHOLD = 0.675
#: a claim is unsupported on its own when its score is below CLAIM_FLOOR * threshold
CLAIM_FLOOR = 0.5
#: credit for a claim word found in the context but not in the claim's evidence (tuned)
ELSEWHERE_CREDIT = 0.5
#: share of a claim's score that comes from pairs of nearby words found together (tuned)
PAIR_WEIGHT = 0.5
#: most sentences that make up one claim's evidence (tuned)
MAX_EVIDENCE_SENTENCES = 3
#: words at most this far apart in a claim form a pair that should co-occur in one sentence
PAIR_WINDOW = 3
#: weight of a proper name or number relative to an ordinary content word
ENTITY_WEIGHT = 2.0
#: multiplier applied to a claim's score per failed strict check
PENALTY = 0.5
#: length of the shared prefix for a fuzzy (partial-credit) word match; 0 disables
PREFIX_LEN = 6
#: least content words on each side of ";" / ", and" for a sentence to be split into claims
MIN_CLAUSE_WORDS = 2

_CACHE_SIZE = 128
_NEGATION_BONUS = 0.5


# --------------------------------------------------------------------------------------------
# Result types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimCheck:
    """The verdict on one claim of the answer."""

    #: the claim text (a sentence or clause of the answer)
    claim: str
    #: False when a strict check failed or the score is below CLAIM_FLOOR * threshold
    supported: bool
    #: support score in 0..1
    score: float
    #: the nearest evidence sentence(s) from the context ("" when none was found)
    evidence: str
    #: what the checks found, e.g. "number 1998 not in context"; may be non-empty for a
    #: supported claim (words not found in the context lower its score)
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class FaithfulnessResult:
    """The verdict on a whole answer: one :class:`ClaimCheck` per claim."""

    #: aggregate score: the mean of the claim scores weighted by each claim's amount of content
    #: (names and numbers count double); 1.0 when the answer has nothing to check
    score: float
    threshold: float
    claims: tuple[ClaimCheck, ...] = ()

    @property
    def passed(self) -> bool:
        """True when the score reaches the threshold and every claim is supported."""
        return self.score >= self.threshold and all(c.supported for c in self.claims)

    @property
    def unsupported(self) -> tuple[ClaimCheck, ...]:
        """The claims that are not supported on their own, in answer order."""
        return tuple(c for c in self.claims if not c.supported)

    def __bool__(self) -> bool:
        return self.passed

    def explain(self) -> str:
        """Human-readable account, for an assertion failure message: each unsupported claim
        (or, when the answer fails on its overall score, its weakest claims), the nearest
        evidence and the reasons."""
        n = len(self.claims)
        head = f"score {self.score:.2f}, threshold {self.threshold:g}"
        if self.passed:
            return f"faithful: {n} claim(s) supported ({head})"
        bad = self.unsupported
        if bad:
            lines = [f"{len(bad)} of {n} claim(s) not supported by the context ({head}):"]
        else:
            bad = tuple(
                sorted((c for c in self.claims if c.score < self.threshold), key=lambda c: c.score)[:3]
            ) or tuple(sorted(self.claims, key=lambda c: c.score)[:1])
            lines = [
                f"answer not supported enough by the context ({head}); weakest claim(s) of {n}:"
            ]
        for i, c in enumerate(bad, 1):
            lines.append(f"  {i}. claim:    {_clip(c.claim, 300)!r}")
            lines.append(f"     score:    {c.score:.2f}")
            lines.append(
                f"     evidence: {_clip(c.evidence, 300)!r}" if c.evidence else "     evidence: (none found)"
            )
            for r in c.reasons:
                lines.append(f"     - {r}")
        return "\n".join(lines)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


# --------------------------------------------------------------------------------------------
# Text normalisation, tokens, stemming
# --------------------------------------------------------------------------------------------

_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "\u2013": "-",
        "\u2014": " - ",
        "\u2212": "-",
        "\u00a0": " ",
    }
)

_QUOTE_RE = re.compile("[" + "".join(chr(c) for c in _QUOTES) + "]")

_STOPWORDS = frozenset(
    """
    a about above across after again against all almost along already also although always am
    among an and another any anyone anything are around as at be became because become been
    before being between both but by can could did do does doing done during each either else
    enough etc even ever every for from further had has have having he her here hers herself him
    himself his how however i if in into is it its itself just let like may me might mine more
    most much must my myself of off on once only onto or other others our ours ourselves out over
    own per quite rather same several shall she should since so some such than that the their
    theirs them themselves then there these they this those though through thus to too toward
    towards under until upon us very via was we well were what whatever when where whereas
    wherever whether which while who whom whose why will with within would yet you your yours
    yourself yourselves s t d ll re ve m o y eg ie one ones many lot lots really get got gets yes yeah
    ok okay percent pct
    """.split()
)

#: negation cues (after "n't" has been rewritten to " not")
_NEGATIONS = frozenset(
    "not no never none nobody nothing neither nor without cannot nowhere".split()
)

#: pairs of opposite content words (compared after stemming); left out: pairs with common
#: senses that are not opposites ("last year" / "first quarter", "close to", "hard work")
_ANTONYM_PAIRS = """
increase decrease|increase reduce|rise fall|rise decline|grow shrink|gain loss|profit loss
higher lower|high low|larger smaller|large small|big small|bigger smaller|greater less
above below|before after|earlier later|best worst|better worse|strong weak|stronger weaker
strengthen weaken|improve worsen|expand contract|positive negative|success failure
succeed fail|win lose|won lost|accept reject|approve reject|agree disagree|allow forbid
allow prohibit|buy sell|bought sold|import export|include exclude|true false|male female
maximum minimum|cheap expensive|easy difficult|possible impossible|legal illegal
likely unlikely|north south|east west|inside outside|internal external|alive dead
support oppose|love hate|hot cold|fast slow|wide narrow|rich poor|safe dangerous
up down|upgrade downgrade|hire fire|hire dismiss|enter exit|arrive depart|add remove|raise cut
raise lower|rise drop|gain drop|boost cut|majority minority|victory defeat|winner loser
ahead behind|top bottom|start finish|early late|long short|heavy light|full empty
private public|domestic foreign|junior senior|upper lower|confirm deny|guilty innocent
convict acquit|surplus deficit|bullish bearish|outperform underperform|lend borrow
overestimate underestimate|inflow outflow|optimistic pessimistic|permanent temporary
voluntary mandatory|optional mandatory|accept decline|accept refuse|allow ban|tighten loosen
accelerate decelerate|ancient modern|simple complex|asleep awake|wet dry|dark light
""".replace("\n", "|")

#: verbs of change in one direction and the other: each word of one line is the opposite of
#: each word of the other ("grew" / "fell", "rose" / "dropped")
_DIRECTIONS = (
    "increase rise rose risen grow grew grown climb jump soar surge",
    "decrease fall fell fallen drop decline shrink shrank shrunk slump plunge",
)

#: opposite comparatives, quantifiers and order words (mostly stopwords, so checked apart from
#: the antonyms, bound to the word they qualify): "a|b c" makes a the opposite of b and c
_OPPOSITE_GROUPS = """
more|less fewer
most|least fewest
before|after
above|below
over|under
all every|some few several
always|sometimes rarely seldom occasionally
"""
#: words that restrict a statement as "only" does
_RESTRICTIVE = frozenset("only just solely sole exclusively alone merely".split())

_WORD_RE = re.compile(r"\w+")
_TOKEN_RE = re.compile(r"(\W*)(\w+)")  # (what stands between tokens, token)
_TOKEN_ASCII_RE = re.compile(r"(\W*)(\w+)", re.ASCII)  # the same on ASCII text, faster
_SCOPE_BREAKS = frozenset(",;:.!?()")
_CLAUSE_WORDS = frozenset("and or but while whereas although though because so yet".split())
_FULL_STOP_RE = re.compile(r"\.\s")
_OPENING_MARKS = frozenset("\"':\u2022*.!?;")
_DOTTED_RE = re.compile(r"\b(?:[A-Za-z]\.){2,}(?![A-Za-z])")
_CONNECTOR_RE = re.compile(r"\s+(?:of|and|for|the|de|&)\s+")
_HYPHENATED_RE = re.compile(r"\b[A-Za-z]+(?:-[A-Za-z]+){1,3}\b")
_CAP_RUN_RE = re.compile(r"\b[A-Z][\w'-]*(?:\s+(?:(?:of|and|for|the|de|&)\s+)?[A-Z][\w'-]*)+")
_NT_RE = re.compile(r"(?i)\b(can)not\b|\b(ca|wo|sha)n't\b|(?<=\w)n't\b")


def _nt_sub(m: re.Match[str]) -> str:
    if m.group(1):
        return m.group(1) + " not"
    if m.group(2):
        base = m.group(2).lower()
        return {"ca": "can", "wo": "will", "sha": "shall"}[base] + " not"
    return " not"


def _fix_unicode(text: str) -> str:
    """NFKC, and typographic quotes/dashes to ASCII (a no-op on ASCII text)."""
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKC", text)
    return _QUOTE_RE.sub(lambda m: _QUOTES[ord(m.group())], text)


def _normalise(text: str) -> str:
    text = _fix_unicode(text)
    if text.count(".") > 1:
        text = _DOTTED_RE.sub(lambda m: m.group(0).replace(".", ""), text)  # "U.K." -> "UK"
    if "n't" in text or "nnot" in text or "N'T" in text or "NNOT" in text:
        text = _NT_RE.sub(_nt_sub, text)
    return text


@lru_cache(maxsize=65536)
def _fold(word: str) -> str:
    """Lower-case and strip accents: "Dréville" -> "dreville"."""
    w = word.lower()
    if w.isascii():
        return w
    d = unicodedata.normalize("NFKD", w)
    return "".join(ch for ch in d if not unicodedata.combining(ch))


@lru_cache(maxsize=65536)
def _stem(w: str) -> str:
    """A light suffix stripper: plurals, -ed, -ing, -ly, final -e / -y. Both sides of every
    comparison go through it, so it only needs to be consistent, not linguistically right."""
    if len(w) <= 3 or not w.isalpha():
        return w
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("sses"):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suf in ("ing", "ed"):
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            w = w[: -len(suf)]
            if w[-1] == w[-2] and w[-1] not in "lsz":
                w = w[:-1]
            break
    if w.endswith("ly") and len(w) >= 6:
        w = w[:-2]
    if len(w) >= 4 and w[-1] in "ey":
        w = w[:-1] + ("i" if w[-1] == "y" else "")
    return w


_ANTONYMS: dict[str, frozenset[str]] = {}


def _build_antonyms() -> None:
    acc: dict[str, set[str]] = {}
    pairs = [pair.split() for pair in _ANTONYM_PAIRS.split("|")]
    up, down = (line.split() for line in _DIRECTIONS)
    pairs += [[a, b] for a in up for b in down]
    for parts in pairs:
        if len(parts) != 2:
            continue
        a, b = (_stem(p) for p in parts)
        acc.setdefault(a, set()).add(b)
        acc.setdefault(b, set()).add(a)
    _ANTONYMS.update({k: frozenset(v) for k, v in acc.items()})


_build_antonyms()

# --------------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------------

_SMALL = {
    "zero": 0, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "dozen": 12,
}  # fmt: skip
_SCALES = {
    "hundred": 100.0, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12,
    "k": 1e3, "m": 1e6, "mn": 1e6, "mln": 1e6, "bn": 1e9, "b": 1e9, "tn": 1e12,
}  # fmt: skip
_NUMBER_WORDS = frozenset(_SMALL) | {"hundred", "thousand", "million", "billion", "trillion"}

_NUM_RE = re.compile(
    r"(?=[$£€¥.\d])"  # a fast test: what a number can start with
    r"(?<![\w.])(?P<cur>[$£€¥]\s?)?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"(?:\s?(?P<scale>hundred|thousand|million|billion|trillion|mln|mn|bn|tn|k|m|b)(?![A-Za-z]))?"
    r"(?:\s?(?:%|percent\b|per\s+cent\b))?"
    r"(?:st|nd|rd|th|s)?"
    r"(?![A-Za-z])",
    re.IGNORECASE,
)
_SCALE_WORDS = "hundred|thousand|million|billion|trillion"
_WORDNUM_RE = re.compile(
    r"(?i)\b(?:(?:a|one)[\s-]+(?=(?:" + _SCALE_WORDS + r")\b))?"
    r"(?:" + "|".join(_SMALL) + "|" + _SCALE_WORDS + r")"
    r"(?:[\s-]+(?:and\s+)?(?:" + "|".join(_SMALL) + "|one|" + _SCALE_WORDS + r"))*\b"
)


class _Num:
    """A number stated in a text: its text, value, how far a rounded claim may be off (half a
    unit of the last stated digit, times the scale), and its unit: what it counts or measures
    ("days", "%", "$", a month for a day or year), empty when the text gives none."""

    __slots__ = ("text", "value", "tolerance", "unit", "phrase", "start")

    def __init__(
        self,
        text: str,
        value: float,
        tolerance: float,
        unit: frozenset[str] = frozenset(),
        phrase: str = "",
        start: int = 0,
    ) -> None:
        self.text, self.value, self.tolerance = text, value, tolerance
        self.start = start  # offset in the (normalised) text
        self.unit = unit
        self.phrase = phrase or text  # the number with its unit, as written: "60 days"

    def __repr__(self) -> str:
        return f"_Num({self.text!r}, {self.value!r}, {self.tolerance!r}, {sorted(self.unit)})"


def _parse_word_number(text: str) -> float | None:
    words = [w for w in re.split(r"[\s-]+", text.lower()) if w and w != "and"]
    if not words:
        return None
    if all(w in ("a", "one") for w in words):
        return None  # "a" / "one" alone is a pronoun or article, not a quantity
    total, current, seen = 0.0, 0.0, False
    for i, w in enumerate(words):
        if w in ("a", "one"):
            # "a"/"one" opens a quantity only before a scale word ("a hundred", "one million");
            # "one" after a tens word is a digit ("twenty-one")
            before_scale = i + 1 < len(words) and words[i + 1] in _SCALES
            if before_scale or (w == "one" and i > 0):
                current += 1
        elif w in _SMALL:
            current += _SMALL[w]
            seen = True
        elif w == "hundred":
            current = (current or 1) * 100
            seen = True
        elif w in _SCALES:
            total += (current or 1) * _SCALES[w]
            current = 0.0
            seen = True
    if not seen:
        return None
    return total + current


_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        "January Jan|February Feb|March Mar|April Apr|May|June Jun|July Jul|August Aug|"
        "September Sep Sept|October Oct|November Nov|December Dec".split("|")
    )
    for m in names.split()
}
#: the words that follow a number, up to two (what it counts: "60 days", "12 new stores")
_AFTER_RE = re.compile(r"[ \t-]{0,3}([^\W\d_]+)(?:[ \t-]+([^\W\d_]+))?(?!\w)")
#: a month just before a number: "March 2010", "March 5", "March 5, 2010"
_MONTH_BEFORE_RE = re.compile(
    r"\b(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?\s+"
    r"(?:\d{1,2}(?:st|nd|rd|th)?,?\s+)?$"
)
_PERCENT_UNIT = "%"
_PERCENT_RE = re.compile(r"(?i)%|per\s*cent")
_PERCENT_WORDS = frozenset({"percent", "pct", "percentage", "percentages"})


def _unit_of(
    text: str, m: re.Match[str], *, year_like: bool, currency: str
) -> tuple[frozenset[str], str]:
    """(unit, phrase) of the number matched by m in text. The unit: "%" for a percentage, the
    currency ("$" -> "dollar"), a month next to it ("@3" for March: "March 2010", "5 March",
    "March 5, 2010"), and, unless the number looks like a year, the content words right after
    it (up to two, before any stopword): "60 days" -> {"day"}, "12 new stores" -> {"new",
    "store"}; empty when nothing qualifies the number. The phrase: the number with its unit
    as written, for messages ("60 days", "12 new stores", "March 2010")."""
    unit: set[str] = set()
    raw = m.group(0)
    if _PERCENT_RE.search(raw):
        unit.add(_PERCENT_UNIT)
    if currency:
        unit.add(currency)
    end = m.end()
    phrase_start, phrase_end = m.start(), end
    before = _MONTH_BEFORE_RE.search(text, max(0, m.start() - 16), m.start())
    if before:
        unit.add(f"@{_MONTHS[before.group(1)]}")
        phrase_start = before.start()
    after = _AFTER_RE.match(text, end)
    if after:
        for g in (1, 2):
            word = after.group(g)
            if not word:
                break
            if word in _MONTHS and word[0].isupper():
                unit.add(f"@{_MONTHS[word]}")
                phrase_end = after.end(g)
                break
            low = _fold(word)
            if low in _PERCENT_WORDS:
                unit.add(_PERCENT_UNIT)
                phrase_end = after.end(g)
                continue
            if (
                year_like
                or low in _STOPWORDS
                or low in _NEGATIONS
                or low in _NUMBER_WORDS
                or low in _SCALES
            ):
                break
            unit.add(_stem(low))
            if g == 1 or (not after.group(1).endswith("s") and low.endswith("s")):
                # the phrase ends at the first plural: "60 days" (not "60 days later"), "12 new
                # stores"
                phrase_end = after.end(g)
    phrase = text[phrase_start:phrase_end].strip()
    return frozenset(unit), phrase


def _numbers(text: str, words: bool = True) -> list[_Num]:
    """Numbers stated in (normalised) text, in digits and (if ``words``) in words, each with
    its unit (see _unit_of)."""
    out: list[_Num] = []
    spans: list[tuple[int, int]] = []
    for m in _NUM_RE.finditer(text):
        spans.append(m.span())
        raw = m.group("num")
        cur = (m.group("cur") or "").strip()
        scale_word = (m.group("scale") or "").lower()
        if scale_word in ("m", "b", "k") and not cur:
            # "5 m" is more likely metres than millions; keep the bare number
            scale_word = ""
        try:
            v = float(raw.replace(",", ""))
        except ValueError:  # pragma: no cover - regex guarantees digits
            continue
        decimals = len(raw.split(".", 1)[1]) if "." in raw else 0
        scale = _SCALES.get(scale_word, 1.0)
        if scale > 1 or decimals:
            tol = 0.5 * 10.0 ** (-decimals) * scale
        else:
            tol = 0.0
        year_like = (
            len(raw) == 4 and not cur and scale == 1.0 and 1000 <= v <= 2100
            and m.group(0)[-1] != "%"
        )
        unit, phrase = _unit_of(text, m, year_like=year_like, currency=_CURRENCY_WORDS.get(cur, ""))
        out.append(_Num(m.group(0).strip(), v * scale, tol, unit, phrase, m.start()))
    for m in _WORDNUM_RE.finditer(text) if words else ():
        if any(a < m.end() and m.start() < b for a, b in spans):
            continue  # the scale word of "3.5 million", already read
        wv = _parse_word_number(m.group(0))
        if wv is not None:
            unit, phrase = _unit_of(text, m, year_like=False, currency="")
            out.append(_Num(m.group(0).strip(), wv, 0.0, unit, phrase, m.start()))
    return out


def _num_key(v: float) -> str:
    return "#" + (repr(int(v)) if v == int(v) and abs(v) < 1e18 else repr(round(v, 6)))


def _num_keys(n: _Num) -> list[str]:
    """Index keys of a number: its value ("#60"), and its value with each unit word ("#60/day"),
    so that evidence is sought where the number has the claim's unit."""
    key = _num_key(n.value)
    return [key, *(key + "/" + u for u in n.unit)] if n.unit else [key]


# --------------------------------------------------------------------------------------------
# Sentences and claims
# --------------------------------------------------------------------------------------------

_ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof sr jr st mt ft vs etc inc ltd co corp no nos fig figs al gen col lt sgt
    capt gov sen rep rev jan feb mar apr jun jul aug sep sept oct nov dec approx dept est vol
    pp p ed eds ph e.g i.e u.s u.k u.n cf ca op
    """.split()
)
_BOUNDARY_RE = re.compile(r"([.!?]+)([\"')\]]*)(\s+)[^\w\s]{0,3}(\w)")
_NUMBER_ABBREVIATIONS = frozenset({"no", "nos", "p", "pp", "vol", "fig", "figs", "op"})
_DOTTED_KEY_RE = re.compile(r"(?:[a-z]\.)+[a-z]")
_GLUED_RE = re.compile(r"(?<=[a-z\u00df-\u00ff]{2}[.!?])(?=[A-Z][a-z])")
_GLUED_HINT_RE = re.compile(r"[.!?][A-Z]")  # a fast test before _GLUED_RE
_BULLET_RE = re.compile(r"^\s*(?:[-*\u2022\u25aa>]+|\d{1,2}[.)])\s+")


def _split_line(line: str) -> list[str]:
    parts: list[str] = []
    start = 0
    for m in _BOUNDARY_RE.finditer(line):
        nxt = m.group(4)
        if nxt.islower() or nxt == "_":
            continue  # "e.g. this", "3 p.m. today": a sentence starts with a capital, a digit
            # or a letter of a script without case
        end = m.start()
        last = line[line.rfind(" ", start, end) + 1 : end]
        if not last.isalnum():
            before = line[start:end]
            last = before.rsplit(None, 1)[-1] if before.strip() else ""
        key = last.lower().lstrip("(\"'")
        if m.group(1) == "." and (
            (key in _ABBREVIATIONS and (key not in _NUMBER_ABBREVIATIONS or nxt.isdigit()))
            or (len(key) == 1 and last[-1].isupper())  # an initial: "J. K. Rowling"
            or _DOTTED_KEY_RE.fullmatch(key)
        ):
            continue
        parts.append(line[start : m.end(2)])
        start = m.end(3)
    parts.append(line[start:])
    if _GLUED_HINT_RE.search(line):
        out: list[str] = []
        for p in parts:
            out.extend(_GLUED_RE.split(p))
        parts = out
    return [p.strip() for p in parts if p.strip()]


def split_sentences(text: str) -> list[str]:
    """Split text into sentences.

    Blank lines and line breaks end a sentence unless the next line starts in lower case (a
    wrapped line); ``.``, ``!`` and ``?`` end one when a capital or digit follows, except after
    common abbreviations and initials; "end.Start" with no space also splits. Leading list
    bullets are removed.
    """
    text = _fix_unicode(text)
    blocks: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            blocks.append("")
            continue
        if blocks and blocks[-1] and line[0].islower() and not _BULLET_RE.match(raw):
            blocks[-1] += " " + line
        else:
            blocks.append(_BULLET_RE.sub("", line))
    out: list[str] = []
    for b in blocks:
        if b:
            out.extend(_split_line(b))
    return out


_CLAUSE_RE = re.compile(
    r"\s*;\s*|,\s+(?:and|but|while|whereas|although|though)\s+(?=\S)|\s+(?:and|but)\s+(?=\S)",
    re.IGNORECASE,
)
_PRONOUN_START_RE = re.compile(r"(?i)(?:he|she|it|they|we|i|you|there)\b")


def _content_words(text: str) -> list[str]:
    return [
        w
        for w in (_fold(t) for t in _WORD_RE.findall(text))
        if w not in _STOPWORDS and w not in _NEGATIONS and not w.isdigit() and w not in _NUMBER_WORDS
    ]


def _has_lower_content(text: str) -> bool:
    for t in _WORD_RE.findall(text):
        if t[0].islower() and _fold(t) not in _STOPWORDS and _fold(t) not in _NEGATIONS:
            return True
    return False


def _split_clauses(sentence: str) -> list[str]:
    pieces = _CLAUSE_RE.split(sentence)
    if len(pieces) == 1:
        return [sentence]
    seps = [m.group(0) for m in _CLAUSE_RE.finditer(sentence)]
    out: list[str] = [pieces[0]]
    for sep, piece in zip(seps, pieces[1:], strict=True):
        left = out[-1]
        bare = "," not in sep and ";" not in sep  # "A and B": often two noun phrases
        need = MIN_CLAUSE_WORDS + (0 if not bare or _PRONOUN_START_RE.match(piece) else 1)
        ok = (
            len(_content_words(left)) >= need
            and len(_content_words(piece)) >= need
            and (";" in sep or (_has_lower_content(left) and _has_lower_content(piece)))
        )
        if ok:
            out.append(piece)
        else:
            out[-1] = left + sep + piece
    return [c.strip(" ,;") for c in out if c.strip(" ,;")]


def split_claims(answer: str) -> list[str]:
    """Split an answer into claims: its sentences, and the clauses of a sentence joined by
    ``;``, by ", and" / ", but" / ", while" / ", whereas" / ", although", or by a bare "and" /
    "but", when each side has at least ``MIN_CLAUSE_WORDS`` content words (one more for a bare
    conjunction unless a pronoun follows it) and, for a conjunction, a lower-case content word
    on each side, so that "Tom, Anna and Bob" or "cats and dogs" stay whole. Fragments without
    any word (a lone "." or "-") are dropped.

    >>> split_claims("The tower is 330 metres tall and it was painted pink. Tom and Anna came.")
    ['The tower is 330 metres tall', 'it was painted pink.', 'Tom and Anna came.']
    """
    claims: list[str] = []
    for sent in split_sentences(answer):
        for c in _split_clauses(sent):
            if _WORD_RE.search(c):
                claims.append(c)
    return claims


# --------------------------------------------------------------------------------------------
# Term extraction
# --------------------------------------------------------------------------------------------


class _Terms:
    """The terms of one sentence or claim."""

    __slots__ = ("words", "names", "nums", "negs", "seq", "breaks", "lower", "initial")

    def __init__(
        self,
        words: frozenset[str],
        names: frozenset[str],
        nums: tuple[_Num, ...],
        negs: frozenset[str],
        seq: tuple[str, ...] = (),
        breaks: tuple[int, ...] = (),
        lower: set[str] | frozenset[str] = frozenset(),
        initial: str = "",
    ) -> None:
        self.words = words  # stemmed content words
        self.names = names  # the subset of words written as proper names
        self.nums = nums
        self.negs = negs  # negation cues
        self.seq = seq  # content words in order
        self.breaks = breaks  # positions in seq where a sentence or clause starts (. ! ? ;)
        self.lower = lower  # the words never capitalised in this sentence
        self.initial = initial  # the first word, when capitalised and not known as a name

    def __repr__(self) -> str:
        return f"_Terms(words={sorted(self.words)}, names={sorted(self.names)}, nums={self.nums})"


_NEG, _SKIP, _WORD, _NUMBER = 0, 1, 2, 3
_CURRENCY_WORDS = {
    "$": _stem("dollar"), "\u00a3": _stem("pound"), "\u20ac": _stem("euro"), "\u00a5": _stem("yen")
}  # fmt: skip
_CURRENCY_UNITS = frozenset(_CURRENCY_WORDS.values())
#: nouns that can stand for any counted thing: "56 people" for "56 crew members"
_GENERIC_UNITS = frozenset(_stem(w) for w in "people persons individuals things items".split())


def _classify(tok: str) -> tuple[int, str]:
    """(kind, key) of a token: (_NEG, cue), (_SKIP, "") for a stopword, (_NUMBER, "") for a
    number in digits or words (read separately by _numbers), or (_WORD, stem)."""
    low = _fold(tok)
    if low in _NEGATIONS:
        return _NEG, low
    if low in _NUMBER_WORDS or low.isdigit() or (not low.isalpha() and _NUM_RE.fullmatch(tok)):
        return _NUMBER, ""
    if low in _STOPWORDS or low == "_" or low.isdigit():
        return _SKIP, ""
    if not low.isalpha() and any(ch.isdigit() for ch in low):
        return _NUMBER if _NUM_RE.search(tok) else _WORD, _stem(low)
    return _WORD, _stem(low)


_TOKEN_CACHE: dict[str, tuple[int, str]] = {}


def _token(tok: str) -> tuple[int, str]:
    got = _TOKEN_CACHE.get(tok)
    if got is None:
        if len(_TOKEN_CACHE) > 200_000:
            _TOKEN_CACHE.clear()  # bound memory on endless streams of new words
        got = _TOKEN_CACHE[tok] = _classify(tok)
    return got


def _terms(sentence: str, *, known_names: frozenset[str] = frozenset()) -> _Terms:
    text = _normalise(sentence)
    names: set[str] = set()
    caps: set[str] = set()
    negs: set[str] = set()
    seq: list[str] = []
    append = seq.append
    breaks: list[int] = []
    initial = ""
    has_number = has_word_number = False
    toks = (_TOKEN_ASCII_RE if text.isascii() else _TOKEN_RE).findall(text)
    cache = _TOKEN_CACHE
    for i, (mark, tok) in enumerate(toks):
        kind, key = cache.get(tok) or _token(tok)
        if mark != " " and i and seq and (
            "!" in mark or "?" in mark or ";" in mark or _FULL_STOP_RE.search(mark)
        ):
            breaks.append(len(seq))
        if kind == _WORD:
            append(key)
            if tok[0].isupper():
                caps.add(key)
                if i == 0 or (mark != " " and not _OPENING_MARKS.isdisjoint(mark)):
                    # sentence-initial, or after a quote/colon/bracket: a name only if written
                    # like one ("McIlroy", "eBay") or known as a name from the context
                    if key in known_names or (not tok.isupper() and tok[1:] != tok[1:].lower()):
                        names.add(key)
                    elif i == 0:
                        initial = key
                else:
                    names.add(key)
        elif kind == _NEG:
            # "No 7" / "no. 7" is a number sign, not a negation
            if not (key == "no" and i + 1 < len(toks) and toks[i + 1][1][0].isdigit()):
                negs.add(key)
        elif kind == _NUMBER:
            has_number = True
            if tok[0].isalpha():
                has_word_number = True
    words = set(seq)
    nums = _numbers(text, has_word_number) if has_number else ()
    if nums:
        for sym, word in _CURRENCY_WORDS.items():
            if sym in text:
                words.add(word)  # "$5" and "5 dollars" share "dollar"
    return _Terms(
        frozenset(words), frozenset(names), tuple(nums), frozenset(negs), tuple(seq), tuple(breaks),
        words - caps if caps else words, initial,
    )


def _pairs(seq: Sequence[str], breaks: Sequence[int] = ()) -> set[tuple[str, str]]:
    """Unordered pairs of distinct content words at most PAIR_WINDOW apart in a claim, within
    one sentence or clause of it."""
    out: set[tuple[str, str]] = set()
    bounds = [0, *breaks, len(seq)]
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        for i in range(lo, hi):
            a = seq[i]
            for b in seq[i + 1 : min(hi, i + 1 + PAIR_WINDOW)]:
                if a != b:
                    out.add((a, b) if a < b else (b, a))
    return out


def _acronyms(text: str) -> set[str]:
    """Initials of runs of capitalised words and of hyphenated compounds: "Football
    Association" -> "fa", "year-over-year" -> "yoy"."""
    out: set[str] = set()
    for m in _CAP_RUN_RE.finditer(text):
        run = m.group(0)
        for piece in (run, *_CONNECTOR_RE.split(run)):
            initials = "".join(w[0] for w in piece.split() if w[0].isupper())
            if len(initials) >= 2:
                out.add(initials.lower())
                out.add("".join(w[0] for w in piece.split()).lower())  # "Bank of England" -> "boe"
    for m in _HYPHENATED_RE.finditer(text):
        out.add("".join(w[0] for w in m.group(0).split("-")).lower())
    return out


# --------------------------------------------------------------------------------------------
# Context index (cached)
# --------------------------------------------------------------------------------------------


class _Context:
    """A context split into sentences and indexed (see _prepare_cached). What only some
    checks need is computed on first use."""

    __slots__ = (
        "sentences", "terms", "keys", "index", "all_words", "names", "numbers", "negated",
        "questions", "passages", "_idf", "_prefixes", "_names_by_prefix", "_lower",
        "_unit_words", "_acronyms",
    )  # fmt: skip

    def __init__(
        self, passages: tuple[str, ...], sentences: list[str], terms: list[_Terms]
    ) -> None:
        self.passages = passages
        self.sentences = tuple(sentences)
        self.terms = tuple(terms)
        keys: list[frozenset[str]] = []
        index: dict[str, list[int]] = {}
        questions: set[int] = set()
        numbers: list[tuple[int, _Num]] = []
        for i, t in enumerate(terms):
            if t.nums:
                fk = t.words | {k for n in t.nums for k in _num_keys(n)}
                numbers.extend((i, n) for n in t.nums)
            else:
                fk = t.words
            keys.append(fk)
            if sentences[i].rstrip("\"')] ").endswith("?"):
                questions.add(i)
                continue  # a question asserts nothing: its words count as present, not as evidence
            for term in fk:
                if term in index:
                    index[term].append(i)
                else:
                    index[term] = [i]
        #: per sentence: its words and number keys ("#1998")
        self.keys = tuple(keys)
        #: term -> sentences in order (questions excluded: a question asserts nothing)
        self.index = index
        self.all_words: frozenset[str] = frozenset().union(*(t.words for t in terms))
        self.names: frozenset[str] = frozenset().union(*(t.names for t in terms))
        #: (sentence, number) for every number of the context
        self.numbers = tuple(numbers)
        #: sentences with a negation cue
        self.negated = frozenset(i for i, t in enumerate(terms) if t.negs)
        #: questions (sentences ending in "?")
        self.questions = frozenset(questions)
        self._idf: dict[str, float] = {}
        self._prefixes: frozenset[str] | None = None
        self._names_by_prefix: dict[str, tuple[str, ...]] | None = None
        self._lower: frozenset[str] | None = None
        self._unit_words: frozenset[str] | None = None
        self._acronyms: frozenset[str] | None = None

    def idf(self, term: str) -> float:
        """IDF weight of an indexed term (computed on first use)."""
        try:
            return self._idf[term]
        except KeyError:
            n = max(len(self.sentences), 1)
            w = self._idf[term] = math.log(1.0 + n / len(self.index[term]))
            return w

    @property
    def prefixes(self) -> frozenset[str]:
        """The first PREFIX_LEN letters of the context's words (word families)."""
        if self._prefixes is None:
            n = PREFIX_LEN
            self._prefixes = frozenset(w[:n] for w in self.all_words if n and len(w) >= n)
        return self._prefixes

    @property
    def names_by_prefix(self) -> dict[str, tuple[str, ...]]:
        """Names of the context by their first four letters."""
        if self._names_by_prefix is None:
            by_prefix: dict[str, list[str]] = {}
            for nm in self.names:
                if len(nm) >= 4:
                    by_prefix.setdefault(nm[:4], []).append(nm)
            self._names_by_prefix = {k: tuple(sorted(v)) for k, v in by_prefix.items()}
        return self._names_by_prefix

    @property
    def lower(self) -> frozenset[str]:
        """Words written in lower case in some sentence of the context (so not only names)."""
        if self._lower is None:
            self._lower = frozenset().union(*(t.lower for t in self.terms))
        return self._lower

    @property
    def unit_words(self) -> frozenset[str]:
        """Words that the context attaches to a number as its unit ("days" in "30 days")."""
        if self._unit_words is None:
            self._unit_words = frozenset(u for _, n in self.numbers for u in n.unit)
        return self._unit_words

    @property
    def acronyms(self) -> frozenset[str]:
        """Initials found in the context."""
        if self._acronyms is None:
            found: set[str] = set()
            for p in self.passages:
                found |= _acronyms(p)
            self._acronyms = frozenset(found)
        return self._acronyms


def _prepare(context: str | Sequence[str]) -> _Context:
    if isinstance(context, str):
        return _prepare_cached((context,))
    return _prepare_cached(tuple(str(c) for c in context))


@lru_cache(maxsize=_CACHE_SIZE)
def _prepare_cached(passages: tuple[str, ...]) -> _Context:
    """Split, tokenise and index a context once; cached by its text (LRU)."""
    sentences: list[str] = []
    for p in passages:
        sentences.extend(split_sentences(p))
    return _Context(passages, sentences, [_terms(s) for s in sentences])


# --------------------------------------------------------------------------------------------
# Claim checking
# --------------------------------------------------------------------------------------------


def _same_value(num: _Num, other: _Num) -> bool:
    return abs(num.value - other.value) <= num.tolerance + 1e-9 * max(1.0, abs(num.value))


def _is_kind(unit: str) -> bool:
    """A unit that says what kind of quantity a number is: a percentage, a currency, a month."""
    return unit[0] in "%@" or unit in _CURRENCY_UNITS


def _binds(n: _Num, o: _Num, terms: _Terms) -> bool:
    """True when the context's number o (in a sentence with ``terms``) can be the claim's
    number n: the same value and, when both give one, the same unit. A unit word of the claim
    may also stand elsewhere in o's sentence ("870 people have been infected" for "870
    infections"), unless it is the unit of another number there ("he lost 60 pounds in 30
    days" does not say "60 days"); a generic noun ("56 people") fits any count ("56 crew
    members"), not a percentage, an amount of money or a date."""
    if not _same_value(n, o):
        return False
    if not n.unit or not o.unit or not n.unit.isdisjoint(o.unit):
        return True
    if any(_is_kind(u) for u in o.unit):
        return False
    if not n.unit.isdisjoint(_GENERIC_UNITS):
        return True
    words = [u for u in n.unit if not _is_kind(u)]
    if not words:
        return False
    taken = {u for other in terms.nums if other is not o for u in other.unit}
    for u in words:
        if u in taken:
            continue
        if u in terms.words:
            return True
        if PREFIX_LEN and len(u) >= PREFIX_LEN:
            stem = u[:PREFIX_LEN]
            if any(w.startswith(stem) and w not in taken for w in terms.words):
                return True
    return False


def _check_number(
    n: _Num, pos: int, ev_ids: Sequence[int], ctx: _Context, out: _Assessment
) -> float:
    """Credit for one number of a claim: 1 when its evidence states it, ELSEWHERE_CREDIT when
    only another sentence does, 0 when the context does not; failed strict checks go to
    ``out``. The context must state the same value with the same unit when both give one:
    "60 days" is not supported by "60 pounds", "12%" not by "12 stores", "5 March" not by "5
    April". A claim unit that differs but that the context never attaches to a number ("3
    boys" for "3 sons") lowers the score without failing the claim: it may be a synonym."""
    v = n.value
    tol = n.tolerance + 1e-9 * max(1.0, abs(v))
    same = [(i, o) for i, o in ctx.numbers if abs(o.value - v) <= tol]
    if not same:
        out.strict.append("number")
        out.reasons.append(f"number {n.text} not in context")
        return 0.0
    bound = [i for i, o in same if _binds(n, o, ctx.terms[i])]
    stated = frozenset(i for i in bound if i not in ctx.questions)
    out.entities.append((_num_key(n.value), pos, stated, False))
    if not bound:
        other = same[0][1].phrase
        units = ctx.unit_words
        if any(_is_kind(u) for x in (n, *(o for _, o in same)) for u in x.unit) or any(
            u in units for u in n.unit
        ):
            out.strict.append("number-unit")
            out.reasons.append(f"number {n.phrase} not in context (it has {other})")
            return 0.0
        out.reasons.append(f"number {n.phrase} not in context with that unit (it has {other})")
        return 0.5 * ELSEWHERE_CREDIT
    if not set(bound).isdisjoint(ev_ids):
        return 1.0
    out.strict.append("number-evidence")
    out.reasons.append(f"number {n.text} not in evidence")
    return ELSEWHERE_CREDIT


def _select_evidence(
    claim_keys: set[str],
    ctx: _Context,
    negated: bool,
    unit_keys: set[str] | frozenset[str] = frozenset(),
) -> tuple[int, list[int]]:
    """The best sentence and all evidence sentences (document order); (-1, []) if none.

    Sentences are ranked by the IDF-weighted claim terms they contain, plus a small bonus when
    they agree with the claim on being negated (so that of two sentences with the same words,
    "X did not win" is the evidence for "X did not win"). The sentences added to the best one
    cover the claim terms it lacks, including its numbers with their units (``unit_keys``:
    "#60/day"), so that "60 days" is sought where the context says "60 days"."""
    scores: dict[int, float] = {}
    idf = ctx.idf
    for term in claim_keys:
        ids = ctx.index.get(term)
        if ids:
            w = idf(term)
            for i in ids:
                scores[i] = scores.get(i, 0.0) + w
    if not scores:
        return -1, []
    for i in scores:
        if (i in ctx.negated) == negated:
            scores[i] += _NEGATION_BONUS
    best = max(scores, key=lambda i: (scores[i], -i))
    chosen = [best]
    index = ctx.index
    wanted = {k for k in claim_keys if k in index}  # terms that some sentence can cover
    if unit_keys:
        wanted.update(k for k in unit_keys if k in index)
    covered = ctx.keys[best] & wanted
    while len(chosen) < MAX_EVIDENCE_SENTENCES:
        missing = wanted - covered
        if not missing:
            break
        gain_best, pick = 0.0, -1
        weights = {t: idf(t) for t in missing}
        candidates = {i for term in missing for i in index[term]}
        for i in candidates:
            if i in chosen:
                continue
            gain = sum(weights[t] for t in ctx.keys[i] & missing)
            # prefer neighbours of the evidence on ties
            near = any(abs(i - j) == 1 for j in chosen)
            key = gain + (1e-6 if near else 0.0)
            if key > gain_best:
                gain_best, pick = key, i
        if pick < 0:
            break
        chosen.append(pick)
        covered |= ctx.keys[pick] & wanted
    return best, sorted(chosen)


class _Assessment:
    """Everything found about one claim, before it is turned into a score."""

    __slots__ = (
        "claim", "evidence", "items", "pairs", "strict", "reasons", "empty_context", "entities"
    )

    def __init__(self, claim: str) -> None:
        self.claim = claim
        self.evidence = ""
        #: (weight, credit) per content word and number of the claim; credit 1 = in the
        #: evidence, ELSEWHERE_CREDIT = elsewhere in the context, 0 = nowhere
        self.items: list[tuple[float, float]] = []
        #: credit per pair of nearby content words of the claim (same scale)
        self.pairs: list[float] = []
        #: kinds of failed strict checks ("name", "number", "number-evidence", "negation", ...)
        self.strict: list[str] = []
        self.reasons: list[str] = []
        self.empty_context = False
        #: (key, position among the claim's content words, context sentences that state it,
        #: True for a name / False for a number) per name and number of the claim
        self.entities: list[tuple[str, int, frozenset[int], bool]] = []


def _assess(claim: str, ctx: _Context) -> _Assessment:
    out = _Assessment(claim)
    if not ctx.sentences:
        out.empty_context = True
        return out
    t = _terms(claim, known_names=ctx.names)
    claim_keys = set(t.words)
    unit_keys: set[str] = set()
    for n in t.nums:
        first, *with_unit = _num_keys(n)
        claim_keys.add(first)
        unit_keys.update(with_unit)
    best, ev_ids = _select_evidence(claim_keys, ctx, bool(t.negs), unit_keys)
    out.evidence = " ".join(dict.fromkeys(ctx.sentences[i] for i in ev_ids))
    if not t.words and not t.nums:
        return out  # nothing checkable ("Yes.", "No.", "It is.")
    ev_words: set[str] = set()
    ev_negs: set[str] = set()
    for i in ev_ids:
        ev_words |= ctx.terms[i].words
        ev_negs |= ctx.terms[i].negs

    orig: dict[str, str] | None = None
    missing_plain: list[str] = []
    # names of the claim that the context states (for the swapped-name check); the first word
    # of the claim counts when the context never writes it in lower case ("Madrid is ...")
    for pos, w in enumerate(t.seq):
        is_name = w in t.names or (pos == 0 and w == t.initial and w not in ctx.lower)
        if is_name and w in ctx.index:
            out.entities.append((w, pos, frozenset(ctx.index[w]), True))
    for w in dict.fromkeys(t.seq):  # claim order, each word once
        is_name = w in t.names
        weight = ENTITY_WEIGHT if is_name else 1.0
        if w in ev_words:
            credit = 1.0
        elif w in ctx.all_words:
            credit = ELSEWHERE_CREDIT
        elif PREFIX_LEN and len(w) >= PREFIX_LEN and w[:PREFIX_LEN] in ctx.prefixes:
            credit = 0.5 * ELSEWHERE_CREDIT  # same word family, probably ("economy"/"economic")
        elif is_name and w in ctx.acronyms:
            credit = ELSEWHERE_CREDIT  # "FA" for "Football Association"
        elif is_name and _name_variant(w, ctx):
            credit = 0.5 * ELSEWHERE_CREDIT  # "Chinese" for "China", "Senegalese" for "Senegal"
        else:
            credit = 0.0
            orig = orig or _original_forms(claim)
            if is_name:
                out.strict.append("name")
                out.reasons.append(f"name {orig.get(w, w)!r} not in context")
            else:
                missing_plain.append(orig.get(w, w))
        out.items.append((weight, credit))
    offsets = _word_offsets(claim) if t.nums else ()
    for n in t.nums:
        pos = bisect.bisect_left(offsets, n.start) if offsets else 0
        out.items.append((ENTITY_WEIGHT, _check_number(n, pos, ev_ids, ctx, out)))
    if t.nums and not out.strict:
        _check_number_swap(t, offsets, ev_ids, ctx, out)
    # pairs of nearby claim words should occur together in one evidence sentence: this is what
    # catches words of the context recombined into a claim it does not make
    ev_sets = [ctx.terms[i].words for i in ev_ids]
    for a, b in _pairs(t.seq, t.breaks):
        if a in ev_words and b in ev_words and any(a in ws and b in ws for ws in ev_sets):
            credit = 1.0
        elif not set(ctx.index.get(a, ())).isdisjoint(ctx.index.get(b, ())):
            credit = ELSEWHERE_CREDIT
        else:
            credit = 0.0
        out.pairs.append(credit)
    if missing_plain:
        out.reasons.append("words not in context: " + ", ".join(repr(p) for p in missing_plain[:8]))

    # a name put in the place of another name of the context (not when the best evidence
    # sentence states all the claim's names and numbers together, the usual case)
    if (
        not out.strict
        and any(is_name for *_, is_name in out.entities)
        and not all(best in ids for _, _, ids, _ in out.entities)
    ):
        _check_swap(t, out, ctx)

    # negation: the claim negates and its evidence does not, or the best evidence sentence
    # negates a word that the claim states positively
    if t.negs and not ev_negs and _negated_words(claim) and not _negation_elsewhere(claim, ctx):
        out.strict.append("negation")
        out.reasons.append(f"negation mismatch: {min(t.negs)!r} in claim only")
    elif best >= 0 and not t.negs and ctx.terms[best].negs:
        for cue, word in _negated_words(ctx.sentences[best]):
            if word in t.words:
                out.strict.append("negation-evidence")
                out.reasons.append(f"negation mismatch: {cue!r} in evidence only")
                break

    # comparatives, quantifiers, order words; "only"
    _check_cues(claim, ev_ids, ctx, out, ev_words)

    # antonyms: a claim word absent from the evidence whose opposite is there, said of the same
    # thing (near a word that is near the claim's word)
    for w in dict.fromkeys(x for x in t.seq if x not in ev_words):
        opp = _ANTONYMS.get(w)
        if not opp or opp.isdisjoint(ev_words):
            continue
        found = [
            o for o in sorted(opp & ev_words - t.words) if _antonym_bound(w, o, t.seq, ev_ids, ctx)
        ]
        if found:
            orig = orig or _original_forms(claim)
            said = _original_forms(out.evidence).get(found[0], found[0])
            out.strict.append("antonym")
            out.reasons.append(f"antonym: claim says {orig.get(w, w)!r}, evidence says {said!r}")
            break
    return out


def _word_offsets(claim: str) -> list[int]:
    """Offsets in the normalised claim of its content words (aligned with _terms().seq)."""
    return [
        m.start(2)
        for m in _TOKEN_RE.finditer(_normalise(claim))
        if (_TOKEN_CACHE.get(m.group(2)) or _token(m.group(2)))[0] == _WORD
    ]


def _in_slot(x: str, word: str, side: int, ids: Iterable[int], ctx: _Context) -> bool:
    """True when a sentence of ``ids`` has x right before ``word`` (side -1) or right after
    it (side +1), among its content words."""
    for i in ids:
        sq = ctx.terms[i].seq
        for q, w in enumerate(sq):
            if w == x and 0 <= q - side < len(sq) and sq[q - side] == word:
                return True
    return False


def _one_edit(a: str, b: str) -> bool:
    """True when a and b differ by at most one inserted, deleted or replaced letter (a
    misspelling: "senegales" / "sengales")."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i + (len(a) == len(b)) :] == b[i + 1 :]


def _is_name(word: str, st: _Terms, ctx: _Context) -> bool:
    """Whether word is a name in the context sentence with terms st."""
    return word in ctx.names or (word == st.initial and word not in ctx.lower)


def _is_year(n: _Num) -> bool:
    return not n.unit and n.tolerance == 0 and 1000 <= n.value <= 2100 and n.value == int(n.value)


def _number_neighbours(i: int, num: _Num, ctx: _Context) -> tuple[str, ...]:
    """Content words at most PAIR_WINDOW away from a number of context sentence i."""
    seq = ctx.terms[i].seq
    q = bisect.bisect_left(_word_offsets(ctx.sentences[i]), num.start)
    return seq[max(0, q - PAIR_WINDOW) : q + PAIR_WINDOW]


def _check_number_swap(
    t: _Terms, offsets: Sequence[int], ev_ids: Sequence[int], ctx: _Context, out: _Assessment
) -> None:
    """A number of the claim put in the place of another number of the context: "The standard
    plan costs $49 per month" against "The standard plan costs $29 per month. The premium plan
    costs $49 per month." Fails the claim when an evidence sentence has, in place of the
    claim's number, another number of the same kind (the same unit, or another year) that fits
    the claim better than the claim's number does wherever the context states it: its
    neighbouring words (at most PAIR_WINDOW away) share more of the words around the claim's
    number, or as many (at least one) while its sentence shares more of the claim's words."""
    seq = t.seq
    values = [n.value for n in t.nums]
    bound = {e[0]: e[2] for e in out.entities if not e[3]}
    for n in t.nums:
        ids = bound.get(_num_key(n.value))
        if not ids:
            continue
        p = bisect.bisect_left(offsets, n.start)
        near = set(seq[max(0, p - PAIR_WINDOW) : p + PAIR_WINDOW]) - n.unit
        if not near:
            continue
        best_n: tuple[int, int] | None = None
        for i in ev_ids:
            if i in ids:
                continue
            for o in ctx.terms[i].nums:
                if any(abs(o.value - v) <= 1e-9 * max(1.0, abs(v)) for v in values) or not (
                    (n.unit and not n.unit.isdisjoint(o.unit)) or (_is_year(n) and _is_year(o))
                ):
                    continue  # a number of the claim, or another kind of number
                rival = (
                    len(near.intersection(_number_neighbours(i, o, ctx))),
                    len(ctx.terms[i].words & t.words),
                )
                if best_n is None:
                    best_n = max(
                        (
                            len(near.intersection(_number_neighbours(j, m, ctx))),
                            len(ctx.terms[j].words & t.words),
                        )
                        for j in ids
                        for m in ctx.terms[j].nums
                        if _binds(n, m, ctx.terms[j])
                    )
                if rival[0] and rival > best_n:
                    out.strict.append("number-swap")
                    out.reasons.append(f"number {n.phrase} where the context has {o.phrase}")
                    return


def _whole_name(sentence: str, word: str, side: int) -> str:
    """The name around ``word`` as the sentence writes it, with the capitalised words next to
    it on the side away from the slot (side -1: before it, "Anna Novak"; +1: after it)."""
    form = _original_forms(sentence).get(word, word)
    cap = r"[^\W\d_a-z][\w'-]*"
    if side < 0:
        pattern = rf"(?:{cap}\s+)*" + re.escape(form)
    else:
        pattern = re.escape(form) + rf"(?:\s+{cap})*"
    m = re.search(r"\b" + pattern + r"\b", _normalise(sentence))
    return m.group(0) if m else form


def _check_swap(t: _Terms, out: _Assessment, ctx: _Context) -> None:
    """A name of the claim put in the place of another name of the context: "Madrid is the
    capital of Germany" against "Berlin is the capital of Germany. Madrid is the capital of
    Spain." A name (a run of name words: "Maria Silva") next to a word W ("capital") of the
    claim fails the claim when

    * a context sentence that mentions no word of the name has another name Y next to W, on
      the same side, and states the claim's other names and numbers near the name (at most
      PAIR_WINDOW content words away; at least one is required: "Germany");
    * the context puts the name next to W too, in another sentence (the name fills that slot
      elsewhere: "Madrid is the capital of Spain");
    * no sentence that mentions the name states as much of the claim (its words and
      numbers) as the one with Y.
    """
    seq = t.seq
    ents = [e for e in out.entities if e[2]]
    names = {p: ids for _, p, ids, is_name in ents if is_name}
    done: set[int] = set()
    for start in sorted(names):
        if start in done:
            continue
        end = start
        while end + 1 in names:
            end += 1
        run = range(start, end + 1)
        done.update(run)
        run_words = {seq[p] for p in run}
        others = [
            ids for _, p, ids, _ in ents
            if (p < start or p > end) and min(abs(p - start), abs(p - end)) <= PAIR_WINDOW
        ]
        if not others:
            continue
        mentions = frozenset().union(*(names[p] for p in run))  # sentences naming any part
        with_others = others[0].intersection(*others[1:]) - mentions
        if not with_others:
            continue
        rest = (t.words | {_num_key(n.value) for n in t.nums}) - run_words
        best_x = -1
        for word, edge, side in (
            (seq[start - 1] if start else "", seq[start], +1),  # Y should follow word
            (seq[end + 1] if end + 1 < len(seq) else "", seq[end], -1),  # Y should precede it
        ):
            if not word or word in t.names:
                continue  # no slot, or another name
            cands = with_others.intersection(ctx.index.get(word, ()))
            if not cands or not _in_slot(edge, word, side, names[start if side > 0 else end], ctx):
                continue  # the name fills that slot nowhere
            for i in sorted(cands):
                st = ctx.terms[i]
                sq = st.seq
                for q, w2 in enumerate(sq):
                    r = q + side
                    if w2 != word or not 0 <= r < len(sq):
                        continue
                    y = sq[r]
                    if y in t.words or not _is_name(y, st, ctx) or _one_edit(edge, y):
                        continue
                    if best_x < 0:
                        best_x = max(len(ctx.keys[j] & rest) for j in mentions)
                    if len(ctx.keys[i] & rest) <= best_x:
                        continue
                    said = _whole_name(ctx.sentences[i], y, side)
                    claim_forms = _original_forms(out.claim)
                    name = " ".join(claim_forms.get(seq[p], seq[p]) for p in run)
                    out.strict.append("swap")
                    out.reasons.append(f"name {name!r} where the context has {said!r}")
                    return


def _neighbours(seq: Sequence[str], w: str) -> set[str]:
    """Content words at most PAIR_WINDOW away from w in seq."""
    out: set[str] = set()
    for p, x in enumerate(seq):
        if x == w:
            out.update(seq[max(0, p - PAIR_WINDOW) : p])
            out.update(seq[p + 1 : p + 1 + PAIR_WINDOW])
    out.discard(w)
    return out


def _antonym_bound(
    w: str, o: str, seq: Sequence[str], ev_ids: Sequence[int], ctx: _Context
) -> bool:
    """True when the evidence's word o (the opposite of the claim's w) is said of the same
    thing: a word near w in the claim is near o in an evidence sentence ("sales decreased"
    / "sales increased"; not "reducing net debt" / "an increase in the dividend")."""
    near = _neighbours(seq, w)
    for i in ev_ids:
        sq = ctx.terms[i].seq
        if o in sq and not near.isdisjoint(_neighbours(sq, o)):
            return True
    return False


def _name_variant(w: str, ctx: _Context) -> bool:
    """A context name that shares a stem with w: at least 4 first letters, and all but at most
    3 letters of the shorter word ("chines"/"china", "senegales"/"senegal")."""
    if len(w) < 5:
        return False
    for other in ctx.names_by_prefix.get(w[:4], ()):
        n = 4
        while n < min(len(w), len(other)) and w[n] == other[n]:
            n += 1
        if n >= min(len(w), len(other)) - 3:
            return True
    return False


def _score(a: _Assessment) -> tuple[float, float]:
    """(score, weight) of a claim: the mean of its word coverage and its pair coverage, times
    PENALTY per failed strict check; the weight is its amount of checkable content."""
    if a.empty_context:
        return 0.0, 1.0
    total = sum(w for w, _ in a.items)
    if not total:
        return 1.0, 0.0
    words = sum(w * c for w, c in a.items) / total
    pairs = sum(a.pairs) / len(a.pairs) if a.pairs else words
    score = (1.0 - PAIR_WEIGHT) * words + PAIR_WEIGHT * pairs
    score *= PENALTY ** len(a.strict)
    return max(0.0, min(1.0, score)), total


def _check_claim(claim: str, ctx: _Context, threshold: float) -> tuple[ClaimCheck, float]:
    a = _assess(claim, ctx)
    if a.empty_context:
        return ClaimCheck(claim, False, 0.0, "", ("context is empty",)), 1.0
    score, weight = _score(a)
    supported = not a.strict and score >= CLAIM_FLOOR * threshold
    reasons = list(a.reasons)
    if not supported and not a.strict:
        reasons.insert(0, f"little of it is in the context (claim score {score:.2f})")
    return ClaimCheck(claim, supported, round(score, 4), a.evidence, tuple(reasons)), weight


def _negation_elsewhere(claim: str, ctx: _Context) -> bool:
    """True when every word the claim negates also stands in a negated sentence of the
    context (the evidence chosen for a long claim may have missed that sentence)."""
    pairs = _negated_words(claim)
    if not pairs:
        return False
    for _cue, word in pairs:
        if not any(i in ctx.negated for i in ctx.index.get(word, ())):
            return False
    return True


@lru_cache(maxsize=4096)
def _negated_words(sentence: str) -> tuple[tuple[str, str], ...]:
    """(cue, word) for each negation cue of a sentence and the first content word within the
    next three tokens of the same clause (the word it most likely negates): "did not open" ->
    ("not", "open"). A word that the sentence also states without negation is left out."""
    out: list[tuple[str, str]] = []
    toks = _TOKEN_RE.findall(_normalise(sentence))
    folded = [_fold(tok) for _, tok in toks]
    stems = [_stem(x) for x in folded]
    negated_at: set[int] = set()
    for j, low in enumerate(folded):
        if low not in _NEGATIONS or (low == "no" and j + 1 < len(toks) and folded[j + 1].isdigit()):
            continue
        for k in range(j + 1, min(j + 4, len(toks))):
            nxt = folded[k]
            if nxt in _NEGATIONS or nxt in _CLAUSE_WORDS or nxt.isdigit():
                break
            if not _SCOPE_BREAKS.isdisjoint(toks[k][0]):
                break
            if nxt not in _STOPWORDS:
                out.append((low, stems[k]))
                negated_at.add(k)
                break
    if out:
        free = {st for k, st in enumerate(stems) if k not in negated_at}
        out = [(cue, w) for cue, w in out if w not in free]
    return tuple(out)


_OPPOSITES: dict[str, frozenset[str]] = {}


def _build_opposites() -> None:
    for line in _OPPOSITE_GROUPS.split("\n"):
        if "|" in line:
            a, b = (frozenset(x.split()) for x in line.split("|"))
            for w in a:
                _OPPOSITES[w] = _OPPOSITES.get(w, frozenset()) | b
            for w in b:
                _OPPOSITES[w] = _OPPOSITES.get(w, frozenset()) | a


_build_opposites()
_CUE_WORDS = frozenset(_OPPOSITES) | {"only"}
#: a fast test before tokenising: does the sentence have a cue word at all
_CUE_RE = re.compile(r"(?i)\b(?:" + "|".join(sorted(_CUE_WORDS)) + r")\b")


@lru_cache(maxsize=4096)
def _cue_pairs(sentence: str) -> tuple[tuple[str, str, frozenset[str], str], ...]:
    """(cue, word, around, as written) for each comparative / quantifier / order word of a
    sentence ("more", "before", "all", "only", ...): the first content word or number within
    the next three tokens of the same clause ("more than 50 people" -> "50", "before the war"
    -> "war"), the content words around them (up to PAIR_WINDOW on each side), and the word
    as the sentence writes it."""
    if not _CUE_RE.search(sentence):
        return ()
    text = _normalise(sentence)
    out: list[tuple[str, str, frozenset[str], str]] = []
    toks = _TOKEN_RE.findall(text)
    folded = [_fold(tok) for _, tok in toks]

    def content(indices: Iterable[int]) -> list[str]:
        found: list[str] = []
        for p in indices:
            f = folded[p]
            if f not in _STOPWORDS and f not in _NEGATIONS and f not in _CUE_WORDS:
                found.append(_stem(f))
                if len(found) == PAIR_WINDOW:
                    break
        return found

    for j, cue in enumerate(folded):
        if cue not in _CUE_WORDS:
            continue
        for k in range(j + 1, min(j + 4, len(toks))):
            if not _SCOPE_BREAKS.isdisjoint(toks[k][0]):
                break
            nxt = folded[k]
            if nxt in _CLAUSE_WORDS or nxt in _CUE_WORDS:
                break
            word = ""
            if nxt[0].isdigit():
                word = nxt.replace(",", "")
            elif nxt not in _STOPWORDS and nxt not in _NEGATIONS:
                word = _stem(nxt)
            if word:
                around = content(range(j - 1, -1, -1)) + content(range(k + 1, len(toks)))
                out.append((cue, word, frozenset(around), toks[k][1]))
                break
    return tuple(out)


def _check_cues(
    claim: str, ev_ids: Sequence[int], ctx: _Context, out: _Assessment, ev_words: set[str]
) -> None:
    """Comparatives, quantifiers and order words bound to the same word: the claim says
    "more tracks" / "before the war" / "all employees" where the evidence says "fewer tracks" /
    "after the war" / "some employees" about the same thing (a word near them is shared); or
    the claim restricts ("only the board") what the evidence states without a restriction."""
    claim_cues = _cue_pairs(claim)
    if not claim_cues:
        return
    ev_cues = [c for i in ev_ids for c in _cue_pairs(ctx.sentences[i])]
    for cue, word, around, written in claim_cues:
        if cue == "only":
            if word not in ev_words or any(
                not _RESTRICTIVE.isdisjoint(_WORD_RE.findall(ctx.sentences[i].lower()))
                for i in ev_ids
            ):
                continue
            out.strict.append("only")
            out.reasons.append(f"'only {written}' in claim, evidence does not restrict it")
            return
        if any(c2 == cue and w2 == word for c2, w2, _, _ in ev_cues):
            continue
        opp = _OPPOSITES.get(cue, frozenset())
        for c2, w2, around2, written2 in ev_cues:
            if w2 == word and c2 in opp and not around.isdisjoint(around2):
                out.strict.append("opposite")
                out.reasons.append(
                    f"opposite: claim says '{cue} ... {written}', "
                    f"evidence says '{c2} ... {written2}'"
                )
                return


def _original_forms(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for tok in _WORD_RE.findall(_normalise(text)):
        out.setdefault(_stem(_fold(tok)), tok)
    return out


def check_faithfulness(
    answer: str,
    context: str | Sequence[str],
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> FaithfulnessResult:
    """Check that ``context`` supports every claim of ``answer``.

    ``context`` is one text or a sequence of passages (e.g. retrieved chunks). Returns a
    :class:`FaithfulnessResult`; ``result.passed`` is the verdict and ``result.explain()`` the
    human-readable account. Deterministic; no model call, no network.
    """
    if not isinstance(answer, str):
        raise TypeError(f"answer must be str, got {type(answer).__name__}")
    if not isinstance(context, str) and not isinstance(context, Sequence):
        raise TypeError(f"context must be str or a sequence of str, got {type(context).__name__}")
    if not 0.0 <= threshold <= 1.0 or math.isnan(threshold):
        raise ValueError(f"threshold must be within 0..1, got threshold={threshold!r}")
    ctx = _prepare(context)
    checked = [_check_claim(c, ctx, threshold) for c in split_claims(answer)]
    total = sum(w for _, w in checked)
    score = sum(c.score * w for c, w in checked) / total if total else 1.0
    return FaithfulnessResult(
        score=round(score, 4), threshold=threshold, claims=tuple(c for c, _ in checked)
    )
