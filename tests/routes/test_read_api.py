"""The read API through the real app: spend, budgets, forecast and summary for the token's workspace only,
exact money checked against plain SQL over the charges, and every answer checked against the OpenAPI document."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from openapi_schema_validator import OAS31Validator, oas31_format_checker
from openapi_spec_validator import validate as validate_spec
from schemathesis import GenerationMode
from schemathesis import checks as st_checks
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

import server
from connectors import api_spec
from core import budgets, queries
from core.api_tokens import create_api_token, load_api_tokens, revoke_api_token
from core.db import session_scope
from tests.conftest import app_engine

TODAY = dt.date(2026, 11, 21)
YESTERDAY = TODAY - dt.timedelta(days=1)
UNAUTHORISED = (
    "A valid API token is required: send the header 'Authorization: Bearer mtr_...' with a token created in "
    "meterr under Settings, API tokens."
)
FORBIDDEN = (
    "This token may not read spend, budgets or forecasts; create a token with the spend:read scope in meterr under "
    "Settings, API tokens."
)
READS = ("/api/v1/spend", "/api/v1/budgets", "/api/v1/forecast", "/api/v1/summary")
SPEC = api_spec.build_openapi()

# (provider, model, department, project, customer): Acme's four kinds of work, the last one unallocated.
ACME_WORK = (
    ("OpenAI", "gpt-4o", "Support", "helpdesk", "Northwind"),
    ("OpenAI", "gpt-4o-mini", "Marketing", "campaigns", ""),
    ("Anthropic", "claude-sonnet-4-5", "Support", "helpdesk", "Globex"),
    ("Anthropic", "claude-haiku-4-5", "", "", ""),
)
GLOBEX_WORK = (("Google", "gemini-2.5-pro", "Research", "lab", "Initech"),)


@dataclass(frozen=True)
class Workspace:
    engine: Engine
    id: int
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def charges(first: dt.date, work: tuple[tuple[str, ...], ...], *, scale: int) -> list[dict[str, Any]]:
    """A charge per kind of work per day from `first` to today, with amounts no rounding could hide."""
    rows = []
    for i in range((TODAY - first).days + 1):
        day = first + dt.timedelta(days=i)
        for j, (provider, model, department, project, customer) in enumerate(work):
            micros = scale * (1_000_000 * (5 + (i * 7 + j * 3) % 11) + 123_457 * (j + 1) + i)
            rows.append({
                "source_key": f"{day}-{j}", "day": day, "provider": provider, "model": model,
                "department": department, "project": project, "customer": customer, "amount_micros": micros,
                "original_amount": str(Decimal(micros) / 1_000_000),
            })  # fmt: skip
    return rows


def add_workspace(engine: Engine, name: str, rows: list[dict[str, Any]], *, scopes: str = "spend:read") -> Workspace:
    with session_scope(engine) as session:
        workspace_id = queries.create_workspace(session, name=name).id
        assert workspace_id is not None
        queries.upsert_charges(session, workspace_id=workspace_id, rows=rows)
        _, token = create_api_token(session, workspace_id=workspace_id, name=f"{name} reader", scopes=scopes)
    return Workspace(engine, workspace_id, token)


@pytest.fixture
def today(monkeypatch: pytest.MonkeyPatch) -> dt.date:
    monkeypatch.setattr(server, "_utc_today", lambda: TODAY)
    return TODAY


@pytest.fixture
def acme(client: TestClient, today: dt.date) -> Workspace:
    rows = charges(dt.date(2026, 9, 1), ACME_WORK, scale=1)
    rows.append({"source_key": "credit", "day": dt.date(2026, 10, 15), "provider": "Anthropic",
                 "model": "claude-haiku-4-5", "amount_micros": -2_500_001, "original_amount": "-2.500001"})  # fmt: skip
    return add_workspace(app_engine(), "Acme", rows)


@pytest.fixture
def globex(acme: Workspace) -> Workspace:
    return add_workspace(acme.engine, "Globex", charges(dt.date(2026, 10, 1), GLOBEX_WORK, scale=3))


# Checking answers against the document ----------------------------------------------------------------------


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        found: Any = SPEC
        for part in node["$ref"].removeprefix("#/").split("/"):
            found = found[part]
        node = found
    return node


def conforms(response: Any) -> Any:
    """The body, after checking it (and the status) against the document; 404/405 off the paths are errors."""
    request = response.request
    operation = SPEC["paths"].get(request.url.path, {}).get(request.method.lower())
    if operation is None:
        assert response.status_code in (404, 405)
        schema: dict[str, Any] = {"$ref": "#/components/schemas/Error"}
    else:
        documented = _resolve(operation["responses"][str(response.status_code)])  # KeyError: undocumented status
        schema = documented["content"]["application/json"]["schema"]
        for header in documented.get("headers", {}):
            assert header in response.headers
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    OAS31Validator({**schema, "components": SPEC["components"]}, format_checker=oas31_format_checker).validate(body)
    if not request.url.path.endswith("openapi.json"):  # the document names the fields, it holds no money
        money_pairs_agree(body)
    return body


def usd(micros: int) -> str:
    return str((Decimal(micros) / Decimal(1_000_000)).quantize(Decimal("0.000001")))


def money_pairs_agree(node: Any) -> None:
    """Every `x_usd` says exactly what its `x_micros` says."""
    if isinstance(node, list):
        for item in node:
            money_pairs_agree(item)
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key.endswith("_usd"):
            micros = node[key.removesuffix("_usd") + "_micros"]
            assert value == ([usd(m) for m in micros] if isinstance(micros, list) else usd(micros)), key
        money_pairs_agree(value)


def get(client: TestClient, path: str, workspace: Workspace | None = None, **params: str) -> Any:
    response = client.get(path, params=params, headers=workspace.auth if workspace else {})
    conforms(response)
    return response


# Independent sums: plain SQL over the charges themselves, not the rollups the API reads --------------------------


def sql_spend(ws: Workspace, start: dt.date, end: dt.date, *, month: bool = False, by: str | None = None) -> list[Any]:
    period = "substr(day, 1, 7)" if month else "day"
    group = f", {by}" if by else ""
    sql = (
        f"SELECT {period} AS period{group}, SUM(amount_micros) FROM charge "  # noqa: S608 - test constants only
        f"WHERE workspace_id = :ws AND day >= :start AND day <= :end GROUP BY period{group}"
    )
    with ws.engine.connect() as connection:
        found = connection.execute(text(sql), {"ws": ws.id, "start": start.isoformat(), "end": end.isoformat()})
        return [tuple(row) for row in found]


def sql_total(ws: Workspace, start: dt.date, end: dt.date, *, by: str | None = None, value: str = "") -> int:
    where = f" AND {by} = :value" if by else ""
    with ws.engine.connect() as connection:
        total = connection.execute(
            text(f"SELECT COALESCE(SUM(amount_micros), 0) FROM charge WHERE workspace_id = :ws AND day >= :start "  # noqa: S608
                 f"AND day <= :end{where}"),
            {"ws": ws.id, "start": start.isoformat(), "end": end.isoformat(), "value": value},
        ).scalar_one()  # fmt: skip
    return int(total)


# Spend --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("granularity", ["day", "month"])
@pytest.mark.parametrize("group_by", [None, "provider", "model", "department", "project", "customer"])
def test_spend_matches_the_charges_to_the_micro_dollar(
    client: TestClient, acme: Workspace, granularity: str, group_by: str | None
) -> None:
    start, end = dt.date(2026, 9, 17), dt.date(2026, 11, 3)  # months cut at both ends
    params = {"from": start.isoformat(), "to": end.isoformat(), "granularity": granularity}
    if group_by:
        params["group_by"] = group_by
    body = get(client, "/api/v1/spend", acme, **params).json()

    expected = sql_spend(acme, start, end, month=granularity == "month", by=group_by)
    rows = [(r["period"], *([r[group_by]] if group_by else []), r["amount_micros"]) for r in body["rows"]]
    assert sorted(rows) == sorted(expected)
    assert rows == sorted(rows, key=lambda r: (r[0], -r[-1], *r[1:-1]))  # by period, then largest first
    assert (body["from"], body["to"], body["granularity"], body["group_by"]) == (
        "2026-09-17", "2026-11-03", granularity, group_by,
    )  # fmt: skip
    assert body["total_micros"] == sql_total(acme, start, end) == sum(r[-1] for r in expected)
    assert body["total_usd"] == usd(body["total_micros"])
    if granularity == "month" and group_by is None:
        assert [r[0] for r in rows] == ["2026-09", "2026-10", "2026-11"]


def test_spend_defaults_to_the_last_thirty_days_per_day(client: TestClient, acme: Workspace) -> None:
    body = get(client, "/api/v1/spend", acme).json()
    start = TODAY - dt.timedelta(days=30)
    assert (body["from"], body["to"], body["granularity"], body["group_by"]) == (str(start), str(TODAY), "day", None)
    assert [r["period"] for r in body["rows"]] == [str(start + dt.timedelta(days=i)) for i in range(31)]
    assert body["total_micros"] == sql_total(acme, start, TODAY)


def test_a_credit_is_subtracted_exactly(client: TestClient, acme: Workspace) -> None:
    body = get(client, "/api/v1/spend", acme, **{"from": "2026-10-15", "to": "2026-10-15", "group_by": "model"}).json()
    haiku = next(r for r in body["rows"] if r["model"] == "claude-haiku-4-5")
    listed = next(c for c in charges(dt.date(2026, 9, 1), ACME_WORK, scale=1)
                  if c["day"] == dt.date(2026, 10, 15) and c["model"] == "claude-haiku-4-5")  # fmt: skip
    assert haiku["amount_micros"] == listed["amount_micros"] - 2_500_001
    assert Decimal(haiku["amount_usd"]) == Decimal(listed["original_amount"]) - Decimal("2.500001")


def test_a_range_without_spend_is_empty_not_an_error(client: TestClient, acme: Workspace) -> None:
    body = get(client, "/api/v1/spend", acme, **{"from": "2025-01-01", "to": "2025-03-01", "granularity": "month"})
    assert body.json()["rows"] == [] and body.json()["total_usd"] == "0.000000"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "2026-02-30"}, "from: '2026-02-30' is not a date (use YYYY-MM-DD)."),
        ({"to": "21/11/2026"}, "to: '21/11/2026' is not a date (use YYYY-MM-DD)."),
        ({"to": "20261121"}, "to: '20261121' is not a date (use YYYY-MM-DD)."),
        ({"from": ""}, "from: '' is not a date (use YYYY-MM-DD)."),
        ({"from": "1999-12-31", "to": "2000-01-02"},
         "from: 1999-12-31 is outside the days meterr answers for (2000-01-01 to 2999-12-31)."),
        ({"from": "2026-11-02", "to": "2026-11-01"},
         "from (2026-11-02) is after to (2026-11-01); give a from on or before to."),
        ({"from": "2025-10-15", "to": "2026-11-19"},
         "from 2025-10-15 to 2026-11-19 is 401 days; granularity=day answers at most 400 days at once"),
        ({"from": "2016-11-01", "to": "2026-11-01", "granularity": "month"},
         "from 2016-11-01 to 2026-11-01 spans 121 months; granularity=month answers at most 120."),
        ({"group_by": "team"},
         "group_by: 'team' is not allowed; choose one of provider, model, department, project, customer."),
        ({"group_by": ""},
         "group_by: '' is not allowed; choose one of provider, model, department, project, customer."),
        ({"granularity": "week"}, "granularity: 'week' is not allowed; choose one of day, month."),
        ({"groupby": "model"},
         "'groupby' is not a parameter of /api/v1/spend (known: from, to, group_by, granularity)."),
    ],
    ids=["feb-30", "eu-date", "compact-date", "empty-date", "before-2000", "from-after-to", "401-days",
         "121-months", "unknown-group", "empty-group", "unknown-granularity", "misspelt-parameter"],
)  # fmt: skip
def test_a_bad_spend_query_names_the_parameter(
    client: TestClient, acme: Workspace, params: dict[str, str], message: str
) -> None:
    response = get(client, "/api/v1/spend", acme, **params)
    assert response.status_code == 422
    assert response.json()["error"].startswith(message)


def test_the_limits_themselves_are_allowed(client: TestClient, acme: Workspace) -> None:
    days = get(client, "/api/v1/spend", acme, **{"from": "2025-10-16", "to": "2026-11-19"})
    months = get(client, "/api/v1/spend", acme, **{"from": "2016-12-01", "to": "2026-11-30", "granularity": "month"})
    assert days.status_code == months.status_code == 200
    assert months.json()["total_micros"] == sql_total(acme, dt.date(2016, 12, 1), dt.date(2026, 11, 30))


def test_a_parameter_given_twice_is_refused(client: TestClient, acme: Workspace) -> None:
    response = client.get("/api/v1/spend?group_by=model&group_by=provider", headers=acme.auth)
    assert response.status_code == 422
    assert conforms(response) == {"error": "group_by: given more than once; give it once."}


# Budgets, forecast, summary ------------------------------------------------------------------------------------


def test_budgets_report_spend_so_far_state_and_exceed_dates(client: TestClient, acme: Workspace) -> None:
    month_start = TODAY.replace(day=1)
    spent = sql_total(acme, month_start, YESTERDAY)
    support = sql_total(acme, month_start, YESTERDAY, by="department", value="Support")
    amount = spent // 2 + 1  # the workspace went over half-way through the month
    with session_scope(acme.engine) as session:
        budgets.save_budget(session, workspace_id=acme.id, scope="workspace", scope_value="", amount_micros=amount)
        budgets.save_budget(session, workspace_id=acme.id, scope="department", scope_value="Support",
                            amount_micros=1_000_000_000_000, thresholds=(50, 100))  # fmt: skip
    body = get(client, "/api/v1/budgets", acme).json()
    assert (body["month_start"], body["month_end"], body["through"]) == ("2026-11-01", "2026-11-30", "2026-11-20")
    whole, team = body["budgets"]
    daily = sorted(sql_spend(acme, month_start, YESTERDAY))
    running = [sum(m for _, m in daily[: i + 1]) for i in range(len(daily))]
    over_on = next(day for (day, _), total in zip(daily, running, strict=True) if total > amount)
    expected = {
        "scope": "workspace", "scope_value": "", "label": "Whole workspace", "amount_micros": amount,
        "month_to_date_micros": spent, "state": "over", "exceeded_on": over_on, "exceed_date": None,
        "exceed_range80": [None, None], "thresholds": [75, 100], "crossed": [75, 100],
        "utilisation_percent": (200 * spent + amount) // (2 * amount),
    }  # fmt: skip
    assert {key: whole[key] for key in expected} == expected
    assert (
        whole["sentence"].startswith("Over the $")
        and f"since Nov {dt.date.fromisoformat(over_on).day}" in (whole["sentence"])
    )
    assert (team["scope"], team["scope_value"], team["month_to_date_micros"]) == ("department", "Support", support)
    assert (team["state"], team["exceed_date"], team["crossed"], team["amount_usd"]) == (
        "on_track", None, [], "1000000.000000",
    )  # fmt: skip
    low, high = team["projected_range80_micros"]
    assert support <= low <= team["projected_micros"] <= high


def test_no_budgets_is_an_empty_list(client: TestClient, acme: Workspace) -> None:
    assert get(client, "/api/v1/budgets", acme).json()["budgets"] == []


def test_budgets_take_no_parameters(client: TestClient, acme: Workspace) -> None:
    response = get(client, "/api/v1/budgets", acme, month="2026-10")
    assert response.status_code == 422
    assert response.json() == {"error": "'month' is not a parameter of /api/v1/budgets (it takes none)."}


def ordered_range(body: dict[str, Any], name: str, median: str) -> None:
    low80, high80 = body[f"{name}_range80_micros"]
    low95, high95 = body[f"{name}_range95_micros"]
    assert low95 <= low80 <= body[median] <= high80 <= high95


def test_the_forecast_adds_the_months_ahead_to_spend_so_far(client: TestClient, acme: Workspace) -> None:
    body = get(client, "/api/v1/forecast", acme).json()
    assert (body["scope"], body["scope_value"], body["through"]) == ("workspace", "", "2026-11-20")
    assert body["month_to_date_micros"] == sql_total(acme, TODAY.replace(day=1), YESTERDAY)
    assert body["month_end_micros"] > body["month_to_date_micros"]
    ordered_range(body, "month_end", "month_end_micros")
    assert [m["month"] for m in body["months"]] == ["2026-12", "2027-01", "2027-02", "2027-03", "2027-04", "2027-05"]
    assert [m["days"] for m in body["months"]] == [31, 31, 28, 31, 30, 31]
    for month in body["months"]:
        low80, high80 = month["range80_micros"]
        low95, high95 = month["range95_micros"]
        assert 0 <= low95 <= low80 <= month["median_micros"] <= high80 <= high95


def test_the_forecast_of_one_department(client: TestClient, acme: Workspace) -> None:
    body = get(client, "/api/v1/forecast", acme, scope="department:support").json()
    assert (body["scope"], body["scope_value"]) == ("department", "Support")  # any case finds it
    assert body["month_to_date_micros"] == sql_total(
        acme, TODAY.replace(day=1), YESTERDAY, by="department", value="Support"
    )


@pytest.mark.parametrize(
    ("scope", "status", "message"),
    [
        ("department:Legal", 404, "There is no forecast for department 'Legal': meterr forecasts the workspace, the "
                                  "12 largest departments"),
        ("team:Support", 422, "scope: 'team:Support' is not a scope; use workspace or one of department:NAME, "
                              "project:NAME, provider:NAME, customer:NAME."),
        ("department:", 422, "scope: 'department:' is not a scope"),
        ("Support", 422, "scope: 'Support' is not a scope"),
    ],
    ids=["unknown-name", "unknown-kind", "no-name", "no-kind"],
)  # fmt: skip
def test_a_bad_forecast_scope_says_why(
    client: TestClient, acme: Workspace, scope: str, status: int, message: str
) -> None:
    response = get(client, "/api/v1/forecast", acme, scope=scope)
    assert response.status_code == status
    assert response.json()["error"].startswith(message)


def change(now: int, before: int) -> float:
    return float((Decimal(now - before) * 100 / Decimal(before)).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN))


def test_the_summary_of_the_month_so_far(client: TestClient, acme: Workspace) -> None:
    body = get(client, "/api/v1/summary", acme).json()
    spend = sql_total(acme, dt.date(2026, 11, 1), YESTERDAY)
    before = sql_total(acme, dt.date(2026, 10, 1), dt.date(2026, 10, 20))
    by_provider = sorted(sql_spend(acme, dt.date(2026, 11, 1), YESTERDAY, month=True, by="provider"),
                         key=lambda r: -r[2])  # fmt: skip
    assert body | {"forecast": None} == {
        "period": "2026-11", "from": "2026-11-01", "to": "2026-11-20", "complete": False, "currency": "USD",
        "spend_usd": usd(spend), "spend_micros": spend,
        "previous_from": "2026-10-01", "previous_to": "2026-10-20",
        "previous_spend_usd": usd(before), "previous_spend_micros": before,
        "previous_month_usd": usd(sql_total(acme, dt.date(2026, 10, 1), dt.date(2026, 10, 31))),
        "previous_month_micros": sql_total(acme, dt.date(2026, 10, 1), dt.date(2026, 10, 31)),
        "change_percent": change(spend, before), "forecast": None,
        "by_provider": [{"provider": p, "amount_usd": usd(m), "amount_micros": m} for _, p, m in by_provider],
    }  # fmt: skip
    forecast = get(client, "/api/v1/forecast", acme).json()
    assert body["forecast"]["month_end_micros"] == forecast["month_end_micros"]
    assert body["forecast"]["month_end_range95_usd"] == forecast["month_end_range95_usd"]
    ordered_range(body["forecast"], "month_end", "month_end_micros")


def test_the_summary_of_a_past_month_is_whole_and_has_no_forecast(client: TestClient, acme: Workspace) -> None:
    body = get(client, "/api/v1/summary", acme, period="2026-10").json()
    october = sql_total(acme, dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    september = sql_total(acme, dt.date(2026, 9, 1), dt.date(2026, 9, 30))
    assert (body["from"], body["to"], body["complete"], body["forecast"]) == ("2026-10-01", "2026-10-31", True, None)
    assert (body["previous_from"], body["previous_to"]) == ("2026-09-01", "2026-09-30")
    assert (body["spend_micros"], body["previous_spend_micros"], body["previous_month_micros"]) == (
        october, september, september,
    )  # fmt: skip
    assert body["change_percent"] == change(october, september)


def test_a_month_without_a_previous_one_has_no_change(client: TestClient, acme: Workspace) -> None:
    body = get(client, "/api/v1/summary", acme, period="2026-09").json()
    assert (body["previous_spend_micros"], body["change_percent"]) == (0, None)


@pytest.mark.parametrize(
    ("period", "message"),
    [
        ("2026-13", "period: '2026-13' is not a month (use YYYY-MM, e.g. 2026-11)."),
        ("2026-1", "period: '2026-1' is not a month"),
        ("November", "period: 'November' is not a month"),
        ("2026-12", "period: 2026-12 has no whole day of spend yet (today is 2026-11-21 UTC); choose 2026-11 or"),
        ("1999-12", "period: 1999-12 is before 2000-01, the first month meterr answers for."),
    ],
    ids=["month-13", "one-digit", "a-name", "future", "too-old"],
)
def test_a_bad_summary_period_is_refused(client: TestClient, acme: Workspace, period: str, message: str) -> None:
    response = get(client, "/api/v1/summary", acme, period=period)
    assert response.status_code == 422
    assert response.json()["error"].startswith(message)


# Tokens and workspaces ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", READS)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer mtr_" + "A" * 43},
        {"Authorization": "Bearer not-a-meterr-token"},
        {"Authorization": "Token {token}"},
    ],
    ids=["missing", "empty", "scheme-only", "basic", "unknown", "foreign", "wrong-scheme"],
)
def test_a_missing_or_bad_token_is_unauthorised_alike(
    client: TestClient, acme: Workspace, path: str, headers: dict[str, str]
) -> None:
    response = client.get(path, headers={name: value.format(token=acme.token) for name, value in headers.items()})
    assert response.status_code == 401
    assert conforms(response) == {"error": UNAUTHORISED}
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("path", READS)
def test_a_revoked_token_is_unauthorised(client: TestClient, acme: Workspace, path: str) -> None:
    with session_scope(acme.engine) as session:
        [token] = load_api_tokens(session, workspace_id=acme.id)
        revoke_api_token(session, workspace_id=acme.id, token_id=token.id)
    response = get(client, path, acme)
    assert (response.status_code, response.json()) == (401, {"error": UNAUTHORISED})


@pytest.mark.parametrize("scopes", ["outcomes:write", "outcomes:read"])
@pytest.mark.parametrize("path", READS)
def test_a_token_without_the_read_scope_is_forbidden(
    client: TestClient, acme: Workspace, path: str, scopes: str
) -> None:
    writer = add_workspace(acme.engine, f"Writer {scopes}", [], scopes=scopes)
    response = get(client, path, writer)
    assert (response.status_code, response.json()) == (403, {"error": FORBIDDEN})


def test_a_token_with_both_scopes_reads_and_its_use_is_recorded(client: TestClient, acme: Workspace) -> None:
    both = add_workspace(acme.engine, "Both", [], scopes="outcomes:write spend:read")
    assert get(client, "/api/v1/summary", both).status_code == 200
    with session_scope(acme.engine) as session:
        [token] = load_api_tokens(session, workspace_id=both.id)
    assert token.last_used_at is not None


def test_a_token_sees_only_its_own_workspace(client: TestClient, acme: Workspace, globex: Workspace) -> None:
    month = {"from": "2026-11-01", "to": "2026-11-20"}
    for ws, other in ((acme, globex), (globex, acme)):
        spend = get(client, "/api/v1/spend", ws, **month, group_by="provider").json()
        assert (
            spend["total_micros"]
            == sql_total(ws, dt.date(2026, 11, 1), YESTERDAY)
            != sql_total(other, dt.date(2026, 11, 1), YESTERDAY)
        )
        summary = get(client, "/api/v1/summary", ws).json()
        forecast = get(client, "/api/v1/forecast", ws).json()
        assert summary["spend_micros"] == forecast["month_to_date_micros"] == spend["total_micros"]
    assert {r["provider"] for r in get(client, "/api/v1/spend", globex, **month, group_by="provider").json()["rows"]} \
        == {"Google"}  # fmt: skip
    assert get(client, "/api/v1/forecast", globex, scope="department:Support").status_code == 404
    with session_scope(acme.engine) as session:
        budgets.save_budget(session, workspace_id=acme.id, scope="workspace", scope_value="", amount_micros=10**12)
    assert len(get(client, "/api/v1/budgets", acme).json()["budgets"]) == 1
    assert get(client, "/api/v1/budgets", globex).json()["budgets"] == []


# Everything else under /api/v1 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/nope", 404),
        ("GET", "/api/v1", 404),
        ("GET", "/api/v1/spend/extra", 404),
        ("DELETE", "/api/v1/budgets/1", 404),
        ("POST", "/api/v1/spend", 405),
        ("GET", "/api/v1/outcomes", 405),
    ],
)
def test_other_paths_answer_json_not_the_apps_page(client: TestClient, method: str, path: str, status: int) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    body = conforms(response)
    if status == 404:
        assert body == {
            "error": "There is no such endpoint; the API's endpoints are described at /api/v1/openapi.json."
        }
    else:
        allowed = "POST" if path.endswith("outcomes") else "GET"
        assert body == {"error": f"{path} answers {allowed} only."}
        assert response.headers["allow"] == ("POST" if allowed == "POST" else "GET, HEAD")


def test_a_failure_is_plain_and_logs_no_token(
    client: TestClient, acme: Workspace, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"database fell over holding {acme.token}")

    monkeypatch.setattr(server.read_api, "load_spend_json", broken)
    with caplog.at_level(logging.DEBUG):
        response = get(client, "/api/v1/spend", acme)
    assert response.status_code == 500
    assert response.json() == {
        "error": "meterr could not read these numbers just now; nothing is wrong with the request, try again later."
    }
    assert "GET /api/v1/spend failed: RuntimeError" in caplog.text
    assert acme.token[4:] not in caplog.text and "Traceback" not in caplog.text


# The document itself -------------------------------------------------------------------------------------------


def test_the_document_is_valid_openapi_and_served_without_a_token(client: TestClient) -> None:
    validate_spec(SPEC)
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.json() == SPEC
    assert set(SPEC["paths"]) == {*READS, "/api/v1/outcomes", "/api/v1/openapi.json"}


@pytest.mark.parametrize(
    ("path", "method"), [(p, m) for p, operations in SPEC["paths"].items() for m in operations]
)  # fmt: skip
def test_every_documented_operation_exists(client: TestClient, path: str, method: str) -> None:
    response = client.request(method.upper(), path)
    assert response.status_code == (200 if path.endswith("openapi.json") else 401)
    conforms(response)


def test_every_object_in_the_document_is_closed() -> None:
    def objects(node: Any) -> list[dict[str, Any]]:
        if isinstance(node, list):
            return [o for item in node for o in objects(item)]
        if not isinstance(node, dict):
            return []
        own = [node] if node.get("type") == "object" and "properties" in node else []
        return own + [o for value in node.values() for o in objects(value)]

    found = objects(SPEC["components"]["schemas"])
    assert len(found) >= 12
    assert all(o["additionalProperties"] is False for o in found)


# Property test: schemathesis generates requests from the document; the answers must conform ---------------------

SCHEMATHESIS = schemathesis.openapi.from_dict(SPEC)
CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_schema_conformance,
    st_checks.response_headers_conformance,
    st_checks.negative_data_rejection,
]


OPERATIONS = [(path, method.upper()) for path, operations in SPEC["paths"].items() for method in operations]


@pytest.mark.parametrize(
    ("path", "method", "mode"),
    [
        *[(p, m, GenerationMode.POSITIVE) for p, m in OPERATIONS],
        # The document's own path takes nothing that could be sent wrong.
        *[(p, m, GenerationMode.NEGATIVE) for p, m in OPERATIONS if not p.endswith("openapi.json")],
    ],
    ids=lambda value: value.value if isinstance(value, GenerationMode) else value,
)
def test_generated_requests_get_documented_answers(
    client: TestClient, acme: Workspace, path: str, method: str, mode: GenerationMode
) -> None:
    strategy = SCHEMATHESIS[path][method].as_strategy(generation_mode=mode)

    @given(case=strategy)
    @settings(max_examples=12, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def run(case: Any) -> None:
        request = case.as_transport_kwargs(base_url="http://testserver", headers=acme.auth)
        request.pop("cookies", None)
        if isinstance(request.get("data"), bytes | str):  # requests' name for a raw body
            request["content"] = request.pop("data")
        response = client.request(**request)
        case.validate_response(response, checks=CHECKS)
        if response.status_code < 500:
            conforms(response)

    run()
