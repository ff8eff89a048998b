"""The scheduled sync in server.py: only the replica holding the lease syncs, against a fake provider."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core import queries
from core.db import session_scope
from core.models import Charge
from core.settings import current_settings
from tests.conftest import app_engine
from tests.connectors.test_openai_costs import KEY, FakeOpenAI, cost_result
from tests.fakes.http_server import serve


def test_only_the_lease_holder_syncs(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import server

    engine = app_engine()
    with session_scope(engine) as session:
        workspace = queries.create_workspace(session, name="Sched Co")
        assert workspace.id is not None
        connection = queries.create_connection(
            session, workspace_id=workspace.id, provider="OpenAI", method="api_key", name="OpenAI"
        )
        queries.save_connection_secret(session, connection=connection, secret=KEY, box=current_settings().secret_box())
    fake = FakeOpenAI()
    fake.costs[dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)] = [cost_result(3.5)]
    hour = dt.timedelta(hours=1)
    with serve(fake) as base:
        monkeypatch.setenv("METERR_OPENAI_API_BASE", base)
        assert server._sync_if_leader("replica-a", hour) == 1
        assert server._sync_if_leader("replica-b", hour) == 0  # a holds the lease for the hour
        assert server._sync_if_leader("replica-a", hour) == 1  # and renews it
    with session_scope(engine) as session:
        assert session.execute(select(func.sum(Charge.amount_micros))).scalar_one() == 3_500_000


def test_the_alert_run_fires_once_across_replicas_and_emails_once(app_env: Path) -> None:
    import server
    from core import alerts
    from tests.conftest import load_demo
    from tests.fakes.smtp_server import Mailbox, smtp_server

    engine = app_engine()
    with session_scope(engine) as session:
        workspace = queries.create_workspace(session, name="Sched Co")
        assert workspace.id is not None
        workspace_id = workspace.id
    load_demo(engine, workspace_id, dt.datetime.now(dt.UTC).date())
    box = current_settings().secret_box()
    mailbox = Mailbox()
    quarter = dt.timedelta(minutes=15)
    with smtp_server(mailbox) as port:
        with session_scope(engine) as session:
            alerts.save_smtp_server(
                session, box, workspace_id=workspace_id, host="127.0.0.1", port=port, security="none", username="",
                password=None, from_address="alerts@example.com",
            )  # fmt: skip
            alerts.save_channel(session, box, workspace_id=workspace_id, kind="email", name="CFO", target="c@f.o")
        fired = server._alerts_run("replica-a", quarter)
        assert fired >= 1  # the demo always has Data Science over its budget
        assert server._alerts_run("replica-b", quarter) == 0  # a holds the evaluation lease; b only delivers
        assert server._alerts_run("replica-a", quarter) == 0  # and a finds nothing new
    with session_scope(engine) as session:
        titles = sorted(a.title for a in alerts.load_alerts(session, workspace_id=workspace_id))
    assert len(titles) == fired
    assert sorted(str(m["Subject"]) for m in mailbox.messages()) == [f"[meterr] {t}" for t in titles]
