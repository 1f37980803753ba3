# UNTESTED: the machines this project is built on have no Docker engine.
# The tested way to run wac locally is `make up` (see README).
FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcurl4 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.lock pyproject.toml README.md ./
COPY wac ./wac
RUN pip install --no-cache-dir -r requirements.lock && pip install --no-cache-dir --no-deps .
RUN useradd --system --uid 10001 wac
USER wac
ENTRYPOINT ["wac"]
CMD ["--help"]
