"""The monitor's quality bars (docs/quality-bars.md), measured in one run on this machine.

    .venv/bin/python -m bench.monitor.run [--repeats 3] [--window 6] [--json]
    (or: make bench-monitor BENCH_ARGS="...")

Starts its own nginx (Debian's nginx-light, with the echo module for the 200 ms
answers; HTTP, and HTTPS with a fresh ECDSA certificate and no session reuse) on free
high ports, with its own configuration in a temporary folder, and uses the local Kafka
over SSL (`wac services up`). Every rate comes from `wac monitor` processes publishing
to a topic of their own on that Kafka: checks/s is the growth of the topic's end
offsets over a measurement window, not a count kept by the monitor.

Repeated rounds (--repeats, at least three for the closing figures), each measuring
both sides of every ratio (bench/monitor/bars.py, bench/monitor/scale.py):
1. one process (`--workers 1 --max-in-flight 100`) and the default settings (no
   --workers, no --max-in-flight), 4,000 targets every 0.2 s (more due checks than they
   can run), over `ab` (a C client; a fresh connection per request, like the monitor)
   against the same nginx. Goals >= 0.40 and >= 0.50.
2. CPU per check of the one process (its processes' own CPU time over the window, per
   result in Kafka) over ab's CPU per request (wait4). Goal <= 2.5.
3. HTTPS, a full TLS handshake per check: one process over a bare pycurl multi loop
   (bench/monitor/bare_curl.py) against the same HTTPS server. Goal >= 0.8.
4. scale, one process with 100,000 targets, from a file and in fleet mode: start-up
   (<= 3 s), a reload with every target changed (<= 1 s), the loop's lateness p99 while
   it runs (<= 100 ms), resident memory (<= 400 MB).
The load average is printed with each round; each figure as its median, range and
per-round values.

Then one run each (--skip-others leaves them out), with the default settings:
concurrency against targets that take 200 ms to answer, over a one-at-a-time loop of
the same probe (goal >= 200x); the lateness p99 at half the throughput of 1 (goal <=
100 ms); memory with 20,000 targets (goal <= 300 MB); and the checks/s of one monitor
process each for HTTP against nginx, TCP connects to nginx's port and DNS queries (A
records) to a local dnsmasq (Debian's dnsmasq-base, on a free port, answering every name
of `bench.test`; the tcp and dns targets are built in Python by
bench/monitor/probe_targets.py).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from bench.monitor.measure import tree_cpu_s
from tests.support.nginx import wait_until_serving
from wac.monitor.histogram import Histogram

NGINX_MODULE = Path("/usr/lib/nginx/modules/ngx_http_echo_module.so")
DNSMASQ = "/usr/sbin/dnsmasq"
NGINX_CONF = """\
worker_processes {workers};
worker_rlimit_nofile 65536;
daemon on;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
load_module {module};
events {{ worker_connections 16384; multi_accept on; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  server {{
    listen 127.0.0.1:{port} backlog=8192 reuseport;
    listen 127.0.0.1:{tls_port} ssl backlog=8192 reuseport;
    ssl_certificate {dir}/cert.pem;
    ssl_certificate_key {dir}/key.pem;
    ssl_session_cache off;
    ssl_session_tickets off;
    location = /ok {{ default_type text/html; return 200 "<html><body>ok</body></html>"; }}
    location = /slow {{ echo_sleep 0.2; echo "slow but fine"; }}
  }}
}}
"""


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def ensure_tools() -> None:
    missing = [
        pkg
        for pkg, present in (
            ("nginx-light", shutil.which("nginx")),
            ("apache2-utils", shutil.which("ab")),
            ("libnginx-mod-http-echo", NGINX_MODULE.exists()),
            ("dnsmasq-base", Path(DNSMASQ).exists()),
        )
        if not present
    ]
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit(f"bench: install {' '.join(missing)} (sudo apt-get install ...) and rerun")
    log(f"installing {' '.join(missing)} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Nginx:
    def __init__(self, workdir: Path, workers: int) -> None:
        self.dir = workdir / "nginx"
        self.dir.mkdir()
        self.port = free_port()
        self.tls_port = free_port()
        # An ECDSA certificate for 127.0.0.1 (cheap handshakes on nginx's side), trusted
        # by the bench's clients through `ca_file`; no session cache: every handshake full.
        subprocess.run(
            [
                *("openssl", "req", "-x509", "-newkey", "ec"),
                *("-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"),
                *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
                *("-keyout", str(self.dir / "key.pem"), "-out", str(self.dir / "cert.pem")),
            ],
            check=True,
            capture_output=True,
        )
        self.ca_file = str(self.dir / "cert.pem")
        self.conf = self.dir / "nginx.conf"
        self.conf.write_text(
            NGINX_CONF.format(
                workers=workers,
                dir=self.dir,
                module=NGINX_MODULE,
                port=self.port,
                tls_port=self.tls_port,
            )
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def tls_base(self) -> str:
        return f"https://127.0.0.1:{self.tls_port}"

    def start(self) -> None:
        subprocess.run(["nginx", "-c", str(self.conf), "-p", str(self.dir)], check=True)
        wait_until_serving(f"{self.base}/ok")

    def stop(self) -> None:
        pid_file = self.dir / "nginx.pid"
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGQUIT)


class Dnsmasq:
    """A local DNS server answering every name of `bench.test` with 127.0.0.1."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.pid_file = workdir / "dnsmasq.pid"
        self.log = workdir / "dnsmasq.log"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        subprocess.run(
            [
                DNSMASQ,
                f"--port={self.port}",
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--no-resolv",
                "--no-hosts",
                "--no-poll",
                "--address=/bench.test/127.0.0.1",
                "--cache-size=0",
                "--dns-forward-max=10000",
                f"--pid-file={self.pid_file}",
                f"--log-facility={self.log}",
                "--user=root",
            ],
            check=True,
        )
        import dns.message
        import dns.query

        ready = dns.message.make_query("ready.bench.test", "A")
        deadline = time.monotonic() + 10
        while True:
            try:
                dns.query.udp(ready, "127.0.0.1", timeout=1, port=self.port)
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self.pid_file.exists():
            os.kill(int(self.pid_file.read_text()), signal.SIGTERM)


def ab_rate(url: str, requests: int, concurrency: int) -> float:
    out = subprocess.run(
        ["ab", "-q", "-n", str(requests), "-c", str(concurrency), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    failed = re.search(r"Failed requests:\s+(\d+)", out)
    if failed and int(failed.group(1)):
        log(f"ab: {failed.group(1)} failed requests")
    match = re.search(r"Requests per second:\s+([\d.]+)", out)
    assert match, out
    return float(match.group(1))


def one_at_a_time_rate(url: str, seconds: float) -> float:
    """The seed's design: one check after the other, in one loop."""
    from wac.probes.http import probe_blocking
    from wac.targets import target_from_url

    target = target_from_url(url, interval=10, timeout=5)
    n = 0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        result = probe_blocking(target, "bench")
        assert result.ok, result
        n += 1
    return n / (time.monotonic() - start)


class Topic:
    """End offsets of a topic: how many results reached Kafka."""

    def __init__(self, env: dict[str, str]) -> None:
        from confluent_kafka import Consumer

        from wac.config import load_settings
        from wac.runtime.kafka import client_config

        self.kafka = load_settings(env).kafka()
        self.consumer = Consumer(
            client_config(self.kafka, **{"group.id": f"bench-{uuid.uuid4().hex}"})
        )

    def count(self) -> int:
        from confluent_kafka import KafkaException

        for attempt in range(50):
            try:
                return self._count()
            except KafkaException:  # a topic just created has no leader yet
                if attempt == 49:
                    raise
                time.sleep(0.1)
        raise AssertionError("unreachable")

    def _count(self) -> int:
        from confluent_kafka import TopicPartition

        metadata = self.consumer.list_topics(self.kafka.topic, timeout=10)
        topic = metadata.topics.get(self.kafka.topic)
        if topic is None or topic.error is not None:
            return 0
        total = 0
        for partition in topic.partitions:
            _low, high = self.consumer.get_watermark_offsets(
                TopicPartition(self.kafka.topic, partition), timeout=10
            )
            total += high
        return total

    def close(self) -> None:
        self.consumer.close()


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants."""
    total = 0
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        if match:
            total += int(match.group(1)) * 1024
        stack.extend(int(c) for c in children)
    return total


@dataclass
class MonitorRun:
    rate: float  # results per second that reached Kafka in the window
    best_rate: float  # the same over the best third of the window
    stats: dict
    peak_rss: int
    topic_total: int
    cpu_per_check_us: float  # CPU of the monitor's processes in the window, per result


def run_monitor(
    name: str,
    base_env: dict[str, str],
    workdir: Path,
    urls: list[str],
    interval: float,
    *,
    workers: int | None,
    max_in_flight: int | None,
    warmup: float,
    window: float,
    timeout: float = 2.0,
    probe: tuple[str, str] | None = None,
    extra_env: dict[str, str] | None = None,
) -> MonitorRun:
    """`urls` in a targets file for `wac monitor`; with `probe` (kind, server address),
    len(urls) targets of that kind built by bench/monitor/probe_targets.py instead.
    `workers` or `max_in_flight` None: not given (the monitor's defaults)."""
    stats_file = workdir / f"{name}.stats.json"
    env = dict(base_env)
    env.update(extra_env or {})
    env["KAFKA_TOPIC"] = f"wac-bench-{name}-{uuid.uuid4().hex[:8]}"
    env["WAC_MONITOR_NAME"] = f"bench-{name}"
    if probe is None:
        targets = workdir / f"{name}.yaml"
        lines = [f"defaults:\n  interval: {interval}s\n  timeout: {timeout}s\ntargets:\n"]
        lines += [f"  - url: {url}\n" for url in urls]
        targets.write_text("".join(lines))
        args = [sys.executable, "-m", "wac", "monitor", "--config", str(targets)]
        if workers is not None:
            args += ["--workers", str(workers)]
        if max_in_flight is not None:
            args += ["--max-in-flight", str(max_in_flight)]
        args += ["--stats-file", str(stats_file), "--summary-interval", "5"]
    else:
        kind, address = probe
        args = [sys.executable, "-m", "bench.monitor.probe_targets", kind, address]
        args += ["--count", str(len(urls)), "--interval", str(interval)]
        args += ["--timeout", str(timeout), "--max-in-flight", str(max_in_flight or 100)]
        args += ["--stats-file", str(stats_file)]
        workers = 1
    log_path = workdir / f"{name}.log"
    shown_workers = "default" if workers is None else str(workers)
    log(f"{name}: {len(urls)} targets every {interval:g} s, {shown_workers} worker(s)")
    with log_path.open("w") as log_file:
        process = subprocess.Popen(args, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    topic = Topic(env)
    peak = 0
    try:
        # Wait for the first results (the targets file is read, Kafka connected), then warm up.
        deadline = time.monotonic() + 120
        while topic.count() == 0:
            peak = max(peak, tree_rss_bytes(process.pid))
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"bench: monitor produced nothing, see {log_path}")
            time.sleep(0.25)
        start = time.monotonic()
        while time.monotonic() - start < warmup:
            peak = max(peak, tree_rss_bytes(process.pid))
            if process.poll() is not None:
                raise SystemExit(f"bench: monitor exited early, see {log_path}")
            time.sleep(0.25)
        # The window in three parts: the rate of each part is kept, like ab's three runs.
        marks = [(topic.count(), time.monotonic())]
        cpu_start = tree_cpu_s(process.pid)
        for part in range(1, 4):
            while time.monotonic() - marks[0][1] < window * part / 3:
                peak = max(peak, tree_rss_bytes(process.pid))
                time.sleep(0.25)
            marks.append((topic.count(), time.monotonic()))
        cpu = tree_cpu_s(process.pid) - cpu_start
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(120)
    total = topic.count()
    topic.close()
    if code != 0:
        raise SystemExit(f"bench: monitor exited with {code}, see {log_path}")
    stats = json.loads(stats_file.read_text())
    if stats["produced"] != total or stats["dropped"] or stats["undelivered"]:
        log(
            f"{name}: produced {stats['produced']}, in Kafka {total}, dropped "
            f"{stats['dropped']}, undelivered {stats['undelivered']}"
        )
    rates = [(b[0] - a[0]) / (b[1] - a[1]) for a, b in itertools.pairwise(marks)]
    rate = (marks[-1][0] - marks[0][0]) / (marks[-1][1] - marks[0][1])
    cpu_per_check = cpu / max(1, marks[-1][0] - marks[0][0]) * 1e6
    log(
        f"{name}: {rate:,.0f} results/s reached Kafka (thirds of the window: "
        f"{', '.join(f'{r:,.0f}' for r in rates)}); {cpu_per_check:.0f} µs CPU per check; "
        f"{stats['finished']} checks in all"
    )
    return MonitorRun(rate, max(rates), stats, peak, total, cpu_per_check)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nginx-workers", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of the ratio bars")
    parser.add_argument("--window", type=float, default=6.0, help="seconds measured per run")
    parser.add_argument("--max-in-flight", type=int, default=100, help="for one process")
    parser.add_argument("--skip-scale", action="store_true", help="no 100,000-target runs")
    parser.add_argument(
        "--skip-others", action="store_true", help="no concurrency, lateness, memory, probes"
    )
    parser.add_argument(
        "--only-scale", action="store_true", help="only the 100,000-target runs (4.)"
    )
    parser.add_argument("--skip-fleet", action="store_true", help="no fleet-mode scale runs")
    parser.add_argument("--skip-file", action="store_true", help="no targets-file scale runs")
    parser.add_argument(
        "--only-probes", action="store_true", help="only the HTTP, TCP and DNS rates (5.)"
    )
    options = parser.parse_args()
    window = options.window

    ensure_tools()
    from wac.localservices import LocalServices

    local = LocalServices()
    local.up()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "POSTGRES_"))}
    env.update(local.env())
    env["KAFKA_PARTITIONS"] = "6"
    env["WAC_LOG_LEVEL"] = "INFO"

    workdir = Path(tempfile.mkdtemp(prefix="wac-bench-monitor-"))
    nginx = Nginx(workdir, options.nginx_workers)
    nginx.start()
    dnsmasq = Dnsmasq(workdir)
    dnsmasq.start()
    rounds: list[dict[str, float]] = []
    others: dict[str, float] = {}
    try:
        if options.only_probes:
            others.update(probe_rates(env, workdir, nginx, dnsmasq, options, window))
            print_probe_rates(others)
            if options.json:
                print(json.dumps(others))
            return
        from bench.monitor.bars import ratio_round
        from bench.monitor.scale import FleetTopic, file_round, fleet_round

        ok_url = f"{nginx.base}/ok"
        fleet_topic = None
        if not options.skip_scale and not options.skip_fleet:
            fleet_topic = FleetTopic(env, workdir, ok_url)
            applied_in = fleet_topic.apply_s
            log(f"fleet: 100,000 targets applied to the targets topic in {applied_in:.1f} s")
        for index in range(1, options.repeats + 1):
            if options.only_scale:
                figures = {"load": os.getloadavg()[0]}
            else:
                figures = ratio_round(
                    index, env, workdir, nginx, window=window, max_in_flight=options.max_in_flight
                )
            if not options.skip_scale and not options.skip_file:
                figures.update(file_round(index, env, workdir, ok_url))
            if fleet_topic is not None:
                try:
                    figures.update(fleet_round(index, fleet_topic, workdir))
                except SystemExit as exc:  # e.g. wac targets apply timed out: say so, go on
                    log(f"round {index}: no fleet figures: {exc}")
            figures["load_end"] = os.getloadavg()[0]
            log(f"round {index}: {json.dumps({k: round(v, 3) for k, v in figures.items()})}")
            rounds.append(figures)
        if not options.skip_others and not options.only_scale:
            default_rate = statistics.median(r["default_cps"] for r in rounds)
            others.update(other_figures(env, workdir, nginx, dnsmasq, options, default_rate))
    finally:
        nginx.stop()
        dnsmasq.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print_bars(rounds)
    if others:
        print_others(others)
    if options.json:
        print(json.dumps({"rounds": rounds, "others": others}))


def print_bars(rounds: list[dict[str, float]]) -> None:
    from bench.monitor.measure import spread

    def values(key: str) -> list[float]:
        return [r[key] for r in rounds if key in r]

    def verdict(key: str, goal: float, most: bool = False) -> str:
        if not values(key):
            return "NOT MEASURED"
        median = statistics.median(values(key))
        return "PASS" if (median <= goal if most else median >= goal) else "FAIL"

    def each(key: str, fmt: str = "{:.2f}") -> str:
        return ", ".join(fmt.format(v) for v in values(key))

    print(
        f"wac monitor bench: {os.cpu_count()} cores, {len(rounds)} rounds; each ratio's two "
        "sides measured in the same round; median (min-max) [each round]"
    )
    loads = [f"{r['load']:.1f}->{r['load_end']:.1f}" for r in rounds]
    print(f"  load average (1 min) at each round's start->end: {', '.join(loads)}")
    rows = [
        ("one process / ab", "one_ratio", 0.40, False, "one_cps", "ab_rps", "checks/s", "req/s"),
        (
            "default settings / ab",
            "default_ratio",
            0.50,
            False,
            "default_cps",
            "ab_rps",
            "checks/s",
            "req/s",
        ),
        (
            "CPU per check / ab's",
            "cpu_ratio",
            2.5,
            True,
            "one_cpu_us",
            "ab_cpu_us",
            "µs",
            "µs",
        ),
        (
            "HTTPS / bare pycurl loop",
            "https_ratio",
            0.8,
            False,
            "https_cps",
            "bare_https_rps",
            "checks/s",
            "req/s",
        ),
    ]
    for title, key, goal, most, mine, theirs, unit_mine, unit_theirs in rows:
        if not values(key):
            continue  # --only-scale
        sign = "<=" if most else ">="
        print(
            f"  {title:<26} {spread(values(key)):<18} goal {sign} {goal:<5} "
            f"{verdict(key, goal, most)}  [{each(key)}]"
        )
        print(
            f"  {'':<26} wac {each(mine, '{:,.0f}')} {unit_mine}; "
            f"reference {each(theirs, '{:,.0f}')} {unit_theirs}"
        )
    if "startup_s" not in rounds[0] and "fleet_startup_s" not in rounds[0]:
        return
    scale = [
        ("start-up, 100,000 targets", "startup_s", 3.0, "s"),
        ("reload of the whole file", "reload_s", 1.0, "s"),
        ("lateness p99 while it runs", "reload_p99_ms", 100.0, "ms"),
        ("  and in the 3 s before it", "reload_p99_before_ms", 100.0, "ms"),
        ("resident memory", "rss_mb", 400.0, "MB"),
        ("monitor's own CPU during the reload", "reload_cpu_s", 1.0, "s"),
        ("  of which beyond its checks", "reload_extra_cpu_s", 1.0, "s"),
        ("fleet: start-up", "fleet_startup_s", 3.0, "s"),
        ("fleet: reload (from apply's end)", "fleet_reload_s", 1.0, "s"),
        ("fleet: lateness p99 meanwhile", "fleet_reload_p99_ms", 100.0, "ms"),
        ("  and in the 3 s before it", "fleet_reload_p99_before_ms", 100.0, "ms"),
        ("fleet: resident memory", "fleet_rss_mb", 400.0, "MB"),
        ("fleet: monitor's CPU meanwhile", "fleet_reload_cpu_s", 1.0, "s"),
        ("  of which beyond its checks", "fleet_reload_extra_cpu_s", 1.0, "s"),
    ]
    print("  scale: one monitor process, 100,000 targets every 60 s (one figure per round)")
    for title, key, goal, unit in scale:
        print(
            f"  {title:<33} {spread(values(key)):<20} goal <= {goal:g} {unit}  "
            f"{verdict(key, goal, True)}  [{each(key)}]"
        )
    print(
        "  (fleet: the reload from apply's start, which includes wac targets apply "
        f"itself: [{each('fleet_reload_from_apply_s')}] s)"
    )


def other_figures(
    env: dict[str, str],
    workdir: Path,
    nginx: Nginx,
    dnsmasq: Dnsmasq,
    options: argparse.Namespace,
    full_rate: float,
) -> dict[str, float]:
    """Concurrency, lateness at half load, memory with 20,000 targets, probe rates: one
    run each, with the default settings."""
    ok_url, slow_url = f"{nginx.base}/ok", f"{nginx.base}/slow"
    window = options.window
    figures: dict[str, float] = {}
    loop = one_at_a_time_rate(slow_url, 3.0)
    log(f"one at a time: {loop:.2f} checks/s")
    slow = run_monitor(
        "concurrency",
        env,
        workdir,
        [f"{slow_url}?t={i}" for i in range(4000)],
        1.0,
        workers=None,
        max_in_flight=2000,
        warmup=4,
        window=window,
    )
    figures.update(loop_cps=loop, slow_cps=slow.rate, concurrency_ratio=slow.rate / loop)
    count = int(full_rate / 2 * 2.0)  # half the default settings' rate: targets every 2 s
    paced = run_monitor(
        "lateness",
        env,
        workdir,
        [f"{ok_url}?t={i}" for i in range(count)],
        2.0,
        workers=None,
        max_in_flight=None,
        warmup=2,
        window=2 * window,
    )
    lateness = Histogram.from_dict(paced.stats["lateness"])
    figures.update(
        half_load_cps=paced.rate,
        lateness_p99_ms=lateness.percentile_ms(0.99) or 0.0,
        lateness_p50_ms=lateness.percentile_ms(0.50) or 0.0,
        lateness_max_ms=lateness.max_ms,
    )
    big = run_monitor(
        "memory",
        env,
        workdir,
        [f"{ok_url}?t={i}" for i in range(20_000)],
        10.0,
        workers=None,
        max_in_flight=None,
        warmup=5,
        window=window,
    )
    figures.update(memory_cps=big.rate, rss_mb=big.peak_rss / 2**20)
    figures.update(probe_rates(env, workdir, nginx, dnsmasq, options, window))
    return figures


def print_others(f: dict[str, float]) -> None:
    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    print("  one run each, default settings:")
    print(
        f"  concurrency  wac {f['slow_cps']:>9,.0f} checks/s / loop {f['loop_cps']:>7.2f}/s"
        f"      = {f['concurrency_ratio']:.0f}x  (goal >= 200x)  "
        f"{verdict(f['concurrency_ratio'] >= 200)}"
    )
    print(
        f"  lateness     p99 {f['lateness_p99_ms']:.0f} ms (p50 {f['lateness_p50_ms']:.0f} ms, "
        f"max {f['lateness_max_ms']:.0f} ms) at {f['half_load_cps']:,.0f} checks/s"
        f"  (goal <= 100 ms)  {verdict(f['lateness_p99_ms'] <= 100)}"
    )
    print(
        f"  memory       {f['rss_mb']:.0f} MB resident with 20,000 targets (all processes)"
        f"  (goal <= 300 MB)  {verdict(f['rss_mb'] <= 300)}"
    )
    print_probe_rates(f)


def probe_rates(
    env: dict[str, str],
    workdir: Path,
    nginx: Nginx,
    dnsmasq: Dnsmasq,
    options: argparse.Namespace,
    window: float,
) -> dict[str, float]:
    """checks/s of one monitor process for HTTP, TCP and DNS targets, each run with more
    due checks than it can do (4,000 targets every 0.2 s)."""
    common = {
        "workers": 1,
        "max_in_flight": options.max_in_flight,
        "warmup": 4.0,
        "window": window,
    }
    many = range(4000)
    http = run_monitor(
        "probe-http", env, workdir, [f"{nginx.base}/ok?t={i}" for i in many], 0.2, **common
    )
    tcp_address = f"127.0.0.1:{nginx.port}"
    tcp = run_monitor(
        "probe-tcp", env, workdir, [""] * 4000, 0.2, probe=("tcp", tcp_address), **common
    )
    dns = run_monitor(
        "probe-dns", env, workdir, [""] * 4000, 0.2, probe=("dns", dnsmasq.address), **common
    )
    for run, name in ((http, "http"), (tcp, "tcp"), (dns, "dns")):
        stats = run.stats
        if stats.get("ok") is not None and stats["ok"] < stats["finished"]:
            log(f"probe-{name}: {stats['finished'] - stats['ok']} checks failed")
    return {
        "probe_http_cps": http.best_rate,
        "probe_tcp_cps": tcp.best_rate,
        "probe_dns_cps": dns.best_rate,
        "probe_http_mean_cps": http.rate,
        "probe_tcp_mean_cps": tcp.rate,
        "probe_dns_mean_cps": dns.rate,
    }


def print_probe_rates(f: dict[str, float]) -> None:
    print("  probes       one monitor process each, best third of the window (mean):")
    for name, what in (
        ("http", "HTTP GET of nginx"),
        ("tcp", "TCP connect to nginx"),
        ("dns", "DNS A query to dnsmasq"),
    ):
        print(
            f"               {name:<5}{f[f'probe_{name}_cps']:>9,.0f} checks/s "
            f"({f[f'probe_{name}_mean_cps']:,.0f})  {what}"
        )


if __name__ == "__main__":
    main()
