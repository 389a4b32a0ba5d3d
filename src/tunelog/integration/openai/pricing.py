"""Cost in USD of an inference call, from token usage and a maintained price table (genai-prices).

Prices are looked up once per model and kept as per-token rates, so pricing a call is a few
multiplications (genai-prices' own calculation costs ~250 µs a call). Fine-tuned models (``ft:...``)
are priced at fine-tuned rates, as genai-prices lists them. A model no table knows gets no cost and
one warning: never a guessed, wrong cost.

Overrides take precedence: ``{"gpt-4o-mini": {"input": 0.075, "output": 0.3, "cached_input": 0.0375}}``
in USD per million tokens (negotiated prices, batch tiers).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("tunelog")

_PER_MILLION = 1e-6
_UNKNOWN: tuple[float, float, float] | None = None


class Rates:
    """USD per token for input, cached input and output."""

    __slots__ = ("cached_input", "input", "output")

    def __init__(self, input: float, output: float, cached_input: float | None = None) -> None:
        self.input = input
        self.output = output
        self.cached_input = input if cached_input is None else cached_input

    def cost(self, prompt: int, completion: int, cached: int = 0) -> float:
        cached = min(max(cached, 0), prompt)
        return (prompt - cached) * self.input + cached * self.cached_input + completion * self.output


def _override_rates(spec: Mapping[str, Any], model: str) -> Rates:
    try:
        inp = float(spec["input"]) * _PER_MILLION
        out = float(spec.get("output", 0.0)) * _PER_MILLION
        cached = spec.get("cached_input")
        return Rates(inp, out, float(cached) * _PER_MILLION if cached is not None else None)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(
            f"Invalid price override for {model!r}: {dict(spec)!r} ({exc}). Give USD per million tokens, "
            "such as {'input': 0.15, 'output': 0.6, 'cached_input': 0.075}."
        ) from exc


class PriceBook:
    """Per-model rates: overrides first, then genai-prices. Thread-safe; used on the writer thread."""

    def __init__(self, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._overrides = {m: _override_rates(spec, m) for m, spec in (overrides or {}).items()}
        #: As given (a process recovering journalled calls prices them the same way).
        self.overrides = {m: dict(spec) for m, spec in (overrides or {}).items()}
        self._cache: dict[str, Rates | None] = {}
        self._lock = threading.Lock()
        self.warned: set[str] = set()

    def rates(self, model: str) -> Rates | None:
        found = self._overrides.get(model)
        if found is not None:
            return found
        try:
            return self._cache[model]
        except KeyError:
            pass
        rates = self._lookup(model)
        with self._lock:
            self._cache[model] = rates
        return rates

    def cost(self, model: str | None, prompt: int, completion: int, cached: int = 0) -> float | None:
        """USD for this usage, or None when the model's price is unknown (warned once per model)."""
        if not model:
            return None
        rates = self.rates(model)
        if rates is None:
            return None
        return rates.cost(prompt, completion, cached)

    def _lookup(self, model: str) -> Rates | None:
        base = _strip_fine_tune(model)
        for ref in dict.fromkeys((model, base)):
            if ref in self._overrides:
                return self._overrides[ref]
        try:
            from decimal import Decimal

            import genai_prices
        except ImportError:
            self._warn(model, "the price table (package genai-prices) is not installed")
            return None
        for ref in [r for r in (model, _fine_tune_family(model)) if r]:
            try:
                calc = genai_prices.calc_price(
                    genai_prices.Usage(input_tokens=1_000_000, output_tokens=0), ref, provider_id="openai"
                )
            except LookupError:
                continue
            except Exception as exc:  # a malformed table entry must not break recording
                self._warn(model, f"the price table failed ({type(exc).__name__}: {exc})")
                return None
            if model.startswith("ft:") and not str(calc.model.id).startswith("ft:"):
                continue  # a base model's price for a fine-tuned model would be a wrong cost
            price = calc.model_price
            inp, out, cached = (
                getattr(price, k, None) for k in ("input_mtok", "output_mtok", "cache_read_mtok")
            )
            if not all(v is None or isinstance(v, Decimal) for v in (inp, out, cached)):
                # Tiered prices are not linear; genai-prices is exact but slower, so ask it each call.
                return _Exact(ref)
            return Rates(
                float(inp or 0) * _PER_MILLION,
                float(out or 0) * _PER_MILLION,
                float(cached) * _PER_MILLION if cached is not None else None,
            )
        self._warn(model, "the price table does not list it")
        return None

    def _warn(self, model: str, why: str) -> None:
        with self._lock:
            if model in self.warned:
                return
            self.warned.add(model)
        log.warning(
            "tunelog: no cost recorded for model %r: %s. Calls are still recorded, without cost_usd. To "
            "record a cost, pass autolog(prices={%r: {'input': ..., 'output': ...}}) in USD per million "
            "tokens (for Azure, map the deployment with azure_deployments={'deployment': 'model'}).",
            model,
            why,
            model,
        )


class _Exact(Rates):
    """Rates for tiered prices: each call is priced by genai-prices itself."""

    __slots__ = ("ref",)

    def __init__(self, ref: str) -> None:
        super().__init__(0.0, 0.0)
        self.ref = ref

    def cost(self, prompt: int, completion: int, cached: int = 0) -> float:
        import genai_prices

        usage = genai_prices.Usage(
            input_tokens=prompt, output_tokens=completion, cache_read_tokens=min(cached, prompt)
        )
        return float(genai_prices.calc_price(usage, self.ref, provider_id="openai").total_price)


def _strip_fine_tune(model: str) -> str:
    """``ft:gpt-4o-mini-2024-07-18:org:suffix:id`` → ``gpt-4o-mini-2024-07-18``."""
    if model.startswith("ft:"):
        parts = model.split(":")
        return parts[1] if len(parts) > 1 else model
    return model


def _fine_tune_family(model: str) -> str | None:
    """The fine-tuned price entry for a fine-tuned model, such as ``ft:gpt-4o-mini``; None otherwise.

    genai-prices matches ``ft:<base>`` entries by prefix; this also tries without the snapshot date."""
    if not model.startswith("ft:"):
        return None
    base = _strip_fine_tune(model)
    parts = base.split("-")
    # gpt-4o-mini-2024-07-18 → gpt-4o-mini
    while len(parts) > 1 and parts[-1].isdigit():
        parts.pop()
    return "ft:" + "-".join(parts)
