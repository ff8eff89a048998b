"""The LLM that turns a report's facts into the executive summary: any OpenAI-compatible endpoint (OpenAI, a
gateway, or a local server such as Ollama or vLLM), through the openai SDK.

The model writes; it never computes. A draft stating a number the facts do not hold (or an empty, overlong or
headed one) is sent back once with what was wrong; a second bad draft, or any failure to reach the endpoint,
gives the summary written from the facts, with the reasons kept in ``Narrative.rejected``. The API key is never
logged nor put in a reason.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import httpx
import openai

from core.settings import Settings
from insights.facts import ReportFacts
from insights.narrative import (
    Insight,
    Narrative,
    build_messages,
    check_draft,
    check_grounding,
    compute_insights,
    deterministic_summary,
    split_paragraphs,
)

log = logging.getLogger(__name__)

DEFAULT_MODEL = "gpt-4o-mini"
NO_KEY = "not-needed"  # what a local endpoint without authentication is sent; the SDK insists on some key
TEMPERATURE = 0.2
ATTEMPTS = 2  # the first draft and one retry


@dataclass(frozen=True)
class LlmConfig:
    """Where and how to ask for a summary; ``base_url`` None means OpenAI's own API."""

    api_key: str = field(repr=False)
    model: str
    base_url: str | None = None
    timeout_s: float = 30.0


def llm_config(settings: Settings) -> LlmConfig | None:
    """The configured LLM, or None (no key and no base URL: the deterministic summary)."""
    key, base_url = settings.llm_api_key.strip(), settings.llm_base_url.strip()
    if not key and not base_url:
        return None
    return LlmConfig(
        api_key=key or NO_KEY, model=settings.llm_model.strip() or DEFAULT_MODEL, base_url=base_url or None
    )


def complete(config: LlmConfig, messages: Sequence[dict[str, str]], *, http_client: httpx.Client | None = None) -> str:
    """One chat completion's text ("" when the model said nothing); openai errors propagate."""
    client = openai.OpenAI(
        api_key=config.api_key,
        base_url=config.base_url,
        max_retries=0,
        timeout=config.timeout_s,
        # The SDK's own client is httpx2's; a plain httpx.Client works as well (and is what tests hand in).
        http_client=http_client,  # type: ignore[arg-type]
    )
    try:
        reply = client.chat.completions.create(
            model=config.model,
            messages=[{"role": m["role"], "content": m["content"]} for m in messages],  # type: ignore[misc]
            temperature=TEMPERATURE,
        )
    finally:
        if http_client is None:  # a client handed in belongs to the caller
            client.close()
    if not reply.choices:
        return ""
    return reply.choices[0].message.content or ""


def _failure(error: Exception) -> str:
    """Why the endpoint gave no draft, by kind and status only: provider messages can echo parts of a key."""
    name = type(error).__name__
    if isinstance(error, openai.APIConnectionError):  # includes timeouts
        return f"the LLM endpoint could not be reached ({name})"
    if isinstance(error, openai.APIStatusError):
        return f"the LLM endpoint answered HTTP {error.status_code} ({name})"
    return f"the LLM call failed ({name})"


def _correction(problems: Sequence[str], invented: Sequence[str]) -> str:
    text = "That summary cannot be used: " + "; ".join(problems) + "."
    if invented:
        text += (
            f" These numbers are not in the facts: {', '.join(invented)}. Do not state them, and do not work out "
            "new numbers; use only the figures listed in the facts, exactly as written."
        )
    return text + " Write the executive summary again: 2 to 4 short paragraphs, plain prose, no headings."


def write_narrative(
    facts: ReportFacts,
    config: LlmConfig | None,
    *,
    insights: Sequence[Insight] | None = None,
    http_client: httpx.Client | None = None,
) -> Narrative:
    """The executive summary: by the configured LLM when its draft is grounded in the facts, else written from them."""
    fallback = deterministic_summary(facts)
    if config is None:
        return fallback
    messages = build_messages(facts, compute_insights(facts) if insights is None else insights)
    rejected: list[str] = []
    for _ in range(ATTEMPTS):
        try:
            draft = complete(config, messages, http_client=http_client)
        except (openai.OpenAIError, httpx.HTTPError) as error:
            rejected.append(_failure(error))
            break
        problems = check_draft(draft, facts)
        if not problems:
            return Narrative(split_paragraphs(draft), "llm", model=config.model, rejected=tuple(rejected))
        rejected.extend(problems)
        invented = check_grounding(draft, facts) if draft.strip() else []
        messages = [
            *messages,
            {"role": "assistant", "content": draft},
            {"role": "user", "content": _correction(problems, invented)},
        ]
    log.warning("LLM summary by %s set aside for the written-from-facts one: %s", config.model, "; ".join(rejected))
    return replace(fallback, rejected=tuple(rejected))
