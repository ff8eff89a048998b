"""SQLModel tables: every row of customer data carries its workspace_id."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Integer, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

ROLES = ("owner", "admin", "viewer")
# Dimensions a charge can be broken down by on Overview; "" in any of them means unallocated.
DIMENSIONS = ("provider", "model", "department", "project", "customer")


# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT.
BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores UTC, always hands back aware datetimes (SQLite would otherwise return naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; attach a timezone")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _created() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


# A tenant: everything a customer owns hangs off one workspace.
class Workspace(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=120)
    timezone: str = Field(default="UTC", max_length=64)
    # Bumped on every change to charges so cached aggregates know they are stale.
    data_version: int = Field(default=0, sa_type=BigInteger)
    created_at: dt.datetime = _created()


# A person who can sign in; usernames are global and lower-case.
class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    email: str = Field(max_length=254)
    name: str = Field(max_length=120)
    password_hash: str = Field(max_length=100)
    failed_logins: int = Field(default=0)
    locked_until: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: dt.datetime = _created()


# Who may do what in a workspace: owner > admin > viewer.
class Membership(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("workspace_id", "user_id", name="uq_membership_workspace_user"),)
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    role: str = Field(max_length=16)
    created_at: dt.datetime = _created()


# A source of charges: an API account, a file-export habit or a webhook sender.
class Connection(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True, ondelete="CASCADE")
    provider: str = Field(max_length=40)
    method: str = Field(max_length=16)  # api_key | file | webhook | demo
    name: str = Field(max_length=120)
    status: str = Field(default="active", max_length=16)
    config: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    secret_ciphertext: str | None = Field(default=None)
    secret_hint: str | None = Field(default=None, max_length=8)
    cursor: str | None = Field(default=None, max_length=64)
    last_synced_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None)
    created_at: dt.datetime = _created()


# One import or sync run: where charges came from, and what it contributed.
class ImportBatch(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True, ondelete="CASCADE")
    connection_id: int | None = Field(default=None, foreign_key="connection.id", ondelete="SET NULL")
    source: str = Field(max_length=40)
    filename: str | None = Field(default=None, max_length=255)
    status: str = Field(default="running", max_length=16)
    rows_read: int = Field(default=0, sa_type=BigInteger)
    charges_written: int = Field(default=0, sa_type=BigInteger)
    total_micros: int = Field(default=0, sa_type=BigInteger)
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    error: str | None = None
    # The whole import result (duplicates, revised, skipped and unpriced rows) as shown to the person.
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    started_at: dt.datetime = _created()
    finished_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class ChargeBase(SQLModel):
    """A day's spend on one provider line item, with its allocation; money in integer micro-USD."""

    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE")
    source_key: str = Field(max_length=255)
    import_id: int | None = Field(default=None, foreign_key="importbatch.id", ondelete="SET NULL")
    day: dt.date
    provider: str = Field(max_length=40)
    service: str = Field(default="", max_length=80)
    model: str = Field(default="", max_length=120)
    line_item: str = Field(default="", max_length=200)
    amount_micros: int = Field(sa_type=BigInteger)
    original_amount: str = Field(max_length=40)  # the source's own decimal text, before conversion
    currency: str = Field(default="USD", max_length=3)
    input_tokens: int = Field(default=0, sa_type=BigInteger)
    output_tokens: int = Field(default=0, sa_type=BigInteger)
    cached_tokens: int = Field(default=0, sa_type=BigInteger)
    requests: int = Field(default=0, sa_type=BigInteger)
    api_key: str = Field(default="", max_length=80)  # the key's id or name, never the secret
    department: str = Field(default="", max_length=80)
    project: str = Field(default="", max_length=80)
    customer: str = Field(default="", max_length=80)
    feature: str = Field(default="", max_length=80)
    tags: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The allocation the source itself gave, where rules or overrides changed it, so rules can be undone.
    origin: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


# The normalised charge table: one source of truth for every provider, file and webhook.
class Charge(ChargeBase, table=True):
    __table_args__ = (
        UniqueConstraint("workspace_id", "source_key", name="uq_charge_workspace_source_key"),
        Index("ix_charge_workspace_day", "workspace_id", "day"),
    )
    id: int | None = Field(default=None, primary_key=True, sa_type=BIG_ID)


class RollupBase(SQLModel):
    """Spend summed over charges sharing the Overview's dimensions."""

    provider: str = Field(max_length=40)
    model: str = Field(max_length=120)
    department: str = Field(max_length=80)
    project: str = Field(max_length=80)
    customer: str = Field(max_length=80)
    amount_micros: int = Field(sa_type=BigInteger)
    input_tokens: int = Field(default=0, sa_type=BigInteger)
    output_tokens: int = Field(default=0, sa_type=BigInteger)
    requests: int = Field(default=0, sa_type=BigInteger)
    charges: int = Field(default=0, sa_type=BigInteger)


# Charges summed per day and every Overview dimension: the exact edges of any date range.
class SpendRollup(RollupBase, table=True):
    __tablename__ = "spend_rollup"
    __table_args__ = (Index("ix_spend_rollup_workspace_day", "workspace_id", "day"),)
    id: int | None = Field(default=None, primary_key=True, sa_type=BIG_ID)
    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE")
    day: dt.date
    month: dt.date  # first day of the day's month, so months can be summed without date functions


# The same per whole month: breakdowns over a year read twelve months, not 365 days.
class SpendMonth(RollupBase, table=True):
    __tablename__ = "spend_month"
    __table_args__ = (Index("ix_spend_month_workspace_month", "workspace_id", "month"),)
    id: int | None = Field(default=None, primary_key=True, sa_type=BIG_ID)
    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE")
    month: dt.date


# Daily totals by the sidebar's filter dimensions only: tiles, the cumulative line and the heat map.
class SpendDay(SQLModel, table=True):
    __tablename__ = "spend_day"
    __table_args__ = (Index("ix_spend_day_workspace_day", "workspace_id", "day"),)
    id: int | None = Field(default=None, primary_key=True, sa_type=BIG_ID)
    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE")
    day: dt.date
    provider: str = Field(max_length=40)
    department: str = Field(max_length=80)
    project: str = Field(max_length=80)
    amount_micros: int = Field(sa_type=BigInteger)


# Who did what, when: kept even when the data it describes is deleted.
class AuditLog(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True, sa_type=BIG_ID)
    workspace_id: int | None = Field(default=None, index=True)
    user_id: int | None = Field(default=None)
    action: str = Field(max_length=60)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: dt.datetime = _created()


# Money in: one Stripe balance transaction (charge, refund, fee...) in USD micros, signed.
class Revenue(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("workspace_id", "source_key", name="uq_revenue_workspace_source_key"),
        Index("ix_revenue_workspace_day", "workspace_id", "day"),
    )
    id: int | None = Field(default=None, primary_key=True, sa_type=BIG_ID)
    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE")
    connection_id: int | None = Field(default=None, foreign_key="connection.id", ondelete="SET NULL")
    source_key: str = Field(max_length=255)
    day: dt.date
    kind: str = Field(max_length=24)  # charge | refund | fee | dispute | other
    customer: str = Field(default="", max_length=80)
    description: str = Field(default="", max_length=255)
    amount_micros: int = Field(sa_type=BigInteger)  # USD; refunds and fees are negative
    original_amount: str = Field(max_length=40)  # in the currency's own units, e.g. "12.50" or "1200" (JPY)
    currency: str = Field(default="USD", max_length=3)
    created_at: dt.datetime = _created()


# Webhook deliveries already applied: a replayed event id is acknowledged and ignored.
class WebhookEvent(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("workspace_id", "source", "event_id", name="uq_webhookevent_event"),)
    id: int | None = Field(default=None, primary_key=True, sa_type=BIG_ID)
    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE")
    connection_id: int | None = Field(default=None, foreign_key="connection.id", ondelete="SET NULL")
    source: str = Field(max_length=24)  # charges | stripe
    event_id: str = Field(max_length=255)
    received_at: dt.datetime = _created()


# A named lease so that, of several replicas, only one runs a scheduled job at a time.
class Lease(SQLModel, table=True):
    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=120)
    expires_at: dt.datetime = Field(sa_type=UTCDateTime)


# "Charges whose <match_field> <match_kind> <pattern> belong to <set_field> = <value>", applied in position order.
class AllocationRule(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True, ondelete="CASCADE")
    match_field: str = Field(max_length=24)  # provider | service | model | line_item | api_key | project | customer
    match_kind: str = Field(max_length=16)  # equals | contains | prefix | regex
    pattern: str = Field(max_length=200)
    set_field: str = Field(max_length=24)  # department | project | customer | feature | tag
    tag_key: str = Field(default="", max_length=40)
    value: str = Field(max_length=80)
    position: int = Field(default=0)
    created_at: dt.datetime = _created()


# A person's own allocation of one charge; survives re-imports and wins over rules.
class ChargeOverride(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("workspace_id", "source_key", "field", name="uq_chargeoverride_key_field"),)
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True, ondelete="CASCADE")
    source_key: str = Field(max_length=255)
    field: str = Field(max_length=48)  # department | project | customer | feature | tag:<key>
    value: str = Field(max_length=80)
    created_at: dt.datetime = _created()


# Something the business gets from AI, worth a fixed number of dollars per unit ("Support ticket resolved").
class OutcomeDefinition(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("workspace_id", "name", name="uq_outcomedefinition_workspace_name"),)
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=80)
    unit: str = Field(default="", max_length=40)  # "ticket", "lead"...
    value_micros: int = Field(sa_type=BigInteger)  # dollars per unit, in micro-USD
    department: str = Field(default="", max_length=80)
    project: str = Field(default="", max_length=80)
    feature: str = Field(default="", max_length=80)
    created_at: dt.datetime = _created()


# How many of an outcome happened on a day (per department when the source says so).
class OutcomeCount(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("workspace_id", "outcome_id", "day", "department", name="uq_outcomecount_key"),
        Index("ix_outcomecount_workspace_day", "workspace_id", "day"),
    )
    id: int | None = Field(default=None, primary_key=True, sa_type=BIG_ID)
    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE")
    outcome_id: int = Field(foreign_key="outcomedefinition.id", ondelete="CASCADE")
    day: dt.date
    department: str = Field(default="", max_length=80)
    count: int = Field(sa_type=BigInteger)


# A workspace's token for the JSON API; only its SHA-256 is stored.
class ApiToken(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=80)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    hint: str = Field(max_length=8)
    scopes: str = Field(default="outcomes:write", max_length=120)
    last_used_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: dt.datetime = _created()


# A named what-if: the slider positions a person saved, to compare with others.
class RoiScenario(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("workspace_id", "name", name="uq_roiscenario_workspace_name"),)
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=80)
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: dt.datetime = _created()


# A monthly spending limit for the whole workspace or one slice of it ("Marketing", "OpenAI", "Northwind").
class Budget(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("workspace_id", "scope", "scope_value", name="uq_budget_scope"),)
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True, ondelete="CASCADE")
    scope: str = Field(max_length=16)  # workspace | department | project | provider | customer
    scope_value: str = Field(default="", max_length=120)  # "" for the workspace
    amount_micros: int = Field(sa_type=BigInteger)  # per calendar month, USD
    thresholds: list[int] = Field(default_factory=lambda: [75, 100], sa_column=Column(JSON, nullable=False))
    created_at: dt.datetime = _created()


# Something worth telling people. The unique dedupe key makes each alert fire once, whichever replica finds it.
class Alert(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("workspace_id", "dedupe_key", name="uq_alert_dedupe"),
        Index("ix_alert_workspace_created", "workspace_id", "created_at"),
    )
    id: int | None = Field(default=None, primary_key=True, sa_type=BIG_ID)
    workspace_id: int = Field(foreign_key="workspace.id", ondelete="CASCADE")
    budget_id: int | None = Field(default=None, foreign_key="budget.id", ondelete="SET NULL")
    kind: str = Field(max_length=16)  # threshold | overrun | anomaly
    period: str = Field(max_length=10)  # "2026-11" for budgets, "2026-11-18" for an anomaly's day
    dedupe_key: str = Field(max_length=255)
    title: str = Field(max_length=255)
    body: str
    amount_micros: int = Field(default=0, sa_type=BigInteger)  # the alert's headline figure
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    read_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: dt.datetime = _created()


# Where alerts go besides the in-app inbox: email recipients, a Slack incoming webhook or a signed webhook.
class NotificationChannel(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=16)  # email | slack | webhook
    name: str = Field(max_length=120)
    target: str = Field(default="", max_length=1000)  # recipients, or the webhook URL; a hint for Slack
    secret_ciphertext: str | None = Field(default=None)  # Slack's URL, or the webhook's signing secret
    secret_hint: str | None = Field(default=None, max_length=8)
    enabled: bool = Field(default=True)
    created_at: dt.datetime = _created()


# One alert on its way to one channel; retried with backoff until sent or given up ("failed").
class AlertDelivery(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("alert_id", "channel_id", name="uq_alertdelivery_alert_channel"),
        Index("ix_alertdelivery_status_next", "status", "next_attempt_at"),
    )
    id: int | None = Field(default=None, primary_key=True, sa_type=BIG_ID)
    workspace_id: int = Field(foreign_key="workspace.id", index=True, ondelete="CASCADE")
    alert_id: int = Field(foreign_key="alert.id", ondelete="CASCADE", sa_type=BIG_ID)
    channel_id: int = Field(foreign_key="notificationchannel.id", ondelete="CASCADE")
    status: str = Field(default="pending", max_length=16)  # pending | sending | sent | failed
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None)
    next_attempt_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    claimed_until: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: dt.datetime = _created()


# The workspace's outgoing mail server, for alerts and (later) the weekly report; the password is sealed.
class SmtpServer(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", unique=True, ondelete="CASCADE")
    host: str = Field(max_length=255)
    port: int = Field(default=587)
    security: str = Field(default="starttls", max_length=16)  # starttls | ssl | none
    username: str = Field(default="", max_length=255)
    password_ciphertext: str | None = Field(default=None)
    from_address: str = Field(max_length=254)
    created_at: dt.datetime = _created()


# A negotiated rate from a date on: a percentage off a provider's list prices (every model, or one), or a
# model's own price per million tokens.
class PriceOverride(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True, ondelete="CASCADE")
    provider: str = Field(max_length=40)
    model: str = Field(default="", max_length=120)  # "" = every model of the provider
    discount_bp: int | None = Field(default=None)  # basis points off list: 1000 = 10%
    input_per_mtok_micros: int | None = Field(default=None, sa_type=BigInteger)  # a custom price, micro-USD / 1M
    output_per_mtok_micros: int | None = Field(default=None, sa_type=BigInteger)
    cached_per_mtok_micros: int | None = Field(default=None, sa_type=BigInteger)
    effective_from: dt.date
    note: str = Field(default="", max_length=200)
    created_at: dt.datetime = _created()


# What a person decided about a recommendation: adopted (with the before-figures the savings tracker
# measures against) or dismissed with a reason.
class RecommendationDecision(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("workspace_id", "rec_key", name="uq_recommendationdecision_key"),)
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True, ondelete="CASCADE")
    rec_key: str = Field(max_length=255)
    kind: str = Field(max_length=32)
    status: str = Field(max_length=16)  # adopted | dismissed
    reason: str = Field(default="", max_length=500)
    title: str = Field(max_length=255)
    estimated_monthly_micros: int = Field(default=0, sa_type=BigInteger)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    user_id: int | None = Field(default=None)
    decided_at: dt.datetime = _created()


# Requests per UTC hour of a day from request-level imports (gateway logs): the time-of-day profile behind
# batch advice. Daily-only sources have none.
class UsageHour(SQLModel, table=True):
    __tablename__ = "usage_hour"
    __table_args__ = (
        UniqueConstraint(
            "workspace_id", "source", "day", "provider", "model", "project", "hour", name="uq_usage_hour_key"
        ),
    )
    id: int | None = Field(default=None, primary_key=True, sa_type=BIG_ID)
    workspace_id: int = Field(foreign_key="workspace.id", index=True, ondelete="CASCADE")
    source: str = Field(max_length=40)  # the parser's namespace, so two imports of one log replace each other
    day: dt.date
    provider: str = Field(max_length=40)
    model: str = Field(default="", max_length=120)
    project: str = Field(default="", max_length=80)
    hour: int  # 0-23, UTC
    requests: int = Field(sa_type=BigInteger)


# A read-only link for someone without an account (a CFO): what it shows, until when, optionally behind a
# passcode. Only the SHA-256 of its 32-byte token is stored; `prefix` (the token's first 8 characters) names it
# for revoking from the command line without revealing it.
class ShareLink(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True, ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True, index=True)
    prefix: str = Field(max_length=12, index=True)
    kind: str = Field(default="summary", max_length=16)  # summary | overview
    period: str | None = Field(default=None, max_length=7)  # "2026-10" fixes the month; None = the current one
    label: str = Field(default="", max_length=120)
    passcode_hash: str | None = Field(default=None, max_length=120)  # bcrypt
    expires_at: dt.datetime = Field(sa_type=UTCDateTime)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_by: int | None = Field(default=None)  # user id; None from the command line
    open_count: int = Field(default=0)
    last_opened_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: dt.datetime = _created()


# One opening of a share link: when, and from where (IP address and browser), for the link's owner to see.
class ShareOpen(SQLModel, table=True):
    __table_args__ = (Index("ix_shareopen_link_opened", "link_id", "opened_at"),)
    id: int | None = Field(default=None, primary_key=True, sa_type=BIG_ID)
    workspace_id: int = Field(foreign_key="workspace.id", index=True, ondelete="CASCADE")
    link_id: int = Field(foreign_key="sharelink.id", ondelete="CASCADE")
    ip_address: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=255)
    opened_at: dt.datetime = _created()


# When the weekly executive summary goes out: a weekday and hour in the workspace's timezone, to whom.
class ReportSchedule(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", unique=True, ondelete="CASCADE")
    weekday: int = Field(default=0)  # 0 = Monday
    hour: int = Field(default=8)  # 0-23, workspace time
    recipients: str = Field(default="", max_length=1000)  # comma-separated addresses
    enabled: bool = Field(default=True)
    created_at: dt.datetime = _created()


# One week's report for one workspace: the unique (workspace, week) row is claimed by exactly one replica,
# which sends it; the outcome stays for the Reports page.
class ReportSend(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("workspace_id", "week", name="uq_reportsend_workspace_week"),)
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True, ondelete="CASCADE")
    week: str = Field(max_length=8)  # ISO week, "2026-W47"
    status: str = Field(default="sending", max_length=16)  # sending | sent | failed
    recipients: str = Field(default="", max_length=1000)
    error: str | None = Field(default=None)
    sent_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: dt.datetime = _created()
