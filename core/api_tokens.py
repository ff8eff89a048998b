"""Per-workspace tokens for the JSON API: shown once, stored only as a SHA-256, revocable."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session

from core.crypto import hint
from core.models import ApiToken, utcnow
from core.queries import NotFound
from core.security import InvalidInput

TOKEN_PREFIX = "mtr_"  # noqa: S105 - a prefix that marks meterr tokens, not a secret
# spend:read reads spend, budgets, forecasts and the summary; outcomes:write sends outcome counts.
# outcomes:read is reserved for an outcomes read endpoint and grants nothing today.
SCOPES = ("outcomes:write", "outcomes:read", "spend:read")
DEFAULT_SCOPES = "outcomes:write"
_TOKEN = re.compile(r"mtr_[A-Za-z0-9_-]{20,100}")
_TABLE = ApiToken.metadata.tables["apitoken"]


@dataclass(frozen=True)
class ApiTokenInfo:
    """What may be shown of a token after it was created: never the token, never its hash."""

    id: int
    name: str
    hint: str
    scopes: tuple[str, ...]
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_token(token: str) -> str:
    """The SHA-256 hex of a token: a token has 256 random bits, so a fast hash is enough (no salt, no bcrypt)."""
    return hashlib.sha256(token.encode()).hexdigest()


def parse_scopes(scopes: str) -> tuple[str, ...]:
    """'outcomes:write outcomes:read' (spaces or commas) → the known scopes, in SCOPES order."""
    asked = {part for part in re.split(r"[\s,]+", scopes.strip()) if part}
    unknown = sorted(asked - set(SCOPES))
    if unknown:
        raise InvalidInput(f"'{unknown[0][:40]}' is not a scope meterr knows; choose from {', '.join(SCOPES)}.")
    if not asked:
        raise InvalidInput(f"Give the token at least one scope: {', '.join(SCOPES)}.")
    return tuple(scope for scope in SCOPES if scope in asked)


def has_scope(token: ApiToken, scope: str) -> bool:
    return scope in token.scopes.split()


def create_api_token(
    session: Session, *, workspace_id: int, name: str, scopes: str = DEFAULT_SCOPES
) -> tuple[ApiToken, str]:
    """A new token for a workspace and its plaintext, which is returned this once and never stored."""
    name = " ".join(name.split())
    if not name:
        raise InvalidInput("Name the token after what will use it, for example 'Zendesk nightly export'.")
    if len(name) > 80:
        raise InvalidInput("A token's name is at most 80 characters.")
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        workspace_id=workspace_id,
        name=name,
        token_hash=hash_token(plaintext),
        hint=hint(plaintext),
        scopes=" ".join(parse_scopes(scopes)),
    )
    session.add(token)
    session.flush()
    return token, plaintext


def authenticate_token(session: Session, token: str | None, *, now: dt.datetime | None = None) -> ApiToken | None:
    """The live token matching `token`, its last use recorded; None for anything else, whatever the reason.

    Found by the hash of what was offered, so no stored secret is compared character by character.
    """
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        return None
    offered = hash_token(token)
    found = session.execute(select(ApiToken).where(_TABLE.c.token_hash == offered)).scalars().first()
    if found is None or found.revoked_at is not None or not hmac.compare_digest(found.token_hash, offered):
        return None
    found.last_used_at = now or utcnow()
    session.add(found)
    return found


def revoke_api_token(session: Session, *, workspace_id: int, token_id: int) -> ApiToken:
    """Stop a token working at once; revoking twice keeps the first time."""
    token = session.get(ApiToken, token_id)
    if token is None or token.workspace_id != workspace_id:
        raise NotFound("There is no such API token in this workspace.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.add(token)
    return token


def load_api_tokens(session: Session, *, workspace_id: int) -> list[ApiTokenInfo]:
    """A workspace's tokens, newest first, as they may be shown (hint = the last four characters)."""
    tokens = session.execute(
        select(ApiToken).where(_TABLE.c.workspace_id == workspace_id).order_by(_TABLE.c.id.desc())
    ).scalars()
    return [
        ApiTokenInfo(
            id=int(t.id or 0),
            name=t.name,
            hint=t.hint,
            scopes=tuple(t.scopes.split()),
            created_at=t.created_at,
            last_used_at=t.last_used_at,
            revoked_at=t.revoked_at,
        )
        for t in tokens
    ]
