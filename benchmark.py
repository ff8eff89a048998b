"""`meterr bench`: build a fresh SQLite database of synthetic charges and time the Overview against DuckDB.

Synthetic data is shaped like real provider exports: each day has usage lines (model × project × customer),
each with input, output and cached-input line items, so the rollup is about a third of the charge table.
"""

from __future__ import annotations

import datetime as dt
import itertools
import resource
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core import queries
from core.db import make_engine, session_scope, upgrade
from core.models import DIMENSIONS
from core.money import decimal_string
from insights import metrics

MODELS = (
    ("OpenAI", "gpt-4o"), ("OpenAI", "gpt-4o-mini"), ("OpenAI", "gpt-4.1"), ("OpenAI", "gpt-4.1-mini"),
    ("OpenAI", "o3-mini"), ("OpenAI", "text-embedding-3-small"), ("Anthropic", "claude-sonnet-4-5"),
    ("Anthropic", "claude-haiku-4-5"), ("Anthropic", "claude-opus-4-1"), ("Google", "gemini-2.5-pro"),
    ("Google", "gemini-2.5-flash"), ("Google", "gemini-2.0-flash"), ("AWS Bedrock", "amazon.nova-pro-v1:0"),
    ("AWS Bedrock", "amazon.nova-lite-v1:0"), ("AWS Bedrock", "meta.llama3-1-70b-instruct-v1:0"),
    ("AWS Bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0"),
)  # fmt: skip
DEPARTMENTS = tuple(f"Department {i}" for i in range(8))
PROJECTS = tuple(f"project-{i:02d}" for i in range(40))
CUSTOMERS = ("",) + tuple(f"Customer {i:03d}" for i in range(200))
LINE_ITEMS = ("input", "output", "cached input")
DAYS = 365
CHUNK_DAYS = 10


def _usage_lines(rows: int, seed: int) -> dict[str, np.ndarray]:
    """Columns of usage lines (one per day × model × project × customer), sorted by day."""
    rng = np.random.default_rng(seed)
    lines = -(-rows // len(LINE_ITEMS))
    day = np.sort(rng.integers(0, DAYS, lines))
    project = rng.integers(0, len(PROJECTS), lines)
    return {
        "day": day,
        "model": rng.integers(0, len(MODELS), lines),
        "project": project,
        "department": project % len(DEPARTMENTS),
        "customer": np.where(rng.random(lines) < 0.4, 0, rng.integers(1, len(CUSTOMERS), lines)),
        "micros": rng.lognormal(13, 1.2, (lines, len(LINE_ITEMS))).astype(np.int64),
        "tokens": rng.integers(1_000, 2_000_000, (lines, len(LINE_ITEMS))),
        "requests": rng.integers(1, 5_000, lines),
    }


def _charge_chunks(lines: dict[str, np.ndarray], rows: int, first_day: dt.date) -> Iterator[list[dict[str, Any]]]:
    """Charge dicts in day-ordered chunks, so memory stays flat and each chunk refreshes few rollup days."""
    days = [first_day + dt.timedelta(days=i) for i in range(DAYS)]
    produced = 0
    boundaries = np.searchsorted(lines["day"], np.arange(0, DAYS + CHUNK_DAYS, CHUNK_DAYS))
    for start, stop in zip(boundaries[:-1], boundaries[1:], strict=True):
        chunk: list[dict[str, Any]] = []
        for i in range(int(start), int(stop)):
            provider, model = MODELS[lines["model"][i]]
            for item, name in enumerate(LINE_ITEMS):
                if produced == rows:
                    break
                micros = int(lines["micros"][i, item])
                tokens = int(lines["tokens"][i, item])
                chunk.append(
                    {
                        "source_key": f"bench:{i}:{item}", "day": days[lines["day"][i]], "provider": provider,
                        "model": model, "line_item": name, "amount_micros": micros,
                        "original_amount": decimal_string(micros), "service": "usage",
                        "input_tokens": tokens if item != 1 else 0, "output_tokens": tokens if item == 1 else 0,
                        "cached_tokens": tokens if item == 2 else 0,
                        "requests": int(lines["requests"][i]) if item == 0 else 0,
                        "department": DEPARTMENTS[lines["department"][i]], "project": PROJECTS[lines["project"][i]],
                        "customer": CUSTOMERS[lines["customer"][i]], "api_key": f"key-{lines['project'][i] % 60}",
                    }
                )  # fmt: skip
                produced += 1
        if chunk:
            yield chunk


def _duck_frame(lines: dict[str, np.ndarray], rows: int, first_day: dt.date) -> pd.DataFrame:
    """The same charges as columns (vectorised), for DuckDB: no million Python objects on the way."""
    count = len(lines["day"])
    take = slice(0, rows)
    item = np.tile(np.arange(len(LINE_ITEMS)), count)[take]

    def repeat(values: np.ndarray) -> np.ndarray:
        return np.repeat(values, len(LINE_ITEMS))[take]

    providers = np.array([p for p, _ in MODELS])
    models = np.array([m for _, m in MODELS])
    tokens = lines["tokens"].reshape(-1)[take]
    return pd.DataFrame(
        {
            "day": np.datetime64(first_day, "D") + repeat(lines["day"]).astype("timedelta64[D]"),
            "provider": providers[repeat(lines["model"])],
            "model": models[repeat(lines["model"])],
            "department": np.array(DEPARTMENTS)[repeat(lines["department"])],
            "project": np.array(PROJECTS)[repeat(lines["project"])],
            "customer": np.array(CUSTOMERS)[repeat(lines["customer"])],
            "amount_micros": lines["micros"].reshape(-1)[take],
            "input_tokens": np.where(item != 1, tokens, 0),
            "output_tokens": np.where(item == 1, tokens, 0),
            "requests": np.where(item == 0, repeat(lines["requests"]), 0),
        }
    )


def compute_overview(session: Any, *, workspace_id: int, today: dt.date, start: dt.date) -> dict[str, Any]:
    """Every number and table the Overview page shows for [start, today], from the database."""
    options = queries.load_filter_options(session, workspace_id=workspace_id)
    recent = queries.load_daily_totals(
        session, workspace_id=workspace_id, start=metrics.previous_month_start(today), end=today
    )
    daily = queries.load_daily_totals(session, workspace_id=workspace_id, start=start, end=today)
    rows = queries.load_spend_breakdown(session, workspace_id=workspace_id, start=start, end=today)
    return {
        "options": options,
        "summary": metrics.compute_summary(recent, today=today),
        "cumulative": metrics.compute_cumulative(recent, today=today),
        "breakdowns": {d: metrics.compute_breakdown(rows, d, top=12) for d in DIMENSIONS},
        "tree": metrics.compute_hierarchy(rows),
        "heatmap": metrics.compute_heatmap(daily),
        "drilldown": metrics.compute_drilldown(rows, ("provider", "model")),
        "total": int(rows["amount_micros"].sum()),
    }  # fmt: skip


DUCKDB_QUERIES = {
    "summary": "SELECT sum(amount_micros) FILTER (WHERE day >= $m0), sum(amount_micros) FILTER (WHERE day < $m0) "
    "FROM charge WHERE day BETWEEN $m1 AND $today",
    "cumulative": "SELECT day, sum(amount_micros) FROM charge WHERE day BETWEEN $m1 AND $today GROUP BY day",
    **{
        f"by_{d}": f"SELECT {d}, sum(amount_micros) s FROM charge "  # noqa: S608 (our own column names)
        f"WHERE day BETWEEN $start AND $today GROUP BY {d} ORDER BY s DESC"
        for d in ("provider", "model", "department", "project", "customer")
    },
    "tree": "SELECT department, project, model, sum(amount_micros) FROM charge WHERE day BETWEEN $start AND $today "
    "GROUP BY ALL",
    "heatmap": "SELECT day, sum(amount_micros) FROM charge WHERE day BETWEEN $start AND $today GROUP BY day",
    "drilldown": "SELECT provider, model, sum(amount_micros), sum(input_tokens), sum(output_tokens), sum(requests) "
    "FROM charge WHERE day BETWEEN $start AND $today GROUP BY ALL ORDER BY 3 DESC",
    "options": "SELECT DISTINCT provider, department, project FROM charge",
}  # fmt: skip


def _median_seconds(action: Any, repeats: int = 5) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return round(statistics.median(timings), 4)


def write_import_file(rows: int, workdir: str) -> str:
    from connectors.files.synthetic import write_litellm_csv

    return str(write_litellm_csv(Path(workdir) / "litellm_spendlogs.csv", rows, seed=11))


def run_parse_floor(csv_path: str) -> dict[str, Any]:
    """pandas merely reading the file as text: the floor for any importer."""
    started = time.perf_counter()
    rows = len(pd.read_csv(csv_path, dtype=str, keep_default_na=False))
    return {"parse_only_rows_per_s": int(rows / (time.perf_counter() - started))}


def run_import(csv_path: str) -> dict[str, Any]:
    """End-to-end import (read, detect, parse, roll up, upsert, commit) into a fresh SQLite database."""
    from connectors.imports import import_file

    path = Path(csv_path)
    engine = make_engine(f"sqlite:///{path.parent / 'import.db'}")
    upgrade(engine)
    with session_scope(engine) as session:
        workspace = queries.create_workspace(session, name="Import bench")
        assert workspace.id is not None
        workspace_id = workspace.id
    started = time.perf_counter()
    with session_scope(engine) as session:
        result = import_file(session, workspace_id=workspace_id, name=path.name, data=path.read_bytes())
    import_s = time.perf_counter() - started
    engine.dispose()
    return {
        "import_rows": result.rows_read,
        "import_format": result.format,
        "import_charges": result.charges_written,
        "import_total_usd": result.total_usd,
        "import_s": round(import_s, 3),
        "import_rows_per_s": int(result.rows_read / import_s),
        "import_peak_rss_mb": _own_peak_mb(),
    }


def _own_peak_mb() -> int:
    """This process's peak resident memory. VmHWM, where Linux has it: getrusage's figure in a spawned child
    starts at its parent's size, which would charge the parent's DuckDB to the import."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _in_child(function: Any, *args: Any) -> Any:
    """Run in a fresh process, so its time and peak memory are its own."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(function, args)


def run_import_benchmark(rows: int, workdir: str) -> dict[str, Any]:
    """A `rows`-request LiteLLM spend-log CSV imported end to end, beside pandas reading it (the floor)."""
    csv_path = _in_child(write_import_file, rows, workdir)
    figures = {**_in_child(run_import, csv_path), **_in_child(run_parse_floor, csv_path)}
    figures["import_file_mb"] = round(Path(csv_path).stat().st_size / 1e6, 1)
    return figures


# A month of business outcomes for the what-if baseline: (name, dollars per unit, department, count per day).
BENCH_OUTCOMES = (
    ("Support ticket resolved", "8", DEPARTMENTS[0], 900), ("Qualified lead", "120", DEPARTMENTS[1], 25),
    ("Code review completed", "45", DEPARTMENTS[2], 80), ("Forecast delivered", "250", DEPARTMENTS[3], 2),
)  # fmt: skip
WHATIF_MOVES = 200


def run_whatif_benchmark(engine: Any, workspace_id: int, today: dt.date) -> dict[str, Any]:
    """The ROI calculator: one cold read of its 30-day baseline, then many slider moves, each of which costs
    unpickling the cached baseline (what an st.cache_data hit does) plus the what-if math on it."""
    import pickle

    from core import outcomes, scenarios
    from insights.whatif import WhatIf, compute_baseline, compute_whatif

    start = today - dt.timedelta(days=29)
    with session_scope(engine) as session:
        counts: list[tuple[int, dt.date, str, int]] = []
        for name, usd, department, per_day in BENCH_OUTCOMES:
            definition = outcomes.save_outcome_definition(
                session, workspace_id=workspace_id, name=name, unit="unit", value_usd=usd, department=department
            )
            assert definition.id is not None
            counts += [(definition.id, start + dt.timedelta(days=day), "", per_day) for day in range(30)]
        outcomes.upsert_outcome_counts(session, workspace_id=workspace_id, rows=counts)

    started = time.perf_counter()
    with session_scope(engine) as session:
        usage, volumes = scenarios.load_whatif_aggregates(session, workspace_id=workspace_id, start=start, end=today)
    baseline = compute_baseline(usage, volumes, on=today, days=30)
    baseline_s = time.perf_counter() - started
    cached = pickle.dumps(baseline)
    models = [(u.provider, u.model) for u in baseline.usage]
    timings = []
    for i in range(WHATIF_MOVES):
        levers = WhatIf(
            value_multiplier=round(0.5 + (i % 11) * 0.25, 2), volume_growth_pct=(i * 5) % 100 - 20,
            switch_from=models[i % len(models)], switch_to=models[(i * 7 + 3) % len(models)],
            switch_share_pct=(i * 13) % 101, price_change_pct=(i * 3) % 41 - 20, caching_pct=(i * 17) % 101,
            batch_pct=(i * 29) % 101,
        )  # fmt: skip
        moved = time.perf_counter()
        result = compute_whatif(pickle.loads(cached), levers)  # noqa: S301 (our own bytes, as st.cache_data does)
        timings.append(time.perf_counter() - moved)
        if result.today.cost_micros != int(usage["amount_micros"].sum()):
            raise AssertionError("the what-if baseline's cost does not equal the rollup's")
    return {
        "whatif_baseline_s": round(baseline_s, 4),
        "whatif_s_median": round(statistics.median(timings), 4),
        "whatif_s_max": round(max(timings), 4),
    }


def _forecast_demo(db_url: str, today: dt.date) -> dict[str, Any]:
    """Every scope of the demo workspace forecast and every budget evaluated: cold (empty memo), then cached.
    Run in a fresh process, so the first call also pays for importing statsmodels, as a new server would."""
    from connectors.alerting import load_outlook
    from core import demo
    from insights import forecast, outlook

    engine = make_engine(db_url)

    def run() -> outlook.Outlook:
        with session_scope(engine) as session:
            workspace = queries.load_workspace(session, slug=demo.DEMO_SLUG)
            assert workspace.id is not None
            return load_outlook(session, workspace_id=workspace.id, today=today)

    started = time.perf_counter()
    result = run()
    first_s = time.perf_counter() - started
    forecast.clear_cache()
    started = time.perf_counter()
    run()
    cold_s = time.perf_counter() - started
    cached_s = _median_seconds(run)
    return {
        "forecast_series": len(result.scopes),
        "forecast_all_first_s": round(first_s, 3),
        "forecast_all_s": round(cold_s, 3),
        "forecast_all_cached_s": cached_s,
    }


def run_forecast_benchmark(workdir: str, today: dt.date) -> dict[str, Any]:
    """The demo workspace in its own SQLite file, forecast in a fresh process."""
    from core import demo

    db_path = Path(workdir) / "forecast.db"
    db_path.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{db_path}")
    upgrade(engine)
    with session_scope(engine) as session:
        demo.create_demo_workspace(session, today=today)
    engine.dispose()
    return dict(_in_child(_forecast_demo, f"sqlite:///{db_path}", today))


def _pdf_demo(db_url: str, today: dt.date) -> dict[str, Any]:
    """The demo's executive summary PDF with its two charts, from facts already computed: the first build also
    starts the chart browser (cold), the median of five later ones is the warm figure. In a fresh process."""
    import re

    from connectors import chart_images
    from connectors.reporting import load_report_facts
    from core import demo
    from insights import narrative, report

    engine = make_engine(db_url)
    with session_scope(engine) as session:
        workspace = queries.load_workspace(session, slug=demo.DEMO_SLUG)
        assert workspace.id is not None
        facts = load_report_facts(session, workspace_id=workspace.id, today=today)
    paragraphs = narrative.deterministic_summary(facts).paragraphs
    insights = [insight.sentence for insight in narrative.compute_insights(facts)]
    built: dict[str, Any] = {}

    def build() -> None:
        images = chart_images.render_pngs(report.report_figures(facts))
        built["pdf"] = report.build_pdf(facts, paragraphs=paragraphs, insights=insights, images=images)
        built["charts"] = images is not None

    started = time.perf_counter()
    build()
    cold_s = time.perf_counter() - started
    warm_s = _median_seconds(build)
    chart_images.stop()
    engine.dispose()
    return {
        "pdf_cold_s": round(cold_s, 3),
        "pdf_s": warm_s,
        "pdf_pages": len(re.findall(rb"/Type /Page\b(?!s)", built["pdf"])),
        "pdf_kb": len(built["pdf"]) // 1024,
        "pdf_charts": built["charts"],  # False: no Chromium, the PDF has tables instead (and is faster)
    }


def run_pdf_benchmark(workdir: str, today: dt.date) -> dict[str, Any]:
    """The demo workspace in its own SQLite file, its summary PDF built in a fresh process."""
    from core import demo

    db_path = Path(workdir) / "report.db"
    db_path.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{db_path}")
    upgrade(engine)
    with session_scope(engine) as session:
        demo.create_demo_workspace(session, today=today)
    engine.dispose()
    return dict(_in_child(_pdf_demo, f"sqlite:///{db_path}", today))


def run_benchmark(*, rows: int, path: str | None = None, today: dt.date | None = None) -> dict[str, Any]:
    """Build the database, time load and Overview (median of 5) and the DuckDB floor; report peak memory."""
    import duckdb

    today = today or dt.datetime.now(dt.UTC).date()
    first_day = today - dt.timedelta(days=DAYS - 1)
    workdir = Path(path).parent if path else Path(tempfile.mkdtemp(prefix="meterr-bench-"))
    db_path = Path(path) if path else workdir / "bench.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{db_path}")
    upgrade(engine)
    lines = _usage_lines(rows, seed=7)

    started = time.perf_counter()
    with session_scope(engine) as session:
        workspace = queries.create_workspace(session, name="Bench")
        assert workspace.id is not None
        workspace_id = workspace.id
        stream = itertools.chain.from_iterable(_charge_chunks(lines, rows, first_day))
        written = queries.upsert_charges(session, workspace_id=workspace_id, rows=stream).written
    load_s = time.perf_counter() - started

    with session_scope(engine) as session:
        breakdown_rows = len(
            queries.load_spend_breakdown(session, workspace_id=workspace_id, start=first_day, end=today)
        )
        checked = queries.load_workspace_summary(session, workspace_id=workspace_id)

    def overview() -> dict[str, Any]:
        with session_scope(engine) as session:
            return compute_overview(session, workspace_id=workspace_id, today=today, start=first_day)

    result = overview()
    if result["total"] != checked.total_micros:
        raise AssertionError("the Overview total does not equal the charge table's total")
    overview_s = _median_seconds(overview)

    app_peak_mb = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)

    duck = duckdb.connect()
    duck.register("charge_frame", _duck_frame(lines, rows, first_day))
    duck.execute("CREATE TABLE charge AS SELECT * FROM charge_frame")
    duck.unregister("charge_frame")
    params = {"today": today, "start": first_day, "m0": today.replace(day=1), "m1": metrics.previous_month_start(today)}

    def duck_overview() -> None:
        for sql in DUCKDB_QUERIES.values():
            names = {name for name in params if f"${name}" in sql}
            duck.execute(sql, {name: params[name] for name in names}).fetchall()

    duckdb_s = _median_seconds(duck_overview)
    duck_total = duck.execute("SELECT sum(amount_micros) FROM charge").fetchone()
    duck.close()
    imported = run_import_benchmark(rows, str(workdir))
    return {
        "rows": written,
        "load_s": round(load_s, 3),
        "load_rows_per_s": int(written / load_s),
        "breakdown_rows": breakdown_rows,
        "overview_s_median": overview_s,
        **run_whatif_benchmark(engine, workspace_id, today),
        "duckdb_s_median": duckdb_s,
        "totals_agree": bool(duck_total and int(duck_total[0]) == checked.total_micros),
        "peak_rss_mb": app_peak_mb,
        "peak_rss_with_duckdb_mb": int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "database": str(db_path),
        "database_mb": round(db_path.stat().st_size / 1e6, 1),
        **imported,
        **run_forecast_benchmark(str(workdir), today),
        **run_pdf_benchmark(str(workdir), today),
    }
