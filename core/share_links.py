"""Read-only share links for people without an account: a 32-byte token shown once, stored only as a SHA-256.

A link shows one workspace's executive summary (or its Overview too), optionally for a fixed month, until it
expires (1–90 days) or is revoked, optionally behind a passcode (bcrypt). Anything that is not a live link
resolves to None, whatever the reason, so a visitor learns nothing from a bad one.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlmodel import Session, col

from core import security
from core.models import AuditLog, ShareLink, ShareOpen, utcnow
from core.queries import NotFound
from core.security import InvalidInput

KINDS = {"summary": "Executive summary", "overview": "Overview and executive summary"}
MIN_DAYS, MAX_DAYS, DEFAULT_DAYS = 1, 90, 14
PREFIX_LENGTH = 8  # the token's first characters, kept to name a link (e.g. for `meterr share revoke`)
MIN_PREFIX = 6
MIN_PASSCODE, MAX_PASSCODE = 4, 72  # bcrypt reads at most 72 bytes
PASSCODE_ATTEMPTS, PASSCODE_LOCK_SECONDS = 5, 60
PASSCODE_FAILED = "share.passcode_failed"  # the audit action the passcode lockout counts
MAX_USER_AGENT = 255
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
_PREFIX = re.compile(r"[A-Za-z0-9_-]+")
_PERIOD = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True)
class ShareOpenInfo:
    opened_at: dt.datetime
    ip_address: str
    user_agent: str


@dataclass(frozen=True)
class ShareLinkInfo:
    """What the link's workspace may see of it: never the token, never its hash."""

    id: int
    prefix: str
    kind: str
    period: str | None
    label: str
    has_passcode: bool
    created_at: dt.datetime
    created_by: int | None
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    open_count: int
    last_opened_at: dt.datetime | None
    opens: tuple[ShareOpenInfo, ...]  # the most recent, newest first

    def status(self, now: dt.datetime) -> str:
        """active, expired or revoked (revoked wins: it was a decision)."""
        if self.revoked_at is not None:
            return "revoked"
        return "active" if self.expires_at > now else "expired"


@dataclass(frozen=True)
class PasscodeCheck:
    ok: bool
    locked_until: dt.datetime | None = None  # set when too many wrong passcodes lock the link for a while


def hash_token(token: str) -> str:
    """The SHA-256 hex of a token: 256 random bits need no salt and no slow hash."""
    return hashlib.sha256(token.encode()).hexdigest()


def share_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/?share={token}"


def check_days(days: int) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or not MIN_DAYS <= days <= MAX_DAYS:
        raise InvalidInput(f"A share link lasts {MIN_DAYS} to {MAX_DAYS} days; {days} is outside that.")
    return days


def check_period(period: str | None) -> str | None:
    """'2026-10' for a fixed month, None (or blank) for the current month whenever the link is opened."""
    if period is None or not period.strip():
        return None
    match = _PERIOD.fullmatch(period.strip())
    if match is None or not 1 <= int(match[2]) <= 12 or not 2000 <= int(match[1]) <= 2100:
        raise InvalidInput(f"'{period[:20]}' is not a month; write it as YYYY-MM, for example 2026-10.")
    return match[0]


def period_range(period: str) -> tuple[dt.date, dt.date]:
    """The first and last day of a 'YYYY-MM' month."""
    checked = check_period(period)
    if checked is None:
        raise InvalidInput("Give a month as YYYY-MM, for example 2026-10.")
    year, month = int(checked[:4]), int(checked[5:])
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


def create_share_link(
    session: Session,
    *,
    workspace_id: int,
    kind: str = "summary",
    days: int = DEFAULT_DAYS,
    period: str | None = None,
    passcode: str | None = None,
    label: str = "",
    created_by: int | None = None,
    now: dt.datetime | None = None,
    rounds: int = 12,
) -> tuple[ShareLink, str]:
    """A new link and its token, which is returned this once and never stored."""
    if kind not in KINDS:
        raise InvalidInput(f"A share link shows {' or '.join(KINDS)}, not '{kind[:20]}'.")
    days = check_days(days)
    period = check_period(period)
    label = " ".join(label.split())
    if len(label) > 120:
        raise InvalidInput("A link's label is at most 120 characters.")
    passcode_hash = None
    if passcode:
        if not MIN_PASSCODE <= len(passcode) <= MAX_PASSCODE:
            raise InvalidInput(f"A passcode is {MIN_PASSCODE} to {MAX_PASSCODE} characters; or leave it empty.")
        passcode_hash = security.hash_password(passcode, rounds=rounds)
    token = secrets.token_urlsafe(32)
    link = ShareLink(
        workspace_id=workspace_id,
        token_hash=hash_token(token),
        prefix=token[:PREFIX_LENGTH],
        kind=kind,
        period=period,
        label=label,
        passcode_hash=passcode_hash,
        expires_at=(now or utcnow()) + dt.timedelta(days=days),
        created_by=created_by,
    )
    session.add(link)
    session.flush()
    return link, token


def resolve_share_link(session: Session, token: str | None, *, now: dt.datetime | None = None) -> ShareLink | None:
    """The live link for `token`; None for anything unknown, expired, revoked or malformed, alike."""
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        return None
    offered = hash_token(token)
    link = session.execute(select(ShareLink).where(col(ShareLink.token_hash) == offered)).scalars().first()
    if link is None or not hmac.compare_digest(link.token_hash, offered):
        return None
    if link.revoked_at is not None or link.expires_at <= (now or utcnow()):
        return None
    return link


def _passcode_locked_until(session: Session, link: ShareLink, now: dt.datetime) -> dt.datetime | None:
    """Five wrong passcodes within a minute lock the link's passcode until the oldest of them is a minute old.

    The failures are audit rows, so the count holds across replicas without a column of its own.
    """
    window = dt.timedelta(seconds=PASSCODE_LOCK_SECONDS)
    rows = session.execute(
        select(col(AuditLog.created_at), col(AuditLog.detail)).where(
            col(AuditLog.workspace_id) == link.workspace_id,
            col(AuditLog.action) == PASSCODE_FAILED,
            col(AuditLog.created_at) > now - window,
        )
    ).all()
    failures = sorted((at for at, detail in rows if detail.get("link_id") == link.id), reverse=True)
    if len(failures) < PASSCODE_ATTEMPTS:
        return None
    return failures[PASSCODE_ATTEMPTS - 1] + window


def check_passcode(
    session: Session, link: ShareLink, passcode: str, *, now: dt.datetime | None = None
) -> PasscodeCheck:
    """Whether `passcode` opens the link; a wrong one is counted, and while locked even the right one fails."""
    now = now or utcnow()
    if link.passcode_hash is None:
        return PasscodeCheck(True)
    if (locked := _passcode_locked_until(session, link, now)) is not None:
        return PasscodeCheck(False, locked)
    if security.verify_password(passcode, link.passcode_hash):
        return PasscodeCheck(True)
    session.add(
        AuditLog(
            workspace_id=link.workspace_id,
            user_id=None,
            action=PASSCODE_FAILED,
            detail={"link_id": link.id},
            created_at=now,
        )
    )
    session.flush()
    return PasscodeCheck(False, _passcode_locked_until(session, link, now))


def record_open(
    session: Session, link: ShareLink, *, ip_address: str | None, user_agent: str | None, now: dt.datetime | None = None
) -> None:
    """One more opening of the link: counted in one UPDATE, so replicas opening it at once all count."""
    now = now or utcnow()
    assert link.id is not None
    session.add(
        ShareOpen(
            workspace_id=link.workspace_id,
            link_id=link.id,
            ip_address=(ip_address or "")[:64],
            user_agent=(user_agent or "")[:MAX_USER_AGENT],
            opened_at=now,
        )
    )
    session.execute(
        update(ShareLink)
        .where(col(ShareLink.id) == link.id)
        .values(open_count=col(ShareLink.open_count) + 1, last_opened_at=now)
    )


def _revoke(session: Session, link: ShareLink, now: dt.datetime | None) -> ShareLink:
    if link.revoked_at is None:  # revoking twice keeps the first time
        link.revoked_at = now or utcnow()
        session.add(link)
    return link


def revoke_share_link(
    session: Session, *, workspace_id: int, link_id: int, now: dt.datetime | None = None
) -> ShareLink:
    """Stop a link working at once."""
    link = session.get(ShareLink, link_id)
    if link is None or link.workspace_id != workspace_id:
        raise NotFound("There is no such share link in this workspace.")
    return _revoke(session, link, now)


def revoke_by_prefix(session: Session, prefix: str, *, now: dt.datetime | None = None) -> ShareLink:
    """Revoke the one link whose token starts with `prefix` (at least 6 characters) or is the whole token."""
    prefix = prefix.strip()
    if _TOKEN.fullmatch(prefix):
        whole = session.execute(select(ShareLink).where(col(ShareLink.token_hash) == hash_token(prefix)))
        link = whole.scalars().first()
        if link is None:
            raise NotFound("No share link has that token.")
        return _revoke(session, link, now)
    if len(prefix) < MIN_PREFIX or not _PREFIX.fullmatch(prefix):
        raise InvalidInput(
            f"Give at least the first {MIN_PREFIX} characters of the link's token (letters, digits, - and _)."
        )
    stored = prefix[:PREFIX_LENGTH]
    matches = list(
        session.execute(
            select(ShareLink).where(col(ShareLink.prefix).startswith(stored, autoescape=True)).limit(10)
        ).scalars()
    )
    if len(prefix) > PREFIX_LENGTH:  # a longer piece of the token still only names the stored prefix
        matches = [link for link in matches if link.prefix == stored]
    if not matches:
        raise NotFound(f"No share link's token starts with '{prefix[:PREFIX_LENGTH]}'.")
    if len(matches) > 1:
        raise InvalidInput(
            f"{len(matches)} share links start with '{prefix}'; give more of the token (up to {PREFIX_LENGTH} "
            "characters, or all of it)."
        )
    return _revoke(session, matches[0], now)


def load_share_links(session: Session, *, workspace_id: int, opens: int = 20) -> list[ShareLinkInfo]:
    """A workspace's links, newest first, each with its most recent `opens` openings."""
    links = session.execute(
        select(ShareLink).where(col(ShareLink.workspace_id) == workspace_id).order_by(col(ShareLink.id).desc())
    ).scalars()
    infos = []
    for link in links:
        recent = session.execute(
            select(ShareOpen)
            .where(col(ShareOpen.link_id) == link.id)
            .order_by(col(ShareOpen.opened_at).desc(), col(ShareOpen.id).desc())
            .limit(opens)
        ).scalars()
        infos.append(
            ShareLinkInfo(
                id=int(link.id or 0),
                prefix=link.prefix,
                kind=link.kind,
                period=link.period,
                label=link.label,
                has_passcode=link.passcode_hash is not None,
                created_at=link.created_at,
                created_by=link.created_by,
                expires_at=link.expires_at,
                revoked_at=link.revoked_at,
                open_count=link.open_count,
                last_opened_at=link.last_opened_at,
                opens=tuple(ShareOpenInfo(o.opened_at, o.ip_address, o.user_agent) for o in recent),
            )
        )
    return infos
