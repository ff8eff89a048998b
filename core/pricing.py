"""Token usage → USD with genai-prices' bundled catalogue, as of the usage date; never fetched at run time."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import lru_cache

from genai_prices import Usage, calc_price

# Our provider names (as stored on charges) → genai-prices provider ids.
PROVIDER_IDS = {"OpenAI": "openai", "Anthropic": "anthropic", "Google": "google", "AWS Bedrock": "aws"}


@lru_cache(maxsize=16_384)
def price_per_request(
    provider: str, model: str, input_tokens: int, output_tokens: int, cached_tokens: int, on: dt.date
) -> Decimal | None:
    """USD for one request of this size on `on` (tiers apply per request); None when the model is unknown.

    `input_tokens` includes the cached ones, as OpenAI and genai-prices count them.
    """
    provider_id = PROVIDER_IDS.get(provider, provider.lower())
    try:
        calculation = calc_price(
            Usage(
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cache_read_tokens=cached_tokens or None,
            ),
            model_ref=model,
            provider_id=provider_id,
            genai_request_timestamp=dt.datetime.combine(on, dt.time(12), dt.UTC),
        )
    except LookupError:
        return None
    return Decimal(calculation.total_price)
