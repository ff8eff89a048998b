"""Request-level imports keep each request's UTC hour: the time-of-day profile behind batch advice. Exact counts,
idempotent re-imports, one workspace's hours invisible to another, pieces summed, and none from daily formats."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from connectors import imports
from core import queries
from core.db import session_scope
from tests.connectors.files.conftest import FIXTURES, run_import

MARCH = (dt.date(2026, 3, 1), dt.date(2026, 3, 31))
HEADER = "request_id,call_type,spend,startTime,model,custom_llm_provider,prompt_tokens,completion_tokens,metadata\n"
METADATA = '"{""project_id"": ""nightly""}"'


def profile(engine: Engine, workspace_id: int, start: dt.date = MARCH[0], end: dt.date = MARCH[1]) -> pd.DataFrame:
    with session_scope(engine) as session:
        return queries.load_hourly_profile(session, workspace_id=workspace_id, start=start, end=end)


def as_tuples(frame: pd.DataFrame) -> list[tuple[str, str, str, int, int]]:
    return [(r.provider, r.model, r.project, int(r.hour), int(r.requests)) for r in frame.itertuples()]


def spend_log(requests_per_hour: dict[str, int]) -> str:
    """A LiteLLM spend log with the given number of requests at each UTC timestamp prefix ('2026-03-05T02')."""
    rows = [
        f"req-{stamp}-{i},acompletion,0.01,{stamp}:{i % 60:02d}:00Z,gpt-4o-mini,openai,100,20,{METADATA}\n"
        for stamp, count in requests_per_hour.items()
        for i in range(count)
    ]
    return HEADER + "".join(rows)


NIGHTLY = {"2026-03-05T02": 7, "2026-03-05T03": 5, "2026-03-06T02": 4, "2026-03-06T14": 2, "2026-04-01T02": 9}


def test_requests_are_counted_per_utc_hour(engine: Engine, workspace_id: int, importer) -> None:  # type: ignore[no-untyped-def]
    importer("spend.csv", spend_log(NIGHTLY))
    assert as_tuples(profile(engine, workspace_id)) == [
        ("OpenAI", "gpt-4o-mini", "nightly", 2, 11),  # 7 on the 5th + 4 on the 6th; April's 9 are outside the window
        ("OpenAI", "gpt-4o-mini", "nightly", 3, 5),
        ("OpenAI", "gpt-4o-mini", "nightly", 14, 2),
    ]
    one_day = profile(engine, workspace_id, dt.date(2026, 3, 6), dt.date(2026, 3, 6))
    assert as_tuples(one_day) == [
        ("OpenAI", "gpt-4o-mini", "nightly", 2, 4),
        ("OpenAI", "gpt-4o-mini", "nightly", 14, 2),
    ]


def test_offsets_are_converted_to_the_utc_hour(engine: Engine, workspace_id: int, importer) -> None:  # type: ignore[no-untyped-def]
    # 10:00 naive, 23:30Z, 20:30-05:00 (01:30 UTC the next day), 08:00+00:00, 09:00 and 10:00 naive.
    importer("spendlogs.csv", (FIXTURES / "litellm" / "spendlogs.csv").read_bytes())
    assert as_tuples(profile(engine, workspace_id)) == [
        ("Anthropic", "claude-3-5-haiku-20241022", "proj-x", 8, 1),
        ("Anthropic", "claude-3-5-haiku-20241022", "proj-x", 10, 1),
        ("OpenAI", "gpt-4o-mini-2024-07-18", "search", 1, 1),
        ("OpenAI", "gpt-4o-mini-2024-07-18", "search", 9, 1),
        ("OpenAI", "gpt-4o-mini-2024-07-18", "search", 10, 1),
        ("OpenAI", "gpt-4o-mini-2024-07-18", "search", 23, 1),
    ]


def test_importing_again_changes_nothing(engine: Engine, workspace_id: int, importer) -> None:  # type: ignore[no-untyped-def]
    importer("spend.csv", spend_log(NIGHTLY))
    first = profile(engine, workspace_id)
    importer("spend-again.csv", spend_log(NIGHTLY))
    pd.testing.assert_frame_equal(profile(engine, workspace_id), first)


def test_a_corrected_log_replaces_the_counts(engine: Engine, workspace_id: int, importer) -> None:  # type: ignore[no-untyped-def]
    importer("spend.csv", spend_log({"2026-03-05T02": 7}))
    importer("spend-fixed.csv", spend_log({"2026-03-05T02": 3}))
    assert as_tuples(profile(engine, workspace_id)) == [("OpenAI", "gpt-4o-mini", "nightly", 2, 3)]


def test_another_workspace_sees_no_hours(engine: Engine, workspace_id: int, importer) -> None:  # type: ignore[no-untyped-def]
    importer("spend.csv", spend_log(NIGHTLY))
    with session_scope(engine) as session:
        other = queries.create_workspace(session, name="Other Co")
        assert other.id is not None
        other_id = other.id
    assert profile(engine, other_id).empty
    run_import(engine, other_id, "spend.csv", spend_log({"2026-03-05T02": 1}))
    assert as_tuples(profile(engine, other_id)) == [("OpenAI", "gpt-4o-mini", "nightly", 2, 1)]
    assert int(profile(engine, workspace_id)["requests"].sum()) == 18  # the first workspace's own, unchanged


def test_deleting_workspace_data_deletes_its_hours(engine: Engine, workspace_id: int, importer) -> None:  # type: ignore[no-untyped-def]
    importer("spend.csv", spend_log(NIGHTLY))
    with session_scope(engine) as session:
        queries.delete_workspace_data(session, workspace_id=workspace_id, user_id=None)
    assert profile(engine, workspace_id).empty


def test_a_daily_format_stores_no_hours(engine: Engine, workspace_id: int, importer) -> None:  # type: ignore[no-untyped-def]
    result = importer("ledger.csv", "Date,Vendor,Description,Amount\n03/04/2026,OpenAI,GPT-4o API usage,12.50\n")
    assert result.charges_written == 1
    frame = profile(engine, workspace_id)
    assert frame.empty and list(frame.columns) == ["provider", "model", "project", "hour", "requests"]


def test_a_date_without_a_time_has_no_hour(engine: Engine, workspace_id: int, importer) -> None:  # type: ignore[no-untyped-def]
    data = HEADER + f"req-1,acompletion,0.01,2026-03-05,gpt-4o-mini,openai,100,20,{METADATA}\n"
    assert importer("spend.csv", data).charges_written == 1
    assert profile(engine, workspace_id).empty


def test_pieces_of_a_large_log_add_up(
    engine: Engine, workspace_id: int, importer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    counts = {"2026-03-05T02": 300, "2026-03-05T03": 200, "2026-03-06T02": 250}
    monkeypatch.setattr(imports, "CHUNK_BYTES", 4096)  # the same hour lands in many pieces
    importer("spend.csv", spend_log(counts))
    assert as_tuples(profile(engine, workspace_id)) == [
        ("OpenAI", "gpt-4o-mini", "nightly", 2, 550),
        ("OpenAI", "gpt-4o-mini", "nightly", 3, 200),
    ]
