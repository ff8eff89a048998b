"""Negotiated rates and the price check's read, in a real database (SQLite always, PostgreSQL when reachable)."""

import datetime as dt
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session, col

from core import price_overrides, queries
from core.db import session_scope
from core.models import AuditLog
from core.pricing import RateOverride, price_usage
from core.queries import NotFound
from core.security import InvalidInput

USD = 1_000_000
JAN_1, MAR_1 = dt.date(2026, 1, 1), dt.date(2026, 3, 1)
D1, D2, D3 = dt.date(2026, 11, 1), dt.date(2026, 11, 2), dt.date(2026, 11, 3)


def save(session: Session, workspace_id: int, **fields: Any) -> Any:
    values: dict[str, Any] = {
        "provider": "OpenAI", "model": "", "discount_pct": None, "input_usd_per_mtok": None,
        "output_usd_per_mtok": None, "cached_usd_per_mtok": None, "effective_from": JAN_1, **fields,
    }  # fmt: skip
    return price_overrides.save_price_override(session, workspace_id=workspace_id, **values)


def charge(key: str, day: dt.date, model: str, micros: int, **extra: Any) -> dict[str, Any]:
    return {
        "source_key": key, "day": day, "provider": "OpenAI", "model": model, "amount_micros": micros,
        "original_amount": str(Decimal(micros) / USD), **extra,
    }  # fmt: skip


def test_an_override_is_saved_changed_and_deleted_with_an_audit_trail(session: Session, workspace_id: int) -> None:
    saved = save(session, workspace_id, provider="openai", discount_pct=Decimal("12.5"), note=" Enterprise deal ")
    assert (saved.provider, saved.model, saved.discount_bp, saved.note) == ("OpenAI", "", 1250, "Enterprise deal")
    assert saved.id is not None
    save(
        session, workspace_id, provider="OpenAI", model="gpt-4o", input_usd_per_mtok=Decimal("2"),
        output_usd_per_mtok=Decimal("8.000001"), effective_from=MAR_1, override_id=saved.id, user_id=None,
    )  # fmt: skip
    loaded = price_overrides.load_price_overrides(session, workspace_id=workspace_id)
    assert loaded == [RateOverride("OpenAI", "gpt-4o", None, 2 * USD, 8_000_001, None, MAR_1, id=saved.id, note="")]
    price_overrides.delete_price_override(session, workspace_id=workspace_id, override_id=saved.id)
    assert price_overrides.load_price_overrides(session, workspace_id=workspace_id) == []
    actions = (
        session.execute(select(col(AuditLog.action)).where(col(AuditLog.workspace_id) == workspace_id)).scalars().all()
    )
    assert actions.count("price_override.saved") == 2 and actions.count("price_override.deleted") == 1


def test_loaded_overrides_price_usage(session: Session, workspace_id: int) -> None:
    save(session, workspace_id, discount_pct=Decimal(10), effective_from=MAR_1)
    save(session, workspace_id, model="gpt-4o", discount_pct=Decimal(20), effective_from=MAR_1)
    rates = price_overrides.load_price_overrides(session, workspace_id=workspace_id)
    assert [(r.model, r.discount_bp) for r in rates] == [("", 1000), ("gpt-4o", 2000)]

    def micros(model: str, on: dt.date) -> int:
        quote = price_usage(
            "OpenAI", model, input_tokens=USD, output_tokens=USD, cached_tokens=0, requests=1, on=on, overrides=rates
        )
        assert quote is not None
        return quote.micros

    assert (micros("gpt-4o", dt.date(2026, 2, 28)), micros("gpt-4o", MAR_1)) == (12_500_000, 10_000_000)
    assert micros("gpt-4o-mini", MAR_1) == 675_000  # 90% of $0.75


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"provider": "  "}, "Choose the provider"),
        ({"provider": "x" * 41, "discount_pct": Decimal(5)}, "provider name is too long"),
        ({}, "Give a discount off list prices"),
        ({"discount_pct": Decimal(5), "input_usd_per_mtok": Decimal(1)}, "either a discount or a custom price"),
        ({"discount_pct": Decimal(0)}, "above 0 and at most 90"),
        ({"discount_pct": Decimal("90.01")}, "above 0 and at most 90"),
        ({"discount_pct": Decimal("-5")}, "above 0 and at most 90"),
        ({"discount_pct": Decimal("NaN")}, "above 0 and at most 90"),
        ({"discount_pct": Decimal("12.345")}, "at most two decimal places"),
        ({"input_usd_per_mtok": Decimal(1), "output_usd_per_mtok": Decimal(2)}, "choose the model"),
        ({"model": "gpt-4o", "input_usd_per_mtok": Decimal(1)}, "both the input and the output price"),
        ({"model": "gpt-4o", "input_usd_per_mtok": Decimal(-1), "output_usd_per_mtok": Decimal(2)}, "negative"),
        ({"model": "gpt-4o", "input_usd_per_mtok": Decimal("Infinity"), "output_usd_per_mtok": Decimal(2)},
         "not an amount of dollars"),
        ({"model": "gpt-4o", "input_usd_per_mtok": Decimal(1), "output_usd_per_mtok": Decimal(10_001)},
         r"at most \$10,000\.00 per million"),
        ({"discount_pct": Decimal(5), "effective_from": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}, "Choose the date"),
        ({"discount_pct": Decimal(5), "note": "n" * 201}, "note is too long"),
        ({"discount_pct": Decimal(5), "model": "m" * 121}, "model name is too long"),
    ],
    ids=[
        "no-provider", "long-provider", "neither", "both", "zero", "over-90", "negative-discount", "nan",
        "three-decimals", "custom-without-model", "custom-without-output", "negative-price", "infinite-price",
        "huge-price", "datetime", "long-note", "long-model",
    ],
)  # fmt: skip
def test_invalid_overrides_are_refused_in_plain_english(
    session: Session, workspace_id: int, fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        save(session, workspace_id, **fields)
    assert price_overrides.load_price_overrides(session, workspace_id=workspace_id) == []


def test_one_override_per_provider_model_and_start_date(session: Session, workspace_id: int) -> None:
    first = save(session, workspace_id, model="gpt-4o", discount_pct=Decimal(10))
    with pytest.raises(InvalidInput, match="already a rate for OpenAI GPT-4o from 01 Jan 2026"):
        save(session, workspace_id, model="GPT-4o", discount_pct=Decimal(12))
    save(session, workspace_id, model="gpt-4o", discount_pct=Decimal(12), override_id=first.id)  # itself is fine
    save(session, workspace_id, model="gpt-4o", discount_pct=Decimal(15), effective_from=MAR_1)
    assert [r.discount_bp for r in price_overrides.load_price_overrides(session, workspace_id=workspace_id)] == [
        1200,
        1500,
    ]


def test_overrides_are_private_to_their_workspace(engine: Engine, workspace_id: int) -> None:
    with session_scope(engine) as session:
        other = queries.create_workspace(session, name="Other Co")
        assert other.id is not None
        theirs = save(session, other.id, discount_pct=Decimal(30))
        other_id, their_id = other.id, theirs.id
    with session_scope(engine) as session:
        assert price_overrides.load_price_overrides(session, workspace_id=workspace_id) == []
        with pytest.raises(NotFound):
            price_overrides.delete_price_override(session, workspace_id=workspace_id, override_id=their_id)
        with pytest.raises(NotFound):
            save(session, workspace_id, discount_pct=Decimal(5), override_id=their_id)
    with session_scope(engine) as session:
        assert [r.discount_bp for r in price_overrides.load_price_overrides(session, workspace_id=other_id)] == [3000]


def test_price_check_rows_sum_usage_and_cost_lines_per_day_and_model(engine: Engine, workspace_id: int) -> None:
    with session_scope(engine) as session:
        other = queries.create_workspace(session, name="Other Co")
        assert other.id is not None
        queries.upsert_charges(session, workspace_id=other.id, rows=[charge("x", D1, "gpt-4o", 999 * USD)])
        queries.upsert_charges(
            session,
            workspace_id=workspace_id,
            rows=[
                # An API sync: usage lines ($0, tokens) and a cost line (money, no tokens), split by key.
                charge(
                    "u1",
                    D1,
                    "gpt-4o",
                    0,
                    input_tokens=1_000_000,
                    output_tokens=200_000,
                    cached_tokens=300_000,
                    requests=40,
                    api_key="key-a",
                ),
                charge(
                    "u2", D1, "gpt-4o", 0, input_tokens=500_000, output_tokens=100_000, requests=10, api_key="key-b"
                ),
                charge("c1", D1, "gpt-4o", 5_123_456),
                charge("c2", D1, "gpt-4o-mini", 1_000_001),
                charge("u3", D2, "gpt-4o", 7_000_000, input_tokens=2_000_000, output_tokens=1, requests=3),
                charge("c3", D2, "gpt-4o", -250_000, line_item="credit"),
                charge("late", D3, "gpt-4o", 1, input_tokens=1),  # after the range
            ],  # fmt: skip
        )
    with session_scope(engine) as session:
        frame = price_overrides.load_price_check_rows(session, workspace_id=workspace_id, start=D1, end=D2)
    assert list(frame.columns) == list(price_overrides.PRICE_CHECK_COLUMNS)
    assert frame["day"].dtype == "datetime64[ns]"
    assert frame.drop(columns="day").to_dict("records") == [
        {"provider": "OpenAI", "model": "gpt-4o", "input_tokens": 1_500_000, "output_tokens": 300_000,
         "cached_tokens": 300_000, "requests": 50, "billed_micros": 5_123_456},
        {"provider": "OpenAI", "model": "gpt-4o-mini", "input_tokens": 0, "output_tokens": 0, "cached_tokens": 0,
         "requests": 0, "billed_micros": 1_000_001},
        {"provider": "OpenAI", "model": "gpt-4o", "input_tokens": 2_000_000, "output_tokens": 1, "cached_tokens": 0,
         "requests": 3, "billed_micros": 6_750_000},
    ]  # fmt: skip
    assert list(frame["day"]) == [pd.Timestamp(D1), pd.Timestamp(D1), pd.Timestamp(D2)]
    assert all(str(dtype) == "int64" for dtype in frame.dtypes.iloc[3:])


def test_price_check_rows_for_an_empty_range(session: Session, workspace_id: int) -> None:
    frame = price_overrides.load_price_check_rows(session, workspace_id=workspace_id, start=D1, end=D3)
    assert frame.empty and list(frame.columns) == list(price_overrides.PRICE_CHECK_COLUMNS)
    assert frame["day"].dtype == "datetime64[ns]" and frame["billed_micros"].dtype == "int64"
