"""Operator text in (names, genres, pool values, templates), the reason it is refused out.

Station text ends up in HTTP headers (icy-name), playlist lines and ICY metadata,
and a prompt template is filled once per track (#10, items 3 and 4): a CR/LF in a
name turned every new listener of that mount into an HTTP 500 and could add a
foreign URL to /stations.m3u; `{mood!r:>99999999}` stored a 100 MB prompt per
track; a 50 MB name passed. So every piece of text has a length limit and no
control characters, and a template is literal text with plain `{name}` fields.
The rules are checks that return a message (or None), so stations.toml and the
console's API, which share `station_from_table`, refuse the same things.
"""

from __future__ import annotations

import string
import unicodedata

# Longest accepted text, by what it is (characters). Generous for any real lineup;
# the caps exist so that one field cannot grow every header, playlist or prompt.
MAX_CHARS = {
    "name": 100,
    "genre": 60,
    "description": 500,
    "prompt": 1000,
    "pool value": 200,
    "daypart name": 60,
}
# Line and paragraph separators end a line for some readers, like CR/LF.
_REFUSED_CATEGORIES = ("Cc", "Zl", "Zp")


def text_problem(text: str, kind: str) -> str | None:
    """Why `text` cannot be a station's `kind` of text, or None if it can."""
    limit = MAX_CHARS[kind]
    if len(text) > limit:
        return f"is {len(text)} characters long; at most {limit}"
    for char in text:
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            return f"contains the control character U+{ord(char):04X}; use plain text on one line"
    return None


def template_problem(template: str) -> str | None:
    """Why `template` is not literal text with plain `{name}` fields, or None if it is.

    Format specs, conversions, indexing and attribute access are refused: each can
    make filling the template fail or grow without bound.
    """
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        return f"bad template: {exc} (write a literal brace as {{{{ or }}}})"
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if not name.isidentifier():
            return f"placeholder {{{name}}} is not a plain name"
        if conversion is not None or spec:
            shown = name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            return f"placeholder {{{shown}}} has a conversion or format spec; write {{{name}}}"
    return None


def template_fields(template: str) -> list[str]:
    """The {placeholders} a valid prompt template uses, in order."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]
