"""Tests of the offline faithfulness checker (pytest_llmops.faithfulness).

Plain pytest + hypothesis; no plugin fixture is used, so this file also runs with
``python -m pytest tests/test_faithfulness.py -p no:llmops``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_llmops.faithfulness import (
    DEFAULT_THRESHOLD,
    ClaimCheck,
    FaithfulnessResult,
    check_faithfulness,
    split_claims,
    split_sentences,
)

CONTEXT = (
    "The Eiffel Tower is a wrought-iron lattice tower in Paris, France. "
    "It was designed by the engineering company of Gustave Eiffel. "
    "Construction was completed in March 1889, in time for the World's Fair. "
    "The tower is 330 metres tall and it was the tallest man-made structure in the world "
    "until 1930. "
    "About 7 million people visit the tower every year. "
    "The top floor did not open to the public until 1983."
)

DEV = Path(__file__).parents[1].parent / "shared" / "data" / "faithfulness" / "dev.jsonl"


def only_reasons(result: FaithfulnessResult) -> list[str]:
    return [r for c in result.unsupported for r in c.reasons]


# --------------------------------------------------------------------------------------------
# supported answers
# --------------------------------------------------------------------------------------------


def test_supported_paraphrase_passes() -> None:
    answer = (
        "Gustave Eiffel's engineering company designed the Eiffel Tower, which stands in Paris. "
        "Its construction was completed in 1889."
    )
    result = check_faithfulness(answer, CONTEXT)
    assert result.passed, result.explain()
    assert result.unsupported == ()
    assert result.score >= DEFAULT_THRESHOLD
    assert all(isinstance(c, ClaimCheck) and c.supported for c in result.claims)
    assert "faithful" in result.explain()


def test_number_forms_are_normalised() -> None:
    ctx = "The museum has 1,000 paintings. Revenue rose 12% to $3,460,000 in 2023."
    for answer in (
        "The museum has 1000 paintings.",
        "The museum has one thousand paintings.",
        "Revenue rose 12 percent in 2023.",
        "Revenue rose to $3.46 million in 2023.",
        "Revenue rose to about $3.5 million in 2023.",  # rounding to the stated precision
    ):
        result = check_faithfulness(answer, ctx)
        assert result.passed, (answer, result.explain())
    for answer, bad in (
        ("The museum has 1,200 paintings.", "1,200"),
        ("Revenue rose 21% in 2023.", "21%"),
        ("Revenue rose to $3.6 million in 2023.", "$3.6 million"),
    ):
        result = check_faithfulness(answer, ctx)
        assert not result.passed, answer
        assert f"number {bad} not in context" in only_reasons(result)


def test_context_as_list_of_passages() -> None:
    passages = ["Berlin is the capital of Germany.", "Madrid is the capital of Spain."]
    result = check_faithfulness("Madrid is the capital of Spain.", passages)
    assert result.passed, result.explain()
    assert result.claims[0].evidence == "Madrid is the capital of Spain."
    result = check_faithfulness("Madrid is the capital of France.", passages)
    assert not result.passed
    assert "name 'France' not in context" in only_reasons(result)


def test_yes_no_and_stopword_only_claims_have_nothing_to_check() -> None:
    result = check_faithfulness("Yes.", CONTEXT)
    assert result.passed and result.score == 1.0


# --------------------------------------------------------------------------------------------
# unsupported answers: the reason and the nearest evidence
# --------------------------------------------------------------------------------------------


def test_changed_number_fails_with_reason_and_evidence() -> None:
    result = check_faithfulness("The Eiffel Tower is 380 metres tall.", CONTEXT)
    assert not result.passed
    (claim,) = result.unsupported
    assert "number 380 not in context" in claim.reasons
    assert "330 metres tall" in claim.evidence
    assert "380" in result.explain() and "330 metres tall" in result.explain()


def test_changed_date_fails() -> None:
    result = check_faithfulness("Construction was completed in March 1899.", CONTEXT)
    assert not result.passed
    (claim,) = result.unsupported
    assert "number 1899 not in context" in claim.reasons
    assert "March 1889" in claim.evidence


def test_changed_name_fails() -> None:
    result = check_faithfulness("The Eiffel Tower is a wrought-iron lattice tower in Rome.", CONTEXT)
    assert not result.passed
    (claim,) = result.unsupported
    assert "name 'Rome' not in context" in claim.reasons
    assert "Paris, France" in claim.evidence


def test_added_negation_fails() -> None:
    result = check_faithfulness("The Eiffel Tower was not designed by Gustave Eiffel's company.", CONTEXT)
    assert not result.passed
    (claim,) = result.unsupported
    assert "negation mismatch: 'not' in claim only" in claim.reasons
    assert "designed by the engineering company of Gustave Eiffel" in claim.evidence


def test_dropped_negation_fails() -> None:
    ctx = "The committee did not approve the budget on Monday."
    result = check_faithfulness("The committee approved the budget on Monday.", ctx)
    assert not result.passed
    assert "negation mismatch: 'not' in evidence only" in only_reasons(result)
    # the negated statement itself is fine, and so is the n't form
    assert check_faithfulness("The committee didn't approve the budget on Monday.", ctx).passed


def test_antonym_fails() -> None:
    ctx = "Sales increased by 4% in the third quarter."
    result = check_faithfulness("Sales decreased by 4% in the third quarter.", ctx)
    assert not result.passed
    assert "antonym: claim says 'decreased', evidence says 'increased'" in only_reasons(result)


def test_invented_claim_fails_and_lists_missing_words() -> None:
    result = check_faithfulness("The tower was painted bright pink by the mayor.", CONTEXT)
    assert not result.passed
    assert any("words not in context" in r and "pink" in r for r in only_reasons(result))


def test_multi_claim_answer_reports_only_the_bad_claim() -> None:
    answer = (
        "The Eiffel Tower is in Paris. It was designed by the company of Gustave Eiffel. "
        "Construction was completed in 1889. About 9 million people visit the tower every year. "
        "The tower is 330 metres tall."
    )
    result = check_faithfulness(answer, CONTEXT)
    assert not result.passed
    assert len(result.claims) == 5
    (bad,) = result.unsupported
    assert bad.claim == "About 9 million people visit the tower every year."
    assert "number 9 million not in context" in bad.reasons
    assert "7 million people visit" in bad.evidence
    text = result.explain()
    assert "1 of 5 claim(s) not supported" in text
    assert "9 million" in text and "Paris" not in text.split("evidence")[0]


def test_clauses_are_checked_separately() -> None:
    answer = "The tower is 330 metres tall, and it was painted bright pink by the mayor."
    assert split_claims(answer) == [
        "The tower is 330 metres tall",
        "it was painted bright pink by the mayor.",
    ]
    result = check_faithfulness(answer, CONTEXT)
    assert [c.supported for c in result.claims] == [True, False]


def test_fabricated_sentence_in_long_answer_is_caught() -> None:
    good = " ".join(split_sentences(CONTEXT)[:5])
    result = check_faithfulness(good + " Visitors may ride a dragon around the spire.", CONTEXT)
    assert not result.passed
    assert [c.claim for c in result.unsupported] == ["Visitors may ride a dragon around the spire."]


# --------------------------------------------------------------------------------------------
# numbers are bound to their unit: what they count, %, currency, month
# --------------------------------------------------------------------------------------------


def reasons_of(answer: str, context: str) -> list[str]:
    return [r for c in check_faithfulness(answer, context).claims for r in c.reasons]


def test_number_with_another_unit_fails() -> None:
    ctx = "Parcels up to 60 pounds ship free. The refund window is 30 days."
    result = check_faithfulness("The refund window is 60 days.", ctx)
    assert not result.passed
    (claim,) = result.unsupported
    assert claim.reasons == ("number 60 days not in context (it has 60 pounds)",)
    # the number with its own unit is fine, and so is a number that gives no unit
    assert check_faithfulness("Parcels up to 60 pounds ship free.", ctx).passed
    assert check_faithfulness("The refund window is 30 days.", ctx).passed


@pytest.mark.parametrize(
    ("answer", "context"),
    [
        ("You can return items within 60 days.", "You can return items within 60 calendar days."),
        ("You can return items within 60 days.", "You can return items within sixty days."),
        ("A 60-day return window applies.", "A return window of 60 days applies."),
        ("Revenue grew 12 percent.", "Revenue grew 12%."),
        ("Revenue grew 12%.", "Revenue grew by 12 per cent."),
        ("The deal is worth $5 million.", "The deal is worth 5 million dollars."),
        ("The plant opened on 5 March 2010.", "The plant opened on March 5, 2010."),
        ("The plant opened in 2010.", "The plant opened in March 2010."),
        # the unit may stand elsewhere in the number's sentence
        ("Researchers counted 870 infections.", "Researchers counted 870 people with infections."),
    ],
)
def test_number_with_the_same_unit_passes(answer: str, context: str) -> None:
    result = check_faithfulness(answer, context)
    assert result.passed, result.explain()


@pytest.mark.parametrize(
    ("answer", "context", "reason"),
    [
        (
            "Revenue grew 12% in 2023.",
            "The company opened 12 stores in 2023. Revenue grew 8% in 2023.",
            "number 12% not in context (it has 12 stores)",
        ),
        (
            "The company opened 8 stores in 2023.",
            "The company opened 12 stores in 2023. Revenue grew 8% in 2023.",
            "number 8 stores not in context (it has 8%)",
        ),
        (
            "The deal is worth $5 million.",
            "The deal is worth \u20ac5 million.",
            "number $5 million not in context (it has \u20ac5 million)",
        ),
        (
            "The plant opened in March 2010.",
            "The plant was planned in March 2008 and opened in May 2010.",
            "number March 2010 not in context (it has May 2010)",
        ),
        (
            "The plant opened on 5 March.",
            "The plant opened on 5 April and closed in March.",
            "number 5 March not in context (it has 5 April)",
        ),
        (
            "Researchers counted 870 infections.",
            "Researchers counted 870 people and 12 infections.",
            "number 870 infections not in context (it has 870 people)",
        ),
    ],
)
def test_percent_currency_date_and_count_mismatches_fail(
    answer: str, context: str, reason: str
) -> None:
    result = check_faithfulness(answer, context)
    assert not result.passed
    assert reason in only_reasons(result)


def test_unknown_unit_lowers_the_score_without_failing_the_number() -> None:
    # "boys" is attached to no number of the context: a synonym, perhaps; not a strict failure
    reasons = reasons_of("She has three boys.", "She has three sons and two daughters.")
    assert "number three boys not in context with that unit (it has three sons)" in reasons
    assert not any(r.startswith("number three boys not in context (") for r in reasons)
    # a generic noun fits any count
    reasons = reasons_of("At least 56 people died.", "At least 56 crew members died at sea.")
    assert not any(r.startswith("number") for r in reasons)


# a number said of something else than the context says it of

PLANS = (
    "Our standard plan costs $29 per month and includes 50 GB of storage. "
    "The premium plan costs $49 per month and includes 200 GB of storage. "
    "The company was founded in 2011 by Priya Shah and Tom Becker. "
    "Tom Becker left the company in 2018."
)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("The standard plan costs $49 per month.", "number $49 where the context has $29"),
        ("The premium plan includes 50 GB of storage.", "number 50 GB where the context has 200 GB"),
        ("The company was founded in 2018 by Priya Shah.", "number 2018 where the context has 2011"),
    ],
)
def test_number_taken_from_another_sentence_fails(answer: str, reason: str) -> None:
    # every number is in the context, with its unit, but said of something else
    result = check_faithfulness(answer, PLANS)
    assert not result.passed
    assert only_reasons(result) == [reason]


@pytest.mark.parametrize(
    "answer",
    [
        "The standard plan costs $29 per month and includes 50 GB of storage.",
        "The premium plan costs $49 a month.",
        "The premium plan includes 200 GB of storage.",
        "Priya Shah and Tom Becker founded the company in 2011.",
        "Tom Becker left in 2018.",
    ],
)
def test_number_from_its_own_sentence_passes(answer: str) -> None:
    result = check_faithfulness(answer, PLANS)
    assert result.passed, result.explain()


# --------------------------------------------------------------------------------------------
# names put in the place of another name
# --------------------------------------------------------------------------------------------


def test_swapped_name_fails() -> None:
    ctx = "Berlin is the capital of Germany. Madrid is the capital of Spain."
    result = check_faithfulness("Madrid is the capital of Germany.", ctx)
    assert not result.passed
    (claim,) = result.unsupported
    assert claim.reasons == ("name 'Madrid' where the context has 'Berlin'",)
    # the order of the sentences does not matter; the true statements pass
    assert not check_faithfulness("Madrid is the capital of Germany.", " ".join(ctx.split(". ")[::-1]))
    for answer in ("Madrid is the capital of Spain.", "Berlin is the capital of Germany."):
        assert check_faithfulness(answer, ctx).passed, answer


def test_swapped_person_fails() -> None:
    ctx = "Anna Novak coached Benfica in 2019. Maria Silva coached Porto in 2015."
    result = check_faithfulness("Maria Silva coached Benfica.", ctx)
    assert not result.passed
    assert only_reasons(result) == ["name 'Maria Silva' where the context has 'Anna Novak'"]
    assert check_faithfulness("Anna Novak coached Benfica.", ctx).passed
    assert check_faithfulness("Maria Silva coached Porto.", ctx).passed


def test_name_and_its_title_are_not_a_swap() -> None:
    ctx = "Nigel Farage leads the party. Mr Farage is facing a fight to win his seat."
    assert check_faithfulness("Nigel Farage is facing a fight to win his seat.", ctx).passed


# --------------------------------------------------------------------------------------------
# comparatives, quantifiers, order words, "only"; antonyms
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "context", "reason"),
    [
        (
            "Lukather recorded more tracks than Porcaro.",
            "Lukather recorded fewer tracks than Porcaro.",
            "opposite: claim says 'more ... tracks', evidence says 'fewer ... tracks'",
        ),
        (
            "The treaty was signed before the war.",
            "The treaty was signed after the war.",
            "opposite: claim says 'before ... war', evidence says 'after ... war'",
        ),
        (
            "All employees received a bonus.",
            "Some employees received a bonus.",
            "opposite: claim says 'all ... employees', evidence says 'some ... employees'",
        ),
        (
            "Prices rose more than 5%.",
            "Prices rose less than 5%.",
            "opposite: claim says 'more ... 5', evidence says 'less ... 5'",
        ),
        (
            "Only the board approved the plan.",
            "The board and the shareholders approved the plan.",
            "'only board' in claim, evidence does not restrict it",
        ),
    ],
)
def test_reversed_comparative_quantifier_or_order_fails(
    answer: str, context: str, reason: str
) -> None:
    result = check_faithfulness(answer, context)
    assert not result.passed
    assert only_reasons(result) == [reason]


@pytest.mark.parametrize(
    ("answer", "context"),
    [
        ("Lukather recorded more tracks than Porcaro.", "Lukather recorded more tracks than Porcaro did."),
        ("Only the board approved the plan.", "The plan was approved by the board alone."),
        ("Only the board approved the plan.", "Just the board approved the plan."),
        # "after" said of something else
        ("The treaty was signed before the war.", "The treaty was signed before the war. After the war, trade grew."),
    ],
)
def test_matching_comparative_or_restriction_passes(answer: str, context: str) -> None:
    result = check_faithfulness(answer, context)
    assert result.passed, result.explain()


@pytest.mark.parametrize(
    ("answer", "context", "said", "evidence_says"),
    [
        ("Shares were up 8% on Monday.", "Shares were down 8% on Monday.", "up", "down"),
        ("The club fired its manager in May.", "The club hired its manager in May.", "fired", "hired"),
        ("The appeal was accepted on Friday.", "The appeal was refused on Friday.", "accepted", "refused"),
        ("Revenue fell 35% in 2022.", "Revenue grew 35% in 2022.", "fell", "grew"),
        ("Exports rose sharply in May.", "Exports dropped sharply in May.", "rose", "dropped"),
    ],
)
def test_more_antonyms(answer: str, context: str, said: str, evidence_says: str) -> None:
    result = check_faithfulness(answer, context)
    assert not result.passed
    assert f"antonym: claim says {said!r}, evidence says {evidence_says!r}" in only_reasons(result)


def test_antonym_about_something_else_is_not_a_contradiction() -> None:
    ctx = (
        "Net debt fell below $25 billion by the end of the quarter, so the board will now "
        "increase the dividend paid to shareholders."
    )
    reasons = reasons_of("Net debt was reduced below $25 billion.", ctx)
    assert not any(r.startswith("antonym") for r in reasons), reasons


# --------------------------------------------------------------------------------------------
# empty input, validation, determinism, robustness
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", ["", "   ", "\n\n", "...", " - "])
def test_empty_answer_passes_with_no_claims(answer: str) -> None:
    result = check_faithfulness(answer, CONTEXT)
    assert result.claims == ()
    assert result.score == 1.0
    assert result.passed


@pytest.mark.parametrize("context", ["", "   ", [], [""]])
def test_empty_context_fails_every_claim(context: str | list[str]) -> None:
    result = check_faithfulness("Paris is in France.", context)
    assert not result.passed
    assert result.score == 0.0
    (claim,) = result.unsupported
    assert claim.reasons == ("context is empty",)
    assert claim.evidence == ""
    assert "context is empty" in result.explain()
    # nothing asserted against nothing: passes
    assert check_faithfulness("", context).passed


@pytest.mark.parametrize("threshold", [-0.1, 1.5, float("nan")])
def test_bad_threshold_is_rejected(threshold: float) -> None:
    with pytest.raises(ValueError, match="threshold"):
        check_faithfulness("a", "b", threshold=threshold)


def test_bad_types_are_rejected() -> None:
    with pytest.raises(TypeError):
        check_faithfulness(None, CONTEXT)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        check_faithfulness("x", 42)  # type: ignore[arg-type]


def test_threshold_is_recorded_and_changes_the_verdict() -> None:
    answer = "The tower attracts many curious tourists from abroad."
    strict = check_faithfulness(answer, CONTEXT, threshold=1.0)
    lenient = check_faithfulness(answer, CONTEXT, threshold=0.0)
    assert strict.threshold == 1.0 and not strict.passed
    assert lenient.threshold == 0.0 and lenient.passed
    assert strict.score == lenient.score


def test_sentence_splitting() -> None:
    text = (
        "Mr. Smith met Dr. J. K. Rowling in the U.S. capital. It rained.Then it stopped!\n"
        "Speaker A: hello there\nand a wrapped line\n\n- a bullet item"
    )
    assert split_sentences(text) == [
        "Mr. Smith met Dr. J. K. Rowling in the U.S. capital.",
        "It rained.",
        "Then it stopped!",
        "Speaker A: hello there and a wrapped line",
        "a bullet item",
    ]


def test_questions_in_the_context_are_not_evidence() -> None:
    ctx = "Question: Did Ann Lee found the Shakers?\n\nAnn Lee was a leader of the Shakers."
    result = check_faithfulness("Ann Lee founded the Shakers.", ctx)
    assert result.claims[0].evidence == "Ann Lee was a leader of the Shakers."


def test_unicode_and_accents() -> None:
    ctx = "Jean Dréville (1906–1997) était un réalisateur français. 鳥山 明 created Dragon Ball."
    assert check_faithfulness("Jean Dreville était un réalisateur français.", ctx).passed
    assert check_faithfulness("鳥山 明 created Dragon Ball.", ctx).passed
    result = check_faithfulness("鳥山 明 created One Piece.", ctx)
    assert not result.passed
    assert "name 'Piece' not in context" in only_reasons(result)


def test_result_is_deterministic() -> None:
    answer = "The Eiffel Tower is in Rome and it opened in 1999. It is 330 metres tall."
    first = check_faithfulness(answer, CONTEXT)
    for _ in range(3):
        assert check_faithfulness(answer, CONTEXT) == first
        assert check_faithfulness(answer, [CONTEXT]) == first
    assert first.explain() == check_faithfulness(answer, CONTEXT).explain()


def test_very_long_inputs_do_not_crash() -> None:
    rng = random.Random(7)
    vocab = "alpha beta gamma delta Omega Sigma 42 3.5% not never and the of".split()

    def sentence(n: int) -> str:
        return "Start " + " ".join(rng.choice(vocab) for _ in range(n)) + "."

    context = " ".join(sentence(rng.randint(3, 30)) for _ in range(3000))  # ~50,000 words
    answer = " ".join(sentence(12) for _ in range(300))
    result = check_faithfulness(answer, context)
    assert 0.0 <= result.score <= 1.0
    assert len(result.claims) >= 300
    assert check_faithfulness("x" * 200_000, "y" * 200_000).passed is False


# --------------------------------------------------------------------------------------------
# property-based
# --------------------------------------------------------------------------------------------

WORDS = st.sampled_from(
    "the a of and in not no never cat dog river Paris London Marie engine moved opened built "
    "sold 12 1999 3.5 1,000 42% $7 million seven über café naïve Zürich 東京 reported said "
    "increase decrease without every year quickly".split()
)
SENTENCE = st.lists(WORDS, min_size=1, max_size=14).map(lambda ws: " ".join(ws)).map(
    lambda s: s[0].upper() + s[1:] + "." if s[0].isalpha() else s + "."
)
ANY_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(SENTENCE, min_size=1, max_size=12), st.data())
def test_answer_copied_verbatim_from_context_is_supported(sentences: list[str], data) -> None:
    context = " ".join(sentences)
    copied = split_sentences(context)
    chosen = data.draw(st.lists(st.sampled_from(copied), min_size=1, max_size=5))
    answer = " ".join(chosen)
    result = check_faithfulness(answer, context)
    assert result.passed, result.explain()
    assert result.score == 1.0


@settings(max_examples=150, deadline=None)
@given(ANY_TEXT, st.one_of(ANY_TEXT, st.lists(ANY_TEXT, max_size=4)))
def test_arbitrary_text_never_crashes_and_is_deterministic(answer: str, context) -> None:
    first = check_faithfulness(answer, context)
    assert 0.0 <= first.score <= 1.0
    assert all(0.0 <= c.score <= 1.0 for c in first.claims)
    assert isinstance(first.explain(), str)
    assert check_faithfulness(answer, context) == first


# --------------------------------------------------------------------------------------------
# the labelled dev set (skipped when absent)
# --------------------------------------------------------------------------------------------


@pytest.mark.skipif(not DEV.exists(), reason=f"{DEV} not present")
def test_dev_set_sample_beats_chance() -> None:
    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line]
    sample = random.Random(0).sample(rows, 300)
    tp = fn = fp = tn = 0
    for row in sample:
        flagged = not check_faithfulness(row["answer"], row["context"]).passed
        unfaithful = row["label"] == "unfaithful"
        tp += unfaithful and flagged
        fn += unfaithful and not flagged
        fp += not unfaithful and flagged
        tn += not unfaithful and not flagged
    balanced_accuracy = (tp / (tp + fn) + tn / (tn + fp)) / 2
    assert balanced_accuracy > 0.6, (tp, fn, fp, tn)
