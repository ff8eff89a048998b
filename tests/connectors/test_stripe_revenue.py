"""Stripe revenue connector: the real stripe-python client against a local fake that speaks Stripe's list shapes."""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import stripe

from connectors.http import ConnectorError
from connectors.stripe_revenue import (
    StripeRevenue,
    revenue_kind,
    rows_from_balance_transaction,
    rows_from_charge,
    rows_from_refund,
)

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "samples"
KEY = "sk_test_51SECRETdoNotShow0123456789"
NOV_20 = dt.date(2026, 11, 20)
NOV_20_NOON = int(dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC).timestamp())


def load_sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


def txn(txn_id: str, amount: int, *, created: int = NOV_20_NOON, **fields: Any) -> dict[str, Any]:
    """A balance transaction in the shape of Stripe's own fixture."""
    base = copy.deepcopy(load_sample("stripe_balance_transaction.json"))
    base.update(id=txn_id, amount=amount, net=amount - fields.get("fee", 0), created=created, available_on=created)
    base.update(fields)
    return base


def charge(charge_id: str, amount: int, **fields: Any) -> dict[str, Any]:
    base = copy.deepcopy(load_sample("stripe_charge.json"))
    base.update(id=charge_id, amount=amount, amount_captured=amount, captured=True, created=NOV_20_NOON)
    base.update(fields)
    return base


class FakeStripe:
    """GET /v1/balance_transactions like Stripe: `created` filter, newest first, `limit` and `starting_after`
    pagination with `has_more`, and `expand[]=data.source` replacing source ids with the stored objects."""

    def __init__(self) -> None:
        self.transactions: list[dict[str, Any]] = []
        self.sources: dict[str, dict[str, Any]] = {}
        self.page_size = 100
        self.error: tuple[int, dict[str, Any]] | None = None
        self.queries: list[dict[str, list[str]]] = []
        self.authorizations: list[str] = []
        self.port = 0

    def respond(self, path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        if self.error:
            return self.error
        if path != "/v1/balance_transactions":
            return 404, {"error": {"type": "invalid_request_error", "message": f"Unrecognized request URL ({path})."}}
        low = int(query.get("created[gte]", ["0"])[0])
        high = int(query.get("created[lt]", [str(2**62)])[0])
        matching = sorted(
            (t for t in self.transactions if low <= t["created"] < high), key=lambda t: t["created"], reverse=True
        )
        if "starting_after" in query:
            ids = [t["id"] for t in matching]
            matching = matching[ids.index(query["starting_after"][0]) + 1 :]
        limit = min(int(query.get("limit", ["10"])[0]), self.page_size)
        page = copy.deepcopy(matching[:limit])
        if "data.source" in query.get("expand[0]", []):
            for item in page:
                item["source"] = self.sources.get(item["source"], item["source"])
        return 200, {"object": "list", "url": path, "has_more": len(matching) > limit, "data": page}


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with serve_fake_stripe() as server:
        yield server


@contextlib.contextmanager
def serve_fake_stripe() -> Iterator[FakeStripe]:
    """A FakeStripe on a loopback port of its own (`.port`)."""
    fake = FakeStripe()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            fake.queries.append(query)
            fake.authorizations.append(self.headers.get("Authorization", ""))
            status, body = fake.respond(url.path, query)
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    fake.port = server.server_address[1]
    yield fake
    server.shutdown()
    server.server_close()
    thread.join()


def connector(port: int) -> StripeRevenue:
    return StripeRevenue(
        stripe.StripeClient(KEY, base_addresses={"api": f"http://127.0.0.1:{port}"}, max_network_retries=0)
    )


def fetch(fake: FakeStripe, start: dt.date = NOV_20, end: dt.date = NOV_20) -> list[dict[str, Any]]:
    return list(connector(fake.port).fetch_revenue(start=start, end=end))


def test_the_sample_balance_transaction_becomes_one_charge_row() -> None:
    rows = rows_from_balance_transaction(load_sample("stripe_balance_transaction.json"))
    assert rows == [
        {
            "source_key": "stripe:txn_1PgaxNB7WZ01zgkWEV3TLf40",
            "day": dt.date(2009, 2, 13),  # created 1234567890 = 2009-02-13 23:31:30 UTC
            "kind": "charge",
            "customer": "",
            "description": "My First Test Charge (created for API docs)",
            "amount_micros": 1_000_000,
            "original_amount": "1.00",
            "currency": "USD",
        }
    ]


def test_every_page_is_read_with_the_window_and_expansion(fake: FakeStripe) -> None:
    fake.page_size = 2
    fake.transactions = [txn(f"txn_{i}", 1000 + i, created=NOV_20_NOON + i) for i in range(5)]
    rows = fetch(fake)
    assert sorted(r["source_key"] for r in rows) == [f"stripe:txn_{i}" for i in range(5)]
    assert sum(r["amount_micros"] for r in rows) == 50_100_000  # 10.00+10.01+10.02+10.03+10.04
    assert len(fake.queries) == 3
    first, second, third = fake.queries
    assert first["limit"] == ["100"] and first["expand[0]"] == ["data.source"]
    assert first["created[gte]"] == [str(int(dt.datetime(2026, 11, 20, tzinfo=dt.UTC).timestamp()))]
    assert first["created[lt]"] == [str(int(dt.datetime(2026, 11, 21, tzinfo=dt.UTC).timestamp()))]
    assert "starting_after" not in first
    assert second["starting_after"] == ["txn_3"] and third["starting_after"] == ["txn_1"]
    assert set(fake.authorizations) == {f"Bearer {KEY}"}


def test_the_day_is_the_utc_day_of_creation(fake: FakeStripe) -> None:
    last_second = int(dt.datetime(2026, 11, 20, 23, 59, 59, tzinfo=dt.UTC).timestamp())
    fake.transactions = [txn("txn_late", 500, created=last_second), txn("txn_next", 700, created=last_second + 1)]
    rows = fetch(fake, NOV_20, dt.date(2026, 11, 21))
    assert {r["source_key"]: r["day"] for r in rows} == {
        "stripe:txn_late": NOV_20,
        "stripe:txn_next": dt.date(2026, 11, 21),
    }
    assert [r["source_key"] for r in fetch(fake)] == ["stripe:txn_late"]


def test_the_customer_comes_from_the_expanded_charge(fake: FakeStripe) -> None:
    fake.transactions = [txn("txn_a", 2500, source="ch_a"), txn("txn_b", 100, source="ch_anonymous")]
    fake.sources = {"ch_a": charge("ch_a", 2500, customer="cus_Alice"), "ch_anonymous": charge("ch_anonymous", 100)}
    assert {r["source_key"]: r["customer"] for r in fetch(fake)} == {"stripe:txn_a": "cus_Alice", "stripe:txn_b": ""}


def test_a_refund_is_negative(fake: FakeStripe) -> None:
    fake.transactions = [
        txn("txn_refund", -1250, type="refund", reporting_category="refund", source="re_1", description="REFUND")
    ]
    fake.sources = {"re_1": {"id": "re_1", "object": "refund", "amount": 1250, "currency": "usd", "charge": "ch_a"}}
    [row] = fetch(fake)
    assert row["kind"] == "refund"
    assert row["amount_micros"] == -12_500_000
    assert row["original_amount"] == "-12.50"


def test_stripes_fee_is_a_separate_negative_row(fake: FakeStripe) -> None:
    fee_details = [{"amount": 320, "currency": "usd", "description": "Stripe processing fees", "type": "stripe_fee"}]
    fake.transactions = [txn("txn_fee", 10_000, fee=320, fee_details=fee_details)]
    gross, fee = fetch(fake)
    assert (gross["source_key"], gross["kind"], gross["amount_micros"]) == ("stripe:txn_fee", "charge", 100_000_000)
    assert fee == {
        "source_key": "stripe:txn_fee:fee",
        "day": NOV_20,
        "kind": "fee",
        "customer": "",
        "description": "Stripe processing fees",
        "amount_micros": -3_200_000,
        "original_amount": "-3.20",
        "currency": "USD",
    }
    assert gross["amount_micros"] + fee["amount_micros"] == 96_800_000  # the transaction's net


def test_jpy_is_zero_decimal_and_converted_back_to_dollars(fake: FakeStripe) -> None:
    # A $10.00 charge settled in a yen account at 150 JPY per USD: amount 1500 is ¥1500, not ¥15.00.
    fake.transactions = [txn("txn_jpy", 1500, currency="jpy", exchange_rate=150.0, fee=45, source="ch_usd")]
    fake.sources = {"ch_usd": charge("ch_usd", 1000, currency="usd")}
    gross, fee = fetch(fake)
    assert (gross["amount_micros"], gross["original_amount"], gross["currency"]) == (10_000_000, "1500", "JPY")
    assert (fee["amount_micros"], fee["original_amount"], fee["currency"]) == (-300_000, "-45", "JPY")


def test_non_usd_uses_stripes_exchange_rate_exactly(fake: FakeStripe) -> None:
    # Stripe: amount in the customer's currency × exchange_rate = amount in the settlement currency.
    fake.transactions = [
        txn("txn_eur", 920, currency="eur", exchange_rate=0.92, source="ch_1"),
        txn("txn_eur_odd", 924, currency="eur", exchange_rate=0.9234, source="ch_2"),
    ]
    fake.sources = {"ch_1": charge("ch_1", 1000, currency="usd"), "ch_2": charge("ch_2", 1001, currency="usd")}
    rows = {r["source_key"]: r for r in fetch(fake)}
    assert rows["stripe:txn_eur"]["amount_micros"] == 10_000_000
    assert rows["stripe:txn_eur"]["original_amount"] == "9.20"
    assert rows["stripe:txn_eur"]["currency"] == "EUR"
    # 9.24 / 0.9234 = 10.0064977...: rounded half-even to the micro-dollar.
    assert rows["stripe:txn_eur_odd"]["amount_micros"] == 10_006_498


@pytest.mark.parametrize(
    ("rate", "paid_in"), [(None, "usd"), (1.1, "gbp")], ids=["no-exchange-rate", "customer-paid-in-another-currency"]
)
def test_non_usd_without_a_rate_from_dollars_is_refused_in_plain_english(
    fake: FakeStripe, rate: float | None, paid_in: str
) -> None:
    fake.transactions = [txn("txn_eur", 920, currency="eur", exchange_rate=rate, source="ch_1")]
    fake.sources = {"ch_1": charge("ch_1", 1000, currency=paid_in)}
    with pytest.raises(ConnectorError, match="txn_eur is in EUR") as error:
        fetch(fake)
    assert error.value.kind == "bad_response"
    assert "US dollars" in str(error.value)


def test_payouts_and_transfers_are_not_revenue(fake: FakeStripe) -> None:
    fake.transactions = [
        txn("txn_sale", 5000),
        txn("txn_payout", -4000, type="payout", reporting_category="payout", source="po_1"),
        txn("txn_transfer", -100, type="transfer", reporting_category="transfer", source="tr_1"),
        txn("txn_dispute", -5000, type="adjustment", reporting_category="dispute", fee=1500),
        txn("txn_adjust", 30, type="adjustment", reporting_category="other_adjustment"),
    ]
    rows = {r["source_key"]: (r["kind"], r["amount_micros"]) for r in fetch(fake)}
    assert rows == {
        "stripe:txn_sale": ("charge", 50_000_000),
        "stripe:txn_dispute": ("dispute", -50_000_000),
        "stripe:txn_dispute:fee": ("fee", -15_000_000),
        "stripe:txn_adjust": ("other", 300_000),
    }


@pytest.mark.parametrize(
    ("category", "kind", "expected"),
    [
        ("charge", "charge", "charge"),
        ("charge", "payment", "charge"),
        ("refund", "refund", "refund"),
        ("", "payment_refund", "refund"),
        ("fee", "stripe_fee", "fee"),
        ("", "stripe_fx_fee", "fee"),
        ("dispute_reversal", "adjustment", "dispute"),
        ("other_adjustment", "adjustment", "other"),
        ("payout", "payout", None),
        ("topup", "topup", None),
        ("risk_reserved_funds", "reserve_hold", None),
    ],
)
def test_revenue_kind(category: str, kind: str, expected: str | None) -> None:
    assert revenue_kind({"reporting_category": category, "type": kind}) == expected


def test_test_connection_reads_one_transaction(fake: FakeStripe) -> None:
    assert "Connected to Stripe" in connector(fake.port).test_connection()
    assert fake.queries == [{"limit": ["1"]}]


def test_a_rejected_key_is_explained_without_showing_it(fake: FakeStripe) -> None:
    fake.error = (
        401,
        {"error": {"type": "invalid_request_error", "message": f"Invalid API Key provided: {KEY}"}},
    )
    for call in (lambda c: c.test_connection(), lambda c: list(c.fetch_revenue(start=NOV_20, end=NOV_20))):
        with pytest.raises(ConnectorError) as error:
            call(connector(fake.port))
        assert error.value.kind == "auth" and error.value.status == 401
        assert "Stripe rejected the key" in str(error.value)
        assert KEY not in str(error.value) and KEY not in repr(error.value)


@pytest.mark.parametrize(
    ("status", "kind", "words"),
    [
        (403, "forbidden", "Read access to Balance"),
        (429, "rate_limited", "rate limiting"),
        (500, "server", "having trouble"),
        (400, "bad_request", "No such parameter"),
    ],
)
def test_stripe_errors_become_plain_english(fake: FakeStripe, status: int, kind: str, words: str) -> None:
    fake.error = (status, {"error": {"type": "invalid_request_error", "message": f"No such parameter {KEY}"}})
    with pytest.raises(ConnectorError, match=words) as error:
        list(connector(fake.port).fetch_revenue(start=NOV_20, end=NOV_20))
    assert error.value.kind == kind
    assert KEY not in str(error.value)


def test_an_unreachable_stripe_is_a_network_error() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago and has nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectorError, match="Could not reach Stripe") as error:
        connector(port).test_connection()
    assert error.value.kind == "network"


def test_a_webhook_charge_is_keyed_by_its_balance_transaction() -> None:
    refund = {"id": "re_1", "object": "refund", "amount": 300, "currency": "usd", "created": NOV_20_NOON,
              "balance_transaction": "txn_re", "charge": "ch_1", "status": "succeeded"}  # fmt: skip
    paid = charge("ch_1", 1999, customer="cus_Bob", balance_transaction="txn_ch")
    paid["refunds"] = {"object": "list", "data": [refund], "has_more": False}
    rows = {r["source_key"]: (r["kind"], r["customer"], r["amount_micros"]) for r in rows_from_charge(paid)}
    assert rows == {
        "stripe:txn_ch": ("charge", "cus_Bob", 19_990_000),
        "stripe:txn_re": ("refund", "cus_Bob", -3_000_000),
    }


def test_an_uncaptured_charge_moved_no_money() -> None:
    assert rows_from_charge(charge("ch_1", 1999, balance_transaction=None, captured=False, amount_captured=0)) == []


def test_a_failed_refund_nets_to_zero() -> None:
    refund = {"id": "re_1", "amount": 300, "currency": "usd", "created": NOV_20_NOON, "status": "failed",
              "balance_transaction": "txn_re", "failure_balance_transaction": "txn_re_failed"}  # fmt: skip
    rows = rows_from_refund(refund)
    assert [(r["source_key"], r["amount_micros"]) for r in rows] == [
        ("stripe:txn_re", -3_000_000),
        ("stripe:txn_re_failed", 3_000_000),
    ]


def test_a_webhook_charge_in_another_currency_is_refused() -> None:
    with pytest.raises(ConnectorError, match="in EUR"):
        rows_from_charge(charge("ch_1", 1000, currency="eur", balance_transaction="txn_1"))
