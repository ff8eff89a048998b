"""Savings advice with a time-of-day profile: hourly request counts raise the Batch API suggestion's confidence."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from insights import advice
from insights.advice import compute_advice
from tests.insights.test_recommendations import NIGHTLY, hourly_frame, row

TODAY = dt.date(2026, 11, 22)


def test_requests_outside_office_hours_raise_the_batch_confidence() -> None:
    # The name alone suggests offline work (low); 76% of the requests outside 08:00-18:00 make it high.
    usage = pd.DataFrame([row(model="gpt-4.1", project="nightly-reports", amount_micros=1_234_567_891, requests=1)])
    tracker = pd.DataFrame(columns=["day", "provider", "model", "project", "requests", "amount_micros"])
    hourly = hourly_frame("OpenAI", "gpt-4.1", "nightly-reports", NIGHTLY)

    def batch(**options: object) -> tuple[str, int]:
        view = compute_advice(usage, tracker, {}, today=TODAY, **options)  # type: ignore[arg-type]
        (rec,) = [rec for rec in view.open if rec.kind == "batch_api"]
        return rec.confidence, rec.monthly_saving_micros

    assert batch() == ("low", 617_283_946)
    assert batch(hourly=hourly.iloc[0:0]) == ("low", 617_283_946)  # an empty profile is no evidence
    assert batch(hourly=hourly) == ("high", 617_283_946)


def test_stored_utc_hours_are_judged_on_the_workspaces_clock() -> None:
    hourly = pd.DataFrame({"provider": ["OpenAI"] * 2, "model": ["gpt-4o"] * 2, "project": ["p"] * 2,
                           "hour": [23, 2], "requests": [5, 7]})  # fmt: skip
    winter, summer = dt.date(2026, 1, 15), dt.date(2026, 7, 15)
    assert advice.local_hours(hourly, "UTC", winter) is hourly
    assert advice.local_hours(hourly, "America/New_York", winter)["hour"].tolist() == [18, 21]  # UTC-5
    assert advice.local_hours(hourly, "America/New_York", summer)["hour"].tolist() == [19, 22]  # UTC-4
    assert advice.local_hours(hourly, "Asia/Kolkata", winter)["hour"].tolist() == [5, 8]  # UTC+5:30, rounded to 6
    assert advice.local_hours(None, "Europe/Berlin", winter) is None
