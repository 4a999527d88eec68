"""What one answer costs: calls, tokens and estimated spend, from the usage the provider reported
(``llm_usage``, docs/usage.md). Replayed calls report what they cost when they were recorded, so these
ceilings hold in CI with no spend, and a live run (a longer prompt, a pricier model) is checked too.
"""

import pytest
from ragapp import Assistant

PROVIDERS = ["openai", "anthropic"]


@pytest.mark.llm
@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_answer_stays_within_budget(llm_usage, provider):
    Assistant(provider).ask("How long does express delivery take?")
    assert llm_usage.calls == 1  # one call per answer: no hidden retries or follow-up calls
    assert llm_usage.input_tokens <= 400  # two retrieved documents and the question
    assert llm_usage.output_tokens <= 100
    assert llm_usage.cost_usd is not None and llm_usage.cost_usd <= 0.001  # USD per answer
