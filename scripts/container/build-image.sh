#!/usr/bin/env bash
# `make image`: the wac image from the Dockerfile, tagged ${WAC_IMAGE:-wac:latest}, with
# podman. The base it names (python:3.11-slim-bookworm) is made locally first when this
# machine cannot pull it (scripts/container/base-images.sh). Layers are cached.
set -euo pipefail
source "$(dirname "$0")/engine.sh"
cd "$repo_root"
image=${WAC_IMAGE:-wac:latest}
"$repo_root/scripts/container/base-images.sh"
started=$(date +%s)
log=$CONTAINER_CACHE/build-wac.log
# The docker format keeps the Dockerfile's HEALTHCHECK (the OCI format has no field for it).
if ! podman build --format docker --pull=never -t "$image" . > "$log" 2>&1; then
  tail -n 40 "$log" >&2
  echo "image: the build failed; the whole log is in $log" >&2
  exit 1
fi
echo "image: $image built in $(( $(date +%s) - started )) s, $(image_size "$image")"
