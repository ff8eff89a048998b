"""The Optimize page's pieces: savings advice (cached), recommendation cards, adopt/dismiss, the tracker."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd
import streamlit as st

from core import decisions, price_overrides, queries
from core.money import format_usd, format_usd_short
from core.pricing import RateOverride
from core.security import InvalidInput
from insights import advice
from insights.advice import Advice
from insights.price_check import PriceCheck, compute_price_check
from insights.recommendations import Recommendation
from ui.context import Context, require_role
from ui.db import get_settings, open_session

KIND_LABELS = {
    "cheaper_model": "Cheaper model", "prompt_caching": "Prompt caching", "batch_api": "Batch API",
    "idle_spend": "Idle spend", "superseded_model": "Newer model",
}  # fmt: skip
CONFIDENCE = {"high": ("High confidence", "green"), "medium": ("Medium confidence", "orange"),
              "low": ("Low confidence", "gray")}  # fmt: skip


def _decisions(workspace_id: int) -> dict[str, tuple[str, str, int, dict[str, Any]]]:
    with open_session() as session:
        rows = decisions.load_decisions(session, workspace_id=workspace_id)
    return {key: (r.status, r.title, r.estimated_monthly_micros, dict(r.detail)) for key, r in rows.items()}


@st.cache_data(ttl=900, max_entries=16, show_spinner=False)
def _advice(
    url: str, workspace_id: int, data_version: int, today: dt.date, decided: tuple[Any, ...], timezone: str
) -> Advice:
    chosen = {key: (status, title, estimate, dict(detail)) for key, status, title, estimate, detail in decided}
    start, end = advice.analysis_window(today)
    adopted_days = [dt.date.fromisoformat(str(d["adopted_on"])) for _, (s, _, _, d) in chosen.items() if s == "adopted"]
    since = min([start, *(day - dt.timedelta(days=advice.WINDOW_DAYS) for day in adopted_days)])
    with open_session() as session:
        usage = queries.load_usage_profile(session, workspace_id=workspace_id, start=start, end=end)
        daily = queries.load_model_daily(session, workspace_id=workspace_id, start=since, end=end)
        hourly = queries.load_hourly_profile(session, workspace_id=workspace_id, start=start, end=end)
    return advice.compute_advice(usage, daily, chosen, today=today, hourly=hourly, timezone=timezone)


def load_advice(workspace_id: int, data_version: int, today: dt.date, timezone: str = "UTC") -> Advice:
    """Open recommendations and adopted ones with their realised savings; cached per data version and decisions."""
    chosen = _decisions(workspace_id)
    decided = tuple(
        (key, status, title, estimate, tuple(sorted((k, str(v)) for k, v in detail.items())))
        for key, (status, title, estimate, detail) in sorted(chosen.items())
    )
    return _advice(get_settings().database_url, workspace_id, data_version, today, decided, timezone)


def adopt(ctx: Context, rec: Recommendation) -> None:
    require_role(ctx, "admin")
    with open_session() as session:
        decisions.save_decision(
            session, workspace_id=ctx.workspace_id, rec_key=rec.key, kind=rec.kind, status="adopted", title=rec.title,
            estimated_monthly_micros=rec.monthly_saving_micros, detail=advice.adoption_detail(rec, ctx.today()),
            user_id=ctx.user_id,
        )  # fmt: skip


def dismiss(ctx: Context, rec: Recommendation, reason: str) -> None:
    require_role(ctx, "admin")
    with open_session() as session:
        decisions.save_decision(
            session, workspace_id=ctx.workspace_id, rec_key=rec.key, kind=rec.kind, status="dismissed",
            title=rec.title, estimated_monthly_micros=rec.monthly_saving_micros, detail={}, reason=reason,
            user_id=ctx.user_id,
        )  # fmt: skip


def reopen(ctx: Context, key: str) -> None:
    require_role(ctx, "admin")
    with open_session() as session:
        found = decisions.load_decisions(session, workspace_id=ctx.workspace_id).get(key)
        if found is not None and found.id is not None:
            decisions.delete_decision(session, workspace_id=ctx.workspace_id, decision_id=found.id, user_id=ctx.user_id)


def render_kpis(view: Advice) -> None:
    first, second, third = st.columns(3)
    top = view.open[0] if view.open else None
    first.metric(
        "Biggest single saving", f"{format_usd_short(top.monthly_saving_micros)}/mo" if top else "—", border=True,
        help=top.title if top else "Nothing to change right now.",
    )  # fmt: skip
    second.metric(
        "Open recommendations", str(len(view.open)), border=True,
        help="Some apply to the same work (a cheaper model, batch and caching for one project): they overlap, so "
        "their savings do not simply add up.",
    )  # fmt: skip
    realised = sum(a.savings.realised_monthly_micros for a in view.adopted if a.savings.enough_data)
    third.metric(
        "Realised savings", f"{format_usd_short(realised)}/mo" if view.adopted else "—", border=True,
        help="Measured after adoption: cost per million tokens before vs after, times today's volume.",
    )  # fmt: skip


def _slug(key: str) -> str:
    """A widget key for a recommendation: stable across runs and processes (hash() is salted per process)."""
    return hashlib.blake2b(key.encode(), digest_size=6).hexdigest()


def render_recommendation(rec: Recommendation, ctx: Context) -> None:
    label, colour = CONFIDENCE[rec.confidence]
    with st.container(border=True, key=f"rec_{_slug(rec.key)}"):
        head, money = st.columns([4, 1], vertical_alignment="center")
        head.markdown(f"**{rec.title}**")
        head.badge(KIND_LABELS.get(rec.kind, rec.kind), color="blue")
        money.metric("Saves a month", format_usd(rec.monthly_saving_micros, cents=False), label_visibility="visible")
        money.badge(label, color=colour)  # type: ignore[arg-type]
        st.caption(f"Today this costs {format_usd(rec.current_monthly_micros, cents=False)} a month.")
        with st.expander("How we worked this out, and what to do"):
            st.markdown(rec.method)
            st.markdown("\n".join(f"{i}. {step}" for i, step in enumerate(rec.steps, start=1)))
        if not ctx.can("admin"):
            return
        adopt_col, dismiss_col, why_col = st.columns([1, 1, 2], vertical_alignment="bottom")
        reason = why_col.selectbox(
            "Reason to dismiss", decisions.DISMISS_REASONS, key=f"why_{_slug(rec.key)}", label_visibility="collapsed"
        )
        if adopt_col.button("Mark as adopted", key=f"adopt_{_slug(rec.key)}", icon=":material/task_alt:"):
            _apply(lambda: adopt(ctx, rec), f"Adopted: {rec.title}. The savings tracker starts today.")
        if dismiss_col.button("Dismiss", key=f"dismiss_{_slug(rec.key)}", icon=":material/close:"):
            _apply(lambda: dismiss(ctx, rec, reason or "Other"), f"Dismissed: {rec.title}.")


def _apply(action: Any, message: str) -> None:
    try:
        action()
    except InvalidInput as problem:
        st.error(str(problem))
    else:
        st.session_state["flash"] = message
        st.rerun()


def _rate(micros: int | None) -> str:
    return "—" if micros is None else format_usd(micros)


def render_tracker(view: Advice, ctx: Context) -> None:
    if not view.adopted:
        st.info(
            "Nothing adopted yet. Mark a recommendation as adopted when you make the change, and meterr measures "
            "what it really saves: cost per million tokens before against after.",
            icon=":material/savings:",
        )
        return
    rows = []
    for item in view.adopted:
        result = item.savings
        rows.append({
            "Change": item.title, "Adopted": f"{item.adopted_on:%b %d, %Y}",
            "Before, per 1M tokens": _rate(result.before_per_mtok_micros),
            "After, per 1M tokens": _rate(result.after_per_mtok_micros),
            "Estimated a month": format_usd(item.estimated_monthly_micros, cents=False),
            "Realised a month": format_usd(result.realised_monthly_micros) if result.enough_data
            else f"after {7 - result.days_after} more days",
        })  # fmt: skip
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="tracker_table")
    st.caption(
        "Each change is measured over the same number of days before and after adoption (up to 30), ending "
        "yesterday; realised = (rate before − rate after) × tokens since, scaled to a month."
    )
    if ctx.can("admin"):
        labels = {a.key: a.title for a in view.adopted}
        picked = st.selectbox("Undo an adoption", list(labels), format_func=labels.get, key="tracker_undo_pick")
        if st.button("Undo", key="tracker_undo", icon=":material/undo:"):
            _apply(lambda: reopen(ctx, picked), "Reopened: it is back among the recommendations.")


# Price check and negotiated rates ---------------------------------------------------------------------------

PRICE_CHECK_DAYS = 90
CAUSE_LABELS = {
    "long_context_tier": "Long-context tier", "batch": "Batch pricing", "discount": "A discount",
    "markup": "A markup", "missing_cache_tokens": "Missing cache tokens", "unexplained": "Unexplained",
}  # fmt: skip


def _overrides(workspace_id: int) -> tuple[RateOverride, ...]:
    with open_session() as session:
        return tuple(price_overrides.load_price_overrides(session, workspace_id=workspace_id))


@st.cache_data(ttl=900, max_entries=16, show_spinner=False)
def _price_check(
    url: str, workspace_id: int, data_version: int, today: dt.date, rates: tuple[RateOverride, ...]
) -> PriceCheck:
    end = today - dt.timedelta(days=1)
    with open_session() as session:
        rows = price_overrides.load_price_check_rows(
            session, workspace_id=workspace_id, start=end - dt.timedelta(days=PRICE_CHECK_DAYS - 1), end=end
        )
    return compute_price_check(rows, overrides=rates)


def load_price_check(
    workspace_id: int, data_version: int, today: dt.date
) -> tuple[PriceCheck, tuple[RateOverride, ...]]:
    """Our estimate against the bill per day and model over the last 90 days, with the workspace's rates."""
    rates = _overrides(workspace_id)
    return _price_check(get_settings().database_url, workspace_id, data_version, today, rates), rates


def _percent(ratio: Decimal | None) -> str:
    return "—" if ratio is None else f"{ratio * 100:+.1f}%"


def render_price_check(check: PriceCheck, ctx: Context) -> None:
    if check.compared == 0:
        st.info(
            "Nothing to check yet: the price check needs days where a provider reports both tokens and a bill for "
            "the same model (API syncs and most exports do).",
            icon=":material/fact_check:",
        )
        return
    flagged = len(check.differences)
    st.markdown(
        f"**{check.compared:,}** day × model bills compared with our estimate at list price (and your rates); "
        f"**{flagged}** differ by more than {check.tolerance * 100:.0f}%."
    )
    st.dataframe(
        pd.DataFrame([
            {"Provider": m.provider, "Model": m.model, "Days": m.days, "Days off": m.flagged_days,
             "Our estimate": format_usd(m.estimate_micros), "Billed": format_usd(m.billed_micros),
             "Difference": _percent(m.difference_ratio), "Likely cause": CAUSE_LABELS.get(m.cause or "", ""),
             "Why": m.explanation}
            for m in check.models
        ]),
        hide_index=True, width="stretch", key="price_models",
    )  # fmt: skip
    for suggestion in check.suggestions:
        with st.container(border=True, key=f"suggest_{_slug(suggestion.provider + suggestion.model)}"):
            st.markdown(f":material/handshake: {suggestion.explanation}")
            if ctx.can("admin") and st.button(
                f"Record a {suggestion.discount_pct}% discount on {suggestion.model or suggestion.provider}",
                key=f"suggest_apply_{_slug(suggestion.provider + suggestion.model)}",
            ):
                _apply(
                    lambda s=suggestion: save_rate(ctx, provider=s.provider, model=s.model, discount_pct=s.discount_pct,
                                                   effective_from=s.effective_from, note="from the price check"),
                    "Rate saved: estimates now use it from its effective date.",
                )  # fmt: skip
    if check.differences:
        with st.expander(f"The {flagged} days that differ"):
            st.dataframe(
                pd.DataFrame([
                    {"Day": d.day, "Provider": d.provider, "Model": d.model,
                     "Our estimate": format_usd(d.estimate_micros), "Billed": format_usd(d.billed_micros),
                     "Difference": _percent(d.difference_ratio),
                     "Likely cause": CAUSE_LABELS.get(d.cause, d.cause), "Why": d.explanation}
                    for d in check.differences
                ]),
                hide_index=True, width="stretch", key="price_days",
            )  # fmt: skip
    if check.unpriced:
        names = ", ".join(f"{u.provider} {u.model}" for u in check.unpriced)
        st.warning(
            f"No list price known for: {names}. Add a custom price below to include them.", icon=":material/help:"
        )


def save_rate(
    ctx: Context,
    *,
    provider: str,
    model: str,
    effective_from: dt.date,
    discount_pct: Decimal | None = None,
    prices: tuple[Decimal | None, Decimal | None, Decimal | None] = (None, None, None),
    note: str = "",
) -> None:
    require_role(ctx, "admin")
    with open_session() as session:
        price_overrides.save_price_override(
            session, workspace_id=ctx.workspace_id, provider=provider, model=model, discount_pct=discount_pct,
            input_usd_per_mtok=prices[0], output_usd_per_mtok=prices[1], cached_usd_per_mtok=prices[2],
            effective_from=effective_from, note=note, user_id=ctx.user_id,
        )  # fmt: skip


def render_rates(rates: tuple[RateOverride, ...], providers: tuple[str, ...], ctx: Context) -> None:
    st.markdown("**Your negotiated rates** — used by the price check and every estimate from their start date.")
    if not rates:
        st.caption("None yet: everything is priced at the providers' list prices.")
    for rate in rates:
        what = (
            f"{rate.discount_bp / 100:g}% off list"
            if rate.discount_bp is not None
            else f"{_per_mtok(rate.input_per_mtok_micros)} in / {_per_mtok(rate.output_per_mtok_micros)} out per 1M"
        )
        text, button = st.columns([5, 1], vertical_alignment="center")
        text.markdown(
            f"**{rate.provider} {rate.model or '(every model)'}** — {what}, from {rate.effective_from:%b %d, %Y}"
        )
        if ctx.can("admin") and rate.id is not None and button.button("Remove", key=f"rate_remove_{rate.id}"):
            with open_session() as session:
                price_overrides.delete_price_override(
                    session, workspace_id=ctx.workspace_id, override_id=rate.id, user_id=ctx.user_id
                )
            st.rerun()
    if not ctx.can("admin"):
        return
    with st.form("rate_form", clear_on_submit=True):
        st.markdown("**Add a rate**")
        provider_col, model_col, date_col = st.columns(3)
        provider = provider_col.selectbox("Provider", providers or ("OpenAI",), accept_new_options=True)
        model = model_col.text_input("Model (empty = every model)", placeholder="gpt-4o")
        since = date_col.date_input("From", value=ctx.today().replace(day=1))
        kind = st.radio("Rate", ["Discount off list", "Custom price per 1M tokens"], horizontal=True)
        discount, in_col, out_col, cached_col = st.columns(4)
        pct = discount.number_input("Discount %", min_value=0.0, max_value=90.0, step=1.0, value=10.0)
        price_in = in_col.text_input("Input $/1M", placeholder="2.50")
        price_out = out_col.text_input("Output $/1M", placeholder="10.00")
        price_cached = cached_col.text_input("Cached input $/1M", placeholder="1.25")
        note = st.text_input("Note", placeholder="Enterprise agreement 2026")
        if st.form_submit_button("Save rate", icon=":material/save:"):
            try:
                custom = kind.startswith("Custom")
                save_rate(
                    ctx, provider=provider or "", model=model, effective_from=since,  # type: ignore[arg-type]
                    discount_pct=None if custom else Decimal(f"{pct:.2f}"),
                    prices=tuple(_money(v) for v in (price_in, price_out, price_cached)) if custom else (None,) * 3,  # type: ignore[arg-type]
                    note=note,
                )  # fmt: skip
            except InvalidInput as problem:
                st.error(str(problem))
            else:
                st.session_state["flash"] = "Rate saved: the price check and estimates use it from its start date."
                st.rerun()


def _per_mtok(micros: int | None) -> str:
    return "—" if micros is None else f"${Decimal(micros) / 10**6:f}"


def _money(text: str) -> Decimal | None:
    cleaned = text.strip().lstrip("$").replace(",", "")
    if not cleaned:
        return None
    try:
        return Decimal(cleaned)
    except InvalidOperation as exc:
        raise InvalidInput(f"'{text[:20]}' is not a price; type dollars per million tokens, e.g. 2.50.") from exc
