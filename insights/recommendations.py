"""What should we change? Ranked recommendations to cut AI spend, each with dollars a month, a confidence, the
arithmetic behind it and the steps to take. Pure: frames in, frozen dataclasses out.

`usage` has one row per provider × model × project × api_key × feature over the analysis window: requests,
input_tokens (cached ones included), output_tokens, cached_tokens, amount_micros, days_active (days with spend),
and service / line_item where known. API syncs put money and tokens on different rows ($0 usage lines beside money
lines that name the model), so every model finding works on a *workload*: one provider's model in one project, its
money and tokens summed over all its rows.

Costing. List prices come from genai-prices through `core.pricing` as of the analysis end date, never from a table
of dollars here. The workload's average request is priced (tiers apply per request) and multiplied by its request
count; a source without request counts (Anthropic's usage report) is priced linearly at the short-context rates.

- A change on the same provider (a cheaper model, a successor, caching) saves what you pay × (1 − new list price ÷
  today's list price) for the same tokens, so a negotiated discount carries over instead of being claimed as saving.
- A move to another provider saves what you pay − the target's list price: a discount does not travel.
- Batch saves the provider's batch discount on what you pay for the batchable share.
- Idle spend saves what it costs.
Everything is scaled to 30 days (× 30 ÷ window_days) and rounded half-even to the micro-dollar.

Recommendations for one workload are alternatives or stack on each other (batch after caching saves half of a
smaller bill), so their savings do not simply add up; one workload gets at most one cheaper-model suggestion (the
larger saving of the within-provider and the cross-provider move) so that list never offers two.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Literal

import pandas as pd

from core.money import format_usd
from core.pricing import BATCH_DISCOUNTS, price_per_request, provider_id

Kind = Literal["cheaper_model", "prompt_caching", "batch_api", "idle_spend", "superseded_model"]
Confidence = Literal["high", "medium", "low"]


@dataclass(frozen=True)
class Recommendation:
    """One change, what it would save a month and how sure we are; the scope fields are "" where they do not apply."""

    key: str  # stable across runs for the same finding; ≤ 255 characters
    kind: Kind
    title: str
    monthly_saving_micros: int
    confidence: Confidence
    method: str  # how the saving was computed, with the numbers
    steps: tuple[str, ...]
    provider: str
    model: str
    project: str
    api_key: str
    target_model: str  # "" unless a model change
    current_monthly_micros: int  # what the scope costs a month today
    target_provider: str = ""  # the target model's provider, when a model change moves to another provider


MONTH_DAYS = 30
KEY_MAX = 255

# A cheaper model "fits" short prompts and short answers: an average request of at most 2,000 input and 500 output
# tokens is classification, extraction, routing or a short chat turn, work a smaller model usually does as well.
# Longer prompts (RAG context, code, documents) lean on the bigger model's reasoning, so they are left alone.
FIT_MAX_INPUT_TOKENS = 2_000
FIT_MAX_OUTPUT_TOKENS = 500
# Caching pays where input is large and mostly uncached: ≥ 50M input tokens a month with < 20% of it cached.
# We assume half of all input can be cached (a repeated system prompt and tool definitions in front of each
# request); prompts shorter than 1,024 tokens are below OpenAI's and Anthropic's minimum cacheable prefix.
CACHING_MIN_MONTHLY_INPUT = 50_000_000
CACHING_MAX_CACHED_SHARE = Decimal("0.2")
CACHING_ACHIEVABLE_SHARE = Decimal("0.5")
CACHING_MIN_PROMPT_TOKENS = 1_024
# Keys spending under $5 a month beside a bigger key of the same provider and project look like leftovers.
TINY_KEY_MONTHLY_MICROS = 5_000_000
# Work seen on fewer days than this is too little evidence for more than a low confidence.
MIN_EVIDENCE_DAYS = 7

# Capability tiers for like-for-like moves: provider → models, all priced by genai-prices. frontier: each provider's
# strongest general models; mid: their fast, cheap general models; small: the nano/lite/micro models made for
# classification and extraction. Reasoning models (o-series, gpt-5) and embeddings are left out on purpose: hidden
# reasoning tokens and vector spaces do not carry over to another model, so their token mix prices nothing.
# A model with an entry in SUCCESSORS below is placed here for what it is, but never suggested as a target.
TIERS: dict[str, dict[str, tuple[str, ...]]] = {
    "frontier": {
        "OpenAI": ("gpt-4.1", "gpt-4o"),
        "Anthropic": ("claude-opus-4-5", "claude-opus-4-1", "claude-sonnet-4-5", "claude-sonnet-4"),
        "Google": ("gemini-2.5-pro",),
        "AWS Bedrock": ("amazon.nova-premier-v1:0",),
    },
    "mid": {
        "OpenAI": ("gpt-4.1-mini", "gpt-4o-mini"),
        "Anthropic": ("claude-haiku-4-5",),
        "Google": ("gemini-2.5-flash",),
        "AWS Bedrock": ("amazon.nova-pro-v1:0", "meta.llama3-1-70b-instruct-v1:0"),
    },
    "small": {
        "OpenAI": ("gpt-4.1-nano",),
        "Google": ("gemini-2.5-flash-lite",),
        "AWS Bedrock": ("amazon.nova-lite-v1:0", "amazon.nova-micro-v1:0", "meta.llama3-1-8b-instruct-v1:0"),
    },
}
TIER_ORDER = ("frontier", "mid", "small")

# Superseded models → (successor, confidence). A successor is suggested only where genai-prices prices it below the
# old model for the workload's own token mix on the analysis date: claude-3-5-sonnet → claude-sonnet-4-5 is listed
# but costs the same, so it never fires (an upgrade, not a saving). A later snapshot of the same model is high
# confidence; a new generation behaves differently enough to need a test first (medium).
SUCCESSORS: dict[str, tuple[str, Confidence]] = {
    "gpt-4o-2024-05-13": ("gpt-4o-2024-08-06", "high"),
    "chatgpt-4o-latest": ("gpt-4o", "medium"),
    "gpt-4": ("gpt-4.1", "medium"),
    "gpt-4-32k": ("gpt-4.1", "medium"),
    "gpt-4-turbo": ("gpt-4.1", "medium"),
    "gpt-4-turbo-preview": ("gpt-4.1", "medium"),
    "gpt-4-1106-preview": ("gpt-4.1", "medium"),
    "gpt-4-0125-preview": ("gpt-4.1", "medium"),
    "gpt-4.5-preview": ("gpt-4.1", "medium"),
    "gpt-3.5-turbo": ("gpt-4o-mini", "medium"),
    "o1-preview": ("o3", "medium"),
    "o1": ("o3", "medium"),
    "o1-mini": ("o4-mini", "medium"),
    "text-embedding-ada-002": ("text-embedding-3-small", "medium"),  # re-embed the corpus: vectors differ
    "claude-3-opus": ("claude-opus-4-5", "medium"),
    "claude-opus-4": ("claude-opus-4-5", "medium"),
    "claude-opus-4-1": ("claude-opus-4-5", "medium"),
    "claude-3-5-sonnet": ("claude-sonnet-4-5", "medium"),
    "claude-3-7-sonnet": ("claude-sonnet-4-5", "medium"),
    "claude-sonnet-4": ("claude-sonnet-4-5", "medium"),
    "claude-3-5-haiku": ("claude-haiku-4-5", "medium"),
    "gemini-1.5-pro": ("gemini-2.5-pro", "medium"),
    "gemini-1.5-flash": ("gemini-2.5-flash", "medium"),
}

# Batch APIs' discounts come from core.pricing.BATCH_DISCOUNTS (with their sources); providers without one
# get no batch suggestion.
# Without hourly data, names are the fallback evidence of offline work: a project, feature, service or key name
# with a word starting with one of these (lead-scoring, nightly_backfill, Embeddings) is low confidence.
OFFLINE_WORDS = ("embedding", "scoring", "enrich", "forecast", "batch", "nightly", "backfill", "offline", "cron")
# With hourly request counts (hours in the workspace's local time): ≥ 60% of requests outside 08:00-18:00 is
# scheduled work (a uniform day has 58% outside), high confidence; a flat day (busiest hour ≤ 1.5 × the average
# hour over all 24) is machine-driven or global traffic, medium. Without them, a daily series whose weekend days
# carry ≥ 85% of a weekday's requests is not people at desks: low confidence.
BUSINESS_HOURS = range(8, 18)
OFF_HOURS_SHARE = Decimal("0.6")
FLAT_PEAK_RATIO = Decimal("1.5")
FLAT_WEEKEND_RATIO = Decimal("0.85")

_PRECISION = 60
_DATE_SUFFIX = re.compile(r"(-\d{4}-\d{2}-\d{2}|-\d{8}|@\d{8}|-(0[1-9]|1[0-2])[0-3]\d)$")
_REGION_PREFIX = re.compile(r"^(us|eu|apac|global)\.")
_WORD = re.compile(r"[a-z0-9]+")
_SUMMED = ["amount_micros", "requests", "input_tokens", "output_tokens", "cached_tokens"]
_USAGE_DEFAULTS: dict[str, object] = {
    "api_key": "",
    "feature": "",
    "service": "",
    "line_item": "",
    "requests": 0,
    "input_tokens": 0,
    "output_tokens": 0,
    "cached_tokens": 0,
    "days_active": 0,
}


@dataclass(frozen=True)
class _Workload:
    """One provider's model in one project over the window: money and tokens summed over its rows."""

    provider: str
    model: str
    project: str
    cost: int  # micro-USD paid in the window
    requests: int
    input_tokens: int  # includes cached
    output_tokens: int
    cached_tokens: int
    days_active: int
    api_keys: tuple[str, ...]
    offline_share: Decimal  # share of its tokens (or money) on rows whose names suggest offline work
    offline_words: tuple[str, ...]
    batched_cost: int  # money already on batch line items

    @property
    def api_key(self) -> str:
        return self.api_keys[0] if len(self.api_keys) == 1 else ""

    def average(self, tokens: int) -> int:
        """Tokens per request, rounded half up."""
        return (2 * tokens + self.requests) // (2 * self.requests)


def compute_recommendations(
    usage: pd.DataFrame,
    *,
    end: dt.date,
    window_days: int = 30,
    daily: pd.DataFrame | None = None,
    hourly: pd.DataFrame | None = None,
    min_saving_micros: int = 20_000_000,
) -> list[Recommendation]:
    """Every recommendation saving at least `min_saving_micros` a month, largest saving first.

    `end` dates the list prices; `daily` (day, provider, model, project, amount_micros, requests) and `hourly`
    (provider, model, project, hour 0-23, requests) are optional evidence for the Batch API.
    """
    if window_days <= 0:
        raise ValueError("window_days must be positive")
    if usage.empty:
        return []
    rows = _normalise(usage)
    workloads = _workloads(rows)
    book = _Book(end, window_days)
    providers = {w.provider for w in workloads if w.cost > 0}
    found: list[Recommendation] = []
    for w in workloads:
        if not w.model or w.cost <= 0:
            continue
        found.extend(
            rec
            for rec in (
                _cheaper_model(w, book, providers, workloads),
                _superseded(w, book),
                _caching(w, book),
                _batch(w, book, daily, hourly),
            )
            if rec is not None
        )
    found.extend(_idle_spend(rows, book))
    kept = [rec for rec in found if rec.monthly_saving_micros >= max(min_saving_micros, 1)]
    return sorted(kept, key=lambda rec: (-rec.monthly_saving_micros, rec.key))


class _Book:
    """Prices as of the analysis date, and the month scale."""

    def __init__(self, on: dt.date, window_days: int) -> None:
        self.on, self.window_days = on, window_days
        self.scale = Decimal(MONTH_DAYS) / window_days

    def list_cost(self, provider: str, model: str, w: _Workload, cached_tokens: int | None = None) -> Decimal | None:
        """USD at list price for the workload's tokens on `model`; None when genai-prices does not know it."""
        cached = w.cached_tokens if cached_tokens is None else cached_tokens
        if w.requests > 0:
            unit = price_per_request(
                provider, model, w.average(w.input_tokens), w.average(w.output_tokens), w.average(cached), self.on
            )
            return None if unit is None else unit * w.requests
        # No request counts: per-token rates read from a 1,000-token request, below every long-context tier.
        sample = 1_000
        fixed = price_per_request(provider, model, 0, 0, 0, self.on)
        one_in = price_per_request(provider, model, sample, 0, 0, self.on)
        one_cached = price_per_request(provider, model, sample, 0, sample, self.on)
        one_out = price_per_request(provider, model, 0, sample, 0, self.on)
        if fixed is None or one_in is None or one_cached is None or one_out is None:
            return None
        per_in, per_cached, per_out = one_in - fixed, one_cached - fixed, one_out - fixed
        return ((w.input_tokens - cached) * per_in + cached * per_cached + w.output_tokens * per_out) / sample

    def monthly(self, micros: Decimal | int) -> int:
        with localcontext() as ctx:
            ctx.prec = _PRECISION
            return int((Decimal(micros) * self.scale).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def _normalise(usage: pd.DataFrame) -> pd.DataFrame:
    missing = {"provider", "model", "project", "amount_micros"} - set(usage.columns)
    if missing:
        raise ValueError(f"usage lacks the columns {sorted(missing)}")
    rows = usage.reset_index(drop=True)
    for column, default in _USAGE_DEFAULTS.items():
        if column not in rows:
            rows[column] = default
    for column in ("provider", "model", "project", "api_key", "feature", "service", "line_item"):
        rows[column] = rows[column].fillna("").astype(str)
    for column in ("requests", "input_tokens", "output_tokens", "cached_tokens", "amount_micros", "days_active"):
        rows[column] = rows[column].fillna(0).astype("int64")
    return rows


def _offline_words(*names: str) -> set[str]:
    words = {word for name in names for word in _WORD.findall(name.lower())}
    return {hint for hint in OFFLINE_WORDS for word in words if word.startswith(hint)}


def _workloads(rows: pd.DataFrame) -> list[_Workload]:
    dims = ["provider", "model", "project"]
    names = zip(rows["project"], rows["feature"], rows["service"], rows["api_key"], strict=True)
    hints = pd.Series([tuple(sorted(_offline_words(*four))) for four in names], index=rows.index)
    offline = hints.map(bool)
    batched = rows["line_item"].str.lower().str.contains("batch", regex=False)
    tokens = rows["input_tokens"] + rows["output_tokens"]
    sums = rows.assign(
        tokens=tokens,
        offline_tokens=tokens.where(offline, 0),
        offline_money=rows["amount_micros"].where(offline, 0),
        batched_money=rows["amount_micros"].where(batched, 0),
    ).groupby(dims, sort=True)
    totals = sums[[*_SUMMED, "tokens", "offline_tokens", "offline_money", "batched_money"]].sum()
    days = sums["days_active"].max()
    keyed = rows[rows["api_key"] != ""]
    keys = {group: tuple(sorted(set(k))) for group, k in keyed.groupby(dims, sort=False)["api_key"]}
    by_offline_row = [rows.loc[offline, d] for d in dims]
    words = {
        group: tuple(sorted({word for found in hits for word in found}))
        for group, hits in hints[offline].groupby(by_offline_row, sort=False)
    }
    out = []
    for group, t in zip(totals.index, totals.itertuples(index=False), strict=True):
        provider, model, project = (str(part) for part in group)
        # The offline share is by tokens; by money where the workload has no token counts.
        whole, part = (t.tokens, t.offline_tokens) if t.tokens > 0 else (t.amount_micros, t.offline_money)
        out.append(
            _Workload(
                provider=provider,
                model=model,
                project=project,
                cost=int(t.amount_micros),
                requests=int(t.requests),
                input_tokens=int(t.input_tokens),
                output_tokens=int(t.output_tokens),
                cached_tokens=int(t.cached_tokens),
                days_active=int(days[group]),
                api_keys=keys.get(group, ()),
                offline_share=Decimal(int(part)) / int(whole) if whole > 0 else Decimal(0),
                offline_words=words.get(group, ()),
                batched_cost=int(t.batched_money),
            )
        )
    return out


def _family(model: str) -> str:
    """A model name without its region prefix and date suffix: claude-opus-4-1-20250805 → claude-opus-4-1."""
    return _DATE_SUFFIX.sub("", _REGION_PREFIX.sub("", model.lower()))


def _tier(provider: str, model: str) -> str | None:
    family = _family(model)
    for tier in TIER_ORDER:
        if family in TIERS[tier].get(provider, ()):
            return tier
    return None


def _key(*parts: str) -> str:
    key = ":".join(parts)
    if len(key) <= KEY_MAX:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"{key[: KEY_MAX - 17]}~{digest}"


def _label(project: str) -> str:
    return project or "unassigned work"


def _usd(amount: Decimal) -> str:
    return format_usd(int((amount * 1_000_000).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)))


def _profile(w: _Workload) -> str:
    if w.requests == 0:
        return (
            f"{w.input_tokens:,} input ({w.cached_tokens:,} cached) and {w.output_tokens:,} output tokens"
            " (no request counts: priced at short-context rates)"
        )
    return (
        f"{w.requests:,} requests averaging {w.average(w.input_tokens):,} input "
        f"({w.average(w.cached_tokens):,} cached) and {w.average(w.output_tokens):,} output tokens"
    )


def _demoted(confidence: Confidence, w: _Workload) -> Confidence:
    """Low confidence for work seen on only a few days of the window (0 = unknown, trusted)."""
    return "low" if 0 < w.days_active < MIN_EVIDENCE_DAYS else confidence


def _evidence_note(w: _Workload) -> str:
    if 0 < w.days_active < MIN_EVIDENCE_DAYS:
        return f" Seen on only {w.days_active} days, so confidence is low."
    return ""


def _same_provider_saving(w: _Workload, now: Decimal, new: Decimal) -> Decimal:
    """Micro-USD saved in the window: what you pay × (1 − new ÷ now) at list prices, so discounts carry over."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return Decimal(w.cost) * (1 - new / now)


def _for_workload(
    w: _Workload,
    book: _Book,
    *,
    kind: Kind,
    key_tail: str,
    title: str,
    saving: Decimal | int,
    confidence: Confidence,
    method: str,
    steps: tuple[str, ...],
    target_model: str = "",
    target_provider: str = "",
) -> Recommendation:
    """A recommendation scoped to one workload: keyed by kind, provider, model and `key_tail`, with the saving and
    the workload's cost scaled to a month. `confidence` is used as given (callers apply `_demoted` where it fits)."""
    return Recommendation(
        key=_key(kind, w.provider, w.model, key_tail),
        kind=kind,
        title=title,
        monthly_saving_micros=book.monthly(saving),
        confidence=confidence,
        method=method,
        steps=steps,
        provider=w.provider,
        model=w.model,
        project=w.project,
        api_key=w.api_key,
        target_model=target_model,
        current_monthly_micros=book.monthly(w.cost),
        target_provider=target_provider,
    )


@dataclass(frozen=True)
class _Move:
    provider: str
    model: str
    list_cost: Decimal
    saving: Decimal  # micro-USD in the window


def _cheapest(w: _Workload, book: _Book, candidates: Iterable[tuple[str, str]]) -> tuple[str, str, Decimal] | None:
    best: tuple[str, str, Decimal] | None = None
    for provider, model in candidates:
        if _family(model) in (_family(w.model), *SUCCESSORS):
            continue
        cost = book.list_cost(provider, model, w)
        if cost is not None and (best is None or cost < best[2]):
            best = (provider, model, cost)
    return best


def _cheaper_model(w: _Workload, book: _Book, providers: set[str], workloads: list[_Workload]) -> Recommendation | None:
    tier = _tier(w.provider, w.model)
    if tier is None or w.requests == 0:
        return None
    avg_in, avg_out = w.average(w.input_tokens), w.average(w.output_tokens)
    if avg_in > FIT_MAX_INPUT_TOKENS or avg_out > FIT_MAX_OUTPUT_TOKENS:
        return None
    now = book.list_cost(w.provider, w.model, w)
    if not now:
        return None
    moves: list[_Move] = []
    lower = TIER_ORDER.index(tier) + 1
    if lower < len(TIER_ORDER):
        within = _cheapest(w, book, ((w.provider, m) for m in TIERS[TIER_ORDER[lower]].get(w.provider, ())))
        if within and within[2] < now:
            moves.append(_Move(*within, saving=_same_provider_saving(w, now, within[2])))
    others = ((p, m) for p, models in TIERS[tier].items() if p != w.provider and p in providers for m in models)
    across = _cheapest(w, book, others)
    if across:
        moves.append(_Move(*across, saving=Decimal(w.cost) - across[2] * 1_000_000))
    moves = [move for move in moves if move.saving > 0]
    if not moves:
        return None
    move = max(moves, key=lambda m: (m.saving, m.provider == w.provider))
    cross = move.provider != w.provider
    target = f"{move.provider} {move.model}" if cross else move.model
    already = any(
        o.project == w.project and o.provider == move.provider and o.model == move.model and o.cost > 0
        for o in workloads
    )
    title = (
        f"Move the rest of {_label(w.project)} from {w.model} to {target}"
        if already
        else f"Move {_label(w.project)} from {w.model} to {target}"
    )
    if cross:
        arithmetic = (
            f"{format_usd(w.cost)} paid − {_usd(move.list_cost)} at {target}'s list price "
            "(a discount you have today does not move with you)"
        )
        confidence: Confidence = "low"
    else:
        arithmetic = (
            f"{format_usd(w.cost)} paid × (1 − {_usd(move.list_cost)} ÷ {_usd(now)}, the list prices of the same "
            f"tokens on {move.model} and {w.model})"
        )
        confidence = "medium"
    alternatives = [m for m in moves if m is not move]
    also = (
        f" The other option, {alternatives[0].provider} {alternatives[0].model}, saves "
        f"{format_usd(book.monthly(alternatives[0].saving))} a month."
        if alternatives
        else ""
    )
    target_tier = tier if cross else TIER_ORDER[TIER_ORDER.index(tier) + 1]
    method = (
        f"{_profile(w)} in {book.window_days} days: short prompts and answers (≤ {FIT_MAX_INPUT_TOKENS:,} in, "
        f"≤ {FIT_MAX_OUTPUT_TOKENS:,} out) that a {target_tier}-tier model usually handles. "
        f"Saving = {arithmetic}, scaled to 30 days, at genai-prices' list prices on {book.on.isoformat()}."
        f"{also}{_evidence_note(w)}"
        + (f" {_label(w.project)} already runs part of its traffic on {move.model}." if already else "")
    )
    steps = (
        f"Run a sample of {_label(w.project)}'s recent requests through {target} and compare the answers.",
        f"If quality holds, switch {_label(w.project)}'s model setting to {move.model}"
        + (f", using a {move.provider} key." if cross else "."),
        "Watch quality and the cost per request for two weeks, then mark this adopted to track the saving.",
    )
    return _for_workload(
        w,
        book,
        kind="cheaper_model",
        key_tail=f"{w.project}->{_target_ref(move, cross)}",
        title=title,
        saving=move.saving,
        confidence=_demoted(confidence, w),
        method=method,
        steps=steps,
        target_model=move.model,
        target_provider=move.provider,
    )


def _target_ref(move: _Move, cross: bool) -> str:
    return f"{move.provider}:{move.model}" if cross else move.model


def _superseded(w: _Workload, book: _Book) -> Recommendation | None:
    entry = SUCCESSORS.get(w.model.lower()) or SUCCESSORS.get(_family(w.model))
    if entry is None:
        return None
    successor, confidence = entry
    now = book.list_cost(w.provider, w.model, w)
    new = book.list_cost(w.provider, successor, w)
    if not now or new is None or new >= now:
        return None
    saving = _same_provider_saving(w, now, new)
    method = (
        f"{_profile(w)}. The same tokens cost {_usd(now)} on {w.model} and {_usd(new)} on {successor} at "
        f"genai-prices' list prices on {book.on.isoformat()}. Saving = {format_usd(w.cost)} paid × (1 − "
        f"{_usd(new)} ÷ {_usd(now)}), scaled to 30 days.{_evidence_note(w)}"
    )
    steps = (
        f"Read {w.provider}'s migration notes for {successor}: defaults, limits and behaviour can differ.",
        f"Test {_label(w.project)}'s prompts on {successor}, then change the model setting from {w.model}.",
        "Mark this adopted to track the saving.",
    )
    return _for_workload(
        w,
        book,
        kind="superseded_model",
        key_tail=f"{w.project}->{successor}",
        title=f"Move {_label(w.project)} from {w.model} to its cheaper successor {successor}",
        saving=saving,
        confidence=_demoted(confidence, w),
        method=method,
        steps=steps,
        target_model=successor,
    )


def _caching(w: _Workload, book: _Book) -> Recommendation | None:
    if w.input_tokens == 0 or w.input_tokens * book.scale < CACHING_MIN_MONTHLY_INPUT:
        return None
    if Decimal(w.cached_tokens) / w.input_tokens >= CACHING_MAX_CACHED_SHARE:
        return None
    if w.requests and w.average(w.input_tokens) < CACHING_MIN_PROMPT_TOKENS:
        return None
    achievable = int(w.input_tokens * CACHING_ACHIEVABLE_SHARE)
    if w.requests:  # the average request's cached tokens are what gets priced
        achievable = w.requests * int(w.average(w.input_tokens) * CACHING_ACHIEVABLE_SHARE)
    now = book.list_cost(w.provider, w.model, w)
    cached = book.list_cost(w.provider, w.model, w, cached_tokens=achievable)
    if not now or cached is None or cached >= now:
        return None  # no cache-read price in genai-prices: cached input costs the same
    saving = _same_provider_saving(w, now, cached)
    share = Decimal(w.cached_tokens) / w.input_tokens
    confidence: Confidence = "medium" if w.requests else "low"
    method = (
        f"{_profile(w)}: {w.input_tokens * book.scale:,.0f} input tokens a month, {share:.0%} of them cached. "
        f"Assuming {CACHING_ACHIEVABLE_SHARE:.0%} of input can be cached (a repeated system prompt and tools), the "
        f"same traffic costs {_usd(cached)} instead of {_usd(now)} at genai-prices' input and cache-read prices on "
        f"{book.on.isoformat()}. Saving = {format_usd(w.cost)} paid × (1 − {_usd(cached)} ÷ {_usd(now)}), scaled "
        "to 30 days."
        + (" Before the cache-write premium (Anthropic charges 1.25× input for writes)." if _writes_cost(w) else "")
        + ("" if w.requests else " Without request counts the prompt length is unknown, so confidence is low.")
        + _evidence_note(w)
    )
    steps = (
        "Put the parts every request shares (system prompt, tool definitions, fixed context) first and keep them"
        " byte-identical; put the user's part last.",
        _caching_step(w.provider),
        "Check the cached-token share in the next weeks' usage, then mark this adopted to track the saving.",
    )
    return _for_workload(
        w,
        book,
        kind="prompt_caching",
        key_tail=w.project,
        title=f"Cache the repeated prompt prefix in {_label(w.project)} on {w.model}",
        saving=saving,
        confidence=_demoted(confidence, w),
        method=method,
        steps=steps,
    )


def _writes_cost(w: _Workload) -> bool:
    """Whether writing the cache costs extra: Anthropic's models, on Anthropic or on Bedrock."""
    return w.provider == "Anthropic" or "claude" in w.model.lower()


def _caching_step(provider: str) -> str:
    if provider == "Anthropic":
        return "Mark the shared prefix with cache_control breakpoints (Anthropic caches only what you mark)."
    if provider == "AWS Bedrock":
        return "Add cache checkpoints to the shared prefix in the Converse API (Bedrock prompt caching)."
    if provider == "Google":
        return "Keep the shared prefix stable for implicit caching, or create an explicit context cache for it."
    return f"{provider} caches a stable prefix of 1,024+ tokens automatically once the prompt order is fixed."


def _batch_evidence(
    w: _Workload, daily: pd.DataFrame | None, hourly: pd.DataFrame | None
) -> tuple[Confidence, Decimal, str] | None:
    """(confidence, batchable share, why) for a workload, or None when nothing suggests offline work."""
    scope = (w.provider, w.model, w.project)
    if hourly is not None and not hourly.empty:
        mine = hourly[
            (hourly["provider"] == scope[0]) & (hourly["model"] == scope[1]) & (hourly["project"] == scope[2])
        ]
        by_hour = mine.groupby("hour")["requests"].sum()
        total = int(by_hour.sum())
        if total > 0:  # hourly data decides, either way
            outside = sum(int(n) for hour, n in by_hour.items() if int(hour) not in BUSINESS_HOURS)
            off = Decimal(outside) / total
            peak = Decimal(int(by_hour.max())) / (Decimal(total) / 24)
            if off >= OFF_HOURS_SHARE:
                return "high", Decimal(1), f"{off:.0%} of its requests arrive outside 08:00-18:00"
            if peak <= FLAT_PEAK_RATIO:
                return "medium", Decimal(1), f"its requests are flat across the day (busiest hour {peak:.2f}× average)"
            return None
    if w.offline_share > 0:
        words = ", ".join(f'"{word}"' for word in w.offline_words)
        return "low", w.offline_share, f"its names suggest offline work ({words}); no hourly data to confirm"
    if daily is not None and not daily.empty:
        ratio = _weekend_ratio(daily, scope)
        if ratio is not None and ratio >= FLAT_WEEKEND_RATIO:
            return "low", Decimal(1), f"weekend days carry {ratio:.0%} of a weekday's requests; no hourly data"
    return None


def _weekend_ratio(daily: pd.DataFrame, scope: tuple[str, str, str]) -> Decimal | None:
    mine = daily[(daily["provider"] == scope[0]) & (daily["model"] == scope[1]) & (daily["project"] == scope[2])]
    if mine.empty:
        return None
    measure = "requests" if "requests" in mine and int(mine["requests"].sum()) > 0 else "amount_micros"
    per_day = mine.groupby(pd.to_datetime(mine["day"]))[measure].sum()
    weekend = per_day[per_day.index.day_of_week >= 5]
    weekday = per_day[per_day.index.day_of_week < 5]
    if len(weekend) < 2 or len(weekday) < 5 or int(weekday.sum()) <= 0:
        return None
    return (Decimal(int(weekend.sum())) / len(weekend)) / (Decimal(int(weekday.sum())) / len(weekday))


def _batch(w: _Workload, book: _Book, daily: pd.DataFrame | None, hourly: pd.DataFrame | None) -> Recommendation | None:
    discount = BATCH_DISCOUNTS.get(provider_id(w.provider))
    if discount is None:
        return None
    evidence = _batch_evidence(w, daily, hourly)
    if evidence is None:
        return None
    confidence, share, why = evidence
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        batchable = (Decimal(w.cost) - w.batched_cost) * share
        saving = batchable * discount
    if saving <= 0:
        return None
    method = (
        f"{_label(w.project)} on {w.model} cost {format_usd(w.cost)} in the window"
        + (f", {format_usd(w.batched_cost)} of it already batched" if w.batched_cost else "")
        + (f"; {share:.0%} of its traffic" if share < 1 else "")
        + f". It looks non-interactive: {why}. {w.provider}'s batch jobs cost {discount:.0%} less. Saving = "
        f"{format_usd(int(batchable))} × {discount:.0%}, scaled to 30 days."
    )
    steps = (
        f"Confirm {_label(w.project)}'s {w.model} work can wait up to 24 hours for results.",
        f"Write its requests to a JSONL file and submit them to {w.provider}'s batch endpoint instead of one by one.",
        "Collect the results when the batch completes, then mark this adopted to track the saving.",
    )
    return _for_workload(
        w,
        book,
        kind="batch_api",
        key_tail=w.project,
        title=f"Send {_label(w.project)}'s {w.model} work through the {w.provider} batch API",
        saving=saving,
        confidence=confidence,
        method=method,
        steps=steps,
    )


def _idle_spend(rows: pd.DataFrame, book: _Book) -> list[Recommendation]:
    """Charges with no usage behind them (fees on a project or key that used nothing) and near-idle extra keys.

    Only money on rows without a model counts as idle: a model's money line beside $0 usage lines is metered usage.
    A provider that reports no usage anywhere (an invoice-only import) is skipped: silence there proves nothing; so
    is a key of a provider that reports no usage by key.
    """
    used = (rows["input_tokens"] + rows["output_tokens"] + rows["requests"]) > 0
    fee = (rows["model"] == "") & (rows["amount_micros"] > 0) & ~used
    flags = rows.assign(used=used, fee=fee)
    out: list[Recommendation] = []
    counted = pd.Series(False, index=rows.index)
    provider_used = flags.groupby("provider")["used"].any()
    by_project = flags.groupby(["provider", "project"], sort=True)[["used", "fee"]].any()
    for provider, project in by_project[~by_project["used"] & by_project["fee"]].index:
        if provider_used[provider]:
            mask = fee & (rows["provider"] == provider) & (rows["project"] == project)
            counted |= mask
            out.append(_idle(str(provider), str(project), "", rows[mask], book, scope="project"))
    keyed = flags[flags["api_key"] != ""].assign(open=lambda k: k["fee"] & ~counted[k.index])
    key_usage = keyed.groupby("provider")["used"].any()
    by_key = keyed.groupby(["provider", "api_key"], sort=True)[["used", "open"]].any()
    for provider, api_key in by_key[~by_key["used"] & by_key["open"]].index:
        if key_usage[provider]:
            mask = fee & ~counted & (rows["provider"] == provider) & (rows["api_key"] == api_key)
            out.append(_idle(str(provider), "", str(api_key), rows[mask], book, scope="key"))
    out.extend(_tiny_keys(keyed, book))
    return out


def _idle(provider: str, project: str, api_key: str, idle: pd.DataFrame, book: _Book, *, scope: str) -> Recommendation:
    cost = int(idle["amount_micros"].sum())
    days = int(idle["days_active"].max())
    confidence: Confidence = "high" if days >= MIN_EVIDENCE_DAYS else "medium"
    names = zip(idle["line_item"], idle["service"], strict=True)
    items = sorted({item or service or "unnamed charge" for item, service in names})
    listed = ", ".join(items[:5]) + (f" and {len(items) - 5} more" if len(items) > 5 else "")
    where = f"project {_label(project)}" if scope == "project" else f"API key {api_key}"
    method = (
        f"{format_usd(cost)} in the window for {listed} on {provider} {where}, with no tokens and no requests "
        f"recorded there while {provider} reports usage elsewhere"
        + (f"; charged on {days} days" if days else "")
        + ". Saving = that spend, scaled to 30 days."
    )
    steps = (
        f"Check what {listed} on {where} is for, and whether anyone still needs it.",
        "Cancel the subscription or revoke the key if not; if it is usage our sources cannot see (images, audio,"
        " storage, tool calls), dismiss this with that reason.",
    )
    return Recommendation(
        key=_key("idle_spend", scope, provider, project if scope == "project" else api_key),
        kind="idle_spend",
        title=f"Stop paying for idle {provider} {where}",
        monthly_saving_micros=book.monthly(cost),
        confidence=confidence,
        method=method,
        steps=steps,
        provider=provider,
        model="",
        project=project,
        api_key=api_key,
        target_model="",
        current_monthly_micros=book.monthly(cost),
    )


def _tiny_keys(keyed: pd.DataFrame, book: _Book) -> list[Recommendation]:
    """Used keys spending under $5 a month beside a bigger key of the same provider and project, one finding a
    project. Spend is the money recorded on the key's rows; unused keys are the idle rule's business."""
    used_keys = set(keyed.loc[keyed["used"], ["provider", "api_key"]].itertuples(index=False, name=None))
    by_project: dict[tuple[str, str], dict[str, int]] = {}
    spend_by_key = keyed.groupby(["provider", "project", "api_key"], sort=True)["amount_micros"].sum()
    for (provider, project, api_key), micros in spend_by_key.items():
        if (provider, api_key) in used_keys:
            by_project.setdefault((str(provider), str(project)), {})[str(api_key)] = book.monthly(int(micros))
    out = []
    for (provider, project), spend in by_project.items():
        if len(spend) < 2 or max(spend.values()) < TINY_KEY_MONTHLY_MICROS:
            continue
        tiny = {key: micros for key, micros in spend.items() if 0 < micros < TINY_KEY_MONTHLY_MICROS}
        if not tiny:
            continue
        main = max(spend, key=lambda key: (spend[key], key))
        total = sum(tiny.values())
        names = ", ".join(f"{key} ({format_usd(micros)})" for key, micros in sorted(tiny.items()))
        out.append(
            Recommendation(
                key=_key("idle_spend", "tiny_keys", provider, str(project)),
                kind="idle_spend",
                title=f"Retire {len(tiny)} near-idle {provider} key{'s' if len(tiny) > 1 else ''} in "
                f"{_label(str(project))}",
                monthly_saving_micros=total,
                confidence="low",
                method=(
                    f"{names} a month beside {main} ({format_usd(spend[main])} a month) on the same provider and "
                    f"project. Keys under {format_usd(TINY_KEY_MONTHLY_MICROS)} a month are often forgotten test "
                    "scripts or leaked keys. Saving = their spend, if the traffic is not needed."
                ),
                steps=(
                    "Find who owns each small key and what still calls it.",
                    f"Move anything still needed onto {main} and revoke the rest.",
                ),
                provider=provider,
                model="",
                project=str(project),
                api_key=next(iter(tiny)) if len(tiny) == 1 else "",
                target_model="",
                current_monthly_micros=total,
            )
        )
    return out
