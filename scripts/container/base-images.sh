#!/usr/bin/env bash
# The base images named by the Dockerfile and by the stand-ins, pulled, or made here when
# this machine cannot pull them:
#   debian  docker.io/library/debian:bookworm-slim      a debootstrap of this machine's apt
#                                                       mirror, slimmed as the official one
#   python  docker.io/library/python:3.11-slim-bookworm Debian's Python 3.11 on it, laid out
#                                                       as the official image
# Usage: base-images.sh [debian|python]... (default: python). Cached: an image that exists
# is kept; WAC_REBUILD_BASE=1 makes them again, WAC_LOCAL_BASE=1 does not try to pull.
set -euo pipefail
source "$(dirname "$0")/engine.sh"

rootfs_image=localhost/wac-rootfs:bookworm
debian_image=docker.io/library/debian:bookworm-slim
python_image=docker.io/library/python:3.11-slim-bookworm
images_dir=$repo_root/scripts/container/images

if [ "${WAC_REBUILD_BASE:-}" = 1 ]; then
  podman rmi -f "$python_image" "$debian_image" "$rootfs_image" >/dev/null 2>&1 || true
fi

# The mirror this machine's apt uses (deb822 or one-line sources), else Debian's CDN.
mirror_of() {  # $1: "debian" or "debian-security"
  local found
  found=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
    | grep -oE "https?://[^ ]+/$1/?( |$)" | head -n1 | tr -d ' ' || true)
  echo "${found:-http://deb.debian.org/$1}"
}

make_rootfs() {
  local mirror rootfs
  mirror=$(mirror_of debian)
  rootfs=$(mktemp -d "$CONTAINER_CACHE/rootfs.XXXXXX")
  echo "base images: debootstrap bookworm from $mirror (a minute or two)"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" > "$CONTAINER_CACHE/debootstrap.log" 2>&1 \
    || { tail -n 20 "$CONTAINER_CACHE/debootstrap.log" >&2; rm -rf "$rootfs"; exit 1; }
  # slim, as Debian's official slim images: no documentation, manual pages or locales
  cp "$images_dir/debian/slim.cfg" "$rootfs/etc/dpkg/dpkg.cfg.d/slim"
  find "$rootfs/usr/share/doc" -depth -type f ! -name copyright -delete
  find "$rootfs/usr/share/doc" -depth -empty -delete
  rm -rf "$rootfs"/usr/share/{man,info,groff,lintian,locale}/* "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/bootstrap.log
  tar -C "$rootfs" --numeric-owner -c . \
    | podman import -q --change 'CMD ["bash"]' - "$rootfs_image" >/dev/null
  rm -rf "$rootfs"
}

make_debian() {
  local context
  podman image exists "$rootfs_image" || make_rootfs
  context=$(mktemp -d "$CONTAINER_CACHE/debian.XXXXXX")
  cp "$images_dir/debian/Containerfile" "$context/"
  cat > "$context/debian.sources" <<SOURCES
Types: deb
URIs: $(mirror_of debian)
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $(mirror_of debian-security)
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  echo "base images: making $debian_image"
  build_quietly "$debian_image" "$context"
  rm -rf "$context"
}

make_python() {
  local context
  ensure_image "$debian_image" make_debian
  context=$(mktemp -d "$CONTAINER_CACHE/python.XXXXXX")
  cp "$images_dir/python/Containerfile" "$context/"
  mkdir "$context/local-cas"
  cp /usr/local/share/ca-certificates/*.crt "$context/local-cas/" 2>/dev/null || true
  echo "base images: making $python_image"
  build_quietly "$python_image" "$context"
  rm -rf "$context"
}

for name in "${@:-python}"; do
  case $name in
    debian) ensure_image "$debian_image" make_debian; image=$debian_image ;;
    python) ensure_image "$python_image" make_python; image=$python_image ;;
    *) echo "usage: base-images.sh [debian|python]..." >&2; exit 2 ;;
  esac
  echo "base images: $image $(image_size "$image")"
done
