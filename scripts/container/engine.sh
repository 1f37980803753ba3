# Sourced by the container scripts: Debian's podman (and debootstrap) ready to build and
# run images on this machine. Exports CONTAINERS_CONF (this machine's podman settings,
# see docs/design-decisions.md, "Containers") and CONTAINER_CACHE; defines build_quietly,
# ensure_image and image_size.
# shellcheck shell=bash

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CONTAINER_CACHE=${WAC_CONTAINER_CACHE:-$repo_root/.cache/containers}
mkdir -p "$CONTAINER_CACHE"
export CONTAINER_CACHE

_need=()
command -v podman >/dev/null 2>&1 || _need+=(podman)
command -v runc >/dev/null 2>&1 || _need+=(runc)
command -v debootstrap >/dev/null 2>&1 || _need+=(debootstrap)
# netavark with aardvark-dns: compose's containers find each other by service name
[ -x /usr/lib/podman/netavark ] || _need+=(netavark)
[ -x /usr/lib/podman/aardvark-dns ] || _need+=(aardvark-dns)
if [ ${#_need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "containers: missing ${_need[*]}; install them (sudo apt-get install ${_need[*]}) and rerun" >&2
    exit 2
  fi
  echo "containers: installing ${_need[*]} with apt-get" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${_need[@]}" >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${_need[@]}" >/dev/null; }
fi

# Two things podman's defaults do not survive on some hosts (this sandbox among them):
# - without CAP_SYS_RESOURCE, root cannot raise a container's rlimits to podman's defaults
#   (nofile 1048576): "crun: setrlimit `RLIMIT_NOFILE`: Operation not permitted";
#   the hosts' own hard limits are used instead (nproc at most pid_max, as runc refuses more);
# - cgroups in hybrid mode (v1 plus an empty v2 hierarchy): "crun: cgroups in hybrid mode
#   not supported"; runc copes.
_conf=$CONTAINER_CACHE/containers.conf
_settings=("[network]" 'network_backend = "netavark"')
_cap_eff=$(awk '/^CapEff:/ {print $2}' /proc/self/status)
if (( (16#$_cap_eff >> 24 & 1) == 0 )); then
  _nofile=$(ulimit -Hn)
  _nproc=$(ulimit -Hu)
  _pid_max=$(cat /proc/sys/kernel/pid_max)
  if [ "$_nproc" = unlimited ] || [ "$_nproc" -gt "$_pid_max" ]; then _nproc=$_pid_max; fi
  [ "$_nofile" = unlimited ] && _nofile=1048576
  _settings+=("[containers]" "default_ulimits = [\"nofile=$_nofile:$_nofile\", \"nproc=$_nproc:$_nproc\"]")
fi
if [ "$(stat -f -c %T /sys/fs/cgroup)" = tmpfs ] && [ -d /sys/fs/cgroup/unified ]; then
  _settings+=("[engine]" 'runtime = "runc"')
fi
# A bridge left by podman's older CNI backend holds the same subnet and cuts containers off.
if [ -e /sys/class/net/cni-podman0 ]; then
  echo "containers: warning: the CNI bridge cni-podman0 (podman's former backend) shadows netavark's subnet;" \
    "remove it when no CNI container runs: ip link delete cni-podman0" >&2
fi
printf '%s\n' "# written by scripts/container/engine.sh for this host" "${_settings[@]}" > "$_conf"
export CONTAINERS_CONF=$_conf
unset _need _conf _settings _cap_eff _nofile _nproc _pid_max

# build_quietly TAG CONTEXT: build, the output in a log shown on failure.
build_quietly() {
  local log=$CONTAINER_CACHE/build-${1//[\/:]/_}.log
  podman build --format docker --pull=never -t "$1" "$2" > "$log" 2>&1 \
    || { tail -n 30 "$log" >&2; echo "containers: building $1 failed; log in $log" >&2; exit 1; }
}

# ensure_image IMAGE MAKER: keep it, else pull it, else make it with the function MAKER
# (saying why it was not pulled). WAC_LOCAL_BASE=1 does not try to pull.
ensure_image() {
  podman image exists "$1" && return 0
  if [ "${WAC_LOCAL_BASE:-}" != 1 ]; then
    if podman pull -q "$1" > "$CONTAINER_CACHE/pull.log" 2>&1; then return 0; fi
    echo "containers: cannot pull $1 ($(tail -n 1 "$CONTAINER_CACHE/pull.log" | cut -c1-160))"
  fi
  "$2"
}

image_size() {
  podman image inspect --format '{{.Size}}' "$1" | awk '{printf "%d MB", $1/1000000}'
}
