"""What every provider connector shares: retrying JSON requests, plain-English errors, building charge dicts."""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

import httpx

from core.money import to_micros

log = logging.getLogger(__name__)

Charge = dict[str, Any]

KINDS = frozenset({"auth", "forbidden", "rate_limited", "server", "timeout", "network", "bad_response", "bad_request"})
_BACKOFF_START = 0.5
_BACKOFF_CAP = 30.0
_RETRY_AFTER_CAP = 60.0
_PROVIDER_TEXT_MAX = 300
_KEY_LIKE = re.compile(r"\b(sk-[A-Za-z0-9_*.\-]{6,})")
_SECRET_HEADERS = ("authorization", "x-api-key")
_MAX_PAGES = 1000

_FORBIDDEN = {
    "OpenAI": (
        "OpenAI refused access (403): this looks like a project key; usage and cost need an organisation admin key "
        "(starts sk-admin-...) — create one at https://platform.openai.com/settings/organization/admin-keys."
    ),
    "Anthropic": (
        "Anthropic refused access (403): usage and cost reports need an organisation admin key (starts "
        "sk-ant-admin...) — an organisation admin can create one at https://console.anthropic.com/settings/admin-keys."
    ),
}
_AUTH_HINT = {"Anthropic": " Admin keys start sk-ant-admin.", "OpenAI": " Admin keys start sk-admin-."}


class ConnectorError(Exception):
    """A provider conversation that failed, with a message a non-technical person can act on."""

    def __init__(self, message: str, *, kind: str, status: int | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown ConnectorError kind {kind!r}")
        super().__init__(message)
        self.kind = kind
        self.status = status


def request_json(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    params: Any = None,
    headers: Mapping[str, str] | None = None,
    max_retries: int = 4,
    sleep: Callable[[float], None] = time.sleep,
    provider: str = "OpenAI",
    parse_float: Callable[[str], Any] | None = None,
) -> Any:
    """One JSON request, retrying 429, 5xx, timeouts and network errors; final failures become ConnectorError.

    Waits 0.5s, 1s, 2s, ... (at most 30s) between tries, or what `Retry-After` asks (at most 60s).
    `parse_float=Decimal` keeps the provider's decimal text exactly.
    """
    secrets = _secret_values(headers)
    for attempt in range(max_retries + 1):
        last = attempt == max_retries
        try:
            response = client.request(method, url, params=params, headers=headers)
        except httpx.TimeoutException as exc:
            if last:
                raise ConnectorError(
                    f"{provider} did not answer in time; nothing was imported, try again later.", kind="timeout"
                ) from exc
            _wait(sleep, _backoff(attempt), provider, "a timeout")
            continue
        except httpx.TransportError as exc:
            if last:
                raise ConnectorError(
                    f"Could not reach {provider} (a network problem: check this server's internet connection); "
                    "nothing was imported, try again later.",
                    kind="network",
                ) from exc
            _wait(sleep, _backoff(attempt), provider, "a network error")
            continue
        status = response.status_code
        if status == 429 or status >= 500:
            if last:
                raise _status_error(response, provider, secrets)
            delay = _retry_after(response.headers.get("retry-after"))
            _wait(sleep, _backoff(attempt) if delay is None else delay, provider, f"HTTP {status}")
            continue
        if status >= 300:
            raise _status_error(response, provider, secrets)
        try:
            return response.json(parse_float=parse_float) if parse_float else response.json()
        except ValueError as exc:
            raise ConnectorError(
                f"{provider} sent an answer we could not read; nothing was imported, try again later.",
                kind="bad_response",
                status=status,
            ) from exc
    raise AssertionError("unreachable: the last attempt always returns or raises")


def _backoff(attempt: int) -> float:
    return min(_BACKOFF_START * 2**attempt, _BACKOFF_CAP)


def _wait(sleep: Callable[[float], None], seconds: float, provider: str, reason: str) -> None:
    log.info("%s: %s, retrying in %.1fs", provider, reason, seconds)
    sleep(seconds)


def _retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), capped; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - (now or dt.datetime.now(dt.UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), _RETRY_AFTER_CAP)


def _status_error(response: httpx.Response, provider: str, secrets: list[str]) -> ConnectorError:
    status = response.status_code
    if status == 401:
        return ConnectorError(
            f"{provider} rejected the key (401). Check that you pasted the whole admin key and that it has not been "
            f"revoked.{_AUTH_HINT.get(provider, '')}",
            kind="auth",
            status=status,
        )
    if status == 403:
        message = _FORBIDDEN.get(
            provider, f"{provider} refused access (403): the key does not have permission to read usage and cost."
        )
        return ConnectorError(message, kind="forbidden", status=status)
    if status == 429:
        return ConnectorError(
            f"{provider} is rate limiting us; try again in a few minutes.", kind="rate_limited", status=status
        )
    if status >= 500:
        return ConnectorError(
            f"{provider} is having trouble (HTTP {status}); nothing was imported, try again later.",
            kind="server",
            status=status,
        )
    if 400 <= status < 500:
        text = _provider_message(response, secrets)
        detail = f": {text}" if text else "."
        return ConnectorError(
            f"{provider} refused the request (HTTP {status}){detail}", kind="bad_request", status=status
        )
    return ConnectorError(
        f"{provider} sent an unexpected answer (HTTP {status}); nothing was imported, try again later.",
        kind="bad_response",
        status=status,
    )


def _provider_message(response: httpx.Response, secrets: list[str]) -> str:
    """The provider's own `error.message` (both OpenAI and Anthropic use it), shortened and scrubbed of keys."""
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if not isinstance(message, str):
        return ""
    for secret in secrets:
        message = message.replace(secret, "[key hidden]")
    message = _KEY_LIKE.sub("[key hidden]", message).strip()
    return message if len(message) <= _PROVIDER_TEXT_MAX else message[: _PROVIDER_TEXT_MAX - 1] + "…"


def _secret_values(headers: Mapping[str, str] | None) -> list[str]:
    values: list[str] = []
    for name, value in (headers or {}).items():
        if name.lower() in _SECRET_HEADERS and value:
            values.append(value)
            if value.lower().startswith("bearer "):
                values.append(value[7:].strip())
    return sorted((v for v in values if v), key=len, reverse=True)


# Charges ------------------------------------------------------------------------------------------


def source_key(namespace: str, day: dt.date, *groups: str | None) -> str:
    """`namespace:YYYY-MM-DD:group:group...`, with the group part replaced by its sha1 when it would exceed 255."""
    head = f"{namespace}:{day.isoformat()}:"
    tail = ":".join(g or "" for g in groups)
    if len(head) + len(tail) > 255:
        tail = hashlib.sha1(tail.encode(), usedforsecurity=False).hexdigest()
    return head + tail


MAX_AMOUNT = Decimal(10**12)  # dollars, cents or tokens in one API result: beyond any real bill


def exact_decimal(value: Any) -> Decimal:
    """A JSON number or decimal string as an exact Decimal: floats go through their shortest repr (0.06 stays 0.06)."""
    if value is None:
        return Decimal(0)
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an amount")
    try:
        result = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise ValueError(f"{value!r} is not an amount") from exc
    if not result.is_finite():
        raise ValueError(f"{value!r} is not a finite amount")
    if abs(result) >= MAX_AMOUNT:  # '1e999' is finite, but no micro-dollar (BIGINT) column holds it
        raise ValueError(f"{str(value)[:40]!r} is too large to be an amount")
    return result


def decimal_text(value: Decimal) -> str:
    """Plain positional text (no exponent) that fits the 40-character original_amount column."""
    text = format(value, "f")
    if len(text) > 40:
        text = format(value.quantize(Decimal("1e-18"), rounding=ROUND_HALF_EVEN).normalize(), "f")
    return text


def as_int(value: Any) -> int:
    """A count from JSON (int, or a float/decimal such as 10.0); missing means 0."""
    if value is None:
        return 0
    return int(exact_decimal(value))


def clip(value: Any, size: int) -> str:
    """A group value as text that fits its column ('' for null)."""
    return "" if value is None else str(value)[:size]


def new_charge(key: str, day: dt.date, provider: str, **fields: Any) -> Charge:
    """A charge dict with the contract's defaults (USD, service "API", zero counts) under `fields`."""
    counts = {"input_tokens": 0, "output_tokens": 0, "cached_tokens": 0, "requests": 0}
    base = {"source_key": key, "day": day, "provider": provider, "service": "API", "model": "", "line_item": ""}
    return {**base, "currency": "USD", "project": "", "api_key": "", **counts, **fields}


def usage_charge(
    namespace: str, day: dt.date, provider: str, *, model: str, project: str, api_key: str, counts: dict[str, int]
) -> Charge:
    """A token/request line without money: the money for the same usage is on the provider's cost lines."""
    return new_charge(
        source_key(namespace, day, project, model, api_key), day, provider, model=model, line_item="usage",
        amount_micros=0, original_amount="0", project=project, api_key=api_key, **counts,
    )  # fmt: skip


def merge_charges(charges: Iterable[Charge], *, divisor: Decimal = Decimal(1)) -> list[Charge]:
    """Sum charges sharing a source_key into one, in first-seen order.

    Money is re-derived from the summed `original_amount` (divided by `divisor`, e.g. 100 for cents), so the sum
    is rounded once and exactly; counts are added.
    """
    merged: dict[str, Charge] = {}
    for charge in charges:
        key = charge["source_key"]
        seen = merged.get(key)
        if seen is None:
            merged[key] = dict(charge)
            continue
        total = Decimal(seen["original_amount"]) + Decimal(charge["original_amount"])
        seen["original_amount"] = decimal_text(total)
        seen["amount_micros"] = to_micros(total / divisor)
        for count in ("input_tokens", "output_tokens", "cached_tokens", "requests"):
            seen[count] += charge[count]
    return list(merged.values())


def page_buckets(page: Any, provider: str) -> list[dict[str, Any]]:
    """The buckets of one report page: the `{"data": [...]}` envelope, a bare list of buckets, or one bucket."""
    if isinstance(page, dict):
        data = page.get("data") if "data" in page else [page] if "results" in page else None
    else:
        data = page
    if not isinstance(data, list) or not all(isinstance(b, dict) for b in data):
        raise ConnectorError(
            f"This does not look like {provider} usage or cost data (no list of daily buckets).", kind="bad_response"
        )
    return data


def fetch_pages(fetch_page: Callable[[str | None], Any], provider: str) -> Iterator[Any]:
    """Every page of a cursor-paginated report: `fetch_page(cursor)` is called with None first, then `next_page`."""
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(_MAX_PAGES):
        page = fetch_page(cursor)
        yield page
        cursor = next_cursor(page)
        if cursor is None:
            return
        if cursor in seen:
            break
        seen.add(cursor)
    raise ConnectorError(
        f"{provider} kept sending more pages without end; nothing was imported, try a shorter date range.",
        kind="bad_response",
    )


def report_window(start: dt.date, end: dt.date, now: dt.datetime | None) -> tuple[dt.datetime, dt.datetime, int] | None:
    """[start 00:00 UTC, min(end + 1 day 00:00 UTC, now)) and its number of daily buckets; None when empty."""
    if now is None:
        now = dt.datetime.now(dt.UTC)
    elif now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    begin = dt.datetime.combine(start, dt.time(), dt.UTC)
    finish = min(dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC), now.astimezone(dt.UTC))
    if finish <= begin:
        return None
    return begin, finish, -(-(finish - begin) // dt.timedelta(days=1))


def since_yesterday(now: dt.datetime | None) -> tuple[dt.datetime, dt.datetime, int]:
    """The report window from yesterday 00:00 UTC to now: what a connection test asks for."""
    now = now or dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    today = now.astimezone(dt.UTC).date()
    window = report_window(today - dt.timedelta(days=1), today, now)
    assert window is not None  # yesterday 00:00 UTC is always before now
    return window


def next_cursor(page: Any) -> str | None:
    """The cursor for the following page, or None when this was the last one."""
    if not isinstance(page, dict) or page.get("has_more") is False:
        return None
    cursor = page.get("next_page")
    return cursor if isinstance(cursor, str) and cursor else None


class AdminReportClient:
    """What the OpenAI and Anthropic admin-report connectors share: a handed-in client and key, paging through a
    report, merging its charges, and a repr that never shows the key. Subclasses name the provider, its
    address and its auth headers."""

    provider = ""
    default_base_url = ""
    parse_float: Callable[[str], Any] | None = None

    def __init__(
        self,
        client: httpx.Client,
        api_key: str,
        base_url: str | None = None,
        *,
        max_retries: int = 4,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._api_key = api_key
        self._base_url = (base_url or self.default_base_url).rstrip("/")
        self._max_retries = max_retries
        self._sleep = sleep

    def __repr__(self) -> str:  # never show the key
        return f"{type(self).__name__}(base_url={self._base_url!r})"

    def _headers(self) -> dict[str, str]:
        raise NotImplementedError

    def _charges(
        self, path: str, params: dict[str, Any], parse: Callable[[Any], list[Charge]], divisor: Decimal = Decimal(1)
    ) -> list[Charge]:
        pages = fetch_pages(
            lambda cursor: self._get(path, {**params, "page": cursor} if cursor else params), self.provider
        )
        return merge_charges((charge for page in pages for charge in parse(page)), divisor=divisor)

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        return request_json(
            self._client,
            "GET",
            self._base_url + path,
            params=params,
            headers=self._headers(),
            max_retries=self._max_retries,
            sleep=self._sleep,
            provider=self.provider,
            parse_float=self.parse_float,
        )
