"""Regenerate ``pytest_llmops/data/pricing.json``, the built-in price table.

Source of the prices: the ``genai-prices`` package (pydantic/genai-prices, MIT licence), a maintained
transcription of the providers' pricing pages. This script is a development tool: the plugin itself
only reads the JSON file and never imports ``genai_prices``.

Which models: every model id the installed ``openai`` and ``anthropic`` SDKs list in their type
definitions (``openai.types.shared.ChatModel``, ``ResponsesModel``, ``openai.types.EmbeddingModel``,
``anthropic.types.ModelParam``). A model ``genai-prices`` does not know is left out (its calls show
an unknown cost) and listed in the table's ``not_priced``; no price is ever guessed. A dated id whose
price equals its base entry's is not stored: the lookup maps ``gpt-4o-2024-08-06`` to ``gpt-4o``.

Prices: standard tier, synchronous calls (no batch, flex or priority), as in force on the day the
script runs. Only token prices are taken (input, cached input, cache writes, output, and
long-context tiers); per-request fees (web search, file search) and audio token prices are not.

Run:  pip install genai-prices && python scripts/update_pricing.py
"""

from __future__ import annotations

import datetime
import json
import re
import sys
import typing
from decimal import Decimal
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "pytest_llmops" / "data" / "pricing.json"
_DATED = re.compile(r"(-\d{4}-\d{2}-\d{2}|-\d{8}|@\d{8})$")
#: genai-prices field -> our field
_FIELDS = {
    "input_mtok": "input",
    "cache_read_mtok": "cached_input",
    "cache_write_mtok": "cache_write",
    "cache_write_1h_mtok": "cache_write_1h",
    "output_mtok": "output",
}


def _literals(alias: typing.Any) -> list[str]:
    out: list[str] = []
    for arg in typing.get_args(alias):
        if isinstance(arg, str):
            out.append(arg)
        else:
            out.extend(_literals(arg))
    return out


def sdk_models() -> dict[str, list[str]]:
    from anthropic.types.model_param import ModelParam
    from openai.types.embedding_model import EmbeddingModel
    from openai.types.shared.chat_model import ChatModel
    from openai.types.shared.responses_model import ResponsesModel

    openai_models = list(dict.fromkeys(_literals(ChatModel) + _literals(ResponsesModel) + _literals(EmbeddingModel)))
    return {"openai": openai_models, "anthropic": list(dict.fromkeys(_literals(ModelParam)))}


def _number(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


def _current(prices: typing.Any, today: datetime.date) -> typing.Any:
    """The price set in force today (ignoring time-of-day constrained prices)."""
    if not isinstance(prices, list):
        return prices
    chosen = None
    for conditional in prices:
        constraint = conditional.constraint
        if constraint is None:
            chosen = chosen or conditional.prices
        elif getattr(constraint, "start_date", None) is not None and constraint.start_date <= today:
            chosen = conditional.prices
    return chosen


def convert(model_price: typing.Any) -> dict[str, typing.Any] | None:
    from genai_prices.types import TieredPrices

    entry: dict[str, typing.Any] = {}
    tiers: dict[int, dict[str, typing.Any]] = {}
    for theirs, ours in _FIELDS.items():
        value = getattr(model_price, theirs, None)
        if value is None:
            continue
        if isinstance(value, TieredPrices):
            entry[ours] = _number(value.base)
            for tier in value.tiers:
                tiers.setdefault(tier.start, {"above_input_tokens": tier.start})[ours] = _number(tier.price)
        else:
            entry[ours] = _number(value)
    if "input" not in entry:
        return None
    entry.setdefault("output", 0)
    if tiers:
        entry["tiers"] = [tiers[start] for start in sorted(tiers)]
    return entry


def build(today: datetime.date) -> dict[str, typing.Any]:
    import genai_prices
    from genai_prices.data_snapshot import get_snapshot

    snapshot = get_snapshot()
    table: dict[str, typing.Any] = {
        "as_of": today.isoformat(),
        "currency": "USD",
        "unit": "per 1M tokens",
        "source": f"genai-prices {genai_prices.__version__} (github.com/pydantic/genai-prices, MIT), "
        "which transcribes the providers' pricing pages; regenerate with scripts/update_pricing.py",
        "scope": "standard tier, synchronous calls; token prices only (no batch/flex/priority rates, "
        "no per-request tool fees, no audio token prices)",
    }
    not_priced: dict[str, list[str]] = {}
    for provider, names in sdk_models().items():
        entries: dict[str, typing.Any] = {}
        for name in names:
            try:
                _, model = snapshot.find_provider_model(name, None, provider, None)
            except LookupError:
                not_priced.setdefault(provider, []).append(name)
                continue
            price = _current(model.prices, today)
            entry = convert(price) if price is not None else None
            if entry is None:
                not_priced.setdefault(provider, []).append(name)
                continue
            entries[name] = entry
        # A dated id priced like its base id is found through the base entry.
        for name in list(entries):
            base = _DATED.sub("", name)
            if base != name and entries.get(base) == entries[name]:
                del entries[name]
        table[provider] = dict(sorted(entries.items()))
    table["not_priced"] = not_priced
    return table


def dump(table: dict[str, typing.Any]) -> str:
    """JSON with one line per model, so a price change is a one-line diff."""
    lines = ["{"]
    items = list(table.items())
    for i, (key, value) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        if key in ("openai", "anthropic") and value:
            lines.append(f"  {json.dumps(key)}: {{")
            models = list(value.items())
            for j, (name, entry) in enumerate(models):
                sep = "," if j < len(models) - 1 else ""
                lines.append(f"    {json.dumps(name)}: {json.dumps(entry)}{sep}")
            lines.append(f"  }}{comma}")
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> int:
    table = build(datetime.date.today())
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(dump(table), encoding="utf-8")
    counts = ", ".join(f"{p}: {len(table[p])}" for p in ("openai", "anthropic"))
    print(f"wrote {OUT} ({counts}); not priced: {table['not_priced']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
