#!/usr/bin/env bash
# kafka-run-class.sh CLASS ARGS...: a Kafka main class on the jars of /opt/kafka/libs,
# with the distribution's variables: KAFKA_HEAP_OPTS, KAFKA_JVM_PERFORMANCE_OPTS,
# KAFKA_LOG4J_OPTS, KAFKA_OPTS.
set -euo pipefail
log4j=${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=/opt/kafka/config/tools-log4j2.properties}
# shellcheck disable=SC2086  # the *_OPTS variables hold several JVM options
exec java ${KAFKA_HEAP_OPTS:-} ${KAFKA_JVM_PERFORMANCE_OPTS:-} $log4j ${KAFKA_OPTS:-} \
  -cp '/opt/kafka/libs/*' "$@"
