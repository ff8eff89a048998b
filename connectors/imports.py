"""Import one file into a workspace: detect, parse, price, roll up, upsert — all of it or nothing.

The caller owns the transaction (`session_scope`): a BadFile raised here means the scope rolls back and the
database is as it was.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlmodel import Session

from connectors.files import detect_parser, get_parser
from connectors.files.base import BadFile, Parsed, Parser, RawFile, SkippedRow
from connectors.files.generic import ColumnMapping, GenericParser
from connectors.files.normalise import HOUR_KEY, Rolled, Unpriced, roll_up
from core import price_overrides, queries
from core.money import decimal_string, to_micros
from core.pricing import Pricer, price_per_request, workspace_pricer

log = logging.getLogger(__name__)
Allocate = Callable[[list[dict[str, Any]]], None]


@dataclass
class ImportResult:
    """What one file contributed, as shown in the wizard and printed by `meterr import --json`."""

    format: str
    format_label: str
    rows_read: int
    charges_written: int
    duplicates: int
    revised: int
    skipped: list[SkippedRow] = field(default_factory=list)
    unpriced: list[Unpriced] = field(default_factory=list)
    total_usd: str = "0.000000"
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    notes: list[str] = field(default_factory=list)
    import_id: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "rows_read": self.rows_read,
            "charges_written": self.charges_written,
            "duplicates": self.duplicates,
            "revised": self.revised,
            "skipped": [asdict(s) for s in self.skipped],
            "unpriced": [asdict(u) for u in self.unpriced],
            "total_usd": self.total_usd,
            "first_day": self.first_day.isoformat() if self.first_day else None,
            "last_day": self.last_day.isoformat() if self.last_day else None,
            "notes": self.notes,
        }

    @property
    def days(self) -> int:
        if self.first_day is None or self.last_day is None:
            return 0
        return (self.last_day - self.first_day).days + 1


def choose_parser(raw: RawFile, *, format: str | None = None, mapping: ColumnMapping | None = None) -> Parser:
    if mapping is not None:
        return GenericParser(mapping)
    return get_parser(format) if format else detect_parser(raw)


@dataclass
class Preview:
    """What an import would do, before anything is written: shown in the wizard's confirm step."""

    format: str
    format_label: str
    rows_read: int
    charges: int
    total_usd: str
    first_day: dt.date | None
    last_day: dt.date | None
    skipped: list[SkippedRow]
    unpriced: list[Unpriced]
    notes: list[str]


CHUNK_BYTES = 24 * 1024 * 1024


def _row_ranges(blob: bytes, size: int) -> Iterator[tuple[int, int]]:
    """(start, end) byte ranges of whole CSV rows after the header line, about `size` bytes each.

    A range ends at a newline outside quotes (an even number of '"' since the range began), so a quoted cell
    with a line break in it is never cut in two.
    """
    start = blob.index(b"\n") + 1
    while start < len(blob):
        end = min(len(blob), start + size)
        if end < len(blob):
            parity = blob.count(b'"', start, end) % 2
            while True:
                newline = blob.find(b"\n", end)
                if newline == -1:
                    end = len(blob)
                    break
                parity = (parity + blob.count(b'"', end, newline)) % 2
                end = newline + 1
                if parity == 0:
                    break
        yield start, end
        start = end


def _merge(parts: list[Rolled], rates: Mapping[str, Decimal]) -> Rolled:
    """Pieces of one file rolled up separately, summed per charge and rounded once, as if rolled up whole."""
    merged: dict[str, dict[str, Any]] = {}
    originals: dict[str, Decimal] = {}
    unpriced: dict[tuple[str, str], list[int]] = {}
    hourly: dict[tuple[Any, ...], int] = {}
    for part in parts:
        for hour in part.hourly:
            at = tuple(hour[name] for name in HOUR_KEY)
            hourly[at] = hourly.get(at, 0) + hour["requests"]
        for row in part.rows:
            key = row["source_key"]
            seen = merged.get(key)
            if seen is None:
                merged[key] = row
                continue
            originals[key] = originals.get(key, Decimal(seen["original_amount"])) + Decimal(row["original_amount"])
            for name in ("input_tokens", "output_tokens", "cached_tokens", "requests"):
                seen[name] += row[name]
        for item in part.unpriced:
            tally = unpriced.setdefault((item.provider, item.model), [0, 0, 0])
            tally[0] += item.rows
            tally[1] += item.input_tokens
            tally[2] += item.output_tokens
    for key, original in originals.items():
        row = merged[key]
        rate = Decimal(1) if row["currency"] == "USD" else rates[row["currency"]]
        row["original_amount"] = f"{original:f}"[:40]
        row["amount_micros"] = to_micros(original * rate)
    rows = list(merged.values())
    days = [row["day"] for row in rows]
    return Rolled(
        rows=rows,
        total_micros=sum(row["amount_micros"] for row in rows),
        unpriced=[Unpriced(p, m, *t) for (p, m), t in sorted(unpriced.items())],
        first_day=min(days) if days else None,
        last_day=max(days) if days else None,
        hourly=[dict(zip(HOUR_KEY, key, strict=True), requests=count) for key, count in hourly.items()],
    )


def _parse_in_pieces(
    raw: RawFile, parser: Parser, *, skip_bad_rows: bool, rates: Mapping[str, Decimal] | None, pricer: Pricer
) -> tuple[Parsed, Rolled]:
    """A large CSV of independent rows, parsed and rolled up a piece at a time: memory stays flat."""
    blob = bytes(raw.utf8_bytes())
    raw.release()
    header = blob[: blob.index(b"\n") + 1]
    whole = Parsed(frame=pd.DataFrame(), rows_read=0)
    parts: list[Rolled] = []
    for start, end in _row_ranges(blob, CHUNK_BYTES):
        # Rows are numbered as the whole file would number them: the header is row 1, then one per record.
        piece = RawFile(name=raw.name, data=header + blob[start:end], first_row=2 + whole.rows_read)
        parsed = parser.parse(piece, skip_bad_rows=skip_bad_rows)
        whole.rows_read += parsed.rows_read
        whole.skipped.extend(parsed.skipped)
        whole.notes.extend(note for note in parsed.notes if note not in whole.notes)
        parts.append(roll_up(parsed.frame, namespace=parser.namespace, rates=rates, pricer=pricer))
        del piece, parsed
    return whole, _merge(parts, rates or {})


def _rekeyed(rolled: Rolled, parser: Any, rates: Mapping[str, Decimal] | None) -> Rolled:
    """Charges under the parser's own key scheme (an export keyed as its API sync keys the same money)."""
    for row in rolled.rows:
        row["source_key"] = parser.source_key_for(row)
    return _merge([rolled], rates or {})


def _parse(
    raw: RawFile,
    parser: Parser,
    *,
    skip_bad_rows: bool,
    rates: Mapping[str, Decimal] | None,
    pricer: Pricer = price_per_request,
) -> tuple[Any, Rolled]:
    parsed, rolled = _parse_and_roll_up(raw, parser, skip_bad_rows=skip_bad_rows, rates=rates, pricer=pricer)
    if hasattr(parser, "source_key_for"):
        rolled = _rekeyed(rolled, parser, rates)
    return parsed, rolled


def _parse_and_roll_up(
    raw: RawFile, parser: Parser, *, skip_bad_rows: bool, rates: Mapping[str, Decimal] | None, pricer: Pricer
) -> tuple[Any, Rolled]:
    try:
        if getattr(parser, "line_by_line", False) and len(raw.data) > CHUNK_BYTES and not raw.looks_like_json():
            return _parse_in_pieces(raw, parser, skip_bad_rows=skip_bad_rows, rates=rates, pricer=pricer)
        parsed = parser.parse(raw, skip_bad_rows=skip_bad_rows)
        raw.release()
        if parsed.charges is not None:
            rolled = Rolled(rows=parsed.charges, total_micros=sum(int(c["amount_micros"]) for c in parsed.charges))
            if parsed.charges:
                rolled.first_day = min(c["day"] for c in parsed.charges)
                rolled.last_day = max(c["day"] for c in parsed.charges)
        else:
            rolled = roll_up(parsed.frame, namespace=parser.namespace, rates=rates, pricer=pricer)
    except BadFile:
        raise
    except Exception as exc:  # a parser bug must still reach the person as a sentence, not a trace
        log.exception("parser %s failed on %s", parser.name, raw.name)
        raise BadFile(
            f"We could not read this file as {parser.label} ({type(exc).__name__}). Check it is the right export, "
            "or choose the format by hand."
        ) from exc
    return parsed, rolled


def preview_file(
    *,
    name: str,
    data: bytes,
    format: str | None = None,
    mapping: ColumnMapping | None = None,
    skip_bad_rows: bool = False,
    rates: Mapping[str, Decimal] | None = None,
    pricer: Pricer = price_per_request,
) -> Preview:
    """Parse and price a file without touching the database; raises BadFile like import_file.

    ``pricer`` prices token-only rows: pass ``core.pricing.workspace_pricer(rates)`` for negotiated rates.
    """
    raw = RawFile(name=name, data=data)
    del data  # the RawFile holds the bytes now, and lets go of them once parsed
    parser = choose_parser(raw, format=format, mapping=mapping)
    parsed, rolled = _parse(raw, parser, skip_bad_rows=skip_bad_rows, rates=rates, pricer=pricer)
    return Preview(
        format=parser.name, format_label=parser.label, rows_read=parsed.rows_read, charges=len(rolled.rows),
        total_usd=decimal_string(rolled.total_micros), first_day=rolled.first_day, last_day=rolled.last_day,
        skipped=sorted(parsed.skipped, key=lambda s: s.row), unpriced=rolled.unpriced, notes=parsed.notes,
    )  # fmt: skip


def import_file(
    session: Session,
    *,
    workspace_id: int,
    name: str,
    data: bytes,
    format: str | None = None,
    mapping: ColumnMapping | None = None,
    skip_bad_rows: bool = False,
    rates: Mapping[str, Decimal] | None = None,
    connection_id: int | None = None,
    allocate: Allocate | None = None,
) -> ImportResult:
    """Parse `data` and upsert its charges; raises BadFile (with nothing written) when it cannot.

    Token-only rows are priced at list price as of their day, or at the workspace's negotiated rate.
    """
    raw = RawFile(name=name, data=data)
    del data  # the RawFile holds the bytes now, and lets go of them once parsed
    parser = choose_parser(raw, format=format, mapping=mapping)
    pricer = workspace_pricer(price_overrides.load_price_overrides(session, workspace_id=workspace_id))
    parsed, rolled = _parse(raw, parser, skip_bad_rows=skip_bad_rows, rates=rates, pricer=pricer)
    # The workspace's allocation rules and overrides apply to new charges as they do to existing ones.
    (allocate or queries.allocator_for(session, workspace_id=workspace_id))(rolled.rows)
    batch = queries.create_import(
        session, workspace_id=workspace_id, source=parser.name, filename=name[:255], connection_id=connection_id
    )
    upserted = queries.upsert_charges(session, workspace_id=workspace_id, rows=rolled.rows, import_id=batch.id)
    queries.upsert_usage_hours(session, workspace_id=workspace_id, source=parser.namespace, rows=rolled.hourly)
    result = ImportResult(
        format=parser.name,
        format_label=parser.label,
        rows_read=parsed.rows_read,
        charges_written=upserted.written,
        duplicates=upserted.duplicates,
        revised=upserted.revised,
        skipped=sorted(parsed.skipped, key=lambda s: s.row),
        unpriced=rolled.unpriced,
        total_usd=decimal_string(rolled.total_micros),
        first_day=rolled.first_day,
        last_day=rolled.last_day,
        notes=parsed.notes,
        import_id=batch.id,
    )
    queries.finish_import(
        session,
        batch=batch,
        result=upserted,
        rows_read=parsed.rows_read,
        total_micros=rolled.total_micros,
        first_day=rolled.first_day,
        last_day=rolled.last_day,
        detail=result.as_json(),
    )
    return result
