"""The Connect-data wizard: source → how → what we read and store → key or file → test → import → result."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import streamlit as st

from connectors import catalog
from connectors.files import all_parsers
from connectors.files.base import BadFile, RawFile
from connectors.files.generic import DATE_ORDERS, ColumnMapping, columns_of, suggest_mapping
from connectors.files.normalise import parse_rates
from connectors.http import ConnectorError
from connectors.imports import ImportResult
from connectors.sync import SyncResult
from core.money import format_usd, to_micros
from core.security import InvalidInput
from ui import connections
from ui.context import Context

STATE = "wizard"  # {"source": id, "method": api_key|file|webhook}
KEY_FIELD = "wizard_key"
ORDER_LABELS = {
    "auto": "Work it out", "YMD": "2026-03-31 (ISO)", "MDY": "03/31/2026 (US)", "DMY": "31/03/2026 (Europe)",
}  # fmt: skip


def _state() -> dict[str, Any]:
    return st.session_state.setdefault(STATE, {})


def _reset() -> None:
    st.session_state[STATE] = {}
    st.session_state.pop(KEY_FIELD, None)


def render(ctx: Context) -> None:
    state = _state()
    if "result" in state:
        _render_result(state["result"])
        return
    if "source" not in state:
        _render_sources()
        return
    source = catalog.source(state["source"])
    top = st.columns([6, 1])
    top[0].markdown(f"### :material/{source.icon}: {source.label}")
    if top[1].button("Start over", icon=":material/undo:", key="wizard_restart"):
        _reset()
        st.rerun()
    method = state.get("method") or (source.methods[0] if len(source.methods) == 1 else None)
    if method is None:
        choice = st.radio(
            "How should meterr get the data?", source.methods, format_func=catalog.METHOD_LABELS.get, key="wizard_how"
        )
        if st.button("Next", type="primary", icon=":material/arrow_forward:", key="wizard_next"):
            state["method"] = choice
            st.rerun()
        return
    st.info(f"**What we read:** {source.reads}", icon=":material/visibility:")
    if method == catalog.API_KEY:
        _render_key_step(ctx, source)
    elif method == catalog.FILE:
        _render_file_step(ctx, source)
    else:
        _render_webhook_step(ctx, source)


def _render_sources() -> None:
    st.markdown("**1. Choose a source**")
    columns = st.columns(3)
    for i, source in enumerate(catalog.SOURCES):
        with columns[i % 3]:
            if st.button(source.label, icon=f":material/{source.icon}:", key=f"source_{source.id}", width="stretch"):
                st.session_state[STATE] = {"source": source.id}
                st.rerun()


# Keys ------------------------------------------------------------------------------------------------


def _render_key_step(ctx: Context, source: catalog.Source) -> None:
    st.caption(f":material/lock: **What we store:** {catalog.STORED_TEXT}")
    st.markdown(source.key_help)
    key = st.text_input("Admin key", type="password", key=KEY_FIELD, placeholder=f"{source.key_prefix}…")
    if key and source.key_prefix and not key.strip().startswith(source.key_prefix):
        if source.revenue:
            text = (f"Restricted keys start with `{source.key_prefix}`. A secret key works too, but it can do far more "
                    "than read; a restricted read-only key is safer.")  # fmt: skip
        else:
            text = (f"{source.label} admin keys start with `{source.key_prefix}`; this one does not, so it may be a "
                    "project key, which cannot read costs. Test it to be sure.")  # fmt: skip
        st.warning(text, icon=":material/warning:")
    store = st.radio(
        "Keep the key?",
        ["store", "once"],
        format_func={"store": "Store it encrypted, and sync every hour", "once": "Use it once, don't store"}.get,
        horizontal=True,
        key="wizard_store",
    )
    days = st.slider("Backfill how many days?", 7, 365, 90, step=1, key="wizard_days")
    test, start = st.columns(2)
    if test.button("Test connection", icon=":material/network_check:", key="wizard_test", width="stretch"):
        with st.spinner(f"Asking {source.label}…"):
            try:
                st.success(connections.test_key(source.id, key), icon=":material/check_circle:")
            except ConnectorError as problem:
                st.error(str(problem), icon=":material/error:")
    if start.button("Import now", type="primary", icon=":material/download:", key="wizard_start", width="stretch"):
        if not key.strip():
            st.error("Paste the key first.")
            return
        _run_backfill(ctx, source, key=key, store=store == "store", days=days)
    elif _state().get("running"):
        st.warning(
            "The import was stopped. What finished is kept; **Sync now** in the list above carries on from there.",
            icon=":material/pause_circle:",
        )
        _state().pop("running", None)


def _run_backfill(ctx: Context, source: catalog.Source, *, key: str, store: bool, days: int) -> None:
    try:
        connection_id = connections.create_api_connection(ctx, source_id=source.id, key=key, store=store)
    except InvalidInput as problem:
        st.error(str(problem))
        return
    _state()["running"] = connection_id
    bar = st.progress(0.0, text=f"Connecting to {source.label}…")
    st.button("Cancel", icon=":material/cancel:", key="wizard_cancel")  # a click reruns the page, which stops this
    result = connections.run_sync(
        ctx, connection_id=connection_id, key=None if store else key, days=days,
        progress=lambda fraction, text: bar.progress(fraction, text=text),
    )  # fmt: skip
    st.session_state.pop(KEY_FIELD, None)  # the key is not kept in the session once used
    _state().pop("running", None)
    if not result.ok:
        st.error(result.message, icon=":material/error:")
        return
    _state()["result"] = result
    st.rerun()


# Files -----------------------------------------------------------------------------------------------


def _render_file_step(ctx: Context, source: catalog.Source) -> None:
    if source.export_help:
        st.caption(f":material/help: **How to export:** {source.export_help}")
    upload = st.file_uploader(
        "Export file (CSV, TSV, JSON, JSONL, or .gz of those)",
        type=["csv", "tsv", "txt", "json", "jsonl", "ndjson", "gz"],
        key="wizard_upload",
    )
    if upload is None:
        return
    data = upload.getvalue()
    formats = {p.name: p.label for p in all_parsers()}
    options = ["auto", *formats]
    chosen = st.selectbox(
        "Format", options, format_func=lambda n: "Detect from the content" if n == "auto" else formats[n],
        key="wizard_format",
    )  # fmt: skip
    mapping = None
    try:
        raw = RawFile(upload.name, data)
        if chosen == "generic" or (chosen == "auto" and source.id == "custom"):
            mapping = _render_mapping(raw)
            if mapping is None:
                return
    except BadFile as problem:
        st.error(str(problem), icon=":material/error:")
        return
    options_row = st.columns(2)
    rates_text = options_row[0].text_input(
        "Exchange rates (only for non-USD files)", placeholder="EUR=1.08, GBP=1.27", key="wizard_rates",
        help="US dollars per one unit of each currency.",
    )  # fmt: skip
    skip = options_row[1].checkbox("Skip bad rows (they are listed)", key="wizard_skip")
    try:
        rates = _parse_rates(rates_text)
        with st.spinner("Reading the file…"):
            preview = connections.preview_upload(
                ctx, name=upload.name, data=data, format=None if chosen == "auto" or mapping else chosen,
                mapping=mapping, skip_bad_rows=skip, rates=rates,
            )  # fmt: skip
    except (BadFile, InvalidInput) as problem:
        st.error(str(problem), icon=":material/error:")
        return
    span = f"{preview.first_day:%d %b %Y} – {preview.last_day:%d %b %Y}" if preview.first_day else "no dated rows"
    st.success(
        f"**{preview.format_label}**: {preview.rows_read:,} rows → {preview.charges:,} daily charges, "
        f"{format_usd(to_micros(preview.total_usd))} ({span}).",
        icon=":material/fact_check:",
    )
    for note in preview.notes:
        st.caption(note)
    _render_left_out(preview.skipped, preview.unpriced)
    if st.button("Import", type="primary", icon=":material/upload:", key="wizard_import"):
        try:
            with st.spinner("Importing…"):
                result = connections.import_upload(
                    ctx, source_id=source.id, name=upload.name, data=data,
                    format=None if chosen == "auto" or mapping else chosen, mapping=mapping, skip_bad_rows=skip,
                    rates=rates,
                )  # fmt: skip
        except (BadFile, InvalidInput) as problem:
            st.error(str(problem), icon=":material/error:")
            return
        _state()["result"] = result
        st.rerun()


def _parse_rates(text: str) -> dict[str, Decimal]:
    pairs = {}
    for part in filter(None, (p.strip() for p in text.replace(";", ",").split(","))):
        code, sep, value = part.partition("=")
        if not sep:
            raise InvalidInput(f"'{part}' is not a rate; write it as EUR=1.08.")
        pairs[code] = value
    return parse_rates(pairs)


def _render_mapping(raw: RawFile) -> ColumnMapping | None:
    st.markdown("**Confirm the columns.** We guessed; change any that are wrong.")
    columns = columns_of(raw)
    try:
        guess = suggest_mapping(raw)
    except BadFile as problem:
        st.warning(str(problem))
        guess = ColumnMapping(date=columns[0], amount=columns[-1])
    none = "(none)"

    def pick(label: str, field: str, required: bool = False) -> str | None:
        current = getattr(guess, field)
        choices = columns if required else [none, *columns]
        index = choices.index(current) if current in choices else 0
        value = st.selectbox(label, choices, index=index, key=f"map_{field}")
        return None if value == none else value

    left, right = st.columns(2)
    with left:
        date = pick("Date", "date", required=True)
        amount = pick("Amount", "amount", required=True)
        vendor = pick("Vendor / provider", "vendor")
        description = pick("Description", "description")
        order = st.selectbox("Dates are written", DATE_ORDERS, index=DATE_ORDERS.index(guess.date_order),
                             format_func=ORDER_LABELS.get, key="map_order")  # fmt: skip
    with right:
        model = pick("Model", "model")
        currency = pick("Currency", "currency")
        department = pick("Department / team", "department")
        project = pick("Project", "project")
        customer = pick("Customer", "customer")
        comma = st.checkbox("Amounts use a decimal comma (1.234,56)", value=guess.decimal_comma, key="map_comma")
    default_vendor = "" if vendor else st.text_input("Who are these charges with?", key="map_vendor")
    assert date is not None and amount is not None
    return ColumnMapping(
        date=date, amount=amount, vendor=vendor, description=description, model=model, currency=currency,
        department=department, project=project, customer=customer, date_order=order, decimal_comma=comma,
        default_vendor=default_vendor, input_tokens=guess.input_tokens, output_tokens=guess.output_tokens,
        feature=guess.feature,
    )  # fmt: skip


def _render_left_out(skipped: list[Any], unpriced: list[Any]) -> None:
    if skipped:
        with st.expander(f"{len(skipped):,} rows left out"):
            st.dataframe([{"Row": s.row, "Column": s.column, "Why": s.reason} for s in skipped[:500]], hide_index=True)
    if unpriced:
        st.warning(
            "Some usage has no known price and is **not** counted: "
            + "; ".join(f"{u.provider} {u.model} ({u.rows:,} rows)" for u in unpriced[:10]),
            icon=":material/money_off:",
        )


# Webhooks --------------------------------------------------------------------------------------------


def _render_webhook_step(ctx: Context, source: catalog.Source) -> None:
    from ui.db import get_settings

    state = _state()
    base = get_settings().base_url.rstrip("/")
    if "webhook" not in state:
        st.caption(
            ":material/lock: Every delivery must be signed; unsigned, stale (over 5 minutes) or replayed ones are "
            "refused."
        )
        if st.button("Create the webhook", type="primary", icon=":material/webhook:", key="wizard_webhook"):
            state["webhook"] = connections.create_webhook_connection(ctx, source_id=source.id)
            st.rerun()
        return
    connection_id, secret = state["webhook"]
    if source.id == "stripe":
        st.markdown("In Stripe → Developers → Webhooks, add an endpoint with this URL, for `charge.*` and "
                    "`balance.*` events, then paste its signing secret here.")  # fmt: skip
        st.code(f"{base}/api/webhooks/stripe", language=None)
        signing = st.text_input("Signing secret", type="password", placeholder="whsec_…", key="wizard_whsec")
        if st.button("Save", type="primary", key="wizard_whsec_save"):
            try:
                connections.save_stripe_signing_secret(ctx, connection_id=connection_id, secret=signing)
            except ConnectorError as problem:
                st.error(str(problem))
            else:
                st.success("Saved. Stripe events will arrive as revenue.", icon=":material/check_circle:")
        return
    st.markdown("Send charges to this URL. Copy the secret now: it is shown **only once**.")
    st.code(f"{base}/api/webhooks/{connection_id}", language=None)
    st.code(secret, language=None)
    st.markdown(
        "Sign each request: `X-Meterr-Timestamp: <unix seconds>` and `X-Meterr-Signature: v1=<hex HMAC-SHA256 of "
        '\'<timestamp>.\' + body, keyed with the secret>`. Body: `{"id": "evt_1", "charges": [{"day": '
        '"2026-11-20", "provider": "OpenAI", "model": "gpt-4o", "amount_usd": "12.34"}]}`.'
    )
    if st.button("Done", key="wizard_webhook_done"):
        _reset()
        st.rerun()


# Result ----------------------------------------------------------------------------------------------


def _render_result(result: ImportResult | SyncResult) -> None:
    if isinstance(result, SyncResult):
        st.success(result.message, icon=":material/celebration:")
        st.caption(
            f"{result.charges_written:,} new lines, {result.revised:,} revised, {result.duplicates:,} unchanged."
        )
    else:
        days = f" across {result.days} day{'s' if result.days != 1 else ''}" if result.days else ""
        st.success(
            f"Imported {format_usd(to_micros(result.total_usd))}{days} from {result.format_label}.",
            icon=":material/celebration:",
        )
        st.caption(
            f"{result.rows_read:,} rows read → {result.charges_written:,} new charges, {result.revised:,} revised, "
            f"{result.duplicates:,} already there."
        )
        _render_left_out(result.skipped, result.unpriced)
    left, right = st.columns(2)
    left.page_link("app_pages/overview.py", label="See it on the Overview", icon=":material/dashboard:")
    if right.button("Connect another source", icon=":material/add:", key="wizard_again"):
        _reset()
        st.rerun()
