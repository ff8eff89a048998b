"""Sign-in with streamlit-authenticator, fed from our database: only the users this run needs are loaded.

The library checks passwords and keeps the signed re-authentication cookie; our database stores the users,
counts failed attempts and locks a username for a minute after five failures (across replicas).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import jwt
import streamlit as st
import streamlit.components.v1 as components
import streamlit_authenticator as stauth
from streamlit_authenticator.utilities.exceptions import LoginError

from core import queries, security
from core.models import User, utcnow
from ui.db import get_settings, open_session
from ui.navigation import GO_TO_KEY

SIGNIN_USERNAME_KEY = "signin_username"
_AUTH_KEY = "_authenticator"
_COOKIE_ACTION = "_cookie_action"


@dataclass(frozen=True)
class SignInOutcome:
    ok: bool
    message: str = ""


def _cookie_username() -> str | None:
    settings = get_settings()
    token = st.context.cookies.get(settings.cookie_name) if st.context.cookies else None
    if not isinstance(token, str):
        return None
    try:
        payload = jwt.decode(token, settings.cookie_key, algorithms=["HS256"])
    except jwt.PyJWTError:
        return None
    username = payload.get("username")
    return username if isinstance(username, str) else None


def _credentials(usernames: set[str]) -> dict[str, Any]:
    records: dict[str, Any] = {}
    if not usernames:  # most signed-out runs: no cookie and no sign-in attempt, so no database trip
        return {"usernames": records}
    with open_session() as session:
        for username in usernames:
            user = queries.load_user(session, username=username)
            if user is not None:
                records[user.username] = {
                    "email": user.email,
                    "first_name": user.name,
                    "last_name": "",
                    "password": user.password_hash,
                    "roles": [],
                    "failed_login_attempts": user.failed_logins,
                }
    return {"usernames": records}


def authenticator() -> stauth.Authenticate:
    """Build this run's authenticator and restore a session from the cookie; call once per run, first."""
    wanted = {
        security.normalise_username(n) for n in (_cookie_username(), st.session_state.get(SIGNIN_USERNAME_KEY)) if n
    }
    settings = get_settings()
    auth = stauth.Authenticate(
        _credentials(wanted),
        settings.cookie_name,
        settings.cookie_key,
        settings.cookie_expiry_days,
        auto_hash=False,
        login_sleep_time=0,
    )
    try:
        auth.login(location="unrendered")  # signs in from a valid cookie; renders nothing
    except LoginError:
        # The cookie names a user who no longer exists: stay signed out.
        st.session_state["authentication_status"] = None
    st.session_state[_AUTH_KEY] = auth
    return auth


def sign_in(username: str, password: str) -> SignInOutcome:
    """Check a username and password, honouring the lockout; on success sets the cookie."""
    settings = get_settings()
    auth: stauth.Authenticate = st.session_state[_AUTH_KEY]
    username = security.normalise_username(username)
    now = utcnow()
    with open_session() as session:
        user = queries.load_user(session, username=username)
        if user is not None and security.is_locked(user.locked_until, now):
            return SignInOutcome(False, _locked_message(user, now))
        if user is None:
            security.equalise_timing(password, rounds=settings.bcrypt_rounds)
        ok = bool(username and password) and bool(auth.authentication_controller.login(username, password))
        if user is not None:
            queries.save_sign_in_attempt(
                session,
                user=user,
                succeeded=ok,
                now=now,
                attempts=settings.lockout_attempts,
                lock_seconds=settings.lockout_seconds,
            )
            queries.save_audit(
                session,
                workspace_id=None,
                user_id=user.id,
                action="user.sign_in" if ok else "user.sign_in_failed",
            )
            if not ok and security.is_locked(user.locked_until, now):
                return SignInOutcome(False, _locked_message(user, now))
    if not ok:
        st.session_state["authentication_status"] = None
        return SignInOutcome(False, "That username and password don't match. Check both and try again.")
    st.session_state[_COOKIE_ACTION] = "set"
    return SignInOutcome(True)


def _locked_message(user: User, now: dt.datetime) -> str:
    seconds = max(1, int(((user.locked_until or now) - now).total_seconds()))
    return (
        f"Too many failed sign-ins for '{user.username}'. For your security it is locked for "
        f"{seconds} more second{'s' if seconds != 1 else ''}; then try again."
    )


def start_session_for(user: User) -> None:
    """Sign in a user we just created (no password check needed); the cookie follows on the next run."""
    st.session_state.update(
        authentication_status=True,
        username=user.username,
        name=user.name,
        email=user.email,
        roles=[],
        logout=None,
    )
    st.session_state[_COOKIE_ACTION] = "set"


def is_signed_in() -> bool:
    return bool(st.session_state.get("authentication_status")) and bool(st.session_state.get("username"))


def render_sign_out() -> None:
    """The sidebar's Sign out button: ends the session now; the cookie is deleted on the next run."""
    auth: stauth.Authenticate = st.session_state[_AUTH_KEY]
    if st.sidebar.button("Sign out", key="sign_out_button", icon=":material/logout:"):
        auth.authentication_controller.logout()  # clears the library's session keys and blocks cookie sign-in
        for key in ("workspace_id", GO_TO_KEY, "_context"):
            st.session_state.pop(key, None)
        st.session_state[_COOKIE_ACTION] = "delete"
        st.rerun()


def _cookie_script(value: str, expires: dt.datetime) -> str:
    settings = get_settings()
    attributes = f"expires={expires:%a, %d %b %Y %H:%M:%S} GMT; path=/; SameSite=Strict"
    if settings.base_url.startswith("https://"):
        attributes += "; Secure"
    cookie = json.dumps(f"{settings.cookie_name}={value}; {attributes}")
    return f"<script>(window.parent || window).document.cookie = {cookie};</script>"


def apply_cookie_action() -> None:
    """Set or delete the sign-in cookie; Home.py calls this once per run, after any page switch.

    The cookie is written by a static script, not by the cookie-manager component: that component reports a
    value back when it mounts, and the rerun it causes can land on the person's next click (loading the demo,
    say) and swallow it. The token is the library's own: {"username", "exp_date"} signed with HS256, which
    its cookie sign-in reads back.
    """
    action = st.session_state.pop(_COOKIE_ACTION, None)
    settings = get_settings()
    now = dt.datetime.now(dt.UTC)
    if action == "set" and is_signed_in():
        expires = now + dt.timedelta(days=settings.cookie_expiry_days)
        token = jwt.encode(
            {"username": st.session_state["username"], "exp_date": expires.timestamp()},
            settings.cookie_key,
            algorithm="HS256",
        )
        components.html(_cookie_script(token, expires), height=0)
    elif action == "delete":
        components.html(_cookie_script("", dt.datetime(1970, 1, 1, tzinfo=dt.UTC)), height=0)
