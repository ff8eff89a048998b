import datetime as dt
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from genai_prices import Usage, calc_price

from core import demo
from core.money import format_usd, from_micros, to_micros
from insights.recommendations import SUCCESSORS, TIERS, Recommendation, compute_recommendations

END = dt.date(2026, 11, 21)
USD = 1_000_000
M = 1_000_000  # tokens
PROVIDER_IDS = {"OpenAI": "openai", "Anthropic": "anthropic", "Google": "google", "AWS Bedrock": "aws"}


def list_usd(provider: str, model: str, input_tokens: int, output_tokens: int, cached: int = 0) -> Decimal:
    """One request at genai-prices' list price on END, straight from calc_price (not through our code)."""
    price = calc_price(
        Usage(input_tokens=input_tokens, output_tokens=output_tokens, cache_read_tokens=cached or None),
        model_ref=model,
        provider_id=PROVIDER_IDS[provider],
        genai_request_timestamp=dt.datetime.combine(END, dt.time(12), dt.UTC),
    )
    return Decimal(price.total_price)


def row(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "provider": "OpenAI", "model": "", "project": "", "api_key": "", "feature": "", "service": "",
        "line_item": "", "requests": 0, "input_tokens": 0, "output_tokens": 0, "cached_tokens": 0,
        "amount_micros": 0, "days_active": 30,
    }  # fmt: skip
    return {**base, **fields}


def workload(
    provider: str, model: str, project: str, requests: int, avg_in: int, avg_out: int, avg_cached: int = 0, **extra: Any
) -> dict[str, Any]:
    """A workload's row, paid at exactly its list price (every test's prices are whole micro-dollars)."""
    cost = list_usd(provider, model, avg_in, avg_out, avg_cached) * requests
    assert from_micros(to_micros(cost)) == cost, "pick volumes whose list price is whole micro-dollars"
    fields = {
        "provider": provider, "model": model, "project": project, "requests": requests,
        "input_tokens": avg_in * requests, "output_tokens": avg_out * requests,
        "cached_tokens": avg_cached * requests, "amount_micros": to_micros(cost),
    }  # fmt: skip
    return row(**{**fields, **extra})


def recommend(*rows: dict[str, Any], **options: Any) -> list[Recommendation]:
    return compute_recommendations(pd.DataFrame(rows), end=END, **options)


def of_kind(recs: list[Recommendation], kind: str) -> list[Recommendation]:
    return [rec for rec in recs if rec.kind == kind]


# support-bot: 100,000 requests of 1,500 input (300 cached) and 200 output tokens on gpt-4o.
SUPPORT = ("OpenAI", "gpt-4o", "support-bot", 100_000, 1_500, 200, 300)


def test_cheaper_model_within_provider_saves_the_list_price_difference() -> None:
    provider, model, project, requests, avg_in, avg_out, cached = SUPPORT
    recs = of_kind(recommend(workload(*SUPPORT, api_key="key-1")), "cheaper_model")

    current = list_usd(provider, model, avg_in, avg_out, cached) * requests
    targets = {m: list_usd(provider, m, avg_in, avg_out, cached) * requests for m in ("gpt-4o-mini", "gpt-4.1-mini")}
    target = min(targets, key=lambda m: targets[m])
    assert target == "gpt-4o-mini"
    assert [(r.target_model, r.target_provider, r.monthly_saving_micros) for r in recs] == [
        ("gpt-4o-mini", "OpenAI", to_micros(current - targets[target]))
    ]
    rec = recs[0]
    assert rec.monthly_saving_micros == 505_250_000  # $537.50 on gpt-4o − $32.25 on gpt-4o-mini
    assert rec.current_monthly_micros == to_micros(current)
    assert rec.key == "cheaper_model:OpenAI:gpt-4o:support-bot->gpt-4o-mini"
    assert rec.title == "Move support-bot from gpt-4o to gpt-4o-mini"
    assert rec.confidence == "medium"
    assert (rec.provider, rec.model, rec.project, rec.api_key) == ("OpenAI", "gpt-4o", "support-bot", "key-1")
    assert "$537.50" in rec.method and "$32.25" in rec.method
    assert rec.steps


def test_a_negotiated_discount_carries_over_to_the_cheaper_model() -> None:
    provider, model, project, requests, avg_in, avg_out, cached = SUPPORT
    discounted = workload(*SUPPORT)
    discounted["amount_micros"] = discounted["amount_micros"] * 8 // 10  # 20% off list
    (rec,) = of_kind(recommend(discounted), "cheaper_model")

    current = list_usd(provider, model, avg_in, avg_out, cached) * requests
    target = list_usd(provider, "gpt-4o-mini", avg_in, avg_out, cached) * requests
    assert rec.monthly_saving_micros == to_micros((current - target) * Decimal("0.8"))  # $404.20


def test_monthly_figures_scale_a_shorter_window_to_30_days() -> None:
    provider, model, project, requests, avg_in, avg_out, cached = SUPPORT
    (rec,) = of_kind(recommend(workload(*SUPPORT), window_days=15), "cheaper_model")

    current = list_usd(provider, model, avg_in, avg_out, cached) * requests
    target = list_usd(provider, "gpt-4o-mini", avg_in, avg_out, cached) * requests
    assert rec.monthly_saving_micros == to_micros((current - target) * 2)
    assert rec.current_monthly_micros == to_micros(current * 2)


@pytest.mark.parametrize(
    ("avg_in", "avg_out", "fits"),
    [(2_000, 500, True), (2_001, 500, False), (2_000, 501, False)],
    ids=["at-the-limits", "prompt-too-long", "answer-too-long"],
)
def test_only_short_prompts_and_answers_get_a_cheaper_model(avg_in: int, avg_out: int, fits: bool) -> None:
    recs = recommend(workload("OpenAI", "gpt-4o", "bot", 100_000, avg_in, avg_out))
    assert bool(of_kind(recs, "cheaper_model")) is fits


def test_cheaper_model_across_providers_of_the_same_tier() -> None:
    # Anthropic lists no small tier, so haiku's only cheaper move is another provider's mid-tier model, and only
    # to a provider the workspace already uses (here OpenAI, through a long-prompt workload that does not fit).
    haiku = workload("Anthropic", "claude-haiku-4-5", "ticket-triage", 100_000, 1_200, 90, 600)
    other = workload("OpenAI", "gpt-4.1", "writer", 1_000, 5_000, 1_000)
    assert of_kind(recommend(haiku), "cheaper_model") == []

    (rec,) = of_kind(recommend(haiku, other), "cheaper_model")
    targets = {m: list_usd("OpenAI", m, 1_200, 90, 600) * 100_000 for m in ("gpt-4o-mini", "gpt-4.1-mini")}
    target = min(targets, key=lambda m: targets[m])
    # A cross-provider move saves what you pay − the target's list price: a discount would not travel.
    assert rec.monthly_saving_micros == haiku["amount_micros"] - to_micros(targets[target])
    assert (rec.target_provider, rec.target_model, rec.confidence) == ("OpenAI", target, "low")
    assert rec.key == f"cheaper_model:Anthropic:claude-haiku-4-5:ticket-triage->OpenAI:{target}"
    assert rec.title == f"Move ticket-triage from claude-haiku-4-5 to OpenAI {target}"


def test_caching_saves_the_cache_read_discount_on_half_the_input() -> None:
    # 20,000 requests × 3,000 input = 60M input tokens a month, none cached.
    requests, avg_in, avg_out = 20_000, 3_000, 500
    recs = recommend(workload("OpenAI", "gpt-4.1", "writer", requests, avg_in, avg_out))
    (rec,) = of_kind(recs, "prompt_caching")

    now = list_usd("OpenAI", "gpt-4.1", avg_in, avg_out) * requests
    cached = list_usd("OpenAI", "gpt-4.1", avg_in, avg_out, avg_in // 2) * requests
    assert rec.monthly_saving_micros == to_micros(now - cached) == 45 * USD  # 30M tokens × ($2.00 − $0.50) / 1M
    assert rec.key == "prompt_caching:OpenAI:gpt-4.1:writer"
    assert rec.confidence == "medium"
    assert rec.target_model == ""


@pytest.mark.parametrize(
    ("provider", "model", "requests", "avg_in", "avg_cached"),
    [
        ("OpenAI", "gpt-4.1", 20_000, 3_000, 600),  # already 20% cached
        ("OpenAI", "gpt-4.1", 16_000, 3_000, 0),  # 48M input tokens a month: too little
        ("OpenAI", "gpt-4.1", 60_000, 1_000, 0),  # prompts below the 1,024-token cacheable minimum
        ("AWS Bedrock", "meta.llama3-1-70b-instruct-v1:0", 40_000, 3_000, 0),  # no cache-read price
    ],
    ids=["already-cached", "low-volume", "short-prompts", "no-cache-price"],
)
def test_no_caching_suggestion_where_it_cannot_pay(
    provider: str, model: str, requests: int, avg_in: int, avg_cached: int
) -> None:
    recs = recommend(workload(provider, model, "p", requests, avg_in, 500, avg_cached))
    assert of_kind(recs, "prompt_caching") == []


def hourly_frame(provider: str, model: str, project: str, by_hour: dict[int, int]) -> pd.DataFrame:
    rows = [
        {"provider": provider, "model": model, "project": project, "hour": h, "requests": n} for h, n in by_hour.items()
    ]
    return pd.DataFrame(rows)


NIGHTLY = {h: 70 for h in range(0, 8)} | {h: 20 for h in range(8, 18)} | {h: 10 for h in range(18, 24)}  # 76% off-hours
OFFICE = {h: 100 for h in range(8, 18)} | {h: 5 for h in range(0, 8)}
FLAT = {h: 100 + (h % 3) for h in range(24)}


@pytest.mark.parametrize(
    ("by_hour", "confidence"),
    [(NIGHTLY, "high"), (FLAT, "medium"), (OFFICE, None)],
    ids=["mostly-outside-business-hours", "flat-day", "office-hours"],
)
def test_batch_with_hourly_data(by_hour: dict[int, int], confidence: str | None) -> None:
    # The name says nightly, but hourly data decides: office-hours traffic gets no suggestion.
    work = row(model="gpt-4.1", project="nightly-reports", amount_micros=1_234_567_891, requests=1)
    hourly = hourly_frame("OpenAI", "gpt-4.1", "nightly-reports", by_hour)
    recs = of_kind(recommend(work, hourly=hourly), "batch_api")
    if confidence is None:
        assert recs == []
        return
    (rec,) = recs
    assert rec.confidence == confidence
    assert rec.monthly_saving_micros == 617_283_946  # half of $1,234.567891, half-even
    assert rec.key == "batch_api:OpenAI:gpt-4.1:nightly-reports"


def test_batch_from_names_counts_only_the_offline_share_and_skips_batched_spend() -> None:
    # API-synced shape: tokens on $0 usage rows by feature, money on rows that name the model.
    rows = [
        row(
            model="gpt-4o-mini",
            project="crm",
            feature="nightly-enrichment",
            input_tokens=2_500_000,
            output_tokens=500_000,
        ),
        row(model="gpt-4o-mini", project="crm", feature="chat", input_tokens=900_000, output_tokens=100_000),
        row(model="gpt-4o-mini", project="crm", line_item="gpt-4o-mini, input", amount_micros=500 * USD),
        row(model="gpt-4o-mini", project="crm", line_item="gpt-4o-mini, input (batch)", amount_micros=100 * USD),
    ]
    (rec,) = of_kind(recommend(*rows), "batch_api")
    # ($600 − $100 already batched) × 75% of the tokens on the nightly feature × 50% off.
    assert rec.monthly_saving_micros == 187_500_000
    assert rec.confidence == "low"
    assert '"enrich", "nightly"' in rec.method


def test_batch_from_a_flat_week_and_never_without_a_batch_api() -> None:
    days = [END - dt.timedelta(days=i) for i in range(28)]
    flat = pd.DataFrame(
        [{"day": d, "provider": p, "model": "m1", "project": "sync", "amount_micros": 1, "requests": 50} for d in days
         for p in ("OpenAI", "Mistral")]
    )  # fmt: skip
    weekdays = flat.assign(requests=[50 if d.weekday() < 5 else 20 for d in flat["day"]])
    work = [row(model="m1", project="sync", amount_micros=300 * USD), row(provider="Mistral", model="m1",
            project="sync", amount_micros=300 * USD)]  # fmt: skip

    recs = of_kind(recommend(*work, daily=flat), "batch_api")
    assert [(r.provider, r.confidence, r.monthly_saving_micros) for r in recs] == [("OpenAI", "low", 150 * USD)]
    assert of_kind(recommend(*work, daily=weekdays), "batch_api") == []


def test_idle_project_key_and_tiny_keys() -> None:
    rows = [
        workload("OpenAI", "gpt-4.1", "app", 1_000, 5_000, 1_000, api_key="key-main"),
        # a fixed fee on a project with no usage at all, charged every day
        row(project="legacy", line_item="Reserved capacity", amount_micros=300 * USD, days_active=30),
        # a key charged a monthly fee but never used, in a project that is used through another key
        row(project="app", api_key="key-old", line_item="Key fee", amount_micros=40 * USD, days_active=1),
        # a key spending $2 beside the $18 main key
        workload("OpenAI", "gpt-4.1", "app", 100, 5_000, 1_250, api_key="key-test"),
        # money lines of a model whose usage arrives on $0 rows: metered usage, not idle
        row(model="gpt-4o", project="api", line_item="gpt-4o, input", amount_micros=80 * USD),
        row(model="gpt-4o", project="api", api_key="key-api", input_tokens=30_000_000, requests=10_000),
        # a model's money with its usage missing (a sync gap), not a fee: not idle
        row(model="gpt-4o", project="sync-gap", line_item="gpt-4o, input", amount_micros=60 * USD),
        # an unused key with a $1 fee: idle, and not one of the near-idle used keys
        row(project="app", api_key="key-spare", line_item="Key fee", amount_micros=USD, days_active=1),
        # Anthropic reports usage, but not by key: its unused key proves nothing
        row(provider="Anthropic", model="claude-haiku-4-5", project="x", input_tokens=M, amount_micros=5 * USD),
        row(provider="Anthropic", project="x", api_key="key-a", line_item="Seat", amount_micros=50 * USD),
        # a provider that reports no usage anywhere (an invoice import): silence proves nothing
        row(provider="Azure", project="rg-data", line_item="Storage", amount_micros=500 * USD),
    ]
    recs = of_kind(recommend(*rows, min_saving_micros=0), "idle_spend")
    found = {(r.key, r.monthly_saving_micros, r.confidence, r.project, r.api_key) for r in recs}
    assert found == {
        ("idle_spend:project:OpenAI:legacy", 300 * USD, "high", "legacy", ""),
        ("idle_spend:key:OpenAI:key-old", 40 * USD, "medium", "", "key-old"),
        ("idle_spend:key:OpenAI:key-spare", USD, "medium", "", "key-spare"),
        ("idle_spend:tiny_keys:OpenAI:app", 2 * USD, "low", "app", "key-test"),
    }
    # $2 a month is below the default $20 floor.
    assert "idle_spend:tiny_keys:OpenAI:app" not in {r.key for r in recommend(*rows)}


def test_superseded_snapshot_moves_only_when_the_successor_is_cheaper() -> None:
    old = workload("OpenAI", "gpt-4o-2024-05-13", "summaries", 10_000, 4_000, 1_000)
    same_price = workload("Anthropic", "claude-3-5-sonnet-20241022", "drafts", 10_000, 4_000, 1_000)
    recs = of_kind(recommend(old, same_price), "superseded_model")

    now = list_usd("OpenAI", "gpt-4o-2024-05-13", 4_000, 1_000) * 10_000
    new = list_usd("OpenAI", "gpt-4o-2024-08-06", 4_000, 1_000) * 10_000
    assert [(r.key, r.monthly_saving_micros, r.confidence) for r in recs] == [
        ("superseded_model:OpenAI:gpt-4o-2024-05-13:summaries->gpt-4o-2024-08-06", to_micros(now - new), "high")
    ]
    assert recs[0].monthly_saving_micros == 150 * USD  # $350 − $200
    assert recs[0].target_model == "gpt-4o-2024-08-06"


def test_superseded_without_request_counts_prices_the_tokens_at_base_rates() -> None:
    # Anthropic's usage report has no request counts; opus 4.1 and 4.5 have no long-context tier, so pricing all
    # the tokens as one request gives the base rates.
    tokens = {"input_tokens": 40_000_000, "output_tokens": 4_000_000, "cached_tokens": 10_000_000}
    now = list_usd("Anthropic", "claude-opus-4-1", 40_000_000, 4_000_000, 10_000_000)
    new = list_usd("Anthropic", "claude-opus-4-5", 40_000_000, 4_000_000, 10_000_000)
    usage_row = row(provider="Anthropic", model="claude-opus-4-1-20250805", project="code", **tokens)
    money_row = row(
        provider="Anthropic", model="claude-opus-4-1-20250805", project="code", amount_micros=to_micros(now)
    )
    (rec,) = of_kind(recommend(usage_row, money_row), "superseded_model")
    assert rec.monthly_saving_micros == to_micros(now - new) == 510 * USD  # $765 − $255
    assert rec.target_model == "claude-opus-4-5"


def test_ranked_by_saving_and_filtered_by_the_floor() -> None:
    rows = [
        workload(*SUPPORT),  # a cheaper model: $505.25
        workload("OpenAI", "gpt-4o-2024-05-13", "summaries", 10_000, 4_000, 1_000),  # a successor: $150
        workload("OpenAI", "gpt-4.1", "writer", 20_000, 3_000, 500),  # caching: $45
    ]
    recs = recommend(*rows)
    savings = [r.monthly_saving_micros for r in recs]
    assert savings == sorted(savings, reverse=True) and len(recs) >= 3
    floor = savings[1]
    assert [r.monthly_saving_micros for r in recommend(*rows, min_saving_micros=floor)] == savings[:2]
    assert recommend(*rows) == recs  # the same data gives the same findings, keys included


def test_keys_stay_within_255_characters() -> None:
    rows = [{**workload(*SUPPORT), "project": "x" * 250}]
    (rec,) = of_kind(recommend(*rows), "cheaper_model")
    assert len(rec.key) == 255
    assert rec.key == of_kind(recommend(*rows), "cheaper_model")[0].key


def usage_from_charges(charges: list[dict[str, Any]], *, end: dt.date, days: int) -> pd.DataFrame:
    frame = pd.DataFrame(charges)
    window = frame[(frame["day"] > end - dt.timedelta(days=days)) & (frame["day"] <= end)]
    dims = ["provider", "model", "project", "api_key", "feature", "service", "line_item"]
    sums = ["requests", "input_tokens", "output_tokens", "cached_tokens", "amount_micros"]
    totals = window.groupby(dims, as_index=False)[sums].sum()
    active = window[window["amount_micros"] > 0].groupby(dims, as_index=False)["day"].nunique()
    return totals.merge(active.rename(columns={"day": "days_active"}), on=dims, how="left").fillna({"days_active": 0})


def test_the_demo_has_recommendations_worth_real_money() -> None:
    charges = demo.build_demo_charges(END)
    recs = compute_recommendations(usage_from_charges(charges, end=END, days=30), end=END)
    worth = [r for r in recs if r.monthly_saving_micros >= 100 * USD]
    assert len(worth) >= 3, [f"{r.title}: {format_usd(r.monthly_saving_micros)}" for r in recs]
    kinds = {r.kind for r in worth}
    assert {"cheaper_model", "superseded_model", "prompt_caching", "batch_api"} <= kinds
    # The support-bot story: the 10% of its traffic still on gpt-4o should follow the rest to gpt-4o-mini.
    assert "cheaper_model:OpenAI:gpt-4o:support-bot->gpt-4o-mini" in {r.key for r in worth}


def test_work_seen_on_only_a_few_days_is_low_confidence() -> None:
    (rec,) = of_kind(recommend(workload(*SUPPORT, days_active=6)), "cheaper_model")
    assert rec.confidence == "low"
    assert "Seen on only 6 days" in rec.method


def test_every_model_in_the_tables_is_priced_by_genai_prices() -> None:
    tier_models = [(p, m) for tier in TIERS.values() for p, models in tier.items() for m in models]
    assert [(p, m) for p, m in tier_models if list_usd(p, m, 1_000, 1_000) <= 0] == []
    maker = {"claude": "Anthropic", "gemini": "Google"}
    for old, (new, _) in SUCCESSORS.items():
        provider = maker.get(old.split("-")[0], "OpenAI")
        assert list_usd(provider, old, 1_000, 1_000) > 0, old
        assert list_usd(provider, new, 1_000, 1_000) > 0, new
    # A successor is a current model: never itself superseded, so a suggestion never needs a second hop.
    assert [new for new, _ in SUCCESSORS.values() if new in SUCCESSORS] == []
