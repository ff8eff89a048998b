"""Provider, service and model from what sources call them."""

import pytest

from core.classify import classify, model_name, provider_for_model


@pytest.mark.parametrize(
    ("vendor", "description", "model", "expected"),
    [
        ("openai", "", "gpt-4o", ("OpenAI", "API", "gpt-4o")),
        ("OpenAI, L.L.C.", "API usage", "", ("OpenAI", "API", "")),
        ("AWS", "Amazon Bedrock Claude 3.5 Sonnet", "", ("AWS Bedrock", "Bedrock", "")),
        ("Amazon Web Services", "EC2 instance", "", ("AWS", "AWS", "")),
        ("Microsoft", "Azure OpenAI gpt-4o tokens", "", ("Azure OpenAI", "Azure OpenAI", "")),
        ("", "Vertex AI Gemini 2.5 Pro", "", ("Google", "Vertex AI", "")),
        (
            "bedrock",
            "",
            "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0",
            ("AWS Bedrock", "Bedrock", "claude-3-5-sonnet-20240620-v1:0"),
        ),
        ("", "", "claude-sonnet-4-5", ("Anthropic", "API", "claude-sonnet-4-5")),
        ("Acme Consulting", "Prompt workshop", "", ("Acme Consulting", "", "")),
        ("", "", "", ("Other", "", "")),
    ],
)
def test_classify(vendor: str, description: str, model: str, expected: tuple[str, str, str]) -> None:
    result = classify(vendor, description, model)
    assert (result.provider, result.service, result.model) == expected


def test_model_names_lose_gateway_prefixes() -> None:
    assert model_name("openai/gpt-4o") == "gpt-4o"
    assert model_name("us.anthropic.claude-3-haiku") == "claude-3-haiku"
    assert provider_for_model("gemini/gemini-2.5-flash") == "Google"
    assert provider_for_model("my-finetune") == ""
