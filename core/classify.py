"""Provider, service and model from whatever a source calls them: 'openai', 'Amazon Bedrock', 'Vertex AI'..."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# (pattern on vendor/description text, provider, service), most specific first.
_PROVIDERS: tuple[tuple[re.Pattern[str], str, str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), provider, service)
    for pattern, provider, service in (
        (r"azure\s*open\s*ai|azure_ai|\bazure\b.*\b(gpt|openai)|cognitive services", "Azure OpenAI", "Azure OpenAI"),
        (r"bedrock", "AWS Bedrock", "Bedrock"),
        (r"vertex|gemini|google|\bpalm\b|generative language", "Google", "Vertex AI"),
        (r"anthropic|claude", "Anthropic", "API"),
        (r"openai|chatgpt|\bgpt-|\bo[1-4](-mini)?\b|dall-?e|whisper|text-embedding", "OpenAI", "API"),
        (r"mistral|mixtral|codestral", "Mistral", "API"),
        (r"cohere|command-r", "Cohere", "API"),
        (r"groq", "Groq", "API"),
        (r"together", "Together AI", "API"),
        (r"deepseek", "DeepSeek", "API"),
        (r"x\.?ai|grok", "xAI", "API"),
        (r"perplexity|sonar", "Perplexity", "API"),
        (r"fireworks", "Fireworks", "API"),
        (r"replicate", "Replicate", "API"),
        (r"hugging\s*face", "Hugging Face", "API"),
        (r"\baws\b|amazon", "AWS", "AWS"),
        (r"\bazure\b|microsoft", "Azure", "Azure"),
    )
)

# Gateways' provider ids (LiteLLM custom_llm_provider, Helicone provider) → our names.
_ALIASES = {
    "openai": "OpenAI", "text-completion-openai": "OpenAI", "anthropic": "Anthropic", "azure": "Azure OpenAI",
    "azure_ai": "Azure OpenAI", "vertex_ai": "Google", "vertex_ai_beta": "Google", "gemini": "Google",
    "google": "Google", "bedrock": "AWS Bedrock", "bedrock_converse": "AWS Bedrock", "mistral": "Mistral",
    "cohere": "Cohere", "cohere_chat": "Cohere", "groq": "Groq", "together_ai": "Together AI",
    "deepseek": "DeepSeek", "xai": "xAI", "perplexity": "Perplexity", "fireworks_ai": "Fireworks",
}  # fmt: skip

_MODEL_PREFIXES = (
    (re.compile(r"^(gpt-|o\d|chatgpt|text-embedding|dall-e|whisper|tts-|davinci|babbage|omni-|codex)"), "OpenAI"),
    (re.compile(r"^claude"), "Anthropic"),
    (re.compile(r"^(gemini|gemma|palm|text-bison|chat-bison)"), "Google"),
    (re.compile(r"^(mistral|mixtral|codestral|pixtral|ministral)"), "Mistral"),
    (re.compile(r"^(command|embed-english|embed-multilingual)"), "Cohere"),
    (re.compile(r"^deepseek"), "DeepSeek"),
    (re.compile(r"^grok"), "xAI"),
    (re.compile(r"^(llama|meta-llama)"), "Meta"),
)


@dataclass(frozen=True)
class Classified:
    provider: str
    service: str
    model: str


def model_name(text: str) -> str:
    """A model id without a gateway's provider prefix: 'openai/gpt-4o' → 'gpt-4o',
    'anthropic.claude-3-5-sonnet-20240620-v1:0' → 'claude-3-5-sonnet-20240620-v1:0'."""
    text = text.strip()
    if "/" in text:
        text = text.rsplit("/", 1)[1]
    for vendor in ("anthropic.", "us.anthropic.", "eu.anthropic.", "meta.", "mistral.", "cohere.", "amazon."):
        if text.startswith(vendor):
            return text[len(vendor) :]
    return text


@lru_cache(maxsize=4096)
def provider_for_model(model: str) -> str:
    """The company whose model this is, from its name alone ('' when we cannot tell)."""
    name = model_name(model).lower()
    for pattern, provider in _MODEL_PREFIXES:
        if pattern.search(name):
            return provider
    return ""


@lru_cache(maxsize=4096)
def classify(vendor: str = "", description: str = "", model: str = "") -> Classified:
    """Best reading of provider and service from a vendor name, a line description and a model id."""
    vendor_key = vendor.strip().lower()
    if vendor_key in _ALIASES:
        provider = _ALIASES[vendor_key]
        return Classified(provider, _service_for(provider), model_name(model))
    # The most specific pattern wins wherever it appears: vendor 'AWS' with line 'Amazon Bedrock ...' is Bedrock.
    for pattern, provider, service in _PROVIDERS:
        if (vendor and pattern.search(vendor)) or (description and pattern.search(description)):
            return Classified(provider, service, model_name(model))
    by_model = provider_for_model(model) if model else ""
    if by_model:
        return Classified(by_model, "API", model_name(model))
    return Classified(vendor.strip() or "Other", "", model_name(model))


def _service_for(provider: str) -> str:
    return {"Azure OpenAI": "Azure OpenAI", "AWS Bedrock": "Bedrock", "Google": "Vertex AI"}.get(provider, "API")
