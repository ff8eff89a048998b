"""`meterr share create | revoke`: the printed URL opens the link; revoking by prefix closes it."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import cli
from core import queries, share_links
from core.db import session_scope
from core.security import verify_password
from tests.conftest import app_engine


@pytest.fixture(autouse=True)
def _env(app_env: Path) -> None:
    with session_scope(app_engine()) as session:
        queries.create_workspace(session, name="Acme AI", slug="acme-ai")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def live(token: str) -> share_links.ShareLink | None:
    with session_scope(app_engine()) as session:
        return share_links.resolve_share_link(session, token)


def test_create_prints_a_url_that_opens_then_revoke_by_prefix_closes_it(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "share", "create", "--workspace", "acme-ai", "--days", "30", "--kind", "overview",
        "--period", "2026-10", "--label", "Board pack",
    )  # fmt: skip
    assert code == 0
    [url] = out.splitlines()
    assert url.startswith("http://localhost:8501/?share=")
    token = url.split("?share=", 1)[1]
    link = live(token)
    assert link is not None and (link.kind, link.period, link.label, link.created_by) == (
        "overview", "2026-10", "Board pack", None,
    )  # fmt: skip
    assert "expires" in err and f"meterr share revoke {token[:8]}" in err and len(err.splitlines()) == 1

    code, out, err = run(capsys, "share", "revoke", token[:6])
    assert code == 0 and err == ""
    assert out.startswith(f"Revoked share link {token[:8]}… ('Board pack') of 'acme-ai'")
    assert live(token) is None
    with session_scope(app_engine()) as session:
        actions = [a.action for a in queries.load_audit(session, workspace_id=link.workspace_id)]
        assert actions == ["share.revoked", "share.created"]


def test_the_whole_token_revokes_too_and_the_passcode_comes_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret\n"))
    code, out, _ = run(capsys, "share", "create", "--workspace", "acme-ai", "--days", "1", "--passcode-stdin")
    assert code == 0
    token = out.strip().split("?share=", 1)[1]
    link = live(token)
    assert link is not None and link.kind == "summary" and verify_password("s3cret", link.passcode_hash)
    assert run(capsys, "share", "revoke", token)[0] == 0
    assert live(token) is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["share", "create", "--workspace", "acme-ai", "--days", "0"], "1 to 90 days"),
        (["share", "create", "--workspace", "acme-ai", "--days", "91"], "1 to 90 days"),
        (["share", "create", "--workspace", "nope", "--days", "7"], "no workspace 'nope'"),
        (["share", "create", "--workspace", "acme-ai", "--days", "7", "--period", "2026-13"], "YYYY-MM"),
        (["share", "create", "--workspace", "acme-ai", "--days", "7", "--passcode-stdin"], "no passcode came"),
        (["share", "revoke", "abc"], "at least the first 6"),
        (["share", "revoke", "zzzzzzzz"], "No share link"),
    ],
    ids=["0-days", "91-days", "unknown-workspace", "bad-period", "empty-passcode", "short-prefix", "unknown-prefix"],
)
def test_errors_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str], message: str
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("meterr: ") and message in err and len(err.splitlines()) == 1
    with session_scope(app_engine()) as session:
        assert share_links.load_share_links(session, workspace_id=1) == []
