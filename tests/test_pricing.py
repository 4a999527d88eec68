"""The price table: built-in data, lookup of dated ids, cost arithmetic, user overrides."""

from __future__ import annotations

import datetime
import json
import typing

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_llmops.pricing import (
    BUILTIN,
    Price,
    PricingError,
    PricingTable,
    TokenCounts,
    base_model,
    builtin_table,
    load_file,
    load_pricing,
)


# -- the built-in table ----------------------------------------------------------------------------
def test_builtin_table_is_dated_and_sourced():
    table = builtin_table()
    assert datetime.date.fromisoformat(table.as_of)
    assert table.source and "genai-prices" in table.source
    raw = json.loads(BUILTIN.read_text())
    assert raw["unit"] == "per 1M tokens" and raw["currency"] == "USD"


@pytest.mark.parametrize(
    ("provider", "model", "input", "output"),
    [
        ("openai", "gpt-4o-mini", 0.15, 0.6),
        ("openai", "gpt-4o", 2.5, 10),
        ("openai", "gpt-4.1", 2, 8),
        ("openai", "text-embedding-3-small", 0.02, 0),
        ("anthropic", "claude-sonnet-4-5", 3, 15),
        ("anthropic", "claude-haiku-4-5", 1, 5),
        ("anthropic", "claude-opus-4-5", 5, 25),
    ],
)
def test_well_known_prices(provider, model, input, output):
    name, price = builtin_table().lookup(provider, model)
    assert (name, price.input, price.output) == (model, input, output)


def _sdk_models() -> dict[str, list[str]]:
    from anthropic.types.model_param import ModelParam
    from openai.types.embedding_model import EmbeddingModel
    from openai.types.shared.chat_model import ChatModel
    from openai.types.shared.responses_model import ResponsesModel

    def literals(alias: typing.Any) -> list[str]:
        out: list[str] = []
        for arg in typing.get_args(alias):
            out.extend([arg] if isinstance(arg, str) else literals(arg))
        return out

    return {
        "openai": literals(ChatModel) + literals(ResponsesModel) + literals(EmbeddingModel),
        "anthropic": literals(ModelParam),
    }


def test_every_model_the_sdks_list_is_priced_or_listed_as_not_priced():
    """A newer SDK lists models the table does not know: regenerate it (scripts/update_pricing.py)."""
    raw = json.loads(BUILTIN.read_text())
    missing = []
    for provider, models in _sdk_models().items():
        for model in models:
            if builtin_table().lookup(provider, model) is None and model not in raw["not_priced"].get(provider, []):
                missing.append(f"{provider}/{model}")
    assert not missing, f"run scripts/update_pricing.py; models neither priced nor listed as not priced: {missing}"


def test_not_priced_models_really_have_no_price():
    raw = json.loads(BUILTIN.read_text())
    for provider, models in raw["not_priced"].items():
        for model in models:
            assert builtin_table().lookup(provider, model) is None, model


def test_table_matches_its_source():
    """The JSON is what scripts/update_pricing.py makes from the genai-prices version it names."""
    genai_prices = pytest.importorskip("genai_prices")
    table = builtin_table()
    if f"genai-prices {genai_prices.__version__} " not in (table.source or ""):
        pytest.skip(f"installed genai-prices {genai_prices.__version__} is not the table's source")
    import importlib.util
    from pathlib import Path

    script = Path(__file__).parent.parent / "scripts" / "update_pricing.py"
    spec = importlib.util.spec_from_file_location("update_pricing", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = module.build(datetime.date.fromisoformat(table.as_of))
    assert module.dump(built) == BUILTIN.read_text()


# -- lookup ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "base"),
    [
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
        ("gpt-4-0613", "gpt-4-0613"),  # a 4-digit snapshot is not a date: priced on its own or not at all
        ("gpt-4o", "gpt-4o"),
    ],
)
def test_base_model(model, base):
    assert base_model(model) == base


@pytest.mark.parametrize(
    ("provider", "model", "entry"),
    [
        ("openai", "gpt-4o-2024-08-06", "gpt-4o"),
        ("openai", "gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("anthropic", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("anthropic", "claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("openai", "GPT-4o", "gpt-4o"),
        ("other", "gpt-4o", "gpt-4o"),  # a proxy path: every provider is searched
    ],
)
def test_dated_and_odd_ids_find_their_base_entry(provider, model, entry):
    assert builtin_table().lookup(provider, model)[0] == entry


def test_a_dated_id_with_its_own_price_keeps_it():
    name, price = builtin_table().lookup("openai", "gpt-4o-2024-05-13")
    assert (name, price.input, price.output) == ("gpt-4o-2024-05-13", 5, 15)


@pytest.mark.parametrize("model", ["my-finetune", "ft:gpt-4o-mini-2024-07-18:acme::abc123", "", None])
def test_unknown_models_have_no_price(model):
    assert builtin_table().lookup("openai", model) is None


# -- cost ------------------------------------------------------------------------------------------
def test_openai_cached_input_is_part_of_input():
    price = Price(input=2.5, output=10, cached_input=1.25)
    tokens = TokenCounts(input=1_000_000, output=1_000_000, cached_input=400_000)
    assert price.cost(tokens) == pytest.approx(0.6 * 2.5 + 0.4 * 1.25 + 10)


def test_anthropic_cache_reads_and_writes():
    price = Price(input=3, output=15, cached_input=0.3, cache_write=3.75, cache_write_1h=6)
    tokens = TokenCounts(input=1_000_000, output=0, cached_input=200_000, cache_write=300_000, cache_write_1h=100_000)
    assert price.cost(tokens) == pytest.approx(0.4 * 3 + 0.2 * 0.3 + 0.3 * 3.75 + 0.1 * 6)


def test_missing_cache_prices_fall_back_to_input():
    price = Price(input=2, output=8)
    tokens = TokenCounts(input=1_000_000, cached_input=500_000, cache_write=250_000, cache_write_1h=250_000)
    assert price.cost(tokens) == pytest.approx(2)


def test_long_context_tier_applies_to_the_whole_call_above_its_threshold():
    price = Price.from_entry({"input": 3, "output": 15, "tiers": [{"above_input_tokens": 200_000, "input": 6,
                                                                     "output": 22.5}]}, "t")
    at = TokenCounts(input=200_000, output=1_000)
    above = TokenCounts(input=200_001, output=1_000)
    assert price.cost(at) == pytest.approx((200_000 * 3 + 1_000 * 15) / 1e6)
    assert price.cost(above) == pytest.approx((200_001 * 6 + 1_000 * 22.5) / 1e6)


counts = st.integers(min_value=0, max_value=10_000_000)
rates = st.floats(min_value=0, max_value=1_000, allow_nan=False)


@given(inp=counts, out=counts, cached=counts, written=counts, input_rate=rates, output_rate=rates, ratio=st.floats(0, 1))
def test_cost_is_linear_and_never_negative(inp, out, cached, written, input_rate, output_rate, ratio):
    cached, written = min(cached, inp), min(written, max(inp - cached, 0))
    price = Price(input=input_rate, output=output_rate, cached_input=input_rate * ratio)
    cost = price.cost(TokenCounts(input=inp, output=out, cached_input=cached, cache_write=written))
    expected = ((inp - cached) * input_rate + cached * input_rate * ratio + out * output_rate) / 1e6
    assert cost >= 0
    assert cost == pytest.approx(expected, rel=1e-9, abs=1e-9)
    # caching never makes a call dearer when the cached rate is lower
    assert cost <= price.cost(TokenCounts(input=inp, output=out)) + 1e-9


# -- user overrides --------------------------------------------------------------------------------
def test_user_file_replaces_and_adds_entries(tmp_path):
    user = tmp_path / "prices.json"
    user.write_text(json.dumps({"openai": {"gpt-4o-mini": {"input": 1, "output": 2}, "my-model": {"input": 3,
                                                                                                   "output": 4}}}))
    table = load_pricing(user)
    _, mini = table.lookup("openai", "gpt-4o-mini-2024-07-18")
    assert (mini.input, mini.output, mini.cached_input) == (1, 2, None)  # the whole entry is replaced
    assert table.lookup("openai", "my-model")[1].input == 3
    assert table.lookup("openai", "gpt-4o")[1].input == 2.5  # untouched
    assert table.overrides == (str(user),)
    assert builtin_table().lookup("openai", "my-model") is None  # the built-in table is not changed


def test_user_file_in_toml(tmp_path):
    user = tmp_path / "prices.toml"
    user.write_text('[anthropic."claude-private"]\ninput = 1.5\noutput = 7\ncached_input = 0.15\n')
    _, price = load_file(user).lookup("anthropic", "claude-private-20260101")
    assert (price.input, price.output, price.cached_input) == (1.5, 7, 0.15)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"openai": {"m": {"input": 1}}}', "{path}: openai.m: 'output' is required (USD per 1M tokens)"),
        ('{"openai": {"m": {"input": -1, "output": 1}}}',
         "{path}: openai.m.input: expected a price in USD per 1M tokens (a number >= 0), got -1"),
        ('{"openai": {"m": {"input": 1, "output": 1, "inptu": 2}}}',
         ("{path}: openai.m: unknown key(s) inptu; allowed: input, output, cached_input, cache_write, "
          "cache_write_1h, tiers")),
        ('{"openai": ["gpt-4o"]}', "{path}: 'openai' must be a table of models, got ['gpt-4o']"),
    ],
)
def test_malformed_user_file_names_file_and_entry(tmp_path, content, message):
    user = tmp_path / "prices.json"
    user.write_text(content)
    with pytest.raises(PricingError) as excinfo:
        load_file(user)
    assert str(excinfo.value) == message.format(path=user)


def test_unreadable_user_file(tmp_path):
    with pytest.raises(PricingError, match=r"^cannot read the pricing file .*missing\.json: No such file"):
        load_file(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(PricingError, match=r"^.*bad\.json is not valid JSON: "):
        load_file(bad)


def test_merge_keeps_metadata_of_the_base_table():
    merged = builtin_table().merged(PricingTable({"openai": {"x": Price(1, 1)}}, overrides=("u.json",)))
    assert merged.as_of == builtin_table().as_of
    assert merged.overrides == ("u.json",)
