#!/usr/bin/env bash
# podman with this machine's settings (engine.sh): `scripts/container/podman.sh run ...`.
set -euo pipefail
source "$(dirname "$0")/engine.sh"
exec podman "$@"
