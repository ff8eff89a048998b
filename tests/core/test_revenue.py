import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import Session, select

from core import queries
from core.models import Revenue, Workspace
from core.revenue import UpsertCounts, load_revenue_daily, minor_to_decimal, upsert_revenue
from core.security import InvalidInput

DAY = dt.date(2026, 11, 20)


def revenue(key: str, micros: int, *, day: dt.date = DAY, kind: str = "charge", customer: str = "") -> dict[str, Any]:
    return {
        "source_key": key,
        "day": day,
        "kind": kind,
        "customer": customer,
        "description": f"row {key}",
        "amount_micros": micros,
        "original_amount": str(Decimal(micros) / 1_000_000),
        "currency": "USD",
    }


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (1234, "usd", "12.34"),
        (-50, "EUR", "-0.50"),
        (0, "usd", "0.00"),
        (1200, "jpy", "1200"),
        (5, "KRW", "5"),
        (1234, "kwd", "1.234"),
        (1, "BHD", "0.001"),
        (10**20 + 1, "usd", "1000000000000000000.01"),
    ],
    ids=["usd", "negative-eur", "zero", "jpy-zero-decimal", "krw", "kwd-three-decimal", "bhd", "huge-exact"],
)
def test_minor_to_decimal_uses_the_currencys_exponent(amount: int, currency: str, expected: str) -> None:
    result = minor_to_decimal(amount, currency)
    assert result == Decimal(expected)
    assert f"{result:f}" == expected


@pytest.mark.parametrize(("amount", "currency"), [(True, "usd"), (12.5, "usd"), ("12", "usd"), (1, "us"), (1, "1sd")])
def test_minor_to_decimal_refuses_what_is_not_a_minor_amount(amount: Any, currency: str) -> None:
    with pytest.raises(ValueError):
        minor_to_decimal(amount, currency)


def test_upsert_writes_then_recognises_duplicates(session: Session, workspace_id: int) -> None:
    rows = [revenue("stripe:txn_1", 12_340_000), revenue("stripe:txn_1:fee", -658_000, kind="fee")]
    assert upsert_revenue(session, workspace_id=workspace_id, rows=rows) == UpsertCounts(written=2)
    assert upsert_revenue(session, workspace_id=workspace_id, rows=iter(rows)) == UpsertCounts(duplicates=2)
    stored = session.exec(select(Revenue).where(Revenue.workspace_id == workspace_id)).all()
    assert sorted(r.amount_micros for r in stored) == [-658_000, 12_340_000]


def test_a_revised_amount_replaces_the_old_one(session: Session, workspace_id: int) -> None:
    upsert_revenue(session, workspace_id=workspace_id, rows=[revenue("stripe:txn_1", 10_000_000)])
    counts = upsert_revenue(
        session,
        workspace_id=workspace_id,
        rows=[revenue("stripe:txn_1", 9_500_000), revenue("stripe:txn_2", 1_000_000)],
    )
    assert counts == UpsertCounts(written=1, revised=1)
    frame = load_revenue_daily(session, workspace_id=workspace_id, start=DAY, end=DAY)
    assert frame["amount_micros"].tolist() == [10_500_000]


def test_the_connection_is_recorded_on_new_rows(session: Session, workspace_id: int) -> None:
    connection = queries.create_connection(
        session, workspace_id=workspace_id, provider="Stripe", method="api_key", name="Stripe"
    )
    upsert_revenue(session, workspace_id=workspace_id, rows=[revenue("stripe:txn_1", 1)], connection_id=connection.id)
    stored = session.exec(select(Revenue).where(Revenue.workspace_id == workspace_id)).one()
    assert stored.connection_id == connection.id
    assert stored.created_at.tzinfo is not None


def test_a_key_twice_in_one_call_is_refused(session: Session, workspace_id: int) -> None:
    with pytest.raises(InvalidInput, match="stripe:txn_1"):
        upsert_revenue(
            session, workspace_id=workspace_id, rows=[revenue("stripe:txn_1", 1), revenue("stripe:txn_1", 2)]
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [("kind", "payout"), ("day", "2026-11-20"), ("amount_micros", 1.5), ("source_key", ""), ("currency", "dollars")],
)
def test_a_malformed_row_is_refused(session: Session, workspace_id: int, field: str, value: Any) -> None:
    with pytest.raises(ValueError):
        upsert_revenue(session, workspace_id=workspace_id, rows=[{**revenue("stripe:txn_1", 1), field: value}])


def test_writes_mark_cached_views_stale_but_duplicates_do_not(session: Session, workspace_id: int) -> None:
    def version() -> int:
        return session.exec(select(Workspace.data_version).where(Workspace.id == workspace_id)).one()

    before = version()
    upsert_revenue(session, workspace_id=workspace_id, rows=[revenue("stripe:txn_1", 1)])
    after_write = version()
    upsert_revenue(session, workspace_id=workspace_id, rows=[revenue("stripe:txn_1", 1)])
    assert after_write == before + 1
    assert version() == after_write


def test_workspaces_do_not_see_or_collide_with_each_other(session: Session, workspace_id: int) -> None:
    other = queries.create_workspace(session, name="Other Co")
    assert other.id is not None
    upsert_revenue(session, workspace_id=workspace_id, rows=[revenue("stripe:txn_1", 5_000_000)])
    counts = upsert_revenue(session, workspace_id=other.id, rows=[revenue("stripe:txn_1", 7_000_000)])
    assert counts == UpsertCounts(written=1)
    mine = load_revenue_daily(session, workspace_id=workspace_id, start=DAY, end=DAY)
    theirs = load_revenue_daily(session, workspace_id=other.id, start=DAY, end=DAY)
    assert mine["amount_micros"].tolist() == [5_000_000]
    assert theirs["amount_micros"].tolist() == [7_000_000]


def test_daily_revenue_sums_by_day_kind_and_customer_within_the_range(session: Session, workspace_id: int) -> None:
    before, after = DAY - dt.timedelta(days=1), DAY + dt.timedelta(days=1)
    rows = [
        revenue("a", 10_000_000, customer="cus_A"),
        revenue("b", 2_500_001, customer="cus_A"),
        revenue("c", -1_000_000, kind="refund", customer="cus_A"),
        revenue("d", -362_500, kind="fee"),
        revenue("e", 3_000_000, day=after, customer="cus_B"),
        revenue("f", 99_000_000, day=before, customer="cus_A"),
        revenue("g", 42_000_000, day=after + dt.timedelta(days=1)),
    ]
    upsert_revenue(session, workspace_id=workspace_id, rows=rows)
    frame = load_revenue_daily(session, workspace_id=workspace_id, start=DAY, end=after)
    assert list(frame.columns) == ["day", "kind", "customer", "amount_micros"]
    assert frame.to_dict("records") == [
        {"day": dt.datetime(2026, 11, 20), "kind": "charge", "customer": "cus_A", "amount_micros": 12_500_001},
        {"day": dt.datetime(2026, 11, 20), "kind": "fee", "customer": "", "amount_micros": -362_500},
        {"day": dt.datetime(2026, 11, 20), "kind": "refund", "customer": "cus_A", "amount_micros": -1_000_000},
        {"day": dt.datetime(2026, 11, 21), "kind": "charge", "customer": "cus_B", "amount_micros": 3_000_000},
    ]
    assert frame["amount_micros"].dtype == "int64"


def test_daily_revenue_of_an_empty_range_is_an_empty_frame_with_the_columns(
    session: Session, workspace_id: int
) -> None:
    frame = load_revenue_daily(session, workspace_id=workspace_id, start=DAY, end=DAY)
    assert frame.empty
    assert list(frame.columns) == ["day", "kind", "customer", "amount_micros"]
