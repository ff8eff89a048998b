"""File imports: detect an export's format from its content, parse it, roll it up to daily charges.

Each format module exposes `PARSERS`; add a module to `_MODULES` to make its formats available.
"""

from __future__ import annotations

import importlib

from connectors.files.base import BadFile, Parser, RawFile

_MODULES = ("generic", "api_json", "openai_exports", "gcp", "aws", "azure", "litellm", "helicone", "langfuse")


def all_parsers() -> list[Parser]:
    parsers: list[Parser] = []
    for module in _MODULES:
        parsers.extend(importlib.import_module(f"connectors.files.{module}").PARSERS)
    return parsers


def get_parser(name: str) -> Parser:
    for parser in all_parsers():
        if parser.name == name:
            return parser
    names = ", ".join(sorted(p.name for p in all_parsers()))
    raise BadFile(f"There is no format called '{name}'. Formats: {names}.")


def detect_parser(raw: RawFile) -> Parser:
    """The parser most sure the file is its own; the generic CSV/JSON reader when none is."""
    _ = raw.text  # an empty, binary or zipped file is refused here, with its own reason
    if raw.looks_like_json():
        raw.json()  # likewise JSON that is cut off or malformed
    parsers = all_parsers()
    # Specific formats first: the generic reader (a fallback that scores 5) is only asked when none is sure.
    scored = [(parser.detect(raw), -i, parser) for i, parser in enumerate(parsers) if parser.name != "generic"]
    score, _, parser = max(scored, key=lambda item: (item[0], item[1]), default=(0, 0, parsers[0]))
    if score < 50:
        generic = next(p for p in parsers if p.name == "generic")
        scored.append((generic.detect(raw), 1, generic))
        score, _, parser = max(scored, key=lambda item: (item[0], item[1]))
    if score <= 0:
        from connectors.files.generic import suggest_mapping

        try:
            suggest_mapping(raw)
        except BadFile as problem:
            raise BadFile(f"We could not tell what kind of export this is. {problem}") from problem
        raise BadFile("We could not tell what kind of export this is; pick the format by hand.")
    return parser
