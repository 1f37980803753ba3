#!/usr/bin/env bash
# Idempotent setup: system packages, the virtualenv with pinned dependencies, Kafka jars.
# Run by `make setup` (and so by `make up` and `make test`).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv

need_apt=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || need_apt+=(postgresql-15)
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
# Debian's Chromium for the dashboard's browser tests (Playwright drives it; it cannot
# download a browser of its own here).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
if [ "${WAC_SETUP_BENCH_TOOLS:-}" = 1 ]; then
  command -v nginx >/dev/null 2>&1 || need_apt+=(nginx-light)
  command -v ab >/dev/null 2>&1 || need_apt+=(apache2-utils)
  # nginx's echo module answers bench/monitor's 200 ms requests (echo_sleep)
  [ -f /usr/lib/nginx/modules/ngx_http_echo_module.so ] || need_apt+=(libnginx-mod-http-echo)
  # the DNS server bench/monitor's dns:// targets ask (the binary, not the system service)
  [ -x /usr/sbin/dnsmasq ] || need_apt+=(dnsmasq-base)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing system packages: ${need_apt[*]}; install them (sudo apt-get install ${need_apt[*]}) and rerun" >&2
    exit 2
  fi
  echo "setup: installing ${need_apt[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  # Debian starts a system cluster on 5432 when it installs the server; wac runs its own.
fi

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.installed"
if [ ! -f "$stamp" ] || [ requirements.lock -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements.lock
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -e .
  touch "$stamp"
fi

"$VENV/bin/python" -m wac.localservices fetch-jars
