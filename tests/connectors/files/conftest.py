"""Helpers for file-import tests: run an import in its own transaction, and count what is stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from connectors.imports import ImportResult, import_file
from core.db import session_scope
from core.models import Charge

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "files"


def run_import(engine: Engine, workspace_id: int, name: str, data: bytes | str, **options: Any) -> ImportResult:
    """One import, committed on success and rolled back on error, as the CLI and the wizard do it."""
    payload = data.encode() if isinstance(data, str) else data
    with session_scope(engine) as session:
        return import_file(session, workspace_id=workspace_id, name=name, data=payload, **options)


def stored(engine: Engine, workspace_id: int) -> tuple[int, int]:
    """(charges, total micro-dollars) in the workspace."""
    with session_scope(engine) as session:
        count, total = session.execute(
            select(func.count(), func.coalesce(func.sum(Charge.amount_micros), 0)).where(
                Charge.workspace_id == workspace_id
            )
        ).one()
    return int(count), int(total)


@pytest.fixture
def importer(engine: Engine, workspace_id: int):  # type: ignore[no-untyped-def]
    def run(name: str, data: bytes | str, **options: Any) -> ImportResult:
        return run_import(engine, workspace_id, name, data, **options)

    return run
