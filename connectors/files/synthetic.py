"""Synthetic gateway exports for benchmarks: LiteLLM spend-log CSVs and Helicone export-tool CSVs.

Rows look like the real thing (a few dozen OpenAI/Anthropic/Google models, 90 days, a few hundred users,
teams and customers, float spend such as 0.000054999999999999995) and are built with numpy, so a million rows
take a few seconds. Keys, teams and customers are tied to each other the way they are in real traffic (a key
belongs to a team and calls a few models for a set of customers), so a day rolls up to a few thousand charges
rather than one per request.

`profile="benchmark"` keeps the columns our parsers read, with compact values, so 1,000,000 rows stay under
the 200 MB import limit; `profile="full"` writes every column the real export has (about twice the size).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

# (custom_llm_provider, model as logged, model_group, $ per million input tokens, $ per million output tokens)
MODELS: tuple[tuple[str, str, str, float, float], ...] = (
    ("openai", "gpt-4o-2024-08-06", "gpt-4o", 2.5, 10.0),
    ("openai", "gpt-4o-mini-2024-07-18", "gpt-4o-mini", 0.15, 0.6),
    ("openai", "gpt-4.1-2025-04-14", "gpt-4.1", 2.0, 8.0),
    ("openai", "gpt-4.1-mini-2025-04-14", "gpt-4.1-mini", 0.4, 1.6),
    ("openai", "gpt-4.1-nano-2025-04-14", "gpt-4.1-nano", 0.1, 0.4),
    ("openai", "o3-mini-2025-01-31", "o3-mini", 1.1, 4.4),
    ("openai", "o4-mini-2025-04-16", "o4-mini", 1.1, 4.4),
    ("openai", "o3-2025-04-16", "o3", 2.0, 8.0),
    ("openai", "gpt-5-2025-08-07", "gpt-5", 1.25, 10.0),
    ("openai", "gpt-5-mini-2025-08-07", "gpt-5-mini", 0.25, 2.0),
    ("openai", "gpt-5-nano-2025-08-07", "gpt-5-nano", 0.05, 0.4),
    ("openai", "text-embedding-3-small", "embeddings-small", 0.02, 0.0),
    ("openai", "text-embedding-3-large", "embeddings-large", 0.13, 0.0),
    ("azure", "azure/gpt-4o", "gpt-4o-azure", 2.5, 10.0),
    ("azure", "azure/gpt-4o-mini", "gpt-4o-mini-azure", 0.15, 0.6),
    ("anthropic", "claude-3-5-haiku-20241022", "claude-haiku-3-5", 0.8, 4.0),
    ("anthropic", "claude-3-7-sonnet-20250219", "claude-sonnet-3-7", 3.0, 15.0),
    ("anthropic", "claude-sonnet-4-20250514", "claude-sonnet-4", 3.0, 15.0),
    ("anthropic", "claude-opus-4-20250514", "claude-opus-4", 15.0, 75.0),
    ("anthropic", "claude-opus-4-1-20250805", "claude-opus-4-1", 15.0, 75.0),
    ("anthropic", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5", 3.0, 15.0),
    ("anthropic", "claude-haiku-4-5-20251001", "claude-haiku-4-5", 1.0, 5.0),
    ("bedrock", "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0", "claude-bedrock", 3.0, 15.0),
    ("gemini", "gemini/gemini-2.0-flash", "gemini-2.0-flash", 0.1, 0.4),
    ("gemini", "gemini/gemini-2.0-flash-lite", "gemini-2.0-flash-lite", 0.075, 0.3),
    ("gemini", "gemini/gemini-2.5-flash", "gemini-2.5-flash", 0.3, 2.5),
    ("gemini", "gemini/gemini-2.5-flash-lite", "gemini-2.5-flash-lite", 0.1, 0.4),
    ("gemini", "gemini/gemini-2.5-pro", "gemini-2.5-pro", 1.25, 10.0),
    ("vertex_ai", "vertex_ai/gemini-1.5-pro-002", "gemini-1.5-pro", 1.25, 5.0),
    ("vertex_ai", "vertex_ai/gemini-2.5-pro", "gemini-2.5-pro-vertex", 1.25, 10.0),
    ("vertex_ai", "vertex_ai/text-embedding-005", "embeddings-google", 0.025, 0.0),
)
# Helicone's provider names for the same providers.
HELICONE_PROVIDERS = {
    "openai": "OPENAI", "azure": "AZURE", "anthropic": "ANTHROPIC", "bedrock": "AWS", "gemini": "GOOGLE",
    "vertex_ai": "GOOGLE",
}  # fmt: skip
TEAMS = 24
KEYS = 120
USERS = 300
CUSTOMERS = 400
DAYS = 90
TAG_SETS = ("[]", '["prod"]', '["prod", "chat"]', '["prod", "batch"]', '["staging"]', '["prod", "search"]')
FEATURES = ("chat", "search", "summarise", "classify", "extract", "agent", "embeddings", "translate")
PROFILES = ("benchmark", "full")


def _world(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Who exists: keys belong to teams and call a few models; each key serves a slice of the customers."""
    key_team = rng.integers(0, TEAMS, KEYS)
    key_models = np.stack([rng.choice(len(MODELS), 3, replace=False) for _ in range(KEYS)])
    key_customers = rng.integers(0, CUSTOMERS, (KEYS, 5))
    key_user = rng.integers(0, USERS, KEYS)
    key_tags = rng.integers(0, len(TAG_SETS), KEYS)
    key_feature = rng.integers(0, len(FEATURES), KEYS)
    weights = 1.0 / np.arange(1, KEYS + 1) ** 0.8  # a few busy keys, a long tail
    return {
        "key_team": key_team, "key_models": key_models, "key_customers": key_customers, "key_user": key_user,
        "key_tags": key_tags, "key_feature": key_feature, "key_weights": weights / weights.sum(),
    }  # fmt: skip


def _requests(rows: int, seed: int, start: dt.date, days: int = DAYS) -> dict[str, np.ndarray]:
    """One entry per request, sorted by time: who sent it, which model, tokens, spend, status."""
    rng = np.random.default_rng(seed)
    world = _world(rng)
    key = rng.choice(KEYS, rows, p=world["key_weights"])
    model = world["key_models"][key, rng.choice(3, rows, p=[0.7, 0.25, 0.05])]
    customer = world["key_customers"][key, rng.integers(0, 5, rows)]
    anonymous = rng.random(rows) < 0.3
    seconds = np.sort(rng.integers(0, days * 86_400, rows))
    micros = rng.integers(0, 1_000_000, rows)
    prompt = rng.lognormal(6.5, 1.2, rows).astype(np.int64) + 1
    completion = rng.lognormal(5.0, 1.1, rows).astype(np.int64)
    input_price = np.array([m[3] for m in MODELS])[model]
    output_price = np.array([m[4] for m in MODELS])[model]
    completion = np.where(output_price == 0, 0, completion)  # embeddings produce no output tokens
    spend = prompt * input_price / 1e6 + completion * output_price / 1e6
    failed = rng.random(rows) < 0.02
    cache_hit = ~failed & (rng.random(rows) < 0.03)
    billed = np.where(failed, 0.0, spend)  # what a gateway without a response cache records
    spend = np.where(failed | cache_hit, 0.0, spend)
    completion = np.where(failed, 0, completion)
    prompt = np.where(failed, 0, prompt)
    base = np.datetime64(start.isoformat(), "us")
    started = base + seconds.astype("timedelta64[s]") + micros.astype("timedelta64[us]")
    latency = rng.integers(150_000, 9_000_000, rows).astype("timedelta64[us]")
    return {
        "key": key, "model": model, "customer": customer, "anonymous": anonymous, "started": started,
        "ended": started + latency, "latency_ms": latency.astype(np.int64) // 1000, "prompt": prompt,
        "completion": completion, "spend": spend, "billed": billed, "failed": failed, "cache_hit": cache_hit,
        "team": world["key_team"][key], "user": world["key_user"][key], "tags": world["key_tags"][key],
        "feature": world["key_feature"][key], "index": np.arange(rows),
    }  # fmt: skip


def _floats(values: np.ndarray) -> list[str]:
    """Spend as LiteLLM stores it: the float's shortest exact digits, written out (0.000054999999999999995)."""
    return [np.format_float_positional(v, unique=True, trim="-") for v in values.tolist()]


def _ids(prefix: str, numbers: np.ndarray, seed: int) -> np.ndarray:
    """Stable unique ids such as 'chatcmpl-3946ddc2…' (hex of a mixed counter)."""
    mixed = (numbers.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) ^ np.uint64(seed)
    return np.char.add(prefix, np.char.mod("%016x", mixed))


def _lookup(table: list[str] | list[float], codes: np.ndarray) -> np.ndarray:
    return np.asarray(table, dtype=object)[codes]


def _timestamps(values: np.ndarray, *, milliseconds: bool = True, suffix: str = "") -> np.ndarray:
    text = np.datetime_as_string(values, unit="ms" if milliseconds else "us")
    return np.char.add(np.char.replace(text, "T", " ") if not suffix else text, suffix)


def write_litellm_csv(
    path: str | Path,
    rows: int,
    seed: int = 0,
    *,
    profile: str = "benchmark",
    start: dt.date | None = None,
    days: int = DAYS,
) -> Path:
    """A `LiteLLM_SpendLogs` table exported to CSV (psql `\\copy ... csv header`): naive UTC timestamps,
    `metadata` and `request_tags` as JSON text. Returns the path."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}")
    start = start or dt.date(2026, 6, 1)
    r = _requests(rows, seed, start, days)
    teams = [f"{(i * 2654435761) % 16**8:08x}-team-{i:02d}" for i in range(TEAMS)]
    team_alias = [f"team-{name}" for name in ("search", "support", "growth", "data", "platform", "mobile")] * 4
    key_alias = [f"key-{i:03d}" for i in range(KEYS)]
    key_hash = [hashlib.sha256(f"sk-synthetic-{seed}-{i}".encode()).hexdigest() for i in range(KEYS)]
    users = [f"user-{i:03d}" for i in range(USERS)]
    customers = np.where(r["anonymous"], "", np.char.add("cust-", np.char.zfill(r["customer"].astype(str), 4)))
    provider = _lookup([m[0] for m in MODELS], r["model"])
    separator = ", " if profile == "full" else ","  # compact JSON keeps a million benchmark rows under 200 MB
    metadata = np.char.add(
        np.char.add('{"user_api_key_alias":' + separator[1:] + '"', _lookup(key_alias, r["key"]).astype(str)),
        np.char.add(
            np.char.add(
                f'"{separator}"user_api_key_team_alias":{separator[1:]}"', _lookup(team_alias, r["team"]).astype(str)
            ),
            '"}',
        ),
    )
    frame: dict[str, object] = {}
    if profile == "full":
        frame["request_id"] = _ids("chatcmpl-", r["index"], seed)
        frame["call_type"] = np.where(_lookup([m[4] for m in MODELS], r["model"]) == 0, "aembedding", "acompletion")
        frame["api_key"] = _lookup(key_hash, r["key"])
    frame["spend"] = _floats(r["spend"])
    if profile == "full":
        frame["total_tokens"] = r["prompt"] + r["completion"]
    frame["prompt_tokens"] = r["prompt"]
    frame["completion_tokens"] = r["completion"]
    frame["startTime"] = _timestamps(r["started"])
    if profile == "full":
        frame["endTime"] = _timestamps(r["ended"])
    frame["model"] = _lookup([m[1] for m in MODELS], r["model"])
    if profile == "full":
        frame["model_group"] = _lookup([m[2] for m in MODELS], r["model"])
    frame["custom_llm_provider"] = provider
    if profile == "full":
        frame["user"] = _lookup(users, r["user"])
    frame["metadata"] = metadata
    frame["request_tags"] = _lookup(list(TAG_SETS), r["tags"])
    frame["team_id"] = _lookup(teams, r["team"]) if profile == "full" else _lookup(
        [f"team-{i:02d}" for i in range(TEAMS)], r["team"])  # fmt: skip
    frame["end_user"] = customers
    if profile == "full":
        frame["cache_hit"] = np.where(r["cache_hit"], "True", "False")
    frame["status"] = np.where(r["failed"], "failure", "success")
    out = Path(path)
    pd.DataFrame(frame).to_csv(out, index=False)
    return out


def write_helicone_csv(
    path: str | Path,
    rows: int,
    seed: int = 0,
    *,
    profile: str = "benchmark",
    start: dt.date | None = None,
    days: int = DAYS,
) -> Path:
    """A CSV as Helicone's export tool writes it: every value quoted, JSON objects with doubled quotes (the
    tool escapes them twice), ISO timestamps with Z, cost in USD. Returns the path."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}")
    start = start or dt.date(2026, 6, 1)
    r = _requests(rows, seed, start, days)
    customers = np.char.add("cust-", np.char.zfill(r["customer"].astype(str), 4))
    features = _lookup(list(FEATURES), r["feature"]).astype(str)
    # {"Helicone-Property-Customer":"cust-0042",...}, its quotes doubled twice (the tool escapes them twice).
    if profile == "full":
        properties = np.char.add(
            np.char.add('{""""Helicone-Property-Customer"""":""""', customers),
            np.char.add('"""",""""Helicone-Property-Feature"""":""""', np.char.add(features, '""""}')),
        )
    else:
        properties = np.char.add(np.char.add('{""""customer"""":""""', customers), '""""}')
    users = np.where(r["anonymous"], "", np.char.add("user-", np.char.zfill(r["customer"].astype(str), 4)))
    model = _lookup([m[1].rsplit("/", 1)[-1] for m in MODELS], r["model"])
    status = np.where(r["failed"], "500", "200")
    created = _timestamps(r["started"], suffix="Z")
    responded = _timestamps(r["ended"], suffix="Z")
    placeholder = (
        '{""""helicone_message"""":""""fetching body from signed_url... contact engineering@helicone.ai for more '
        'information""""}'
    )
    columns = {
        "response_id": _ids("", r["index"], seed) if profile == "full" else np.char.mod("%07d", r["index"]),
        "response_created_at": responded,
        "response_status": status,
        "request_created_at": created,
        "request_body": np.full(rows, placeholder if profile == "full" else ""),
        "request_properties": properties,
        "request_user_id": users,
        "model": model,
        "prompt_tokens": r["prompt"].astype(str),
        "completion_tokens": r["completion"].astype(str),
        "latency": r["latency_ms"].astype(str),
        "cost": _floats(np.round(r["billed"], 9)),  # Helicone keeps nano-dollars and divides by 1e9
    }
    out = Path(path)
    with out.open("w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(columns) + "\n")
        block = 100_000
        arrays = [np.asarray(v, dtype=object) for v in columns.values()]
        for first in range(0, rows, block):
            cells = [a[first : first + block] for a in arrays]
            lines = (",".join(f'"{c}"' if c != "" else "" for c in row) for row in zip(*cells, strict=True))
            handle.write("\n".join(lines) + "\n")
    return out
