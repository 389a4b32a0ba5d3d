"""Training prices of fine-tunable models, for the cost estimate of a fine-tune.

The maintained price packages cover inference only, so this is a small table kept by hand: US dollars
per 1M *trained* tokens (tokens per epoch × epochs, the job's ``trained_tokens``), for supervised and
DPO fine-tuning. Reinforcement fine-tuning is billed per hour of training and Azure OpenAI bills
training per hour for most models, so neither is estimated from tokens here.

Users override or add prices: ``FineTuneLogger.sync(..., training_prices={"my-model": 4.0})``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: When the table below was checked against its sources.
AS_OF = "2025-06-01"
SOURCES = (
    "https://openai.com/api/pricing/ (Fine-tuning: training, per 1M tokens)",
    "https://platform.openai.com/docs/pricing#fine-tuning",
)

#: USD per 1M trained tokens, by base model snapshot (aliases resolve through _ALIASES).
TRAINING_PRICES: Mapping[str, float] = {
    "gpt-4.1-2025-04-14": 25.00,
    "gpt-4.1-mini-2025-04-14": 5.00,
    "gpt-4.1-nano-2025-04-14": 1.50,
    "gpt-4o-2024-08-06": 25.00,
    "gpt-4o-mini-2024-07-18": 3.00,
    "gpt-3.5-turbo-0125": 8.00,
    "gpt-3.5-turbo-1106": 8.00,
    "gpt-3.5-turbo-0613": 8.00,
    "davinci-002": 6.00,
    "babbage-002": 0.40,
}
_ALIASES = {
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-3.5-turbo": "gpt-3.5-turbo-0125",
}


@dataclass(frozen=True)
class CostEstimate:
    """A training cost estimate, or why there is none."""

    usd: float | None
    usd_per_1m_tokens: float | None
    note: str | None = None


def base_of(model: str) -> str:
    """A fine-tuned model's base (``ft:gpt-4o-mini-2024-07-18:org::id`` → ``gpt-4o-mini-2024-07-18``)."""
    if model.startswith("ft:"):
        return model.split(":")[1]
    return model


def training_price(model: str, overrides: Mapping[str, float] | None = None) -> float | None:
    """USD per 1M trained tokens for ``model`` (``overrides`` first), or None when unknown."""
    base = base_of(model)
    for name in (model, base, _ALIASES.get(base, base)):
        if overrides and name in overrides:
            return float(overrides[name])
    return TRAINING_PRICES.get(_ALIASES.get(base, base))


def estimate(
    model: str,
    trained_tokens: int | None,
    method: str | None = None,
    overrides: Mapping[str, float] | None = None,
) -> CostEstimate:
    """The training cost of a job: trained tokens × the base model's price per token."""
    price = training_price(model, overrides)
    if method == "reinforcement" and not (overrides and base_of(model) in overrides):
        return CostEstimate(
            None, None, "reinforcement fine-tuning is billed per training hour, not per token"
        )
    if price is None:
        return CostEstimate(
            None,
            None,
            f"no training price known for {model!r} (table as of {AS_OF}); pass "
            f"training_prices={{{base_of(model)!r}: <USD per 1M tokens>}}",
        )
    if trained_tokens is None:
        return CostEstimate(None, price, "the job reports no trained tokens yet")
    return CostEstimate(round(trained_tokens * price / 1e6, 6), price)
