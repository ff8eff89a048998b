"""Allocation rules and manual overrides: who a charge belongs to, applied to new and existing charges alike.

A charge's allocation is recomputed from what its source said (kept in `origin` once anything changed it),
then every rule in position order, then the person's own overrides, so removing a rule restores the source's
values and re-importing a charge keeps the rules' and overrides' decisions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from core.security import InvalidInput

MATCH_FIELDS = ("provider", "service", "model", "line_item", "api_key", "project", "customer")
MATCH_KINDS = ("equals", "contains", "prefix", "regex")
SET_FIELDS = ("department", "project", "customer", "feature", "tag")
ALLOCATED = ("department", "project", "customer", "feature")
FIELD_LABELS = {
    "provider": "Provider", "service": "Service", "model": "Model", "line_item": "Description / line item",
    "api_key": "API key", "project": "Project", "customer": "Customer", "department": "Department / team",
    "feature": "Feature", "tag": "Tag",
}  # fmt: skip


@dataclass(frozen=True)
class Rule:
    match_field: str
    match_kind: str
    pattern: str
    set_field: str
    value: str
    tag_key: str = ""
    id: int | None = None

    @cached_property
    def _regex(self) -> re.Pattern[str] | None:
        return re.compile(self.pattern, re.IGNORECASE) if self.match_kind == "regex" else None

    def matches(self, charge: Mapping[str, Any]) -> bool:
        text = str(charge.get(self.match_field, "") or "")
        needle = self.pattern
        if self.match_kind == "equals":
            return text.lower() == needle.lower()
        if self.match_kind == "contains":
            return needle.lower() in text.lower()
        if self.match_kind == "prefix":
            return text.lower().startswith(needle.lower())
        assert self._regex is not None
        return bool(self._regex.search(text))

    def describe(self) -> str:
        target = f"tag '{self.tag_key}'" if self.set_field == "tag" else self.set_field
        kind = {"equals": "is", "contains": "contains", "prefix": "starts with", "regex": "matches"}[self.match_kind]
        field = self.match_field.replace("_", " ")
        return f"When {field} {kind} '{self.pattern}', set {target} to '{self.value}'"


def validate_rule(rule: Rule) -> Rule:
    """The rule, stripped; or InvalidInput saying what to fix."""
    if rule.match_field not in MATCH_FIELDS:
        raise InvalidInput(f"Rules can match on {', '.join(MATCH_FIELDS)}, not '{rule.match_field}'.")
    if rule.match_kind not in MATCH_KINDS:
        raise InvalidInput(f"Choose how to match: {', '.join(MATCH_KINDS)}.")
    if rule.set_field not in SET_FIELDS:
        raise InvalidInput(f"Rules can set {', '.join(SET_FIELDS)}, not '{rule.set_field}'.")
    pattern, value, tag_key = rule.pattern.strip(), rule.value.strip(), rule.tag_key.strip()
    if not pattern:
        raise InvalidInput("Type what to look for (the pattern).")
    if not value or len(value) > 80:
        raise InvalidInput("Type the value to set (up to 80 characters).")
    if rule.set_field == "tag" and not re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", tag_key):
        raise InvalidInput("A tag needs a name of letters, digits, '-', '_' or '.', up to 40 characters.")
    if rule.match_kind == "regex":
        try:
            re.compile(pattern)
        except re.error as exc:
            raise InvalidInput(f"The pattern is not a valid regular expression ({exc.msg}).") from exc
    return Rule(rule.match_field, rule.match_kind, pattern, rule.set_field, value, tag_key, rule.id)


def _source_values(charge: Mapping[str, Any]) -> dict[str, Any]:
    """What the source itself said: the recorded origin, else the charge's current values."""
    origin = charge.get("origin") or {}
    values = {field: origin.get(field, charge.get(field, "") or "") for field in ALLOCATED}
    values["tags"] = dict(origin.get("tags", charge.get("tags") or {}))
    return values


def allocate(
    charge: Mapping[str, Any], rules: Sequence[Rule], overrides: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The charge's allocation fields (department, project, customer, feature, tags, origin) after rules and
    overrides; `origin` records the source's values when they were changed, else is empty."""
    source = _source_values(charge)
    out = {field: source[field] for field in ALLOCATED}
    tags = dict(source["tags"])
    for rule in rules:
        if rule.matches(charge if rule.match_field not in ALLOCATED else {**charge, **source}):
            if rule.set_field == "tag":
                tags[rule.tag_key] = rule.value
            else:
                out[rule.set_field] = rule.value
    for field, value in (overrides or {}).items():
        if field.startswith("tag:"):
            tags[field[4:]] = value
        elif field in ALLOCATED:
            out[field] = value
    out["tags"] = tags
    changed = any(out[f] != source[f] for f in ALLOCATED) or tags != source["tags"]
    out["origin"] = {**{f: source[f] for f in ALLOCATED}, "tags": source["tags"]} if changed else {}
    return out


def allocate_rows(
    rows: Iterable[dict[str, Any]], rules: Sequence[Rule], overrides: Mapping[str, Mapping[str, str]]
) -> None:
    """Apply rules and overrides to charges about to be written (in place)."""
    if not rules and not overrides:
        return
    for row in rows:
        row.update(allocate(row, rules, overrides.get(row["source_key"])))


def format_tags(tags: Mapping[str, str]) -> str:
    """{'team': 'search', 'env': 'prod'} → 'env=prod, team=search' (for editing in a table)."""
    return ", ".join(f"{key}={value}" for key, value in sorted(tags.items()))


def parse_tags(text: str) -> dict[str, str]:
    """'env=prod, team=search' → {'env': 'prod', 'team': 'search'}; InvalidInput naming a bad part."""
    tags: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", key) or not value or len(value) > 80:
            raise InvalidInput(f"'{part}' is not a tag; write tags as name=value, separated by commas.")
        tags[key] = value
    return tags
