import datetime as dt
from collections import Counter, defaultdict
from decimal import Decimal

from genai_prices import Usage, calc_price
from sqlalchemy import Engine

from core import demo, queries
from core.db import session_scope
from core.money import to_micros
from tests.conftest import TODAY, load_demo


def test_demo_is_deterministic_and_covers_the_story() -> None:
    rows = demo.build_demo_charges(TODAY)
    assert rows == demo.build_demo_charges(TODAY)
    assert {r["provider"] for r in rows} == {"OpenAI", "Anthropic", "Google", "AWS Bedrock"}
    assert len({r["model"] for r in rows}) >= 10
    assert {r["department"] for r in rows} == set(demo.DEPARTMENTS)
    assert len({r["project"] for r in rows}) == 8
    assert {r["customer"] for r in rows} - {""} == set(demo.CUSTOMERS)
    days = sorted({r["day"] for r in rows})
    assert days[0] == dt.date(2025, 11, 1) and days[-1] == TODAY
    assert len(days) == (TODAY - dt.date(2025, 11, 1)).days + 1
    assert len({r["source_key"] for r in rows}) == len(rows)


def test_each_charge_is_priced_at_the_list_price_of_its_day_less_any_negotiated_discount() -> None:
    rows = demo.build_demo_charges(TODAY)
    discount = {"AWS Bedrock": Decimal("0.9")}  # the demo's enterprise agreement, as the price check should find
    providers = {"OpenAI": "openai", "Anthropic": "anthropic", "Google": "google", "AWS Bedrock": "aws"}
    for row in rows[:: max(1, len(rows) // 200)]:  # ~200 rows across the year, every provider
        requests = row["requests"]
        per_request = calc_price(
            Usage(
                input_tokens=row["input_tokens"] // requests,
                output_tokens=row["output_tokens"] // requests,
                cache_read_tokens=(row["cached_tokens"] // requests) or None,
            ),
            model_ref=row["model"],
            provider_id=providers[row["provider"]],
            genai_request_timestamp=dt.datetime.combine(row["day"], dt.time(12), dt.UTC),
        ).total_price
        billed = Decimal(per_request) * requests * discount.get(row["provider"], Decimal(1))
        assert row["amount_micros"] == to_micros(billed), row["source_key"]
        assert Decimal(row["original_amount"]) == billed


def test_spike_migration_and_weekday_rhythm() -> None:
    rows = demo.build_demo_charges(TODAY)
    calendar = demo.DemoCalendar(TODAY)
    opus = defaultdict(int)
    for r in rows:
        if r["model"] == "claude-opus-4-1":
            opus[r["day"]] += r["amount_micros"]
    assert max(opus, key=opus.__getitem__) == calendar.spike_day
    mini_days = {r["day"] for r in rows if r["model"] == "gpt-4o-mini"}
    assert min(mini_days) == calendar.migration_day
    by_weekday: Counter[int] = Counter()
    for r in rows:
        by_weekday[r["day"].weekday()] += r["amount_micros"]
    assert min(by_weekday[d] for d in range(5)) > max(by_weekday[5], by_weekday[6])
    first_month = sum(r["amount_micros"] for r in rows if r["day"].month == 12 and r["day"].year == 2025)
    late_month = sum(r["amount_micros"] for r in rows if r["day"].month == 10 and r["day"].year == 2026)
    assert late_month > first_month  # growth


def test_loading_the_demo_twice_changes_nothing(engine: Engine, workspace_id: int) -> None:
    rows = demo.build_demo_charges(TODAY)
    expected_total = sum(r["amount_micros"] for r in rows)
    first = load_demo(engine, workspace_id)
    assert (first.charges_written, first.total_micros) == (len(rows), expected_total)
    second = load_demo(engine, workspace_id)
    assert second.charges_written == 0
    with session_scope(engine) as session:
        summary = queries.load_workspace_summary(session, workspace_id=workspace_id)
    assert summary.total_micros == expected_total and summary.charges == len(rows)
    by_provider: Counter[str] = Counter()
    for r in rows:
        by_provider[r["provider"]] += r["amount_micros"]
    assert summary.by_provider == dict(by_provider)


def test_create_demo_workspace_by_slug(engine: Engine) -> None:
    with session_scope(engine) as session:
        result = demo.create_demo_workspace(session, today=TODAY)
        assert result.slug == "acme-ai"
        assert queries.load_workspace(session, slug="acme-ai").name == "Acme AI"


def test_demo_business_tells_the_profit_story(engine, workspace_id: int) -> None:  # type: ignore[no-untyped-def]
    from core import outcomes, revenue
    from core.db import session_scope

    for _ in range(2):  # loading twice changes nothing
        with session_scope(engine) as session:
            demo.load_demo(session, workspace_id=workspace_id, today=TODAY)
    start, end = dt.date(2026, 10, 1), dt.date(2026, 10, 31)
    with session_scope(engine) as session:
        totals = outcomes.load_outcome_totals(session, workspace_id=workspace_id, start=start, end=end)
        money_in = revenue.load_revenue_daily(session, workspace_id=workspace_id, start=start, end=end)
    value = totals.groupby("department")["value_micros"].sum().to_dict()
    charges = [r for r in demo.build_demo_charges(TODAY) if start <= r["day"] <= end]
    cost: dict[str, int] = {}
    for row in charges:
        cost[row["department"]] = cost.get(row["department"], 0) + row["amount_micros"]
    assert value["Customer Support"] > 10 * cost["Customer Support"]  # clearly profitable
    assert 0 < value["Data Science"] < cost["Data Science"]  # clearly not
    assert len(totals) == len(demo.DEMO_OUTCOMES)
    by_customer = money_in.groupby("customer")["amount_micros"].sum().to_dict()
    # Subscription less Stripe's 2.9% + 30c: $900 − ($26.10 + $0.30) = $873.60.
    assert by_customer["Northwind"] == 873_600_000
    northwind_cost = sum(r["amount_micros"] for r in charges if r["customer"] == "Northwind")
    assert northwind_cost > by_customer["Northwind"]  # the negative margin
