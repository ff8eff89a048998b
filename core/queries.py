"""Named reads and writes; every one takes the session and the workspace explicitly."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import available_timezones

import pandas as pd
from sqlalchemy import Date, bindparam, cast, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from core import allocation, security
from core.crypto import SecretBox, connection_context, hint
from core.models import (
    DIMENSIONS,
    ROLES,
    Alert,
    AllocationRule,
    AuditLog,
    Charge,
    ChargeOverride,
    Connection,
    ImportBatch,
    Lease,
    Membership,
    SpendDay,
    SpendMonth,
    SpendRollup,
    UsageHour,
    User,
    Workspace,
    utcnow,
)

CHARGE_COLUMNS = (
    "workspace_id", "source_key", "import_id", "day", "provider", "service", "model", "line_item",
    "amount_micros", "original_amount", "currency", "input_tokens", "output_tokens", "cached_tokens",
    "requests", "api_key", "department", "project", "customer", "feature", "tags", "origin",
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


def save_workspace_settings(session: Session, *, workspace_id: int, name: str, timezone: str) -> Workspace:
    """Rename a workspace and set the timezone its days, months and 'today' are counted in."""
    name = name.strip()
    if not name:
        raise security.InvalidInput("Give the workspace a name.")
    if timezone not in available_timezones():
        raise security.InvalidInput(
            f"'{timezone}' is not a timezone we know; pick one from the list, e.g. Europe/London."
        )
    workspace = load_workspace_by_id(session, workspace_id=workspace_id)
    workspace.name, workspace.timezone = name[:120], timezone
    session.add(workspace)
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


# Connections --------------------------------------------------------------------------------------


def create_connection(
    session: Session, *, workspace_id: int, provider: str, method: str, name: str, config: dict[str, Any] | None = None
) -> Connection:
    connection = Connection(workspace_id=workspace_id, provider=provider, method=method, name=name, config=config or {})
    session.add(connection)
    session.flush()
    return connection


def save_connection_secret(session: Session, *, connection: Connection, secret: str, box: SecretBox) -> None:
    """Store a credential sealed to this workspace and connection; only its last four characters stay readable."""
    assert connection.id is not None
    connection.secret_ciphertext = box.seal(secret, context=connection_context(connection.workspace_id, connection.id))
    connection.secret_hint = hint(secret)
    session.add(connection)


def load_connection_secret(session: Session, *, workspace_id: int, connection_id: int, box: SecretBox) -> str:
    """The credential of a connection of this workspace (a connection of another workspace is not found)."""
    connection = session.get(Connection, connection_id)
    if connection is None or connection.workspace_id != workspace_id or not connection.secret_ciphertext:
        raise NotFound("That connection has no stored credential in this workspace.")
    return box.open(connection.secret_ciphertext, context=connection_context(workspace_id, connection_id))


# Charges ------------------------------------------------------------------------------------------


@dataclass
class UpsertResult:
    written: int = 0
    duplicates: int = 0
    revised: int = 0
    first_day: dt.date | None = None
    last_day: dt.date | None = None


@dataclass(frozen=True)
class _DriverStyle:
    """How our raw SQL speaks to this driver: its placeholder, and whether dates travel as ISO text (SQLite)."""

    mark: str
    dates_as_text: bool

    def day(self, value: dt.date) -> Any:
        return value.isoformat() if self.dates_as_text else value


def _driver_style(session: Session) -> _DriverStyle:
    sqlite = session.get_bind().dialect.name == "sqlite"
    return _DriverStyle("?" if sqlite else "%s", sqlite)


def _next_month_start(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


_EMPTY_TAGS = "{}"


def _as_params(row: Mapping[str, Any], workspace_id: int, import_id: int | None, day_as_text: bool) -> tuple[Any, ...]:
    """One charge as driver parameters in CHARGE_COLUMNS order; defaults for what a source does not know."""
    get = row.get
    tags = get("tags")
    origin = get("origin")
    day = row["day"]
    return (
        workspace_id, row["source_key"], import_id, day.isoformat() if day_as_text else day, row["provider"],
        get("service", ""), get("model", ""), get("line_item", ""), row["amount_micros"], row["original_amount"],
        get("currency", "USD"), get("input_tokens", 0), get("output_tokens", 0), get("cached_tokens", 0),
        get("requests", 0), get("api_key", ""), get("department", ""), get("project", ""), get("customer", ""),
        get("feature", ""), json.dumps(tags, sort_keys=True) if tags else _EMPTY_TAGS,
        json.dumps(origin, sort_keys=True) if origin else _EMPTY_TAGS,
    )  # fmt: skip


def _fingerprint(values: Sequence[Any]) -> tuple[Any, ...]:
    """What makes two versions of a charge the same, whatever the driver returned the day and tags as."""
    out = list(values[3:])  # drop workspace_id, source_key, import_id
    out[0] = str(out[0])
    for i in (-2, -1):  # tags, origin: JSON text from SQLite (written by us or by the ORM), dicts from PostgreSQL
        value = out[i]
        if isinstance(value, str):
            value = json.loads(value) if value not in ("", _EMPTY_TAGS) else None
        out[i] = json.dumps(value, sort_keys=True) if value else _EMPTY_TAGS
    return tuple(out)


def _chunks(rows: Iterable[Mapping[str, Any]], size: int) -> Iterable[list[Mapping[str, Any]]]:
    chunk: list[Mapping[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def upsert_charges(
    session: Session, *, workspace_id: int, rows: Iterable[Mapping[str, Any]], import_id: int | None = None
) -> UpsertResult:
    """Write charges idempotently: new keys are inserted, changed ones replaced, identical ones skipped.

    `rows` (any iterable, consumed in chunks) are dicts with the Charge fields; workspace and import are set
    here. Uses the driver's executemany: ORM objects are ~30x slower for imports. A key seen twice in one
    call raises InvalidInput; the caller's transaction then writes nothing. Refreshes the rollup once.
    """
    result = UpsertResult()
    style = _driver_style(session)
    mark = style.mark
    cursor = session.connection().connection.cursor()
    columns = ", ".join(CHARGE_COLUMNS)
    # Only our own constant column names and driver placeholders are interpolated; values are bound.
    insert_sql = f"INSERT INTO charge ({columns}) VALUES ({', '.join([mark] * len(CHARGE_COLUMNS))})"  # noqa: S608
    # An empty workspace cannot hold any of these keys: skip the per-chunk lookups (the common first import).
    empty = not session.execute(select(Charge.id).where(Charge.workspace_id == workspace_id).limit(1)).first()
    seen: set[str] = set()
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    for chunk in _chunks(rows, _CHUNK):
        params = [_as_params(row, workspace_id, import_id, style.dates_as_text) for row in chunk]
        keys = [p[1] for p in params]
        for key in keys:
            if key in seen:
                raise security.InvalidInput(f"The charge key '{key}' appears twice in one import.")
            seen.add(key)
        existing: dict[str, tuple[Any, ...]] = {}
        if not empty:
            placeholders = ", ".join([mark] * len(keys))
            cursor.execute(
                f"SELECT {columns} FROM charge WHERE workspace_id = {mark} AND source_key IN ({placeholders})",  # noqa: S608
                [workspace_id, *keys],
            )
            existing = {values[1]: _fingerprint(values) for values in cursor.fetchall()}
        fresh, revised, changed_days = [], [], []
        for row, values in zip(chunk, params, strict=True):
            old = existing.get(values[1])
            if old is None:
                fresh.append(values)
            elif old != _fingerprint(values):
                revised.append(values)
            else:
                result.duplicates += 1
                continue
            changed_days.append(row["day"])
        if fresh:
            cursor.executemany(insert_sql, fresh)
        if revised:
            assignments = ", ".join(f"{c} = {mark}" for c in CHARGE_COLUMNS[2:])
            cursor.executemany(
                f"UPDATE charge SET {assignments} WHERE workspace_id = {mark} AND source_key = {mark}",  # noqa: S608
                [(*values[2:], values[0], values[1]) for values in revised],
            )
        result.written += len(fresh)
        result.revised += len(revised)
        if changed_days:
            low, high = min(changed_days), max(changed_days)
            first_day = low if first_day is None else min(first_day, low)
            last_day = high if last_day is None else max(last_day, high)
    result.first_day, result.last_day = first_day, last_day
    if first_day is not None and last_day is not None:
        refresh_rollup(session, workspace_id=workspace_id, first_day=first_day, last_day=last_day)
    return result


def upsert_usage_hours(session: Session, *, workspace_id: int, source: str, rows: Iterable[Mapping[str, Any]]) -> None:
    """Store requests per UTC hour (dicts with day, provider, model, project, hour, requests) from one source.

    An hour already stored for the source is replaced, not added to: importing the same log again changes nothing.
    """
    table = UsageHour.__table__
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=["workspace_id", "source", "day", "provider", "model", "project", "hour"],
        set_={"requests": statement.excluded.requests},
    )
    for chunk in _chunks(rows, _CHUNK):
        session.execute(
            statement,
            [
                {"workspace_id": workspace_id, "source": source, "day": row["day"], "provider": row["provider"],
                 "model": row.get("model", ""), "project": row.get("project", ""), "hour": int(row["hour"]),
                 "requests": int(row["requests"])}
                for row in chunk
            ],
        )  # fmt: skip


def _month_of(column: Any, dialect: str) -> Any:
    if dialect == "sqlite":
        return func.date(column, "start of month")
    return cast(func.date_trunc("month", column), Date)


def refresh_rollup(session: Session, *, workspace_id: int, first_day: dt.date, last_day: dt.date) -> None:
    """Recompute the rollups for a range of days from the charges, and mark cached views stale."""
    # Lock the workspace row first so two writers on PostgreSQL cannot interleave delete and insert.
    session.execute(select(Workspace.id).where(Workspace.id == workspace_id).with_for_update())
    dialect = session.get_bind().dialect.name
    in_days = (col(SpendRollup.day) >= first_day, col(SpendRollup.day) <= last_day)
    session.execute(delete(SpendRollup).where(SpendRollup.workspace_id == workspace_id, *in_days))
    dims = [getattr(Charge, d) for d in DIMENSIONS]
    measures = [
        func.sum(Charge.amount_micros), func.sum(Charge.input_tokens), func.sum(Charge.output_tokens),
        func.sum(Charge.requests), func.count(),
    ]  # fmt: skip
    measure_names = ["amount_micros", "input_tokens", "output_tokens", "requests", "charges"]
    daily = (
        select(Charge.workspace_id, Charge.day, _month_of(Charge.day, dialect), *dims, *measures)
        .where(Charge.workspace_id == workspace_id, col(Charge.day) >= first_day, col(Charge.day) <= last_day)
        .group_by(Charge.workspace_id, Charge.day, *dims)
    )
    session.execute(
        insert(SpendRollup).from_select(["workspace_id", "day", "month", *DIMENSIONS, *measure_names], daily)
    )

    filters = [SpendRollup.provider, SpendRollup.department, SpendRollup.project]
    session.execute(
        delete(SpendDay).where(
            SpendDay.workspace_id == workspace_id, col(SpendDay.day) >= first_day, col(SpendDay.day) <= last_day
        )
    )
    session.execute(
        insert(SpendDay).from_select(
            ["workspace_id", "day", "provider", "department", "project", "amount_micros"],
            select(SpendRollup.workspace_id, SpendRollup.day, *filters, func.sum(SpendRollup.amount_micros))
            .where(SpendRollup.workspace_id == workspace_id, *in_days)
            .group_by(SpendRollup.workspace_id, SpendRollup.day, *filters),
        )
    )

    first_month, last_month = first_day.replace(day=1), last_day.replace(day=1)
    session.execute(
        delete(SpendMonth).where(
            SpendMonth.workspace_id == workspace_id,
            col(SpendMonth.month) >= first_month,
            col(SpendMonth.month) <= last_month,
        )
    )
    rollup_dims = [getattr(SpendRollup, d) for d in DIMENSIONS]
    session.execute(
        insert(SpendMonth).from_select(
            ["workspace_id", "month", *DIMENSIONS, *measure_names],
            select(
                SpendRollup.workspace_id,
                SpendRollup.month,
                *rollup_dims,
                *[func.sum(getattr(SpendRollup, m)) for m in measure_names],
            )  # fmt: skip
            .where(
                SpendRollup.workspace_id == workspace_id,
                col(SpendRollup.month) >= first_month,
                col(SpendRollup.month) <= last_month,
            )
            .group_by(SpendRollup.workspace_id, SpendRollup.month, *rollup_dims),
        )
    )
    session.execute(
        update(Workspace).where(col(Workspace.id) == workspace_id).values(data_version=Workspace.data_version + 1)
    )


def create_import(
    session: Session, *, workspace_id: int, source: str, filename: str | None = None, connection_id: int | None = None
) -> ImportBatch:
    batch = ImportBatch(workspace_id=workspace_id, source=source, filename=filename, connection_id=connection_id)
    session.add(batch)
    session.flush()
    return batch


def finish_import(
    session: Session,
    *,
    batch: ImportBatch,
    result: UpsertResult,
    rows_read: int,
    total_micros: int,
    first_day: dt.date | None = None,
    last_day: dt.date | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record what an import contributed; the days default to those the import changed."""
    batch.status = "done"
    batch.rows_read = rows_read
    batch.charges_written = result.written + result.revised
    batch.total_micros = total_micros
    batch.first_day = first_day or result.first_day
    batch.last_day = last_day or result.last_day
    batch.detail = detail or {}
    batch.finished_at = utcnow()
    session.add(batch)


# Reads for the Overview ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SpendFilter:
    """What the sidebar narrows the view to; empty tuples mean everything."""

    providers: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()
    projects: tuple[str, ...] = ()


MEASURES = ("amount_micros", "input_tokens", "output_tokens", "requests")


def _run_raw(session: Session, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run our own SQL through the driver's cursor: building frames from SQLAlchemy Rows costs ~5x more."""
    cursor = session.connection().connection.cursor()
    cursor.execute(sql, params)
    return list(cursor.fetchall())


def _where_filter(spend_filter: SpendFilter, mark: str) -> tuple[str, list[str]]:
    clauses: list[str] = []
    params: list[str] = []
    for column, values in (
        ("provider", spend_filter.providers),
        ("department", spend_filter.departments),
        ("project", spend_filter.projects),
    ):
        if values:
            clauses.append(f" AND {column} IN ({', '.join([mark] * len(values))})")
            params.extend(values)
    return "".join(clauses), params


def _frame(rows: list[tuple[Any, ...]], names: Sequence[str]) -> pd.DataFrame:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    frame = pd.DataFrame(dict(zip(names, columns, strict=True)))
    for name in names:
        if name == "day":
            frame[name] = pd.to_datetime(frame[name], format="ISO8601") if rows else pd.Series(dtype="datetime64[ns]")
        elif name in MEASURES:
            frame[name] = frame[name].astype("int64")
        else:
            frame[name] = frame[name].astype("str")
    return frame


def load_daily_totals(
    session: Session,
    *,
    workspace_id: int,
    start: dt.date,
    end: dt.date,
    spend_filter: SpendFilter = SpendFilter(),
) -> pd.DataFrame:
    """Spend per day in [start, end] (days without spend are absent): columns day, amount_micros."""
    style = _driver_style(session)
    mark = style.mark
    extra, extra_params = _where_filter(spend_filter, mark)
    sql = (
        f"SELECT day, SUM(amount_micros) FROM spend_day WHERE workspace_id = {mark} AND day >= {mark} "  # noqa: S608
        f"AND day <= {mark}{extra} GROUP BY day ORDER BY day"
    )
    params = [workspace_id, style.day(start), style.day(end), *extra_params]
    return _frame(_run_raw(session, sql, params), ("day", "amount_micros"))


def _whole_months(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date] | None:
    """The first and last month (as first days) lying wholly inside [start, end], if any."""
    first = start if start.day == 1 else _next_month_start(start)
    after_end = end + dt.timedelta(days=1)
    last = (after_end.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    return (first, last) if first <= last else None


def load_spend_breakdown(
    session: Session,
    *,
    workspace_id: int,
    start: dt.date,
    end: dt.date,
    spend_filter: SpendFilter = SpendFilter(),
) -> pd.DataFrame:
    """Spend and usage in [start, end] by provider × model × department × project × customer.

    Whole months come from the monthly rollup and the partial months at the edges from the daily one, so a
    year is ~12 months of rows, not 365 days of them, and the total is still exact to the day.
    """
    style = _driver_style(session)
    mark, value = style.mark, style.day
    extra, extra_params = _where_filter(spend_filter, mark)
    dims, sums = ", ".join(DIMENSIONS), ", ".join(MEASURES)
    # Every name below is one of our constants and every value is bound: no text from outside reaches the SQL.
    part = (
        "SELECT {dims}, {sums} FROM {table} WHERE workspace_id = {mark} AND {column} >= {mark} AND {column} <= {mark}"
    )
    parts: list[str] = []
    params: list[Any] = []
    months = _whole_months(start, end)
    if months is None:
        day_ranges = [(start, end)]
    else:
        parts.append(part.format(dims=dims, sums=sums, table="spend_month", column="month", mark=mark) + extra)
        params += [workspace_id, value(months[0]), value(months[1]), *extra_params]
        after_months = _next_month_start(months[1])
        day_ranges = [(start, months[0] - dt.timedelta(days=1)), (after_months, end)]
    for low, high in day_ranges:
        if low <= high:
            parts.append(part.format(dims=dims, sums=sums, table="spend_rollup", column="day", mark=mark) + extra)
            params += [workspace_id, value(low), value(high), *extra_params]
    totals = ", ".join(f"SUM({m})" for m in MEASURES)
    sql = f"SELECT {dims}, {totals} FROM ({' UNION ALL '.join(parts)}) AS spend GROUP BY {dims}"  # noqa: S608
    frame = _frame(_run_raw(session, sql, params), (*DIMENSIONS, *MEASURES))
    return frame[frame["amount_micros"] != 0].reset_index(drop=True)


GRANULARITIES = ("day", "month")
# spend_day keeps these dimensions per day and is far smaller than spend_rollup.
_SPEND_DAY_DIMENSIONS = ("provider", "department", "project")


def load_spend_series(
    session: Session,
    *,
    workspace_id: int,
    start: dt.date,
    end: dt.date,
    granularity: str = "day",
    group_by: str | None = None,
) -> pd.DataFrame:
    """Spend per day or per month in [start, end], optionally per one dimension: columns period (a date: the
    day, or the month's first day), the dimension when grouped, amount_micros. Periods without charges are
    absent; a month cut by start or end holds only its days inside the range.

    Ordered by period, then largest spend first, then name.
    """
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}, not {granularity!r}")
    if group_by is not None and group_by not in DIMENSIONS:
        raise ValueError(f"group_by must be one of {DIMENSIONS}, not {group_by!r}")
    style = _driver_style(session)
    mark, value = style.mark, style.day
    dims = [group_by] if group_by else []
    # Every name below is one of our constants and every value is bound: no text from outside reaches the SQL.
    select_dims = "".join(f", {d}" for d in dims)
    parts: list[str] = []
    params: list[Any] = []
    if granularity == "day":
        table = "spend_day" if group_by is None or group_by in _SPEND_DAY_DIMENSIONS else "spend_rollup"
        parts.append(
            f"SELECT day AS period{select_dims}, amount_micros FROM {table} "  # noqa: S608
            f"WHERE workspace_id = {mark} AND day >= {mark} AND day <= {mark}"
        )
        params += [workspace_id, value(start), value(end)]
    else:
        months = _whole_months(start, end)
        day_ranges = [(start, end)]
        if months is not None:
            parts.append(
                f"SELECT month AS period{select_dims}, amount_micros FROM spend_month "  # noqa: S608
                f"WHERE workspace_id = {mark} AND month >= {mark} AND month <= {mark}"
            )
            params += [workspace_id, value(months[0]), value(months[1])]
            day_ranges = [(start, months[0] - dt.timedelta(days=1)), (_next_month_start(months[1]), end)]
        for low, high in day_ranges:
            if low <= high:
                parts.append(
                    f"SELECT month AS period{select_dims}, amount_micros FROM spend_rollup "  # noqa: S608
                    f"WHERE workspace_id = {mark} AND day >= {mark} AND day <= {mark}"
                )
                params += [workspace_id, value(low), value(high)]
    group = ", ".join(["period", *dims])
    sql = (
        f"SELECT {group}, SUM(amount_micros) AS total FROM ({' UNION ALL '.join(parts)}) AS spend "  # noqa: S608
        f"GROUP BY {group} ORDER BY period, total DESC{select_dims}"
    )
    names = ("period", *dims, "amount_micros")
    frame = _frame(_run_raw(session, sql, params), names)
    frame["period"] = pd.to_datetime(frame["period"], format="ISO8601").dt.date if len(frame) else frame["period"]
    return frame


# Reads for forecasts, budgets and anomalies --------------------------------------------------------------

SCOPE_DIMENSIONS = ("provider", "department", "project", "customer")


def load_scope_daily(session: Session, *, workspace_id: int, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Spend per day × provider × department × project × customer in [start, end]: every budget scope's history."""
    style = _driver_style(session)
    mark = style.mark
    dims = ", ".join(SCOPE_DIMENSIONS)
    sql = (
        f"SELECT day, {dims}, SUM(amount_micros) FROM spend_rollup WHERE workspace_id = {mark} "  # noqa: S608
        f"AND day >= {mark} AND day <= {mark} GROUP BY day, {dims} ORDER BY day"
    )
    params = [workspace_id, style.day(start), style.day(end)]
    return _frame(_run_raw(session, sql, params), ("day", *SCOPE_DIMENSIONS, "amount_micros"))


def load_scope_monthly(session: Session, *, workspace_id: int, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Spend per whole month (first days in [start, end]) × the scope dimensions: budget history."""
    style = _driver_style(session)
    mark = style.mark
    dims = ", ".join(SCOPE_DIMENSIONS)
    sql = (
        f"SELECT month, {dims}, SUM(amount_micros) FROM spend_month WHERE workspace_id = {mark} "  # noqa: S608
        f"AND month >= {mark} AND month <= {mark} GROUP BY month, {dims} ORDER BY month"
    )
    params = [workspace_id, style.day(start), style.day(end)]
    frame = _frame(_run_raw(session, sql, params), ("month", *SCOPE_DIMENSIONS, "amount_micros"))
    frame["month"] = pd.to_datetime(frame["month"], format="ISO8601").dt.date if len(frame) else frame["month"]
    return frame


def load_anomaly_frame(session: Session, *, workspace_id: int, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Spend per day × provider × model × project × API key in [start, end], from the charges themselves."""
    style = _driver_style(session)
    mark = style.mark
    sql = (
        "SELECT day, provider, model, project, api_key, SUM(amount_micros) FROM charge "  # noqa: S608
        f"WHERE workspace_id = {mark} AND day >= {mark} AND day <= {mark} "
        "GROUP BY day, provider, model, project, api_key"
    )
    params = [workspace_id, style.day(start), style.day(end)]
    frame = _frame(_run_raw(session, sql, params), ("day", "provider", "model", "project", "api_key", "amount_micros"))
    frame["day"] = frame["day"].dt.date
    return frame


# Reads for savings advice ----------------------------------------------------------------------------------

USAGE_KEYS = ("provider", "model", "project", "api_key", "feature", "service", "line_item")
USAGE_SUMS = ("requests", "input_tokens", "output_tokens", "cached_tokens", "amount_micros")


def load_usage_profile(session: Session, *, workspace_id: int, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Usage and money in [start, end] per provider × model × project × API key × feature × service × line item,
    with the number of days each had spend or requests (days_active)."""
    style = _driver_style(session)
    mark = style.mark
    keys = ", ".join(USAGE_KEYS)
    sums = ", ".join(f"SUM({name})" for name in USAGE_SUMS)
    sql = (
        f"SELECT {keys}, {sums}, COUNT(DISTINCT day) FROM charge WHERE workspace_id = {mark} "  # noqa: S608
        f"AND day >= {mark} AND day <= {mark} GROUP BY {keys}"
    )
    params = [workspace_id, style.day(start), style.day(end)]
    frame = _frame(_run_raw(session, sql, params), (*USAGE_KEYS, *USAGE_SUMS, "days_active"))
    for name in (*USAGE_SUMS, "days_active"):
        frame[name] = frame[name].astype("int64")
    return frame


def load_model_daily(session: Session, *, workspace_id: int, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per day × provider × model × project in [start, end]: tokens, requests and money (the savings tracker)."""
    style = _driver_style(session)
    mark = style.mark
    sql = (
        "SELECT day, provider, model, project, SUM(requests), SUM(input_tokens), SUM(output_tokens), "  # noqa: S608
        f"SUM(cached_tokens), SUM(amount_micros) FROM charge WHERE workspace_id = {mark} AND day >= {mark} "
        f"AND day <= {mark} GROUP BY day, provider, model, project ORDER BY day"
    )
    params = [workspace_id, style.day(start), style.day(end)]
    names = ("day", "provider", "model", "project", *USAGE_SUMS)
    frame = _frame(_run_raw(session, sql, params), names)
    for name in USAGE_SUMS:
        frame[name] = frame[name].astype("int64")
    frame["day"] = frame["day"].dt.date
    return frame


HOURLY_KEYS = ("provider", "model", "project", "hour")


def load_hourly_profile(session: Session, *, workspace_id: int, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Requests per provider × model × project × UTC hour (0-23), summed over the days in [start, end]."""
    style = _driver_style(session)
    mark = style.mark
    keys = ", ".join(HOURLY_KEYS)
    sql = (
        f"SELECT {keys}, SUM(requests) FROM usage_hour WHERE workspace_id = {mark} "  # noqa: S608
        f"AND day >= {mark} AND day <= {mark} GROUP BY {keys} ORDER BY {keys}"
    )
    params = [workspace_id, style.day(start), style.day(end)]
    frame = _frame(_run_raw(session, sql, params), (*HOURLY_KEYS, "requests"))
    frame["hour"] = frame["hour"].astype("int64")
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
                select(column).where(SpendDay.workspace_id == workspace_id).distinct().order_by(column)
            ).scalars()
        )

    first, last = session.execute(
        select(func.min(SpendDay.day), func.max(SpendDay.day)).where(SpendDay.workspace_id == workspace_id)
    ).one()
    return FilterOptions(
        providers=distinct(SpendDay.provider),
        departments=distinct(SpendDay.department),
        projects=distinct(SpendDay.project),
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
        session.execute(select(SpendDay.id).where(SpendDay.workspace_id == workspace_id).limit(1)).first() is not None
    )


def delete_workspace_data(session: Session, *, workspace_id: int, user_id: int | None) -> int:
    """Delete every charge, rollup, hourly count, import, connection and the alerts they raised; returns charges
    deleted. Audited.

    Budgets, notification channels and the mail server are settings, not data: they stay.
    """
    deleted = session.execute(delete(Charge).where(col(Charge.workspace_id) == workspace_id)).rowcount
    for table in (SpendRollup, SpendMonth, SpendDay, UsageHour, ImportBatch, Connection, Alert):
        session.execute(delete(table).where(col(table.workspace_id) == workspace_id))
    session.execute(
        update(Workspace).where(col(Workspace.id) == workspace_id).values(data_version=Workspace.data_version + 1)
    )
    save_audit(session, workspace_id=workspace_id, user_id=user_id, action="workspace.data_deleted", charges=deleted)
    return int(deleted or 0)


# Connections and leases ------------------------------------------------------------------------------


def load_connections(session: Session, *, workspace_id: int) -> list[Connection]:
    return list(
        session.execute(
            select(Connection).where(Connection.workspace_id == workspace_id).order_by(col(Connection.created_at))
        ).scalars()
    )


def load_connection(session: Session, *, workspace_id: int, connection_id: int) -> Connection:
    connection = session.get(Connection, connection_id)
    if connection is None or connection.workspace_id != workspace_id:
        raise NotFound("There is no such connection in this workspace.")
    return connection


def load_connection_stats(session: Session, *, workspace_id: int) -> dict[int, tuple[int, int]]:
    """(charges written, micro-dollars) per connection, summed over its imports."""
    rows = session.execute(
        select(ImportBatch.connection_id, func.sum(ImportBatch.charges_written), func.sum(ImportBatch.total_micros))
        .where(ImportBatch.workspace_id == workspace_id, col(ImportBatch.connection_id).is_not(None))
        .group_by(ImportBatch.connection_id)
    ).all()
    return {int(cid): (int(count or 0), int(total or 0)) for cid, count, total in rows}


def remove_connection(session: Session, *, workspace_id: int, connection_id: int) -> Connection:
    """Forget a connection and its sealed secret; the charges it brought stay (delete data separately)."""
    connection = load_connection(session, workspace_id=workspace_id, connection_id=connection_id)
    session.delete(connection)
    return connection


def save_sync_state(
    session: Session, *, connection: Connection, cursor: str | None, error: str | None, when: dt.datetime
) -> None:
    if cursor is not None:
        connection.cursor = cursor
    connection.last_error = error
    connection.status = "error" if error else "active"
    if error is None:
        connection.last_synced_at = when
    session.add(connection)


def acquire_lease(session: Session, *, name: str, holder: str, ttl: dt.timedelta, now: dt.datetime) -> bool:
    """Take (or renew) the named lease until now + ttl, unless another holder's lease is still running."""
    taken = session.execute(
        update(Lease)
        .where(col(Lease.name) == name, (col(Lease.expires_at) < now) | (col(Lease.holder) == holder))
        .values(holder=holder, expires_at=now + ttl)
    )
    if taken.rowcount == 1:  # type: ignore[attr-defined]
        return True
    if session.get(Lease, name) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(Lease(name=name, holder=holder, expires_at=now + ttl))
    except IntegrityError:
        return False  # another replica inserted it first
    return True


def release_lease(session: Session, *, name: str, holder: str) -> None:
    session.execute(delete(Lease).where(col(Lease.name) == name, col(Lease.holder) == holder))


def load_syncable_connections(
    session: Session, *, workspace_id: int | None = None, connection_id: int | None = None
) -> list[tuple[int, int, str]]:
    """(workspace_id, connection_id, provider) of API connections with a stored key, for the sync runner."""
    query = select(Connection.workspace_id, Connection.id, Connection.provider).where(
        Connection.method == "api_key", col(Connection.secret_ciphertext).is_not(None)
    )
    if workspace_id is not None:
        query = query.where(Connection.workspace_id == workspace_id)
    if connection_id is not None:
        query = query.where(Connection.id == connection_id)
    return [(int(w), int(c), str(p)) for w, c, p in session.execute(query.order_by(Connection.id)).all()]


# Allocation rules and overrides ----------------------------------------------------------------------

_ALLOCATION_COLUMNS = (
    "source_key", "day", "amount_micros", "provider", "service", "model", "line_item", "api_key",
    "department", "project", "customer", "feature", "tags", "origin",
)  # fmt: skip


def load_rules(session: Session, *, workspace_id: int) -> list[allocation.Rule]:
    rows = session.execute(
        select(AllocationRule)
        .where(AllocationRule.workspace_id == workspace_id)
        .order_by(col(AllocationRule.position), col(AllocationRule.id))
    ).scalars()
    return [
        allocation.Rule(r.match_field, r.match_kind, r.pattern, r.set_field, r.value, r.tag_key, r.id) for r in rows
    ]


def load_overrides(session: Session, *, workspace_id: int) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for key, field, value in session.execute(
        select(ChargeOverride.source_key, ChargeOverride.field, ChargeOverride.value).where(
            ChargeOverride.workspace_id == workspace_id
        )
    ).all():
        out.setdefault(key, {})[field] = value
    return out


def allocator_for(session: Session, *, workspace_id: int) -> Any:
    """A function that applies this workspace's rules and overrides to charges about to be written."""
    rules = load_rules(session, workspace_id=workspace_id)
    overrides = load_overrides(session, workspace_id=workspace_id)
    return lambda rows: allocation.allocate_rows(rows, rules, overrides)


def _charges_for_allocation(session: Session, *, workspace_id: int) -> Iterable[dict[str, Any]]:
    result = session.execute(
        select(*[getattr(Charge, c) for c in _ALLOCATION_COLUMNS])
        .where(Charge.workspace_id == workspace_id)
        .execution_options(yield_per=20_000)
    )
    for values in result:
        row = dict(zip(_ALLOCATION_COLUMNS, values, strict=True))
        for name in ("tags", "origin"):
            if isinstance(row[name], str):
                row[name] = json.loads(row[name] or "{}")
            row[name] = row[name] or {}
        yield row


@dataclass(frozen=True)
class AllocationChange:
    charges: int
    micros: int  # the money whose allocation changes


def preview_rules(session: Session, *, workspace_id: int, rules: Sequence[allocation.Rule]) -> AllocationChange:
    """How many charges, and how many dollars, would be allocated differently under `rules`."""
    overrides = load_overrides(session, workspace_id=workspace_id)
    count = micros = 0
    for row in _charges_for_allocation(session, workspace_id=workspace_id):
        new = allocation.allocate(row, rules, overrides.get(row["source_key"]))
        if any(new[f] != row[f] for f in (*allocation.ALLOCATED, "tags")):
            count += 1
            micros += int(row["amount_micros"])
    return AllocationChange(count, micros)


def reapply_allocation(session: Session, *, workspace_id: int) -> AllocationChange:
    """Recompute every charge's allocation from its source values, the rules and the overrides."""
    rules = load_rules(session, workspace_id=workspace_id)
    overrides = load_overrides(session, workspace_id=workspace_id)
    updates: list[dict[str, Any]] = []
    days: list[dt.date] = []
    micros = 0
    for row in _charges_for_allocation(session, workspace_id=workspace_id):
        new = allocation.allocate(row, rules, overrides.get(row["source_key"]))
        if any(new[f] != row[f] for f in (*allocation.ALLOCATED, "tags", "origin")):
            updates.append({"key": row["source_key"], **new})
            days.append(row["day"] if isinstance(row["day"], dt.date) else dt.date.fromisoformat(str(row["day"])))
            micros += int(row["amount_micros"])
    if updates:
        statement = (
            update(Charge)
            .where(col(Charge.workspace_id) == workspace_id, col(Charge.source_key) == bindparam("key"))
            .values(**{f: bindparam(f"new_{f}") for f in (*allocation.ALLOCATED, "tags", "origin")})
        )
        session.connection().execute(
            statement, [{"key": u["key"], **{f"new_{f}": u[f] for f in (*allocation.ALLOCATED, "tags", "origin")}}
                        for u in updates],
        )  # fmt: skip
        refresh_rollup(session, workspace_id=workspace_id, first_day=min(days), last_day=max(days))
    return AllocationChange(len(updates), micros)


def save_rule(session: Session, *, workspace_id: int, rule: allocation.Rule) -> AllocationRule:
    rule = allocation.validate_rule(rule)
    position = session.execute(
        select(func.coalesce(func.max(AllocationRule.position), 0)).where(AllocationRule.workspace_id == workspace_id)
    ).scalar_one()
    row = AllocationRule(
        workspace_id=workspace_id, match_field=rule.match_field, match_kind=rule.match_kind, pattern=rule.pattern,
        set_field=rule.set_field, tag_key=rule.tag_key, value=rule.value, position=int(position) + 1,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def delete_rule(session: Session, *, workspace_id: int, rule_id: int) -> None:
    session.execute(
        delete(AllocationRule).where(
            col(AllocationRule.workspace_id) == workspace_id, col(AllocationRule.id) == rule_id
        )
    )


def save_override(session: Session, *, workspace_id: int, source_key: str, field: str, value: str) -> None:
    """A person's allocation of one charge; an empty value removes the override."""
    if field not in allocation.ALLOCATED and not re.fullmatch(r"tag:[A-Za-z0-9_.-]{1,40}", field):
        raise security.InvalidInput(f"'{field}' cannot be set on a charge.")
    if len(value) > 80:
        raise security.InvalidInput("Allocation values are at most 80 characters.")
    if not session.execute(
        select(Charge.id).where(Charge.workspace_id == workspace_id, Charge.source_key == source_key)
    ).first():
        raise NotFound("There is no such charge in this workspace.")
    session.execute(
        delete(ChargeOverride).where(
            col(ChargeOverride.workspace_id) == workspace_id,
            col(ChargeOverride.source_key) == source_key,
            col(ChargeOverride.field) == field,
        )
    )
    if value.strip():
        session.add(ChargeOverride(workspace_id=workspace_id, source_key=source_key, field=field, value=value.strip()))
    session.flush()


def load_largest_charges(
    session: Session, *, workspace_id: int, start: dt.date, end: dt.date, limit: int = 200
) -> pd.DataFrame:
    """The biggest charges in a date range with their allocation, for checking and overriding by hand."""
    columns = ["source_key", "day", "provider", "model", "line_item", "amount_micros", "department", "project",
               "customer", "feature", "tags"]  # fmt: skip
    rows = session.execute(
        select(*[getattr(Charge, c) for c in columns])
        .where(Charge.workspace_id == workspace_id, col(Charge.day) >= start, col(Charge.day) <= end)
        .order_by(col(Charge.amount_micros).desc())
        .limit(limit)
    ).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=columns)
    frame["tags"] = [allocation.format_tags(json.loads(t) if isinstance(t, str) else t or {}) for t in frame["tags"]]
    return frame
