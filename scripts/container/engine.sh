# Sourced by the container scripts: Debian's podman (and debootstrap) ready to build and
# run images on this machine. Exports CONTAINERS_CONF when this machine needs settings of
# its own (see docs/design-decisions.md, "Containers"), and CONTAINER_CACHE.
# shellcheck shell=bash

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CONTAINER_CACHE=${WAC_CONTAINER_CACHE:-$repo_root/.cache/containers}
mkdir -p "$CONTAINER_CACHE"
export CONTAINER_CACHE

_need=()
command -v podman >/dev/null 2>&1 || _need+=(podman)
command -v runc >/dev/null 2>&1 || _need+=(runc)
command -v debootstrap >/dev/null 2>&1 || _need+=(debootstrap)
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
_settings=()
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
if [ ${#_settings[@]} -gt 0 ]; then
  printf '%s\n' "# written by scripts/container/engine.sh for this host" "${_settings[@]}" > "$_conf"
  export CONTAINERS_CONF=$_conf
fi
unset _need _conf _settings _cap_eff _nofile _nproc _pid_max
