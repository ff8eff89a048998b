import datetime as dt
import math
import statistics
import warnings

import pandas as pd
import pytest

from core import demo
from insights.anomalies import detect_anomalies

USD = 1_000_000
DAY = dt.timedelta(days=1)
WEEK = dt.timedelta(weeks=1)
SPIKE_DAY = dt.date(2026, 10, 14)  # a Wednesday
END = dt.date(2026, 11, 21)
START = END - 89 * DAY
FIRST = dt.date(2026, 5, 1)  # history well before START
FLOOR = math.log(1.10)
# (provider, model, project, api_key, weekday spend); weekends are 40% of weekdays and every week is identical,
# so each series' baseline is exactly its own weekday or weekend amount.
STREAMS = (
    ("Anthropic", "claude-opus-4-1", "code-assistant", "key-code", 400_250_000),
    ("Anthropic", "claude-sonnet-4-5", "code-assistant", "key-code", 300_000_000),
    ("Anthropic", "claude-haiku-4-5", "support-bot", "key-support", 200_000_000),
    ("OpenAI", "gpt-4o", "support-bot", "key-support", 500_000_000),
    ("OpenAI", "gpt-4.1-mini", "doc-search", "key-docs", 250_000_000),
)


def charges(
    streams: tuple[tuple[str, str, str, str, int], ...] = STREAMS,
    *,
    extra: dict[tuple[dt.date, str, str], int] | None = None,
    first: dt.date = FIRST,
    last: dt.date = END,
    weekend_share: tuple[int, int] = (2, 5),
) -> pd.DataFrame:
    """One row per stream and day; `extra` adds micros to (day, model, api_key)."""
    extra = extra or {}
    rows = []
    day = first
    while day <= last:
        for provider, model, project, key, weekday in streams:
            amount = weekday if day.weekday() < 5 else weekday * weekend_share[0] // weekend_share[1]
            amount += extra.get((day, model, key), 0)
            rows.append(
                {"day": day, "provider": provider, "model": model, "project": project, "api_key": key,
                 "amount_micros": amount}
            )  # fmt: skip
        day += DAY
    return pd.DataFrame(rows)


def summary(found: list) -> list[tuple]:
    return [(a.day, a.dimension, a.value, a.actual_micros, a.expected_micros, a.impact_micros) for a in found]


def test_injected_spike_is_found_on_its_day_with_exact_amounts_driver_and_collapsed_duplicates():
    frame = charges(extra={(SPIKE_DAY, "claude-opus-4-1", "key-code"): 2_000 * USD})

    found = detect_anomalies(frame, start=START, end=END)

    assert len(found) == 1
    spike = found[0]
    # The same $2,000 shows in the model, the project and the provider; the model is the narrowest (highest z).
    assert summary(found) == [(SPIKE_DAY, "model", "claude-opus-4-1", 2_400_250_000, 400_250_000, 2_000 * USD)]
    assert spike.score == pytest.approx(math.log(2_401_250_000 / 401_250_000) / FLOOR)
    assert (spike.driver_dimension, spike.driver_value, spike.driver_change_micros) == (
        "project", "code-assistant", 2_000 * USD,
    )  # fmt: skip
    assert spike.also == ("project: code-assistant", "provider: Anthropic")
    assert spike.sentence == (
        "Model claude-opus-4-1 spent $2,400 on Oct 14, $2,000 more than the usual $400"
        " — mostly project code-assistant (+$2,000)."
    )


def test_a_provider_spike_names_the_model_the_narrowest_slice_that_explains_it():
    # Haiku's extra $40 is below the minimum on its own but makes the provider's impact the largest.
    extra = {
        (SPIKE_DAY, "claude-opus-4-1", "key-code"): 2_000 * USD,
        (SPIKE_DAY, "claude-haiku-4-5", "key-support"): 40 * USD,
    }

    found = detect_anomalies(charges(extra=extra), start=START, end=END)

    assert summary(found) == [(SPIKE_DAY, "provider", "Anthropic", 2_940_250_000, 900_250_000, 2_040 * USD)]
    # Model, project and API key each rose by $2,000; the model is the narrowest of them.
    assert (found[0].driver_dimension, found[0].driver_value, found[0].driver_change_micros) == (
        "model", "claude-opus-4-1", 2_000 * USD,
    )  # fmt: skip
    assert found[0].also == ("model: claude-opus-4-1", "project: code-assistant")
    assert found[0].sentence == (
        "Anthropic spent $2,940 on Oct 14, $2,040 more than the usual $900 — mostly model claude-opus-4-1 (+$2,000)."
    )


def test_expected_is_the_median_of_the_same_weekday_over_the_previous_four_weeks():
    # gpt-4o usually spends $500 on a Wednesday; the four before the spike spent 400, 440, 380 and 410.
    before = {1: 400, 2: 440, 3: 380, 4: 410}
    extra = {(SPIKE_DAY - k * WEEK, "gpt-4o", "key-support"): (usd - 500) * USD for k, usd in before.items()}
    extra[(SPIKE_DAY, "gpt-4o", "key-support")] = 1_500 * USD

    found = detect_anomalies(charges(extra=extra), start=SPIKE_DAY, end=SPIKE_DAY)

    assert summary(found) == [(SPIKE_DAY, "model", "gpt-4o", 2_000 * USD, 405 * USD, 1_595 * USD)]
    assert found[0].also == ("project: support-bot", "provider: OpenAI")


def test_a_monday_after_a_quiet_weekend_is_not_a_spike():
    frame = charges()
    quiet = frame["day"].isin([SPIKE_DAY + 3 * DAY, SPIKE_DAY + 4 * DAY])  # the Saturday and Sunday
    frame.loc[quiet, "amount_micros"] //= 4
    monday = SPIKE_DAY + 5 * DAY
    assert monday.weekday() == 0

    assert detect_anomalies(frame, start=START, end=END) == []
    # The jump is there: Monday spends ten times the Sunday before it.
    daily = frame.groupby("day")["amount_micros"].sum()
    assert daily[monday] == 10 * daily[monday - DAY]


def test_a_huge_z_below_the_minimum_impact_is_not_reported():
    small = (("Mistral", "mistral-small", "batch", "key-batch", 10 * USD),)
    frame = charges(small, extra={(SPIKE_DAY, "mistral-small", "key-batch"): 30 * USD})

    assert detect_anomalies(frame, start=START, end=END) == []
    found = detect_anomalies(frame, start=START, end=END, min_impact_micros=30 * USD)
    assert [(a.day, a.impact_micros) for a in found] == [(SPIKE_DAY, 30 * USD)]
    assert found[0].score > 10


def test_flat_and_dormant_series_give_finite_scores_without_warnings():
    flat = (("Mistral", "mistral-large", "batch", "key-batch", 500 * USD),)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert detect_anomalies(charges(flat, weekend_share=(1, 1)), start=START, end=END) == []
        spiked = charges(flat, weekend_share=(1, 1), extra={(SPIKE_DAY, "mistral-large", "key-batch"): 300 * USD})
        found = detect_anomalies(spiked, start=START, end=END)
        zeros = charges(flat, weekend_share=(1, 1)).assign(amount_micros=0)
        assert detect_anomalies(zeros, start=START, end=END) == []
        # Spent for a while, then nothing for weeks (zero days without rows), then $80 in one day.
        dormant = charges(flat, last=FIRST + 13 * DAY)
        revived = pd.concat([dormant, dormant.tail(1).assign(day=SPIKE_DAY, amount_micros=80 * USD)])
        woke = detect_anomalies(revived, start=START, end=END)

    assert summary(found) == [(SPIKE_DAY, "provider", "Mistral", 800 * USD, 500 * USD, 300 * USD)]
    assert found[0].score == pytest.approx(math.log(801 / 501) / FLOOR)
    assert found[0].also == ("model: mistral-large", "project: batch")
    assert summary(woke) == [(SPIKE_DAY, "provider", "Mistral", 80 * USD, 0, 80 * USD)]
    assert woke[0].score == pytest.approx(math.log(81) / FLOOR)
    assert woke[0].sentence == (
        "Mistral spent $80 on Oct 14, $80 more than the usual $0 — mostly model mistral-large (+$80)."
    )


def test_empty_frame_gives_no_anomalies():
    empty = pd.DataFrame(columns=["day", "provider", "model", "project", "api_key", "amount_micros"])
    assert detect_anomalies(empty, start=START, end=END) == []


def test_a_second_spike_a_week_later_is_still_found_against_an_unpoisoned_baseline():
    later = SPIKE_DAY + WEEK
    extra = {(SPIKE_DAY, "claude-opus-4-1", "key-code"): 2_000 * USD, (later, "claude-opus-4-1", "key-code"): 900 * USD}

    found = detect_anomalies(charges(extra=extra), start=START, end=END)

    assert summary(found) == [
        (SPIKE_DAY, "model", "claude-opus-4-1", 2_400_250_000, 400_250_000, 2_000 * USD),
        (later, "model", "claude-opus-4-1", 1_300_250_000, 400_250_000, 900 * USD),
    ]


def test_dips_and_the_recovery_after_a_dip_or_a_spike_are_not_reported():
    dip = {(SPIKE_DAY, "gpt-4o", "key-support"): -450 * USD, (SPIKE_DAY + DAY, "gpt-4o", "key-support"): -500 * USD}
    assert detect_anomalies(charges(extra=dip), start=START, end=END) == []

    spike = {(SPIKE_DAY, "gpt-4o", "key-support"): 1_000 * USD}
    found = detect_anomalies(charges(extra=spike), start=START, end=END)
    assert [(a.day, a.value) for a in found] == [(SPIKE_DAY, "gpt-4o")]


def test_days_outside_the_window_are_not_reported():
    before, after = START - DAY, END + DAY
    extra = {(day, "gpt-4o", "key-support"): 1_000 * USD for day in (before, after)}
    frame = charges(extra=extra, last=END + 7 * DAY)

    assert detect_anomalies(frame, start=START, end=END) == []
    assert sorted(a.day for a in detect_anomalies(frame, start=before, end=after)) == [before, after]


def test_a_new_model_is_not_a_spike_until_it_has_a_baseline_but_drives_its_providers_spike():
    migrated = START + 23 * DAY  # a Wednesday
    old = charges(last=migrated - DAY)
    new_streams = (*STREAMS, ("OpenAI", "gpt-4o-mini", "support-bot", "key-support", 60_000_000))
    new = charges(new_streams, first=migrated)
    new.loc[new["model"] == "gpt-4o", "amount_micros"] //= 10  # the migration: a drop, never an anomaly
    assert detect_anomalies(pd.concat([old, new]), start=START, end=END) == []

    big = charges((*STREAMS, ("OpenAI", "o3", "research", "key-research", 900_000_000)), first=migrated)
    found = detect_anomalies(pd.concat([old, big]), start=START, end=END)
    # Reported once, on its first day: the next two weeks carry on the same rise with the same driver.
    assert summary(found) == [(migrated, "provider", "OpenAI", 1_650 * USD, 750 * USD, 900 * USD)]
    assert (found[0].driver_dimension, found[0].driver_value, found[0].driver_change_micros) == (
        "model", "o3", 900 * USD,
    )  # fmt: skip


def test_separate_spikes_on_one_day_stay_separate_largest_impact_first():
    extra = {
        (SPIKE_DAY, "claude-opus-4-1", "key-code"): 2_000 * USD,
        (SPIKE_DAY, "gpt-4.1-mini", "key-docs"): 3_000 * USD,
    }

    found = detect_anomalies(charges(extra=extra), start=START, end=END)

    assert [(a.value, a.impact_micros, a.driver_value) for a in found] == [
        ("gpt-4.1-mini", 3_000 * USD, "doc-search"),
        ("claude-opus-4-1", 2_000 * USD, "code-assistant"),
    ]


def test_an_api_key_that_spiked_across_models_is_the_driver():
    extra = {
        (SPIKE_DAY, "claude-haiku-4-5", "key-support"): 1_000 * USD,
        (SPIKE_DAY, "gpt-4o", "key-support"): 1_000 * USD,
    }
    frame = charges(extra=extra).assign(project="support-bot")  # one project; the key is the narrower slice

    found = detect_anomalies(frame, start=START, end=END)

    kept = found[0]
    assert len(found) == 1
    assert (kept.dimension, kept.value, kept.impact_micros) == ("project", "support-bot", 2_000 * USD)
    assert (kept.driver_dimension, kept.driver_value, kept.driver_change_micros) == (
        "api_key",
        "key-support",
        2_000 * USD,
    )
    assert kept.sentence.endswith("— mostly API key key-support (+$2,000).")


@pytest.fixture(scope="module")
def demo_frame() -> pd.DataFrame:
    columns = ["day", "provider", "model", "project", "api_key", "amount_micros"]
    return pd.DataFrame(demo.build_demo_charges(END))[columns]


def _usual(frame: pd.DataFrame, dimension: str, value: str, day: dt.date) -> tuple[int, int]:
    """(spend on `day`, median of the same weekday over the four weeks before), computed straight from rows."""
    rows = frame[frame[dimension] == value]
    spend = [int(rows.loc[rows["day"] == day - k * WEEK, "amount_micros"].sum()) for k in range(5)]
    return spend[0], round(statistics.median(spend[1:]))


def test_demo_runaway_job_is_the_only_anomaly_in_the_last_90_days(demo_frame):
    calendar = demo.DemoCalendar(END)

    found = detect_anomalies(demo_frame, start=END - 89 * DAY, end=END)

    assert [a.day for a in found] == [calendar.spike_day]
    spike = found[0]
    assert {f"{spike.dimension}: {spike.value}", *spike.also} == {
        "provider: Anthropic", "model: claude-opus-4-1", "project: code-assistant",
    }  # fmt: skip
    assert (spike.driver_dimension, spike.driver_value) in {("model", "claude-opus-4-1"), ("project", "code-assistant")}
    actual, expected = _usual(demo_frame, spike.dimension, spike.value, calendar.spike_day)
    assert (spike.actual_micros, spike.expected_micros, spike.impact_micros) == (actual, expected, actual - expected)
    driver_actual, driver_expected = _usual(
        demo_frame[demo_frame[spike.dimension] == spike.value], spike.driver_dimension, spike.driver_value,
        calendar.spike_day,
    )  # fmt: skip
    assert spike.driver_change_micros == driver_actual - driver_expected
    # Opus ran at 7x: the rise is about six usual days of it.
    opus_actual, opus_usual = _usual(demo_frame, "model", "claude-opus-4-1", calendar.spike_day)
    assert 5 * opus_usual < spike.driver_change_micros <= opus_actual


def test_demo_migration_day_is_not_an_anomaly(demo_frame):
    calendar = demo.DemoCalendar(END)

    found = detect_anomalies(demo_frame, start=calendar.migration_day - 7 * DAY, end=END)

    assert [a.day for a in found] == [calendar.spike_day]
