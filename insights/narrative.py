"""The executive summary and the insights feed: a period's facts in plain English, and the check that keeps an
LLM's words to those facts. Pure: facts in, words out.

``deterministic_summary`` writes the summary straight from the facts (the default, and the fallback);
``build_messages`` is what an LLM is asked (connectors/llm.py asks it); ``check_draft`` refuses a draft that
states a number the facts do not hold, so the LLM turns facts into words and never computes.

The grounding rule. Every number in a text is read at the precision it is written in, and it matches a fact
when the fact rounds to it: "$37k" stands for $36,500–$37,500 and so matches 37,017.92, as do "$37.0k",
"$37,018" and "$37,017.92", but "$37,100" does not; "12.7%" and "13%" match a ratio of 0.1274. A whole number
ending in zeros is read to its last non-zero digit, never to fewer than two significant figures ("$37,000" is
"$37k"; "$40,000" is not), and a percentage always to its last written digit. Signs are ignored ("fell $967"
and "-$967" both state the change of 967), each end of a range is checked on its own, "$" amounts are compared
with money, "%" with percentages, and a bare number with any figure (the second end of "$35,967–38,107").
Dates ("Nov 26", "November 1–20, 2026", "2026-11-26") must be dates of the facts and a year must be one of the
period's. Whole numbers 0–10 without "$" or "%" count things ("two budgets", "top 3") and always pass; digits
inside names ("claude-opus-4-1", "gpt-4o", "Q4") are not numbers; "$1" (for every $1 spent) and "80%" (the
forecast range) always pass. Numbers written as words ("twenty") are not read.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from core.money import MICROS_PER_USD, format_percent, format_usd, from_micros
from insights.budgets import percent
from insights.facts import BudgetFact, Driver, Range, ReportFacts, SpikeFact
from insights.roi import PnlRow

MAX_INSIGHTS = 6
MIN_INSIGHTS = 3
COUNTING_MAX = 10  # bare whole numbers up to this count things and need no fact
RANGE_CONFIDENCE = 80  # the forecasts' range, in percent
MAX_WORDS = 450  # a summary is 2–4 short paragraphs; a draft far beyond that is not one
MAX_PARAGRAPHS = 6
_WHOLE_DOLLARS_FROM = 100 * MICROS_PER_USD  # "$1,234" in a sentence, but "$12.50"
_UNNAMED = ("Unallocated", "Other", "")
_KIND_CAP = {"change": 2, "budget": 3, "spike": 2, "saving": 2, "realised": 1, "roi": 2, "efficiency": 2}
_KIND_ORDER = ("budget", "saving", "realised", "roi", "efficiency", "spike", "change", "context")
_COUNT_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_GERUNDS = {
    "Move": "Moving", "Send": "Sending", "Cache": "Caching", "Retire": "Retiring", "Switch": "Switching",
    "Use": "Using", "Route": "Routing", "Batch": "Batching", "Cancel": "Cancelling", "Trim": "Trimming",
    "Cap": "Capping", "Cut": "Cutting", "Reduce": "Reducing", "Remove": "Removing", "Shorten": "Shortening",
    "Consolidate": "Consolidating", "Downgrade": "Downgrading", "Turn": "Turning",
}  # fmt: skip

SYSTEM_PROMPT = (
    "You write the executive summary of a company's AI spending for its CEO and CFO.\n"
    "Write 2 to 4 short paragraphs of plain English prose, separated by blank lines: what was spent, what "
    "changed and why; the outlook and any budget in trouble; the return on the spend; what to do next (the "
    "savings). Leave out whatever the facts do not cover.\n"
    "Use ONLY the figures given in the facts, copied exactly as they are written there, with the same rounding "
    "and the same $ and % signs. Never compute a number of your own: no sums, differences, averages, ratios, "
    "percentages or re-rounding. If a figure you would like is not in the facts, make the point without a "
    "number. Do not invent dates, names or causes.\n"
    "No markdown: no headings, no bullet points, no bold, no tables. No greeting, no sign-off, no mention of "
    "these instructions."
)


@dataclass(frozen=True)
class Insight:
    """One sentence worth a CEO's attention, with the dollars it is about (0 for context)."""

    sentence: str
    impact_micros: int  # signed: a fall in spend or a saving is negative where it reads that way
    kind: str  # change | budget | spike | saving | realised | roi | efficiency | context


@dataclass(frozen=True)
class Narrative:
    """The executive summary: who wrote it, and why any LLM draft was refused."""

    paragraphs: tuple[str, ...]
    source: str  # "llm" | "deterministic"
    model: str | None = None
    rejected: tuple[str, ...] = ()  # why LLM drafts were refused

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


# --- words -------------------------------------------------------------------------------------------------


def _usd(micros: int) -> str:
    """A magnitude as the app's sentences write money: whole dollars from $100, cents below."""
    return format_usd(abs(micros), cents=abs(micros) < _WHOLE_DOLLARS_FROM)


def _pct(ratio: Decimal) -> str:
    """A ratio's magnitude as the app shows it ('6.5%'); the sentence says which way it went."""
    return format_percent(abs(ratio)).removeprefix("+")


def _roi_pct(roi: Decimal) -> str:
    return f"{(roi * 100).quantize(Decimal(1), rounding=ROUND_HALF_EVEN):,}%"


def _per_dollar(value_micros: int, cost_micros: int) -> str:
    per = (Decimal(value_micros) / Decimal(cost_micros)).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    return f"${per:,}"


def _day(day: dt.date) -> str:
    return f"{day:%b} {day.day}"


def _span(start: dt.date, end: dt.date) -> str:
    """'Nov 1–20', or 'Nov 1' for a single day (a period never spans two months)."""
    return _day(start) if start == end else f"{_day(start)}–{end.day}"


def _range(value: Range) -> str:
    return f"{_usd(value.lower80)}–{_usd(value.upper80)}"


def _count(n: int) -> str:
    return _COUNT_WORDS[n] if 0 <= n < len(_COUNT_WORDS) else f"{n:,}"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _exact_ratio(part: int, whole: int) -> Decimal | None:
    return None if whole <= 0 else Decimal(part) / Decimal(whole)


def _so_far(facts: ReportFacts) -> str:
    return "so far this month" if facts.period.partial else f"in {facts.period.month:%B}"


def _up_down(micros: int) -> str:
    return "up" if micros > 0 else "down"


def _possessive(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def _noun(outcome: str) -> str:
    # "Code review completed" → "code review completed", but "NPS survey" keeps its acronym.
    if len(outcome) > 1 and outcome[0].isupper() and not outcome[1].isupper():
        return outcome[0].lower() + outcome[1:]
    return outcome


def _driver_label(driver: Driver) -> str:
    name = driver.name or "unlabelled"
    return {"project": f"the {name} project", "model": f"the {name} model"}.get(driver.dimension, name)


def _driver_subject(driver: Driver) -> str:
    name = driver.name or "unlabelled"
    return {
        "department": f"{_possessive(name)} AI spend",
        "project": f"AI spend on the {name} project",
        "model": f"Spend on {name}",
        "provider": f"Spend with {name}",
    }.get(driver.dimension, f"Spend on {name}")


def _budget_name(budget: BudgetFact) -> str:
    return "the workspace" if budget.scope == "workspace" else budget.label


def _the_budget(budget: BudgetFact) -> str:
    """'the workspace budget', 'the Marketing budget'."""
    return "the workspace budget" if budget.scope == "workspace" else f"the {budget.label} budget"


def _action(title: str) -> str:
    """A recommendation's title as the subject of a sentence: 'Move x to y' → 'Moving x to y'."""
    if title.startswith("Stop paying for "):
        return "Ending the payments for " + title.removeprefix("Stop paying for ")
    first, _, rest = title.partition(" ")
    if first in _GERUNDS:
        return f"{_GERUNDS[first]} {rest}"
    return f"The recommendation to {title[:1].lower()}{title[1:]}"


def _spike_clause(spike: SpikeFact) -> str:
    subject = spike.subject or "AI spend"
    first, _, rest = subject.partition(" ")
    if first in ("Project", "Model") and rest:
        subject = f"{first.lower()} {rest}"
    clause = (
        f"{subject} spent {_usd(spike.actual_micros)} on {_day(spike.day)}, {_usd(spike.impact_micros)} more than "
        f"the usual {_usd(spike.expected_micros)}"
    )
    return clause + (f", mostly on {spike.driver}" if spike.driver else "")


def _efficiency_outcomes(facts: ReportFacts, department: str, cost_per_outcome: int) -> int:
    """How many outcomes the department's cost bought at its cost per outcome (the efficiency frame's count)."""
    if facts.roi is None or cost_per_outcome <= 0:
        return 0
    row = next((r for r in facts.roi.pnl if r.department == department and not r.is_total), None)
    return 0 if row is None else round(Decimal(row.cost_micros) / Decimal(cost_per_outcome))


# --- insights ----------------------------------------------------------------------------------------------


def _change_insights(facts: ReportFacts) -> list[Insight]:
    comparison = facts.period.comparison_label
    out = []
    for driver in facts.drivers:
        subject = _driver_subject(driver)
        if driver.previous_micros == 0:
            sentence = (
                f"{subject} is new {_so_far(facts)}: {_usd(driver.current_micros)}, against nothing in {comparison}."
            )
        elif driver.current_micros == 0:
            sentence = f"{subject} stopped {_so_far(facts)}, against {_usd(driver.previous_micros)} in {comparison}."
        else:
            ratio = _exact_ratio(driver.change_micros, driver.previous_micros) or Decimal(0)
            verb = "rose" if driver.change_micros > 0 else "fell"
            sentence = f"{subject} {verb} {_usd(driver.change_micros)} ({_pct(ratio)}) compared with {comparison}."
        out.append(Insight(sentence, driver.change_micros, "change"))
    return out


def _budget_insight(budget: BudgetFact, facts: ReportFacts) -> Insight | None:
    name = _capital(_budget_name(budget))
    limit, spent = _usd(budget.amount_micros), _usd(budget.spent_micros)
    projected = budget.projected.median if budget.projected is not None else None
    if budget.state == "over" and (projected is None or not facts.period.partial):
        overrun = budget.spent_micros - budget.amount_micros
        return Insight(
            f"{name} went over its {limit} budget in {facts.period.label}: {spent} spent, {_usd(overrun)} over.",
            overrun,
            "budget",
        )
    if budget.state == "over" and projected is not None:
        overrun = max(projected, budget.spent_micros) - budget.amount_micros
        since = f" since {_day(budget.exceed_date)}" if budget.exceed_date else ""
        return Insight(
            f"{name} has been over its {limit} budget{since}, with {spent} spent, and is heading for "
            f"{_usd(max(projected, budget.spent_micros))} by month end, {_usd(overrun)} over.",
            overrun,
            "budget",
        )
    if budget.state == "overrun_predicted" and projected is not None:
        overrun = projected - budget.amount_micros
        on = f" on {_day(budget.exceed_date)}" if budget.exceed_date else " before month end"
        return Insight(
            f"{name} is on track to exceed its {limit} budget{on} and to end the month near {_usd(projected)}, "
            f"{_usd(overrun)} over.",
            overrun,
            "budget",
        )
    if budget.state == "at_risk" and budget.projected is not None:
        exposure = max(budget.projected.upper80 - budget.amount_micros, 0)
        return Insight(
            f"{name} should stay within its {limit} budget ({_usd(budget.projected.median)} projected), but it "
            "could exceed it by month end.",
            exposure,
            "budget",
        )
    return None


def _roi_insights(facts: ReportFacts) -> list[Insight]:
    roi = facts.roi
    if roi is None or roi.cost_micros <= 0:
        return []
    out = []
    if roi.net_micros >= 0 and roi.value_micros > 0:
        out.append(
            Insight(
                f"AI returned {_per_dollar(roi.value_micros, roi.cost_micros)} of value for every $1 spent "
                f"{_so_far(facts)}: {_usd(roi.value_micros)} from {_usd(roi.cost_micros)} of spend.",
                roi.net_micros,
                "roi",
            )
        )
    else:
        out.append(
            Insight(
                f"AI cost {_usd(roi.net_micros)} more than the value it created {_so_far(facts)} "
                f"({_usd(roi.value_micros)} of value from {_usd(roi.cost_micros)} of spend).",
                roi.net_micros,
                "roi",
            )
        )
    losses = [row for row in roi.pnl if not row.is_total and row.net_micros < 0 and row.cost_micros > 0]
    if losses and len([row for row in roi.pnl if not row.is_total]) > 1:
        worst = min(losses, key=lambda row: (row.net_micros, row.department))
        out.append(
            Insight(
                f"{_possessive(worst.department)} AI cost {_usd(worst.net_micros)} more than the value it created "
                f"{_so_far(facts)}.",
                worst.net_micros,
                "roi",
            )
        )
    return out


def _efficiency_insights(facts: ReportFacts) -> list[Insight]:
    out = []
    for item in facts.efficiency:
        outcomes = _efficiency_outcomes(facts, item.department, item.cost_per_outcome_micros)
        impact = (item.cost_per_outcome_micros - item.previous_cost_per_outcome_micros) * outcomes
        verb = "fell" if item.change < 0 else "rose"
        out.append(
            Insight(
                f"{_possessive(item.department)} AI cost per {_noun(item.outcome)} {verb} {_pct(item.change)} "
                f"{_so_far(facts)}, from {_usd(item.previous_cost_per_outcome_micros)} to "
                f"{_usd(item.cost_per_outcome_micros)}.",
                impact,
                "efficiency",
            )
        )
    return out


def _context_insights(facts: ReportFacts) -> list[Insight]:
    """Plain statements of where the money went, for when there is little else to say; no dollar impact."""
    out = []
    if facts.total_micros > 0:
        sentence = f"AI spend was {_usd(facts.total_micros)} {_so_far(facts)}"
        if facts.previous_total_micros > 0 and facts.change_micros != 0:
            ratio = _exact_ratio(facts.change_micros, facts.previous_total_micros) or Decimal(0)
            sentence += (
                f", {_up_down(facts.change_micros)} {_usd(facts.change_micros)} ({_pct(ratio)}) compared with "
                f"{facts.period.comparison_label}"
            )
        out.append(Insight(sentence + ".", 0, "context"))
    if facts.departments and facts.departments[0].name not in _UNNAMED:
        top = facts.departments[0]
        out.append(
            Insight(
                f"{top.name} accounted for {_pct(top.share)} of AI spend {_so_far(facts)} ({_usd(top.micros)}).",
                0,
                "context",
            )
        )
    if facts.month_end is not None:
        out.append(
            Insight(
                f"At the current pace the month should close near {_usd(facts.month_end.median)} "
                f"({RANGE_CONFIDENCE}% range {_range(facts.month_end)}).",
                0,
                "context",
            )
        )
    if facts.providers and facts.providers[0].name not in _UNNAMED and len(facts.providers) > 1:
        top = facts.providers[0]
        out.append(Insight(f"{top.name} took {_pct(top.share)} of AI spend {_so_far(facts)}.", 0, "context"))
    return out


def _candidates(facts: ReportFacts) -> list[Insight]:
    found = _change_insights(facts)
    found += [i for i in (_budget_insight(b, facts) for b in facts.budgets if b.at_risk or b.state == "over") if i]
    found += [
        Insight(f"{_capital(_spike_clause(s))}.", s.impact_micros, "spike")
        for s in sorted(facts.spikes, key=lambda s: -s.impact_micros)
    ]
    found += [
        Insight(
            f"{_action(s.title)} would save about {_usd(s.monthly_saving_micros)} a month.",
            s.monthly_saving_micros,
            "saving",
        )
        for s in facts.savings
        if s.monthly_saving_micros > 0
    ]
    if facts.realised_savings_micros > 0:
        found.append(
            Insight(
                f"Changes already adopted are saving {_usd(facts.realised_savings_micros)} a month.",
                facts.realised_savings_micros,
                "realised",
            )
        )
    return found + _roi_insights(facts) + _efficiency_insights(facts)


def _rank_key(insight: Insight) -> tuple[int, int, str]:
    return (-abs(insight.impact_micros), _KIND_ORDER.index(insight.kind), insight.sentence)


def compute_insights(facts: ReportFacts, *, limit: int = MAX_INSIGHTS) -> tuple[Insight, ...]:
    """3–6 one-sentence insights, biggest dollar impact first; fewer only when the facts hold less to say.

    No more than two of a kind (three budgets) while others are waiting, so one story told through a model, its
    project and its department does not fill the feed; context sentences (impact 0) only fill it up to three.
    """
    ranked = sorted(_candidates(facts), key=_rank_key)
    chosen: list[Insight] = []
    held: list[Insight] = []
    for insight in ranked:
        if len(chosen) == limit:
            break
        if sum(1 for c in chosen if c.kind == insight.kind) >= _KIND_CAP.get(insight.kind, limit):
            held.append(insight)
        else:
            chosen.append(insight)
    wanted = min(MIN_INSIGHTS, limit)
    for insight in [*held, *_context_insights(facts)]:
        if len(chosen) >= wanted:
            break
        chosen.append(insight)
    return tuple(sorted(chosen, key=_rank_key))


# --- the deterministic summary -----------------------------------------------------------------------------


def _headline(facts: ReportFacts) -> tuple[str, str]:
    """The spend, its change and its drivers; and where it went."""
    period = facts.period
    comparison = period.comparison_label
    if period.partial:
        opening = (
            f"{facts.workspace_name} has spent {_usd(facts.total_micros)} on AI so far in {period.label} "
            f"({_span(period.start, period.end)})"
        )
    else:
        opening = f"{facts.workspace_name} spent {_usd(facts.total_micros)} on AI in {period.label}"
    ratio = _exact_ratio(facts.change_micros, facts.previous_total_micros)
    if ratio is None:
        opening += f", with no spend in {comparison} to compare it with."
    elif facts.change_micros == 0:
        opening += f", exactly as much as in {comparison}."
    elif abs(ratio) < Decimal("0.01"):
        opening += (
            f", essentially flat compared with {comparison} ({_up_down(facts.change_micros)} "
            f"{_usd(facts.change_micros)}, {_pct(ratio)})."
        )
    else:
        opening += (
            f", {_up_down(facts.change_micros)} {_usd(facts.change_micros)} ({_pct(ratio)}) compared with {comparison}."
        )
    sentences = [opening]
    if facts.drivers and ratio is not None:
        moves = [f"{_driver_label(d)} ({_up_down(d.change_micros)} {_usd(d.change_micros)})" for d in facts.drivers[:3]]
        listed = moves[0] if len(moves) == 1 else f"{', '.join(moves[:-1])} and {moves[-1]}"
        sentences.append(f"The biggest {'move was' if len(moves) == 1 else 'moves were'} {listed}.")
    where = ""
    if facts.departments and facts.departments[0].name not in _UNNAMED:
        top = facts.departments[0]
        where = f"{top.name} was the biggest spender at {_usd(top.micros)} ({_pct(top.share)} of the total)"
        if len(facts.providers) == 1 and facts.providers[0].name not in _UNNAMED:
            where += f", with all of the spend through {facts.providers[0].name}"
        elif facts.providers and facts.providers[0].name not in _UNNAMED:
            provider = facts.providers[0]
            where += f", and {provider.name} the main provider with {_pct(provider.share)}"
        where += "."
    elif facts.providers and facts.providers[0].name not in _UNNAMED:
        provider = facts.providers[0]
        where = f"{provider.name} was the main provider, with {_pct(provider.share)} of the total."
    return " ".join(sentences), where


def _outlook(facts: ReportFacts) -> str:
    if not facts.period.partial or facts.month_end is None:
        return ""
    month = facts.period.month
    text = (
        f"At the current pace {month:%B} should close near {_usd(facts.month_end.median)} "
        f"({RANGE_CONFIDENCE}% range {_range(facts.month_end)})"
    )
    if facts.next_month is not None:
        following = facts.period.month_end + dt.timedelta(days=1)
        text += (
            f", and {following:%B} is forecast at {_usd(facts.next_month.median)} "
            f"({RANGE_CONFIDENCE}% range {_range(facts.next_month)})"
        )
    return text + "."


def _budget_clause(budget: BudgetFact) -> str:
    name, limit = _budget_name(budget), _usd(budget.amount_micros)
    projected = budget.projected
    if budget.state == "over":
        on = f" on {_day(budget.exceed_date)}" if budget.exceed_date else ""
        clause = (
            f"{name} went over its {limit} budget{on} and has spent {_usd(budget.spent_micros)} "
            f"({percent(budget.spent_micros, budget.amount_micros)}%)"
        )
        if projected is not None and projected.median > budget.spent_micros:
            clause += f", heading for {_usd(projected.median)} by month end"
        return clause
    if budget.state == "overrun_predicted":
        on = f" on {_day(budget.exceed_date)}" if budget.exceed_date else " before month end"
        clause = f"{name} is on track to exceed its {limit} budget{on}"
        return clause + (f", ending the month near {_usd(projected.median)}" if projected is not None else "")
    median = f" ({_usd(projected.median)} projected)" if projected is not None else ""
    return f"{name} should stay within its {limit} budget{median} but could exceed it"


def _budgets_in_progress(facts: ReportFacts) -> str:
    budgets, at_risk = facts.budgets, facts.budgets_at_risk
    fine = [b for b in budgets if not b.at_risk]
    if not at_risk:
        lead = next((b for b in budgets if b.scope == "workspace"), budgets[0])
        text = "All budgets are on track" if len(budgets) > 1 else f"{_capital(_the_budget(lead))} is on track"
        if lead.projected is not None:
            text += (
                f": the {_budget_name(lead)} is projected at {_usd(lead.projected.median)} of its "
                f"{_usd(lead.amount_micros)} budget ({percent(lead.projected.median, lead.amount_micros)}%)"
            )
        return text + "."
    clauses = [_budget_clause(b) for b in at_risk]
    listed = clauses[0] if len(clauses) == 1 else f"{'; '.join(clauses[:-1])}; and {clauses[-1]}"
    needs = "budget needs" if len(at_risk) == 1 else "budgets need"
    text = f"{_capital(_count(len(at_risk)))} {needs} attention: {listed}."
    if len(fine) == 1:
        other, projected = fine[0], fine[0].projected
        text += f" {_capital(_the_budget(other))} is on track"
        if projected is not None:
            text += (
                f", with {_usd(projected.median)} projected of {_usd(other.amount_micros)} "
                f"({percent(projected.median, other.amount_micros)}%)"
            )
        text += "."
    elif fine:
        text += f" The other {_count(len(fine))} budgets are on track."
    return text


def _budgets_finished(facts: ReportFacts) -> str:
    over = [b for b in facts.budgets if b.state == "over"]
    held = [b for b in facts.budgets if b.state != "over"]
    if not over:
        if len(held) == 1:
            return f"{_capital(_the_budget(held[0]))} held in {facts.period.label}."
        return f"Every budget held in {facts.period.label}."
    clauses = [
        f"{_budget_name(b)} went over its {_usd(b.amount_micros)} budget ({_usd(b.spent_micros)} spent, "
        f"{percent(b.spent_micros, b.amount_micros)}%)"
        for b in over
    ]
    text = _capital(clauses[0] if len(clauses) == 1 else f"{', '.join(clauses[:-1])} and {clauses[-1]}") + "."
    if len(held) == 1:
        other = held[0]
        text += (
            f" {_capital(_the_budget(other))} held, at {_usd(other.spent_micros)} of {_usd(other.amount_micros)} "
            f"({percent(other.spent_micros, other.amount_micros)}%)."
        )
    elif held:
        text += f" The other {_count(len(held))} budgets held."
    return text


def _spikes(facts: ReportFacts) -> str:
    if not facts.spikes:
        return ""
    biggest = max(facts.spikes, key=lambda s: (s.impact_micros, s.day))
    tense = "stands" if facts.period.partial else "stood"
    if len(facts.spikes) == 1:
        return f"One unusual day {tense} out: {_spike_clause(biggest)}."
    return f"{_capital(_count(len(facts.spikes)))} unusual days {tense} out; the biggest: {_spike_clause(biggest)}."


def _best(rows: Sequence[PnlRow]) -> PnlRow | None:
    departments = [r for r in rows if not r.is_total and r.department not in _UNNAMED]
    return departments[0] if departments and departments[0].net_micros > 0 else None


def _return(facts: ReportFacts) -> str:
    roi = facts.roi
    if roi is None or roi.cost_micros <= 0:
        return ""
    several = roi.outcomes != 1
    outcomes = f"The {roi.outcomes:,} business outcomes" if several else "The one business outcome"
    are = ("are" if several else "is") if facts.period.partial else ("were" if several else "was")
    when = _so_far(facts)
    if roi.value_micros <= 0:
        sentences = [f"No business value was recorded {when} against {_usd(roi.cost_micros)} of AI spend."]
    elif roi.net_micros >= 0:
        ratio = f"an ROI of {_roi_pct(roi.roi)}, or " if roi.roi is not None else ""
        sentences = [
            f"{outcomes} recorded {when} {are} worth {_usd(roi.value_micros)} against "
            f"{_usd(roi.cost_micros)} of AI spend: {_usd(roi.net_micros)} net, {ratio}"
            f"{_per_dollar(roi.value_micros, roi.cost_micros)} of value for every $1 spent."
        ]
    else:
        sentences = [
            f"{outcomes} recorded {when} {are} worth {_usd(roi.value_micros)}, "
            f"{_usd(roi.net_micros)} less than the {_usd(roi.cost_micros)} spent on AI."
        ]
    best = _best(roi.pnl)
    if best is not None:
        detail = f" (ROI {_roi_pct(best.roi)})" if best.roi is not None else ""
        sentences.append(f"{best.department} created the most, {_usd(best.net_micros)} net{detail}.")
    losses = sorted(
        (r for r in roi.pnl if not r.is_total and r.net_micros < 0 and r.cost_micros > 0),
        key=lambda r: (r.net_micros, r.department),
    )
    if losses and len([r for r in roi.pnl if not r.is_total]) > 1:
        worst = losses[0]
        text = f"{worst.department} cost {_usd(worst.net_micros)} more than the value it created"
        if len(losses) > 1:
            others = len(losses) - 1
            text += f", and {_count(others)} other {'department' if others == 1 else 'departments'} also lost money"
        sentences.append(text + ".")
    if facts.efficiency:
        item = facts.efficiency[0]
        verb = "fell" if item.change < 0 else "rose"
        sentences.append(
            f"{_possessive(item.department)} cost per {_noun(item.outcome)} {verb} {_pct(item.change)}, from "
            f"{_usd(item.previous_cost_per_outcome_micros)} to {_usd(item.cost_per_outcome_micros)}."
        )
    return " ".join(sentences)


def _savings(facts: ReportFacts) -> str:
    sentences = []
    if facts.savings:
        top = facts.savings[0]
        action = _action(top.title)
        action = action[:1].lower() + action[1:]
        if len(facts.savings) > 1 or facts.savings_total_micros > top.monthly_saving_micros:
            sentences.append(
                f"Open recommendations could save {_usd(facts.savings_total_micros)} a month. The largest is "
                f"{action}, worth about {_usd(top.monthly_saving_micros)} a month ({top.confidence} confidence)."
            )
        else:
            sentences.append(
                f"One open recommendation could save about {_usd(top.monthly_saving_micros)} a month: {action} "
                f"({top.confidence} confidence)."
            )
    if facts.realised_savings_micros > 0:
        sentences.append(f"Changes already adopted are saving {_usd(facts.realised_savings_micros)} a month.")
    return " ".join(sentences)


def deterministic_summary(facts: ReportFacts) -> Narrative:
    """The executive summary written from the facts: headline, outlook and budgets, return, savings.

    Each part is there only when its facts are; every figure is one ``check_grounding`` accepts.
    """
    period = facts.period
    if not facts.has_spend:
        when = f"so far in {period.label}" if period.partial else f"in {period.label}"
        return Narrative(
            (f"{facts.workspace_name} recorded no AI spend {when}, nor in {period.comparison_label}.",),
            "deterministic",
        )
    headline, where = _headline(facts)
    budgets = ""
    if facts.budgets:
        budgets = _budgets_in_progress(facts) if period.partial else _budgets_finished(facts)
    watch = " ".join(part for part in (_outlook(facts), budgets, _spikes(facts)) if part)
    rest = [part for part in (watch, _return(facts), _savings(facts)) if part]
    if not rest and where:  # the spend alone: what changed, then where it went
        return Narrative((headline, where), "deterministic")
    return Narrative((f"{headline} {where}".strip(), *rest), "deterministic")


# --- the prompt ----------------------------------------------------------------------------------------------


def _share_line(label: str, shares: Iterable[tuple[str, int, Decimal]]) -> str:
    return f"{label}: " + "; ".join(f"{name} {_usd(micros)} ({_pct(share)})" for name, micros, share in shares)


def _budget_line(budget: BudgetFact, partial: bool) -> str:
    state = {
        "over": "over budget" + (f" since {_day(budget.exceed_date)}" if budget.exceed_date else ""),
        "overrun_predicted": "predicted to exceed it"
        + (f" on {_day(budget.exceed_date)}" if budget.exceed_date else " before month end"),
        "at_risk": "likely to stay within it, but could exceed it",
        "on_track": "on track",
        "within": "stayed within it",
    }.get(budget.state, budget.state)
    line = (
        f"- {_capital(_budget_name(budget))} budget {_usd(budget.amount_micros)}: {state}; spent "
        f"{_usd(budget.spent_micros)} ({percent(budget.spent_micros, budget.amount_micros)}%)"
    )
    if budget.state == "over" and not partial:
        line += f", {_usd(budget.spent_micros - budget.amount_micros)} over"
    projected = budget.projected
    if partial and projected is not None:
        line += (
            f"; projected month end {_usd(projected.median)} ({percent(projected.median, budget.amount_micros)}%, "
            f"{RANGE_CONFIDENCE}% range {_range(projected)})"
        )
        if projected.median > budget.amount_micros:
            line += f", {_usd(projected.median - budget.amount_micros)} over"
    return line


def _fact_lines(facts: ReportFacts) -> list[str]:
    period = facts.period
    lines = [
        f"Workspace: {facts.workspace_name}",
        f"Period: {period.label}, {_span(period.start, period.end)}"
        + (f" (month in progress, {period.days} day{'s' if period.days > 1 else ''} so far)" if period.partial else ""),
        f"Compared with: {period.comparison_label} ({_span(period.previous_start, period.previous_end)})",
        f"AI spend in the period: {_usd(facts.total_micros)}",
        f"AI spend in the compared period: {_usd(facts.previous_total_micros)}",
    ]
    ratio = _exact_ratio(facts.change_micros, facts.previous_total_micros)
    if ratio is not None:
        change = (
            "no change" if facts.change_micros == 0 else f"{_up_down(facts.change_micros)} {_usd(facts.change_micros)}"
        )
        lines.append(f"Change: {change} ({_pct(ratio)})")
    if facts.drivers:
        lines.append("Biggest moves against the compared period:")
        for d in facts.drivers:
            moved = _exact_ratio(d.change_micros, d.previous_micros)
            share = f" ({_pct(moved)})" if moved is not None else ""
            lines.append(
                f"- {_driver_label(d)}: {_up_down(d.change_micros)} {_usd(d.change_micros)}{share}, from "
                f"{_usd(d.previous_micros)} to {_usd(d.current_micros)}"
            )
    for label, shares in (
        ("Spend by department", facts.departments),
        ("Spend by provider", facts.providers),
        ("Spend by model", facts.models),
    ):
        if shares:
            lines.append(_share_line(label, ((s.name, s.micros, s.share) for s in shares)))
    if period.partial and facts.month_end is not None:
        lines.append(
            f"Month-end forecast: {_usd(facts.month_end.median)} ({RANGE_CONFIDENCE}% range {_range(facts.month_end)})"
        )
        if facts.next_month is not None:
            following = period.month_end + dt.timedelta(days=1)
            lines.append(
                f"{following:%B} forecast: {_usd(facts.next_month.median)} "
                f"({RANGE_CONFIDENCE}% range {_range(facts.next_month)})"
            )
    if facts.budgets:
        lines.append("Budgets (monthly):")
        lines += [_budget_line(b, period.partial) for b in facts.budgets]
    if facts.spikes:
        lines.append("Unusual days:")
        lines += [f"- {_capital(_spike_clause(s))}" for s in facts.spikes]
    roi = facts.roi
    if roi is not None:
        lines.append("Return on AI spend:")
        total = (
            f"- {roi.outcomes:,} business outcomes worth {_usd(roi.value_micros)}; AI cost {_usd(roi.cost_micros)}; "
            f"net {'-' if roi.net_micros < 0 else ''}{_usd(roi.net_micros)}"
        )
        if roi.roi is not None:
            total += f"; ROI {_roi_pct(roi.roi)}"
        if roi.cost_micros > 0 and roi.value_micros > 0:
            total += f"; {_per_dollar(roi.value_micros, roi.cost_micros)} of value for every $1 spent"
        lines.append(total)
        for row in roi.pnl:
            if row.is_total:
                continue
            detail = f", ROI {_roi_pct(row.roi)}" if row.roi is not None else ""
            lines.append(
                f"- {row.department}: value {_usd(row.value_micros)}, cost {_usd(row.cost_micros)}, net "
                f"{'-' if row.net_micros < 0 else ''}{_usd(row.net_micros)}{detail}, {row.outcomes:,} outcomes"
            )
    if facts.efficiency:
        lines.append("Cost per outcome:")
        for item in facts.efficiency:
            verb = "fell" if item.change < 0 else "rose"
            lines.append(
                f"- {_possessive(item.department)} cost per {_noun(item.outcome)} {verb} {_pct(item.change)}, from "
                f"{_usd(item.previous_cost_per_outcome_micros)} to {_usd(item.cost_per_outcome_micros)}"
            )
    if facts.savings or facts.realised_savings_micros:
        lines.append("Savings:")
        if facts.savings:
            lines.append(f"- Open recommendations in total: {_usd(facts.savings_total_micros)} a month")
            lines += [
                f"- {s.title}: {_usd(s.monthly_saving_micros)} a month ({s.confidence} confidence)"
                for s in facts.savings
            ]
        if facts.realised_savings_micros:
            lines.append(f"- Changes already adopted save {_usd(facts.realised_savings_micros)} a month")
    return lines


def build_messages(facts: ReportFacts, insights: Sequence[Insight] = ()) -> list[dict[str, str]]:
    """The system and user messages asking an LLM for the summary; every figure in them is already formatted."""
    lines = _fact_lines(facts)
    if insights:
        lines.append("Insights shown beside the summary, biggest dollar impact first:")
        lines += [f"- {i.sentence}" for i in insights]
    user = (
        f"Facts about {_possessive(facts.workspace_name)} AI spending, {facts.period.label}. Use only these figures, "
        "exactly as written:\n" + "\n".join(lines) + "\n\nWrite the executive summary."
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


# --- grounding -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """A value the text may state: dollars ("usd"), percent points ("percent"), a count or multiple ("number"),
    a calendar day ("date") or a year ("year")."""

    kind: str
    value: Decimal | dt.date


class _Figures:
    def __init__(self) -> None:
        self.found: set[Figure] = set()

    def usd(self, *micros: int | None) -> None:
        self.found.update(Figure("usd", abs(from_micros(m))) for m in micros if m is not None)

    def ratio(self, *ratios: Decimal | None) -> None:
        self.found.update(Figure("percent", abs(r) * 100) for r in ratios if r is not None)

    def part(self, part: int, whole: int) -> None:
        self.ratio(_exact_ratio(part, whole))

    def number(self, *values: int | Decimal) -> None:
        self.found.update(Figure("number", abs(Decimal(v))) for v in values)

    def date(self, *days: dt.date | None) -> None:
        for day in days:
            if day is not None:
                self.found.update((Figure("date", day), Figure("year", Decimal(day.year))))


def allowed_numbers(facts: ReportFacts) -> set[Figure]:
    """Every value of the facts a text may state, and the values derived from them that the app shows
    (changes and their percentages, shares, budget use and overrun, ROI, value per $1)."""
    f = _Figures()
    period = facts.period
    f.usd(MICROS_PER_USD, facts.total_micros, facts.previous_total_micros, facts.change_micros)
    f.ratio(Decimal(RANGE_CONFIDENCE) / 100, facts.change)
    f.part(facts.change_micros, facts.previous_total_micros)
    f.number(period.days, (period.previous_end - period.previous_start).days + 1)
    f.date(period.start, period.end, period.month_end, period.previous_start, period.previous_end, facts.generated_on)
    following = period.month_end + dt.timedelta(days=1)
    f.found.add(Figure("year", Decimal(following.year)))
    for d in facts.drivers:
        f.usd(d.current_micros, d.previous_micros, d.change_micros)
        f.ratio(d.change)
        f.part(d.change_micros, d.previous_micros)
    for shares in (facts.departments, facts.providers, facts.models):
        for s in shares:
            f.usd(s.micros)
            f.ratio(s.share)
            f.part(s.micros, facts.total_micros)
    for r in (facts.month_end, facts.next_month):
        if r is not None:
            f.usd(r.median, r.lower80, r.upper80)
    for b in facts.budgets:
        f.usd(b.amount_micros, b.spent_micros, b.spent_micros - b.amount_micros)
        f.part(b.spent_micros, b.amount_micros)
        if b.projected is not None:
            p = b.projected
            f.usd(
                p.median,
                p.lower80,
                p.upper80,
                p.median - b.amount_micros,
                max(p.median, b.spent_micros) - b.amount_micros,
            )
            f.part(p.median, b.amount_micros)
        f.date(b.exceed_date)
    for spike in facts.spikes:
        f.usd(spike.actual_micros, spike.expected_micros, spike.impact_micros)
        f.date(spike.day)
    if facts.roi is not None:
        for row in facts.roi.pnl:
            f.usd(row.cost_micros, row.value_micros, row.net_micros, row.cost_per_outcome_micros, row.net_change_micros)
            f.ratio(row.roi)
            f.number(row.outcomes, *([row.roi] if row.roi is not None else []))
            if row.cost_micros > 0:
                per = Decimal(row.value_micros) / Decimal(row.cost_micros)
                f.usd(int(per * MICROS_PER_USD))
                f.number(per)
        f.usd(facts.roi.cost_micros, facts.roi.value_micros, facts.roi.net_micros)
        f.ratio(facts.roi.roi)
        f.number(facts.roi.outcomes, *([facts.roi.roi] if facts.roi.roi is not None else []))
    for item in facts.efficiency:
        f.usd(item.previous_cost_per_outcome_micros, item.cost_per_outcome_micros)
        f.ratio(item.change)
    for saving in facts.savings:
        f.usd(saving.monthly_saving_micros)
        f.number(*(_plain(n) for n in _TITLE_NUMBER.findall(_blank_identifiers(saving.title))))
    f.usd(facts.savings_total_micros, facts.realised_savings_micros)
    f.number(len(facts.budgets), len(facts.budgets_at_risk), len(facts.spikes), len(facts.savings))
    return f.found


_MONTH_NUMBERS = {name: i for i, name in enumerate(calendar.month_name) if name}
_MONTH_NUMBERS |= {name: i for i, name in enumerate(calendar.month_abbr) if name} | {"Sept": 9}
_MONTH = "|".join(sorted(_MONTH_NUMBERS, key=len, reverse=True))
_SUFFIX = r"(?:st|nd|rd|th)?"
_ISO_DATE = re.compile(r"(?<![\w-])(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})(?![\w-])")
_MONTH_DAY = re.compile(
    rf"\b(?P<m>{_MONTH})\.?\s+(?P<d>\d{{1,2}})(?!\d){_SUFFIX}"
    rf"(?:\s*(?:–|—|-|to|through)\s*(?:(?P<m2>{_MONTH})\.?\s+)?(?P<d2>\d{{1,2}})(?![\d,]\d){_SUFFIX})?"
    r"(?:,?\s+(?P<y>\d{4}))?(?![\d.,]\d)"
)
_DAY_MONTH = re.compile(rf"(?<![\w.,$])(?P<d>\d{{1,2}}){_SUFFIX}\s+(?:of\s+)?(?P<m>{_MONTH})\b(?:,?\s+(?P<y>\d{{4}}))?")
_MONTH_YEAR = re.compile(rf"\b(?P<m>{_MONTH})\.?,?\s+(?P<y>\d{{4}})(?!\d)")
# A word mixing letters and digits is a name ("gpt-4o", "o3-mini", "v1:0", "Q4"), unless it is an amount with
# its scale or an ordinal ("12.3k", "4.6x", "3rd").
_WORD = re.compile(r"[A-Za-z0-9_][\w.:/-]*[\w]|[A-Za-z0-9]")
_AMOUNT_WORD = re.compile(r"\d[\d,]*(?:\.\d+)?(?:k|K|M|B|bn|mn|x|st|nd|rd|th)")
_NUMBER = re.compile(
    r"(?P<currency>\$\s?)?(?P<digits>\d{1,3}(?:,\d{3})+|\d+)(?P<decimals>\.\d+)?"
    r"(?P<scale>\s?(?:k|K|thousand|M|mn|million|B|bn|billion)(?![A-Za-z]))?"
    r"(?P<percent>\s?(?:%|percent(?![A-Za-z])|per\s?cent(?![A-Za-z])))?"
    r"(?P<suffix>x(?![A-Za-z])|×|st\b|nd\b|rd\b|th\b)?"
)
_TITLE_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?![\w])")
_SCALES = {"k": 3, "thousand": 3, "m": 6, "mn": 6, "million": 6, "b": 9, "bn": 9, "billion": 9}


def _plain(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def _blank_identifiers(text: str) -> str:
    for match in reversed(list(_WORD.finditer(text))):
        word = match.group(0)
        if any(c.isdigit() for c in word) and any(c.isalpha() for c in word) and not _AMOUNT_WORD.fullmatch(word):
            text = _blank(text, match.start(), match.end())
    return text


def _names(facts: ReportFacts) -> list[str]:
    """Names of the facts with digits in them, longest first, so their digits are not read as numbers."""
    names = {facts.workspace_name, *(d.name for d in facts.drivers), *(b.label for b in facts.budgets)}
    for shares in (facts.departments, facts.providers, facts.models):
        names.update(s.name for s in shares)
    for spike in facts.spikes:
        names.update((spike.subject, spike.driver))
    names.update(s.title for s in facts.savings)
    names.update(name for item in facts.efficiency for name in (item.department, item.outcome))
    if facts.roi is not None:
        names.update(row.department for row in facts.roi.pnl)
    return sorted((n for n in names if any(c.isdigit() for c in n)), key=len, reverse=True)


def _strip_names(text: str, facts: ReportFacts) -> str:
    for name in _names(facts):
        pattern = re.compile(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", re.IGNORECASE)
        text = pattern.sub(lambda m: " " * len(m.group(0)), text)
    return text


def _date_ok(month: str, day: str, year: str | None, dates: set[dt.date]) -> bool:
    number = _MONTH_NUMBERS[month]
    if year is not None:
        try:
            return dt.date(int(year), number, int(day)) in dates
        except ValueError:
            return False
    return any(d.month == number and d.day == int(day) for d in dates)


def _check_dates(text: str, dates: set[dt.date], years: set[Decimal]) -> tuple[str, list[str]]:
    """Dates checked and blanked out, so their day and year are not read again as numbers."""
    bad: list[str] = []
    for match in list(_ISO_DATE.finditer(text)):
        try:
            ok = dt.date(int(match["y"]), int(match["m"]), int(match["d"])) in dates
        except ValueError:
            ok = False
        if not ok:
            bad.append(match.group(0))
        text = _blank(text, match.start(), match.end())
    for match in list(_MONTH_DAY.finditer(text)):
        ok = _date_ok(match["m"], match["d"], match["y"], dates)
        if match["d2"] is not None:
            ok = ok and _date_ok(match["m2"] or match["m"], match["d2"], match["y"], dates)
        if match["y"] is not None:
            ok = ok and Decimal(match["y"]) in years
        if not ok:
            bad.append(match.group(0).strip())
        text = _blank(text, match.start(), match.end())
    for match in list(_DAY_MONTH.finditer(text)):
        if not _date_ok(match["m"], match["d"], match["y"], dates):
            bad.append(match.group(0).strip())
        text = _blank(text, match.start(), match.end())
    for match in list(_MONTH_YEAR.finditer(text)):
        if Decimal(match["y"]) not in years:
            bad.append(match.group(0).strip())
        text = _blank(text, match.start(), match.end())
    return text, bad


def _matches(value: Decimal, half: Decimal, kinds: Iterable[str], by_kind: dict[str, list[Decimal]]) -> bool:
    return any(abs(fact - value) <= half for kind in kinds for fact in by_kind.get(kind, ()))


def check_grounding(text: str, facts: ReportFacts) -> list[str]:
    """The numbers in ``text`` that no fact rounds to, as written (empty: every number is grounded).

    The rule is the module's docstring's: read at the written precision, signs ignored, dates and years must
    be the facts', bare whole numbers up to ten count things.
    """
    figures = allowed_numbers(facts)
    by_kind: dict[str, list[Decimal]] = {}
    dates: set[dt.date] = set()
    years: set[Decimal] = set()
    for figure in figures:
        if isinstance(figure.value, dt.date):
            dates.add(figure.value)
        elif figure.kind == "year":
            years.add(figure.value)
        else:
            by_kind.setdefault(figure.kind, []).append(figure.value)
    text = text.replace("\u2212", "-").replace("\u00a0", " ").replace("\u202f", " ")
    text = _blank_identifiers(_strip_names(text, facts))
    text, bad = _check_dates(text, dates, years)
    for match in _NUMBER.finditer(text):
        digits, decimals = match["digits"], match["decimals"] or ""
        scale_word = (match["scale"] or "").strip().lower()
        exponent = _SCALES.get(scale_word, 0)
        factor = Decimal(10) ** exponent
        value = _plain(digits + decimals) * factor
        is_percent, suffix = match["percent"] is not None, match["suffix"] or ""
        bare = not (match["currency"] or is_percent or scale_word or decimals or suffix in ("x", "×"))
        if bare and value <= COUNTING_MAX:
            continue  # "two budgets", "top 3", "the 2nd"
        if bare and "," not in digits and value in years:
            continue
        if decimals:
            half = Decimal("0.5") * Decimal(10) ** -(len(decimals) - 1) * factor
        else:
            whole = digits.replace(",", "")
            zeros = 0 if is_percent else min(len(whole) - len(whole.rstrip("0")), max(len(whole) - 2, 0))
            half = Decimal("0.5") * Decimal(10) ** zeros * factor
        if match["currency"]:
            kinds: tuple[str, ...] = ("usd",)
        elif is_percent:
            kinds = ("percent",)
        elif suffix in ("x", "×"):
            kinds = ("number",)
        else:
            kinds = ("usd", "percent", "number")
        if suffix in ("st", "nd", "rd", "th") and any(d.day == value for d in dates):
            continue
        if not _matches(value, half, kinds, by_kind):
            bad.append(match.group(0).strip())
    return list(dict.fromkeys(bad))


def check_draft(text: str, facts: ReportFacts) -> list[str]:
    """Why a draft summary cannot be used (empty: it can): invented numbers, no text, too long, headings."""
    if not text.strip():
        return ["the reply was empty"]
    problems = []
    words = len(text.split())
    paragraphs = len(split_paragraphs(text))
    if words > MAX_WORDS:
        problems.append(f"too long ({words} words; at most {MAX_WORDS})")
    elif paragraphs > MAX_PARAGRAPHS:
        problems.append(f"too many paragraphs ({paragraphs}; at most {MAX_PARAGRAPHS})")
    if re.search(r"^\s{0,3}#{1,6}\s", text, re.MULTILINE):
        problems.append("it used markdown headings")
    invented = check_grounding(text, facts)
    if invented:
        problems.append("invented numbers: " + ", ".join(invented))
    return problems


def split_paragraphs(text: str) -> tuple[str, ...]:
    """Paragraphs at blank lines, each on one line."""
    return tuple(" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip()) if p.strip())
