"""The `meterr` command: demo, user, summary, import, sync, roi, forecast, alerts, report, recommend, share,
db and bench."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import os
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from core import demo, queries, security
from core.db import cached_engine, session_scope, upgrade
from core.money import decimal_string, format_usd, to_micros
from core.settings import current_settings


class CliError(Exception):
    """A problem the person can fix; printed as one line, exit code 2."""


def _engine():  # type: ignore[no-untyped-def]
    engine = cached_engine(current_settings().database_url)
    upgrade(engine)
    return engine


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date; use YYYY-MM-DD") from exc


def cmd_demo(args: argparse.Namespace) -> int:
    today = args.today or dt.datetime.now(dt.UTC).date()
    with session_scope(_engine()) as session:
        result = demo.create_demo_workspace(session, today=today, slug=args.workspace)
    if result.charges_written == 0:
        print(f"Demo workspace '{result.slug}' was already loaded; nothing changed.")
    else:
        print(
            f"Demo workspace '{result.slug}' ready: {result.charges_written:,} charges, "
            f"${decimal_string(result.total_micros)} over 12 months."
        )
    return 0


def _read_password(prompt: str) -> str:
    if sys.stdin.isatty():
        first = getpass.getpass(prompt)
        if getpass.getpass("Again: ") != first:
            raise CliError("The two passwords differ.")
        return first
    return sys.stdin.readline().rstrip("\n")


def cmd_user_add(args: argparse.Namespace) -> int:
    password = _read_password(f"Password for {args.username}: ")
    with session_scope(_engine()) as session:
        workspace = queries.load_workspace(session, slug=args.workspace)
        user = queries.create_user(
            session,
            username=args.username,
            email=args.email,
            name=args.name or args.username,
            password=password,
            rounds=current_settings().bcrypt_rounds,
        )
        assert workspace.id is not None and user.id is not None
        queries.add_member(session, workspace_id=workspace.id, user_id=user.id, role=args.role)
        queries.save_audit(
            session,
            workspace_id=workspace.id,
            user_id=None,
            action="member.added",
            username=user.username,
            role=args.role,
            via="cli",
        )
    print(f"User '{user.username}' added to '{workspace.slug}' as {args.role}.")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    with session_scope(_engine()) as session:
        workspace = queries.load_workspace(session, slug=args.workspace)
        assert workspace.id is not None
        summary = queries.load_workspace_summary(session, workspace_id=workspace.id)
    body = {
        "workspace": workspace.slug,
        "total_usd": decimal_string(summary.total_micros),
        "charges": summary.charges,
        "by_provider": {name: decimal_string(micros) for name, micros in summary.by_provider.items()},
        "first_day": summary.first_day.isoformat() if summary.first_day else None,
        "last_day": summary.last_day.isoformat() if summary.last_day else None,
    }
    if args.json:
        print(json.dumps(body, indent=2))
    else:
        print(
            f"{workspace.name}: ${body['total_usd']} in {summary.charges:,} charges, "
            f"{body['first_day']} to {body['last_day']}"
        )
        for name, amount in body["by_provider"].items():
            print(f"  {name:<14} ${amount}")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    revision = upgrade(cached_engine(current_settings().database_url))
    print(f"Database is at migration {revision} (newest).")
    return 0


def _rates(pairs: Sequence[str]) -> dict[str, Decimal]:
    from connectors.files.normalise import parse_rates

    table = {}
    for pair in pairs:
        code, sep, value = pair.partition("=")
        if not sep:
            raise CliError(f"'{pair}' is not a rate; write it as CODE=USD_PER_UNIT, e.g. --rate EUR=1.08")
        table[code] = value
    return parse_rates(table)


def cmd_import(args: argparse.Namespace) -> int:
    from connectors.files.base import MAX_BYTES, too_big_message
    from connectors.imports import import_file

    path = Path(args.path)
    if not path.is_file():
        raise CliError(f"There is no file at {path}.")
    if path.stat().st_size > MAX_BYTES:
        raise CliError(too_big_message(path.stat().st_size))
    with session_scope(_engine()) as session:
        workspace = queries.load_workspace(session, slug=args.workspace)
        assert workspace.id is not None
        result = import_file(
            session,
            workspace_id=workspace.id,
            name=path.name,
            data=path.read_bytes(),
            format=args.format,
            skip_bad_rows=args.skip_bad_rows,
            rates=_rates(args.rate),
        )
    if args.json:
        print(json.dumps(result.as_json(), indent=2))
        return 0
    span = f"{result.first_day} to {result.last_day}" if result.first_day else "no days"
    print(
        f"Imported {format_usd(to_micros(result.total_usd))} from {result.format_label} ({span}): "
        f"{result.charges_written:,} new charges, {result.revised:,} revised, {result.duplicates:,} already there; "
        f"{result.rows_read:,} rows read."
    )
    for skipped in result.skipped:
        print(f"  skipped row {skipped.row} ({skipped.column}): {skipped.reason}")
    for item in result.unpriced:
        print(f"  not priced: {item.provider} {item.model}, {item.rows:,} rows (no price known; not stored)")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    import httpx

    from connectors.sync import sync_all

    settings = current_settings()
    engine = _engine()
    workspace_id = None
    if args.workspace:
        with session_scope(engine) as session:
            workspace_id = queries.load_workspace(session, slug=args.workspace).id
    with httpx.Client(timeout=60) as client:
        results = sync_all(
            engine,
            client=client,
            box=settings.secret_box(),
            today=dt.datetime.now(dt.UTC).date(),
            base_url_for=settings.api_base,
            workspace_id=workspace_id,
            connection_id=args.connection,
        )
    if args.json:
        print(json.dumps([r.as_json() for r in results], indent=2))
    elif not results:
        print("Nothing to sync: no API connection with a stored key.")
    for result in results if not args.json else []:
        print(f"{'ok ' if result.ok else 'ERR'} {result.name or result.connection_id}: {result.message}")
    return 0 if all(r.ok for r in results) else 2


def _period(args: argparse.Namespace) -> tuple[dt.date, dt.date]:
    today = dt.datetime.now(dt.UTC).date()
    start = args.start or today.replace(day=1)
    end = args.end or today
    if end < start:
        raise CliError("--end is before --start.")
    return start, end


def cmd_roi(args: argparse.Namespace) -> int:
    from core import outcomes
    from insights import roi

    start, end = _period(args)
    with session_scope(_engine()) as session:
        workspace = queries.load_workspace(session, slug=args.workspace)
        assert workspace.id is not None
        spend = queries.load_spend_breakdown(session, workspace_id=workspace.id, start=start, end=end)
        totals = outcomes.load_outcome_totals(session, workspace_id=workspace.id, start=start, end=end)
    cost_by = {str(k): int(v) for k, v in spend.groupby("department")["amount_micros"].sum().items()}
    value_by = {str(k): int(v) for k, v in totals.groupby("department")["value_micros"].sum().items()}
    count_by = {str(k): int(v) for k, v in totals.groupby("department")["count"].sum().items()}
    summary = roi.compute_roi(sum(cost_by.values()), sum(value_by.values()), days=(end - start).days + 1)
    pnl = roi.compute_department_pnl(cost_by, value_by, count_by)

    def ratio(value: Decimal | None) -> str | None:
        return None if value is None else f"{value.quantize(Decimal('0.000001')):f}"

    body = {
        "workspace": workspace.slug, "start": start.isoformat(), "end": end.isoformat(),
        "cost_usd": decimal_string(summary.cost_micros), "value_usd": decimal_string(summary.value_micros),
        "net_usd": decimal_string(summary.net_micros), "roi": ratio(summary.roi),
        "payback_days": ratio(summary.payback_days), "verdict": summary.verdict,
        "departments": [
            {"department": row.department, "cost_usd": decimal_string(row.cost_micros),
             "value_usd": decimal_string(row.value_micros), "net_usd": decimal_string(row.net_micros),
             "roi": ratio(row.roi), "outcomes": row.outcomes, "total": row.is_total,
             "cost_per_outcome_usd": None if row.cost_per_outcome_micros is None
             else decimal_string(row.cost_per_outcome_micros)}
            for row in pnl
        ],
    }  # fmt: skip
    if args.json:
        print(json.dumps(body, indent=2))
        return 0
    print(f"{workspace.name}, {start} to {end}: {summary.verdict}.")
    print(f"  cost {format_usd(summary.cost_micros)}, value {format_usd(summary.value_micros)}, net "
          f"{format_usd(summary.net_micros)}")  # fmt: skip
    for row in pnl:
        share = "n/a" if row.roi is None else f"{row.roi * 100:.0f}%"
        print(f"  {row.department:<20} cost {format_usd(row.cost_micros):>12}  value {format_usd(row.value_micros):>12}"
              f"  ROI {share}")  # fmt: skip
    return 0


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def cmd_forecast(args: argparse.Namespace) -> int:
    from connectors import alerting
    from insights import forecast

    today = args.today or dt.datetime.now(dt.UTC).date()
    with session_scope(_engine()) as session:
        workspace = queries.load_workspace(session, slug=args.workspace)
        assert workspace.id is not None
        view = alerting.load_outlook(session, workspace_id=workspace.id, today=today)
    rows = []
    for scope, item in sorted(view.scopes.items()):
        total = item.month_end
        rows.append({
            "scope": scope.kind, "name": scope.value or workspace.slug, "method": item.forecast.method,
            "realised_usd": decimal_string(item.realised_micros), "month_end_usd": decimal_string(total.median),
            "range80_usd": [decimal_string(total.lower80), decimal_string(total.upper80)],
            "range95_usd": [decimal_string(total.lower95), decimal_string(total.upper95)],
            "months": [
                {"month": m.month.isoformat()[:7], "days": m.days, "median_usd": decimal_string(m.median),
                 "range80_usd": [decimal_string(m.lower80), decimal_string(m.upper80)]}
                for m in item.forecast.months
            ],
        })  # fmt: skip
    budget_rows = [
        {
            "scope": b.spec.scope, "name": b.spec.scope_value, "amount_usd": decimal_string(b.spec.amount_micros),
            "state": b.state, "realised_usd": decimal_string(b.realised_micros),
            "projected_usd": decimal_string(b.projected.median), "exceed_date": _iso(b.exceed_date),
            "exceed_range80": [_iso(b.exceed_earliest), _iso(b.exceed_latest)], "sentence": b.sentence,
        }
        for b in view.budgets
    ]  # fmt: skip
    history = view.daily[forecast.WORKSPACE]
    backtest = forecast.compute_backtest(history, today=view.through)
    body = {
        "workspace": args.workspace, "month_end": view.month_end.isoformat(), "through": view.through.isoformat(),
        "forecasts": rows,
        "budgets": budget_rows,
        "backtest": {
            "origins": backtest.origins, "model": backtest.model_method,
            "mase": {s.name: s.mase for s in (backtest.model, backtest.seasonal_naive, backtest.run_rate)},
            "mape_percent": {s.name: s.mape for s in (backtest.model, backtest.seasonal_naive, backtest.run_rate)},
            "model_beats_run_rate": backtest.model_beats_run_rate,
        },
    }  # fmt: skip
    if args.json:
        print(json.dumps(body, indent=2))
        return 0
    for row in rows:
        low, high = row["range80_usd"]
        print(f"{row['scope']:<10} {row['name']:<22} month end ${row['month_end_usd']} (80%: ${low} – ${high})")
    for budget in budget_rows:
        print(f"budget     {budget['name'] or 'workspace':<22} {budget['sentence']}")
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    import httpx

    from connectors import alerting, notify

    settings = current_settings()
    engine = _engine()
    today = args.today or dt.datetime.now(dt.UTC).date()
    now = dt.datetime.now(dt.UTC)
    with session_scope(engine) as session:
        workspace = queries.load_workspace(session, slug=args.workspace)
        assert workspace.id is not None
    run = alerting.run_alerts(engine, workspace_id=workspace.id, today=today, now=now, dry_run=args.dry_run)
    report = None
    if not args.dry_run:
        with httpx.Client(timeout=30) as client:
            report = notify.deliver_due(
                lambda: session_scope(engine), settings.secret_box(), client=client, now=now,
                base_url=settings.base_url, workspace_id=workspace.id,
            )  # fmt: skip
    body = {
        "workspace": run.slug, "today": today.isoformat(), "dry_run": args.dry_run,
        "alerts": [
            {"kind": c.kind, "key": c.dedupe_key, "title": c.title, "amount_usd": decimal_string(c.amount_micros),
             "status": "fired" if c.dedupe_key in run.fired else "already_fired" if c.dedupe_key in run.already
             else "would_fire"}
            for c in run.candidates
        ],
        "deliveries": None if report is None else {
            "sent": report.sent, "retrying": report.retrying, "failed": report.failed, "errors": report.errors,
        },
    }  # fmt: skip
    if args.json:
        print(json.dumps(body, indent=2))
        return 0
    if not run.candidates:
        print(f"{run.slug}: nothing to alert about.")
    for alert in body["alerts"]:  # type: ignore[union-attr]
        print(f"{alert['status']:<13} {alert['title']}")
    if report is not None:
        print(f"deliveries: {report.sent} sent, {report.retrying} to retry, {report.failed} failed")
    return 0


def _pdf_pages(pdf: bytes) -> int:
    import re

    return len(re.findall(rb"/Type\s*/Page(?![A-Za-z])", pdf))


def cmd_report(args: argparse.Namespace) -> int:
    import httpx

    from connectors import llm, report_mail, reporting
    from connectors.notify import NotifyError
    from core.report_schedules import zone
    from insights.facts import PeriodError

    if args.to and not args.email:
        raise CliError("--to goes with --email, e.g. meterr report --workspace acme-ai --email --to cfo@example.com")
    out = Path(args.out) if args.out else None
    if out is not None and out.is_dir():
        raise CliError(f"{out} is a folder; give a file name, e.g. --out {out / 'report.pdf'}")
    if out is not None and not out.parent.is_dir():
        raise CliError(f"There is no folder {out.parent}; create it first or choose another --out.")
    settings = current_settings()
    engine = _engine()
    box = settings.secret_box()
    with session_scope(engine) as session:
        workspace = queries.load_workspace(session, slug=args.workspace)
        assert workspace.id is not None
        if args.email:  # refuse before spending seconds on the report
            try:
                report_mail.manual_recipients(session, box, workspace_id=workspace.id, to=args.to)
            except NotifyError as problem:
                raise CliError(str(problem)) from None
    today = args.today or dt.datetime.now(zone(workspace.timezone)).date()
    with httpx.Client(timeout=60) as client, session_scope(engine) as session:
        try:
            report = reporting.build_report(
                session, workspace_id=workspace.id, today=today, period=args.period, llm=llm.llm_config(settings),
                http_client=client,
            )  # fmt: skip
        except PeriodError as problem:
            raise CliError(str(problem)) from None
    if out is None and not args.email:
        out = Path(report.filename)
    if out is not None:
        out.write_bytes(report.pdf)
        pages = _pdf_pages(report.pdf)
        drawn = "charts included" if report.charts else "tables instead of charts: Chromium is not available"
        print(f"Wrote {out} ({pages} page{'' if pages == 1 else 's'}, {drawn})")
    if args.email:
        try:
            sent = report_mail.send_report_now(
                lambda: session_scope(engine), box, report, workspace_id=workspace.id, base_url=settings.base_url,
                to=args.to, via="cli",
            )  # fmt: skip
        except NotifyError as problem:
            raise CliError(str(problem)) from None
        print(f"Emailed the {report.facts.period.label} report to {', '.join(sent.recipients)}.")
        if sent.refused:
            print(f"meterr: the mail server refused {', '.join(sent.refused)}.", file=sys.stderr)
            return 2
    return 0


def cmd_recommend(args: argparse.Namespace) -> int:
    from core import decisions
    from insights import advice

    today = args.today or dt.datetime.now(dt.UTC).date()
    start, end = advice.analysis_window(today)
    with session_scope(_engine()) as session:
        workspace = queries.load_workspace(session, slug=args.workspace)
        assert workspace.id is not None
        chosen = {
            key: (row.status, row.title, row.estimated_monthly_micros, dict(row.detail))
            for key, row in decisions.load_decisions(session, workspace_id=workspace.id).items()
        }
        adopted_days = [dt.date.fromisoformat(str(d["adopted_on"])) for s, _, _, d in chosen.values() if s == "adopted"]
        since = min([start, *(day - dt.timedelta(days=advice.WINDOW_DAYS) for day in adopted_days)])
        usage = queries.load_usage_profile(session, workspace_id=workspace.id, start=start, end=end)
        daily = queries.load_model_daily(session, workspace_id=workspace.id, start=since, end=end)
        hourly = queries.load_hourly_profile(session, workspace_id=workspace.id, start=start, end=end)
    view = advice.compute_advice(usage, daily, chosen, today=today, hourly=hourly, timezone=workspace.timezone)
    body = {
        "workspace": workspace.slug, "from": start.isoformat(), "to": end.isoformat(),
        "recommendations": [
            {"key": r.key, "kind": r.kind, "title": r.title,
             "monthly_saving_usd": decimal_string(r.monthly_saving_micros),
             "current_monthly_usd": decimal_string(r.current_monthly_micros), "confidence": r.confidence,
             "method": r.method, "steps": list(r.steps)}
            for r in view.open
        ],
        "adopted": [
            {"key": a.key, "title": a.title, "adopted_on": a.adopted_on.isoformat(),
             "estimated_monthly_usd": decimal_string(a.estimated_monthly_micros),
             "realised_monthly_usd": decimal_string(a.savings.realised_monthly_micros) if a.savings.enough_data
             else None}
            for a in view.adopted
        ],
        "dismissed": len(view.dismissed),
    }  # fmt: skip
    if args.json:
        print(json.dumps(body, indent=2))
        return 0
    for rec in view.open:
        print(f"{format_usd(rec.monthly_saving_micros, cents=False):>10}/mo  {rec.confidence:<6}  {rec.title}")
    for item in view.adopted:
        print(
            f"adopted {item.adopted_on}: {item.title} — realised {format_usd(item.savings.realised_monthly_micros)}/mo"
        )
    return 0


def cmd_share_create(args: argparse.Namespace) -> int:
    from core import share_links

    settings = current_settings()
    passcode = None
    if args.passcode_stdin:
        passcode = getpass.getpass("Passcode: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
        if not passcode:
            raise CliError("--passcode-stdin was given but no passcode came on standard input.")
    with session_scope(_engine()) as session:
        workspace = queries.load_workspace(session, slug=args.workspace)
        assert workspace.id is not None
        link, token = share_links.create_share_link(
            session, workspace_id=workspace.id, kind=args.kind, days=args.days, period=args.period,
            passcode=passcode, label=args.label, rounds=settings.bcrypt_rounds,
        )  # fmt: skip
        queries.save_audit(
            session, workspace_id=workspace.id, user_id=None, action="share.created", link_id=link.id,
            kind=link.kind, period=link.period, days=args.days, passcode=passcode is not None, via="cli",
        )  # fmt: skip
    print(share_links.share_url(settings.base_url, token))
    shows = share_links.KINDS[link.kind] + (f" for {link.period}" if link.period else "")
    # The note goes to stderr, so `url=$(meterr share create ...)` captures the URL alone.
    print(
        f"{shows} of '{workspace.slug}', expires {link.expires_at:%Y-%m-%d %H:%M} UTC"
        f"{', behind a passcode' if passcode else ''}; shown once. Revoke: meterr share revoke {link.prefix}",
        file=sys.stderr,
    )
    return 0


def cmd_share_revoke(args: argparse.Namespace) -> int:
    from core import share_links

    with session_scope(_engine()) as session:
        link = share_links.revoke_by_prefix(session, args.token)
        workspace = queries.load_workspace_by_id(session, workspace_id=link.workspace_id)
        queries.save_audit(
            session, workspace_id=link.workspace_id, user_id=None, action="share.revoked", link_id=link.id, via="cli"
        )
    assert link.revoked_at is not None
    name = f"'{link.label}'" if link.label else share_links.KINDS.get(link.kind, link.kind).lower()
    print(
        f"Revoked share link {link.prefix}… ({name}) of '{workspace.slug}' "
        f"as of {link.revoked_at:%Y-%m-%d %H:%M} UTC; it no longer opens."
    )
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from benchmark import run_benchmark

    figures = run_benchmark(rows=args.rows, path=args.path)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key:>24}: {value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="meterr", description="meterr: the AI CFO in a box.")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("demo", help="create or refresh the demo workspace (deterministic)")
    p.add_argument("--workspace", default=demo.DEMO_SLUG, help="workspace slug (default: acme-ai)")
    p.add_argument("--today", type=_date, help="pretend today is this date (YYYY-MM-DD)")
    p.set_defaults(func=cmd_demo)

    user = commands.add_parser("user", help="manage users").add_subparsers(dest="user_command", required=True)
    p = user.add_parser("add", help="add a user to a workspace; the password is read from stdin or a prompt")
    p.add_argument("username")
    p.add_argument("--email", required=True)
    p.add_argument("--workspace", required=True)
    p.add_argument("--role", choices=["owner", "admin", "viewer"], default="viewer")
    p.add_argument("--name", help="display name (default: the username)")
    p.set_defaults(func=cmd_user_add)

    p = commands.add_parser("summary", help="total spend of a workspace")
    p.add_argument("--workspace", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_summary)

    db = commands.add_parser("db", help="database maintenance").add_subparsers(dest="db_command", required=True)
    p = db.add_parser("upgrade", help="apply pending migrations")
    p.set_defaults(func=cmd_db_upgrade)

    p = commands.add_parser("import", help="import a cost or usage export (CSV, TSV, JSON, JSONL, .gz)")
    p.add_argument("path")
    p.add_argument("--workspace", required=True)
    p.add_argument("--format", help="skip detection and read the file as this format")
    p.add_argument("--skip-bad-rows", action="store_true", help="leave out rows with bad cells (they are listed)")
    p.add_argument("--rate", action="append", default=[], metavar="CODE=USD", help="exchange rate, e.g. EUR=1.08")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_import)

    p = commands.add_parser("sync", help="pull the latest days from every API connection (or one)")
    p.add_argument("--workspace", help="only this workspace (slug)")
    p.add_argument("--connection", type=int, help="only this connection (id)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_sync)

    p = commands.add_parser("roi", help="the period's AI cost, outcome value, ROI and department P&L")
    p.add_argument("--workspace", required=True)
    p.add_argument("--start", type=_date, help="first day (default: the 1st of this month)")
    p.add_argument("--end", type=_date, help="last day (default: today)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_roi)

    p = commands.add_parser("recommend", help="savings advice priced in dollars, and adopted changes' realised savings")
    p.add_argument("--workspace", required=True, help="workspace slug")
    p.add_argument("--today", type=_date, help="advise as if today were this date (YYYY-MM-DD)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_recommend)

    p = commands.add_parser("alerts", help="evaluate budgets and cost spikes, record new alerts and deliver them")
    p.add_argument("--workspace", required=True, help="workspace slug")
    p.add_argument("--dry-run", action="store_true", help="show what would fire; record and send nothing")
    p.add_argument("--today", type=_date, help="evaluate as if today were this date (YYYY-MM-DD)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_alerts)

    p = commands.add_parser("report", help="the executive summary as a PDF, or emailed now with the PDF attached")
    p.add_argument("--workspace", required=True, help="workspace slug")
    p.add_argument("--period", help="the month, YYYY-MM (default: the month holding yesterday)")
    p.add_argument("--out", help="where to write the PDF (default: its own name here, unless --email)")
    p.add_argument("--email", action="store_true", help="send it now over the workspace's mail server")
    p.add_argument("--to", help="with --email: these addresses instead of the weekly list (comma-separated)")
    p.add_argument("--today", type=_date, help="report as if today were this date (YYYY-MM-DD)")
    p.set_defaults(func=cmd_report)

    p = commands.add_parser("forecast", help="month-end spend forecast with 80%%/95%% ranges, and its backtest")
    p.add_argument("--workspace", required=True)
    p.add_argument("--today", type=_date, help="pretend today is this date (YYYY-MM-DD)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_forecast)

    share = commands.add_parser("share", help="read-only links for people without an account (a CFO)")
    share_commands = share.add_subparsers(dest="share_command", required=True)
    p = share_commands.add_parser("create", help="create a link and print its URL (shown only this once)")
    p.add_argument("--workspace", required=True, help="workspace slug")
    p.add_argument("--days", type=int, required=True, help="days until it expires (1-90)")
    p.add_argument("--kind", choices=["summary", "overview"], default="summary", help="what it shows")
    p.add_argument("--period", help="a fixed month, YYYY-MM (default: the current month when opened)")
    p.add_argument("--label", default="", help="a name for the link, e.g. 'Board pack'")
    p.add_argument("--passcode-stdin", action="store_true", help="read a passcode (4+ characters) from stdin")
    p.set_defaults(func=cmd_share_create)
    p = share_commands.add_parser("revoke", help="stop a link working, by its token or the token's first 6+ chars")
    p.add_argument("token", metavar="TOKEN_PREFIX")
    p.set_defaults(func=cmd_share_revoke)

    p = commands.add_parser("bench", help="benchmark load and Overview queries on synthetic charges")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--path", help="SQLite file to build (default: a temporary file)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (CliError, security.InvalidInput, queries.NotFound) as problem:
        print(f"meterr: {problem}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `meterr ... | head` closed the pipe: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 0
    except Exception as problem:  # one clear line, never a traceback
        print(f"meterr: unexpected error ({type(problem).__name__}): {problem}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
