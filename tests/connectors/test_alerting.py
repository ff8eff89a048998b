"""The alert run end to end on the demo workspace: evaluate, record once, email once through a real SMTP server."""

from __future__ import annotations

import datetime as dt
import threading

import httpx
import pytest
from sqlalchemy import Engine, func, select

from connectors import alerting, notify
from core import alerts, budgets
from core.crypto import SecretBox, decode_key, new_key_text
from core.db import session_scope
from core.models import Alert, AlertDelivery
from tests.conftest import TODAY, load_demo
from tests.fakes.smtp_server import Mailbox, smtp_server

NOW = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(decode_key(new_key_text()))


def expected_keys(engine: Engine, workspace_id: int) -> set[str]:
    """The demo's story, worked out from its budgets: Data Science is over (both thresholds crossed), Marketing
    has passed 75% and is predicted to overrun, the workspace is comfortably within its budget."""
    with session_scope(engine) as session:
        ids = {b.scope_value: b.id for b in budgets.load_budgets(session, workspace_id=workspace_id)}
    return {
        f"budget:{ids['Data Science']}:2026-11:threshold:75", f"budget:{ids['Data Science']}:2026-11:threshold:100",
        f"budget:{ids['Marketing']}:2026-11:threshold:75", f"budget:{ids['Marketing']}:2026-11:overrun",
    }  # fmt: skip


def test_the_demo_alerts_fire_once_and_arrive_by_email_exactly_once(
    engine: Engine, workspace_id: int, box: SecretBox
) -> None:
    load_demo(engine, workspace_id, TODAY)
    mailbox = Mailbox()
    with smtp_server(mailbox) as port, httpx.Client() as client:
        with session_scope(engine) as session:
            alerts.save_smtp_server(
                session, box, workspace_id=workspace_id, host="127.0.0.1", port=port, security="none", username="",
                password=None, from_address="meterr <alerts@example.com>",
            )  # fmt: skip
            alerts.save_channel(
                session, box, workspace_id=workspace_id, kind="email", name="Finance", target="cfo@example.com"
            )
        first = alerting.run_alerts(engine, workspace_id=workspace_id, today=TODAY, now=NOW)
        assert set(first.fired) == expected_keys(engine, workspace_id) and first.already == ()
        report = notify.deliver_due(lambda: session_scope(engine), box, client=client, now=NOW, base_url=None)
        assert (report.sent, report.failed, report.retrying) == (4, 0, 0)

        again = alerting.run_alerts(engine, workspace_id=workspace_id, today=TODAY, now=NOW + dt.timedelta(hours=1))
        assert again.fired == () and set(again.already) == set(first.fired)
        later = NOW + dt.timedelta(hours=1)
        report = notify.deliver_due(lambda: session_scope(engine), box, client=client, now=later, base_url=None)
        assert report.claimed == 0

    with session_scope(engine) as session:
        titles = {a.title for a in alerts.load_alerts(session, workspace_id=workspace_id)}
    received = mailbox.messages()
    assert len(received) == 4
    assert sorted(str(m["Subject"]) for m in received) == sorted(f"[meterr] {t}" for t in titles)
    assert all(m["To"] == "cfo@example.com" for m in received)
    overrun = next(m for m in received if "on track to exceed" in str(m["Subject"]))
    body = overrun.get_body(preferencelist=("plain",))
    assert body is not None and "Marketing" in body.get_content()


def test_two_evaluators_at_once_record_each_alert_once(engine: Engine, workspace_id: int, box: SecretBox) -> None:
    load_demo(engine, workspace_id, TODAY)
    with session_scope(engine) as session:
        alerts.save_channel(session, box, workspace_id=workspace_id, kind="email", name="Finance", target="a@b.co")
    runs: list[alerting.AlertRun] = []
    start = threading.Barrier(2)

    def evaluate() -> None:
        start.wait()
        runs.append(alerting.run_alerts(engine, workspace_id=workspace_id, today=TODAY, now=NOW))

    threads = [threading.Thread(target=evaluate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(runs) == 2
    fired = [key for run in runs for key in run.fired]
    assert sorted(fired) == sorted(expected_keys(engine, workspace_id))  # each key fired by exactly one replica
    with session_scope(engine) as session:
        assert session.execute(select(func.count()).select_from(Alert)).scalar_one() == 4
        assert session.execute(select(func.count()).select_from(AlertDelivery)).scalar_one() == 4


def test_a_dry_run_records_nothing(engine: Engine, workspace_id: int) -> None:
    load_demo(engine, workspace_id, TODAY)
    run = alerting.run_alerts(engine, workspace_id=workspace_id, today=TODAY, now=NOW, dry_run=True)
    assert {c.dedupe_key for c in run.candidates} == expected_keys(engine, workspace_id)
    assert run.fired == () and run.already == ()
    with session_scope(engine) as session:
        assert session.execute(select(func.count()).select_from(Alert)).scalar_one() == 0
