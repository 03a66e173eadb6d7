"""Where the warehouse is: a ClickHouse server named by the environment, or the embedded one.

The CLI, the Dagster resource and the dbt profile read the same variables
(`CLICKHOUSE_HOST`, `CLICKHOUSE_PORT`, `CLICKHOUSE_USER`, `CLICKHOUSE_PASSWORD`,
`CLICKHOUSE_SECURE`, `CLICKHOUSE_DATABASE`, and `CLICKHOUSE_USER_FILES_PATH`: the server's
directory that `file()` reads, which must hold the landing zone); with no host set,
everything uses the embedded warehouse under the billing home, started on demand, with its
own password. One code path, only the endpoint differs.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from billing_dagster.settings import DEFAULT_DATABASE, WarehouseSettings
from billing_dagster.warehouse import embedded


def billing_home(explicit: str | os.PathLike | None = None) -> Path:
    """`--home`, else `BILLING_HOME`, else `./.billing`; always absolute."""
    return Path(explicit or os.environ.get("BILLING_HOME") or ".billing").resolve()


def keep_private(home: Path) -> None:
    """Everything this process creates is its owner's alone (0700 folders, 0600 files), and
    the home itself is closed to others even if an older version made it open."""
    os.umask(0o077)
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    if home.stat().st_mode & 0o077:
        home.chmod(0o700)


@dataclass(frozen=True)
class ClickHouseSettings:
    host: str
    port: int
    user: str = "default"
    password: str = ""
    secure: bool = False
    database: str = DEFAULT_DATABASE
    #: Where the server's `file()` reads from; the loader names landed files relative to it.
    files_root: str = ""

    @classmethod
    def resolve(
        cls,
        home: Path,
        host: str = "",
        port: int = 0,
        user: str = "default",
        password: str = "",
        secure: bool = False,
        database: str = DEFAULT_DATABASE,
        files_root: str = "",
    ) -> ClickHouseSettings:
        """The server named by `host`, or the embedded warehouse of `home` when empty."""
        if host:
            port = port or (8443 if secure else 8123)
            return cls(host, port, user, password, secure, database, files_root)
        return cls.embedded(embedded.ensure_running(home), database)

    @classmethod
    def embedded(cls, endpoint: embedded.Endpoint, database: str = DEFAULT_DATABASE):
        """The settings of an embedded warehouse endpoint, its password included."""
        return cls(
            endpoint.host,
            endpoint.port,
            endpoint.user,
            endpoint.password,
            False,
            database,
            str(endpoint.files_root),
        )

    @classmethod
    def of(cls, home: Path, warehouse: WarehouseSettings) -> ClickHouseSettings:
        """The warehouse the settings name, or the embedded one of `home`."""
        return cls.resolve(home, **dataclasses.asdict(warehouse))

    def client(self, **settings) -> Client:
        """A clickhouse-connect client; the database may not exist yet, so none is selected."""
        return clickhouse_connect.get_client(
            host=self.host,
            port=self.port,
            username=self.user,
            password=self.password,
            secure=self.secure,
            settings=settings or None,
            query_limit=0,
            connect_timeout=10,
            send_receive_timeout=3600,
        )

    def file_path(self, path: Path) -> str:
        """How `file()` on the server names a landed file: inside its files root, as the
        server sees it (the embedded one through a link free of glob characters)."""
        if not self.files_root:
            return str(path)
        relative = os.path.relpath(Path(path).resolve(), Path(self.files_root).resolve())
        if relative.startswith(".."):
            raise ValueError(
                f"{path} is outside {self.files_root}, the only directory the warehouse reads "
                f"files from; the billing home's landing zone must be inside it"
            )
        return os.path.join(self.files_root, relative)

    def dbt_env(self) -> dict[str, str]:
        """The variables the dbt profile reads, pointing at this same endpoint."""
        return {
            "CLICKHOUSE_HOST": self.host,
            "CLICKHOUSE_PORT": str(self.port),
            "CLICKHOUSE_USER": self.user,
            "CLICKHOUSE_PASSWORD": self.password,
            "CLICKHOUSE_SECURE": "true" if self.secure else "false",
            "CLICKHOUSE_DATABASE": self.database,
        }
