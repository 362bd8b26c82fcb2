"""A private, throw-away PostgreSQL cluster for integration tests (trust auth, 127.0.0.1 only).

The server runs as the `postgres` user (initdb refuses root) with durability switched off for speed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

from tests.support.ports import free_port

PG_VERSION = "15"
PG_BIN = Path(f"/usr/lib/postgresql/{PG_VERSION}/bin")
SERVER_USER = "postgres"


class PostgresUnavailable(RuntimeError):
    pass


def ensure_installed() -> None:
    """Install the Debian postgresql package if its binaries are missing (waits for a running apt)."""
    if (PG_BIN / "initdb").exists():
        return
    if os.geteuid() != 0:
        raise PostgresUnavailable(f"{PG_BIN}/initdb missing and not root to install it")
    result = subprocess.run(
        ["apt-get", "install", "-y", "-q", "-o", "DPkg::Lock::Timeout=600", "postgresql"],
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0 or not (PG_BIN / "initdb").exists():
        raise PostgresUnavailable(f"apt-get install postgresql failed: {result.stderr[-2000:]}")


def _as_server_user(*command: str | Path) -> list[str]:
    args = [str(part) for part in command]
    return ["runuser", "-u", SERVER_USER, "--", *args] if os.geteuid() == 0 else args


class PostgresCluster:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="overcast-pg-"))
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.log_file = self.root / "server.log"
        self.port = free_port()
        self.running = False

    def start(self) -> None:
        ensure_installed()
        self.socket_dir.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.root, SERVER_USER, SERVER_USER)
            shutil.chown(self.socket_dir, SERVER_USER, SERVER_USER)
        self._run(
            PG_BIN / "initdb",
            "-D",
            self.data_dir,
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        )
        options = (
            f"-k {self.socket_dir} -p {self.port} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c deadlock_timeout=100ms "
            "-c max_connections=100"
        )
        self._run(
            PG_BIN / "pg_ctl",
            "-D",
            self.data_dir,
            "-l",
            self.log_file,
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        self.running = True

    def _run(self, *command: str | Path) -> None:
        result = subprocess.run(_as_server_user(*command), capture_output=True, text=True, cwd=self.root)
        if result.returncode != 0:
            log = self.log_file.read_text() if self.log_file.exists() else ""
            raise PostgresUnavailable(f"{command[0]} failed: {result.stdout}{result.stderr}{log[-2000:]}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        )

    def create_database(self, name: str | None = None) -> str:
        name = name or f"test_{uuid.uuid4().hex[:16]}"
        with self._admin() as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        with self._admin() as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def stop(self) -> None:
        try:
            if self.running:
                self._run(PG_BIN / "pg_ctl", "-D", self.data_dir, "-m", "immediate", "-w", "stop")
                self.running = False
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
