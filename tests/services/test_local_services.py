"""wac.localservices against the real local Kafka and PostgreSQL (shared; never stopped here)."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from cryptography import x509

from tests.support.foreign_certs import write_foreign_client_cert
from wac.localservices import LocalServices, ServiceStatus
from wac.localservices.certs import ensure_certs

pytestmark = pytest.mark.integration

ENV_KEYS = {
    "KAFKA_ENDPOINT",
    "KAFKA_PLAINTEXT_ENDPOINT",
    "KAFKA_CERT_DIR",
    "KAFKA_USE_SSL",
    "KAFKA_TOPIC",
    "POSTGRES_ENDPOINT",
}


@pytest.fixture(scope="session")
def services() -> LocalServices:
    svc = LocalServices()
    svc.up()
    return svc


@pytest.fixture(scope="session")
def env(services: LocalServices) -> dict[str, str]:
    return services.env()


def ssl_config(
    env: dict[str, str], cert_dir: Path | None = None, extra: dict[str, object] | None = None
) -> dict:
    d = Path(cert_dir or env["KAFKA_CERT_DIR"])
    conf: dict[str, object] = {
        "bootstrap.servers": env["KAFKA_ENDPOINT"],
        "security.protocol": "SSL",
        "ssl.ca.location": str(d / "ca.pem"),
        "ssl.certificate.location": str(d / "service.cert"),
        "ssl.key.location": str(d / "service.key"),
    }
    conf.update(extra or {})
    return conf


@pytest.fixture()
def scratch_topic(env: dict[str, str]):
    """A throw-away topic, so tests never write into the application's topic."""
    admin = AdminClient(ssl_config(env))
    name = f"wac-services-test-{uuid.uuid4().hex[:8]}"
    admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])[name].result()
    yield name
    admin.delete_topics([name], operation_timeout=30)[name].result()


def test_up_is_idempotent_and_fast(services: LocalServices) -> None:
    before = {s.name: s.pid for s in services.status()}
    started = time.monotonic()
    services.up()
    LocalServices().up()  # a second instance (another process would look the same)
    elapsed = time.monotonic() - started
    after = {s.name: s.pid for s in services.status()}
    assert after == before
    assert elapsed < 5, f"warm up() took {elapsed:.1f} s"


def test_status_reports_running(services: LocalServices) -> None:
    statuses = services.status()
    assert [s.name for s in statuses] == ["kafka", "postgres"]
    for st in statuses:
        assert isinstance(st, ServiceStatus)
        assert st.running, st
        assert isinstance(st.pid, int) and st.pid > 0
        assert st.endpoint.startswith("127.0.0.1:")
        assert st.log_path.exists(), st.log_path


def test_env_has_the_right_keys(services: LocalServices, env: dict[str, str]) -> None:
    assert set(env) >= ENV_KEYS
    assert env["KAFKA_USE_SSL"] == "true"
    assert env["KAFKA_ENDPOINT"] == f"127.0.0.1:{services.settings.kafka_ssl_port}"
    assert env["KAFKA_PLAINTEXT_ENDPOINT"] == f"127.0.0.1:{services.settings.kafka_port}"
    assert env["KAFKA_TOPIC"] == services.settings.topic
    assert env["POSTGRES_ENDPOINT"].startswith("postgresql://wac:")
    cert_dir = Path(env["KAFKA_CERT_DIR"])
    assert env["POSTGRES_ENDPOINT"].endswith(
        f"@127.0.0.1:{services.settings.postgres_port}/wac"
        f"?sslmode=verify-full&sslrootcert={cert_dir / 'ca.pem'}"
    )
    assert cert_dir.is_absolute()
    assert sorted(p.name for p in cert_dir.iterdir()) == ["ca.pem", "service.cert", "service.key"]
    assert stat.S_IMODE((cert_dir / "service.key").stat().st_mode) == 0o600
    assert stat.S_IMODE(services.paths.postgres_password.stat().st_mode) == 0o600
    assert stat.S_IMODE((services.paths.pki / "ca.key").stat().st_mode) == 0o600


def test_one_command_for_the_local_services_both_ways(services: LocalServices) -> None:
    """`python -m wac.localservices` is `wac services`: the same `env` lines, word for word."""
    wac = Path(sys.executable).with_name("wac")
    unset = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "POSTGRES_"))}
    by_wac = subprocess.run(
        [wac, "services", "env"], capture_output=True, text=True, check=True, env=unset
    )
    by_module = subprocess.run(
        [sys.executable, "-m", "wac.localservices", "env"],
        capture_output=True,
        text=True,
        check=True,
        env=unset,
    )
    assert by_module.stdout == by_wac.stdout
    assert by_wac.stdout.splitlines()[0].startswith("export ")


def test_topic_exists_with_partitions(services: LocalServices, env: dict[str, str]) -> None:
    md = AdminClient(ssl_config(env)).list_topics(timeout=10)
    topic = md.topics[env["KAFKA_TOPIC"]]
    assert topic.error is None
    assert len(topic.partitions) >= 1
    assert all(p.leader >= 0 for p in topic.partitions.values())


def test_ssl_roundtrip_with_client_cert(env: dict[str, str], scratch_topic: str) -> None:
    payload = uuid.uuid4().bytes
    delivered: list[object] = []
    producer = Producer(ssl_config(env, extra={"acks": "all", "enable.idempotence": True}))
    producer.produce(scratch_topic, payload, on_delivery=lambda err, msg: delivered.append(err))
    assert producer.flush(30) == 0
    assert delivered == [None]

    consumer = Consumer(
        ssl_config(
            env,
            extra={"group.id": f"wac-test-{uuid.uuid4().hex[:8]}", "auto.offset.reset": "earliest"},
        )
    )
    try:
        consumer.subscribe([scratch_topic])
        deadline = time.monotonic() + 30
        got = None
        while got is None and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is not None and msg.error() is None:
                got = msg.value()
        assert got == payload
    finally:
        consumer.close()


def test_plaintext_listener_for_tools(env: dict[str, str]) -> None:
    md = AdminClient({"bootstrap.servers": env["KAFKA_PLAINTEXT_ENDPOINT"]}).list_topics(timeout=10)
    assert env["KAFKA_TOPIC"] in md.topics


def _rejection(conf: dict) -> str:
    """The first error the client sees (the broker is up, so it is the TLS verdict)."""
    errors: list[str] = []
    producer = Producer({**conf, "error_cb": lambda err: errors.append(err.str())})
    deadline = time.monotonic() + 15
    while not errors and time.monotonic() < deadline:
        producer.poll(0.05)
    assert errors, "the SSL listener accepted a client it should have refused"
    return errors[0]


def test_ssl_rejects_client_without_cert(env: dict[str, str]) -> None:
    conf = ssl_config(env)
    del conf["ssl.certificate.location"]
    del conf["ssl.key.location"]
    assert "certificate" in _rejection(conf)


def test_ssl_rejects_cert_from_another_ca(env: dict[str, str], tmp_path: Path) -> None:
    files, _ = ensure_certs(tmp_path / "pki", tmp_path / "certs")
    conf = ssl_config(env, cert_dir=files.client_dir)
    conf["ssl.ca.location"] = str(Path(env["KAFKA_CERT_DIR"]) / "ca.pem")  # trust the broker
    assert "certificate" in _rejection(conf)


def test_broker_cert_names_localhost_and_loopback(services: LocalServices) -> None:
    pem = (services.paths.pki / "broker.pem").read_bytes()
    assert b"BEGIN PRIVATE KEY" in pem  # unencrypted PKCS#8 for the PEM keystore
    leaf = x509.load_pem_x509_certificates(pem)[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert "127.0.0.1" in {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}


def test_postgres_app_user_logs_in_with_password(env: dict[str, str]) -> None:
    with psycopg.connect(env["POSTGRES_ENDPOINT"], connect_timeout=10) as conn:
        user, db = conn.execute("SELECT current_user, current_database()").fetchone()  # type: ignore[misc]
    assert (user, db) == ("wac", "wac")


def test_postgres_url_verifies_the_server_certificate(env: dict[str, str]) -> None:
    """Like a managed database: TLS on, server certificate and host name verified."""
    url = env["POSTGRES_ENDPOINT"]
    assert "sslmode=verify-full" in url and "sslrootcert=" in url
    with psycopg.connect(url, connect_timeout=10) as conn:
        row = conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
    assert row == (True,)


def test_postgres_refuses_a_server_signed_by_another_ca(
    env: dict[str, str], tmp_path: Path
) -> None:
    stranger = tmp_path / "stranger"
    write_foreign_client_cert(stranger)
    url = env["POSTGRES_ENDPOINT"].split("sslrootcert=")[0] + f"sslrootcert={stranger}/ca.pem"
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        psycopg.connect(url, connect_timeout=10)


def test_postgres_rejects_missing_or_wrong_password(services: LocalServices) -> None:
    port = services.settings.postgres_port
    base = f"host=127.0.0.1 port={port} user=wac dbname=wac connect_timeout=10"
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(base + " password=''")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(base + " password=not-the-password")


def test_stale_pid_file_is_not_running(tmp_path: Path) -> None:
    svc = LocalServices(home=tmp_path / "home")
    svc.paths.kafka.mkdir(parents=True)
    svc.paths.kafka_pid.write_text("1\n")  # pid 1 exists but is not our broker
    statuses = {s.name: s for s in svc.status()}
    assert not statuses["kafka"].running
    assert not statuses["postgres"].running


def _free_port() -> int:
    """A free port below the ephemeral range (clients' source ports can't take it meanwhile)."""
    for port in random.sample(range(20000, 30000), 200):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def test_postgres_restart_and_kill_9_recovery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A private cluster (own home and port): stop/start, and start after a kill -9."""
    monkeypatch.setenv("WAC_POSTGRES_PORT", str(_free_port()))
    svc = LocalServices(home=tmp_path / "home")
    try:
        svc.start_postgres()
        url = svc.env()["POSTGRES_ENDPOINT"]
        with psycopg.connect(url) as conn:
            conn.execute("CREATE TABLE t (x int)")
            conn.execute("INSERT INTO t VALUES (1)")
        svc.stop_postgres()
        svc.stop_postgres()  # idempotent
        assert not svc.status()[1].running
        svc.start_postgres()
        pid = svc.postgres.pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)  # leaves postmaster.pid (and maybe a zombie) behind
        deadline = time.monotonic() + 10
        while svc.postgres.running() and time.monotonic() < deadline:
            time.sleep(0.05)
        svc.start_postgres()
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]
    finally:
        svc.stop_postgres()
        base = svc.postgres.layout().base
        if str(base).startswith("/var/lib/wac/"):  # root fallback outside tmp_path
            shutil.rmtree(base, ignore_errors=True)


def _free_ports(count: int) -> int:
    """The first of `count` consecutive free ports below the ephemeral range."""
    for _ in range(200):
        first = _free_port()
        if all(_bindable(first + i) for i in range(1, count)):
            return first
    raise RuntimeError("no free ports")


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_a_broker_that_exits_during_start_up_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The error names how the JVM ended and the cause Kafka logged, not only the dozens of
    shutting-down lines that follow it in kafka.log."""
    from wac.localservices.errors import ServiceError

    monkeypatch.setenv("WAC_KAFKA_PORT", str(_free_ports(3)))
    svc = LocalServices(home=tmp_path / "home")
    try:
        svc.start_kafka()
        svc.stop_kafka()
        meta = svc.paths.kafka_data / "meta.properties"
        meta.write_text(meta.read_text().replace("node.id=1", "node.id=7"))
        with pytest.raises(ServiceError) as failed:
            svc.start_kafka()
    finally:
        svc.stop_kafka()
    text = str(failed.value)
    assert "exited with code 1 during start-up" in text, text
    assert "the JVM" in text and str(svc.paths.kafka_out) in text, text
    cause = text.split("First errors in", 1)[1].split("Last lines of", 1)[0]
    assert "Stored node id 7 doesn't match previous node id 1" in cause, text


def _services_command(
    args: list[str], folder: Path, dotenv: str, **environ: str
) -> subprocess.CompletedProcess[str]:
    """`wac services ...` run from `folder`, its settings in `folder/.env` (and `environ`)."""
    (folder / ".env").write_text(dotenv)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "POSTGRES_", "WAC_"))}
    return subprocess.run(
        [sys.executable, "-m", "wac", "services", *args],
        cwd=folder,
        env={**env, **environ},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _dotenv_of(services: LocalServices) -> str:
    return (
        f"WAC_HOME={services.home}\nWAC_KAFKA_PORT={services.settings.kafka_port}\n"
        f"WAC_POSTGRES_PORT={services.settings.postgres_port}\n"
    )


def test_services_read_their_settings_from_dotenv_and_status_exits_0_when_running(
    services: LocalServices, tmp_path: Path
) -> None:
    done = _services_command(["status"], tmp_path, _dotenv_of(services))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"kafka: running (pid {services.kafka.pid()}) at {services.kafka.ssl_endpoint}" in (
        done.stdout
    )
    assert f"postgres: running (pid {services.postgres.pid()})" in done.stdout


def test_status_exits_3_and_names_what_holds_the_ports(
    services: LocalServices, tmp_path: Path
) -> None:
    """Another WAC_HOME on the same ports: not "stopped", but who is on the port."""
    other = tmp_path / "other-home"
    dotenv = _dotenv_of(services).replace(f"WAC_HOME={services.home}", f"WAC_HOME={other}")
    done = _services_command(["status"], tmp_path, dotenv)
    assert done.returncode == 3, done.stdout + done.stderr
    kafka, postgres = done.stdout.splitlines()
    assert kafka.startswith(f"kafka: not running here (WAC_HOME {other}); its port is taken by ")
    assert f"the Kafka of WAC_HOME {services.home} (pid {services.kafka.pid()})" in kafka
    assert postgres.startswith("postgres: not running here") and "PostgreSQL" in postgres
    assert f"(pid {services.postgres.pid()})" in postgres
    free = f"WAC_HOME={other}\nWAC_KAFKA_PORT={_free_port()}\nWAC_POSTGRES_PORT={_free_port()}\n"
    stopped = _services_command(["status"], tmp_path, free)
    assert stopped.returncode == 3
    assert [line.split(" at ")[0] for line in stopped.stdout.splitlines()] == [
        "kafka: stopped",
        "postgres: stopped",
    ]


def test_services_env_never_overrides_a_setting_the_user_gave(
    services: LocalServices, env: dict[str, str], tmp_path: Path
) -> None:
    """The topic in .env stays the user's (it is never printed); an endpoint the user set
    (.env or the shell) is kept, said on stderr; the rest point at the local services."""
    dotenv = _dotenv_of(services) + "KAFKA_TOPIC=my-topic\nKAFKA_ENDPOINT=kafka.example.com:9093\n"
    done = _services_command(
        ["env"], tmp_path, dotenv, POSTGRES_ENDPOINT="postgresql://me@db.example/x"
    )
    assert done.returncode == 0, done.stderr
    printed = dict(line.removeprefix("export ").split("=", 1) for line in done.stdout.splitlines())
    assert set(printed) == {"KAFKA_PLAINTEXT_ENDPOINT", "KAFKA_CERT_DIR"}
    assert printed["KAFKA_CERT_DIR"] == env["KAFKA_CERT_DIR"]
    assert "KAFKA_ENDPOINT is yours (environment or .env): kept" in done.stderr
    assert "POSTGRES_ENDPOINT is yours (environment or .env): kept" in done.stderr
    # evaluated by a shell, then a command: the user's topic and endpoint are what it reads
    shell = subprocess.run(
        [
            "bash",
            "-c",
            f'eval "$({sys.executable} -m wac services env 2>/dev/null)"; '
            f"{sys.executable} -c 'from wac.config import load_settings as l; s = l(); "
            "print(s.kafka_topic, s.kafka_endpoint, s.kafka_cert_dir)'",
        ],
        cwd=tmp_path,
        env={
            k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "POSTGRES_", "WAC_"))
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert shell.stdout.split() == ["my-topic", "kafka.example.com:9093", env["KAFKA_CERT_DIR"]]
