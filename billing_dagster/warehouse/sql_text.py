"""Just enough understanding of SQL text for the HTTP endpoint.

The endpoint must find a statement's `FORMAT` clause, refuse several statements in one
request (ClickHouse does, chDB would run them all) and name a file in an `INSERT` whose rows
arrived in the request body. It never rewrites anything else, so a lexer that knows strings,
quoted names and comments is enough.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_TOKEN = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<comment>--[^\n]*|\#[^\n]*|/\*.*?\*/)
    | (?P<string>'(?:[^'\\]|\\.|'')*')
    | (?P<quoted>"(?:[^"\\]|\\.|"")*"|`(?:[^`\\]|\\.|``)*`)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    start: int
    depth: int  # parenthesis depth before the token


def tokens(sql: str) -> Iterator[Token]:
    """Meaningful tokens (no spaces or comments) with their position and nesting depth."""
    depth = 0
    for match in _TOKEN.finditer(sql):
        kind = match.lastgroup
        text = match.group()
        if kind in ("space", "comment"):
            continue
        yield Token(kind, text, match.start(), depth)
        if text == "(":
            depth += 1
        elif text == ")":
            depth = max(depth - 1, 0)


def _is_word(token: Token, word: str) -> bool:
    return token.kind == "word" and token.text.upper() == word


def is_insert_with_format(sql: str) -> bool:
    """`INSERT ... FORMAT x`: the rows follow the statement instead of being part of it."""
    head = None
    for token in tokens(sql):
        if head is None:
            head = token
            if not _is_word(token, "INSERT"):
                return False
        elif _is_word(token, "FORMAT") and token.depth == 0:
            return True
        elif _is_word(token, "SELECT") or _is_word(token, "VALUES"):
            return False
    return False


#: Statements whose rows chDB can stream as they are computed (it refuses DESCRIBE, SHOW...).
_ROW_STATEMENTS = {"SELECT", "WITH", "("}


def returns_rows(sql: str) -> bool:
    first = next(tokens(sql), None)
    return first is not None and first.text.upper() in _ROW_STATEMENTS


def split_insert_rows(request: bytes) -> tuple[str, bytes] | None:
    """Split `INSERT ... FORMAT x\n<rows>` sent as one body into statement and rows.

    The rows may be binary (Native), so the text is read as Latin-1, where every byte is one
    character and positions are byte offsets. Rows start after the format name's line end.
    """
    text = request.decode("latin-1")
    if not is_insert_with_format(text):
        return None
    words = (t for t in tokens(text) if t.depth == 0)
    for token in words:
        if _is_word(token, "FORMAT"):
            name = next(words)
            end = name.start + len(name.text)
            while end < len(text) and text[end] in " \t\r":
                end += 1
            if end < len(text) and text[end] == "\n":
                end += 1
            return request[:end].decode(), request[end:]
    return None


def has_several_statements(sql: str) -> bool:
    seen_semicolon = False
    for token in tokens(sql):
        if seen_semicolon:
            return True
        seen_semicolon = token.text == ";"
    return False


def trailing_format(sql: str) -> str | None:
    """The output format named by a final `FORMAT x`, if any."""
    meaningful = [t for t in tokens(sql) if t.text != ";"]
    if len(meaningful) >= 2 and _is_word(meaningful[-2], "FORMAT") and meaningful[-2].depth == 0:
        return meaningful[-1].text
    return None


def insert_from_infile(sql: str, path: str) -> str:
    """Name the file that holds the rows: `INSERT INTO t (c) FROM INFILE 'p' FORMAT x`.

    ClickHouse's grammar puts `FROM INFILE` before any `SETTINGS` and `FORMAT` clause.
    """
    for token in tokens(sql):
        if token.depth == 0 and (_is_word(token, "SETTINGS") or _is_word(token, "FORMAT")):
            position = token.start
            return f"{sql[:position]}FROM INFILE {quote_string(path)} {sql[position:]}"
    raise ValueError("an INSERT with rows in the body needs a FORMAT clause")


def quote_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def quote_identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def quote_setting(value: str) -> str:
    """A setting's value from a URL: numbers stay numbers, anything else is a string."""
    return value if re.fullmatch(r"-?\d+(\.\d+)?", value) else quote_string(value)
