"""A throw-away PostgreSQL server for the tests: Debian's server binaries (package
`postgresql`, installed by `make test` where apt-get can), a cluster in a temporary folder,
listening on a free loopback port, stopped at the end. As root the server runs as the
`postgres` system user, since PostgreSQL refuses to run as root."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


class PostgresUnavailable(Exception):
    pass


def server_binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        raise PostgresUnavailable("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (apt-get install postgresql; `make test` does this where apt-get and root are available)")
    return Path(found[-1]).parent


class TemporaryPostgres:
    def __init__(self) -> None:
        self.bin = server_binaries()
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise PostgresUnavailable("the psycopg driver is not installed (pip install 'lipauth[postgres]')") from None
        self.root = Path(tempfile.mkdtemp(prefix="lipauth-pg-"))
        self.data = self.root / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                raise PostgresUnavailable("running as root without runuser: cannot start PostgreSQL as an unprivileged user")
            shutil.chown(self.root, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self.as_user, *args], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise PostgresUnavailable(f"{Path(args[0]).name} failed: {(done.stderr or done.stdout).strip()[-400:]}")

    def start(self) -> "TemporaryPostgres":
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "lipauth", "--no-sync")
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.root / "server.log"), "-w", "start")
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://lipauth@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(f"postgresql://lipauth@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
