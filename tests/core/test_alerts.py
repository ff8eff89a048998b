"""Alerts fire once per dedupe key (even from racing replicas), the inbox, channels, the mail server, deliveries."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from core import queries
from core.alerts import (
    BACKOFF,
    MAX_ATTEMPTS,
    claim_due_deliveries,
    clean_error,
    count_unread,
    delete_channel,
    load_alerts,
    load_channels,
    load_deliveries,
    load_smtp_config,
    load_smtp_server,
    mark_all_read,
    mark_delivery_failed,
    mark_delivery_sent,
    mark_read,
    open_channel_secret,
    record_alerts,
    retry_delivery,
    save_channel,
    save_smtp_server,
)
from core.crypto import SecretBox, SecretError, decode_key, new_key_text
from core.db import make_engine, session_scope
from core.models import Alert, AlertDelivery
from core.queries import NotFound
from core.security import InvalidInput

NOW = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)
SLACK_URL = "https://hooks.slack.com/services/T0001/B0002/abcdefghijklmnopqrstuvwx"
SMTP_PASSWORD = "Sm7p-Pa55word-x9"


@dataclass(frozen=True)
class Candidate:
    dedupe_key: str
    kind: str = "threshold"
    budget_id: int | None = None
    period: str = "2026-11"
    title: str = "Marketing passed 75% of its $1,000.00 budget"
    body: str = "Marketing has spent $812.40 of $1,000.00 this month."
    amount_micros: int = 812_400_000
    detail: dict[str, Any] = field(default_factory=lambda: {"percent": 75, "budget_micros": 1_000_000_000})


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(decode_key(new_key_text()))


def other_workspace(engine: Engine) -> int:
    with session_scope(engine) as session:
        workspace = queries.create_workspace(session, name="Other Co")
        assert workspace.id is not None
        return workspace.id


def add_channels(engine: Engine, box: SecretBox, workspace_id: int) -> dict[str, int]:
    """An email and a Slack channel (enabled) and a webhook that is turned off."""
    with session_scope(engine) as session:
        email, _ = save_channel(
            session, box, workspace_id=workspace_id, kind="email", name="Finance", target="cfo@example.com"
        )
        slack, _ = save_channel(
            session, box, workspace_id=workspace_id, kind="slack", name="#ai-spend", target="", secret=SLACK_URL
        )
        hook, _ = save_channel(
            session, box, workspace_id=workspace_id, kind="webhook", name="Ops", target="https://ops.example.com/h",
            enabled=False,
        )  # fmt: skip
        assert email.id and slack.id and hook.id
        return {"email": email.id, "slack": slack.id, "webhook": hook.id}


def record(engine: Engine, workspace_id: int, *candidates: Candidate, now: dt.datetime = NOW) -> list[Alert]:
    with session_scope(engine) as session:
        return record_alerts(session, workspace_id=workspace_id, candidates=candidates, now=now)


def counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as connection:
        alerts = connection.execute(text("SELECT count(*) FROM alert")).scalar_one()
        deliveries = connection.execute(text("SELECT count(*) FROM alertdelivery")).scalar_one()
    return int(alerts), int(deliveries)


def delivery(engine: Engine, delivery_id: int) -> AlertDelivery:
    with session_scope(engine) as session:
        found = session.get(AlertDelivery, delivery_id)
        assert found is not None
        return found


# Recording ----------------------------------------------------------------------------------------


def at_once(engine: Engine, work: Callable[[Engine], object], replicas: int = 4) -> list[BaseException]:
    """Run `work` in `replicas` threads, each with its own engine on the same database, released together;
    returns what they raised."""
    url = engine.url.render_as_string(hide_password=False)
    engines = [make_engine(url) for _ in range(replicas)]
    start = threading.Barrier(replicas)
    errors: list[BaseException] = []

    def run(own: Engine) -> None:
        try:
            start.wait(10)
            work(own)
        except BaseException as exc:  # the caller asserts there were none
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(own,)) for own in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for each in engines:
        each.dispose()
    return errors


def test_an_alert_fires_once_and_queues_one_delivery_per_enabled_channel(
    engine: Engine, workspace_id: int, box: SecretBox
) -> None:
    channels = add_channels(engine, box, workspace_id)
    [alert] = record(engine, workspace_id, Candidate("budget:1:2026-11:75"))
    assert (alert.workspace_id, alert.kind, alert.period, alert.dedupe_key, alert.amount_micros) == (
        workspace_id, "threshold", "2026-11", "budget:1:2026-11:75", 812_400_000,
    )  # fmt: skip
    assert alert.detail == {"percent": 75, "budget_micros": 1_000_000_000}
    assert (alert.created_at, alert.read_at) == (NOW, None)
    with session_scope(engine) as session:
        rows = load_deliveries(session, workspace_id=workspace_id, limit=10)
    assert sorted((row.channel_id, row.status, row.attempts, row.next_attempt_at) for row in rows) == [
        (channels["email"], "pending", 0, NOW),
        (channels["slack"], "pending", 0, NOW),
    ]  # the turned-off webhook gets nothing
    assert {row.alert_title for row in rows} == {alert.title}

    again = record(engine, workspace_id, Candidate("budget:1:2026-11:75"), now=NOW + dt.timedelta(hours=1))
    assert again == []
    assert counts(engine) == (1, 2)


def test_only_new_candidates_are_returned_and_a_repeat_within_one_call_is_skipped(
    engine: Engine, workspace_id: int
) -> None:
    record(engine, workspace_id, Candidate("a"))
    new = record(engine, workspace_id, Candidate("a"), Candidate("b"), Candidate("b"), Candidate("c", kind="anomaly"))
    assert [alert.dedupe_key for alert in new] == ["b", "c"]
    assert counts(engine) == (3, 0)  # no channels: the inbox only


def test_the_same_key_in_another_workspace_is_another_alert(engine: Engine, workspace_id: int) -> None:
    other = other_workspace(engine)
    assert len(record(engine, workspace_id, Candidate("same"))) == 1
    assert len(record(engine, other, Candidate("same"))) == 1
    assert counts(engine) == (2, 0)


def test_a_concurrent_recorder_waits_and_then_records_nothing(
    engine: Engine, workspace_id: int, box: SecretBox
) -> None:
    """Replica A has inserted but not committed when replica B records the same key: B must not fire it again."""
    add_channels(engine, box, workspace_id)
    url = engine.url.render_as_string(hide_password=False)
    engines = [make_engine(url), make_engine(url)]
    inserted = threading.Event()
    results: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def replica_a() -> None:
        try:
            with session_scope(engines[0]) as session:
                new = record_alerts(session, workspace_id=workspace_id, candidates=[Candidate("k")], now=NOW)
                results["a"] = [alert.dedupe_key for alert in new]
                inserted.set()
                threading.Event().wait(0.3)  # hold the transaction open while B tries
        except BaseException as exc:  # asserted below
            errors.append(exc)
            inserted.set()

    def replica_b() -> None:
        try:
            inserted.wait(10)
            with session_scope(engines[1]) as session:
                new = record_alerts(session, workspace_id=workspace_id, candidates=[Candidate("k")], now=NOW)
                results["b"] = [alert.dedupe_key for alert in new]
        except BaseException as exc:  # asserted below
            errors.append(exc)

    threads = [threading.Thread(target=replica_a), threading.Thread(target=replica_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for each in engines:
        each.dispose()
    assert errors == []
    assert results == {"a": ["k"], "b": []}
    assert counts(engine) == (1, 2)


def test_replicas_racing_over_the_same_candidates_fire_each_once(
    engine: Engine, workspace_id: int, box: SecretBox
) -> None:
    add_channels(engine, box, workspace_id)
    fired: list[str] = []
    candidates = [Candidate(f"key-{n}") for n in range(6)]

    def replica(own: Engine) -> None:
        with session_scope(own) as session:
            new = record_alerts(session, workspace_id=workspace_id, candidates=candidates, now=NOW)
            fired.extend(alert.dedupe_key for alert in new)

    assert at_once(engine, replica) == []
    assert sorted(fired) == [f"key-{n}" for n in range(6)]
    assert counts(engine) == (6, 12)  # two enabled channels each


def test_a_candidate_with_an_unknown_kind_is_a_bug_not_an_alert(session: Session, workspace_id: int) -> None:
    with pytest.raises(ValueError, match="unknown alert kind"):
        record_alerts(session, workspace_id=workspace_id, candidates=[Candidate("x", kind="panic")], now=NOW)


# Inbox --------------------------------------------------------------------------------------------


def test_the_inbox_lists_newest_first_counts_unread_and_marks_read(engine: Engine, workspace_id: int) -> None:
    record(engine, workspace_id, Candidate("old"), now=NOW)
    record(engine, workspace_id, Candidate("new"), Candidate("newer"), now=NOW + dt.timedelta(hours=1))
    with session_scope(engine) as session:
        assert [a.dedupe_key for a in load_alerts(session, workspace_id=workspace_id)] == ["newer", "new", "old"]
        assert [a.dedupe_key for a in load_alerts(session, workspace_id=workspace_id, limit=1)] == ["newer"]
        assert count_unread(session, workspace_id=workspace_id) == 3
        old = load_alerts(session, workspace_id=workspace_id)[-1]
        assert old.id is not None
        mark_read(session, workspace_id=workspace_id, alert_id=old.id, now=NOW + dt.timedelta(hours=2))
        mark_read(session, workspace_id=workspace_id, alert_id=old.id, now=NOW + dt.timedelta(hours=3))
    with session_scope(engine) as session:
        assert count_unread(session, workspace_id=workspace_id) == 2
        assert [a.dedupe_key for a in load_alerts(session, workspace_id=workspace_id, unread_only=True)] == [
            "newer", "new",
        ]  # fmt: skip
        read = load_alerts(session, workspace_id=workspace_id)[-1]
        assert read.read_at == NOW + dt.timedelta(hours=2)  # the first reading is kept
        assert mark_all_read(session, workspace_id=workspace_id, now=NOW + dt.timedelta(hours=4)) == 2
        assert count_unread(session, workspace_id=workspace_id) == 0
        assert mark_all_read(session, workspace_id=workspace_id, now=NOW + dt.timedelta(hours=5)) == 0
    with session_scope(engine) as session:
        assert [a.read_at for a in load_alerts(session, workspace_id=workspace_id)] == [
            NOW + dt.timedelta(hours=4), NOW + dt.timedelta(hours=4), NOW + dt.timedelta(hours=2),
        ]  # fmt: skip


def test_another_workspaces_alerts_are_invisible(engine: Engine, workspace_id: int) -> None:
    other = other_workspace(engine)
    [alert] = record(engine, workspace_id, Candidate("mine"))
    assert alert.id is not None
    with session_scope(engine) as session:
        assert load_alerts(session, workspace_id=other) == []
        assert count_unread(session, workspace_id=other) == 0
        with pytest.raises(NotFound):
            mark_read(session, workspace_id=other, alert_id=alert.id, now=NOW)
        assert mark_all_read(session, workspace_id=other, now=NOW) == 0
    with session_scope(engine) as session:
        assert count_unread(session, workspace_id=workspace_id) == 1


# Channels -----------------------------------------------------------------------------------------


def test_a_webhook_gets_a_signing_secret_shown_once_and_sealed_at_rest(
    engine: Engine, workspace_id: int, box: SecretBox
) -> None:
    with session_scope(engine) as session:
        channel, secret = save_channel(
            session,
            box,
            workspace_id=workspace_id,
            kind="webhook",
            name=" Ops  hook ",
            target="https://ops.example.com/in",
        )
        channel_id = channel.id
    assert secret is not None and secret.startswith("whsec_") and len(secret) == 6 + 43
    assert (channel.name, channel.target, channel.secret_hint) == (
        "Ops hook",
        "https://ops.example.com/in",
        f"…{secret[-4:]}",
    )
    with engine.connect() as connection:
        raw = connection.execute(text("SELECT target, secret_ciphertext, secret_hint FROM notificationchannel")).one()
    assert secret not in " ".join(str(value) for value in raw)
    with session_scope(engine) as session:
        [stored] = load_channels(session, workspace_id=workspace_id)
        assert open_channel_secret(box, stored) == secret
        # Changing it without a new secret keeps the old one, and shows nothing again.
        changed, shown = save_channel(
            session, box, workspace_id=workspace_id, kind="webhook", name="Ops", target="https://ops.example.com/v2",
            channel_id=channel_id, enabled=False,
        )  # fmt: skip
        assert shown is None and open_channel_secret(box, changed) == secret
        assert (changed.target, changed.enabled) == ("https://ops.example.com/v2", False)
        # A secret the receiver chose is kept as given.
        chosen, shown = save_channel(
            session, box, workspace_id=workspace_id, kind="webhook", name="Ops", target="https://ops.example.com/v2",
            secret="receiver-chosen-secret-1234", channel_id=channel_id,
        )  # fmt: skip
        assert shown is None and open_channel_secret(box, chosen) == "receiver-chosen-secret-1234"


def test_a_slack_url_is_sealed_even_when_pasted_as_the_target(
    engine: Engine, workspace_id: int, box: SecretBox
) -> None:
    with session_scope(engine) as session:
        channel, shown = save_channel(
            session, box, workspace_id=workspace_id, kind="slack", name="#ai-spend", target=SLACK_URL
        )
        assert shown is None and channel.target == "" and channel.secret_hint == "…uvwx"
        assert open_channel_secret(box, channel) == SLACK_URL
    with engine.connect() as connection:
        raw = connection.execute(text("SELECT name, target, secret_ciphertext FROM notificationchannel")).one()
    assert "abcdefghijklmnopqrstuvwx" not in " ".join(str(value) for value in raw)


def test_a_sealed_secret_does_not_open_in_another_workspaces_row(
    engine: Engine, workspace_id: int, box: SecretBox
) -> None:
    other = other_workspace(engine)
    with session_scope(engine) as session:
        mine, _ = save_channel(
            session, box, workspace_id=workspace_id, kind="slack", name="a", target="", secret=SLACK_URL
        )
        theirs, _ = save_channel(session, box, workspace_id=other, kind="slack", name="b", target="", secret=SLACK_URL)
        theirs.secret_ciphertext = mine.secret_ciphertext
        with pytest.raises(SecretError):
            open_channel_secret(box, theirs)


def test_email_recipients_are_cleaned_and_deduplicated(session: Session, workspace_id: int, box: SecretBox) -> None:
    channel, shown = save_channel(
        session, box, workspace_id=workspace_id, kind="email", name="Finance",
        target=" cfo@example.com; Ops@Example.com\nops@example.com,, ", secret="ignored",
    )  # fmt: skip
    assert (channel.target, channel.secret_ciphertext, shown) == ("cfo@example.com, Ops@Example.com", None, None)


@pytest.mark.parametrize(
    ("kind", "name", "target", "secret", "message"),
    [
        ("sms", "x", "", None, "not a kind of channel"),
        ("email", "  ", "a@example.com", None, "Name the channel"),
        ("email", "x", "", None, "at least one email address"),
        ("email", "x", "not-an-address", None, "does not look like an email address"),
        ("email", "x", "a@example.com, <b@example.com>", None, "does not look like an email address"),
        ("email", "x", ",".join(f"p{n}@example.com" for n in range(21)), None, "at most 20"),
        ("slack", "x", "", None, "Paste the Slack incoming-webhook URL"),
        ("slack", "x", "", "http://hooks.slack.com/services/T/B/x", "must start with https://"),
        ("slack", "x", "", "not a url", "without spaces"),
        ("slack", "x", SLACK_URL, SLACK_URL, "the URL goes in its own field"),
        ("webhook", "x", "ftp://example.com/h", None, "http:// or https://"),
        ("webhook", "x", "https://", None, "name a host"),
        ("webhook", "x", "https://user:pw@example.com/h", None, "must not carry a user name or password"),
        ("webhook", "x", "https://example.com:99999/h", None, "not a valid address"),
        ("webhook", "x", "https://example.com/h", "short", "16 to 200 printable"),
    ],
    ids=[
        "unknown-kind", "no-name", "no-recipient", "bad-address", "angle-brackets", "too-many-recipients",
        "slack-without-url", "slack-over-http", "slack-not-a-url", "slack-url-twice", "webhook-ftp", "webhook-no-host",
        "webhook-credentials", "webhook-bad-port", "webhook-short-secret",
    ],
)  # fmt: skip
def test_bad_channels_say_what_to_fix(
    session: Session, workspace_id: int, box: SecretBox, kind: str, name: str, target: str, secret: str | None,
    message: str,
) -> None:  # fmt: skip
    with pytest.raises(InvalidInput, match=message):
        save_channel(session, box, workspace_id=workspace_id, kind=kind, name=name, target=target, secret=secret)
    assert load_channels(session, workspace_id=workspace_id) == []


def test_another_workspaces_channel_cannot_be_changed_or_deleted(
    engine: Engine, workspace_id: int, box: SecretBox
) -> None:
    channels = add_channels(engine, box, workspace_id)
    other = other_workspace(engine)
    with session_scope(engine) as session:
        assert load_channels(session, workspace_id=other) == []
        with pytest.raises(NotFound):
            save_channel(
                session, box, workspace_id=other, kind="email", name="x", target="a@example.com",
                channel_id=channels["email"],
            )  # fmt: skip
        with pytest.raises(NotFound):
            delete_channel(session, workspace_id=other, channel_id=channels["email"])
    with session_scope(engine) as session:
        assert [c.name for c in load_channels(session, workspace_id=workspace_id)] == ["Finance", "#ai-spend", "Ops"]


def test_deleting_a_channel_drops_its_queued_deliveries(engine: Engine, workspace_id: int, box: SecretBox) -> None:
    channels = add_channels(engine, box, workspace_id)
    record(engine, workspace_id, Candidate("k"))
    with session_scope(engine) as session:
        delete_channel(session, workspace_id=workspace_id, channel_id=channels["slack"])
    with session_scope(engine) as session:
        assert [row.channel_id for row in load_deliveries(session, workspace_id=workspace_id)] == [channels["email"]]
        assert [c.id for c in load_channels(session, workspace_id=workspace_id)] == [
            channels["email"], channels["webhook"],
        ]  # fmt: skip


# The mail server ----------------------------------------------------------------------------------


def test_the_mail_server_password_is_sealed_kept_and_cleared(engine: Engine, workspace_id: int, box: SecretBox) -> None:
    def save(password: str | None, username: str = "alerts@example.com") -> None:
        with session_scope(engine) as session:
            save_smtp_server(
                session, box, workspace_id=workspace_id, host=" smtp.example.com ", port=587, security="starttls",
                username=username, password=password, from_address="meterr <alerts@example.com>",
            )  # fmt: skip

    def opened() -> Any:
        with session_scope(engine) as session:
            return load_smtp_config(session, box, workspace_id=workspace_id)

    save(SMTP_PASSWORD)
    config = opened()
    assert (config.host, config.port, config.security, config.username, config.password, config.from_address) == (
        "smtp.example.com", 587, "starttls", "alerts@example.com", SMTP_PASSWORD, "meterr <alerts@example.com>",
    )  # fmt: skip
    assert SMTP_PASSWORD not in repr(config)
    with engine.connect() as connection:
        raw = connection.execute(text("SELECT * FROM smtpserver")).one()
    assert SMTP_PASSWORD not in " ".join(str(value) for value in raw)

    save(None)  # the form left the password empty: keep it
    assert opened().password == SMTP_PASSWORD
    save("")  # asked to forget it
    assert opened().password == ""
    save(SMTP_PASSWORD)
    save(None, username="")  # no user name: no sign-in, no password
    assert (opened().username, opened().password) == ("", "")
    with session_scope(engine) as session:
        assert load_smtp_server(session, workspace_id=other_workspace(engine)) is None
        assert load_smtp_config(session, box, workspace_id=workspace_id) is not None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"host": "https://smtp.example.com"}, "host name"),
        ({"host": ""}, "host name"),
        ({"port": 0}, "port is a number"),
        ({"port": 70000}, "port is a number"),
        ({"security": "tls"}, "connection security"),
        ({"from_address": "nobody"}, "does not look like an email address"),
        ({"from_address": "a@example.com\r\nBcc: x@example.com"}, "one line"),
        ({"username": "", "password": "secret"}, "user name that goes with"),
    ],
    ids=["url-as-host", "no-host", "port-zero", "port-too-big", "unknown-security", "bad-from", "from-injection",
         "password-without-user"],
)  # fmt: skip
def test_bad_mail_servers_say_what_to_fix(
    session: Session, workspace_id: int, box: SecretBox, changes: dict[str, Any], message: str
) -> None:
    values: dict[str, Any] = {
        "host": "smtp.example.com", "port": 587, "security": "starttls", "username": "u", "password": "p",
        "from_address": "alerts@example.com",
    } | changes  # fmt: skip
    with pytest.raises(InvalidInput, match=message):
        save_smtp_server(session, box, workspace_id=workspace_id, **values)
    assert load_smtp_server(session, workspace_id=workspace_id) is None


# Deliveries ---------------------------------------------------------------------------------------


def queued(engine: Engine, box: SecretBox, workspace_id: int) -> dict[str, int]:
    """One alert queued to the email and Slack channels; returns delivery ids by channel kind."""
    channels = add_channels(engine, box, workspace_id)
    record(engine, workspace_id, Candidate("k"))
    with session_scope(engine) as session:
        rows = load_deliveries(session, workspace_id=workspace_id)
    by_channel = {row.channel_id: row.id for row in rows}
    return {kind: by_channel[channel_id] for kind, channel_id in channels.items() if channel_id in by_channel}


def claim(engine: Engine, now: dt.datetime, **kwargs: Any) -> list[int]:
    with session_scope(engine) as session:
        return [d.id or 0 for d in claim_due_deliveries(session, now=now, **kwargs)]


def test_a_claimed_delivery_is_not_claimed_again_until_its_claim_runs_out(
    engine: Engine, workspace_id: int, box: SecretBox
) -> None:
    ids = queued(engine, box, workspace_id)
    assert claim(engine, NOW - dt.timedelta(seconds=1)) == []  # not due yet
    assert claim(engine, NOW, limit=1) == [ids["email"]]
    assert (delivery(engine, ids["email"]).status, delivery(engine, ids["email"]).claimed_until) == (
        "sending", NOW + dt.timedelta(seconds=120),
    )  # fmt: skip
    assert claim(engine, NOW) == [ids["slack"]]
    assert claim(engine, NOW + dt.timedelta(seconds=119)) == []
    # The sender stopped without a word: after its claim another sender may try.
    assert claim(engine, NOW + dt.timedelta(seconds=121)) == [ids["email"], ids["slack"]]


def test_senders_claiming_at_once_never_share_a_delivery(engine: Engine, workspace_id: int, box: SecretBox) -> None:
    add_channels(engine, box, workspace_id)
    record(engine, workspace_id, *(Candidate(f"k{n}") for n in range(10)))  # 20 deliveries
    claimed: list[list[int]] = []
    assert at_once(engine, lambda own: claimed.append(claim(own, NOW, limit=8))) == []
    every = [delivery_id for batch in claimed for delivery_id in batch]
    assert len(every) == len(set(every))  # nobody got a delivery another sender got
    assert 8 <= len(every) <= 20


def test_failures_back_off_then_give_up_and_a_retry_starts_afresh(
    engine: Engine, workspace_id: int, box: SecretBox
) -> None:
    ids = queued(engine, box, workspace_id)
    target = ids["slack"]
    at = NOW
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert target in claim(engine, at)
        with session_scope(engine) as session:
            status = mark_delivery_failed(session, target, now=at, error=f"Slack refused the message (500) #{attempt}")
        found = delivery(engine, target)
        assert (found.attempts, found.last_error, found.claimed_until) == (
            attempt, f"Slack refused the message (500) #{attempt}", None,
        )  # fmt: skip
        if attempt < MAX_ATTEMPTS:
            assert (status, found.status, found.next_attempt_at) == ("pending", "pending", at + BACKOFF[attempt - 1])
            assert target not in claim(engine, at + BACKOFF[attempt - 1] - dt.timedelta(seconds=1))
            at += BACKOFF[attempt - 1]
        else:
            assert (status, found.status) == ("failed", "failed")
    assert [b.total_seconds() for b in BACKOFF] == [60, 300, 1800, 7200]
    assert target not in claim(engine, at + dt.timedelta(days=30))  # given up

    later = at + dt.timedelta(days=1)
    with session_scope(engine) as session:
        retry_delivery(session, workspace_id=workspace_id, delivery_id=target, now=later)
    found = delivery(engine, target)
    assert (found.status, found.attempts, found.next_attempt_at) == ("pending", 0, later)
    assert claim(engine, later) == [target]
    with session_scope(engine) as session:
        mark_delivery_sent(session, target, now=later)
    found = delivery(engine, target)
    assert (found.status, found.attempts, found.sent_at, found.last_error) == ("sent", 1, later, None)
    with session_scope(engine) as session, pytest.raises(InvalidInput, match="already sent"):
        retry_delivery(session, workspace_id=workspace_id, delivery_id=target, now=later)


def test_a_late_failure_report_does_not_undo_a_send(engine: Engine, workspace_id: int, box: SecretBox) -> None:
    ids = queued(engine, box, workspace_id)
    claim(engine, NOW)
    with session_scope(engine) as session:
        mark_delivery_sent(session, ids["email"], now=NOW)
        assert mark_delivery_failed(session, ids["email"], now=NOW, error="timed out") is None
        assert mark_delivery_failed(session, ids["slack"], now=NOW, error="boom", final=True) == "failed"
    assert delivery(engine, ids["email"]).status == "sent"
    assert (delivery(engine, ids["slack"]).status, delivery(engine, ids["slack"]).attempts) == ("failed", 1)


def test_stored_errors_are_one_short_line_without_url_paths() -> None:
    error = "Could not post to https://hooks.slack.com/services/T1/B2/secretpart?x=1 and http://u:p@host.test/a\n b"
    assert clean_error(error) == "Could not post to hooks.slack.com/… and host.test/… b"
    assert len(clean_error("x" * 2000)) == 500
    assert clean_error("  ") == "Unknown error"


def test_another_workspaces_deliveries_are_invisible_and_cannot_be_retried(
    engine: Engine, workspace_id: int, box: SecretBox
) -> None:
    ids = queued(engine, box, workspace_id)
    other = other_workspace(engine)
    with session_scope(engine) as session:
        assert load_deliveries(session, workspace_id=other) == []
        with pytest.raises(NotFound):
            retry_delivery(session, workspace_id=other, delivery_id=ids["email"], now=NOW)
        assert len(load_deliveries(session, workspace_id=workspace_id)) == 2


def test_a_delivery_being_sent_cannot_be_retried(engine: Engine, workspace_id: int, box: SecretBox) -> None:
    ids = queued(engine, box, workspace_id)
    claim(engine, NOW)
    with session_scope(engine) as session, pytest.raises(InvalidInput, match="right now"):
        retry_delivery(session, workspace_id=workspace_id, delivery_id=ids["email"], now=NOW)
