#!/usr/bin/env bash
# The Kafka and PostgreSQL images docker-compose.yml names, pulled, or made here when this
# machine cannot pull them (no registry): stand-ins with the official images' names and
# the interface compose uses (environment variables, paths, bin/ tools, users).
#   docker.io/apache/kafka:<wac/localservices/kafka_files/pom.xml's kafka.version>  Debian's Java 17 and
#       the Kafka jars from Maven Central (images/kafka)
#   docker.io/library/postgres:15  Debian's postgresql-15 (images/postgres)
# Both on the debian:bookworm-slim of base-images.sh. Cached as the base images are.
set -euo pipefail
source "$(dirname "$0")/engine.sh"
images_dir=$repo_root/scripts/container/images
pom=$repo_root/wac/localservices/kafka_files/pom.xml
kafka_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")
log4j_version=$(sed -n 's:.*<log4j.version>\(.*\)</log4j.version>.*:\1:p' "$pom")
kafka_image=docker.io/apache/kafka:$kafka_version
postgres_image=docker.io/library/postgres:15

if [ "${WAC_REBUILD_BASE:-}" = 1 ]; then
  podman rmi -f "$kafka_image" "$postgres_image" >/dev/null 2>&1 || true
fi

make_kafka() {
  local context
  "$repo_root/scripts/container/base-images.sh" debian
  context=$(mktemp -d "$CONTAINER_CACHE/kafka.XXXXXX")
  cp -r "$images_dir/kafka/." "$context/"
  echo "stand-ins: Kafka $kafka_version jars from Maven Central"
  mvn -q -B -f "$images_dir/kafka/pom.xml" -Dkafka.version="$kafka_version" \
    -Dlog4j.version="$log4j_version" dependency:copy-dependencies \
    -DoutputDirectory="$context/libs" > "$CONTAINER_CACHE/mvn-kafka.log" 2>&1 \
    || { tail -n 20 "$CONTAINER_CACHE/mvn-kafka.log" >&2; exit 1; }
  echo "stand-ins: making $kafka_image"
  build_quietly "$kafka_image" "$context"
  rm -rf "$context"
}

make_postgres() {
  local context
  "$repo_root/scripts/container/base-images.sh" debian
  context=$(mktemp -d "$CONTAINER_CACHE/postgres.XXXXXX")
  cp -r "$images_dir/postgres/." "$context/"
  echo "stand-ins: making $postgres_image"
  build_quietly "$postgres_image" "$context"
  rm -rf "$context"
}

command -v mvn >/dev/null 2>&1 || { echo "stand-ins: mvn is missing: run make setup" >&2; exit 2; }
ensure_image "$kafka_image" make_kafka
ensure_image "$postgres_image" make_postgres
for image in "$kafka_image" "$postgres_image"; do
  echo "stand-ins: $image $(image_size "$image")"
done
