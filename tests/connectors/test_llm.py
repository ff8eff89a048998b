"""The LLM summary through the real openai SDK: a MockTransport that speaks the chat.completion shape, and a
real OpenAI-compatible endpoint on loopback."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.llm import LlmConfig, llm_config, write_narrative
from connectors.reporting import load_report_facts
from core import demo, queries
from core.db import make_engine, session_scope, upgrade
from core.money import format_usd, format_usd_short
from core.settings import Settings
from insights.facts import ReportFacts
from insights.narrative import check_grounding, deterministic_summary
from tests.conftest import TODAY
from tests.fakes.http_server import serve

KEY = "sk-test-SECRET-never-shown-0123456789"
BASE_URL = "http://llm.test/v1"
CONFIG = LlmConfig(api_key=KEY, model="gpt-4o-mini", base_url=BASE_URL)
INVENTED = ("$41,200", "23%")


@pytest.fixture(scope="module")
def facts(tmp_path_factory: pytest.TempPathFactory) -> ReportFacts:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('llm') / 'demo.db'}")
    upgrade(engine)
    with session_scope(engine) as session:
        workspace = queries.create_workspace(session, name="Acme AI")
        assert workspace.id is not None
        demo.load_demo(session, workspace_id=workspace.id, today=TODAY)
        loaded = load_report_facts(session, workspace_id=workspace.id, today=TODAY)
    engine.dispose()
    return loaded


def completion(model: str, content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test", "object": "chat.completion", "created": 1_700_000_000, "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 900, "completion_tokens": 120, "total_tokens": 1020},
    }  # fmt: skip


class FakeLLM:
    """Answers each chat completion with the next reply: text, a prepared response, or an exception to raise."""

    def __init__(self, *replies: str | httpx.Response | Exception) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, httpx.Response):
            return reply
        return httpx.Response(200, json=completion(json.loads(request.content)["model"], reply))

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]


def grounded(facts: ReportFacts) -> str:
    """A draft as a model might write it, with the facts' figures in its own choice of their display forms."""
    assert facts.month_end is not None
    return (
        f"Acme AI has spent {format_usd(facts.total_micros, cents=False)} on AI so far this month, in line with "
        "the same 20 days of October, while spending on claude-opus-4-1 fell.\n\n"
        f"November should close near {format_usd_short(facts.month_end.median)}. Data Science went over its "
        "budget on Nov 17 and Marketing is on track to exceed its own on Nov 26.\n"
    )


def invented(facts: ReportFacts) -> str:
    return grounded(facts) + f"\nNext quarter will cost {INVENTED[0]}, {INVENTED[1]} more than this one."


def test_the_invented_figures_are_not_facts(facts: ReportFacts) -> None:
    assert check_grounding(grounded(facts), facts) == []
    assert check_grounding(invented(facts), facts) == list(INVENTED)


def test_a_grounded_reply_is_used(facts: ReportFacts) -> None:
    fake = FakeLLM(grounded(facts))
    narrative = write_narrative(facts, CONFIG, http_client=fake.client())
    assert narrative.source == "llm" and narrative.model == "gpt-4o-mini" and narrative.rejected == ()
    assert narrative.paragraphs == (
        grounded(facts).split("\n\n")[0],
        grounded(facts).split("\n\n")[1].strip(),
    )
    (request,) = fake.requests
    assert request.method == "POST"
    assert str(request.url) == "http://llm.test/v1/chat/completions"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    body = fake.bodies()[0]
    assert body["model"] == "gpt-4o-mini" and body["temperature"] == 0.2
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert f"AI spend in the period: {format_usd(facts.total_micros, cents=False)}" in body["messages"][1]["content"]


def test_invented_numbers_are_sent_back_once_and_a_grounded_retry_is_used(facts: ReportFacts) -> None:
    fake = FakeLLM(invented(facts), grounded(facts))
    narrative = write_narrative(facts, CONFIG, http_client=fake.client())
    assert narrative.source == "llm"
    assert narrative.paragraphs[0].startswith("Acme AI has spent")
    assert narrative.rejected == (f"invented numbers: {INVENTED[0]}, {INVENTED[1]}",)
    first, second = fake.bodies()
    assert len(second["messages"]) == len(first["messages"]) + 2
    assert second["messages"][-2] == {"role": "assistant", "content": invented(facts)}
    correction = second["messages"][-1]
    assert correction["role"] == "user"
    assert f"These numbers are not in the facts: {INVENTED[0]}, {INVENTED[1]}." in correction["content"]


def test_invented_twice_gives_the_summary_written_from_the_facts(
    facts: ReportFacts, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeLLM(invented(facts), invented(facts) + " It will be 99.9% certain.")
    with caplog.at_level(logging.WARNING):
        narrative = write_narrative(facts, CONFIG, http_client=fake.client())
    assert len(fake.requests) == 2
    assert narrative.source == "deterministic" and narrative.model is None
    assert narrative.paragraphs == deterministic_summary(facts).paragraphs
    assert narrative.rejected == (
        f"invented numbers: {INVENTED[0]}, {INVENTED[1]}",
        f"invented numbers: {INVENTED[0]}, {INVENTED[1]}, 99.9%",
    )
    assert "set aside" in caplog.text and KEY not in caplog.text


def test_headings_and_empty_replies_are_retried(facts: ReportFacts) -> None:
    fake = FakeLLM("# Executive summary\n\n" + grounded(facts), "", grounded(facts))
    narrative = write_narrative(facts, CONFIG, http_client=fake.client())
    assert narrative.source == "deterministic"
    assert narrative.rejected == ("it used markdown headings", "the reply was empty")
    assert len(fake.requests) == 2  # one retry, never a third ask
    assert "markdown headings" in fake.bodies()[1]["messages"][-1]["content"]


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (
            httpx.Response(500, json={"error": {"message": "boom"}}),
            "the LLM endpoint answered HTTP 500 (InternalServerError)",
        ),
        (
            httpx.Response(401, json={"error": {"message": f"Incorrect API key provided: {KEY}"}}),
            "the LLM endpoint answered HTTP 401 (AuthenticationError)",
        ),
        (
            httpx.Response(429, json={"error": {"message": "slow down"}}),
            "the LLM endpoint answered HTTP 429 (RateLimitError)",
        ),
        (httpx.ConnectError("connection refused"), "the LLM endpoint could not be reached (APIConnectionError)"),
        (httpx.ReadTimeout("timed out"), "the LLM endpoint could not be reached (APITimeoutError)"),
    ],
    ids=["server-error", "bad-key", "rate-limited", "unreachable", "timeout"],
)
def test_endpoint_failures_give_the_written_summary(
    facts: ReportFacts, reply: httpx.Response | Exception, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeLLM(reply)
    with caplog.at_level(logging.DEBUG):
        narrative = write_narrative(facts, CONFIG, http_client=fake.client())
    assert len(fake.requests) == 1  # no SDK retries, no second ask after a failure
    assert narrative.source == "deterministic"
    assert narrative.paragraphs == deterministic_summary(facts).paragraphs
    assert narrative.rejected == (reason,)
    assert KEY not in caplog.text and KEY not in repr(narrative)


def test_without_an_llm_no_request_is_made(facts: ReportFacts) -> None:
    fake = FakeLLM()
    narrative = write_narrative(facts, None, http_client=fake.client())
    assert narrative == deterministic_summary(facts)
    assert fake.requests == []


def _settings(**llm: str) -> Settings:
    return Settings(database_url="sqlite://", data_dir=Path("data"), cookie_key="x" * 32, **llm)  # type: ignore[arg-type]


def test_llm_config_from_settings() -> None:
    assert llm_config(_settings()) is None
    assert llm_config(_settings(llm_api_key=KEY, llm_model="gpt-4.1-mini")) == LlmConfig(KEY, "gpt-4.1-mini")
    local = llm_config(_settings(llm_base_url="http://127.0.0.1:11434/v1", llm_model="llama3.2"))
    assert local == LlmConfig("not-needed", "llama3.2", "http://127.0.0.1:11434/v1")
    assert KEY not in repr(llm_config(_settings(llm_api_key=KEY)))


def test_a_local_openai_compatible_endpoint(facts: ReportFacts) -> None:
    """A real HTTP server on loopback, reached by the SDK's own client, as a local model server would be."""
    fake = FakeLLM(grounded(facts))
    with serve(fake) as url:
        config = llm_config(_settings(llm_base_url=f"{url}/v1", llm_model="local-model"))
        assert config is not None
        narrative = write_narrative(facts, config)
    assert narrative.source == "llm" and narrative.model == "local-model"
    (request,) = fake.requests
    assert request.url.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer not-needed"
    assert fake.bodies()[0]["model"] == "local-model"
