"""`meterr report`: the executive summary as a PDF file, or emailed now through a real loopback SMTP server."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import col

import cli
from core import alerts, queries
from core.db import session_scope
from core.models import AuditLog, ReportSend
from core.report_schedules import save_schedule
from core.settings import current_settings
from tests.conftest import TODAY, app_engine
from tests.fakes.smtp_server import Mailbox, smtp_server


@pytest.fixture(autouse=True)
def _env(app_env: Path) -> None:
    pass


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def pdf_text(path: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout


def demo(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "demo", "--today", TODAY.isoformat())
    assert code == 0, err


def set_up_mail(port: int | None, *, recipients: str | None = "cfo@example.com, ceo@example.com") -> None:
    with session_scope(app_engine()) as session:
        workspace = queries.load_workspace(session, slug="acme-ai")
        assert workspace.id is not None
        if port is not None:
            alerts.save_smtp_server(
                session, current_settings().secret_box(), workspace_id=workspace.id, host="127.0.0.1", port=port,
                security="none", username="", password=None, from_address="meterr <reports@example.com>",
            )  # fmt: skip
        if recipients is not None:
            save_schedule(session, workspace_id=workspace.id, weekday=0, hour=8, recipients=recipients, enabled=True)


def test_report_writes_the_pdf_under_its_own_name_or_where_told(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo(capsys)
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "report", "--workspace", "acme-ai", "--today", TODAY.isoformat())
    assert code == 0, err
    written = tmp_path / "meterr-acme-ai-2026-11.pdf"
    assert out.startswith(f"Wrote {written.name} (") and out.count("\n") == 1
    assert out.rstrip().endswith(("charts included)", "tables instead of charts: Chromium is not available)"))
    assert written.read_bytes().startswith(b"%PDF")
    text = pdf_text(written)
    assert "Acme AI" in text and "November 2026" in text
    pages = int(out.split("(", 1)[1].split(" page", 1)[0])
    assert pages >= 1 and text.count("\f") == pages  # pdftotext ends every page with a form feed

    target = tmp_path / "board" / "october.pdf"
    target.parent.mkdir()
    code, out, err = run(
        capsys, "report", "--workspace", "acme-ai", "--period", "2026-10", "--out", str(target),
        "--today", TODAY.isoformat(),
    )  # fmt: skip
    assert code == 0, err
    assert out.startswith(f"Wrote {target} (")
    assert "October 2026" in pdf_text(target)


def test_report_email_delivers_the_pdf_to_the_weekly_list_or_to_whom_it_is_told(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    demo(capsys)
    mailbox = Mailbox()
    with smtp_server(mailbox) as port:
        set_up_mail(port)
        code, out, err = run(capsys, "report", "--workspace", "acme-ai", "--email", "--today", TODAY.isoformat())
        assert (code, err) == (0, "")
        assert out == "Emailed the November 2026 report to cfo@example.com, ceo@example.com.\n"
        target = tmp_path / "copy.pdf"
        code, out, err = run(
            capsys, "report", "--workspace", "acme-ai", "--email", "--to", "board@example.com", "--out", str(target),
            "--today", TODAY.isoformat(),
        )  # fmt: skip
        assert code == 0, err
        lines = out.splitlines()
        assert lines[0].startswith(f"Wrote {target} (") and lines[1:] == [
            "Emailed the November 2026 report to board@example.com."
        ]
    first, second = mailbox.messages()
    assert (first["To"], second["To"]) == ("cfo@example.com, ceo@example.com", "board@example.com")
    assert first["Subject"] == "Acme AI · AI spend, November 2026 (month to date)"
    [attachment] = list(second.iter_attachments())
    assert attachment.get_filename() == "meterr-acme-ai-2026-11.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == target.read_bytes()
    with session_scope(app_engine()) as session:
        audit = session.execute(
            select(AuditLog).where(col(AuditLog.action) == "report.emailed").order_by(col(AuditLog.id))
        ).scalars()
        assert [(a.detail["via"], a.detail["recipients"]) for a in audit] == [
            ("cli", "cfo@example.com, ceo@example.com"), ("cli", "board@example.com"),
        ]  # fmt: skip
        assert session.execute(select(ReportSend)).first() is None  # manual sends leave the weekly claim alone


@pytest.mark.parametrize(
    ("argv", "smtp", "message"),
    [
        pytest.param(["--workspace", "nope"], False, "There is no workspace 'nope'", id="unknown-workspace"),
        pytest.param(
            ["--period", "2026-13"],
            False,
            "'2026-13' is not a month; give it as YYYY-MM, for example 2026-10.",
            id="bad-period",
        ),
        pytest.param(
            ["--period", "2026-12"],
            False,
            "December 2026 has no whole day of spend yet; choose November 2026",
            id="future-period",
        ),
        pytest.param(["--to", "a@b.co"], False, "--to goes with --email", id="to-without-email"),
        pytest.param(["--email"], False, "Set up an email server in Settings → Notifications first.", id="no-smtp"),
        pytest.param(["--email"], True, "There is no one to send the report to", id="no-recipients"),
        pytest.param(["--email", "--to", "the board"], True, "'the' does not look like an email", id="bad-to"),
        pytest.param(["--out", "missing/report.pdf"], False, "There is no folder missing", id="no-folder"),
        pytest.param(["--out", "."], False, ". is a folder; give a file name", id="out-is-a-folder"),
    ],
)
def test_report_errors_are_one_clear_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    smtp: bool,
    message: str,
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    with session_scope(app_engine()) as session:
        queries.create_workspace(session, name="Acme AI", slug="acme-ai")
    if smtp:
        set_up_mail(25, recipients=None)  # never contacted: the check comes before the report is built
    if "--workspace" not in argv:
        argv = ["--workspace", "acme-ai", *argv]
    code, out, err = run(capsys, "report", *argv, "--today", TODAY.isoformat())
    assert (code, out) == (2, "")
    assert err.startswith("meterr: ") and message in err and err.count("\n") == 1
    assert list(work.iterdir()) == []  # nothing written
