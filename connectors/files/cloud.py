"""What the cloud billing parsers (gcp, aws, azure) share: tags, project-like tags, map cells, and model names.

Cloud bills are not AI bills: most of their lines are compute and storage. The parsers import every line (it
is spend the person chose to import) and name the AI ones after the provider we use elsewhere ("Google",
"AWS Bedrock", "Azure OpenAI"), with the model read from the SKU, usage type or meter name where we can.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from connectors.files.base import BadFile, RawFile, find_column, read_table, sniff_delimiter

MAX_TAGS = 10  # tags are part of a charge's key: a handful keeps keys stable and the tags column readable
_KEY_LEN, _VALUE_LEN = 128, 256

_PROJECT_KEYS = frozenset({"project", "projectname", "projectid"})
_DEPARTMENT_KEYS = frozenset({"team", "teamname", "department", "dept"})


def read_cloud_table(raw: RawFile, *, skip_lines: int = 0, delimiter: str | None = None) -> pd.DataFrame:
    """`read_table`, plus a check that the last row is whole: a download cut off mid-row ends without a
    newline and with fewer cells than the header (read_table fills the missing cells with '')."""
    frame = read_table(raw, skip_lines=skip_lines, delimiter=delimiter)
    text = raw.text
    if len(frame) and not text.endswith(("\n", "\r")):
        last = text.rsplit("\n", 1)[-1].rstrip("\r")
        sep = delimiter or sniff_delimiter(text.split("\n", skip_lines)[-1].lstrip("\r\n").split("\n", 1)[0])
        cells = next(csv.reader([last], delimiter=sep), [])
        if len(cells) < len(frame.columns) - 1:  # less the `row` column
            row = int(frame["row"].iloc[-1])
            raise BadFile(
                f"Row {row} has fewer cells than the header: the file looks cut off. Download or export it again.",
                row=row,
            )
    return frame


def first_column(columns: Iterable[str], *names: str) -> str | None:
    """The file's spelling of the first of `names` it has (in the order of `names`, not of the file)."""
    columns = list(columns)
    return next((found for name in names if (found := find_column(columns, name))), None)


def _squash(name: str) -> str:
    return re.sub(r"[\s_/\-.:]", "", name).lower()


def clean_tags(tags: Mapping[Any, Any]) -> dict[str, str]:
    """Tag keys and values as trimmed strings; blank keys and values (= untagged) left out."""
    out: dict[str, str] = {}
    for key, value in tags.items():
        if value is None or key is None:
            continue
        name = str(key).strip()[:_KEY_LEN]
        text = value if isinstance(value, str) else json.dumps(value) if isinstance(value, dict | list) else str(value)
        text = text.strip()[:_VALUE_LEN]
        if name and text:
            out[name] = text
    return out


def tags_json(tags: Mapping[str, str], *, first: Iterable[str] = ()) -> tuple[str, bool]:
    """JSON text (sorted keys) of at most MAX_TAGS tags, and whether some had to be left out.

    Keys in `first` (e.g. the account a line belongs to) are kept before the rest, which go in key order.
    """
    if not tags:
        return "", False
    keys = [key for key in first if key in tags]
    keys += sorted(key for key in tags if key not in keys)
    kept = {key: tags[key] for key in keys[:MAX_TAGS]}
    return json.dumps(kept, sort_keys=True, ensure_ascii=False, separators=(",", ":")), len(keys) > MAX_TAGS


def project_and_department(tags: Mapping[str, str]) -> tuple[str, str]:
    """A tag plainly naming the project ('project', 'Project', 'project_name') or team ('team', 'department')."""
    project = department = ""
    for key in sorted(tags):
        squashed = _squash(key)
        if not project and squashed in _PROJECT_KEYS:
            project = tags[key]
        elif not department and squashed in _DEPARTMENT_KEYS:
            department = tags[key]
    return project[:80], department[:80]


def tags_note(count: int) -> str:
    return (
        f"{count} line{'s' if count != 1 else ''} had more than {MAX_TAGS} tags or labels; we kept the first "
        f"{MAX_TAGS} (in key order) so the charges stay readable."
    )


_MAP_PAIR = re.compile(r"([^=,{}]+?)=([^,{}]*)(?=,|$)")


def map_cell(cell: Any) -> dict[str, Any] | None:
    """A map/record cell: a dict, JSON text, a list of {key, value} records, or Athena's '{k=v, k2=v2}'.

    '' → {}; text we cannot read → None.
    """
    if cell is None:
        return {}
    if isinstance(cell, dict):
        return cell
    if isinstance(cell, list):
        return key_value_list(cell)
    text = str(cell).strip()
    if not text or text in ("{}", "[]", "null", "None"):
        return {}
    if text[0] in '{["':
        try:
            value = json.loads(text if text[0] != '"' else "{" + text + "}")
        except json.JSONDecodeError:
            value = None
        if isinstance(value, dict):
            return value
        if isinstance(value, list):
            return key_value_list(value)
    if text.startswith("{") and text.endswith("}") and "=" in text:
        pairs = _MAP_PAIR.findall(text[1:-1].strip())
        if pairs:
            return {key.strip(): value.strip() for key, value in pairs}
    return None


def key_value_list(items: list[Any]) -> dict[str, Any] | None:
    """BigQuery's repeated labels [{key, value}, ...] as a dict (None when the items are not like that)."""
    out: dict[str, Any] = {}
    for item in items:
        if not isinstance(item, dict) or "key" not in item:
            return None
        out[str(item["key"])] = item.get("value")
    return out


# Model names -----------------------------------------------------------------------------------------

_FAMILY = re.compile(
    r"(?<![A-Za-z0-9])(claude|gemini|gemma|gpt|llama|mistral|mixtral|codestral|pixtral|command|titan|nova|jamba|"
    r"imagen|veo|deepseek|phi|grok|text[\s_-]?embedding|dall[\s_-]?e|whisper|o[1-9])(?-i:(?![a-z]))",
    re.IGNORECASE,
)
_VARIANTS = frozenset(
    """sonnet haiku opus instant pro flash lite ultra nano mini turbo instruct chat large small medium micro premier
    express embed ada vision preview exp thinking maverick scout plus light r hd codex""".split()  # noqa: SIM905
)
_VERSION = re.compile(r"^v?\d+(\.\d+)*[a-z]?$")
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:\.[0-9]+)*")
_BARE_IS_A_WORD = frozenset({"command", "nova", "phi", "veo", "gpt", "titan", "jamba"})  # 'Run Command', 'Nova'


def model_in(*texts: str) -> str:
    """The model a billing line names, e.g. 'USE1-Claude3.5Sonnet-input-tokens' → 'claude-3-5-sonnet',
    'Gemini 2.5 Pro input tokens' → 'gemini-2.5-pro', 'gpt-4o-0806-Inp-glbl Tokens' → 'gpt-4o-0806'.

    Names follow the providers' own ids closely enough to read; '' when no text names a model we know.
    """
    for text in texts:
        if not text:
            continue
        match = _FAMILY.search(text)
        if not match:
            continue
        family = re.sub(r"[\s_]", "-", match.group(1).lower())
        rest = text[match.end() :]
        rest = re.sub(r"(?<=[a-z0-9])(?=[A-Z][a-z])", " ", rest)  # 3.5Sonnet → 3.5 Sonnet
        rest = re.sub(r"(?<=[a-z]{3})(?=\d)", " ", rest)  # mini0718 → mini 0718
        parts = [family]
        position = 0
        for token in _TOKEN.finditer(rest):
            gap = rest[position : token.start()]
            if gap.strip(" -_") or len(parts) > 5:
                break  # another word or punctuation ends the name
            word = token.group(0).lower()
            if word not in _VARIANTS and not _VERSION.match(word):
                break
            parts.append(word)
            position = token.end()
        if len(parts) == 1 and family in _BARE_IS_A_WORD:
            continue
        name = "-".join(parts)
        if family == "claude":
            name = name.replace(".", "-")  # Anthropic ids: claude-3-5-sonnet, claude-sonnet-4-5
        return name[:120]
    return ""
