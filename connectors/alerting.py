"""The alert run: evaluate budgets and cost spikes (pure, in insights), record what is new, deliver it.

Evaluation is safe to run on every replica at once: each alert's dedupe key is unique in the database, so
exactly one insert wins and only the winner queues deliveries. Deliveries are claimed row by row, so two
replicas delivering at once never send the same one twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import httpx
from sqlalchemy import Engine, select
from sqlmodel import Session, col

from connectors import notify
from core import alerts, budgets, queries
from core.crypto import SecretBox
from core.db import session_scope
from core.models import Alert, Workspace
from insights import outlook
from insights.alerts import AlertCandidate, compute_anomaly_alerts, compute_budget_alerts
from insights.anomalies import detect_anomalies
from insights.budgets import BudgetSpec

ANOMALY_ALERT_DAYS = 3  # spikes older than this are news on the page, not an alert
ANOMALY_HISTORY_DAYS = 84  # what the spike baselines need before the first day checked


@dataclass(frozen=True)
class AlertRun:
    """One workspace's evaluation: every candidate, the ones that fired now, and those that already had."""

    workspace_id: int
    slug: str
    today: dt.date
    candidates: tuple[AlertCandidate, ...]
    fired: tuple[str, ...]  # dedupe keys recorded by this run
    already: tuple[str, ...]  # dedupe keys recorded before (by an earlier run or another replica)


def load_budget_specs(session: Session, *, workspace_id: int) -> list[BudgetSpec]:
    """The workspace's budgets as the pure evaluation takes them."""
    return [
        BudgetSpec(b.id, b.scope, b.scope_value, b.amount_micros, tuple(b.thresholds))
        for b in budgets.load_budgets(session, workspace_id=workspace_id)
    ]


def load_outlook(session: Session, *, workspace_id: int, today: dt.date, with_history: bool = False) -> outlook.Outlook:
    """Read what the month's outlook needs and compute it: the one path for the page, the CLI, the alert run and
    the benchmark. ``with_history`` adds each budget's past months."""
    start, end = outlook.history_window(today)
    daily = queries.load_scope_daily(session, workspace_id=workspace_id, start=start, end=end)
    monthly = None
    if with_history:
        first = (today.replace(day=1) - dt.timedelta(days=200)).replace(day=1)
        monthly = queries.load_scope_monthly(session, workspace_id=workspace_id, start=first, end=today)
    specs = load_budget_specs(session, workspace_id=workspace_id)
    return outlook.compute_outlook(daily, specs, today=today, scope_monthly=monthly)


def evaluate_workspace(engine: Engine, *, workspace_id: int, today: dt.date) -> list[AlertCandidate]:
    """Budget thresholds and predicted overruns for the month containing ``today``, and the last days' spikes."""
    end = today - dt.timedelta(days=1)
    since = end - dt.timedelta(days=ANOMALY_ALERT_DAYS - 1)
    with session_scope(engine) as session:
        view = load_outlook(session, workspace_id=workspace_id, today=today)
        spikes_frame = queries.load_anomaly_frame(
            session, workspace_id=workspace_id, start=since - dt.timedelta(days=ANOMALY_HISTORY_DAYS), end=end
        )
    spikes = detect_anomalies(spikes_frame, start=since, end=end)
    return [*compute_budget_alerts(view.budgets), *compute_anomaly_alerts(spikes, since=since)]


def _recorded_keys(engine: Engine, *, workspace_id: int, keys: Sequence[str]) -> set[str]:
    if not keys:
        return set()
    with session_scope(engine) as session:
        found = session.execute(
            select(col(Alert.dedupe_key)).where(
                col(Alert.workspace_id) == workspace_id, col(Alert.dedupe_key).in_(keys)
            )
        ).scalars()
        return set(found)


def run_alerts(
    engine: Engine, *, workspace_id: int, today: dt.date, now: dt.datetime, dry_run: bool = False
) -> AlertRun:
    """Evaluate one workspace and record the new alerts (and their deliveries) unless ``dry_run``."""
    with session_scope(engine) as session:
        slug = queries.load_workspace_by_id(session, workspace_id=workspace_id).slug
    candidates = evaluate_workspace(engine, workspace_id=workspace_id, today=today)
    keys = [c.dedupe_key for c in candidates]
    if dry_run:
        before = _recorded_keys(engine, workspace_id=workspace_id, keys=keys)
        fired: tuple[str, ...] = ()
    else:
        with session_scope(engine) as session:
            new = alerts.record_alerts(session, workspace_id=workspace_id, candidates=candidates, now=now)
            fired = tuple(a.dedupe_key for a in new)
        before = set(keys) - set(fired)
    return AlertRun(workspace_id, slug, today, tuple(candidates), fired, tuple(k for k in keys if k in before))


def run_all_workspaces(
    engine: Engine,
    box: SecretBox,
    *,
    client: httpx.Client,
    today: dt.date,
    now: dt.datetime,
    base_url: str,
) -> tuple[list[AlertRun], notify.DeliveryReport]:
    """The scheduler's job: evaluate every workspace, then send whatever deliveries are due."""
    with session_scope(engine) as session:
        ids = list(session.execute(select(col(Workspace.id)).order_by(col(Workspace.id))).scalars())
    runs = [run_alerts(engine, workspace_id=int(ws_id), today=today, now=now) for ws_id in ids]
    report = notify.deliver_due(lambda: session_scope(engine), box, client=client, now=now, base_url=base_url)
    return runs, report
