"""No password, private key or token in any log line, error, result or page.

Runs the whole pipeline (`wac up`: monitor, store, dashboard) with known secrets, uses
it, then greps everything it printed, published and stored.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from tests.support.kafka_read import read_topic
from tests.support.processes import wac, wait_for
from tests.support.servers import free_port

pytestmark = pytest.mark.integration

TOKEN = "tok-" + uuid.uuid4().hex
URL_PASSWORD = "urlpw-" + uuid.uuid4().hex


def secrets_of(env: dict[str, str]) -> list[str]:
    db_password = urlsplit(env["POSTGRES_ENDPOINT"]).password
    assert db_password
    key_lines = [
        line
        for line in (Path(env["KAFKA_CERT_DIR"]) / "service.key").read_text().splitlines()
        if line and not line.startswith("-----")
    ]
    return [db_password, TOKEN, URL_PASSWORD, *key_lines[:3]]


def get(url: str, token: str | None = None) -> str:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


def test_no_secret_in_logs_results_rows_or_pages(site: str, isolated_env: dict[str, str]) -> None:
    web_port = free_port()
    env = {**isolated_env, "WAC_WEB_TOKEN": TOKEN, "WAC_WEB_PORT": str(web_port)}
    run = uuid.uuid4().hex
    url = site.replace("http://", f"http://monitor:{URL_PASSWORD}@") + f"/ok?run={run}"
    up = subprocess.Popen(
        [sys.executable, "-m", "wac", "up", url, "--period", "0.5"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    pages = []
    try:
        with psycopg.connect(env["POSTGRES_ENDPOINT"]) as conn:

            def stored() -> int:
                row = conn.execute(
                    "SELECT count(*) FROM checks WHERE url LIKE %s", (f"%run={run}",)
                ).fetchone()
                conn.commit()
                return row[0] if row else 0

            wait_for(lambda: stored() >= 3, 60, "rows from wac up")
        base = f"http://127.0.0.1:{web_port}"
        wait_for(lambda: _answers(base), 30, "the dashboard")
        pages.append(get(f"{base}/", TOKEN))
        pages.append(get(f"{base}/api/overview", TOKEN))
        with pytest.raises(urllib.error.HTTPError) as refused:
            get(f"{base}/api/overview", "wrong-" + TOKEN)
        assert refused.value.code == 401
        pages.append(refused.value.read().decode())
    finally:
        up.send_signal(signal.SIGINT)
        out, err = up.communicate(timeout=60)
    assert up.returncode == 0, err[-3000:]

    # Error paths print secrets' neighbours: a wrong password, an unreachable database.
    db = urlsplit(env["POSTGRES_ENDPOINT"])
    assert db.password
    wrong = env["POSTGRES_ENDPOINT"].replace(db.password, "wrong-" + db.password)
    unreachable = env["POSTGRES_ENDPOINT"].replace(f":{db.port}/", f":{free_port()}/")
    failures = [
        wac(["store"], {**env, "POSTGRES_ENDPOINT": wrong}),
        wac(["store"], {**env, "POSTGRES_ENDPOINT": unreachable}),
        wac(["report", "--since", "1h"], {**env, "POSTGRES_ENDPOINT": unreachable}),
    ]
    assert all(f.returncode == 2 for f in failures), [f.stderr for f in failures]

    with psycopg.connect(env["POSTGRES_ENDPOINT"]) as conn:
        rows = conn.execute(
            "SELECT checks::text FROM checks WHERE url LIKE %s", (f"%run={run}",)
        ).fetchall()
    published = [value.decode() for _, value in read_topic(env)]
    outputs = [out, err, *pages, *(f.stdout + f.stderr for f in failures)]
    everything = "\n".join([*outputs, *(r[0] for r in rows), *published])
    assert len(rows) >= 3 and published
    assert "http://***@" in published[0]  # the URL is published without its credentials
    for secret in secrets_of(env):
        assert secret not in everything, "a secret leaked into output, a page or a result"
    assert "wrong-" + db.password not in everything


def _answers(base: str) -> bool:
    try:
        get(f"{base}/healthz")
    except OSError:
        time.sleep(0.2)
        return False
    return True
