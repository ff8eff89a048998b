"""The sync runner against the fake OpenAI admin API: backfill, cursor, trailing re-read, revisions, failures."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from sqlalchemy import Engine, func, select

from connectors.sync import TRAILING_DAYS, sync_all, sync_connection, sync_window, windows
from core import queries
from core.crypto import SecretBox, decode_key, new_key_text
from core.db import session_scope
from core.models import Charge, Connection, ImportBatch
from tests.connectors.test_openai_costs import KEY, FakeOpenAI, cost_result

TODAY = dt.datetime.now(dt.UTC).date()  # the connector clamps to the real clock, so the test lives in it too


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(decode_key(new_key_text()))


def make_connection(engine: Engine, workspace_id: int, box: SecretBox, *, store: bool = True) -> int:
    with session_scope(engine) as session:
        connection = queries.create_connection(
            session, workspace_id=workspace_id, provider="OpenAI", method="api_key", name="OpenAI org"
        )
        if store:
            queries.save_connection_secret(session, connection=connection, secret=KEY, box=box)
        assert connection.id is not None
        return connection.id


def spend(engine: Engine, workspace_id: int) -> tuple[int, int]:
    with session_scope(engine) as session:
        count, total = session.execute(
            select(func.count(), func.coalesce(func.sum(Charge.amount_micros), 0)).where(
                Charge.workspace_id == workspace_id
            )
        ).one()
    return int(count), int(total)


def client_for(fake: FakeOpenAI) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(fake))


def test_windows_cover_the_range_exactly() -> None:
    parts = windows(dt.date(2026, 1, 1), dt.date(2026, 3, 31), size=30)
    assert parts[0] == (dt.date(2026, 1, 1), dt.date(2026, 1, 30)) and parts[-1][1] == dt.date(2026, 3, 31)
    assert sum((b - a).days + 1 for a, b in parts) == 90
    end = dt.date(2026, 3, 31)
    assert sync_window(None, today=end, backfill_days=90) == (dt.date(2026, 1, 1), end)
    assert sync_window("2026-03-20", today=dt.date(2026, 3, 31))[0] == dt.date(2026, 3, 20) - dt.timedelta(
        days=TRAILING_DAYS
    )


def test_backfill_then_resync_replaces_a_revised_day(engine: Engine, workspace_id: int, box: SecretBox) -> None:
    fake = FakeOpenAI()
    day_a, day_b = TODAY - dt.timedelta(days=40), TODAY - dt.timedelta(days=2)
    fake.costs[day_a] = [cost_result(12.5, "gpt-4o-2024-08-06, input", "proj_a")]
    fake.costs[day_b] = [cost_result(0.06, "gpt-4o-2024-08-06, output", "proj_a")]
    connection_id = make_connection(engine, workspace_id, box)
    seen: list[float] = []

    first = sync_connection(
        engine, workspace_id=workspace_id, connection_id=connection_id, client=client_for(fake), today=TODAY, box=box,
        progress=lambda fraction, text: seen.append(fraction),
    )  # fmt: skip
    assert first.ok, first.message
    assert (first.charges_written, first.total_micros, first.windows) == (2, 12_560_000, 3)
    assert first.message == f"Imported $12.56 of spend across {first.days} days from OpenAI."
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
    assert spend(engine, workspace_id) == (2, 12_560_000)
    with session_scope(engine) as session:
        connection = session.get(Connection, connection_id)
        assert connection is not None and connection.cursor == TODAY.isoformat() and connection.last_error is None

    # The provider revises a recent day; the next sync re-reads the trailing week only, and replaces it.
    fake.costs[day_b] = [cost_result(0.5, "gpt-4o-2024-08-06, output", "proj_a")]
    fake.requests.clear()
    second = sync_connection(
        engine, workspace_id=workspace_id, connection_id=connection_id, client=client_for(fake), today=TODAY, box=box
    )
    assert (second.charges_written, second.revised, second.windows) == (0, 1, 1)
    assert spend(engine, workspace_id) == (2, 13_000_000)
    starts = {int(r.url.params["start_time"]) for r in fake.calls("/v1/organization/costs")}
    week_ago = dt.datetime.combine(TODAY - dt.timedelta(days=TRAILING_DAYS), dt.time(), dt.UTC)
    assert starts == {int(week_ago.timestamp())}


def test_a_failing_provider_is_recorded_and_writes_nothing(engine: Engine, workspace_id: int, box: SecretBox) -> None:
    def unauthorised(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": {"message": f"Incorrect API key provided: {KEY}"}})

    connection_id = make_connection(engine, workspace_id, box)
    result = sync_connection(
        engine, workspace_id=workspace_id, connection_id=connection_id,
        client=httpx.Client(transport=httpx.MockTransport(unauthorised)), today=TODAY, box=box,
    )  # fmt: skip
    assert not result.ok and "rejected the key" in result.message and KEY not in result.message
    assert spend(engine, workspace_id) == (0, 0)
    with session_scope(engine) as session:
        connection = session.get(Connection, connection_id)
        assert connection is not None and connection.status == "error" and connection.cursor is None
        assert connection.last_error == result.message
        assert session.execute(select(func.count()).select_from(ImportBatch)).scalar_one() == 0


def test_use_once_keys_are_not_stored_and_sync_all_skips_them(
    engine: Engine, workspace_id: int, box: SecretBox
) -> None:
    fake = FakeOpenAI()
    fake.costs[TODAY - dt.timedelta(days=1)] = [cost_result(1.25)]
    connection_id = make_connection(engine, workspace_id, box, store=False)
    result = sync_connection(
        engine, workspace_id=workspace_id, connection_id=connection_id, client=client_for(fake), today=TODAY,
        secret=KEY, backfill_days=7,
    )  # fmt: skip
    assert result.ok and result.total_micros == 1_250_000
    assert sync_all(engine, client=client_for(fake), box=box, today=TODAY) == []
    stored = make_connection(engine, workspace_id, box)
    results = sync_all(engine, client=client_for(fake), box=box, today=TODAY, workspace_id=workspace_id)
    assert [(r.connection_id, r.ok) for r in results] == [(stored, True)]


def test_a_stored_key_sealed_with_another_secret_key_asks_for_the_key_again(
    engine: Engine, workspace_id: int, box: SecretBox
) -> None:
    connection_id = make_connection(engine, workspace_id, box)
    other = SecretBox(decode_key(new_key_text()))
    with pytest.raises(Exception, match="enter the credential again"):
        sync_connection(
            engine, workspace_id=workspace_id, connection_id=connection_id, client=client_for(FakeOpenAI()),
            today=TODAY, box=other,
        )  # fmt: skip


def test_only_one_replica_holds_the_sync_lease(engine: Engine) -> None:
    now = dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC)
    hour = dt.timedelta(hours=1)
    with session_scope(engine) as session:
        assert queries.acquire_lease(session, name="sync", holder="a", ttl=hour, now=now)
    with session_scope(engine) as session:
        assert not queries.acquire_lease(session, name="sync", holder="b", ttl=hour, now=now + dt.timedelta(minutes=5))
        assert queries.acquire_lease(session, name="sync", holder="a", ttl=hour, now=now + dt.timedelta(minutes=5))
    with session_scope(engine) as session:  # expired: anyone may take it
        assert queries.acquire_lease(session, name="sync", holder="b", ttl=hour, now=now + 2 * hour)


def test_stripe_connections_sync_revenue(engine: Engine, workspace_id: int, box: SecretBox) -> None:
    from core.models import Revenue
    from tests.connectors.test_stripe_revenue import serve_fake_stripe, txn

    with session_scope(engine) as session:
        connection = queries.create_connection(
            session, workspace_id=workspace_id, provider="Stripe", method="api_key", name="Stripe"
        )
        queries.save_connection_secret(session, connection=connection, secret="rk_test_123", box=box)
        assert connection.id is not None
        connection_id = connection.id
    noon = int(dt.datetime.combine(TODAY - dt.timedelta(days=3), dt.time(12), dt.UTC).timestamp())
    with serve_fake_stripe() as fake:
        fake.transactions = [
            txn("txn_1", 12_500, created=noon, fee=393),
            txn("txn_2", -2_000, created=noon, reporting_category="refund", type="refund"),
        ]
        result = sync_connection(
            engine, workspace_id=workspace_id, connection_id=connection_id, client=httpx.Client(), today=TODAY,
            box=box, base_url=f"http://127.0.0.1:{fake.port}", backfill_days=7,
        )  # fmt: skip
    assert result.ok, result.message
    assert result.message == "Imported $101.07 of revenue across 1 day from Stripe."
    with session_scope(engine) as session:
        rows = session.execute(select(Revenue.kind, Revenue.amount_micros).order_by(Revenue.source_key)).all()
    assert [tuple(r) for r in rows] == [("charge", 125_000_000), ("fee", -3_930_000), ("refund", -20_000_000)]
