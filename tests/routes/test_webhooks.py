"""POST /api/webhooks/{id} (signed charge events) and /api/webhooks/stripe (revenue) through the real app."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlmodel import select
from starlette.testclient import TestClient

from connectors.webhooks import WebhookRejected, sign, signature_headers, verify_signature
from core import queries
from core.crypto import SecretBox, decode_key
from core.db import session_scope
from core.models import Charge, Revenue, WebhookEvent
from core.revenue import load_revenue_daily
from core.settings import current_settings
from tests.conftest import app_engine

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "samples"
SECRET = "mwh_test_0123456789abcdef0123456789abcdef"
STRIPE_SECRET = "whsec_test_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
TODAY = dt.datetime.now(dt.UTC).date()
NOV_20 = dt.date(2026, 11, 20)


@dataclass(frozen=True)
class Setup:
    engine: Engine
    workspace_id: int
    connection_id: int


def add_connection(engine: Engine, *, provider: str, method: str, secret: str | None, workspace: str = "Acme") -> Setup:
    box = SecretBox(decode_key(current_settings().secret_key))
    with session_scope(engine) as session:
        workspace_id = queries.create_workspace(session, name=workspace).id
        assert workspace_id is not None
        connection = queries.create_connection(
            session, workspace_id=workspace_id, provider=provider, method=method, name=f"{provider} {method}"
        )
        if secret is not None:
            queries.save_connection_secret(session, connection=connection, secret=secret, box=box)
        assert connection.id is not None
        return Setup(engine, workspace_id, connection.id)


@pytest.fixture
def hook(client: TestClient) -> Setup:
    """A workspace with a generic charge webhook whose signing secret is SECRET."""
    return add_connection(app_engine(), provider="Custom", method="webhook", secret=SECRET)


def post_charges(
    client: TestClient,
    connection_id: int,
    event: Any = None,
    *,
    body: bytes | None = None,
    secret: str = SECRET,
    timestamp: int | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    if body is None:
        body = json.dumps(event).encode()
    signed = signature_headers(secret, int(time.time()) if timestamp is None else timestamp, body)
    return client.post(f"/api/webhooks/{connection_id}", content=body, headers=signed if headers is None else headers)


def stored_charges(setup: Setup) -> dict[str, tuple[int, str]]:
    with session_scope(setup.engine) as session:
        return {
            c.source_key: (c.amount_micros, c.original_amount)
            for c in session.exec(select(Charge).where(Charge.workspace_id == setup.workspace_id))
        }


def event_count(setup: Setup) -> int:
    with session_scope(setup.engine) as session:
        return session.exec(select(func.count()).select_from(WebhookEvent)).one()


EVENT = {
    "id": "evt_123",
    "charges": [
        {"day": "2026-11-20", "provider": "OpenAI", "model": "gpt-4o", "amount_usd": "12.34"},
        {"day": "2026-11-20", "provider": "OpenAI", "model": "gpt-4o-mini", "amount_usd": 0.07, "project": "search"},
    ],
}


# Generic charge webhook ---------------------------------------------------------------------------


def test_the_signature_is_the_documented_hmac() -> None:
    # The README's openssl one-liner gives this same value for this secret, timestamp and body.
    body = (
        b'{"id":"evt_123","charges":[{"day":"2026-11-20","provider":"OpenAI","model":"gpt-4o","amount_usd":"12.34"}]}'
    )
    assert sign("mwh_abc", 1763596800, body) == "1c943231342609a245a00c3f7d6e7f7405ede05013044a8847ae6e7eb2f7425e"


def test_any_of_several_v1_signatures_may_match_while_a_secret_is_rotated() -> None:
    body, now = b"{}", 1763596800
    header = f"v1={sign('mwh_old', now, body)}, v1={sign('mwh_new', now, body)}"
    verify_signature("mwh_new", timestamp_header=str(now), signature_header=header, body=body, now=now + 299)
    with pytest.raises(WebhookRejected) as rejected:
        verify_signature("mwh_other", timestamp_header=str(now), signature_header=header, body=body, now=now)
    assert rejected.value.status == 401


def test_a_signed_event_stores_its_charges(client: TestClient, hook: Setup) -> None:
    response = post_charges(client, hook.connection_id, EVENT)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "charges": 2}
    prefix = f"webhook:{hook.connection_id}:evt_123"
    assert stored_charges(hook) == {f"{prefix}:0": (12_340_000, "12.34"), f"{prefix}:1": (70_000, "0.07")}
    with session_scope(hook.engine) as session:
        summary = queries.load_workspace_summary(session, workspace_id=hook.workspace_id)
        assert summary.total_micros == 12_410_000 and summary.by_provider == {"OpenAI": 12_410_000}
        frame = queries.load_spend_breakdown(session, workspace_id=hook.workspace_id, start=NOV_20, end=NOV_20)
        assert dict(zip(frame["project"], frame["amount_micros"], strict=True)) == {"": 12_340_000, "search": 70_000}


def test_a_tampered_body_is_refused(client: TestClient, hook: Setup) -> None:
    body = json.dumps(EVENT).encode()
    headers = signature_headers(SECRET, int(time.time()), body)
    response = client.post(
        f"/api/webhooks/{hook.connection_id}", content=body.replace(b"12.34", b"99.34"), headers=headers
    )
    assert response.status_code == 401
    assert "signature does not match" in response.json()["error"]
    assert stored_charges(hook) == {} and event_count(hook) == 0


def test_the_wrong_secret_is_refused(client: TestClient, hook: Setup) -> None:
    response = post_charges(client, hook.connection_id, EVENT, secret="mwh_someone_elses_secret")
    assert response.status_code == 401
    assert SECRET not in response.text
    assert stored_charges(hook) == {}


@pytest.mark.parametrize("skew", [-301, 301, -3600], ids=["stale", "from-the-future", "an-hour-old"])
def test_a_timestamp_more_than_five_minutes_away_is_refused(client: TestClient, hook: Setup, skew: int) -> None:
    response = post_charges(client, hook.connection_id, EVENT, timestamp=int(time.time()) + skew)
    assert response.status_code == 401
    assert "5 minutes" in response.json()["error"]
    assert stored_charges(hook) == {}


@pytest.mark.parametrize(
    ("headers", "words"),
    [
        ({}, "X-Meterr-Timestamp header is missing"),
        ({"X-Meterr-Timestamp": "now"}, "X-Meterr-Signature header is missing"),
        ({"X-Meterr-Timestamp": "yesterday", "X-Meterr-Signature": "v1=00"}, "whole Unix seconds"),
    ],
    ids=["no-headers", "no-signature", "timestamp-not-a-number"],
)
def test_missing_or_malformed_headers_are_refused(
    client: TestClient, hook: Setup, headers: dict[str, str], words: str
) -> None:
    response = post_charges(client, hook.connection_id, EVENT, headers=headers)
    assert response.status_code == 401
    assert words in response.json()["error"]


def test_a_replayed_event_is_acknowledged_and_writes_nothing(client: TestClient, hook: Setup) -> None:
    assert post_charges(client, hook.connection_id, EVENT).json()["status"] == "ok"
    # Same id, freshly signed and with a changed amount: still the same event, so nothing changes.
    changed = copy.deepcopy(EVENT)
    changed["charges"][0]["amount_usd"] = "50.00"
    again = post_charges(client, hook.connection_id, changed)
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate"}
    assert sum(micros for micros, _ in stored_charges(hook).values()) == 12_410_000
    assert event_count(hook) == 1


def test_the_same_event_id_from_another_sender_is_not_a_replay(client: TestClient, hook: Setup) -> None:
    other = add_connection(hook.engine, provider="Custom", method="webhook", secret=SECRET, workspace="Acme Two")
    assert post_charges(client, hook.connection_id, EVENT).json()["status"] == "ok"
    assert post_charges(client, other.connection_id, EVENT).json() == {"status": "ok", "charges": 2}
    assert len(stored_charges(other)) == 2


@pytest.mark.parametrize(
    ("provider", "method", "connection_id"),
    [
        ("Custom", "webhook", 99_999),
        ("OpenAI", "api_key", None),
        ("Stripe", "webhook", None),
        ("Custom", "webhook", 2**70),
    ],
    ids=["no-such-id", "not-a-webhook", "stripe-has-its-own-url", "absurd-id"],
)
def test_an_unknown_webhook_is_not_found(
    client: TestClient, provider: str, method: str, connection_id: int | None
) -> None:
    setup = add_connection(app_engine(), provider=provider, method=method, secret=SECRET)
    response = post_charges(client, connection_id or setup.connection_id, EVENT)
    assert response.status_code == 404
    assert response.json() == {"error": "unknown webhook"}


def test_a_webhook_without_a_secret_says_so(client: TestClient) -> None:
    setup = add_connection(app_engine(), provider="Custom", method="webhook", secret=None)
    response = post_charges(client, setup.connection_id, EVENT)
    assert response.status_code == 503
    assert "no usable signing secret" in response.json()["error"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"id": "evt_1", "charges": [', "body: not valid JSON (Expecting value at line 1 column 29)."),
        (b"[1, 2]", 'body: expected a JSON object like {"id": "evt_123", "charges": [...]}.'),
        (b'{"charges": []}', "id: give each event a unique id"),
        (b'{"id": "evt_1", "charges": []}', "charges: expected a non-empty list of charges"),
        (b'{"id": "evt_1", "charges": [{"provider": "OpenAI", "amount_usd": NaN}]}', "body: not valid JSON (NaN"),
    ],
    ids=["truncated", "not-an-object", "no-id", "no-charges", "nan"],
)
def test_malformed_json_is_refused_with_the_reason(client: TestClient, hook: Setup, body: bytes, message: str) -> None:
    response = post_charges(client, hook.connection_id, body=body)
    assert response.status_code == 422
    assert response.json()["error"].startswith(message)
    assert stored_charges(hook) == {}


def charge(**fields: Any) -> dict[str, Any]:
    return {"day": "2026-11-20", "provider": "OpenAI", "model": "gpt-4o", "amount_usd": "1.00", **fields}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (charge(day="2026-13-01"), "charges[2].day: '2026-13-01' is not a date (use YYYY-MM-DD)."),
        (charge(day="20/11/2026"), "charges[2].day: '20/11/2026' is not a date (use YYYY-MM-DD)."),
        (charge(day=20261120), "charges[2].day: 20261120 is not a date (use YYYY-MM-DD)."),
        (charge(day="2999-01-01"), "charges[2].day: 2999-01-01 is in the future"),
        (charge(amount_usd="12,34"), "charges[2].amount_usd: '12,34' is not an amount of US dollars"),
        (charge(amount_usd=True), "charges[2].amount_usd: 'True' is not an amount of US dollars"),
        (charge(amount_usd="1e12"), "charges[2].amount_usd: '1e12' is not a believable amount"),
        (charge(provider=""), "charges[2].provider: required"),
        (charge(project="x" * 81), "charges[2].project: must be text of at most 80 characters."),
        (charge(amount="1.00"), "charges[2].amount: not a field meterr knows"),
        (charge(input_tokens=-5), "charges[2].input_tokens: must be a whole number of at least 0."),
        (charge(input_tokens=10, cached_tokens=11), "charges[2].cached_tokens: 11 is more than input_tokens"),
        (charge(tags={"team": 5}), "charges[2].tags: must be an object of at most 20 text tags"),
        ({"day": "2026-11-20", "provider": "OpenAI", "model": "gpt-4o"}, "charges[2]: give amount_usd, or model"),
        ("a charge", "charges[2]: expected an object"),
    ],
    ids=[
        "month-13", "wrong-date-format", "date-as-number", "future", "comma-decimal", "boolean-amount",
        "absurd-amount", "no-provider", "long-project", "unknown-field", "negative-tokens", "cached-over-input",
        "non-text-tag", "nothing-to-price", "not-an-object",
    ],
)  # fmt: skip
def test_a_bad_field_is_named_and_nothing_is_written(client: TestClient, hook: Setup, bad: Any, message: str) -> None:
    event = {"id": "evt_bad", "charges": [charge(), charge(), bad]}
    response = post_charges(client, hook.connection_id, event)
    assert response.status_code == 422
    assert response.json()["error"].startswith(message)
    assert stored_charges(hook) == {} and event_count(hook) == 0
    # The id was not used up: the corrected event goes through.
    event["charges"][2] = charge()
    assert post_charges(client, hook.connection_id, event).json() == {"status": "ok", "charges": 3}


@pytest.mark.parametrize(
    ("tokens", "expected_micros", "reason"),
    [
        # claude-sonnet-4-5 list price per million tokens: $3 input, $15 output, $0.30 cache reads ($6 input > 200k).
        ({"input_tokens": 1000, "output_tokens": 200, "requests": 3}, 6_000, "1000 × $3/M + 200 × $15/M = $0.006"),
        ({"input_tokens": 1000, "cached_tokens": 400}, 1_920, "600 × $3/M + 400 × $0.30/M = $0.00192"),
        ({"input_tokens": 400_000, "requests": 2}, 1_200_000, "two 200k requests stay under the long-context tier"),
        ({"input_tokens": 400_000, "requests": 1}, 2_400_000, "one 400k request is long context: $6/M"),
    ],
    ids=["input-and-output", "cache-reads", "two-requests", "one-long-request"],
)
def test_a_token_only_charge_is_priced_at_the_published_rate(
    client: TestClient, hook: Setup, tokens: dict[str, int], expected_micros: int, reason: str
) -> None:
    event = {
        "id": "evt_tokens",
        "charges": [
            {"day": "2026-11-20", "provider": "Anthropic", "model": "claude-sonnet-4-5", **tokens, "customer": "cus_9"}
        ],
    }
    assert post_charges(client, hook.connection_id, event).json() == {"status": "ok", "charges": 1}
    [(micros, original)] = stored_charges(hook).values()
    assert micros == expected_micros, reason
    assert Decimal(original) == Decimal(expected_micros) / 1_000_000


def test_an_unpriceable_model_is_refused_not_stored_as_zero(client: TestClient, hook: Setup) -> None:
    event = {"id": "evt_x", "charges": [{"provider": "Anthropic", "model": "claude-imaginary-9", "input_tokens": 10}]}
    response = post_charges(client, hook.connection_id, event)
    assert response.status_code == 422
    assert response.json()["error"].startswith(
        "charges[0].model: meterr has no published price for 'claude-imaginary-9' from Anthropic"
    )
    assert stored_charges(hook) == {}


def test_a_charge_without_a_day_is_for_the_day_received(client: TestClient, hook: Setup) -> None:
    event = {"id": "evt_now", "charges": [{"provider": "OpenAI", "amount_usd": "2.50"}]}
    assert post_charges(client, hook.connection_id, event).status_code == 200
    with session_scope(hook.engine) as session:
        assert session.exec(select(Charge.day)).one() == TODAY


def test_a_body_over_one_megabyte_is_refused(client: TestClient, hook: Setup) -> None:
    event = {"id": "evt_big", "charges": [charge(feature="f" * 80) for _ in range(8_000)]}
    body = json.dumps(event).encode()
    assert len(body) > 1_048_576
    response = post_charges(client, hook.connection_id, body=body)
    assert response.status_code == 413
    assert "larger than 1 MB" in response.json()["error"]


def test_a_failure_while_storing_is_plain_and_logs_neither_body_nor_secret(
    client: TestClient, hook: Setup, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database fell over holding gpt-4o 12.34")

    monkeypatch.setattr(queries, "upsert_charges", broken)
    with caplog.at_level(logging.DEBUG):
        response = post_charges(client, hook.connection_id, EVENT)
    assert response.status_code == 500
    assert response.json() == {
        "error": "meterr could not store this delivery, so nothing was applied; send it again later."
    }
    assert f"charge webhook {hook.connection_id} failed: RuntimeError" in caplog.text
    assert "12.34" not in caplog.text and SECRET not in caplog.text and "Traceback" not in caplog.text
    assert event_count(hook) == 0  # the event was not used up: a retry applies it


# Stripe -------------------------------------------------------------------------------------------


@pytest.fixture
def stripe_hook(client: TestClient) -> Setup:
    return add_connection(app_engine(), provider="Stripe", method="webhook", secret=STRIPE_SECRET)


def stripe_signature(payload: str, secret: str, timestamp: int | None = None) -> str:
    """What Stripe sends: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<payload>" keyed by the whsec_ secret>."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def stripe_event(obj: dict[str, Any], *, event_id: str = "evt_1Stripe", kind: str = "charge.succeeded") -> str:
    return json.dumps({"id": event_id, "object": "event", "type": kind, "data": {"object": obj}})


def paid_charge(**fields: Any) -> dict[str, Any]:
    base = json.loads((SAMPLES / "stripe_charge.json").read_text())
    created = int(dt.datetime(2026, 11, 20, 15, tzinfo=dt.UTC).timestamp())
    base.update(id="ch_1", amount=4999, amount_captured=4999, captured=True, created=created, customer="cus_Ann")
    base.update(balance_transaction="txn_ch_1", **fields)
    return base


def post_stripe(client: TestClient, payload: str, signature: str | None) -> Any:
    headers = {"Stripe-Signature": signature} if signature is not None else {}
    return client.post("/api/webhooks/stripe", content=payload.encode(), headers=headers)


def revenue(setup: Setup) -> list[dict[str, Any]]:
    with session_scope(setup.engine) as session:
        return [
            {"key": r.source_key, "kind": r.kind, "micros": r.amount_micros, "customer": r.customer}
            for r in session.exec(
                select(Revenue).where(Revenue.workspace_id == setup.workspace_id).order_by(Revenue.source_key)
            )
        ]


def test_a_stripe_charge_becomes_revenue_keyed_by_its_balance_transaction(
    client: TestClient, stripe_hook: Setup
) -> None:
    payload = stripe_event(paid_charge())
    response = post_stripe(client, payload, stripe_signature(payload, STRIPE_SECRET))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "revenue": 1}
    assert revenue(stripe_hook) == [
        {"key": "stripe:txn_ch_1", "kind": "charge", "micros": 49_990_000, "customer": "cus_Ann"}
    ]
    with session_scope(stripe_hook.engine) as session:
        frame = load_revenue_daily(session, workspace_id=stripe_hook.workspace_id, start=NOV_20, end=NOV_20)
        assert frame["amount_micros"].tolist() == [49_990_000]


def test_a_replayed_stripe_event_writes_nothing(client: TestClient, stripe_hook: Setup) -> None:
    payload = stripe_event(paid_charge())
    assert post_stripe(client, payload, stripe_signature(payload, STRIPE_SECRET)).json()["status"] == "ok"
    refunded = stripe_event(paid_charge(amount_captured=1))  # same event id, different content
    again = post_stripe(client, refunded, stripe_signature(refunded, STRIPE_SECRET))
    assert again.json() == {"status": "duplicate"}
    assert [r["micros"] for r in revenue(stripe_hook)] == [49_990_000]


@pytest.mark.parametrize(
    ("signature", "words"),
    [
        (lambda p: stripe_signature(p, "whsec_not_the_right_one"), "does not match any Stripe webhook signing secret"),
        (lambda p: stripe_signature(p + " ", STRIPE_SECRET), "does not match any Stripe webhook signing secret"),
        (lambda p: stripe_signature(p, STRIPE_SECRET, int(time.time()) - 301), "more than 5 minutes from our clock"),
        (lambda p: "garbage", "does not match any Stripe webhook signing secret"),
        (lambda p: None, "Stripe-Signature header is missing"),
    ],
    ids=["wrong-secret", "tampered", "stale", "garbage", "missing"],
)
def test_a_bad_stripe_signature_is_refused(client: TestClient, stripe_hook: Setup, signature: Any, words: str) -> None:
    payload = stripe_event(paid_charge())
    response = post_stripe(client, payload, signature(payload))
    assert response.status_code == 401
    assert words in response.json()["error"]
    assert revenue(stripe_hook) == [] and event_count(stripe_hook) == 0


def test_the_secret_that_signed_decides_the_workspace(client: TestClient, stripe_hook: Setup) -> None:
    other_secret = "whsec_test_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
    other = add_connection(stripe_hook.engine, provider="Stripe", method="webhook", secret=other_secret, workspace="B")
    payload = stripe_event(paid_charge())
    assert post_stripe(client, payload, stripe_signature(payload, other_secret)).json()["status"] == "ok"
    assert revenue(stripe_hook) == []
    assert [r["key"] for r in revenue(other)] == ["stripe:txn_ch_1"]


def test_a_stripe_balance_transaction_brings_its_fee(client: TestClient, stripe_hook: Setup) -> None:
    txn = json.loads((SAMPLES / "stripe_balance_transaction.json").read_text())
    txn.update(id="txn_9", amount=10_000, fee=320, net=9_680)
    payload = stripe_event(txn, kind="balance_transaction.created")
    assert post_stripe(client, payload, stripe_signature(payload, STRIPE_SECRET)).json() == {
        "status": "ok",
        "revenue": 2,
    }
    assert [(r["key"], r["micros"]) for r in revenue(stripe_hook)] == [
        ("stripe:txn_9", 100_000_000),
        ("stripe:txn_9:fee", -3_200_000),
    ]


def test_a_stripe_refund_is_negative_revenue(client: TestClient, stripe_hook: Setup) -> None:
    refund = {"id": "re_1", "object": "refund", "amount": 1500, "currency": "usd", "status": "succeeded",
              "created": 1763650800, "balance_transaction": "txn_re_1", "charge": "ch_1"}  # fmt: skip
    payload = stripe_event(refund, kind="refund.created")
    assert post_stripe(client, payload, stripe_signature(payload, STRIPE_SECRET)).json()["revenue"] == 1
    assert revenue(stripe_hook) == [{"key": "stripe:txn_re_1", "kind": "refund", "micros": -15_000_000, "customer": ""}]


def test_a_stripe_charge_in_another_currency_is_explained_not_guessed(client: TestClient, stripe_hook: Setup) -> None:
    payload = stripe_event(paid_charge(currency="eur"))
    response = post_stripe(client, payload, stripe_signature(payload, STRIPE_SECRET))
    assert response.status_code == 200
    assert response.json()["revenue"] == 0
    assert "is in EUR" in response.json()["skipped"][0]
    assert revenue(stripe_hook) == []


def test_a_stripe_event_without_revenue_is_acknowledged(client: TestClient, stripe_hook: Setup) -> None:
    payload = stripe_event({"id": "cus_1", "object": "customer"}, kind="customer.created")
    response = post_stripe(client, payload, stripe_signature(payload, STRIPE_SECRET))
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    assert revenue(stripe_hook) == []
