"""Large line-by-line exports are imported a piece at a time: the same charges, exact sums, true row numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors import imports
from connectors.files.base import BadFile
from connectors.files.synthetic import write_helicone_csv, write_litellm_csv
from connectors.imports import preview_file


def both_ways(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[imports.Preview, imports.Preview]:
    data = path.read_bytes()
    whole = preview_file(name=path.name, data=data)
    monkeypatch.setattr(imports, "CHUNK_BYTES", 4096)
    pieces = preview_file(name=path.name, data=data)
    return whole, pieces


@pytest.mark.parametrize("writer", [write_litellm_csv, write_helicone_csv], ids=["litellm", "helicone"])
def test_pieces_give_the_same_charges_as_the_whole_file(  # type: ignore[no-untyped-def]
    writer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = writer(tmp_path / "log.csv", 3_000, seed=5, profile="full")
    assert path.stat().st_size > 20 * 4096  # many pieces
    whole, pieces = both_ways(path, monkeypatch)
    assert (pieces.rows_read, pieces.charges, pieces.total_usd) == (whole.rows_read, whole.charges, whole.total_usd)
    assert (pieces.first_day, pieces.last_day) == (whole.first_day, whole.last_day)


def test_a_quoted_line_break_is_never_cut_and_rows_keep_their_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    header = "request_id,call_type,spend,startTime,model,custom_llm_provider,prompt_tokens,completion_tokens,metadata\n"
    body = "".join(
        f'req-{i},acompletion,0.25,2026-06-01T10:00:00,gpt-4o,openai,10,5,"{{""note"": ""line one\nline two {i}""}}"\n'
        for i in range(400)
    )
    path = tmp_path / "spend.csv"
    path.write_text(header + body)
    whole, pieces = both_ways(path, monkeypatch)
    assert pieces.rows_read == whole.rows_read == 400
    assert pieces.total_usd == whole.total_usd == "100.000000"
    bad = header + body + "req-x,acompletion,lots,2026-06-01T10:00:00,gpt-4o,openai,1,1,{}\n"
    path.write_text(bad)
    # Row 402 is the 401st record after the header, however the file is cut into pieces.
    with pytest.raises(BadFile, match="Row 402, column 'spend'"):
        preview_file(name=path.name, data=path.read_bytes())
    monkeypatch.setattr(imports, "CHUNK_BYTES", 10**9)
    with pytest.raises(BadFile, match="Row 402, column 'spend'"):
        preview_file(name=path.name, data=path.read_bytes())
