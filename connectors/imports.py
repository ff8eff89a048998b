"""Import one file into a workspace: detect, parse, price, roll up, upsert — all of it or nothing.

The caller owns the transaction (`session_scope`): a BadFile raised here means the scope rolls back and the
database is as it was.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from connectors.files import detect_parser, get_parser
from connectors.files.base import BadFile, Parser, RawFile, SkippedRow
from connectors.files.generic import ColumnMapping, GenericParser
from connectors.files.normalise import Rolled, Unpriced, roll_up
from core import queries
from core.money import decimal_string

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


def _parse(
    raw: RawFile, parser: Parser, *, skip_bad_rows: bool, rates: Mapping[str, Decimal] | None
) -> tuple[Any, Rolled]:
    try:
        parsed = parser.parse(raw, skip_bad_rows=skip_bad_rows)
        if parsed.charges is not None:
            rolled = Rolled(rows=parsed.charges, total_micros=sum(int(c["amount_micros"]) for c in parsed.charges))
            if parsed.charges:
                rolled.first_day = min(c["day"] for c in parsed.charges)
                rolled.last_day = max(c["day"] for c in parsed.charges)
        else:
            rolled = roll_up(parsed.frame, namespace=parser.namespace, rates=rates)
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
) -> Preview:
    """Parse and price a file without touching the database; raises BadFile like import_file."""
    raw = RawFile(name=name, data=data)
    parser = choose_parser(raw, format=format, mapping=mapping)
    parsed, rolled = _parse(raw, parser, skip_bad_rows=skip_bad_rows, rates=rates)
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
    """Parse `data` and upsert its charges; raises BadFile (with nothing written) when it cannot."""
    raw = RawFile(name=name, data=data)
    parser = choose_parser(raw, format=format, mapping=mapping)
    parsed, rolled = _parse(raw, parser, skip_bad_rows=skip_bad_rows, rates=rates)
    # The workspace's allocation rules and overrides apply to new charges as they do to existing ones.
    (allocate or queries.allocator_for(session, workspace_id=workspace_id))(rolled.rows)
    batch = queries.create_import(
        session, workspace_id=workspace_id, source=parser.name, filename=name[:255], connection_id=connection_id
    )
    upserted = queries.upsert_charges(session, workspace_id=workspace_id, rows=rolled.rows, import_id=batch.id)
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
