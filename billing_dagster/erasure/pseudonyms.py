"""Keyed hashes that stand for erased values: `erased:` and the HMAC-SHA256 of the value
under the installation's erasure key. Equal values get equal pseudonyms, so unique counts
are unchanged; without the key nobody can test a guess of the value against one.

The same rule runs in Python (for raw lines in quarantine and in the landing zone) and in
the warehouse (`HMAC('sha256', ...)`, for stored properties): `sql_pseudonym` is that
expression, and tests check both agree byte for byte.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from pathlib import Path

PREFIX = "erased:"
_KEY_BYTES = 32


def erasure_key(home: Path) -> bytes:
    """The installation's erasure key, `<home>/erasure/hmac.key` (owner-only), made on first
    use. Two commands making it at once keep the first one written."""
    path = Path(home) / "erasure" / "hmac.key"
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        aside = path.with_name(f".hmac.key.{os.getpid()}")
        descriptor = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(_KEY_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(aside, path)  # fails if another command made it first: theirs stands
        except FileExistsError:
            pass
        finally:
            aside.unlink()
    return bytes.fromhex(path.read_text().strip())


def pseudonym(key: bytes, value: str) -> str:
    if value.startswith(PREFIX):
        return value  # erased already: erasing twice changes nothing
    return PREFIX + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def sql_pseudonym(value: str) -> str:
    """`pseudonym` as a ClickHouse expression of `value`; the key is the `{key:String}`
    parameter, in hex."""
    return (
        f"if(startsWith({value}, '{PREFIX}'), {value}, "
        f"concat('{PREFIX}', lower(hex(HMAC('sha256', {value}, unhex({{key:String}}))))))"
    )


_JSON_STRING = r'"(?:[^"\\]|\\.)*"'
_SCALAR = r"-?[0-9][0-9.eE+-]*|true|false"


def erase_line(line: str, customer_id: str, properties: tuple[str, ...], key: bytes) -> str:
    """`line` with the values of `properties` replaced by their pseudonyms, if the line is
    the customer's: a JSON object of that `customer_id`, or a line that does not parse and
    names it. Only those values change; every other byte stays as written. A value is hashed
    as the loader stores it: a string decoded, any other scalar as written."""
    if not properties or not _is_of(line, customer_id):
        return line
    names = "|".join(re.escape(json.dumps(name)) for name in properties)
    pattern = re.compile(rf"({names})(\s*:\s*)({_JSON_STRING}|{_SCALAR})")

    def replaced(found: re.Match) -> str:
        token = found.group(3)
        value = json.loads(token) if token.startswith('"') else token
        return found.group(1) + found.group(2) + json.dumps(pseudonym(key, value))

    return pattern.sub(replaced, line)


def _is_of(line: str, customer_id: str) -> bool:
    if json.dumps(customer_id) not in line and customer_id not in line:
        return False
    try:
        event = json.loads(line)
    except ValueError:
        return True  # cannot tell whose it is, and it names the customer
    return not isinstance(event, dict) or event.get("customer_id") == customer_id
