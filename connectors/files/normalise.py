"""A parser's canonical frame → daily charges: currency rates, prices for token-only rows, and the roll-up.

Request-level sources (gateway logs) become one charge per day and dimension set; daily sources pass through
with the same key scheme, so the same data imported twice (or in overlapping exports) lands on the same keys.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd

from connectors.files.base import COUNT_COLUMNS, TEXT_COLUMNS, BadFile
from core.money import to_micros
from core.pricing import price_per_request

# ISO 4217 codes in use; anything else in a currency column is a typo or a made-up code.
CURRENCIES = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF
    CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL
    HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL
    MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON
    RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH
    UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL""".split()  # noqa: SIM905
)
GROUP_COLUMNS = ("day", "currency", *TEXT_COLUMNS, "tags")
Pricer = Callable[[str, str, int, int, int, dt.date], Decimal | None]


@dataclass(frozen=True)
class Unpriced:
    """Token usage we could not put a price on: counted and shown, never stored as $0."""

    provider: str
    model: str
    rows: int
    input_tokens: int
    output_tokens: int


@dataclass
class Rolled:
    rows: list[dict[str, object]]
    total_micros: int
    unpriced: list[Unpriced] = field(default_factory=list)
    first_day: dt.date | None = None
    last_day: dt.date | None = None


def parse_rates(pairs: Mapping[str, str | Decimal]) -> dict[str, Decimal]:
    """{'EUR': '1.08'} → USD per unit of each currency; a clear error for codes or rates we cannot use."""
    rates: dict[str, Decimal] = {}
    for code, value in pairs.items():
        code = code.strip().upper()
        if code not in CURRENCIES:
            raise BadFile(f"'{code}' is not a currency code we know; use ISO codes such as EUR or GBP.")
        try:
            rate = Decimal(str(value).strip())
        except ArithmeticError as exc:
            raise BadFile(f"The rate for {code} ('{value}') is not a number; write it like 1.08.") from exc
        if not rate.is_finite() or rate <= 0:
            raise BadFile(f"The rate for {code} must be a positive number of US dollars per {code}, like 1.08.")
        rates[code] = rate
    return rates


def _currencies(frame: pd.DataFrame, rates: Mapping[str, Decimal]) -> pd.Series:
    currency = frame["currency"].fillna("").astype(str).str.strip().str.upper().replace("", "USD")
    unknown = ~currency.isin(CURRENCIES)
    if unknown.any():
        row = int(frame.loc[unknown, "row"].iloc[0])
        raise BadFile(
            f"Row {row}: '{currency[unknown].iloc[0]}' is not a currency code we know. Use ISO codes such as USD or "
            "EUR.",
            row=row,
            column="currency",
        )
    missing = sorted(set(currency.unique()) - {"USD"} - set(rates))
    if missing:
        names = " and ".join(missing)
        example = ", ".join(f"{code}=1.08" for code in missing[:2])
        raise BadFile(
            f"This file has amounts in {names}, and meterr stores US dollars. Give the exchange rate (US dollars per "
            f"unit) for each and import again, e.g. {example}. Nothing was imported."
        )
    return currency


def _price(pricer: Pricer, provider: str, model: str, tokens: tuple[int, int, int], requests: int, day: dt.date):  # type: ignore[no-untyped-def]
    """Price rows that may hold many requests: tiers follow the average request, totals stay exact for linear
    prices (the average request times the count, plus one request of the remainder)."""
    inp, out, cached = tokens
    if requests <= 1:
        return pricer(provider, model, inp, out, cached, day)
    each = pricer(provider, model, inp // requests, out // requests, cached // requests, day)
    if each is None:
        return None
    rest = (inp % requests, out % requests, cached % requests)
    extra = pricer(provider, model, *rest, day) if any(rest) else Decimal(0)
    return None if extra is None else each * requests + extra


def roll_up(
    frame: pd.DataFrame,
    *,
    namespace: str,
    rates: Mapping[str, Decimal] | None = None,
    pricer: Pricer = price_per_request,
) -> Rolled:
    """Daily charges (dicts for `queries.upsert_charges`) from a canonical frame."""
    if frame.empty:
        return Rolled(rows=[], total_micros=0)
    rates = dict(rates or {})
    frame = frame.copy()
    frame["currency"] = _currencies(frame, rates).to_numpy()
    for name in TEXT_COLUMNS:
        frame[name] = frame[name].fillna("").astype(str).str.strip()
    frame["tags"] = frame["tags"].fillna("").astype(str)
    frame["provider"] = frame["provider"].replace("", "Other")

    amounts = frame["amount"].to_numpy(dtype=object)
    missing = pd.isna(frame["amount"]).to_numpy()
    unpriced: list[Unpriced] = []
    if missing.any():
        amounts, keep, unpriced = _fill_prices(frame, amounts, missing, pricer)
        frame = frame[keep]
        amounts = amounts[keep]
    if frame.empty:
        return Rolled(rows=[], total_micros=0, unpriced=unpriced)

    grouped = frame.groupby(list(GROUP_COLUMNS), sort=False, dropna=False)
    codes = grouped.ngroup().to_numpy()
    firsts = frame.drop_duplicates(list(GROUP_COLUMNS))[list(GROUP_COLUMNS)]
    count = len(firsts)
    sums = [Decimal(0)] * count
    for code, amount in zip(codes.tolist(), amounts.tolist(), strict=True):
        sums[code] += amount
    totals = {}
    for name in COUNT_COLUMNS:
        column = np.zeros(count, dtype=np.int64)
        np.add.at(column, codes, frame[name].to_numpy(dtype=np.int64))
        totals[name] = column.tolist()

    rows: list[dict[str, object]] = []
    total_micros = 0
    days = [ts.date() for ts in pd.to_datetime(firsts["day"])]
    records = firsts.drop(columns=["day"]).to_dict("records")
    for i, (day, record) in enumerate(zip(days, records, strict=True)):
        original = sums[i]
        currency = str(record["currency"])
        usd = original if currency == "USD" else original * rates[currency]
        micros = to_micros(usd)
        total_micros += micros
        dims = "\x1f".join(str(record[name]) for name in (*TEXT_COLUMNS, "currency", "tags"))
        digest = hashlib.sha1(dims.encode(), usedforsecurity=False).hexdigest()[:24]
        tags = record.pop("tags")
        rows.append(
            {
                **record,
                "source_key": f"{namespace}:{day.isoformat()}:{digest}",
                "day": day,
                "amount_micros": micros,
                "original_amount": _text(original),
                "tags": json.loads(tags) if tags else {},
                **{name: totals[name][i] for name in COUNT_COLUMNS},
            }
        )
    return Rolled(rows=rows, total_micros=total_micros, unpriced=unpriced, first_day=min(days), last_day=max(days))


def _text(value: Decimal) -> str:
    """The source's own amount as plain decimal text that fits the column (40 characters)."""
    text = f"{value:f}"
    if len(text) > 40:
        text = f"{value.quantize(Decimal('1e-12')):f}"
    return text


def _fill_prices(
    frame: pd.DataFrame, amounts: np.ndarray, missing: np.ndarray, pricer: Pricer
) -> tuple[np.ndarray, np.ndarray, list[Unpriced]]:
    amounts = amounts.copy()
    keep = np.ones(len(frame), dtype=bool)
    unpriced: dict[tuple[str, str], list[int]] = {}
    columns = ["provider", "model", "day", "input_tokens", "output_tokens", "cached_tokens", "requests"]
    subset = frame.loc[missing, columns]
    positions = np.flatnonzero(missing)
    for pos, (provider, model, day, inp, out, cached, requests) in zip(
        positions, subset.itertuples(index=False, name=None), strict=True
    ):
        if not (inp or out or cached):
            keep[pos] = False  # no money and no tokens: an empty bucket, nothing to store
            continue
        price = _price(pricer, provider, model, (int(inp), int(out), int(cached)), int(requests), day.date())
        if price is None:
            keep[pos] = False
            tally = unpriced.setdefault((provider, model), [0, 0, 0])
            tally[0] += 1
            tally[1] += int(inp)
            tally[2] += int(out)
        else:
            amounts[pos] = price
    listed = [
        Unpriced(provider=p, model=m or "(no model named)", rows=t[0], input_tokens=t[1], output_tokens=t[2])
        for (p, m), t in sorted(unpriced.items())
    ]
    return amounts, keep, listed
