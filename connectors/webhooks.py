"""Incoming webhooks, framework-free: signatures checked, bodies turned into charge or revenue rows, or refused.

meterr's own charge webhook is signed like Stripe's: `X-Meterr-Signature: v1=<hex HMAC-SHA256>` over
`"<X-Meterr-Timestamp>." + body` with the connection's signing secret, and rejected when the timestamp is more
than five minutes away from now. Every refusal is a WebhookRejected with an HTTP status and a message that
names the field at fault; no message repeats a secret or the body.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise
from typing import Any, TypeVar

import stripe

from connectors.http import ConnectorError
from connectors.stripe_revenue import rows_from_balance_transaction, rows_from_charge, rows_from_refund
from core.money import to_micros
from core.pricing import price_per_request

TIMESTAMP_HEADER = "X-Meterr-Timestamp"
SIGNATURE_HEADER = "X-Meterr-Signature"
STRIPE_SIGNATURE_HEADER = "Stripe-Signature"
TOLERANCE_SECONDS = 300
MAX_BODY_BYTES = 1_048_576
MAX_CHARGES = 10_000
MAX_EVENT_ID = 200
_MAX_AMOUNT = Decimal(1_000_000_000)  # per charge; anything larger is a mistake, not a bill
_MAX_COUNT = 10**15
_TEXT_FIELDS = {
    "provider": 40, "model": 120, "service": 80, "line_item": 200, "api_key": 80,
    "department": 80, "project": 80, "customer": 80, "feature": 80,
}  # fmt: skip
_COUNT_FIELDS = ("input_tokens", "output_tokens", "cached_tokens", "requests")
_CHARGE_FIELDS = frozenset({"day", "amount_usd", "tags", *_TEXT_FIELDS, *_COUNT_FIELDS})
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_PRINTABLE = re.compile(r"[\x21-\x7e]+")

Key = TypeVar("Key")


class WebhookRejected(Exception):
    """A delivery we refuse: `status` is the HTTP answer, the message says what to fix."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# meterr's own signature ---------------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of `"<timestamp>." + body` with the signing secret."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The two headers a sender adds to a delivery (what tests and example senders use)."""
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: f"v1={sign(secret, timestamp, body)}"}


def verify_signature(
    secret: str,
    *,
    timestamp_header: str | None,
    signature_header: str | None,
    body: bytes,
    now: float,
    tolerance: int = TOLERANCE_SECONDS,
) -> None:
    """Accept a delivery signed with `secret` within `tolerance` seconds of `now`, or raise WebhookRejected (401)."""
    if not timestamp_header:
        raise WebhookRejected(401, f"The {TIMESTAMP_HEADER} header is missing (Unix seconds when you signed).")
    if not signature_header:
        raise WebhookRejected(401, f"The {SIGNATURE_HEADER} header is missing (v1=<hex HMAC-SHA256>).")
    text = timestamp_header.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise WebhookRejected(401, f"The {TIMESTAMP_HEADER} header must be whole Unix seconds, e.g. 1763596800.")
    timestamp = int(text)
    if abs(now - timestamp) > tolerance:
        raise WebhookRejected(
            401,
            f"The {TIMESTAMP_HEADER} is more than {tolerance // 60} minutes from our clock: sign each delivery when "
            "you send it (a stale signature could be a replay).",
        )
    expected = sign(secret, timestamp, body)
    offered = [part.strip()[3:] for part in signature_header.split(",") if part.strip().startswith("v1=")]
    if not any(
        hmac.compare_digest(expected.encode(), candidate.encode()) for candidate in offered if candidate.isascii()
    ):
        raise WebhookRejected(
            401, "The signature does not match: sign the exact body bytes with this webhook's signing secret."
        )


def too_large() -> WebhookRejected:
    return WebhookRejected(
        413, f"The body is larger than {MAX_BODY_BYTES // 1_048_576} MB; send fewer charges per delivery."
    )


def check_size(body: bytes) -> None:
    if len(body) > MAX_BODY_BYTES:
        raise too_large()


# meterr's charge events ---------------------------------------------------------------------------


def parse_charge_event(body: bytes, *, received_on: dt.date, connection_id: int) -> tuple[str, list[dict[str, Any]]]:
    """The event id and charge rows of a charge event, or WebhookRejected (413 too large, 422 naming the field).

    Body: `{"id": "evt_123", "charges": [{"day": "2026-11-20", "provider": "OpenAI", "model": "gpt-4o",
    "amount_usd": "12.34"}, ...]}`. A charge without `amount_usd` is priced from `model` and its tokens
    (`input_tokens` includes `cached_tokens`) at the published price on its day; one the price list does not
    know is refused, never stored as $0. A missing `day` is the day received.
    """
    check_size(body)
    event = _json_object(body)
    event_id = event.get("id")
    if (
        not isinstance(event_id, str)
        or not event_id
        or len(event_id) > MAX_EVENT_ID
        or not _PRINTABLE.fullmatch(event_id)
    ):
        raise WebhookRejected(
            422,
            f"id: give each event a unique id of 1 to {MAX_EVENT_ID} printable characters without spaces, "
            'e.g. "evt_123".',
        )
    charges = event.get("charges")
    if not isinstance(charges, list) or not charges:
        raise WebhookRejected(422, 'charges: expected a non-empty list of charges, e.g. [{"day": "2026-11-20", ...}].')
    if len(charges) > MAX_CHARGES:
        raise WebhookRejected(
            422, f"charges: at most {MAX_CHARGES:,} charges per event; split them over several events."
        )
    rows = [
        _charge_row(charge, f"charges[{index}]", received_on=received_on)
        | {"source_key": f"webhook:{connection_id}:{event_id}:{index}"}
        for index, charge in enumerate(charges)
    ]
    return event_id, rows


def read_json_object(
    body: bytes, *, example: str, reject: Callable[[int, str], Exception] = WebhookRejected
) -> dict[str, Any]:
    """A request body as a JSON object, numbers as exact Decimals; `reject(422, message)` says what is wrong.

    Shared by every JSON route (charge webhooks, the outcomes API) so they refuse bad bodies in the same words.
    """

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not a number")

    try:
        value = json.loads(body.decode("utf-8"), parse_float=Decimal, parse_constant=no_constants)
    except UnicodeDecodeError as exc:
        raise reject(422, "body: not UTF-8 text; send JSON encoded as UTF-8.") from exc
    except json.JSONDecodeError as exc:
        raise reject(422, f"body: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}).") from exc
    except ValueError as exc:
        raise reject(422, f"body: not valid JSON ({exc}).") from exc
    if not isinstance(value, dict):
        raise reject(422, f"body: expected a JSON object like {example}.")
    return value


def _json_object(body: bytes) -> dict[str, Any]:
    return read_json_object(body, example='{"id": "evt_123", "charges": [...]}')


def _charge_row(charge: Any, where: str, *, received_on: dt.date) -> dict[str, Any]:
    if not isinstance(charge, dict):
        raise WebhookRejected(422, f"{where}: expected an object with day, provider, model and amount_usd or tokens.")
    unknown = sorted(str(name) for name in charge if name not in _CHARGE_FIELDS)
    if unknown:
        raise WebhookRejected(
            422, f"{where}.{unknown[0][:40]}: not a field meterr knows (known: {', '.join(sorted(_CHARGE_FIELDS))})."
        )
    row: dict[str, Any] = {name: _text(charge, name, size, where) for name, size in _TEXT_FIELDS.items()}
    if not row["provider"]:
        raise WebhookRejected(422, f'{where}.provider: required, e.g. "OpenAI" or "Anthropic".')
    day = _day(charge.get("day"), f"{where}.day", received_on)
    counts = {name: _count(charge.get(name), f"{where}.{name}") for name in _COUNT_FIELDS}
    if counts["cached_tokens"] > counts["input_tokens"]:
        raise WebhookRejected(
            422, f"{where}.cached_tokens: {counts['cached_tokens']} is more than input_tokens, which include them."
        )
    if "amount_usd" in charge:
        amount = _amount(charge["amount_usd"], f"{where}.amount_usd")
    else:
        amount = _price(row["provider"], row["model"], counts, day, where)
    original = f"{amount:f}"
    if len(original) > 40:
        raise WebhookRejected(422, f"{where}.amount_usd: too many digits; round to at most 6 decimal places.")
    return {
        **row,
        **counts,
        "day": day,
        "amount_micros": to_micros(amount),
        "original_amount": original,
        "currency": "USD",
        "tags": _tags(charge.get("tags"), f"{where}.tags"),
    }


def _text(charge: Mapping[str, Any], name: str, size: int, where: str) -> str:
    value = charge.get(name)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > size:
        raise WebhookRejected(422, f"{where}.{name}: must be text of at most {size} characters.")
    return value.strip()


def _day(value: Any, where: str, received_on: dt.date) -> dt.date:
    if value is None:
        return received_on
    try:
        if not isinstance(value, str) or not _DAY.fullmatch(value):
            raise ValueError
        day = dt.date.fromisoformat(value)
    except ValueError:
        shown = repr(value) if isinstance(value, str) else json.dumps(value, default=str)
        raise WebhookRejected(422, f"{where}: {shown[:40]} is not a date (use YYYY-MM-DD).") from None
    if day > received_on + dt.timedelta(days=1):
        raise WebhookRejected(422, f"{where}: {value} is in the future; send charges once they are incurred.")
    return day


def _count(value: Any, where: str) -> int:
    if value is None:
        return 0
    if isinstance(value, Decimal) and value == value.to_integral_value():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_COUNT:
        raise WebhookRejected(422, f"{where}: must be a whole number of at least 0.")
    return value


def _amount(value: Any, where: str) -> Decimal:
    try:
        if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
            raise ValueError
        if isinstance(value, str) and not _DECIMAL.fullmatch(value.strip()):
            raise ValueError
        amount = Decimal(str(value).strip())
    except (ArithmeticError, ValueError):
        raise WebhookRejected(
            422, f'{where}: {str(value)[:40]!r} is not an amount of US dollars (use a decimal like "12.34").'
        ) from None
    if not amount.is_finite() or abs(amount) > _MAX_AMOUNT or (amount and amount.adjusted() < -18):
        raise WebhookRejected(422, f"{where}: {str(value)[:40]!r} is not a believable amount of US dollars.")
    return amount


def _price(provider: str, model: str, counts: Mapping[str, int], day: dt.date, where: str) -> Decimal:
    """The published price of this usage, each request priced at its share of the tokens (tiers are per request)."""
    tokens = (counts["input_tokens"], counts["output_tokens"], counts["cached_tokens"])
    if not model or not any(tokens):
        raise WebhookRejected(
            422, f"{where}: give amount_usd, or model and input_tokens/output_tokens so meterr can price it."
        )
    requests = max(counts["requests"], 1)
    shares = [divmod(total, requests) for total in tokens]
    # Request i gets one extra token of a kind while i < that kind's remainder: at most four distinct sizes.
    bounds = sorted({0, requests, *(extra for _, extra in shares)})
    total = Decimal(0)
    for low, high in pairwise(bounds):
        size = [base + (1 if low < extra else 0) for base, extra in shares]
        price = price_per_request(provider, model, size[0], size[1], size[2], day)
        if price is None:
            raise WebhookRejected(
                422,
                f"{where}.model: meterr has no published price for {model!r} from {provider} on {day.isoformat()}; "
                "send amount_usd for it instead.",
            )
        total += price * (high - low)
    return total


def _tags(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if (
        not isinstance(value, dict)
        or len(value) > 20
        or not all(
            isinstance(k, str) and isinstance(v, str) and len(k) <= 40 and len(v) <= 80 for k, v in value.items()
        )
    ):
        raise WebhookRejected(422, f'{where}: must be an object of at most 20 text tags, e.g. {{"team": "search"}}.')
    return dict(value)


# Stripe -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StripeEvent:
    """A verified Stripe event: its id and type, the revenue rows it carries, and what it carried we could not use."""

    event_id: str
    event_type: str
    rows: list[dict[str, Any]]
    skipped: list[str] = field(default_factory=list)


_STRIPE_OBJECTS: dict[str, Callable[[Mapping[str, Any]], list[dict[str, Any]]]] = {
    "charge": rows_from_charge,
    "refund": rows_from_refund,
    "balance_transaction": rows_from_balance_transaction,
}


def verify_stripe_signature(
    candidates: Iterable[tuple[Key, str]],
    *,
    signature_header: str | None,
    body: bytes,
    now: float,
    tolerance: int = TOLERANCE_SECONDS,
) -> Key:
    """The key of the first (key, signing secret) whose secret signed this body, checked by stripe-python; or 401.

    `candidates` may be lazy, so secrets are opened only until one matches.
    """
    check_size(body)
    if not signature_header:
        raise WebhookRejected(401, f"The {STRIPE_SIGNATURE_HEADER} header is missing.")
    try:
        payload = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookRejected(400, "The body is not UTF-8 text, so it cannot be a Stripe event.") from None
    for key, secret in candidates:
        try:
            # tolerance=None: find the signer first, then say plainly when its signature is stale.
            stripe.WebhookSignature.verify_header(payload, signature_header, secret, tolerance=None)
        except stripe.SignatureVerificationError:
            continue
        if abs(now - _stripe_timestamp(signature_header)) > tolerance:
            raise WebhookRejected(
                401,
                f"The Stripe signature's timestamp is more than {tolerance // 60} minutes from our clock (a replay, "
                "or a clock far off).",
            )
        return key
    raise WebhookRejected(
        401, "The Stripe signature does not match any Stripe webhook signing secret (whsec_...) set up in meterr."
    )


def _stripe_timestamp(header: str) -> int:
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            return int(value)
    raise WebhookRejected(401, f"The {STRIPE_SIGNATURE_HEADER} header has no timestamp.")


def parse_stripe_event(body: bytes) -> StripeEvent:
    """Revenue rows from a verified event whose `data.object` is a charge, refund or balance transaction.

    Other objects carry nothing to import (rows empty). An object in a currency we cannot convert is listed in
    `skipped`: the Stripe sync imports it from its balance transaction.
    """
    event = _json_object(body)
    event_id, event_type = event.get("id"), event.get("type")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(event_id, str) or not event_id or len(event_id) > MAX_EVENT_ID:
        raise WebhookRejected(422, "id: a Stripe event needs its id (evt_...).")
    if not isinstance(event_type, str) or not isinstance(obj, dict):
        raise WebhookRejected(422, "data.object: a Stripe event needs a type and data.object.")
    kind = obj.get("object")
    build = _STRIPE_OBJECTS.get(kind if isinstance(kind, str) else "")
    if build is None:
        return StripeEvent(event_id, event_type, [])
    try:
        return StripeEvent(event_id, event_type, build(obj))
    except ConnectorError as exc:
        return StripeEvent(event_id, event_type, [], [str(exc)])
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise WebhookRejected(
            422, f"data.object: this Stripe {kind} could not be read ({type(exc).__name__})."
        ) from None
