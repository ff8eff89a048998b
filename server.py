"""Process entry: `streamlit run server.py` serves the app, the JSON API and (later) webhooks and the scheduler."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import streamlit as st
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.db import cached_engine, migration_status, upgrade
from core.settings import PROJECT_ROOT, current_settings


async def health(request: Request) -> JSONResponse:
    """Is the database reachable, and is its schema at the newest migration?"""
    status = migration_status(cached_engine(current_settings().database_url))
    body = {
        "status": "ok" if status.up_to_date else "degraded",
        "database": "reachable" if status.reachable else "unreachable",
        "migrations": "current" if status.up_to_date else ("behind" if status.reachable else "unknown"),
        "revision": status.current,
        "head": status.head,
    }
    return JSONResponse(body, status_code=200 if status.up_to_date else 503)


@contextlib.asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    upgrade(cached_engine(current_settings().database_url))
    yield


app = st.App(
    str(PROJECT_ROOT / "Home.py"),
    routes=[Route("/api/health", health, methods=["GET"])],
    lifespan=lifespan,
)
