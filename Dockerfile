# The wac image: `wac` and the seed's `python -m wac.monitor` / `python -m wac.store_results`.
# Build: `docker build -t wac .` (or `make image`, which also works without a registry).
# Two stages: the first installs the pinned runtime dependencies (requirements.txt, wheels
# only) and wac into a virtualenv; the second is the slim base plus that virtualenv: no
# compiler, no build tool, no development dependency.
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# The base's pip installs into a virtualenv that has none of its own (nor setuptools).
RUN python -m venv --without-pip /opt/wac
COPY requirements.txt /src/
RUN python -m pip --python /opt/wac/bin/python install --only-binary=:all: -r /src/requirements.txt
COPY pyproject.toml README.md LICENSE /src/
COPY wac /src/wac
RUN python -m pip --python /opt/wac/bin/python install --no-deps /src

FROM python:3.11-slim-bookworm
RUN groupadd --system --gid 10001 wac \
 && useradd --system --uid 10001 --gid wac --create-home --home-dir /home/wac \
      --shell /usr/sbin/nologin wac
COPY --from=build /opt/wac /opt/wac
COPY container/entrypoint.py /usr/local/bin/wac-entrypoint
COPY container/healthcheck.py /usr/local/bin/wac-healthcheck
# PYTHONSAFEPATH: `python -m wac.monitor` imports the installed wac, never a wac/ folder
# of the mounted work folder. The metrics ports (on 127.0.0.1) are what the healthcheck asks.
ENV PATH=/opt/wac/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONSAFEPATH=1 \
    WAC_MONITOR_METRICS_PORT=9101 \
    WAC_STORE_METRICS_PORT=9102 \
    WAC_ALERT_METRICS_PORT=9103
# The seed's work folder: compose mounts the project folder (certs/, .env) here.
WORKDIR /usr/src/app
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 CMD ["wac-healthcheck"]
# Starts as root only to pick the user and make the certificates readable for it, then
# runs the command as that non-root user (see container/entrypoint.py).
ENTRYPOINT ["wac-entrypoint"]
CMD ["store"]
