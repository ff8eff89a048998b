"""Fuzzing file imports: damaged, truncated and junk-filled exports are refused in plain English, or imported.

Seeds are valid files (a generic CSV, JSON records, a gzip, and the real samples in tests/fixtures/samples);
hypothesis mutates them (cut off, flipped/inserted/deleted bytes, duplicated or dropped lines, swapped
separators, a cell replaced with junk). Whatever comes out, importing it must:

* return an ImportResult or raise BadFile: nothing else, and no parser bug hidden behind the BadFile the import
  raises when a parser crashes (that safety net is for people, not for tests);
* on BadFile, leave the database exactly as it was;
* on success, store what the schema can hold (so PostgreSQL would take it too), and be idempotent: the same
  bytes again write and revise nothing.

SQLite only: a database file per test in tmp_path, and a new workspace per example (so a failure replays the same
way), half of them already holding the generic ledger's charges, for a damaged copy of it to meet and revise.
The fuzzer's finds are pinned at the end, one test case each.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import gzip
import io
import json
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, String, select
from sqlmodel import col

from connectors.files import all_parsers
from connectors.files.base import BadFile, RawFile
from connectors.files.generic import ColumnMapping, suggest_mapping
from connectors.imports import ImportResult, preview_file
from core import queries
from core.db import make_engine, session_scope, upgrade
from core.models import Charge
from tests.connectors.files.conftest import SAMPLES, run_import, stored

GENERIC_CSV = b"""Date,Vendor,Description,Model,Amount,Currency
03/04/2026,OpenAI,GPT-4o API usage,gpt-4o,"$1,234.56",USD
03/05/2026,Anthropic,Claude API,claude-3-5-sonnet,12.30,USD
03/05/2026,Anthropic,Claude API credit,,(2.00),USD
03/13/2026,AWS,Amazon Bedrock,claude-3-haiku,0.000125,EUR
"""
JSON_RECORDS = json.dumps(
    {
        "items": [
            {"date": "2026-05-01T10:00:00Z", "amount": 0.06, "vendor": "openai", "model": "gpt-4o"},
            {"date": "2026-05-01T23:59:59-02:00", "amount": "0.10", "vendor": "openai", "model": "gpt-4o-mini"},
            {"date": "2026-05-03", "amount": -1.5, "vendor": "Anthropic", "description": "refund", "team": "ml"},
        ]
    },
    indent=1,
).encode()
HELICONE_ROWS = (
    b'\nr-1,2026-04-01T10:00:00Z,200,2026-04-01T09:59:59Z,"{}","{""team"":""ml""}",u1,gpt-4o,100,20,512,0.00045'
    b'\nr-2,2026-04-02T11:00:00Z,200,2026-04-02T10:59:58Z,"{}","{}",u2,gpt-4o-mini,300,50,233,0.0000750'
)


def _seeds() -> list[tuple[str, bytes]]:
    seeds = [
        ("ledger.csv", GENERIC_CSV),
        ("spend.json", JSON_RECORDS),
        ("ledger.csv.gz", gzip.compress(GENERIC_CSV, mtime=0)),
    ]
    for name in (
        "openai_dashboard_costs_export.tsv",
        "openai_costs_response.json",
        "anthropic_cost_report_response.json",
        "litellm_spendlogs_payload_gcs.json",
        "helicone_export_header.csv",
        # Beyond the brief's list, every other sample a parser reads:
        "openai_usage_completions_response.json",
        "anthropic_usage_report_messages_response.json",
        "aws_ce_get_cost_and_usage_response.json",
        "openai_dashboard_completions_usage_export.tsv",
    ):
        seeds.append((name, (SAMPLES / name).read_bytes()))
    header = (SAMPLES / "helicone_export_header.csv").read_bytes().rstrip(b"\r\n")
    seeds.append(("helicone_export.csv", header + HELICONE_ROWS + b"\n"))
    return seeds


SEEDS = _seeds()
RATES = {"EUR": Decimal("1.08"), "GBP": Decimal("1.27")}
FORMATS = [parser.name for parser in all_parsers()]
JUNK_TEXT = [
    "abc", "1e999", "-1e999", "", " ", "2026-02-30", "2026-13-01", "0001-01-01", "9999-12-31", "NaN", "nan", "inf",
    "-0", "-", "(1.00)", "1,5", "1.234,56", "99999999999999999999999999", "1e-30", "1700000000", "-1", "null",
    "x" * 300, "€" * 300, "日本語 💸", "\x00", "a\x00b", '"', "\n", "\t", ";", "{}", "[]", "USDX", "eur",
]  # fmt: skip
JUNK_JSON: list[Any] = [
    *JUNK_TEXT, None, True, False, 0, -1, 10**40, -(10**40), 1e308, float("inf"), float("nan"), 0.1, 1.5e-9,
    [], {}, [1, 2], {"a": None},
]  # fmt: skip
# How the import says a parser crashed (connectors/imports.py `_parse`): a bug the fuzzer must report.
SAFETY_NET = re.compile(r"^We could not read this file as .+ \((\w+)\)\. Check it is the right export")


# Mutations ---------------------------------------------------------------------------------------------

Draw = Callable[[st.SearchStrategy[Any]], Any]


def _truncate(draw: Draw, data: bytes) -> bytes:
    return data[: draw(st.integers(0, len(data)))]


def _flip(draw: Draw, data: bytes) -> bytes:
    if not data:
        return data
    at = draw(st.integers(0, len(data) - 1))
    return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]


def _insert(draw: Draw, data: bytes) -> bytes:
    at = draw(st.integers(0, len(data)))
    piece = draw(
        st.one_of(
            st.sampled_from(
                [b"\x00", b'"', b",", b"\t", b"\n", b"\r", b"\r\n", b"{", b"}", b"[", b"\xff\xfe", b"\xef\xbb\xbf"]
            ),
            st.binary(min_size=1, max_size=8),
        )
    )
    return data[:at] + piece + data[at:]


def _delete(draw: Draw, data: bytes) -> bytes:
    if not data:
        return data
    at = draw(st.integers(0, len(data) - 1))
    return data[:at] + data[at + draw(st.integers(1, 16)) :]


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def _duplicate_line(draw: Draw, data: bytes) -> bytes:
    lines = _lines(data)
    if not lines:
        return data
    at = draw(st.integers(0, len(lines) - 1))
    line = lines[at] if lines[at].endswith(b"\n") else lines[at] + b"\n"
    return b"".join([*lines[:at], line, *lines[at:]])


def _drop_line(draw: Draw, data: bytes) -> bytes:
    lines = _lines(data)
    if not lines:
        return data
    at = draw(st.integers(0, len(lines) - 1))
    return b"".join(lines[:at] + lines[at + 1 :])


def _swap_delimiters(draw: Draw, data: bytes) -> bytes:
    old, new = draw(st.sampled_from([(b",", b"\t"), (b"\t", b","), (b",", b";"), (b",", b"|"), (b"\t", b";")]))
    return data.replace(old, new)


def _junk_cell(draw: Draw, data: bytes) -> bytes:
    """One cell (CSV/TSV) or one value (JSON) replaced with junk, keeping the file otherwise well formed."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if isinstance(document, dict | list):
        leaves = list(_leaves(document))
        if not leaves:
            return data
        parent, key = draw(st.sampled_from(leaves))
        parent[key] = copy.deepcopy(draw(st.sampled_from(JUNK_JSON)))  # never the shared constant
        return json.dumps(document, ensure_ascii=draw(st.booleans())).encode()
    lines = text.splitlines(keepends=True)
    if not lines:
        return data
    at = draw(st.integers(0, len(lines) - 1))
    body = lines[at].rstrip("\r\n")
    delimiter = "\t" if body.count("\t") > body.count(",") else ","
    cells = next(csv.reader([body], delimiter=delimiter), [])
    if not cells:
        return data
    cells[draw(st.integers(0, len(cells) - 1))] = draw(st.sampled_from(JUNK_TEXT))
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="").writerow(cells)
    lines[at] = out.getvalue() + lines[at][len(body) :]
    return "".join(lines).encode()


def _leaves(node: Any) -> Iterator[tuple[Any, Any]]:
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        if isinstance(value, dict | list) and value:
            yield from _leaves(value)
        else:
            yield node, key


MUTATIONS = [_truncate, _flip, _insert, _delete, _duplicate_line, _drop_line, _swap_delimiters, _junk_cell]
# Junk in one cell keeps the file readable, so it reaches the row-level code most often: draw it more.
WEIGHTED = [*MUTATIONS, _junk_cell, _junk_cell, _duplicate_line]


@st.composite
def damaged_files(draw: Draw) -> tuple[str, bytes]:
    name, data = draw(st.sampled_from(SEEDS))
    for mutate in draw(st.lists(st.sampled_from(WEIGHTED), min_size=1, max_size=3)):
        data = mutate(draw, data)
    return name, data


def _mapping_of(data: bytes) -> ColumnMapping | None:
    try:
        return suggest_mapping(RawFile("seed", data))
    except BadFile:
        return None


MAPPINGS = [m for m in (_mapping_of(data) for _, data in SEEDS) if m is not None]


@st.composite
def import_options(draw: Draw) -> dict[str, Any]:
    """Detect the format, or pick one by hand (any of them), or confirm a column mapping, as the wizard allows."""
    how = draw(st.sampled_from(["detect", "detect", "format", "mapping"]))
    options: dict[str, Any] = {"skip_bad_rows": draw(st.booleans())}
    if how == "format":
        options["format"] = draw(st.sampled_from(FORMATS))
    elif how == "mapping":
        options["mapping"] = draw(st.sampled_from(MAPPINGS))
    if draw(st.booleans()):
        options["rates"] = RATES
    return options


# The property ------------------------------------------------------------------------------------------


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'fuzz.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def _new_workspace(engine: Engine) -> int:
    with session_scope(engine) as session:
        workspace = queries.create_workspace(session, name="Fuzz Co")
        assert workspace.id is not None
        return workspace.id


def _refused_cleanly(problem: BadFile) -> None:
    message = str(problem)
    assert message.strip(), "a BadFile must say what is wrong"
    crashed = SAFETY_NET.match(message)
    assert crashed is None, f"a parser crashed ({crashed and crashed.group(1)}): {problem.__cause__!r}"


_LIMITS = {
    column.name: column.type.length
    for column in Charge.__table__.columns  # type: ignore[attr-defined]
    if isinstance(column.type, String) and column.type.length
}
_BIGINT = 2**63 - 1


def _check_what_is_stored(engine: Engine, workspace_id: int) -> None:
    """The charges fit their columns and their text holds no NUL: SQLite lets those through, PostgreSQL would
    refuse them (and the import would fail there with a database error, not a BadFile). Tags are JSON, which
    PostgreSQL takes with an escaped NUL."""
    with session_scope(engine) as session:
        for charge in session.scalars(select(Charge).where(col(Charge.workspace_id) == workspace_id)):
            for name, limit in _LIMITS.items():
                value = getattr(charge, name)
                assert len(value) <= limit, f"{name} is {len(value)} characters; the column holds {limit}: {value!r}"
                assert "\x00" not in value, f"{name} holds a NUL character: {value!r}"
            for name in ("amount_micros", "input_tokens", "output_tokens", "cached_tokens", "requests"):
                assert abs(getattr(charge, name)) <= _BIGINT, f"{name} overflows a BIGINT"


@settings(
    max_examples=450,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(file=damaged_files(), options=import_options(), prefilled=st.booleans())
def test_a_damaged_file_is_refused_with_nothing_written_or_imported_idempotently(
    sqlite_engine: Engine, file: tuple[str, bytes], options: dict[str, Any], prefilled: bool
) -> None:
    name, data = file
    workspace_id = _new_workspace(sqlite_engine)  # one per example, so a failure replays the same way
    if prefilled:  # charges to lose, and for a damaged ledger to meet (revise) rather than insert
        run_import(sqlite_engine, workspace_id, "ledger.csv", GENERIC_CSV, rates=RATES)
    before = stored(sqlite_engine, workspace_id)
    try:
        result = run_import(sqlite_engine, workspace_id, name, data, **options)
    except BadFile as problem:
        _refused_cleanly(problem)
        event(f"refused: {' '.join(str(problem).split()[:4])}")
        assert stored(sqlite_engine, workspace_id) == before, "a refused file changed the database"
        return
    assert isinstance(result, ImportResult)
    event(f"imported as {result.format}" + (" (some rows skipped)" if result.skipped else ""))
    after = stored(sqlite_engine, workspace_id)
    assert after[0] == before[0] + result.charges_written
    _check_what_is_stored(sqlite_engine, workspace_id)

    again = run_import(sqlite_engine, workspace_id, name, data, **options)
    assert (again.charges_written, again.revised) == (0, 0), "the same bytes imported twice changed charges"
    assert again.duplicates == result.charges_written + result.revised + result.duplicates
    assert stored(sqlite_engine, workspace_id) == after


@settings(max_examples=1200, deadline=None)
@given(file=damaged_files(), options=import_options())
def test_a_preview_of_a_damaged_file_only_ever_raises_bad_file(
    file: tuple[str, bytes], options: dict[str, Any]
) -> None:
    name, data = file
    try:
        preview = preview_file(name=name, data=data, **options)
    except BadFile as problem:
        _refused_cleanly(problem)
        event("refused")
        return
    event(f"previewed as {preview.format}")
    assert preview.charges >= 0 and preview.rows_read >= 0


@pytest.mark.parametrize(("name", "data"), SEEDS, ids=[name for name, _ in SEEDS])
def test_the_seeds_themselves_import_or_are_refused_cleanly(sqlite_engine: Engine, name: str, data: bytes) -> None:
    """The unmutated seeds are the fuzzer's baseline: every one of them imports charges (bar the header-only
    export, which has none: it may be refused or import nothing)."""
    header_only = name == "helicone_export_header.csv"
    try:
        result = run_import(sqlite_engine, _new_workspace(sqlite_engine), name, data, rates=RATES)
    except BadFile as problem:
        _refused_cleanly(problem)
        assert header_only, f"{name} should import: {problem}"
        return
    assert result.charges_written == 0 if header_only else result.charges_written > 0


# What the fuzzer found, pinned: each of these crashed a parser (or shifted columns) before its fix.


def _api_response(sample: str, edit: Callable[[dict[str, Any]], None]) -> bytes:
    document = json.loads((SAMPLES / sample).read_bytes())
    edit(document["data"][0]["results"][0])
    return json.dumps(document).encode()


FOUND = [
    pytest.param(
        "ledger.csv.gz",
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03" + b"\xff" * 20,
        {},
        "This .gz file is damaged",
        id="gzip-with-a-corrupt-deflate-stream",
    ),
    pytest.param(
        "ledger.csv",
        b"Date,Vendor,Amount\n1,2026-01-01,OpenAI,1.00\n2,2026-01-02,OpenAI,2.00\n",
        {},
        "Row 2 has more cells than the header",
        id="every-row-longer-than-the-header",
    ),
    pytest.param(
        "spend.json",
        json.dumps(
            [
                {
                    "date": "2026-05-01",
                    "amount": "",
                    "vendor": "openai",
                    "model": "gpt-4o",
                    "input_tokens": "1e999",
                    "output_tokens": 1,
                }
            ]
        ).encode(),
        {},
        "column 'input_tokens': '1e999' is not a whole number",
        id="an-infinite-token-count",
    ),  # fmt: skip
    pytest.param(
        "ledger.csv",
        b"Date,Vendor,Amount\n2026-01-01,OpenAI,1e999\n",
        {},
        "more than meterr can store",
        id="an-amount-no-bigint-holds",
    ),
    pytest.param(
        "ledger.csv",
        b"\xff\xfeD\x00a\x00t\x00e\x00\n",
        {},
        "This UTF-16 file is damaged",
        id="utf-16-cut-mid-character",
    ),
    pytest.param(
        "ledger.csv",
        b"Date,Vendor,Amount\n-0,OpenAI,1.00\n2026-01-01,OpenAI,1.00\n",
        {},
        "Row 2, column 'Date': '-0' is not a date",
        id="a-date-in-year-zero",
    ),
    pytest.param(
        "spend.json",
        b'[{"date": NaN, "amount": 1, "vendor": "openai"}, {"date": "03/04/2026", "amount": 2}]',
        {},
        "column 'date': 'nan' is not a date",
        id="a-json-nan-date",
    ),
    pytest.param(
        "costs.json",
        _api_response("openai_costs_response.json", lambda r: r["amount"].update(value="1e999")),
        {},
        "OpenAI sent a cost we could not read ('1e999')",
        id="openai-cost-no-bigint-holds",
    ),
    pytest.param(
        "usage.json",
        _api_response("openai_usage_completions_response.json", lambda r: r.update(output_tokens="abc")),
        {},
        "A number in this file cannot be read: 'abc'",
        id="openai-usage-token-count-that-is-text",
    ),
]


@pytest.mark.parametrize(("name", "data", "options", "message"), FOUND)
def test_what_the_fuzzer_found_is_refused_in_plain_english(
    sqlite_engine: Engine, name: str, data: bytes, options: dict[str, Any], message: str
) -> None:
    workspace_id = _new_workspace(sqlite_engine)
    with pytest.raises(BadFile, match=re.escape(message)) as refused:
        run_import(sqlite_engine, workspace_id, name, data, **options)
    _refused_cleanly(refused.value)
    assert stored(sqlite_engine, workspace_id) == (0, 0)


def test_old_mac_line_endings_import_like_any_other(sqlite_engine: Engine) -> None:
    """A lone '\\r' ends a line (pandas agrees); it used to reach csv.reader inside one 'line' and crash it."""
    unix = (SAMPLES / "openai_dashboard_costs_export.tsv").read_bytes()
    results = []
    for data in (unix, unix.replace(b"\n", b"\r"), unix.replace(b"\n", b"\r\n")):
        workspace_id = _new_workspace(sqlite_engine)
        result = run_import(sqlite_engine, workspace_id, "costs.tsv", data, format="openai_costs_export")
        results.append((result.charges_written, result.total_usd, stored(sqlite_engine, workspace_id)))
    assert results[0] == results[1] == results[2]


def test_a_numeric_json_column_reads_as_text(sqlite_engine: Engine) -> None:
    """JSON numbers in a text column (a float64 column) are read as text, not filled with '' (a pandas error)."""
    data = b'[{"date": "2026-05-01", "amount": 1, "description": 1.5, "vendor": "Acme"}]'
    result = run_import(sqlite_engine, _new_workspace(sqlite_engine), "spend.json", data)
    assert (result.charges_written, result.total_usd) == (1, "1.000000")


def test_dates_only_the_second_reader_knows_at_a_finer_resolution(sqlite_engine: Engine) -> None:
    """Not ISO, with fractions of a second: the fallback parse (microseconds) fills the first (seconds)."""
    data = b"Date,Vendor,Amount\nJan 6 2026 10:00:00.5,OpenAI,1.00\n"
    result = run_import(sqlite_engine, _new_workspace(sqlite_engine), "ledger.csv", data)
    assert (result.first_day, result.charges_written) == (dt.date(2026, 1, 6), 1)
