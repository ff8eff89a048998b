"""The 'Acme AI' demo workspace: a deterministic year of AI spend that tells a story.

Four providers, thirteen models at their real list prices (genai-prices, as of each day), five departments,
eight projects, ten customers; weekday seasonality, steady growth, one runaway-job spike and one migration
to a cheaper model, and a negotiated 10% discount on Bedrock. Later features add their own demo parts (outcomes,
revenue, budgets, an adopted recommendation) beside `charges`.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from core import queries
from core.money import to_micros
from core.pricing import price_per_request

DEMO_SLUG = "acme-ai"
DEMO_NAME = "Acme AI"
SEED = 20261121

DEPARTMENTS = ("Customer Support", "Marketing", "Engineering", "Sales", "Data Science")
CUSTOMERS = (
    "Northwind", "Globex", "Initech", "Hooli", "Vandelay", "Soylent", "Tyrell", "Wonka", "Cyberdyne", "Stark",
)  # fmt: skip
# Customer-facing work is spread over customers by these shares (a long tail, like real accounts).
CUSTOMER_WEIGHTS = (24, 18, 14, 11, 9, 7, 6, 5, 4, 2)


@dataclass(frozen=True)
class Workload:
    """One project's steady use of one model: requests per weekday at the start, tokens per request."""

    project: str
    department: str
    provider: str
    service: str
    model: str
    requests_per_day: int
    input_tokens: int
    output_tokens: int
    cached_share: Decimal = Decimal(0)
    customer_facing: bool = False
    feature: str = ""


WORKLOADS = (
    Workload("support-bot", "Customer Support", "OpenAI", "Chat completions", "gpt-4o", 5200, 1800, 320,
             Decimal("0.3"), True, "chat"),
    Workload("ticket-triage", "Customer Support", "Anthropic", "Messages", "claude-haiku-4-5", 3800, 1200, 90,
             Decimal("0.5"), True, "triage"),
    Workload("content-studio", "Marketing", "Anthropic", "Messages", "claude-sonnet-4-5", 700, 3500, 1400,
             Decimal("0.2"), False, "drafting"),
    Workload("content-studio", "Marketing", "OpenAI", "Chat completions", "gpt-4.1", 420, 2600, 900,
             Decimal(0), False, "rewrites"),
    Workload("seo-briefs", "Marketing", "Google", "Gemini API", "gemini-2.5-flash", 2600, 2200, 600),
    Workload("code-assistant", "Engineering", "Anthropic", "Messages", "claude-opus-4-1", 260, 6000, 1200,
             Decimal("0.4"), False, "code review"),
    Workload("code-assistant", "Engineering", "Anthropic", "Messages", "claude-sonnet-4-5", 1500, 5200, 700,
             Decimal("0.4"), False, "completion"),
    Workload("doc-search", "Engineering", "OpenAI", "Embeddings", "text-embedding-3-small", 42000, 900, 0,
             Decimal(0), True, "search"),
    Workload("doc-search", "Engineering", "OpenAI", "Chat completions", "gpt-4.1-mini", 6100, 2400, 260,
             Decimal("0.25"), True, "answers"),
    Workload("lead-scoring", "Sales", "AWS Bedrock", "Bedrock", "amazon.nova-pro-v1:0", 3100, 1600, 150,
             Decimal(0), False, "scoring"),
    Workload("lead-scoring", "Sales", "AWS Bedrock", "Bedrock", "meta.llama3-1-70b-instruct-v1:0", 1900, 1400, 220,
             Decimal(0), False, "enrichment"),
    Workload("forecast-lab", "Data Science", "Google", "Gemini API", "gemini-2.5-pro", 380, 8000, 1500),
    Workload("forecast-lab", "Data Science", "OpenAI", "Chat completions", "o3-mini", 520, 3000, 2400),
)  # fmt: skip

MIGRATION_FROM, MIGRATION_TO = "gpt-4o", "gpt-4o-mini"
MIGRATION_SHARE = Decimal("0.9")  # of support-bot traffic moved once the migration is done
MONTHLY_GROWTH = 0.045
WEEKDAY_FACTOR = (1.0, 1.04, 1.06, 1.02, 0.93, 0.42, 0.33)  # Monday first
SPIKE_MULTIPLIER = 7
# Acme's AWS enterprise agreement bills Bedrock at 10% below list: the Optimize page's price check finds it
# and offers to record it as a negotiated rate.
NEGOTIATED = {"AWS Bedrock": Decimal("0.9")}
VOLUME_SCALE = 6  # a mid-sized company: tens of thousands of dollars a month


@dataclass(frozen=True)
class DemoCalendar:
    """The dates the story hangs on, all relative to `today` so the demo always looks current."""

    today: dt.date

    @property
    def start(self) -> dt.date:
        year, month = (self.today.year - 1, self.today.month)
        return dt.date(year, month, 1)

    @property
    def migration_day(self) -> dt.date:
        return self.today - dt.timedelta(days=120)

    @property
    def spike_day(self) -> dt.date:
        # A Wednesday about five weeks ago: a runaway code-review job on the most expensive model.
        day = self.today - dt.timedelta(days=38)
        return day - dt.timedelta(days=(day.weekday() - 2) % 7)

    def days(self) -> list[dt.date]:
        count = (self.today - self.start).days + 1
        return [self.start + dt.timedelta(days=i) for i in range(count)]


def _split(total: int, weights: tuple[int, ...]) -> list[int]:
    """Split an integer total by weights so the parts add up exactly."""
    whole = sum(weights)
    parts = [total * w // whole for w in weights]
    parts[0] += total - sum(parts)
    return parts


def build_demo_charges(today: dt.date) -> list[dict[str, Any]]:
    """Every demo charge up to and including `today`, as rows for `queries.upsert_charges`."""
    calendar = DemoCalendar(today)
    rng = random.Random(SEED)
    rows: list[dict[str, Any]] = []
    for day in calendar.days():
        months = (day - calendar.start).days / 30.4
        growth = (1 + MONTHLY_GROWTH) ** months
        for workload in WORKLOADS:
            weekday = WEEKDAY_FACTOR[day.weekday()]
            if workload.customer_facing:
                weekday = 1 - (1 - weekday) * 0.5  # customers use products at weekends too
            noise = rng.lognormvariate(0, 0.09)
            requests = int(workload.requests_per_day * VOLUME_SCALE * growth * weekday * noise)
            if day == calendar.spike_day and workload.model == "claude-opus-4-1":
                requests *= SPIKE_MULTIPLIER
            for model, share in _models_for(workload, day, calendar):
                model_requests = int(requests * share)
                if model_requests:
                    rows.extend(_charge_rows(workload, model, day, model_requests))
    return rows


def _models_for(workload: Workload, day: dt.date, calendar: DemoCalendar) -> list[tuple[str, Decimal]]:
    if workload.model != MIGRATION_FROM or day < calendar.migration_day:
        return [(workload.model, Decimal(1))]
    return [(MIGRATION_TO, MIGRATION_SHARE), (MIGRATION_FROM, 1 - MIGRATION_SHARE)]


def _charge_rows(workload: Workload, model: str, day: dt.date, requests: int) -> list[dict[str, Any]]:
    cached = int(workload.input_tokens * workload.cached_share)
    unit = price_per_request(workload.provider, model, workload.input_tokens, workload.output_tokens, cached, day)
    if unit is None:  # the demo only uses catalogued models; an unknown one is a bug worth failing loudly on
        raise LookupError(f"genai-prices has no price for {workload.provider} {model}")
    splits = (
        list(zip(CUSTOMERS, _split(requests, CUSTOMER_WEIGHTS), strict=True))
        if workload.customer_facing
        else [("", requests)]
    )
    rows = []
    for customer, count in splits:
        if count == 0:
            continue
        amount = unit * count * NEGOTIATED.get(workload.provider, Decimal(1))
        rows.append(
            {
                "source_key": f"demo:{day.isoformat()}:{workload.project}:{model}:{customer or '-'}",
                "day": day,
                "provider": workload.provider,
                "service": workload.service,
                "model": model,
                "line_item": f"{model} usage",
                "amount_micros": to_micros(amount),
                "original_amount": f"{amount:f}",
                "currency": "USD",
                "input_tokens": workload.input_tokens * count,
                "output_tokens": workload.output_tokens * count,
                "cached_tokens": cached * count,
                "requests": count,
                "api_key": f"key-{workload.project}",
                "department": workload.department,
                "project": workload.project,
                "customer": customer,
                "feature": workload.feature,
                "tags": {"environment": "production"},
            }
        )
    return rows


@dataclass(frozen=True)
class DemoOutcome:
    """A business outcome the demo's AI work produces: so many per request of the projects that drive it."""

    name: str
    unit: str
    value_usd: Decimal
    department: str
    project: str
    per_request: Decimal


# Support pays for itself many times over; Data Science's forecasts are worth less than their AI bill.
DEMO_OUTCOMES = (
    DemoOutcome("Support ticket resolved", "ticket", Decimal(8), "Customer Support", "ticket-triage", Decimal("0.01")),
    DemoOutcome("Qualified lead", "lead", Decimal(120), "Marketing", "content-studio", Decimal("0.0008")),
    DemoOutcome("Code review completed", "review", Decimal(45), "Engineering", "code-assistant", Decimal("0.0022")),
    DemoOutcome("Customer onboarded", "customer", Decimal(400), "Sales", "lead-scoring", Decimal("0.00002")),
    DemoOutcome("Forecast delivered", "forecast", Decimal(250), "Data Science", "forecast-lab", Decimal("0.00005")),
)  # fmt: skip
# Monthly subscription revenue per customer: Northwind pays less than the AI it uses costs (a negative margin).
DEMO_REVENUE_USD = {
    "Northwind": 900, "Globex": 6000, "Initech": 4500, "Hooli": 3800, "Vandelay": 3000, "Soylent": 2500,
    "Tyrell": 2000, "Wonka": 1800, "Cyberdyne": 1500, "Stark": 900,
}  # fmt: skip


def build_demo_outcome_counts(
    today: dt.date, charges: list[dict[str, Any]] | None = None
) -> list[tuple[str, dt.date, str, int]]:
    """(outcome name, day, department, count) for every demo day: outcomes follow the work that produces them."""
    requests: dict[tuple[dt.date, str], int] = {}
    for row in charges if charges is not None else build_demo_charges(today):
        key = (row["day"], row["project"])
        requests[key] = requests.get(key, 0) + int(row["requests"])
    out = []
    carried = {outcome.name: Decimal(0) for outcome in DEMO_OUTCOMES}  # fractions roll into the next day
    for (day, project), count in sorted(requests.items()):
        for outcome in DEMO_OUTCOMES:
            if outcome.project == project:
                carried[outcome.name] += count * outcome.per_request
                made = int(carried[outcome.name])
                carried[outcome.name] -= made
                if made:
                    out.append((outcome.name, day, outcome.department, made))
    return out


def build_demo_revenue(today: dt.date) -> list[dict[str, Any]]:
    """Stripe-like revenue rows: each customer's subscription on the 1st of every month, less Stripe's fee."""
    calendar = DemoCalendar(today)
    rows: list[dict[str, Any]] = []
    month = calendar.start
    while month <= today:
        for customer, usd in DEMO_REVENUE_USD.items():
            key = f"demo:{month:%Y-%m}:{customer}"
            amount = Decimal(usd)
            fee = (amount * Decimal("0.029") + Decimal("0.30")).quantize(Decimal("0.01"))
            common = {"day": month, "customer": customer, "currency": "USD"}
            rows.append({**common, "source_key": key, "kind": "charge", "description": f"{customer} subscription",
                         "amount_micros": to_micros(amount), "original_amount": f"{amount:f}"})  # fmt: skip
            rows.append({**common, "source_key": f"{key}:fee", "kind": "fee", "description": "Stripe fee",
                         "amount_micros": -to_micros(fee), "original_amount": f"{-fee:f}"})  # fmt: skip
        month = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return rows


# The budgets' story, by department: (scope, value, fraction of the path from month-to-date to the projection).
# The workspace has headroom, Marketing's pace runs past its budget before month end, Data Science is over.
DEMO_BUDGETS = (("workspace", "", "on_track"), ("department", "Marketing", "overrun"),
                ("department", "Data Science", "over"))  # fmt: skip
BUDGET_ROUNDING = 100 * 1_000_000  # whole hundreds of dollars, as people set budgets


def build_demo_budgets(today: dt.date, charges: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    """(scope, value, monthly amount) for the demo budgets, sized from the demo's own spend this month.

    Month-to-date runs through yesterday (today's spend is still arriving); the pace is the mean of the last
    28 whole days. On track: 30% above the pace's month end. Overrun: 60% of the way from month-to-date to the
    pace's month end, so it is crossed part way through the remaining days. Over: 15% below month-to-date.
    """
    through = today - dt.timedelta(days=1)
    month_start = today.replace(day=1)
    month_end = (month_start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    remaining = (month_end - through).days
    budgets = []
    for scope, value, story in DEMO_BUDGETS:
        mine = [c for c in charges if scope == "workspace" or c.get(scope) == value]
        realised = sum(c["amount_micros"] for c in mine if month_start <= c["day"] <= through)
        recent = sum(c["amount_micros"] for c in mine if through - dt.timedelta(days=27) <= c["day"] <= through)
        projected = realised + recent * remaining // 28
        if story == "on_track":
            amount = -(-projected * 13 // 10 // BUDGET_ROUNDING) * BUDGET_ROUNDING
        elif story == "overrun":
            amount = (realised + (projected - realised) * 6 // 10) // BUDGET_ROUNDING * BUDGET_ROUNDING
            amount = max(amount, realised + 1)
        else:
            amount = max(realised * 85 // 100 // BUDGET_ROUNDING * BUDGET_ROUNDING, BUDGET_ROUNDING)
        budgets.append((scope, value, amount))
    return budgets


@dataclass(frozen=True)
class DemoResult:
    workspace_id: int
    slug: str
    charges_written: int
    total_micros: int


def load_demo(session: Session, *, workspace_id: int, today: dt.date) -> DemoResult:
    """Fill an existing workspace with the demo year; re-running it changes nothing."""
    workspace = queries.load_workspace_by_id(session, workspace_id=workspace_id)
    rows = build_demo_charges(today)
    batch = queries.create_import(session, workspace_id=workspace_id, source="demo", filename=None)
    result = queries.upsert_charges(session, workspace_id=workspace_id, rows=rows, import_id=batch.id)
    total = sum(r["amount_micros"] for r in rows)
    queries.finish_import(session, batch=batch, result=result, rows_read=len(rows), total_micros=total)
    _load_demo_business(session, workspace_id=workspace_id, today=today, charges=rows)
    queries.save_audit(session, workspace_id=workspace_id, user_id=None, action="demo.loaded", charges=len(rows))
    return DemoResult(workspace_id, workspace.slug, result.written + result.revised, total)


def _load_demo_business(session: Session, *, workspace_id: int, today: dt.date, charges: list[dict[str, Any]]) -> None:
    """The demo's outcome definitions and daily counts, and its customers' subscription revenue."""
    from core import outcomes, revenue

    existing = outcomes.load_outcome_names(session, workspace_id=workspace_id)
    ids: dict[str, int] = {}
    for outcome in DEMO_OUTCOMES:
        saved = outcomes.save_outcome_definition(
            session, workspace_id=workspace_id, name=outcome.name, unit=outcome.unit, value_usd=outcome.value_usd,
            department=outcome.department, project=outcome.project, outcome_id=existing.get(outcome.name),
        )  # fmt: skip
        assert saved.id is not None
        ids[outcome.name] = saved.id
    counts = [
        (ids[name], day, department, count)
        for name, day, department, count in build_demo_outcome_counts(today, charges)
    ]
    outcomes.upsert_outcome_counts(session, workspace_id=workspace_id, rows=counts)
    revenue.upsert_revenue(session, workspace_id=workspace_id, rows=build_demo_revenue(today))
    _load_demo_budgets(session, workspace_id=workspace_id, today=today, charges=charges)
    _load_demo_adoption(session, workspace_id=workspace_id, today=today, charges=charges)


DEMO_ADOPTED_KEY = f"cheaper_model:OpenAI:{MIGRATION_FROM}:support-bot->{MIGRATION_TO}"


def _load_demo_adoption(session: Session, *, workspace_id: int, today: dt.date, charges: list[dict[str, Any]]) -> None:
    """The support-bot migration, recorded as an adopted recommendation on the day it happened, so the savings
    tracker has a realised saving to show. Its estimate is what the advice would have said that day: the 30 days
    before on gpt-4o, times the share moved, times the list-price gap for the workload's average request."""
    from core import decisions

    if DEMO_ADOPTED_KEY in decisions.load_decisions(session, workspace_id=workspace_id):
        return
    day = DemoCalendar(today).migration_day
    bot = next(w for w in WORKLOADS if w.project == "support-bot")
    month_before = day - dt.timedelta(days=30)
    before = sum(
        c["amount_micros"] for c in charges
        if c["project"] == "support-bot" and c["model"] == MIGRATION_FROM and month_before <= c["day"] < day
    )  # fmt: skip
    price = {
        model: price_per_request(bot.provider, model, bot.input_tokens, bot.output_tokens, 0, day) or Decimal(0)
        for model in (MIGRATION_FROM, MIGRATION_TO)
    }
    gap = 1 - price[MIGRATION_TO] / price[MIGRATION_FROM] if price[MIGRATION_FROM] else Decimal(0)
    decisions.save_decision(
        session, workspace_id=workspace_id, rec_key=DEMO_ADOPTED_KEY, kind="cheaper_model", status="adopted",
        title=f"Move support-bot from {MIGRATION_FROM} to {MIGRATION_TO}",
        estimated_monthly_micros=int(before * MIGRATION_SHARE * gap),
        detail={"kind": "cheaper_model", "provider": bot.provider, "model": MIGRATION_FROM, "project": "support-bot",
                "target_model": MIGRATION_TO, "target_provider": "", "adopted_on": day.isoformat()},
        decided_at=dt.datetime.combine(day, dt.time(9), dt.UTC),
    )  # fmt: skip


def _load_demo_budgets(session: Session, *, workspace_id: int, today: dt.date, charges: list[dict[str, Any]]) -> None:
    """Save the demo budgets, resizing them when the demo is loaded again on a later day."""
    from core import budgets

    existing = {(b.scope, b.scope_value): b.id for b in budgets.load_budgets(session, workspace_id=workspace_id)}
    for scope, value, amount in build_demo_budgets(today, charges):
        budgets.save_budget(
            session, workspace_id=workspace_id, scope=scope, scope_value=value, amount_micros=amount,
            budget_id=existing.get((scope, value)),
        )  # fmt: skip


def create_demo_workspace(session: Session, *, today: dt.date, slug: str = DEMO_SLUG) -> DemoResult:
    """The demo workspace by slug, created if missing, then filled (idempotently)."""
    try:
        workspace = queries.load_workspace(session, slug=slug)
    except queries.NotFound:
        workspace = queries.create_workspace(session, name=DEMO_NAME if slug == DEMO_SLUG else slug, slug=slug)
    assert workspace.id is not None
    return load_demo(session, workspace_id=workspace.id, today=today)
