"""The weekly-report job in server.py's lifespan: replicas running it at once email each week's report once."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest

from core import alerts, queries
from core.db import session_scope
from core.models import utcnow
from core.report_schedules import load_sends, save_schedule, week_key
from core.settings import current_settings
from tests.conftest import app_engine, load_demo
from tests.fakes.smtp_server import Mailbox, smtp_server


def test_the_report_job_emails_the_week_once_across_replicas(app_env: Path) -> None:
    import server

    engine = app_engine()
    now = utcnow()
    with session_scope(engine) as session:
        workspace = queries.create_workspace(session, name="Sched Co")
        assert workspace.id is not None
        workspace_id = workspace.id
    load_demo(engine, workspace_id, now.date())
    mailbox = Mailbox()
    quarter = dt.timedelta(minutes=15)
    with smtp_server(mailbox) as port:
        with session_scope(engine) as session:
            alerts.save_smtp_server(
                session, current_settings().secret_box(), workspace_id=workspace_id, host="127.0.0.1", port=port,
                security="none", username="", password=None, from_address="reports@example.com",
            )  # fmt: skip
            # Today at midnight (the workspace is on UTC): always past, so this week is due now.
            save_schedule(
                session, workspace_id=workspace_id, weekday=now.weekday(), hour=0, recipients="cfo@example.com",
                enabled=True,
            )  # fmt: skip
        start = threading.Barrier(2)
        sent: list[int] = []

        def replica(holder: str) -> None:
            start.wait(10)
            sent.append(server._reports_run(holder, quarter))

        threads = [threading.Thread(target=replica, args=(name,)) for name in ("replica-a", "replica-b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert sorted(sent) == [0, 1]
        assert server._reports_run("replica-a", quarter) == 0  # a quarter later: sent this week already
    [message] = mailbox.messages()
    assert message["To"] == "cfo@example.com" and str(message["Subject"]).startswith("Sched Co · AI spend, ")
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf" and attachment.get_content().startswith(b"%PDF")
    with session_scope(engine) as session:
        [send] = load_sends(session, workspace_id=workspace_id)
    assert (send.week, send.status, send.error) == (week_key(now), "sent", None)


@pytest.mark.parametrize(("minutes", "scheduled"), [("30", True), ("0", False)], ids=["every-30", "off"])
def test_the_lifespan_schedules_the_report_job_unless_switched_off(
    app_env: Path, monkeypatch: pytest.MonkeyPatch, minutes: str, scheduled: bool
) -> None:
    import server

    started: list[tuple[int, Any, str]] = []

    async def every(interval: int, job: Any, name: str) -> None:
        started.append((interval, job, name))

    monkeypatch.setattr(server, "_every", every)
    monkeypatch.setattr(server, "_warm_up", lambda: None)
    monkeypatch.setenv("METERR_REPORT_INTERVAL_MINUTES", minutes)

    async def serve_briefly() -> None:
        async with server.lifespan(None):
            await asyncio.sleep(0.05)

    asyncio.run(serve_briefly())
    assert ((30, server._reports_run, "weekly reports") in started) is scheduled
    assert any(name == "alert run" for _, _, name in started)  # the other jobs are untouched
