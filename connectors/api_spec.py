"""The OpenAPI 3.1 document of the JSON API under /api/v1: static, served at /api/v1/openapi.json.

The tests validate every answer the API gives against these schemas, so a field added, renamed or dropped on
one side only fails them: objects are closed (`additionalProperties: false`) and every field is required.
"""

from __future__ import annotations

import copy
from typing import Any, get_args

from connectors.files.outcomes import MAX_API_ROWS
from connectors.read_api import (
    DEFAULT_DAYS,
    FIRST_DAY,
    GROUP_BY,
    LAST_DAY,
    MAX_DAYS,
    MAX_MONTHS,
)
from core.outcomes import MAX_COUNT
from core.queries import GRANULARITIES
from insights.budgets import SCOPES as BUDGET_SCOPES
from insights.budgets import State
from insights.forecast import SCOPE_KINDS, Method

Schema = dict[str, Any]

_USD = {"$ref": "#/components/schemas/Usd"}
_MICROS = {"$ref": "#/components/schemas/Micros"}
_DAY = {"$ref": "#/components/schemas/Day"}
_MONTH = {"$ref": "#/components/schemas/Month"}
_NULLABLE_DAY = {"oneOf": [_DAY, {"type": "null"}]}


def _pair(item: Schema) -> Schema:
    return {"type": "array", "items": item, "minItems": 2, "maxItems": 2}


def _money(*names: str) -> Schema:
    """The `<name>_usd` and `<name>_micros` properties of each amount."""
    return {key: value for name in names for key, value in ((f"{name}_usd", _USD), (f"{name}_micros", _MICROS))}


def _money_range(*names: str) -> Schema:
    """The `<name>_usd` and `<name>_micros` [low, high] pairs of each range."""
    return {
        key: value
        for name in names
        for key, value in ((f"{name}_usd", _pair(_USD)), (f"{name}_micros", _pair(_MICROS)))
    }


def _closed(properties: Schema, *, optional: tuple[str, ...] = (), description: str = "") -> Schema:
    """An object with exactly these properties, all required but the optional ones."""
    schema: Schema = {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


def _error(description: str, *, bearer: bool = False) -> Schema:
    response: Schema = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if bearer:
        response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string", "const": "Bearer"}}}
    return response


def _ok(schema: str, description: str) -> Schema:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


_ERRORS: dict[str, Schema] = {
    "401": {"$ref": "#/components/responses/Unauthorised"},
    "403": {"$ref": "#/components/responses/Forbidden"},
    "422": {"$ref": "#/components/responses/Unprocessable"},
    "500": {"$ref": "#/components/responses/Failed"},
}


def _read(summary: str, description: str, schema: str, *, parameters: list[str], not_found: bool = False) -> Schema:
    responses: Schema = {"200": _ok(schema, summary), **_ERRORS}
    if not_found:
        responses["404"] = {"$ref": "#/components/responses/NotFound"}
    return {
        "get": {
            "summary": summary,
            "description": description,
            "operationId": f"get{schema}",
            "parameters": [{"$ref": f"#/components/parameters/{name}"} for name in parameters],
            "responses": responses,
        }
    }


_SCHEMAS: dict[str, Schema] = {
    "Error": _closed(
        {"error": {"type": "string", "minLength": 1}}, description="Every refusal: what to change, in plain English."
    ),
    "Usd": {
        "type": "string",
        "pattern": r"^-?[0-9]+\.[0-9]{6}$",
        "description": "US dollars as an exact decimal string with six places, e.g. '12.345678'.",
        "examples": ["12.345678"],
    },
    "Micros": {"type": "integer", "description": "The same amount in integer micro-dollars (1 USD = 1,000,000)."},
    "Day": {"type": "string", "format": "date", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
    "Month": {"type": "string", "pattern": r"^[0-9]{4}-(0[1-9]|1[0-2])$", "examples": ["2026-11"]},
    "SpendRow": _closed(
        {
            "period": {
                "type": "string",
                "pattern": r"^[0-9]{4}-[0-9]{2}(-[0-9]{2})?$",
                "description": "The day (YYYY-MM-DD), or the month (YYYY-MM).",
            },  # fmt: skip
            **{name: {"type": "string", "description": "'' is spend not allocated to any."} for name in GROUP_BY},
            **_money("amount"),
        },
        optional=GROUP_BY,
        description="One period's spend; with group_by, one period and value of that dimension (named after it).",
    ),
    "Spend": _closed(
        {
            "from": _DAY,
            "to": _DAY,
            "granularity": {"type": "string", "enum": list(GRANULARITIES)},
            "group_by": {"type": ["string", "null"], "enum": [*GROUP_BY, None]},
            "currency": {"type": "string", "const": "USD"},
            **_money("total"),
            "rows": {"type": "array", "items": {"$ref": "#/components/schemas/SpendRow"}},
        }
    ),
    "Budget": _closed(
        {
            "id": {"type": "integer"},
            "scope": {"type": "string", "enum": list(BUDGET_SCOPES)},
            "scope_value": {"type": "string", "description": "'' for the workspace."},
            "label": {"type": "string"},
            **_money("amount", "month_to_date"),
            "utilisation_percent": {"type": "integer", "description": "Month to date as a whole percent of amount."},
            **_money("projected"),
            **_money_range("projected_range80"),
            "projected_utilisation_percent": {"type": "integer"},
            "state": {"type": "string", "enum": list(get_args(State))},
            "exceeded_on": {**_NULLABLE_DAY, "description": "When over: the day spend went above the amount."},
            "exceed_date": {**_NULLABLE_DAY, "description": "The forecast day spend goes above the amount."},
            "exceed_range80": {**_pair(_NULLABLE_DAY), "description": "Earliest and latest (null: not this month)."},
            "thresholds": {"type": "array", "items": {"type": "integer"}},
            "crossed": {"type": "array", "items": {"type": "integer"}},
            "sentence": {"type": "string"},
        }
    ),
    "Budgets": _closed(
        {
            "month_start": _DAY,
            "month_end": _DAY,
            "through": {**_DAY, "description": "The last whole day counted; the forecast starts the day after."},
            "currency": {"type": "string", "const": "USD"},
            "budgets": {"type": "array", "items": {"$ref": "#/components/schemas/Budget"}},
        }
    ),
    "MonthForecast": _closed(
        {
            "month": _MONTH,
            "days": {"type": "integer", "minimum": 1},
            **_money("median"),
            **_money_range("range80", "range95"),
        }
    ),
    "Forecast": _closed(
        {
            "month_start": _DAY,
            "month_end": _DAY,
            "through": _DAY,
            "currency": {"type": "string", "const": "USD"},
            "scope": {"type": "string", "enum": ["workspace", *SCOPE_KINDS]},
            "scope_value": {"type": "string"},
            "method": {"type": "string", "enum": list(get_args(Method))},
            "history_days": {"type": "integer", "minimum": 0},
            **_money("month_to_date", "month_end"),
            **_money_range("month_end_range80", "month_end_range95"),
            "months": {"type": "array", "items": {"$ref": "#/components/schemas/MonthForecast"}},
        }
    ),
    "SummaryForecast": _closed(
        {
            "method": {"type": "string", "enum": list(get_args(Method))},
            **_money("month_end"),
            **_money_range("month_end_range80", "month_end_range95"),
        }
    ),
    "Summary": _closed(
        {
            "period": _MONTH,
            "from": _DAY,
            "to": {**_DAY, "description": "The last whole day counted: the month's last, or yesterday."},
            "complete": {"type": "boolean", "description": "Whether the whole month is counted."},
            "currency": {"type": "string", "const": "USD"},
            **_money("spend"),
            "previous_from": _DAY,
            "previous_to": _DAY,
            **_money("previous_spend", "previous_month"),
            "change_percent": {"type": ["number", "null"], "description": "spend against previous_spend, in %."},
            "forecast": {"oneOf": [{"$ref": "#/components/schemas/SummaryForecast"}, {"type": "null"}]},
            "by_provider": {
                "type": "array",
                "items": _closed({"provider": {"type": "string"}, **_money("amount")}),
            },
        }
    ),
    "OutcomeCount": {
        **_closed(
            {
                "date": _DAY,
                "outcome": {"type": "string", "minLength": 1, "description": "An outcome's name, in any case."},
                "outcome_id": {"type": "integer"},
                "count": {"type": "integer", "minimum": 0, "maximum": MAX_COUNT},
                "department": {"type": ["string", "null"], "maxLength": 80},
            },
            optional=("outcome", "outcome_id", "department"),
        ),
        "oneOf": [{"required": ["outcome"]}, {"required": ["outcome_id"]}],
    },
    "Outcomes": _closed(
        {
            "outcomes": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_API_ROWS,
                "items": {"$ref": "#/components/schemas/OutcomeCount"},
            }
        }
    ),
    "OutcomesStored": _closed(
        {
            "status": {"type": "string", "const": "ok"},
            "written": {"type": "integer", "minimum": 0},
            "replaced": {"type": "integer", "minimum": 0},
        }
    ),
}

_PARAMETERS: dict[str, Schema] = {
    "from": {
        "name": "from", "in": "query", "schema": _DAY,
        "description": f"First day (UTC), from {FIRST_DAY}; default {DEFAULT_DAYS} days before `to`.",
    },
    "to": {
        "name": "to", "in": "query", "schema": _DAY,
        "description": f"Last day (UTC), at most {LAST_DAY}; default today. At most {MAX_DAYS} days per request "
        f"with granularity=day, {MAX_MONTHS} months with granularity=month.",
    },
    "group_by": {
        "name": "group_by", "in": "query", "schema": {"type": "string", "enum": list(GROUP_BY)},
        "description": "One row per period and value of this dimension; without it, one row per period.",
    },
    "granularity": {
        "name": "granularity", "in": "query", "schema": {"type": "string", "enum": list(GRANULARITIES),
                                                          "default": "day"},
    },
    "scope": {
        "name": "scope", "in": "query",
        "schema": {"type": "string", "default": "workspace",
                   "pattern": rf"^(workspace|({'|'.join(SCOPE_KINDS)}):.*\S.*)$"},
        "description": "workspace, or department:NAME, project:NAME, provider:NAME, customer:NAME.",
        "examples": {"department": {"value": "department:Marketing"}},
    },
    "period": {
        "name": "period", "in": "query", "schema": _MONTH,
        "description": "A month with a whole day behind it (YYYY-MM); default the month holding yesterday (UTC).",
    },
}  # fmt: skip

_RESPONSES: dict[str, Schema] = {
    "Unauthorised": _error("The token is missing, malformed, unknown or revoked.", bearer=True),
    "Forbidden": _error("The token lacks the scope this endpoint needs; the message names it."),
    "NotFound": _error("Nothing of that name: the message says what exists."),
    "Unprocessable": _error("A parameter or the body is wrong: the message names it and what is allowed."),
    "TooLarge": _error("The body is larger than 1 MB."),
    "Failed": _error("meterr failed; nothing was changed. Try again later."),
}

_READ = "Needs a token with the spend:read scope. The token decides the workspace."

_PATHS: dict[str, Schema] = {
    "/api/v1/spend": _read(
        "Spend per day or month",
        f"{_READ} Periods without spend are absent; rows are ordered by period, then largest spend first.",
        "Spend",
        parameters=["from", "to", "group_by", "granularity"],
    ),
    "/api/v1/budgets": _read(
        "Budgets this month",
        f"{_READ} Every monthly budget: spend so far, the projected month end with its 80% range, the state, the "
        "day it is expected to exceed the amount, and a sentence saying so.",
        "Budgets",
        parameters=[],
    ),
    "/api/v1/forecast": _read(
        "Forecast of this month and the months after",
        f"{_READ} Month to date, the month-end total with 80% and 95% ranges, and the following months' totals.",
        "Forecast",
        parameters=["scope"],
        not_found=True,
    ),
    "/api/v1/summary": _read(
        "Headline numbers of a month",
        f"{_READ} Spend to date against the same days of the month before, the month-end forecast while the month "
        "runs, and spend per provider.",
        "Summary",
        parameters=["period"],
    ),
    "/api/v1/outcomes": {
        "post": {
            "summary": "Store daily outcome counts",
            "description": "Needs a token with the outcomes:write scope. A day sent again replaces its count, so "
            "retries are safe. The body is at most 1 MB.",
            "operationId": "postOutcomes",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Outcomes"}}},
            },
            "responses": {
                "200": _ok("OutcomesStored", "Stored"),
                **_ERRORS,
                "413": {"$ref": "#/components/responses/TooLarge"},
            },
        }
    },
    "/api/v1/openapi.json": {
        "get": {
            "summary": "This document",
            "operationId": "getOpenApi",
            "security": [],
            "responses": {
                "200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}
            },
        }
    },
}

_DOCUMENT: Schema = {
    "openapi": "3.1.0",
    "info": {
        "title": "meterr API",
        "version": "1",
        "description": "Read one workspace's AI spend, budgets and forecasts, and send business outcomes. Create a "
        "token in meterr under Settings, API tokens, and send it as 'Authorization: Bearer mtr_...'. Money is an "
        "exact decimal string of US dollars (`*_usd`) and the same amount in integer micro-dollars (`*_micros`); "
        'days are UTC. Every error is `{"error": "..."}`; an unknown path under /api/v1 answers 404.',
    },
    "security": [{"bearerAuth": []}],
    "paths": _PATHS,
    "components": {
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "mtr_..."}},
        "schemas": _SCHEMAS,
        "parameters": _PARAMETERS,
        "responses": _RESPONSES,
    },
}


def build_openapi() -> Schema:
    """The document, a fresh copy each time: callers may change theirs."""
    return copy.deepcopy(_DOCUMENT)
