"""CSV for spreadsheets: exact decimal dollars and text cells that cannot run as formulas."""

from __future__ import annotations

import pandas as pd

from core.money import decimal_string

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: str) -> str:
    """Prefix text a spreadsheet would run as a formula with an apostrophe (OWASP CSV injection)."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def compute_csv(frame: pd.DataFrame, *, money_columns: tuple[str, ...] = ("micros",)) -> bytes:
    """Text columns neutralised; micro-dollar columns become exact '<name> (USD)' decimal strings."""
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        series = frame[column]
        if column in money_columns:
            out["amount_usd" if column == "micros" else f"{column}_usd"] = [decimal_string(int(v)) for v in series]
        elif pd.api.types.is_numeric_dtype(series):
            out[column] = series
        elif pd.api.types.is_datetime64_any_dtype(series):
            out[column] = series.dt.strftime("%Y-%m-%d")
        else:
            out[column] = [neutralise_cell(str(v)) for v in series]
    return out.to_csv(index=False).encode("utf-8")
