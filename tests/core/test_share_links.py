"""Share links: a 32-byte token shown once and stored hashed, live until expiry or revocation, passcode lockout."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import Engine, text

from core import queries
from core.db import session_scope
from core.security import InvalidInput, verify_password
from core.share_links import (
    check_passcode,
    create_share_link,
    load_share_links,
    period_range,
    record_open,
    resolve_share_link,
    revoke_by_prefix,
    revoke_share_link,
    share_url,
)

NOON = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)


def make_link(engine: Engine, workspace_id: int, **options: object) -> tuple[int, str]:
    """A committed link made at NOON; returns its id and token."""
    options = {"days": 14, "now": NOON, "rounds": 4, **options}
    with session_scope(engine) as session:
        link, token = create_share_link(session, workspace_id=workspace_id, **options)  # type: ignore[arg-type]
        assert link.id is not None
        return link.id, token


def resolves(engine: Engine, token: str | None, now: dt.datetime = NOON) -> int | None:
    with session_scope(engine) as session:
        link = resolve_share_link(session, token, now=now)
        return None if link is None else link.id


def other_workspace(engine: Engine) -> int:
    with session_scope(engine) as session:
        workspace = queries.create_workspace(session, name="Other Co")
        assert workspace.id is not None
        return workspace.id


def test_a_new_link_resolves_until_it_expires(engine: Engine, workspace_id: int) -> None:
    link_id, token = make_link(engine, workspace_id, kind="overview", period="2026-10", label="  Board   pack ")
    assert len(token) == 43  # token_urlsafe(32)
    assert resolves(engine, token) == link_id
    assert resolves(engine, token, NOON + dt.timedelta(days=14) - dt.timedelta(seconds=1)) == link_id
    assert resolves(engine, token, NOON + dt.timedelta(days=14)) is None
    with session_scope(engine) as session:
        [info] = load_share_links(session, workspace_id=workspace_id)
    assert (info.kind, info.period, info.label, info.prefix, info.has_passcode) == (
        "overview", "2026-10", "Board pack", token[:8], False,
    )  # fmt: skip
    assert info.expires_at == NOON + dt.timedelta(days=14)
    assert info.status(NOON) == "active" and info.status(NOON + dt.timedelta(days=15)) == "expired"


def test_the_token_is_stored_only_as_its_hash(engine: Engine, workspace_id: int) -> None:
    _, token = make_link(engine, workspace_id, passcode="open sesame", label="CFO")
    with engine.connect() as connection:
        [row] = connection.execute(text("SELECT * FROM sharelink")).mappings().all()
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert not any(token in str(value) for value in row.values())
    assert "open sesame" not in str(dict(row)) and verify_password("open sesame", row["passcode_hash"])


def test_two_links_never_share_a_token(engine: Engine, workspace_id: int) -> None:
    assert make_link(engine, workspace_id)[1] != make_link(engine, workspace_id)[1]


def tampered(token: str) -> str:
    return token[:10] + ("A" if token[10] != "A" else "B") + token[11:]


@pytest.mark.parametrize(
    "offer",
    [
        lambda token: tampered(token),
        lambda token: "A" * 43,
        lambda token: token[:-1],
        lambda token: token + "x",
        lambda token: token[:8],
        lambda token: " " + token,
        lambda token: "é" * 43,
        lambda token: "",
        lambda token: None,
    ],
    ids=["tampered", "unknown", "too-short", "too-long", "prefix-only", "padded", "not-ascii", "empty", "none"],
)
def test_anything_but_the_token_resolves_to_nothing(engine: Engine, workspace_id: int, offer) -> None:  # type: ignore[no-untyped-def]
    _, token = make_link(engine, workspace_id)
    assert resolves(engine, offer(token)) is None


def test_a_revoked_link_stops_at_once_and_keeps_its_first_revocation(engine: Engine, workspace_id: int) -> None:
    link_id, token = make_link(engine, workspace_id)
    with session_scope(engine) as session:
        revoke_share_link(session, workspace_id=workspace_id, link_id=link_id, now=NOON)
    with session_scope(engine) as session:
        revoke_share_link(session, workspace_id=workspace_id, link_id=link_id, now=NOON + dt.timedelta(hours=1))
    assert resolves(engine, token) is None
    with session_scope(engine) as session:
        [info] = load_share_links(session, workspace_id=workspace_id)
    assert info.revoked_at == NOON and info.status(NOON - dt.timedelta(hours=1)) == "revoked"


def test_another_workspace_cannot_revoke_or_list_a_link(engine: Engine, workspace_id: int) -> None:
    link_id, token = make_link(engine, workspace_id)
    other = other_workspace(engine)
    with session_scope(engine) as session, pytest.raises(queries.NotFound):
        revoke_share_link(session, workspace_id=other, link_id=link_id)
    with session_scope(engine) as session, pytest.raises(queries.NotFound):
        revoke_share_link(session, workspace_id=workspace_id, link_id=link_id + 100)
    assert resolves(engine, token) == link_id
    with session_scope(engine) as session:
        assert load_share_links(session, workspace_id=other) == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"days": 0}, "1 to 90 days; 0"),
        ({"days": 91}, "1 to 90 days; 91"),
        ({"days": -3}, "1 to 90 days"),
        ({"period": "2026-13"}, "write it as YYYY-MM"),
        ({"period": "Oct 2026"}, "write it as YYYY-MM"),
        ({"period": "2026-1"}, "write it as YYYY-MM"),
        ({"kind": "settings"}, "summary or overview"),
        ({"passcode": "abc"}, "4 to 72 characters"),
        ({"label": "x" * 121}, "at most 120"),
    ],
    ids=["0-days", "91-days", "negative", "month-13", "words", "one-digit-month", "kind", "short-passcode", "label"],
)
def test_bad_options_are_refused_with_a_clear_message(
    engine: Engine, workspace_id: int, options: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        make_link(engine, workspace_id, **options)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM sharelink")).scalar_one() == 0


@pytest.mark.parametrize("days", [1, 90])
def test_one_and_ninety_days_are_allowed(engine: Engine, workspace_id: int, days: int) -> None:
    _, token = make_link(engine, workspace_id, days=days, period="")
    assert resolves(engine, token, NOON + dt.timedelta(days=days, seconds=-1)) is not None


def test_period_range_covers_the_whole_month() -> None:
    assert period_range("2026-02") == (dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    assert period_range("2028-02") == (dt.date(2028, 2, 1), dt.date(2028, 2, 29))
    assert period_range("2026-12") == (dt.date(2026, 12, 1), dt.date(2026, 12, 31))


def test_share_url() -> None:
    assert share_url("https://meterr.example.com/", "abc") == "https://meterr.example.com/?share=abc"
    assert share_url("http://localhost:8501", "abc") == "http://localhost:8501/?share=abc"


def check(engine: Engine, token: str, passcode: str, now: dt.datetime) -> tuple[bool, dt.datetime | None]:
    with session_scope(engine) as session:
        link = resolve_share_link(session, token, now=now)
        assert link is not None
        result = check_passcode(session, link, passcode, now=now)
        return result.ok, result.locked_until


def test_passcode_right_wrong_then_locked_for_a_minute(engine: Engine, workspace_id: int) -> None:
    _, token = make_link(engine, workspace_id, passcode="1234")
    assert check(engine, token, "1234", NOON) == (True, None)
    for attempt in range(4):
        assert check(engine, token, "0000", NOON + dt.timedelta(seconds=attempt)) == (False, None)
    fifth = NOON + dt.timedelta(seconds=4)
    locked_until = NOON + dt.timedelta(seconds=60)  # the oldest of the five wrong ones turns a minute old
    assert check(engine, token, "0000", fifth) == (False, locked_until)
    assert check(engine, token, "1234", fifth + dt.timedelta(seconds=30)) == (False, locked_until)
    assert check(engine, token, "1234", locked_until + dt.timedelta(seconds=1)) == (True, None)


def test_a_lockout_is_per_link(engine: Engine, workspace_id: int) -> None:
    _, locked = make_link(engine, workspace_id, passcode="1234")
    _, other = make_link(engine, workspace_id, passcode="1234")
    for attempt in range(5):
        check(engine, locked, "0000", NOON + dt.timedelta(seconds=attempt))
    assert check(engine, locked, "1234", NOON + dt.timedelta(seconds=10))[0] is False
    assert check(engine, other, "1234", NOON + dt.timedelta(seconds=10)) == (True, None)


def test_a_link_without_passcode_needs_none(engine: Engine, workspace_id: int) -> None:
    _, token = make_link(engine, workspace_id)
    assert check(engine, token, "", NOON) == (True, None)


def test_record_open_counts_and_keeps_who_opened(engine: Engine, workspace_id: int) -> None:
    link_id, token = make_link(engine, workspace_id)
    for minute, agent in enumerate(["Mozilla/5.0 " + "x" * 400, None]):
        with session_scope(engine) as session:
            link = resolve_share_link(session, token, now=NOON)
            assert link is not None
            record_open(
                session, link, ip_address="203.0.113.7", user_agent=agent, now=NOON + dt.timedelta(minutes=minute)
            )
    with session_scope(engine) as session:
        [info] = load_share_links(session, workspace_id=workspace_id)
    assert (info.id, info.open_count, info.last_opened_at) == (link_id, 2, NOON + dt.timedelta(minutes=1))
    newest, oldest = info.opens
    assert (newest.opened_at, newest.ip_address, newest.user_agent) == (
        NOON + dt.timedelta(minutes=1),
        "203.0.113.7",
        "",
    )
    assert oldest.user_agent == ("Mozilla/5.0 " + "x" * 400)[:255]


def test_revoke_by_prefix_full_token_ambiguous_and_unknown(engine: Engine, workspace_id: int) -> None:
    first_id, first = make_link(engine, workspace_id)
    second_id, second = make_link(engine, workspace_id)
    third_id, _ = make_link(engine, workspace_id)
    with engine.begin() as connection:  # links whose tokens begin alike, as chance will one day have it
        for link_id, prefix in [(first_id, "abc_ef12"), (second_id, "abc_ef34"), (third_id, "abcXef56")]:
            connection.execute(
                text("UPDATE sharelink SET prefix = :prefix WHERE id = :id"), {"prefix": prefix, "id": link_id}
            )
    with (
        session_scope(engine) as session,
        pytest.raises(InvalidInput, match="2 share links start with 'abc_ef'"),
    ):  # '_' is no wildcard
        revoke_by_prefix(session, "abc_ef")
    with session_scope(engine) as session, pytest.raises(InvalidInput, match="at least the first 6"):
        revoke_by_prefix(session, "abc_e")
    with session_scope(engine) as session, pytest.raises(InvalidInput, match="letters, digits"):
        revoke_by_prefix(session, "abc%ef")
    with session_scope(engine) as session, pytest.raises(queries.NotFound):
        revoke_by_prefix(session, "zzzzzz99")
    with session_scope(engine) as session, pytest.raises(queries.NotFound):
        revoke_by_prefix(session, tampered(second))
    with session_scope(engine) as session:
        assert revoke_by_prefix(session, "abc_ef12").id == first_id
    with session_scope(engine) as session:
        assert revoke_by_prefix(session, second).id == second_id  # the whole token works too
    assert resolves(engine, first) is None and resolves(engine, second) is None


def test_revoke_by_the_real_prefix(engine: Engine, workspace_id: int) -> None:
    link_id, token = make_link(engine, workspace_id)
    with session_scope(engine) as session:
        assert revoke_by_prefix(session, token[:12]).id == link_id  # more than the stored 8 characters is fine
    assert resolves(engine, token) is None
