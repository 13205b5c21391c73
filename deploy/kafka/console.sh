#!/usr/bin/env bash
# Kafka's own command-line tools, from the kafka-tools jar on Maven Central (no Kafka download):
#
#   deploy/kafka/console.sh consumer --topic T --from-beginning --timeout-ms 5000 ...   # ConsoleConsumer
#   deploy/kafka/console.sh producer --topic T ...                                      # ConsoleProducer
#   deploy/kafka/console.sh groups --describe --group G                                 # ConsumerGroupCommand
#   deploy/kafka/console.sh offsets --topic T --time -1                                 # GetOffsetShell
#   deploy/kafka/console.sh producer-perf --topic T --num-records N --record-size B ...  # ProducerPerformance
#   deploy/kafka/console.sh consumer-perf --topic T --messages N                         # ConsumerPerformance
#
# The rest of the arguments go to the tool as they are (`console.sh consumer --help`). Like
# Kafka's bin/kafka-console-consumer.sh and friends, except that from the environment it adds
#   --bootstrap-server $KAFKA_BROKERS  (default 127.0.0.1:9092) unless the arguments have one;
#   --command-config <file>            when KAFKA_SASL_MECHANISM or KAFKA_SSL is set and the arguments
#                                      have none: security.protocol, sasl.mechanism and the JAAS login
#                                      from KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD, and
#                                      KAFKA_SSL_CA_FILE as the trust store. The file is private to
#                                      the user and deleted when the tool exits.
# The jars are fetched with Maven on first use (cached in deploy/kafka/.cache/tools-libs).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
libs="$here/.cache/tools-libs"

usage() {
  echo "usage: deploy/kafka/console.sh consumer|producer|groups|offsets|producer-perf|consumer-perf [tool arguments...]" >&2
  exit 2
}
[ $# -ge 1 ] || usage
case "$1" in
  consumer) class=org.apache.kafka.tools.consumer.ConsoleConsumer ;;
  producer) class=org.apache.kafka.tools.ConsoleProducer ;;
  groups) class=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
  offsets) class=org.apache.kafka.tools.GetOffsetShell ;;
  producer-perf) class=org.apache.kafka.tools.ProducerPerformance ;;
  consumer-perf) class=org.apache.kafka.tools.ConsumerPerformance ;;
  *) usage ;;
esac
shift

if [ ! -f "$libs/.complete" ] || [ "$here/tools/pom.xml" -nt "$libs/.complete" ]; then
  # Messages go to stderr: stdout is the tool's output, which recipes pipe on. Fetched into a fresh
  # folder and moved in place, so that two first uses at once cannot see half a classpath.
  echo "kafka: fetching Kafka's command-line tools from Maven Central (once; cached in $libs)" >&2
  fresh="$libs.$$"
  rm -rf "$fresh"
  bash "$here/../maven-fetch.sh" "$here/tools/pom.xml" "$fresh" >&2
  touch "$fresh/.complete"
  rm -rf "$libs"
  mv "$fresh" "$libs" 2>/dev/null || rm -rf "$fresh" # another first use got there first
fi

has() {
  local want="$1" arg
  shift
  for arg in "$@"; do [ "$arg" = "$want" ] && return 0; done
  return 1
}

args=("$@")
if ! has --bootstrap-server "$@" && ! has --help "$@" && ! has --version "$@"; then
  args=(--bootstrap-server "${KAFKA_BROKERS:-127.0.0.1:9092}" "${args[@]}")
fi

config=""
cleanup() { if [ -n "$config" ]; then rm -f "$config"; fi; }
trap cleanup EXIT
ssl="$(printf '%s' "${KAFKA_SSL:-}" | tr '[:upper:]' '[:lower:]')"
case "$ssl" in 1 | true | yes | on) ssl=1 ;; *) ssl="" ;; esac
if [ -n "${KAFKA_SSL_CA_FILE:-}" ] && [ "${KAFKA_SSL:-}" = "" ]; then ssl=1; fi # as the services: a CA file means TLS
if { [ -n "${KAFKA_SASL_MECHANISM:-}" ] || [ -n "$ssl" ]; } && ! has --command-config "$@"; then
  config="$(umask 077 && mktemp "${TMPDIR:-/tmp}/docintel-kafka-client.XXXXXX")"
  protocol=PLAINTEXT
  if [ -n "${KAFKA_SASL_MECHANISM:-}" ]; then
    mechanism="$(printf '%s' "$KAFKA_SASL_MECHANISM" | tr '[:lower:]' '[:upper:]')"
    case "$mechanism" in
      SCRAM-SHA-256 | SCRAM-SHA-512) module=org.apache.kafka.common.security.scram.ScramLoginModule ;;
      PLAIN) module=org.apache.kafka.common.security.plain.PlainLoginModule ;;
      *) echo "console.sh: KAFKA_SASL_MECHANISM must be scram-sha-256, scram-sha-512 or plain" >&2; exit 2 ;;
    esac
    : "${KAFKA_SASL_USERNAME:?console.sh: KAFKA_SASL_USERNAME is required with KAFKA_SASL_MECHANISM}"
    : "${KAFKA_SASL_PASSWORD:?console.sh: KAFKA_SASL_PASSWORD is required with KAFKA_SASL_MECHANISM}"
    # JAAS quoting: a backslash or a double quote in a value is escaped with a backslash; a
    # properties file then needs every backslash doubled once more.
    jaas_quote() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\\/\\\\/g'; }
    protocol=SASL_PLAINTEXT
    {
      echo "sasl.mechanism=$mechanism"
      printf 'sasl.jaas.config=%s required username="%s" password="%s";\n' "$module" "$(jaas_quote "$KAFKA_SASL_USERNAME")" "$(jaas_quote "$KAFKA_SASL_PASSWORD")"
    } >>"$config"
  fi
  if [ -n "$ssl" ]; then
    if [ "$protocol" = SASL_PLAINTEXT ]; then protocol=SASL_SSL; else protocol=SSL; fi
    if [ -n "${KAFKA_SSL_CA_FILE:-}" ]; then
      printf 'ssl.truststore.type=PEM\nssl.truststore.location=%s\n' "$KAFKA_SSL_CA_FILE" >>"$config"
    fi
  fi
  echo "security.protocol=$protocol" >>"$config"
  args+=(--command-config "$config")
fi

# Not exec: the EXIT trap must still remove the client config (it holds the password).
status=0
java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "-Dlog4j2.configurationFile=$here/tools/log4j2.properties" \
  -cp "$libs/*" "$class" "${args[@]}" || status=$?
exit "$status"
