"""Named reads and writes; every one takes the session and the workspace explicitly."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import delete, func, select, update
from sqlmodel import Session, col

from core import security
from core.models import (
    DIMENSIONS,
    ROLES,
    AuditLog,
    Charge,
    Connection,
    ImportBatch,
    Membership,
    SpendRollup,
    User,
    Workspace,
    utcnow,
)

CHARGE_COLUMNS = (
    "workspace_id", "source_key", "import_id", "day", "provider", "service", "model", "line_item",
    "amount_micros", "original_amount", "currency", "input_tokens", "output_tokens", "cached_tokens",
    "requests", "api_key", "department", "project", "customer", "feature", "tags",
)  # fmt: skip
_CHUNK = 20_000


class NotFound(LookupError):
    """A workspace, user or member that does not exist (or is not visible to the caller)."""


# Workspaces ---------------------------------------------------------------------------------------


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:48] or "workspace"


def create_workspace(session: Session, *, name: str, slug: str | None = None) -> Workspace:
    """A new workspace; the slug is derived from the name and made unique with a number."""
    name = name.strip()
    if not name:
        raise security.InvalidInput("Give the workspace a name, for example your company's.")
    base = slugify(slug or name)
    candidate, n = base, 1
    while session.execute(select(Workspace.id).where(Workspace.slug == candidate)).first() is not None:
        n += 1
        candidate = f"{base}-{n}"
    workspace = Workspace(name=name[:120], slug=candidate)
    session.add(workspace)
    session.flush()
    return workspace


def load_workspace(session: Session, *, slug: str) -> Workspace:
    workspace = session.execute(select(Workspace).where(Workspace.slug == slug)).scalars().first()
    if workspace is None:
        raise NotFound(f"There is no workspace '{slug}'. `meterr demo` creates one called 'acme-ai'.")
    return workspace


def load_workspace_by_id(session: Session, *, workspace_id: int) -> Workspace:
    workspace = session.get(Workspace, workspace_id)
    if workspace is None:
        raise NotFound(f"Workspace {workspace_id} does not exist.")
    return workspace


# People -------------------------------------------------------------------------------------------


def count_users(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(User)).scalar_one())


def load_user(session: Session, *, username: str) -> User | None:
    name = security.normalise_username(username)
    return session.execute(select(User).where(User.username == name)).scalars().first()


def create_user(session: Session, *, username: str, email: str, name: str, password: str, rounds: int = 12) -> User:
    """A new user after checking every field; raises InvalidInput with a plain-English reason."""
    username = security.check_username(username)
    email = security.check_email(email)
    security.check_password(password)
    if not name.strip():
        raise security.InvalidInput("Tell us your name, so colleagues know who made changes.")
    if load_user(session, username=username) is not None:
        raise security.InvalidInput(f"The username '{username}' is taken; choose another.")
    user = User(
        username=username,
        email=email,
        name=name.strip()[:120],
        password_hash=security.hash_password(password, rounds=rounds),
    )
    session.add(user)
    session.flush()
    return user


def save_password(session: Session, *, user: User, new_password: str, rounds: int = 12) -> None:
    security.check_password(new_password)
    user.password_hash = security.hash_password(new_password, rounds=rounds)
    session.add(user)


def save_sign_in_attempt(
    session: Session, *, user: User, succeeded: bool, now: dt.datetime, attempts: int, lock_seconds: int
) -> None:
    """Count a failed sign-in (locking after `attempts`) or clear the count after a success."""
    if succeeded:
        user.failed_logins, user.locked_until = 0, None
    else:
        user.failed_logins, locked = security.after_failed_sign_in(
            user.failed_logins, now, attempts=attempts, lock_seconds=lock_seconds
        )
        if locked is not None:
            user.locked_until = locked
    session.add(user)


def add_member(session: Session, *, workspace_id: int, user_id: int, role: str) -> Membership:
    if role not in ROLES:
        raise security.InvalidInput(f"Role must be one of {', '.join(ROLES)}.")
    existing = (
        session.execute(
            select(Membership).where(Membership.workspace_id == workspace_id, Membership.user_id == user_id)
        )
        .scalars()
        .first()
    )
    if existing is not None:
        existing.role = role
        session.add(existing)
        return existing
    membership = Membership(workspace_id=workspace_id, user_id=user_id, role=role)
    session.add(membership)
    session.flush()
    return membership


@dataclass(frozen=True)
class MemberRow:
    user_id: int
    username: str
    name: str
    email: str
    role: str


def load_members(session: Session, *, workspace_id: int) -> list[MemberRow]:
    rows = session.execute(
        select(User.id, User.username, User.name, User.email, Membership.role)
        .join(Membership, col(Membership.user_id) == User.id)
        .where(Membership.workspace_id == workspace_id)
        .order_by(User.username)
    ).all()
    return [MemberRow(*row) for row in rows]


def load_memberships(session: Session, *, user_id: int) -> list[tuple[Workspace, str]]:
    """The workspaces a user belongs to, with their role in each, oldest first."""
    rows = session.execute(
        select(Workspace, Membership.role)
        .join(Membership, col(Membership.workspace_id) == Workspace.id)
        .where(Membership.user_id == user_id)
        .order_by(Workspace.id)
    ).all()
    return [(workspace, role) for workspace, role in rows]


def load_role(session: Session, *, workspace_id: int, user_id: int) -> str | None:
    return session.execute(
        select(Membership.role).where(Membership.workspace_id == workspace_id, Membership.user_id == user_id)
    ).scalar_one_or_none()


def remove_member(session: Session, *, workspace_id: int, user_id: int) -> None:
    """Remove someone from a workspace; the last owner cannot be removed."""
    role = load_role(session, workspace_id=workspace_id, user_id=user_id)
    if role is None:
        raise NotFound("That person is not a member of this workspace.")
    if role == "owner":
        owners = session.execute(
            select(func.count())
            .select_from(Membership)
            .where(Membership.workspace_id == workspace_id, Membership.role == "owner")
        ).scalar_one()
        if owners <= 1:
            raise security.InvalidInput("A workspace needs an owner: make someone else owner first.")
    session.execute(delete(Membership).where(Membership.workspace_id == workspace_id, Membership.user_id == user_id))


def save_audit(session: Session, *, workspace_id: int | None, user_id: int | None, action: str, **detail: Any) -> None:
    session.add(AuditLog(workspace_id=workspace_id, user_id=user_id, action=action, detail=detail))


def load_audit(session: Session, *, workspace_id: int, limit: int = 50) -> list[AuditLog]:
    return list(
        session.execute(
            select(AuditLog).where(AuditLog.workspace_id == workspace_id).order_by(col(AuditLog.id).desc()).limit(limit)
        ).scalars()
    )


# Charges ------------------------------------------------------------------------------------------


@dataclass
class UpsertResult:
    written: int = 0
    duplicates: int = 0
    revised: int = 0
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    days: set[dt.date] = field(default_factory=set)


def _placeholders(session: Session, count: int) -> str:
    mark = "?" if session.get_bind().dialect.name == "sqlite" else "%s"
    return ", ".join([mark] * count)


def _comparable(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(row[c] for c in CHARGE_COLUMNS if c not in ("workspace_id", "source_key", "import_id"))


def upsert_charges(
    session: Session, *, workspace_id: int, rows: Sequence[Mapping[str, Any]], import_id: int | None = None
) -> UpsertResult:
    """Write charges idempotently: new keys are inserted, changed ones replaced, identical ones skipped.

    Rows are dicts with the Charge fields (workspace_id and import_id are filled in here). Uses the
    driver's executemany, because ORM objects are ~30x slower for imports. Refreshes the rollup.
    """
    result = UpsertResult()
    connection = session.connection()
    # Only our own constant column names and driver placeholders are interpolated; values are bound.
    insert_sql = (
        f"INSERT INTO charge ({', '.join(CHARGE_COLUMNS)}) VALUES ({_placeholders(session, len(CHARGE_COLUMNS))})"  # noqa: S608
    )
    update_columns = [c for c in CHARGE_COLUMNS if c not in ("workspace_id", "source_key")]
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        keys = [r["source_key"] for r in chunk]
        existing: dict[str, tuple[Any, ...]] = {}
        if session.execute(
            select(func.count()).select_from(Charge).where(Charge.workspace_id == workspace_id).limit(1)
        ).scalar_one():
            for existing_row in connection.execute(
                select(*[getattr(Charge, c) for c in CHARGE_COLUMNS]).where(
                    Charge.workspace_id == workspace_id, col(Charge.source_key).in_(keys)
                )
            ).mappings():
                existing[existing_row["source_key"]] = _comparable(existing_row)
        fresh, revised = [], []
        seen: set[str] = set()
        for row in chunk:
            key = row["source_key"]
            if key in seen:
                raise security.InvalidInput(f"The charge key '{key}' appears twice in one import.")
            seen.add(key)
            full = {**_CHARGE_DEFAULTS, **row, "workspace_id": workspace_id, "import_id": import_id}
            if key not in existing:
                fresh.append(full)
            elif existing[key] != _comparable(full):
                revised.append(full)
            else:
                result.duplicates += 1
                continue
            result.days.add(full["day"])
        if fresh:
            connection.exec_driver_sql(insert_sql, [_as_params(r) for r in fresh])
        for row in revised:
            connection.execute(
                update(Charge)
                .where(Charge.workspace_id == workspace_id, Charge.source_key == row["source_key"])  # type: ignore[arg-type]
                .values({c: row[c] for c in update_columns})
            )
        result.written += len(fresh)
        result.revised += len(revised)
    if result.days:
        result.first_day, result.last_day = min(result.days), max(result.days)
        refresh_rollup(session, workspace_id=workspace_id, first_day=result.first_day, last_day=result.last_day)
    return result


_CHARGE_DEFAULTS: dict[str, Any] = {
    "service": "", "model": "", "line_item": "", "currency": "USD", "input_tokens": 0, "output_tokens": 0,
    "cached_tokens": 0, "requests": 0, "api_key": "", "department": "", "project": "", "customer": "",
    "feature": "", "tags": {},
}  # fmt: skip


def _as_params(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(
        json.dumps(row["tags"], sort_keys=True) if c == "tags" else (row[c].isoformat() if c == "day" else row[c])
        for c in CHARGE_COLUMNS
    )


def refresh_rollup(session: Session, *, workspace_id: int, first_day: dt.date, last_day: dt.date) -> None:
    """Recompute the daily rollup for a range of days from the charges, and mark cached views stale."""
    # Lock the workspace row first so two writers on PostgreSQL cannot interleave delete and insert.
    session.execute(select(Workspace.id).where(Workspace.id == workspace_id).with_for_update())
    session.execute(
        delete(SpendRollup).where(
            SpendRollup.workspace_id == workspace_id,
            col(SpendRollup.day) >= first_day,
            col(SpendRollup.day) <= last_day,
        )
    )
    dims = [getattr(Charge, d) for d in DIMENSIONS]
    summed = (
        select(
            Charge.workspace_id,
            Charge.day,
            *dims,
            func.sum(Charge.amount_micros),
            func.sum(Charge.input_tokens),
            func.sum(Charge.output_tokens),
            func.sum(Charge.requests),
            func.count(),
        )
        .where(Charge.workspace_id == workspace_id, col(Charge.day) >= first_day, col(Charge.day) <= last_day)
        .group_by(Charge.workspace_id, Charge.day, *dims)
    )
    target = [
        "workspace_id",
        "day",
        *DIMENSIONS,
        "amount_micros",
        "input_tokens",
        "output_tokens",
        "requests",
        "charges",
    ]
    from sqlalchemy import insert

    session.execute(insert(SpendRollup).from_select(target, summed))
    session.execute(
        update(Workspace).where(col(Workspace.id) == workspace_id).values(data_version=Workspace.data_version + 1)
    )


def create_import(session: Session, *, workspace_id: int, source: str, filename: str | None = None) -> ImportBatch:
    batch = ImportBatch(workspace_id=workspace_id, source=source, filename=filename)
    session.add(batch)
    session.flush()
    return batch


def finish_import(
    session: Session, *, batch: ImportBatch, result: UpsertResult, rows_read: int, total_micros: int
) -> None:
    batch.status = "done"
    batch.rows_read = rows_read
    batch.charges_written = result.written + result.revised
    batch.total_micros = total_micros
    batch.first_day, batch.last_day = result.first_day, result.last_day
    batch.finished_at = utcnow()
    session.add(batch)


# Reads for the Overview ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SpendFilter:
    """What the sidebar narrows the view to; empty tuples mean everything."""

    providers: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()
    projects: tuple[str, ...] = ()


ROLLUP_COLUMNS = ("day", *DIMENSIONS, "amount_micros", "input_tokens", "output_tokens", "requests")


def load_daily_spend(
    session: Session,
    *,
    workspace_id: int,
    start: dt.date,
    end: dt.date,
    spend_filter: SpendFilter = SpendFilter(),
) -> pd.DataFrame:
    """Rollup rows (day × provider × model × department × project × customer) for [start, end]."""
    query = select(*[getattr(SpendRollup, c) for c in ROLLUP_COLUMNS]).where(
        SpendRollup.workspace_id == workspace_id, col(SpendRollup.day) >= start, col(SpendRollup.day) <= end
    )
    for column, values in (
        (SpendRollup.provider, spend_filter.providers),
        (SpendRollup.department, spend_filter.departments),
        (SpendRollup.project, spend_filter.projects),
    ):
        if values:
            query = query.where(col(column).in_(values))
    rows = session.connection().execute(query).all()
    frame = pd.DataFrame.from_records(rows, columns=list(ROLLUP_COLUMNS))
    frame["day"] = pd.to_datetime(frame["day"])
    for c in ("amount_micros", "input_tokens", "output_tokens", "requests"):
        frame[c] = frame[c].astype("int64")
    return frame


@dataclass(frozen=True)
class FilterOptions:
    providers: tuple[str, ...]
    departments: tuple[str, ...]
    projects: tuple[str, ...]
    first_day: dt.date | None
    last_day: dt.date | None


def load_filter_options(session: Session, *, workspace_id: int) -> FilterOptions:
    def distinct(column: Any) -> tuple[str, ...]:
        return tuple(
            session.execute(
                select(column).where(SpendRollup.workspace_id == workspace_id).distinct().order_by(column)
            ).scalars()
        )

    first, last = session.execute(
        select(func.min(SpendRollup.day), func.max(SpendRollup.day)).where(SpendRollup.workspace_id == workspace_id)
    ).one()
    return FilterOptions(
        providers=distinct(SpendRollup.provider),
        departments=distinct(SpendRollup.department),
        projects=distinct(SpendRollup.project),
        first_day=_as_date(first),
        last_day=_as_date(last),
    )


def _as_date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


@dataclass(frozen=True)
class WorkspaceSummary:
    total_micros: int
    charges: int
    by_provider: dict[str, int]
    first_day: dt.date | None
    last_day: dt.date | None


def load_workspace_summary(session: Session, *, workspace_id: int) -> WorkspaceSummary:
    """Exact totals straight from the charge table (not the rollup), for the CLI and checks."""
    total, count, first, last = session.execute(
        select(
            func.coalesce(func.sum(Charge.amount_micros), 0),
            func.count(),
            func.min(Charge.day),
            func.max(Charge.day),
        ).where(Charge.workspace_id == workspace_id)
    ).one()
    by_provider: dict[str, int] = dict(
        session.execute(
            select(Charge.provider, func.sum(Charge.amount_micros))
            .where(Charge.workspace_id == workspace_id)
            .group_by(Charge.provider)
            .order_by(Charge.provider)
        ).all()
    )
    return WorkspaceSummary(
        total_micros=int(total),
        charges=int(count),
        by_provider={k: int(v) for k, v in by_provider.items()},
        first_day=_as_date(first),
        last_day=_as_date(last),
    )


def has_charges(session: Session, *, workspace_id: int) -> bool:
    return (
        session.execute(select(SpendRollup.id).where(SpendRollup.workspace_id == workspace_id).limit(1)).first()
        is not None
    )


def delete_workspace_data(session: Session, *, workspace_id: int, user_id: int | None) -> int:
    """Delete every charge, rollup, import and connection of a workspace; returns charges deleted. Audited."""
    deleted = session.execute(delete(Charge).where(col(Charge.workspace_id) == workspace_id)).rowcount
    for table in (SpendRollup, ImportBatch, Connection):
        session.execute(delete(table).where(col(table.workspace_id) == workspace_id))
    session.execute(
        update(Workspace).where(col(Workspace.id) == workspace_id).values(data_version=Workspace.data_version + 1)
    )
    save_audit(session, workspace_id=workspace_id, user_id=user_id, action="workspace.data_deleted", charges=deleted)
    return int(deleted or 0)


def iter_users(session: Session) -> Iterable[User]:
    return session.execute(select(User)).scalars()
