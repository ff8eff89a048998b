"""The column helpers the gateway parsers share: each fast path gives exactly what the shared helper it stands in
for gives (read_table, day_cells, decimal_cells, count_cells), and hands anything unusual to that helper."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from connectors.files.base import BadFile, RawFile, RowErrors, count_cells, day_cells, decimal_cells, read_table
from connectors.files.gateway import (
    JsonColumn,
    classify_columns,
    column,
    csv_rows,
    dimensions_of,
    money_cells,
    tag_map,
    token_cells,
    utc_days,
)
from tests.connectors.files.conftest import FIXTURES


def frame_of(values: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"cell": pd.Series(values, dtype="str"), "row": np.arange(2, 2 + len(values))})


@pytest.mark.parametrize(
    "text",
    [
        'a,b,c\n1,"x, y",3\n4,"multi\nline",6\n',
        "\ufeffa,b\r\n1,2\r\n\r\n3,4\r\n",  # BOM, CRLF, a blank line
        "a;b;c\n1;2;3\n",  # another separator
        "a,b\n",  # header only
        ' a , b \n"1",""\n',  # padded names, quoted and empty cells
    ],
)
def test_csv_rows_reads_what_read_table_reads(text: str) -> None:
    raw = RawFile("t.csv", text.encode("utf-8"))
    fast, slow = csv_rows(raw), read_table(raw)
    assert list(fast.columns) == list(slow.columns)
    assert fast.astype(str).values.tolist() == slow.astype(str).values.tolist()


def test_csv_rows_of_every_csv_fixture_match_read_table() -> None:
    for path in sorted(Path(FIXTURES).rglob("*.csv")):
        raw = RawFile(path.name, path.read_bytes())
        try:
            slow = read_table(raw)
        except BadFile:
            continue
        fast = csv_rows(raw)
        assert fast.astype(str).values.tolist() == slow.astype(str).values.tolist(), path.name


@pytest.mark.parametrize("text", ["a,b,c\n1,2,3\n4,5\n", "a,b\n1,2,3\n4,5,6\n", "a,a\n1,2\n"])
def test_csv_rows_leaves_awkward_files_to_read_table(text: str) -> None:
    raw = RawFile("t.csv", text.encode())
    try:
        expected: object = read_table(raw).astype(str).values.tolist()
    except BadFile as problem:
        expected = str(problem)
    try:
        got: object = csv_rows(raw).astype(str).values.tolist()
    except BadFile as problem:
        got = str(problem)
    assert got == expected


STAMPS = [
    "2026-03-01 23:59:59.999", "2026-03-01T23:59:59Z", "2026-03-01T23:59:59.123456+00:00", "2026-03-01",
    "2026-03-01T20:30:00-05:00", "2026-03-02T00:30:00+01:00", "1772409600",
]  # fmt: skip


@pytest.mark.parametrize("stamps", [STAMPS[:4], STAMPS[:-1], STAMPS[-1:]])
def test_utc_days_are_day_cells(stamps: list[str]) -> None:
    frame = frame_of(stamps)
    expected = day_cells(frame, "cell", RowErrors(skip_bad_rows=False))
    got = utc_days(frame, "cell", RowErrors(skip_bad_rows=False))
    assert [d.date() for d in got] == [d.date() for d in expected]


@pytest.mark.parametrize("bad", ["2026-02-30 10:00:00", "2026-03-01 24:00:00", "", "yesterday"])
def test_utc_days_report_bad_cells_like_day_cells(bad: str) -> None:
    frame = frame_of(["2026-03-01 10:00:00", bad])
    with pytest.raises(BadFile) as expected:
        day_cells(frame, "cell", RowErrors(skip_bad_rows=False))
    with pytest.raises(BadFile) as got:
        utc_days(frame, "cell", RowErrors(skip_bad_rows=False))
    assert str(got.value) == str(expected.value) and got.value.row == 3


def test_money_and_token_cells_are_the_shared_converters() -> None:
    money = ["0.000054999999999999995", "5.4999999999999995e-05", "", "$1,234.50", "(3.00)", "-0.5", "1E+3", ".5"]
    frame = frame_of(money)
    expected = decimal_cells(frame, "cell", RowErrors(skip_bad_rows=False), required=False)
    assert money_cells(frame, "cell", RowErrors(skip_bad_rows=False)) == expected
    assert expected[0] == Decimal("0.000054999999999999995")
    counts = frame_of(["10", "", "0", "1200.0", "007"])
    assert (
        token_cells(counts, "cell", RowErrors(skip_bad_rows=False)).tolist()
        == count_cells(counts, "cell", RowErrors(skip_bad_rows=False)).tolist()
    )
    with pytest.raises(BadFile, match="Row 3"):
        money_cells(frame_of(["1", "twelve"]), "cell", RowErrors(skip_bad_rows=False))
    with pytest.raises(BadFile, match="Row 3"):
        token_cells(frame_of(["1", "-4"]), "cell", RowErrors(skip_bad_rows=False))


def test_json_cells_read_text_doubled_quotes_python_reprs_and_objects() -> None:
    cells = pd.Series(
        [
            '{"user_api_key_alias": "prod-key", "usage_object": {"cached_tokens": 12}}',
            '{""customer"":""acme"",""note"":""say \\""hi\\""""}',  # quotes doubled by a writer that escaped twice
            "{'customer': 'globex'}",  # a Python dict written by pandas
            "",
            '{"user_api_key_alias": "a\\"b"}',
        ],
        dtype="str",
    )
    column_ = JsonColumn(cells, len(cells))
    assert column_.text("user_api_key_alias").tolist() == ["prod-key", "", "", "", 'a"b']
    assert column_.number("cached_tokens").tolist() == [12, 0, 0, 0, 0]
    assert column_.derive(lambda d: d.get("customer", "") if isinstance(d, dict) else "").tolist() == [
        "", "acme", "globex", "", ""
    ]  # fmt: skip
    objects = pd.Series([{"a": {"user_api_key_alias": "nested"}}, None], dtype=object)
    assert JsonColumn(objects, 2).text("user_api_key_alias").tolist() == ["nested", ""]


def test_dimensions_and_tags_from_property_names() -> None:
    props = {"Helicone-Property-Customer": "acme", "Helicone-Property-Feature": "chat", "App": "web",
             "Team": "search", "Environment": "prod", "Helicone-Session-Id": "s-1"}  # fmt: skip
    assert dimensions_of(props, strip_prefix="helicone-property-") == {
        "customer": "acme", "feature": "chat", "project": "web", "department": "search", "environment": "prod"
    }  # fmt: skip
    assert tag_map(["prod", "team:search", "User-Agent: curl/8.0", ""]) == {"prod": "true", "team": "search"}
    assert tag_map({"env": "prod"}) == {"env": "prod"} and tag_map(None) == {}


def test_classify_columns_and_column_preference() -> None:
    provider, service, model = classify_columns(
        pd.Series(["", "openai", ""], dtype="str"),
        pd.Series(["bedrock/anthropic.claude-3-haiku-20240307-v1:0", "gpt-4o", "gemini/gemini-2.5-pro"], dtype="str"),
    )
    assert provider.tolist() == ["AWS Bedrock", "OpenAI", "Google"]
    assert model.tolist() == ["claude-3-haiku-20240307-v1:0", "gpt-4o", "gemini-2.5-pro"]
    frame = pd.DataFrame({"response_created_at": ["x"], "request_created_at": ["y"], "row": [2]})
    assert column(frame, "request_created_at", "response_created_at") == "request_created_at"
