"""POST /api/v1/outcomes through the real app: bearer tokens, idempotent counts, field-named refusals."""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import select
from starlette.testclient import TestClient

import server
from core import queries
from core.api_tokens import create_api_token, load_api_tokens, revoke_api_token
from core.db import session_scope
from core.models import AuditLog, OutcomeCount
from core.outcomes import save_outcome_definition
from tests.conftest import app_engine

URL = "/api/v1/outcomes"
UNAUTHORISED = (
    "A valid API token is required: send the header 'Authorization: Bearer mtr_...' with a token created in "
    "meterr under Settings, API tokens."
)
NOV_20 = dt.date(2026, 11, 20)


@dataclass(frozen=True)
class Setup:
    engine: Engine
    workspace_id: int
    token: str
    tickets: int
    leads: int


def add_workspace(engine: Engine, name: str, *, scopes: str = "outcomes:write") -> Setup:
    with session_scope(engine) as session:
        workspace_id = queries.create_workspace(session, name=name).id
        assert workspace_id is not None
        tickets = save_outcome_definition(
            session, workspace_id=workspace_id, name="Support ticket resolved", unit="ticket", value_usd="8",
            department="Support",
        ).id  # fmt: skip
        leads = save_outcome_definition(
            session, workspace_id=workspace_id, name="Qualified lead", unit="lead", value_usd="120"
        ).id
        _, token = create_api_token(session, workspace_id=workspace_id, name=f"{name} feed", scopes=scopes)
    assert tickets is not None and leads is not None
    return Setup(engine, workspace_id, token, tickets, leads)


@pytest.fixture
def acme(client: TestClient) -> Setup:
    return add_workspace(app_engine(), "Acme")


def post(client: TestClient, token: str | None, body: Any = None, *, raw: bytes | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.post(URL, content=raw if raw is not None else json.dumps(body).encode(), headers=headers)


def stored(setup: Setup) -> list[tuple[int, dt.date, str, int]]:
    with session_scope(setup.engine) as session:
        return [
            (c.outcome_id, c.day, c.department, c.count)
            for c in session.exec(
                select(OutcomeCount)
                .where(OutcomeCount.workspace_id == setup.workspace_id)
                .order_by(OutcomeCount.day, OutcomeCount.outcome_id, OutcomeCount.department)  # type: ignore[arg-type]
            )
        ]


def audits(setup: Setup) -> list[dict[str, Any]]:
    with session_scope(setup.engine) as session:
        rows = session.exec(
            select(AuditLog).where(AuditLog.workspace_id == setup.workspace_id, AuditLog.action == "outcomes.api_write")
        ).all()
        return [row.detail for row in rows]


def load_api_tokens_of(setup: Setup) -> list[Any]:
    with session_scope(setup.engine) as session:
        return load_api_tokens(session, workspace_id=setup.workspace_id)


BODY = {
    "outcomes": [
        {"date": "2026-11-20", "outcome": "Support ticket resolved", "count": 42, "department": "Support"},
        {"date": "2026-11-20", "outcome": "qualified lead", "count": 3},
    ]
}


def test_a_good_post_stores_the_counts_for_the_tokens_workspace(client: TestClient, acme: Setup) -> None:
    response = post(client, acme.token, BODY)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "written": 2, "replaced": 0}
    assert stored(acme) == [(acme.tickets, NOV_20, "Support", 42), (acme.leads, NOV_20, "", 3)]
    [token] = load_api_tokens_of(acme)
    assert token.last_used_at is not None
    [audit] = audits(acme)
    assert audit == {"token_id": token.id, "token_name": "Acme feed", "rows": 2, "written": 2, "replaced": 0,
                     "unchanged": 0}  # fmt: skip


def test_posting_again_replaces_counts_instead_of_adding(client: TestClient, acme: Setup) -> None:
    assert post(client, acme.token, BODY).json() == {"status": "ok", "written": 2, "replaced": 0}
    assert post(client, acme.token, BODY).json() == {"status": "ok", "written": 0, "replaced": 0}
    corrected = {"outcomes": [{"date": "2026-11-20", "outcome_id": acme.leads, "count": 5},
                              {"date": "2026-11-21", "outcome_id": acme.leads, "count": 1}]}  # fmt: skip
    assert post(client, acme.token, corrected).json() == {"status": "ok", "written": 1, "replaced": 1}
    assert stored(acme) == [
        (acme.tickets, NOV_20, "Support", 42),
        (acme.leads, NOV_20, "", 5),
        (acme.leads, dt.date(2026, 11, 21), "", 1),
    ]
    assert [a["unchanged"] for a in audits(acme)] == [0, 2, 0]


def test_repeated_items_in_one_post_are_summed(client: TestClient, acme: Setup) -> None:
    body = {"outcomes": [{"date": "2026-11-20", "outcome": "Qualified lead", "count": 2},
                         {"date": "2026-11-20", "outcome_id": acme.leads, "count": 3, "department": None}]}  # fmt: skip
    assert post(client, acme.token, body).json() == {"status": "ok", "written": 1, "replaced": 0}
    assert stored(acme) == [(acme.leads, NOV_20, "", 5)]


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
def test_a_missing_or_bad_token_is_unauthorised_alike(client: TestClient, acme: Setup, headers: dict[str, str]) -> None:
    sent = {name: value.format(token=acme.token) for name, value in headers.items()}
    response = client.post(URL, content=json.dumps(BODY).encode(), headers=sent)
    assert response.status_code == 401
    assert response.json() == {"error": UNAUTHORISED}
    assert response.headers["www-authenticate"] == "Bearer"
    assert stored(acme) == [] and audits(acme) == []


def test_the_scheme_is_case_insensitive(client: TestClient, acme: Setup) -> None:
    response = client.post(URL, content=json.dumps(BODY).encode(), headers={"Authorization": f"bearer {acme.token}"})
    assert response.json() == {"status": "ok", "written": 2, "replaced": 0}


def test_a_revoked_token_is_unauthorised(client: TestClient, acme: Setup) -> None:
    [token] = load_api_tokens_of(acme)
    with session_scope(acme.engine) as session:
        revoke_api_token(session, workspace_id=acme.workspace_id, token_id=token.id)
    response = post(client, acme.token, BODY)
    assert response.status_code == 401
    assert response.json() == {"error": UNAUTHORISED}
    assert stored(acme) == []


def test_a_token_without_the_write_scope_is_forbidden(client: TestClient, acme: Setup) -> None:
    with session_scope(acme.engine) as session:
        _, reader = create_api_token(session, workspace_id=acme.workspace_id, name="Reader", scopes="outcomes:read")
    response = post(client, reader, BODY)
    assert response.status_code == 403
    assert response.json() == {
        "error": "This token may not write outcomes; create a token with the outcomes:write scope."
    }
    assert stored(acme) == []


def test_another_workspaces_outcome_id_is_refused(client: TestClient, acme: Setup) -> None:
    other = add_workspace(acme.engine, "Globex")
    body = {"outcomes": [{"date": "2026-11-20", "outcome_id": acme.tickets, "count": 1},
                         {"date": "2026-11-20", "outcome_id": other.tickets, "count": 99}]}  # fmt: skip
    response = post(client, acme.token, body)
    assert response.status_code == 422
    assert response.json() == {"error": f"outcomes[1].outcome_id: {other.tickets} is not an outcome of this workspace."}
    assert stored(acme) == [] and stored(other) == []
    # Globex's own token writes into Globex only, whatever the ids say.
    assert post(client, other.token, {"outcomes": [body["outcomes"][1]]}).json()["written"] == 1
    assert stored(acme) == [] and stored(other) == [(other.tickets, NOV_20, "", 99)]


def item(**fields: Any) -> dict[str, Any]:
    return {"date": "2026-11-20", "outcome": "Qualified lead", "count": 1, **fields}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (item(date="2026-02-30"), "outcomes[2].date: '2026-02-30' is not a date (use YYYY-MM-DD)."),
        (item(date="11/20/2026"), "outcomes[2].date: '11/20/2026' is not a date (use YYYY-MM-DD)."),
        (item(date=20261120), "outcomes[2].date: 20261120 is not a date (use YYYY-MM-DD)."),
        ({"outcome": "Qualified lead", "count": 1}, "outcomes[2].date: null is not a date (use YYYY-MM-DD)."),
        (item(date="2999-01-01"), "outcomes[2].date: 2999-01-01 is in the future; send outcomes once they have"),
        (item(count=-1), "outcomes[2].count: must be a whole number of at least 0, e.g. 42."),
        (item(count=1.5), "outcomes[2].count: must be a whole number of at least 0, e.g. 42."),
        (item(count="7"), "outcomes[2].count: must be a whole number of at least 0, e.g. 42."),
        (item(count=True), "outcomes[2].count: must be a whole number of at least 0, e.g. 42."),
        (item(count=10**16), "outcomes[2].count: must be a whole number of at least 0, e.g. 42."),
        ({"date": "2026-11-20", "outcome": "Qualified lead"}, "outcomes[2].count: must be a whole number"),
        (item(outcome="Qualified leed"),
         "outcomes[2].outcome: 'Qualified leed' is not an outcome defined in this workspace (known: "
         "'Qualified lead', 'Support ticket resolved')."),
        (item(outcome=""), "outcomes[2].outcome: required, the outcome's name"),
        (item(outcome_id=1), "outcomes[2]: give outcome or outcome_id, not both."),
        ({"date": "2026-11-20", "outcome_id": "1", "count": 1}, 'outcomes[2].outcome_id: "1" is not an outcome'),
        (item(department="d" * 81), "outcomes[2].department: must be text of at most 80 characters."),
        (item(department=7), "outcomes[2].department: must be text of at most 80 characters."),
        (item(amount=1), "outcomes[2].amount: not a field meterr knows (known: date, outcome, outcome_id, count,"),
        ("a lead", "outcomes[2]: expected an object with date, outcome and count."),
    ],
    ids=[
        "feb-30", "us-date", "date-as-number", "no-date", "future", "negative", "fraction", "count-as-text",
        "boolean", "absurd", "no-count", "unknown-outcome", "blank-outcome", "both-outcome-and-id", "id-as-text",
        "long-department", "department-not-text", "unknown-field", "not-an-object",
    ],
)  # fmt: skip
def test_a_bad_field_is_named_and_nothing_is_written(client: TestClient, acme: Setup, bad: Any, message: str) -> None:
    body = {"outcomes": [item(), item(outcome="Support ticket resolved"), bad]}
    response = post(client, acme.token, body)
    assert response.status_code == 422
    assert response.json()["error"].startswith(message)
    assert stored(acme) == [] and audits(acme) == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"outcomes": [', "body: not valid JSON (Expecting value at line 1 column 15)."),
        (b"[1, 2]", 'body: expected a JSON object like {"outcomes": [...]}.'),
        (b'{"outcomes": []}', "outcomes: expected a non-empty list"),
        (b'{"outcomes": {}}', "outcomes: expected a non-empty list"),
        (b'{"outcomes": [{"count": NaN}]}', "body: not valid JSON (NaN is not a number)."),
        (b'{"outcome": []}', "outcome: not a field meterr knows (known: outcomes)."),
        (b"\xff\xfe", "body: not UTF-8 text; send JSON encoded as UTF-8."),
    ],
    ids=["truncated", "not-an-object", "empty-list", "not-a-list", "nan", "misspelt-key", "not-utf8"],
)
def test_a_malformed_body_is_refused_with_the_reason(client: TestClient, acme: Setup, raw: bytes, message: str) -> None:
    response = post(client, acme.token, raw=raw)
    assert response.status_code == 422
    assert response.json()["error"].startswith(message)
    assert stored(acme) == []


def test_a_bad_token_is_refused_before_the_body_is_judged(client: TestClient, acme: Setup) -> None:
    response = post(client, "mtr_" + "B" * 43, raw=b"not json")
    assert response.status_code == 401


def test_a_body_over_one_megabyte_is_refused(client: TestClient, acme: Setup) -> None:
    body = {"outcomes": [item(department="d" * 80) for _ in range(9_000)]}
    raw = json.dumps(body).encode()
    assert len(raw) > 1_048_576
    response = post(client, acme.token, raw=raw)
    assert response.status_code == 413
    assert response.json() == {"error": "The body is larger than 1 MB; send fewer outcomes per request."}
    assert stored(acme) == []


def test_a_failure_while_storing_is_plain_and_logs_no_token(
    client: TestClient, acme: Setup, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"database fell over holding {acme.token}")

    monkeypatch.setattr(server, "upsert_outcome_counts", broken)
    with caplog.at_level(logging.DEBUG):
        response = post(client, acme.token, BODY)
        post(client, acme.token + "x", BODY)
    assert response.status_code == 500
    assert response.json() == {
        "error": "meterr could not store these outcomes, so nothing was applied; send them again later."
    }
    assert "outcomes API failed: RuntimeError" in caplog.text
    assert acme.token[4:] not in caplog.text and "Traceback" not in caplog.text
    assert stored(acme) == [] and audits(acme) == []


def test_the_audit_never_holds_the_token(client: TestClient, acme: Setup) -> None:
    assert post(client, acme.token, BODY).status_code == 200
    assert acme.token not in json.dumps(audits(acme)) and acme.token[4:] not in json.dumps(audits(acme))
