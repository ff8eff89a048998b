"""Passwords (bcrypt), the sign-in lockout rule and input checks for people's details."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from functools import lru_cache

import bcrypt

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class InvalidInput(ValueError):
    """A value a person typed that we cannot accept; the message says how to fix it."""


def hash_password(password: str, *, rounds: int = 12) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds)).decode()


def verify_password(password: str, password_hash: str | None) -> bool:
    if not password_hash:
        return False
    try:
        return bcrypt.checkpw(password.encode(), password_hash.encode())
    except ValueError:
        return False


@lru_cache(maxsize=4)
def _dummy_hash(rounds: int) -> str:
    return hash_password(secrets.token_urlsafe(16), rounds=rounds)


def equalise_timing(password: str, *, rounds: int) -> None:
    """Do the work of a real password check, so an unknown username answers as slowly as a known one."""
    verify_password(password, _dummy_hash(rounds))


def normalise_username(username: str) -> str:
    return username.strip().lower()


def check_username(username: str) -> str:
    name = normalise_username(username)
    if not USERNAME_RE.match(name):
        raise InvalidInput(
            "Usernames are 2–64 characters: letters, digits, dots, dashes or underscores, "
            "starting with a letter or digit."
        )
    return name


def check_email(email: str) -> str:
    email = email.strip()
    if not EMAIL_RE.match(email) or len(email) > 254:
        raise InvalidInput(f"'{email}' does not look like an email address (name@example.com).")
    return email


def check_password(password: str) -> str:
    """Passwords: 8–128 characters with a lower-case letter, an upper-case letter and a digit."""
    problems = []
    if len(password) < 8:
        problems.append("at least 8 characters")
    if len(password) > 128:
        problems.append("at most 128 characters")
    if not re.search(r"[a-z]", password):
        problems.append("a lower-case letter")
    if not re.search(r"[A-Z]", password):
        problems.append("an upper-case letter")
    if not re.search(r"\d", password):
        problems.append("a digit")
    if password != password.strip():
        problems.append("no spaces at the start or end")
    if problems:
        raise InvalidInput("The password needs " + ", ".join(problems) + ".")
    return password


def is_locked(locked_until: dt.datetime | None, now: dt.datetime) -> bool:
    return locked_until is not None and locked_until > now


def after_failed_sign_in(
    failed_logins: int, now: dt.datetime, *, attempts: int, lock_seconds: int
) -> tuple[int, dt.datetime | None]:
    """The counter and lock after one more failure: the attempts-th failure locks for lock_seconds."""
    failed = failed_logins + 1
    if failed >= attempts:
        return 0, now + dt.timedelta(seconds=lock_seconds)
    return failed, None
