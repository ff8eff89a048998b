"""The process's settings and engine (cached resources), and sessions for pages' loaders and actions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
from sqlalchemy import Engine
from sqlmodel import Session

from core.db import cached_engine, session_scope, upgrade
from core.settings import Settings, current_settings


def get_settings() -> Settings:
    return current_settings()


@st.cache_resource(max_entries=4, show_spinner=False)
def _engine_for(url: str) -> Engine:
    engine = cached_engine(url)
    upgrade(engine)  # cheap when current; AppTest and `streamlit run Home.py` get a migrated schema too
    return engine


def get_engine() -> Engine:
    return _engine_for(get_settings().database_url)


@contextmanager
def open_session() -> Iterator[Session]:
    with session_scope(get_engine()) as session:
        yield session
