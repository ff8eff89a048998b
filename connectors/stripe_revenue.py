"""Stripe revenue: balance transactions (charges, refunds, fees, disputes) as signed US-dollar revenue rows.

Balance transactions are Stripe's ledger: one per movement of money in the account's settlement currency, each
with Stripe's fee. The row builders are pure and also read the charge, refund and balance-transaction objects
that Stripe webhooks deliver; every row is keyed by its balance transaction, so a webhook and a later sync of
the same money write one row.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import stripe

from connectors.http import ConnectorError, exact_decimal
from core.money import to_micros
from core.revenue import minor_to_decimal

Revenue = dict[str, Any]

PAGE_LIMIT = 100
_CATEGORY_KINDS = {
    "charge": "charge",
    "refund": "refund",
    "refund_failure": "refund",
    "partial_capture_reversal": "refund",
    "fee": "fee",
    "dispute": "dispute",
    "dispute_reversal": "dispute",
}
_TYPE_KINDS = {
    "charge": "charge",
    "payment": "charge",
    "refund": "refund",
    "payment_refund": "refund",
    "refund_failure": "refund",
    "payment_failure_refund": "refund",
    "stripe_fee": "fee",
    "stripe_fx_fee": "fee",
    "tax_fee": "fee",
}
# Money moving between the account's own balances and bank (payouts, transfers, top-ups, reserves) is not
# revenue: counting a payout would make every payday look like a loss.
_MOVEMENT_PREFIXES = ("payout", "transfer", "topup", "reserve", "connect_reserved", "risk_reserved")
_MOVEMENT_TYPES = frozenset({"reserved_funds", "payment_network_reserve_hold", "payment_network_reserve_release"})
_KEY_LIKE = re.compile(r"\b[sr]k_(?:live|test)_[A-Za-z0-9*]+")


class StripeRevenue:
    """Reads a Stripe account's balance transactions with a secret or restricted key (read access to Balance)."""

    name = "stripe_revenue"
    provider = "Stripe"

    def __init__(self, client: stripe.StripeClient) -> None:
        self._client = client

    def __repr__(self) -> str:  # never show the key
        return "StripeRevenue()"

    def test_connection(self) -> str:
        """One small list call; a short confirmation, or ConnectorError."""
        with _plain_errors():
            self._client.v1.balance_transactions.list(params={"limit": 1})
        return "Connected to Stripe: the key can read your balance transactions."

    def fetch_revenue(self, *, start: dt.date, end: dt.date) -> Iterator[Revenue]:
        """Revenue rows for balance transactions created on the UTC days start..end (inclusive), page by page.

        A failure part-way raises ConnectorError; the caller's transaction then writes nothing.
        """
        begin = dt.datetime.combine(start, dt.time(), dt.UTC)
        finish = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC)
        params: Any = {
            "limit": PAGE_LIMIT,
            "created": {"gte": int(begin.timestamp()), "lt": int(finish.timestamp())},
            "expand": ["data.source"],
        }
        with _plain_errors():
            for txn in self._client.v1.balance_transactions.list(params=params).auto_paging_iter():
                yield from rows_from_balance_transaction(txn.to_dict())


@contextlib.contextmanager
def _plain_errors() -> Iterator[None]:
    """Stripe's exceptions as ConnectorError with a message a person can act on (never the key)."""
    try:
        yield
    except stripe.AuthenticationError as exc:
        raise ConnectorError(
            "Stripe rejected the key (401). Check that you pasted the whole secret or restricted key and that it "
            "has not been revoked or rolled.",
            kind="auth",
            status=401,
        ) from exc
    except stripe.PermissionError as exc:
        raise ConnectorError(
            "Stripe refused access (403): this restricted key cannot read balance transactions; give it Read "
            "access to Balance and Charges in the Stripe dashboard (Developers → API keys).",
            kind="forbidden",
            status=403,
        ) from exc
    except stripe.RateLimitError as exc:
        raise ConnectorError(
            "Stripe is rate limiting us; try again in a few minutes.", kind="rate_limited", status=429
        ) from exc
    except stripe.APIConnectionError as exc:
        raise ConnectorError(
            "Could not reach Stripe (a network problem: check this server's internet connection); "
            "nothing was imported, try again later.",
            kind="network",
        ) from exc
    except stripe.InvalidRequestError as exc:
        detail = _KEY_LIKE.sub("[key hidden]", exc.user_message or "")[:300]
        raise ConnectorError(
            f"Stripe refused the request (HTTP {exc.http_status}){': ' + detail if detail else '.'}",
            kind="bad_request",
            status=exc.http_status,
        ) from exc
    except stripe.StripeError as exc:
        status = exc.http_status
        raise ConnectorError(
            f"Stripe is having trouble (HTTP {status or 'error'}); nothing was imported, try again later.",
            kind="server" if status is None or status >= 500 else "bad_response",
            status=status,
        ) from exc


# Rows ---------------------------------------------------------------------------------------------


def revenue_kind(txn: Mapping[str, Any]) -> str | None:
    """charge | refund | fee | dispute | other for a balance transaction; None when it is not revenue (payouts)."""
    category = str(txn.get("reporting_category") or "")
    kind = str(txn.get("type") or "")
    if category.startswith(_MOVEMENT_PREFIXES) or kind.startswith(_MOVEMENT_PREFIXES) or kind in _MOVEMENT_TYPES:
        return None
    return _CATEGORY_KINDS.get(category) or _TYPE_KINDS.get(kind) or "other"


def rows_from_balance_transaction(txn: Mapping[str, Any]) -> list[Revenue]:
    """The revenue row of one balance transaction, plus a negative fee row when Stripe took a fee; pure."""
    kind = revenue_kind(txn)
    if kind is None:
        return []
    txn_id = str(txn["id"])
    currency = str(txn["currency"]).upper()
    source = txn.get("source")
    day = _utc_day(txn["created"])
    to_usd = _usd_converter(txn, source, what=f"balance transaction {txn_id}")
    amount, fee = int(txn["amount"]), int(txn.get("fee") or 0)
    rows = [
        _row(
            f"stripe:{txn_id}",
            day,
            kind,
            minor_to_decimal(amount, currency),
            currency,
            to_usd,
            customer=_customer_of(source),
            description=str(txn.get("description") or ""),
        )
    ]
    if fee:
        details = [str(d.get("description") or "") for d in txn.get("fee_details") or [] if isinstance(d, Mapping)]
        rows.append(
            _row(
                f"stripe:{txn_id}:fee",
                day,
                "fee",
                minor_to_decimal(-fee, currency),
                currency,
                to_usd,
                description="; ".join(d for d in details if d) or f"Stripe fee on {txn_id}",
            )
        )
    return rows


def rows_from_charge(charge: Mapping[str, Any]) -> list[Revenue]:
    """A captured charge (and the refunds listed on it) as revenue rows keyed by their balance transactions; pure.

    A charge without a balance transaction moved no money yet (failed, or authorised but not captured).
    Stripe's fee is not on the charge: it arrives with the balance transaction (sync or webhook).
    """
    rows: list[Revenue] = []
    txn_id = _id_of(charge.get("balance_transaction"))
    customer = _customer_of(charge)
    if txn_id and charge.get("status", "succeeded") == "succeeded":
        currency = _usd_only(charge, f"charge {charge.get('id')}")
        amount = int(charge.get("amount_captured") or charge["amount"])
        rows.append(
            _row(
                f"stripe:{txn_id}",
                _utc_day(charge["created"]),
                "charge",
                minor_to_decimal(amount, currency),
                currency,
                None,
                customer=customer,
                description=str(charge.get("description") or ""),
            )
        )
    refunds = charge.get("refunds")
    for refund in refunds.get("data") or [] if isinstance(refunds, Mapping) else []:
        if isinstance(refund, Mapping):
            rows.extend(rows_from_refund(refund, customer=customer))
    return rows


def rows_from_refund(refund: Mapping[str, Any], *, customer: str = "") -> list[Revenue]:
    """A refund as a negative revenue row, and a failed refund's reversal as a positive one; pure."""
    txn_id = _id_of(refund.get("balance_transaction"))
    if not txn_id:
        return []
    currency = _usd_only(refund, f"refund {refund.get('id')}")
    amount = minor_to_decimal(int(refund["amount"]), currency)
    day = _utc_day(refund["created"])
    description = str(refund.get("description") or refund.get("reason") or "")
    if not customer:
        customer = _customer_of(refund.get("charge"))
    rows = [
        _row(f"stripe:{txn_id}", day, "refund", -amount, currency, None, customer=customer, description=description)
    ]
    failure_id = _id_of(refund.get("failure_balance_transaction"))
    if failure_id:
        rows.append(
            _row(
                f"stripe:{failure_id}",
                day,
                "refund",
                amount,
                currency,
                None,
                customer=customer,
                description="refund failed",
            )
        )
    return rows


def _row(
    source_key: str,
    day: dt.date,
    kind: str,
    original: Decimal,
    currency: str,
    to_usd: Decimal | None,
    *,
    customer: str = "",
    description: str = "",
) -> Revenue:
    usd = original if to_usd is None else original / to_usd
    return {
        "source_key": source_key,
        "day": day,
        "kind": kind,
        "customer": customer[:80],
        "description": description[:255],
        "amount_micros": to_micros(usd),
        "original_amount": f"{original:f}",
        "currency": currency,
    }


def _usd_converter(txn: Mapping[str, Any], source: Any, *, what: str) -> Decimal | None:
    """None for a US-dollar transaction; else the rate to divide by to get back to dollars.

    Stripe's `exchange_rate` converts the customer's currency into the settlement currency (amount in A × rate
    = amount in B), so it leads back to dollars only when the customer paid in dollars.
    """
    currency = str(txn["currency"]).upper()
    if currency == "USD":
        return None
    rate = txn.get("exchange_rate")
    paid_in = str(source.get("currency") or "").upper() if isinstance(source, Mapping) else ""
    if rate is None or paid_in != "USD":
        raise ConnectorError(
            f"Stripe {what} is in {currency}, and meterr reports revenue in US dollars; Stripe gave no exchange "
            f"rate from US dollars for it, so it cannot be converted. Revenue settled in {currency} is not "
            "supported yet.",
            kind="bad_response",
        )
    try:
        value = exact_decimal(rate)
    except ValueError:
        value = Decimal(0)
    if value <= 0:
        raise ConnectorError(f"Stripe sent an exchange rate we could not read for {what}.", kind="bad_response")
    return value


def _usd_only(obj: Mapping[str, Any], what: str) -> str:
    currency = str(obj.get("currency") or "").upper()
    if currency != "USD":
        raise ConnectorError(
            f"Stripe {what} is in {currency or 'an unknown currency'}; its US-dollar amount is only known from its "
            "balance transaction, which the Stripe sync imports.",
            kind="bad_response",
        )
    return currency


def _utc_day(created: Any) -> dt.date:
    return dt.datetime.fromtimestamp(int(created), dt.UTC).date()


def _id_of(value: Any) -> str:
    """An expandable field's id, whether Stripe sent the id or the expanded object."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) else ""


def _customer_of(source: Any) -> str:
    """The customer id of an expanded charge (or of a refund's expanded charge); '' when unknown."""
    if not isinstance(source, Mapping):
        return ""
    if "customer" in source:
        return _id_of(source.get("customer"))
    return _customer_of(source.get("charge"))
