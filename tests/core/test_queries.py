"""Queries against a real database: SQLite always, PostgreSQL when reachable (mandatory in CI)."""

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from core import demo, queries, security
from core.db import migration_status, session_scope
from core.models import Alert, AuditLog, Charge, SpendDay, SpendMonth, SpendRollup, User
from tests.conftest import MIGRATION_HEAD, TODAY, load_demo

D1, D2 = dt.date(2026, 10, 1), dt.date(2026, 10, 2)


def charge(key: str, day: dt.date, micros: int, **extra: Any) -> dict[str, Any]:
    return {
        "source_key": key, "day": day, "provider": "OpenAI", "model": "gpt-4o", "amount_micros": micros,
        "original_amount": str(micros / 1_000_000), **extra,
    }  # fmt: skip


def test_migrations_are_current(engine: Engine) -> None:
    status = migration_status(engine)
    assert status.reachable and status.up_to_date and status.current == status.head == MIGRATION_HEAD


def test_upsert_is_idempotent_and_revises(engine: Engine, session: Session, workspace_id: int) -> None:
    rows = [charge("a", D1, 1_500_000, department="Sales"), charge("b", D2, 2_250_001), charge("c", D2, 3)]
    first = queries.upsert_charges(session, workspace_id=workspace_id, rows=rows)
    assert (first.written, first.duplicates, first.revised) == (3, 0, 0)
    assert (first.first_day, first.last_day) == (D1, D2)

    again = queries.upsert_charges(session, workspace_id=workspace_id, rows=rows)
    assert (again.written, again.duplicates, again.revised) == (0, 3, 0)

    revised = queries.upsert_charges(session, workspace_id=workspace_id, rows=[charge("b", D2, 2_000_000)])
    assert (revised.written, revised.duplicates, revised.revised) == (0, 0, 1)

    summary = queries.load_workspace_summary(session, workspace_id=workspace_id)
    assert summary.total_micros == 1_500_000 + 2_000_000 + 3
    assert summary.charges == 3
    assert summary.by_provider == {"OpenAI": 3_500_003}
    for table in (SpendRollup, SpendMonth, SpendDay):
        total = session.execute(
            select(func.sum(table.amount_micros)).where(table.workspace_id == workspace_id)
        ).scalar_one()
        assert total == summary.total_micros, table.__name__


def test_rollups_match_charges_per_day_and_dimension(session: Session, workspace_id: int) -> None:
    rows = [
        charge("1", D1, 100, department="Sales", project="p1"),
        charge("2", D1, 200, department="Sales", project="p1", line_item="output"),  # same rollup cell as "1"
        charge("3", D1, 400, department="Marketing", project="p2", provider="Anthropic", model="claude-haiku-4-5"),
        charge("4", D2, 800, department="Sales", project="p1"),
    ]
    queries.upsert_charges(session, workspace_id=workspace_id, rows=rows)
    daily = queries.load_daily_totals(session, workspace_id=workspace_id, start=D1, end=D2)
    assert dict(zip(daily["day"].dt.date, daily["amount_micros"], strict=True)) == {D1: 700, D2: 800}
    breakdown = queries.load_spend_breakdown(session, workspace_id=workspace_id, start=D1, end=D2)
    cells = {(r.provider, r.department): r.amount_micros for r in breakdown.itertuples()}
    assert cells == {("OpenAI", "Sales"): 1100, ("Anthropic", "Marketing"): 400}

    sales = queries.SpendFilter(departments=("Sales",))
    only_sales = queries.load_spend_breakdown(session, workspace_id=workspace_id, start=D1, end=D2, spend_filter=sales)
    assert int(only_sales["amount_micros"].sum()) == 1100
    sales_daily = queries.load_daily_totals(session, workspace_id=workspace_id, start=D1, end=D2, spend_filter=sales)
    assert sales_daily["amount_micros"].tolist() == [300, 800]
    only_d2 = queries.load_spend_breakdown(session, workspace_id=workspace_id, start=D2, end=D2)
    assert int(only_d2["amount_micros"].sum()) == 800

    options = queries.load_filter_options(session, workspace_id=workspace_id)
    assert options.providers == ("Anthropic", "OpenAI")
    assert options.departments == ("Marketing", "Sales")
    assert (options.first_day, options.last_day) == (D1, D2)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (dt.date(2025, 11, 1), TODAY),  # everything: whole months plus this month's days
        (dt.date(2025, 11, 22), TODAY),  # a year back from today: partial months at both ends
        (dt.date(2026, 2, 1), dt.date(2026, 2, 28)),  # exactly one whole month
        (dt.date(2026, 3, 15), dt.date(2026, 3, 15)),  # one day
        (dt.date(2026, 1, 31), dt.date(2026, 3, 1)),  # one whole month between two single days
        (dt.date(2026, 6, 10), dt.date(2026, 6, 20)),  # days inside one month
    ],
    ids=["all", "year-to-today", "whole-month", "one-day", "month-and-edges", "mid-month"],
)
def test_breakdowns_equal_the_charges_for_any_range(
    engine: Engine, workspace_id: int, start: dt.date, end: dt.date
) -> None:
    load_demo(engine, workspace_id)
    expected: dict[tuple[str, ...], int] = {}
    per_day: dict[dt.date, int] = {}
    for r in demo.build_demo_charges(TODAY):
        if start <= r["day"] <= end and r["department"] in ("Marketing", "Engineering"):
            key = (r["provider"], r["model"], r["department"], r["project"], r["customer"])
            expected[key] = expected.get(key, 0) + r["amount_micros"]
            per_day[r["day"]] = per_day.get(r["day"], 0) + r["amount_micros"]
    chosen = queries.SpendFilter(departments=("Engineering", "Marketing"))
    with session_scope(engine) as session:
        frame = queries.load_spend_breakdown(
            session, workspace_id=workspace_id, start=start, end=end, spend_filter=chosen
        )
        daily = queries.load_daily_totals(session, workspace_id=workspace_id, start=start, end=end, spend_filter=chosen)
    got = {(r.provider, r.model, r.department, r.project, r.customer): r.amount_micros for r in frame.itertuples()}
    assert got == expected
    assert dict(zip(daily["day"].dt.date, daily["amount_micros"], strict=True)) == per_day


def test_workspaces_are_isolated(session: Session) -> None:
    one = queries.create_workspace(session, name="One")
    two = queries.create_workspace(session, name="Two")
    assert one.id and two.id
    queries.upsert_charges(session, workspace_id=one.id, rows=[charge("same-key", D1, 10)])
    queries.upsert_charges(session, workspace_id=two.id, rows=[charge("same-key", D1, 99)])
    assert queries.load_workspace_summary(session, workspace_id=one.id).total_micros == 10
    assert queries.load_workspace_summary(session, workspace_id=two.id).total_micros == 99
    frame = queries.load_spend_breakdown(session, workspace_id=one.id, start=D1, end=D1)
    assert frame["amount_micros"].tolist() == [10]
    for ws in (one, two):
        session.add(Alert(workspace_id=ws.id, kind="anomaly", period="2026-10-01", dedupe_key="k", title="t", body="b"))
    session.flush()

    deleted = queries.delete_workspace_data(session, workspace_id=one.id, user_id=None)
    assert deleted == 1
    alerts_left = session.exec(select(Alert.workspace_id)).scalars().all()
    assert alerts_left == [two.id]
    assert queries.load_workspace_summary(session, workspace_id=one.id).charges == 0
    assert queries.load_workspace_summary(session, workspace_id=two.id).total_micros == 99
    assert not queries.has_charges(session, workspace_id=one.id)
    actions = [a.action for a in session.exec(select(AuditLog).where(AuditLog.workspace_id == one.id)).scalars()]
    assert actions == ["workspace.data_deleted"]


def test_a_failed_import_writes_nothing(engine: Engine, workspace_id: int) -> None:
    rows = [charge("x", D1, 1), charge("x", D2, 2)]
    with pytest.raises(security.InvalidInput, match="appears twice"), session_scope(engine) as session:
        queries.upsert_charges(session, workspace_id=workspace_id, rows=rows)
    with session_scope(engine) as session:
        assert session.exec(select(func.count()).select_from(Charge)).scalar_one() == 0


def test_slugs_are_unique(session: Session) -> None:
    assert queries.create_workspace(session, name="Acme, Inc.").slug == "acme-inc"
    assert queries.create_workspace(session, name="ACME inc").slug == "acme-inc-2"
    with pytest.raises(security.InvalidInput):
        queries.create_workspace(session, name="   ")


def test_users_members_and_roles(session: Session, workspace_id: int) -> None:
    ada = queries.create_user(
        session, username="Ada", email="ada@example.com", name="Ada", password="Sup3rSecret", rounds=4
    )
    bob = queries.create_user(
        session, username="bob", email="bob@example.com", name="Bob", password="Sup3rSecret", rounds=4
    )
    assert ada.username == "ada" and ada.password_hash != "Sup3rSecret"
    with pytest.raises(security.InvalidInput, match="taken"):
        queries.create_user(session, username="ADA", email="a@b.co", name="A", password="Sup3rSecret", rounds=4)
    assert ada.id and bob.id
    queries.add_member(session, workspace_id=workspace_id, user_id=ada.id, role="owner")
    queries.add_member(session, workspace_id=workspace_id, user_id=bob.id, role="viewer")
    assert [(m.username, m.role) for m in queries.load_members(session, workspace_id=workspace_id)] == [
        ("ada", "owner"),
        ("bob", "viewer"),
    ]
    with pytest.raises(security.InvalidInput, match="needs an owner"):
        queries.remove_member(session, workspace_id=workspace_id, user_id=ada.id)
    queries.add_member(session, workspace_id=workspace_id, user_id=bob.id, role="admin")  # role change, not a copy
    assert queries.load_role(session, workspace_id=workspace_id, user_id=bob.id) == "admin"
    queries.remove_member(session, workspace_id=workspace_id, user_id=bob.id)
    assert queries.load_role(session, workspace_id=workspace_id, user_id=bob.id) is None
    with pytest.raises(queries.NotFound):
        queries.remove_member(session, workspace_id=workspace_id, user_id=bob.id)
    with pytest.raises(security.InvalidInput, match="Role must be"):
        queries.add_member(session, workspace_id=workspace_id, user_id=bob.id, role="god")


def test_sign_in_attempts_lock_and_unlock(engine: Engine) -> None:
    now = dt.datetime(2026, 11, 21, 9, 30, tzinfo=dt.UTC)
    with session_scope(engine) as session:
        queries.create_user(
            session, username="eve", email="eve@example.com", name="Eve", password="Sup3rSecret", rounds=4
        )
    for _ in range(5):
        with session_scope(engine) as session:
            user = queries.load_user(session, username="eve")
            assert user is not None
            queries.save_sign_in_attempt(session, user=user, succeeded=False, now=now, attempts=5, lock_seconds=60)
    with session_scope(engine) as session:
        user = queries.load_user(session, username="eve")
        assert user is not None and user.locked_until == now + dt.timedelta(seconds=60)
        assert user.locked_until.tzinfo is not None  # aware, even from SQLite
        queries.save_sign_in_attempt(session, user=user, succeeded=True, now=now, attempts=5, lock_seconds=60)
    with session_scope(engine) as session:
        user = session.exec(select(User).where(User.username == "eve")).scalars().one()
        assert (user.failed_logins, user.locked_until) == (0, None)


def test_forecast_budget_and_anomaly_reads_sum_exactly_and_stay_in_their_workspace(
    session: Session, workspace_id: int
) -> None:
    nov1, nov2, dec1 = dt.date(2026, 11, 1), dt.date(2026, 11, 2), dt.date(2026, 12, 1)
    rows = [
        charge("1", nov1, 100, department="Sales", project="p1", customer="Globex", api_key="key_a"),
        charge("2", nov1, 250, department="Sales", project="p1", customer="Globex", api_key="key_b"),
        charge("3", nov2, 400, department="Ops", provider="Anthropic", model="claude-haiku-4-5", api_key="key_a"),
        charge("4", dec1, 800, department="Sales", project="p1"),
    ]
    queries.upsert_charges(session, workspace_id=workspace_id, rows=rows)
    other = queries.create_workspace(session, slug="other", name="Other")
    assert other.id is not None
    queries.upsert_charges(session, workspace_id=other.id, rows=[charge("x", nov1, 9_999, department="Sales")])

    daily = queries.load_scope_daily(session, workspace_id=workspace_id, start=nov1, end=dt.date(2026, 11, 30))
    assert daily[["provider", "department", "project", "customer", "amount_micros"]].values.tolist() == [
        ["OpenAI", "Sales", "p1", "Globex", 350],
        ["Anthropic", "Ops", "", "", 400],
    ]
    assert [d.date() for d in daily["day"]] == [nov1, nov2]

    monthly = queries.load_scope_monthly(session, workspace_id=workspace_id, start=nov1, end=dec1)
    by_month = monthly.groupby("month")["amount_micros"].sum().to_dict()
    assert by_month == {nov1: 750, dec1: 800}

    anomalies = queries.load_anomaly_frame(session, workspace_id=workspace_id, start=nov1, end=nov2)
    got = sorted(anomalies[["day", "model", "api_key", "amount_micros"]].itertuples(index=False, name=None))
    assert got == [(nov1, "gpt-4o", "key_a", 100), (nov1, "gpt-4o", "key_b", 250),
                   (nov2, "claude-haiku-4-5", "key_a", 400)]  # fmt: skip


def test_usage_profile_and_model_daily_sum_exactly_per_key(session: Session, workspace_id: int) -> None:
    rows = [
        charge("u1", D1, 0, project="bot", api_key="k1", requests=10, input_tokens=1_000, output_tokens=200,
               cached_tokens=300),
        charge("u2", D2, 0, project="bot", api_key="k1", requests=5, input_tokens=500, output_tokens=100),
        charge("c1", D1, 1_250_000, project="bot", api_key="k1"),
        charge("s1", D2, 20_000_000, provider="Anthropic", model="", line_item="Seats", api_key=""),
    ]  # fmt: skip
    queries.upsert_charges(session, workspace_id=workspace_id, rows=rows)
    other = queries.create_workspace(session, name="Else")
    assert other.id is not None
    queries.upsert_charges(session, workspace_id=other.id, rows=[charge("x", D1, 7, project="bot", api_key="k1")])

    profile = queries.load_usage_profile(session, workspace_id=workspace_id, start=D1, end=D2)
    got = {
        (r.provider, r.model, r.api_key, r.line_item): (r.requests, r.input_tokens, r.output_tokens, r.cached_tokens,
                                                        r.amount_micros, r.days_active)
        for r in profile.itertuples()
    }  # fmt: skip
    assert got == {
        ("OpenAI", "gpt-4o", "k1", ""): (15, 1_500, 300, 300, 1_250_000, 2),
        ("Anthropic", "", "", "Seats"): (0, 0, 0, 0, 20_000_000, 1),
    }
    daily = queries.load_model_daily(session, workspace_id=workspace_id, start=D1, end=D1)
    assert daily[["day", "model", "requests", "input_tokens", "amount_micros"]].values.tolist() == [
        [D1, "gpt-4o", 10, 1_000, 1_250_000]
    ]
