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
from typing import Any

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
# One day's line: far beyond any real bill, and sums of many such lines still fit a BIGINT of micro-dollars.
MAX_CHARGE_USD = Decimal(10**10)
GROUP_COLUMNS = ("day", "currency", *TEXT_COLUMNS, "tags")
HOUR_KEY = ("day", "provider", "model", "project", "hour")
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
    rows: list[dict[str, Any]]
    total_micros: int
    unpriced: list[Unpriced] = field(default_factory=list)
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    # Requests per UTC hour (dicts with HOUR_KEY and requests), from request-level frames only.
    hourly: list[dict[str, Any]] = field(default_factory=list)


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


def _check_currencies(codes: np.ndarray, values: list[str], rows: pd.Series, rates: Mapping[str, Decimal]) -> None:
    for k, code in enumerate(values):
        if code not in CURRENCIES:
            row = int(rows.iloc[int(np.flatnonzero(codes == k)[0])])
            raise BadFile(
                f"Row {row}: '{code}' is not a currency code we know. Use ISO codes such as USD or EUR.",
                row=row,
                column="currency",
            )
    missing = sorted(set(values) - {"USD"} - set(rates))
    if missing:
        names = " and ".join(missing)
        example = ", ".join(f"{code}=1.08" for code in missing[:2])
        raise BadFile(
            f"This file has amounts in {names}, and meterr stores US dollars. Give the exchange rate (US dollars per "
            f"unit) for each and import again, e.g. {example}. Nothing was imported."
        )


def _blank(value: object) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value)


def _text_value(value: object) -> str:
    return "" if _blank(value) else str(value).strip()


def _factorized(series: pd.Series, clean: Callable[[object], object]) -> tuple[np.ndarray, list[Any]]:
    """Each row's code into the list of distinct cleaned values; cleaning runs once per distinct value, which
    for a million gateway requests is a few thousand strings instead of a million."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    values: list[Any] = []
    index: dict[Any, int] = {}
    table = np.empty(len(uniques) + 1, dtype=np.int64)
    for i, value in enumerate([*list(uniques), None]):  # the last entry is for blanks (code -1)
        cleaned = clean(value)
        if cleaned not in index:
            index[cleaned] = len(values)
            values.append(cleaned)
        table[i] = index[cleaned]
    return table[codes], values


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
    # Every grouping column as integer codes into its distinct (cleaned) values: grouping a million rows by
    # twelve small integer columns is quick and light, where twelve columns of text would not be.
    codes: dict[str, np.ndarray] = {}
    values: dict[str, list[Any]] = {}
    for name in TEXT_COLUMNS:
        codes[name], values[name] = _factorized(frame[name], _text_value)
    values["provider"] = [v or "Other" for v in values["provider"]]
    codes["currency"], values["currency"] = _factorized(frame["currency"], lambda v: _text_value(v).upper() or "USD")
    _check_currencies(codes["currency"], values["currency"], frame["row"], rates)
    codes["tags"], values["tags"] = _factorized(frame["tags"], lambda v: "" if _blank(v) else str(v))
    codes["day"], values["day"] = _factorized(frame["day"], lambda v: None if _blank(v) else pd.Timestamp(v).date())
    counts = {name: frame[name].to_numpy(dtype=np.int64) for name in COUNT_COLUMNS}
    if "hour" in frame:
        codes["hour"] = frame["hour"].to_numpy(dtype=np.int8)  # the hour itself, not a code: -1 = no time

    amounts = frame["amount"].to_numpy(dtype=object)
    missing = pd.isna(frame["amount"]).to_numpy()
    unpriced: list[Unpriced] = []
    if missing.any():
        amounts, keep, unpriced = _fill_prices(codes, values, counts, amounts, missing, pricer)
        amounts = amounts[keep]
        codes = {name: column[keep] for name, column in codes.items()}
        counts = {name: column[keep] for name, column in counts.items()}
    if not len(amounts):
        return Rolled(rows=[], total_micros=0, unpriced=unpriced)

    group = pd.DataFrame({name: codes[name] for name in GROUP_COLUMNS}).groupby(
        list(GROUP_COLUMNS), sort=False
    ).ngroup().to_numpy()  # fmt: skip
    count = int(group.max()) + 1
    first = np.unique(group, return_index=True)[1]  # the first row of each group, groups numbered 0..count-1
    sums = [Decimal(0)] * count
    for code, amount in zip(group.tolist(), amounts.tolist(), strict=True):
        sums[code] += amount
    totals = pd.DataFrame(counts).groupby(group, sort=True).sum()
    per_group = {name: [values[name][c] for c in codes[name][first].tolist()] for name in GROUP_COLUMNS}

    rows: list[dict[str, Any]] = []
    total_micros = 0
    parsed_tags: dict[str, dict[str, str]] = {}
    count_lists = {name: totals[name].tolist() for name in COUNT_COLUMNS}
    for i in range(count):
        day = per_group["day"][i]
        original = sums[i]
        currency = per_group["currency"][i]
        usd = original if currency == "USD" else original * rates[currency]
        if not abs(usd) < MAX_CHARGE_USD:  # '1e999' is a finite Decimal, but no micro-dollar column holds it
            raise BadFile(
                f"The {per_group['provider'][i]} charges on {day:%d %b %Y} add up to {original:,} {currency}, more "
                f"than meterr can store (${MAX_CHARGE_USD:,} a day per line). Check the amount column holds amounts."
            )
        micros = to_micros(usd)
        total_micros += micros
        dims = "\x1f".join(str(per_group[name][i]) for name in (*TEXT_COLUMNS, "currency", "tags"))
        digest = hashlib.sha1(dims.encode(), usedforsecurity=False).hexdigest()[:24]
        tags = per_group["tags"][i]
        if tags not in parsed_tags:
            parsed_tags[tags] = json.loads(tags) if tags else {}
        rows.append(
            {
                **{name: per_group[name][i] for name in (*TEXT_COLUMNS, "currency")},
                "source_key": f"{namespace}:{day.isoformat()}:{digest}",
                "day": day,
                "amount_micros": micros,
                "original_amount": _text(original),
                "tags": dict(parsed_tags[tags]),
                **{name: count_lists[name][i] for name in COUNT_COLUMNS},
            }
        )
    days = per_group["day"]
    return Rolled(
        rows=rows, total_micros=total_micros, unpriced=unpriced, first_day=min(days), last_day=max(days),
        hourly=_hourly(codes, values, counts["requests"]) if "hour" in codes else [],
    )  # fmt: skip


def _hourly(
    codes: Mapping[str, np.ndarray], values: Mapping[str, list[Any]], requests: np.ndarray
) -> list[dict[str, Any]]:
    """Requests per day, provider, model, project and UTC hour, for the rows whose timestamp had a time."""
    timed = codes["hour"] >= 0
    if not timed.any():
        return []
    frame = pd.DataFrame({name: codes[name][timed] for name in HOUR_KEY})
    frame["requests"] = requests[timed]
    sums = frame.groupby(list(HOUR_KEY), sort=False)["requests"].sum()
    # Two codes can clean to one value ('' and 'Other' are both provider 'Other'): add them up by value.
    hourly: dict[tuple[Any, ...], int] = {}
    for (day, provider, model, project, hour), count in zip(sums.index.tolist(), sums.tolist(), strict=True):
        key = (
            values["day"][day],
            values["provider"][provider],
            values["model"][model],
            values["project"][project],
            hour,
        )
        hourly[key] = hourly.get(key, 0) + count
    return [dict(zip(HOUR_KEY, key, strict=True), requests=count) for key, count in hourly.items() if count]


def _text(value: Decimal) -> str:
    """The source's own amount as plain decimal text that fits the column (40 characters)."""
    text = f"{value:f}"
    if len(text) > 40:
        text = f"{value.quantize(Decimal('1e-12')):f}"
    return text


def _fill_prices(
    codes: Mapping[str, np.ndarray],
    values: Mapping[str, list[Any]],
    counts: Mapping[str, np.ndarray],
    amounts: np.ndarray,
    missing: np.ndarray,
    pricer: Pricer,
) -> tuple[np.ndarray, np.ndarray, list[Unpriced]]:
    amounts = amounts.copy()
    keep = np.ones(len(amounts), dtype=bool)
    unpriced: dict[tuple[str, str], list[int]] = {}
    for pos in np.flatnonzero(missing).tolist():
        inp, out, cached, requests = (int(counts[n][pos]) for n in COUNT_COLUMNS)
        if not (inp or out or cached):
            keep[pos] = False  # no money and no tokens: an empty bucket, nothing to store
            continue
        provider = values["provider"][codes["provider"][pos]]
        model = values["model"][codes["model"][pos]]
        day = values["day"][codes["day"][pos]]
        price = _price(pricer, provider, model, (inp, out, cached), requests, day)
        if price is None:
            keep[pos] = False
            tally = unpriced.setdefault((provider, model), [0, 0, 0])
            tally[0] += 1
            tally[1] += inp
            tally[2] += out
        else:
            amounts[pos] = price
    listed = [
        Unpriced(provider=p, model=m or "(no model named)", rows=t[0], input_tokens=t[1], output_tokens=t[2])
        for (p, m), t in sorted(unpriced.items())
    ]
    return amounts, keep, listed
