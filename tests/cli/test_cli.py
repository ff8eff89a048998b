"""The `meterr` command, run in-process through its main() with real databases."""

import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

import cli
from core import demo
from tests.conftest import MIGRATION_HEAD, PASSWORD, TODAY


@pytest.fixture(autouse=True)
def _env(app_env: Path) -> None:
    pass


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_demo_then_summary_json_is_exact(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "demo", "--today", TODAY.isoformat())
    assert code == 0 and "acme-ai" in out
    code, out, _ = run(capsys, "summary", "--workspace", "acme-ai", "--json")
    assert code == 0
    body = json.loads(out)
    rows = demo.build_demo_charges(TODAY)
    total = sum(r["amount_micros"] for r in rows)
    assert body["total_usd"] == f"{Decimal(total) / 1_000_000:.6f}"
    assert body["charges"] == len(rows)
    assert body["first_day"] == "2025-11-01" and body["last_day"] == TODAY.isoformat()
    assert set(body["by_provider"]) == {"AWS Bedrock", "Anthropic", "Google", "OpenAI"}
    assert sum(Decimal(v) for v in body["by_provider"].values()) == Decimal(body["total_usd"])

    code, out, _ = run(capsys, "demo", "--today", TODAY.isoformat())
    assert code == 0 and "nothing changed" in out


def test_user_add_reads_the_password_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(capsys, "demo", "--today", TODAY.isoformat())
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code, out, _ = run(
        capsys, "user", "add", "cfo", "--email", "cfo@acme.com", "--workspace", "acme-ai", "--role", "viewer"
    )
    assert code == 0 and "cfo" in out and "viewer" in out
    from core import queries, security
    from core.db import session_scope
    from tests.conftest import app_engine

    with session_scope(app_engine()) as session:
        user = queries.load_user(session, username="cfo")
        assert user is not None and security.verify_password(PASSWORD, user.password_hash)


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (["summary", "--workspace", "nope", "--json"], "", "no workspace 'nope'"),
        (["user", "add", "xena", "--email", "x@y.co", "--workspace", "acme-ai"], "weak\n", "password needs"),
        (
            ["user", "add", "bad name", "--email", "x@y.co", "--workspace", "acme-ai"],
            PASSWORD + "\n",
            "Usernames are",
        ),
        (
            ["user", "add", "xena", "--email", "not-an-email", "--workspace", "acme-ai"],
            PASSWORD + "\n",
            "email address",
        ),
    ],
    ids=["unknown-workspace", "weak-password", "bad-username", "bad-email"],
)
def test_errors_are_one_clear_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    stdin: str,
    message: str,
) -> None:
    run(capsys, "demo", "--today", TODAY.isoformat())
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("meterr: ") and message in err


def test_db_upgrade(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "db", "upgrade")
    assert code == 0 and f"{MIGRATION_HEAD} (newest)" in out


def test_console_script_is_installed() -> None:
    import shutil
    import subprocess
    import sys

    meterr = shutil.which("meterr", path=str(Path(sys.executable).parent))
    assert meterr, "the meterr console script is not installed in this environment"
    result = subprocess.run([meterr, "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "summary" in result.stdout


LEDGER = 'date,vendor,description,amount\n2026-03-04,OpenAI,API,"$1,234.56"\n2026-03-05,Anthropic,API,12.30\n'


def test_import_prints_the_result_as_json_and_is_idempotent(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    run(capsys, "demo", "--today", TODAY.isoformat())
    path = tmp_path / "ledger.csv"
    path.write_text(LEDGER)
    code, out, err = run(capsys, "import", str(path), "--workspace", "acme-ai", "--json")
    assert code == 0, err
    body = json.loads(out)
    assert {k: body[k] for k in ("format", "rows_read", "charges_written", "duplicates", "revised", "total_usd")} == {
        "format": "generic", "rows_read": 2, "charges_written": 2, "duplicates": 0, "revised": 0,
        "total_usd": "1246.860000",
    }  # fmt: skip
    assert (body["first_day"], body["last_day"], body["skipped"], body["unpriced"]) == (
        "2026-03-04", "2026-03-05", [], [],
    )  # fmt: skip
    code, out, _ = run(capsys, "import", str(path), "--workspace", "acme-ai", "--json")
    assert code == 0 and (json.loads(out)["charges_written"], json.loads(out)["duplicates"]) == (0, 2)
    code, out, _ = run(capsys, "import", str(path), "--workspace", "acme-ai")
    assert code == 0 and out.startswith("Imported $1,246.86 from Any CSV or JSON")


def test_import_of_a_bad_file_exits_2_with_one_line_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run(capsys, "demo", "--today", TODAY.isoformat())
    _, before, _ = run(capsys, "summary", "--workspace", "acme-ai", "--json")
    path = tmp_path / "bad.csv"
    path.write_text(LEDGER + "2026-03-06,OpenAI,API,lots\n")
    code, out, err = run(capsys, "import", str(path), "--workspace", "acme-ai")
    assert code == 2 and out == ""
    assert err.startswith("meterr: Row 4, column 'amount': 'lots' is not a number") and err.count("\n") == 1
    _, after, _ = run(capsys, "summary", "--workspace", "acme-ai", "--json")
    assert json.loads(after) == json.loads(before)
    code, out, _ = run(capsys, "import", str(path), "--workspace", "acme-ai", "--skip-bad-rows", "--json")
    skipped = [{"row": 4, "column": "amount", "reason": "'lots' is not a number"}]
    assert code == 0 and json.loads(out)["skipped"] == skipped


def test_import_rates_and_missing_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    run(capsys, "demo", "--today", TODAY.isoformat())
    path = tmp_path / "eur.csv"
    path.write_text("date,amount,currency\n2026-03-04,10.00,EUR\n")
    code, _, err = run(capsys, "import", str(path), "--workspace", "acme-ai")
    assert code == 2 and "EUR" in err and "EUR=1.08" in err
    code, out, _ = run(capsys, "import", str(path), "--workspace", "acme-ai", "--rate", "EUR=1.10", "--json")
    assert code == 0 and json.loads(out)["total_usd"] == "11.000000"
    code, _, err = run(capsys, "import", str(tmp_path / "nope.csv"), "--workspace", "acme-ai")
    assert code == 2 and "There is no file at" in err
    code, _, err = run(capsys, "import", str(path), "--workspace", "acme-ai", "--rate", "EUR")
    assert code == 2 and "CODE=USD_PER_UNIT" in err


def test_sync_pulls_stored_connections_and_reports_failures(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime as dt

    from core import queries
    from core.db import session_scope
    from core.settings import current_settings
    from tests.conftest import app_engine
    from tests.connectors.test_openai_costs import KEY, FakeOpenAI, cost_result
    from tests.fakes.http_server import serve

    code, out, _ = run(capsys, "sync")
    assert code == 0 and "Nothing to sync" in out
    with session_scope(app_engine()) as session:
        workspace = queries.create_workspace(session, name="Sync Co")
        assert workspace.id is not None
        connection = queries.create_connection(
            session, workspace_id=workspace.id, provider="OpenAI", method="api_key", name="OpenAI org"
        )
        queries.save_connection_secret(session, connection=connection, secret=KEY, box=current_settings().secret_box())
    fake = FakeOpenAI()
    fake.costs[dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)] = [cost_result(9.99)]
    with serve(fake) as base:
        monkeypatch.setenv("METERR_OPENAI_API_BASE", base)
        code, out, err = run(capsys, "sync", "--workspace", "sync-co", "--json")
    assert code == 0, err
    [result] = json.loads(out)
    assert (result["ok"], result["charges_written"], result["total_usd"]) == (True, 1, "9.990000")
    monkeypatch.setenv("METERR_OPENAI_API_BASE", "http://127.0.0.1:1")  # nothing listens there
    code, out, _ = run(capsys, "sync")
    assert code == 2 and out.startswith("ERR OpenAI org:") and KEY not in out


def test_roi_prints_cost_value_and_the_department_pnl(capsys: pytest.CaptureFixture[str]) -> None:
    from decimal import ROUND_HALF_EVEN

    run(capsys, "demo", "--today", TODAY.isoformat())
    start, end = "2026-10-01", "2026-10-31"
    code, out, err = run(capsys, "roi", "--workspace", "acme-ai", "--start", start, "--end", end, "--json")
    assert code == 0, err
    body = json.loads(out)
    charges = [r for r in demo.build_demo_charges(TODAY) if start <= r["day"].isoformat() <= end]
    cost = sum(r["amount_micros"] for r in charges)
    values = {o.name: o.value_usd for o in demo.DEMO_OUTCOMES}
    value = sum(
        Decimal(count) * values[name]
        for name, day, _, count in demo.build_demo_outcome_counts(TODAY)
        if start <= day.isoformat() <= end
    )
    assert body["cost_usd"] == f"{Decimal(cost) / 1_000_000:.6f}"
    assert Decimal(body["value_usd"]) == value
    expected_roi = ((value * 1_000_000 - cost) / cost).quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)
    assert Decimal(body["roi"]) == expected_roi
    rows = {row["department"]: row for row in body["departments"]}
    assert Decimal(rows["Data Science"]["net_usd"]) < 0 < Decimal(rows["Customer Support"]["net_usd"])
    assert rows["Total"]["total"] and Decimal(rows["Total"]["cost_usd"]) == Decimal(body["cost_usd"])
    code, _, err = run(capsys, "roi", "--workspace", "acme-ai", "--start", end, "--end", start)
    assert code == 2 and "--end is before --start" in err


def test_forecast_gives_month_end_ranges_per_scope_and_a_backtest(capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "demo", "--today", TODAY.isoformat())
    code, out, err = run(capsys, "forecast", "--workspace", "acme-ai", "--today", TODAY.isoformat(), "--json")
    assert code == 0, err
    body = json.loads(out)
    assert (body["month_end"], body["through"]) == ("2026-11-30", "2026-11-20")
    rows = {(r["scope"], r["name"]): r for r in body["forecasts"]}
    assert {name for scope, name in rows if scope == "department"} == set(demo.DEPARTMENTS)
    whole = rows[("workspace", "acme-ai")]
    # Realised: the demo's November charges up to the last whole day, to the micro-dollar.
    first, last = dt.date(2026, 11, 1), dt.date(2026, 11, 20)
    realised = sum(r["amount_micros"] for r in demo.build_demo_charges(TODAY) if first <= r["day"] <= last)
    assert whole["realised_usd"] == f"{Decimal(realised) / 1_000_000:.6f}"
    low95, low80 = Decimal(whole["range95_usd"][0]), Decimal(whole["range80_usd"][0])
    high80, high95 = Decimal(whole["range80_usd"][1]), Decimal(whole["range95_usd"][1])
    assert Decimal(whole["realised_usd"]) <= low95 <= low80 <= Decimal(whole["month_end_usd"]) <= high80 <= high95
    assert whole["method"] == "ets_weekly"
    assert body["backtest"]["origins"] > 0 and body["backtest"]["model_beats_run_rate"] is True
    assert {name for scope, name in rows if scope == "project"} == {w.project for w in demo.WORKLOADS}
    assert [m["month"] for m in whole["months"]] == ["2026-11", "2026-12", "2027-01", "2027-02", "2027-03",
                                                     "2027-04", "2027-05"]  # fmt: skip
    assert whole["months"][0]["median_usd"] == f"{Decimal(whole['month_end_usd']) - Decimal(realised) / 10**6:.6f}"
    states = {(b["scope"], b["name"]): b for b in body["budgets"]}
    assert {key: b["state"] for key, b in states.items()} == {
        ("workspace", ""): "on_track", ("department", "Marketing"): "overrun_predicted",
        ("department", "Data Science"): "over",
    }  # fmt: skip
    marketing = states[("department", "Marketing")]
    assert "2026-11-21" <= marketing["exceed_date"] <= "2026-11-30"
    assert marketing["sentence"].startswith("On track to exceed the $")


def test_alerts_dry_run_then_fire_once(capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "demo", "--today", TODAY.isoformat())
    args = ("alerts", "--workspace", "acme-ai", "--today", TODAY.isoformat(), "--json")
    code, out, err = run(capsys, *args, "--dry-run")
    assert code == 0, err
    dry = json.loads(out)
    assert dry["dry_run"] is True and dry["deliveries"] is None
    kinds = sorted((a["kind"], a["status"]) for a in dry["alerts"])
    assert kinds == [("overrun", "would_fire")] + [("threshold", "would_fire")] * 3
    code, out, _ = run(capsys, *args)
    fired = json.loads(out)
    assert {a["key"]: a["status"] for a in fired["alerts"]} == {a["key"]: "fired" for a in dry["alerts"]}
    assert fired["deliveries"] == {"sent": 0, "retrying": 0, "failed": 0, "errors": []}  # no channels: inbox only
    code, out, _ = run(capsys, *args)
    assert {a["status"] for a in json.loads(out)["alerts"]} == {"already_fired"}
    code, out, _ = run(capsys, "alerts", "--workspace", "acme-ai", "--today", TODAY.isoformat())
    assert code == 0 and "already_fired" in out and "Marketing" in out
    code, _, err = run(capsys, "alerts", "--workspace", "nope", "--json")
    assert code == 2 and err.strip()


def test_recommend_lists_savings_in_dollars_and_the_adopted_migration(capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "demo", "--today", TODAY.isoformat())
    code, out, err = run(capsys, "recommend", "--workspace", "acme-ai", "--today", TODAY.isoformat(), "--json")
    assert code == 0, err
    body = json.loads(out)
    assert (body["from"], body["to"]) == ("2026-10-22", "2026-11-20")
    savings = [Decimal(r["monthly_saving_usd"]) for r in body["recommendations"]]
    assert savings == sorted(savings, reverse=True) and sum(1 for s in savings if s >= 100) >= 3
    assert all(
        r["steps"] and r["method"] and r["confidence"] in ("high", "medium", "low") for r in body["recommendations"]
    )
    (adopted,) = body["adopted"]
    assert adopted["key"] == demo.DEMO_ADOPTED_KEY and adopted["adopted_on"] == "2026-07-24"
    assert Decimal(adopted["realised_monthly_usd"]) > 0
    code, out, _ = run(capsys, "recommend", "--workspace", "acme-ai", "--today", TODAY.isoformat())
    assert code == 0 and "/mo" in out and "adopted 2026-07-24" in out


def test_a_reader_closing_the_pipe_ends_quietly(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run(capsys, "demo", "--today", TODAY.isoformat())

    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def fileno(self) -> int:
            return sink.fileno()

    with (tmp_path / "sink").open("w") as sink:
        monkeypatch.setattr("sys.stdout", ClosedPipe())
        code = cli.main(["summary", "--workspace", "acme-ai"])
    assert code == 0
    assert capsys.readouterr().err == ""
