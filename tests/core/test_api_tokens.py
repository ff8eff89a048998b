"""API tokens: shown once, stored as SHA-256 only, scoped to a workspace, revocable."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from core import queries
from core.api_tokens import (
    authenticate_token,
    create_api_token,
    has_scope,
    load_api_tokens,
    parse_scopes,
    revoke_api_token,
)
from core.db import session_scope
from core.security import InvalidInput

NOON = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)


def make_token(engine: Engine, workspace_id: int, name: str = "Zendesk export", scopes: str = "outcomes:write") -> str:
    with session_scope(engine) as session:
        return create_api_token(session, workspace_id=workspace_id, name=name, scopes=scopes)[1]


def test_a_new_token_is_random_prefixed_and_stored_as_its_hash(engine: Engine, workspace_id: int) -> None:
    with session_scope(engine) as session:
        token, plaintext = create_api_token(session, workspace_id=workspace_id, name="  Zendesk   export ")
        other_token, other_plaintext = create_api_token(session, workspace_id=workspace_id, name="Second")
    assert plaintext.startswith("mtr_") and len(plaintext) == 4 + 43  # token_urlsafe(32): 43 characters
    assert other_plaintext != plaintext
    assert token.token_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert (token.name, token.hint, token.scopes, token.workspace_id) == (
        "Zendesk export", f"…{plaintext[-4:]}", "outcomes:write", workspace_id,
    )  # fmt: skip
    assert (token.last_used_at, token.revoked_at) == (None, None)


def test_the_right_token_authenticates_and_records_its_use(engine: Engine, workspace_id: int) -> None:
    plaintext = make_token(engine, workspace_id)
    with session_scope(engine) as session:
        token = authenticate_token(session, plaintext, now=NOON)
        assert token is not None and token.workspace_id == workspace_id and has_scope(token, "outcomes:write")
    with session_scope(engine) as session:
        [info] = load_api_tokens(session, workspace_id=workspace_id)
    assert info.last_used_at == NOON


@pytest.mark.parametrize(
    "offered",
    [None, "", "mtr_", "mtr_" + "A" * 43, "Bearer mtr_x", "sk-something", "mtr_" + "é" * 43, "mtr_" + "A" * 500],
    ids=["none", "empty", "prefix-only", "unknown", "with-scheme", "foreign", "not-ascii", "huge"],
)
def test_anything_but_a_live_token_is_refused(engine: Engine, workspace_id: int, offered: str | None) -> None:
    make_token(engine, workspace_id)
    with session_scope(engine) as session:
        assert authenticate_token(session, offered) is None


def test_a_token_with_a_changed_character_is_refused(engine: Engine, workspace_id: int) -> None:
    plaintext = make_token(engine, workspace_id)
    altered = plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")
    with session_scope(engine) as session:
        assert authenticate_token(session, altered) is None
        assert authenticate_token(session, plaintext) is not None


def test_a_revoked_token_stops_working_and_keeps_its_first_revocation(engine: Engine, workspace_id: int) -> None:
    plaintext = make_token(engine, workspace_id)
    with session_scope(engine) as session:
        token = authenticate_token(session, plaintext)
        assert token is not None and token.id is not None
        token_id = token.id
    with session_scope(engine) as session:
        first = revoke_api_token(session, workspace_id=workspace_id, token_id=token_id).revoked_at
    with session_scope(engine) as session:
        assert revoke_api_token(session, workspace_id=workspace_id, token_id=token_id).revoked_at == first
        assert authenticate_token(session, plaintext) is None
        [info] = load_api_tokens(session, workspace_id=workspace_id)
    assert first is not None and info.revoked_at == first and not info.active


def test_another_workspace_cannot_revoke_or_list_a_token(engine: Engine, workspace_id: int) -> None:
    with session_scope(engine) as session:
        other = queries.create_workspace(session, name="Other Co").id
        assert other is not None
        token, plaintext = create_api_token(session, workspace_id=workspace_id, name="Mine")
        assert token.id is not None
        token_id = token.id
    with pytest.raises(queries.NotFound), session_scope(engine) as session:
        revoke_api_token(session, workspace_id=other, token_id=token_id)
    with session_scope(engine) as session:
        assert load_api_tokens(session, workspace_id=other) == []
        assert authenticate_token(session, plaintext) is not None


def test_the_list_shows_hints_never_tokens_newest_first(engine: Engine, workspace_id: int) -> None:
    first = make_token(engine, workspace_id, name="First")
    second = make_token(engine, workspace_id, name="Second", scopes="outcomes:read, outcomes:write")
    with session_scope(engine) as session:
        infos = load_api_tokens(session, workspace_id=workspace_id)
    assert [(i.name, i.hint, i.scopes, i.active) for i in infos] == [
        ("Second", f"…{second[-4:]}", ("outcomes:write", "outcomes:read"), True),
        ("First", f"…{first[-4:]}", ("outcomes:write",), True),
    ]
    shown = repr(infos)
    assert first not in shown and second not in shown
    assert hashlib.sha256(first.encode()).hexdigest() not in shown


@pytest.mark.parametrize(
    ("name", "scopes", "message"),
    [
        ("", "outcomes:write", "Name the token after what will use it"),
        ("n" * 81, "outcomes:write", "A token's name is at most 80 characters."),
        (
            "Export",
            "admin",
            "'admin' is not a scope meterr knows; choose from outcomes:write, outcomes:read, spend:read.",
        ),
        ("Export", " , ", "Give the token at least one scope: outcomes:write, outcomes:read, spend:read."),
    ],
    ids=["no-name", "long-name", "unknown-scope", "no-scope"],
)
def test_a_bad_token_request_is_refused(
    engine: Engine, workspace_id: int, name: str, scopes: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as caught, session_scope(engine) as session:
        create_api_token(session, workspace_id=workspace_id, name=name, scopes=scopes)
    assert str(caught.value).startswith(message)
    with session_scope(engine) as session:
        assert load_api_tokens(session, workspace_id=workspace_id) == []


def test_scopes_are_normalised() -> None:
    assert parse_scopes("outcomes:read,outcomes:write outcomes:read") == ("outcomes:write", "outcomes:read")
    assert parse_scopes("spend:read outcomes:write") == ("outcomes:write", "spend:read")


def test_the_database_never_holds_the_plaintext_token(engine: Engine, workspace_id: int, db_url: str) -> None:
    plaintext = make_token(engine, workspace_id)
    with session_scope(engine) as session:
        assert authenticate_token(session, plaintext) is not None  # last_used_at is written too
        stored = session.execute(text("SELECT * FROM apitoken")).one()
    assert all(plaintext not in str(value) for value in stored)
    assert hashlib.sha256(plaintext.encode()).hexdigest() in [str(value) for value in stored]
    if db_url.startswith("sqlite"):
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        path = Path(db_url.removeprefix("sqlite:///"))
        scanned = [file for file in (path, Path(f"{path}-wal")) if file.exists()]
        assert path in scanned
        # The scan sees what is stored: the hash is there, so the plaintext would be too if it were stored.
        assert any(hashlib.sha256(plaintext.encode()).hexdigest().encode() in f.read_bytes() for f in scanned)
        for file in scanned:
            data = file.read_bytes()
            assert plaintext.encode() not in data, file
            # The random part alone (what a person would paste without the prefix) is not there either.
            assert plaintext[4:].encode() not in data, file
