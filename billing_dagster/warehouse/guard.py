"""What an HTTP client may not ask of the embedded warehouse: to reach outside it.

The engine runs inside the warehouse process, as the billing user, so a table function
such as `file('/etc/shadow')`, an `INSERT INTO FUNCTION file(...)`, a `File` or `URL`
engine, `INTO OUTFILE` or a `SYSTEM` statement would read or write that user's files or
reach the network. Every statement a client sends is checked here first; the one
exception is what the loader needs: reading an event file of the landing zone with
`file('<files link>/<path in the landing zone>', ...)` (the link is server.py's).
"""

from __future__ import annotations

from pathlib import Path

from billing_dagster.warehouse.sql_text import Token, tokens

#: Table functions, table engines, database engines and dictionary sources that read or
#: write files, run programs or open connections (lower case; ClickHouse ignores case for
#: most of them).
_OUTSIDE = frozenset(
    [
        "file",
        "filecluster",
        "url",
        "urlcluster",
        "http",
        "s3",
        "s3cluster",
        "s3queue",
        "gcs",
        "oss",
        "cosn",
        "hdfs",
        "hdfscluster",
        "azureblobstorage",
        "azureblobstoragecluster",
        "azurequeue",
        "remote",
        "remotesecure",
        "cluster",
        "clusterallreplicas",
        "distributed",
        "mysql",
        "mysqlcluster",
        "postgresql",
        "postgresqlcluster",
        "materializedmysql",
        "materializedpostgresql",
        "mongodb",
        "redis",
        "sqlite",
        "jdbc",
        "odbc",
        "executable",
        "executablepool",
        "kafka",
        "rabbitmq",
        "nats",
        "iceberg",
        "icebergs3",
        "icebergazure",
        "iceberghdfs",
        "iceberglocal",
        "icebergcluster",
        "icebergs3cluster",
        "icebergazurecluster",
        "iceberghdfscluster",
        "deltalake",
        "deltalakes3",
        "deltalakeazure",
        "deltalakelocal",
        "deltalakecluster",
        "hudi",
        "hudicluster",
        "paimon",
        "filesystem",
        "backup",
        "clickhouse",
        "cassandra",
        "yamlregexptree",
        "arrowflight",
        "ytsaurus",
        "python",
        "prometheusquery",
        "timeseriesdata",
        "timeseriesmetrics",
        "timeseriestags",
    ]
)
#: Statements that act on the server rather than on data.
_STATEMENTS = frozenset({"SYSTEM", "ATTACH", "BACKUP", "RESTORE"})
#: Keywords that name a file of the server.
_FILE_CLAUSES = frozenset({"INFILE", "OUTFILE"})
GLOB = set("*?{}[]")


class Refused(ValueError):
    """The statement reaches outside the warehouse; the message says which part."""


def check_statement(sql: str, files_link: Path, files_root: Path) -> None:
    """Raise `Refused` unless `sql` stays inside the warehouse (and the landing zone)."""
    meaningful = list(tokens(sql))
    if meaningful and meaningful[0].text.upper() in _STATEMENTS:
        raise Refused(f"{meaningful[0].text.upper()} statements are not available here")
    for position, token in enumerate(meaningful):
        word = _name(token)
        if word.upper() in _FILE_CLAUSES and token.kind == "word":
            raise Refused(f"{word.upper()} names a file of the server; it is not available here")
        if _is_word(token, "FUNCTION") and position and _is_word(meaningful[position - 1], "INTO"):
            raise Refused("INSERT INTO FUNCTION writes outside the warehouse; it is not available")
        if _is_word(token, "DICTIONARY") and position and _is_word(meaningful[0], "CREATE"):
            raise Refused("CREATE DICTIONARY is not available here")
        following = meaningful[position + 1] if position + 1 < len(meaningful) else None
        if following is None or following.text != "(" or word.lower() not in _OUTSIDE:
            continue
        arguments = meaningful[position + 2 :]
        if word.lower() == "file" and _landing_file(arguments, files_link, files_root):
            continue
        raise Refused(
            f"{word}(...) reaches files, programs or hosts outside the warehouse; it is not "
            f"available here (the loader reads files of the landing zone only)"
        )


def check_setting(name: str) -> None:
    """Settings that name server paths or schema files are refused too."""
    if "path" in name.lower() or "schema" in name.lower():
        raise Refused(f"setting {name} is not available here")


def _landing_file(arguments: list[Token], files_link: Path, files_root: Path) -> bool:
    """`file('<files link>/<path>', ...)` of a file inside the landing zone, with no glob,
    no `..` and no escape that could lead elsewhere."""
    if not arguments or arguments[0].kind != "string":
        return False
    literal = arguments[0].text
    path = literal[1:-1]
    if literal[0] != "'" or "\\" in path or "''" in path or GLOB & set(path):
        return False
    inside = Path(path)
    if not inside.is_relative_to(files_link) or ".." in inside.parts or inside == files_link:
        return False
    return inside.resolve().is_relative_to(files_root.resolve())


def _name(token: Token) -> str:
    if token.kind == "quoted":
        return token.text[1:-1]
    return token.text if token.kind == "word" else ""


def _is_word(token: Token, word: str) -> bool:
    return token.kind == "word" and token.text.upper() == word
