"""A private PostgreSQL 15 cluster on 127.0.0.1 for the application's ``wac`` user.

Binaries come from Debian's ``postgresql-15`` (installed with apt-get when missing and we are
root); they live in ``/usr/lib/postgresql/15/bin``, which is not on ``PATH``
(``WAC_PG_BIN`` overrides the folder).

Where the cluster lives:

* normally ``<home>/postgres/data``, with the unix socket in ``<home>/postgres/run`` and the
  server log in ``<home>/postgres/postgres.log``;
* when running as root, ``initdb`` and ``pg_ctl`` refuse root, so they run as the ``postgres``
  user (``runuser -u postgres --``) and the data folder belongs to ``postgres``. That user must
  be able to traverse to ``<home>/postgres``; when it cannot (say the checkout is under
  ``/root`` with mode 0700) the cluster, socket and log go to ``/var/lib/wac/<hash>/`` instead,
  where ``<hash>`` is the first 12 hex digits of the SHA-256 of the home folder's path, and
  ``<home>/postgres/postgres.log`` becomes a symlink to the real log.

The ``wac`` role's password is random, stored in ``<home>/postgres/password`` (0600); the server
only ever sees its SCRAM-SHA-256 verifier. Host connections need ``scram-sha-256``; the unix
socket (owner-only folder) uses ``peer`` for the superuser that sets the role up.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import secrets
import shutil
import string
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from wac.errors import first_line
from wac.localservices.errors import ServiceError
from wac.localservices.paths import Paths, Settings
from wac.localservices.proc import (
    alive_matching,
    make_dir,
    port_free,
    processes_in,
    read_pid,
    tail,
    terminate,
    with_log_tail,
    write_private,
)
from wac.localservices.system import apt_install, is_root

HOST = "127.0.0.1"
APP_USER = "wac"
APP_DB = "wac"
PG_MAJOR = "15"
START_TIMEOUT = 60
STOP_TIMEOUT = 60
RUN_AS = "postgres"  # the OS user that owns the cluster when we are root

# Run by the superuser over the unix socket; idempotent. Errors must not echo the statement
# (it holds the SCRAM verifier) into the server log, hence log_min_error_statement.
SETUP_SQL = """\
SET log_min_error_statement = panic;
SET log_statement = 'none';
DO $$BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'wac') THEN
    CREATE ROLE wac LOGIN;
  END IF;
END$$;
ALTER ROLE wac WITH LOGIN CREATEDB PASSWORD :'verifier';
SELECT 'CREATE DATABASE wac OWNER wac'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'wac')\\gexec
ALTER DATABASE wac OWNER TO wac;
"""


def scram_verifier(password: str, iterations: int = 4096) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for ``password`` (RFC 5802/7677)."""
    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def new_password(length: int = 32) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


@dataclass(frozen=True)
class Layout:
    base: Path
    data: Path
    socket_dir: Path
    log: Path


class PostgresService:
    name = "postgres"

    def __init__(self, paths: Paths, settings: Settings) -> None:
        self.paths = paths
        self.settings = settings
        self._layout: Layout | None = None

    # ----------------------------------------------------------------- layout
    @property
    def endpoint(self) -> str:
        return f"{HOST}:{self.settings.postgres_port}"

    def _fallback_base(self) -> Path:
        digest = hashlib.sha256(str(self.paths.home).encode()).hexdigest()[:12]
        return Path("/var/lib/wac") / digest

    def _layout_at(self, base: Path) -> Layout:
        socket_dir = base / "run"
        # unix socket paths are limited to 107 bytes (".s.PGSQL.NNNNN" included)
        if len(str(socket_dir)) > 90:
            digest = hashlib.sha256(str(base).encode()).hexdigest()[:12]
            socket_dir = Path("/tmp") / f"wac-pg-{digest}"  # noqa: S108 - short path needed
        return Layout(
            base=base, data=base / "data", socket_dir=socket_dir, log=base / "postgres.log"
        )

    def layout(self, decide: bool = False) -> Layout:
        """Where the cluster is. With ``decide``, pick a place for a new one (may create dirs)."""
        if self._layout is not None:
            return self._layout
        home_base = self.paths.postgres
        fallback = self._fallback_base()
        if (home_base / "data" / "PG_VERSION").exists():
            chosen = home_base
        elif is_root() and (fallback / "data" / "PG_VERSION").exists():
            chosen = fallback
        elif not decide:
            return self._layout_at(home_base)  # nothing yet; don't remember the guess
        elif not is_root():
            chosen = home_base
        else:
            make_dir(self.paths.home, 0o711)
            make_dir(home_base, 0o711)
            chosen = home_base if self._postgres_can_traverse(home_base) else fallback
        self._layout = self._layout_at(chosen)
        return self._layout

    @staticmethod
    def _postgres_can_traverse(path: Path) -> bool:
        rc = subprocess.run(
            ["runuser", "-u", RUN_AS, "--", "test", "-x", str(path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            cwd="/",
        ).returncode
        return rc == 0

    @property
    def log_path(self) -> Path:
        return self.layout().log

    # ----------------------------------------------------------------- process
    def pid(self) -> int | None:
        """The postmaster's pid when it runs (stale postmaster.pid files are ignored)."""
        data = self.layout().data
        pid = read_pid(data / "postmaster.pid")
        return pid if alive_matching(pid, ["postgres", str(data)]) else None

    def running(self) -> bool:
        return self.pid() is not None

    def _as_owner(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", RUN_AS, "--", *argv] if is_root() else argv

    def _chown(self, path: Path) -> None:
        if is_root():
            shutil.chown(path, user=RUN_AS, group=RUN_AS)

    def _pg_ctl(self, lay: Layout, action: str, *args: str) -> int:
        """`pg_ctl <action> -D <data> <args>`, logged to pg_ctl.log; its exit code."""
        argv = [str(self.settings.pg_bin / "pg_ctl"), action, "-D", str(lay.data), *args]
        return self._run(argv, lay.base / "pg_ctl.log")

    def _run(self, argv: list[str], log: Path, stdin: bytes | None = None) -> int:
        with log.open("ab") as out:
            out.write(f"$ {' '.join(argv)}\n".encode())
            out.flush()
            return subprocess.run(
                self._as_owner(argv),
                input=stdin,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd="/",
                start_new_session=True,
            ).returncode

    # ----------------------------------------------------------------- secrets
    def password(self) -> str:
        """The ``wac`` role's password (made on first use, kept in a 0600 file)."""
        path = self.paths.postgres_password
        try:
            value = path.read_text().strip()
        except FileNotFoundError:
            value = ""
        if not value:
            make_dir(self.paths.home, 0o711 if is_root() else 0o700)
            make_dir(self.paths.postgres, 0o711 if is_root() else 0o700)
            value = new_password()
            write_private(path, value + "\n", 0o600)
        return value

    def url(self) -> str:
        """The app's URL: TLS with the server certificate and host name verified."""
        return (
            f"postgresql://{APP_USER}:{self.password()}@{HOST}:{self.settings.postgres_port}"
            f"/{APP_DB}?sslmode=verify-full&sslrootcert={self.paths.certs / 'ca.pem'}"
        )

    # ----------------------------------------------------------------- TLS
    def _install_tls(self, lay: Layout) -> bool:
        """Copy the local CA's server certificate (SAN localhost, 127.0.0.1) into the cluster.

        The broker's keystore is reused: same CA, same host names. Returns True when the
        files changed (the server must then reload its configuration).
        """
        keystore = (self.paths.pki / "broker.pem").read_text()
        marker = "-----END PRIVATE KEY-----"
        key_text, _, chain = keystore.partition(marker)
        if not chain:
            raise ServiceError(f"{self.paths.pki / 'broker.pem'} holds no private key")
        wanted = {"server.key": key_text + marker + "\n", "server.crt": chain.lstrip()}
        changed = False
        for name, text in wanted.items():
            path = lay.data / name
            try:
                current = path.read_text()
            except OSError:
                current = None
            if current != text:
                self._write_owned(path, text)
                changed = True
        return changed

    # ----------------------------------------------------------------- setup
    def _ensure_installed(self) -> None:
        if (self.settings.pg_bin / "initdb").exists():
            return
        apt_install(
            [f"postgresql-{PG_MAJOR}"],
            self.paths.home / "apt.log",
            f"PostgreSQL {PG_MAJOR} ({self.settings.pg_bin / 'initdb'})",
        )
        if not (self.settings.pg_bin / "initdb").exists():
            raise ServiceError(
                f"postgresql-{PG_MAJOR} was installed but {self.settings.pg_bin} is missing."
            )

    def _prepare(self, lay: Layout) -> None:
        private = 0o711 if is_root() else 0o700
        make_dir(self.paths.home, private)
        make_dir(self.paths.postgres, private)
        make_dir(lay.base, private)
        for folder in (lay.data, lay.socket_dir):
            make_dir(folder, 0o700)
            self._chown(folder)
        if not lay.log.exists():
            write_private(lay.log, b"", 0o600)
        self._chown(lay.log)
        link = self.paths.postgres / "postgres.log"
        if lay.log != link and not link.exists():
            with contextlib.suppress(OSError):
                link.symlink_to(lay.log)

    def _initdb(self, lay: Layout) -> bool:
        """Create the cluster unless it exists. True when it was just created."""
        if (lay.data / "PG_VERSION").exists():
            return False
        # an empty or half-made folder (no PG_VERSION) holds no cluster: start it over
        shutil.rmtree(lay.data, ignore_errors=True)
        make_dir(lay.data, 0o700)
        self._chown(lay.data)
        log = lay.base / "initdb.log"
        rc = self._run(
            [
                str(self.settings.pg_bin / "initdb"),
                "-D",
                str(lay.data),
                "--auth-local=peer",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
            ],
            log,
        )
        if rc != 0 or not (lay.data / "PG_VERSION").exists():
            raise ServiceError(with_log_tail(f"initdb for {lay.data} failed (exit {rc}).", log))
        hba = (
            "# Generated by wac.localservices.\n"
            "# TYPE  DATABASE  USER  ADDRESS       METHOD\n"
            "local   all       all                 peer\n"
            "host    all       all   127.0.0.1/32  scram-sha-256\n"
            "host    all       all   ::1/128       scram-sha-256\n"
        )
        self._write_owned(lay.data / "pg_hba.conf", hba)
        conf = lay.data / "postgresql.conf"
        with conf.open("a") as fh:
            fh.write("\n# wac.localservices settings (rewritten on every start)\n")
            fh.write("include_if_exists = 'wac.conf'\n")
        return True

    def _write_owned(self, path: Path, text: str) -> None:
        write_private(path, text, 0o600)
        self._chown(path)

    def _write_conf(self, lay: Layout) -> None:
        settings = {
            "listen_addresses": f"'{HOST}'",
            "port": str(self.settings.postgres_port),
            "unix_socket_directories": f"'{lay.socket_dir}'",
            "max_connections": "100",
            "shared_buffers": "'256MB'",
            "work_mem": "'16MB'",
            "maintenance_work_mem": "'128MB'",
            "fsync": "on",
            "synchronous_commit": "on",
            "max_wal_size": "'2GB'",
            "password_encryption": "'scram-sha-256'",
            "ssl": "on",
            "ssl_cert_file": "'server.crt'",
            "ssl_key_file": "'server.key'",
            "ssl_min_protocol_version": "'TLSv1.2'",
            "timezone": "'UTC'",
            "log_timezone": "'UTC'",
            "log_line_prefix": "'%m [%p] %q%u@%d '",
            "log_min_error_statement": "'error'",
        }
        text = "# Generated by wac.localservices on every start; edits are overwritten.\n"
        text += "".join(f"{key} = {value}\n" for key, value in settings.items())
        self._write_owned(lay.data / "wac.conf", text)

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Start the cluster unless it runs; make sure ``wac`` can log in. Idempotent."""
        pid = self.pid()
        if pid is not None:
            self._check_running_port(pid)
            lay = self.layout()
            if self._install_tls(lay):
                self._write_conf(lay)
                self._reload(lay)
            self._ensure_app_user(lay)
            return
        self._ensure_installed()
        lay = self.layout(decide=True)
        self._prepare(lay)
        fresh = self._initdb(lay)
        self._install_tls(lay)
        self._write_conf(lay)
        self._drop_stale_lock(lay)
        port = self.settings.postgres_port
        if not port_free(HOST, port):
            raise ServiceError(
                f"Cannot start PostgreSQL: port {HOST}:{port} is already in use by another "
                "process. Stop that process, or choose another port with WAC_POSTGRES_PORT."
            )
        ctl_log = lay.base / "pg_ctl.log"
        rc = self._pg_ctl(lay, "start", "-l", str(lay.log), "-w", "-t", str(START_TIMEOUT), "-s")
        if rc != 0 or not self.running():
            raise ServiceError(
                with_log_tail(f"PostgreSQL did not start (pg_ctl exit {rc}).", lay.log, ctl_log)
            )
        self._ensure_app_user(lay, fresh)

    def _reload(self, lay: Layout) -> None:
        log = lay.base / "pg_ctl.log"
        rc = self._pg_ctl(lay, "reload", "-s")
        if rc != 0:
            raise ServiceError(with_log_tail(f"PostgreSQL reload failed (exit {rc}).", log))
        time.sleep(0.5)  # the postmaster applies a reload asynchronously

    def _check_running_port(self, pid: int) -> None:
        """A running server must listen on the configured port (it comes from the env)."""
        try:
            lines = (self.layout().data / "postmaster.pid").read_text().splitlines()
            port = int(lines[3])  # postmaster.pid: pid, data dir, start time, port, ...
        except (OSError, IndexError, ValueError):
            return
        if port != self.settings.postgres_port:
            raise ServiceError(
                f"PostgreSQL is already running (pid {pid}) on port {port}, but the current "
                f"settings want {self.settings.postgres_port} (WAC_POSTGRES_PORT changed?). "
                "Stop it first (`wac services down`), then start it again."
            )

    def _drop_stale_lock(self, lay: Layout) -> None:
        """Remove the lock files (postmaster.pid, socket lock) left by a killed server.

        PostgreSQL clears stale lock files itself, except when the old pid still exists as a
        zombie (an init that doesn't reap orphans, as in some containers): then it refuses to
        start. We remove them once no live process works in the data folder any more (the
        killed server's children exit by themselves; we wait up to 10 s for that).
        """
        locks = [lay.data / "postmaster.pid", *lay.socket_dir.glob(".s.PGSQL.*.lock")]
        if not any(lock.exists() for lock in locks) or self.running():
            return
        deadline = time.monotonic() + 10
        while processes_in(lay.data):  # the killed server's children exit on their own
            if time.monotonic() >= deadline:
                return  # still there: let PostgreSQL's own check decide
            time.sleep(0.05)
        for lock in locks:
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()

    def _login_error(self) -> str | None:
        """None when ``wac`` can log in to ``wac`` with its password, else the error text."""
        import psycopg

        from wac.db.connect import connect

        try:
            with connect(self.url(), application_name="wac-services") as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            return first_line(exc)
        return None

    def _ensure_app_user(self, lay: Layout, fresh: bool = False) -> None:
        """Make sure ``wac`` logs in with the stored password (create/repair it if not)."""
        if not fresh and self._login_error() is None:
            return
        verifier = scram_verifier(self.password())
        # the verifier goes in as a psql variable (quoted by psql), never the password
        script = f"\\set verifier '{verifier}'\n" + SETUP_SQL
        log = lay.base / "setup.log"
        rc = self._run(
            [
                str(self.settings.pg_bin / "psql"),
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                str(lay.socket_dir),
                "-p",
                str(self.settings.postgres_port),
                "-d",
                "postgres",
                "-f",
                "-",
            ],
            log,
            stdin=script.encode(),
        )
        if rc != 0:
            raise ServiceError(
                with_log_tail(f"Setting up the {APP_USER!r} role failed (psql exit {rc}).", log)
            )
        error = self._login_error()
        if error is not None:
            raise ServiceError(
                with_log_tail(
                    f"PostgreSQL runs, but user {APP_USER!r} cannot log in to database "
                    f"{APP_DB!r} at {self.endpoint}: {error}",
                    lay.log,
                )
            )

    def stop(self) -> None:
        """``pg_ctl stop -m fast``; SIGTERM/SIGKILL if that fails. Idempotent."""
        pid = self.pid()
        if pid is None:
            return
        lay = self.layout()
        rc = self._pg_ctl(lay, "stop", "-m", "fast", "-w", "-t", str(STOP_TIMEOUT), "-s")
        if rc != 0 or self.running():
            terminate(pid, ["postgres", str(lay.data)], 10)

    def log_tail(self, lines: int = 20) -> str:
        return tail(self.layout().log, lines)
