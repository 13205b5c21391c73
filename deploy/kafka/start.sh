#!/usr/bin/env bash
# Starts a single-node Apache Kafka broker (KRaft mode) on 127.0.0.1 for development and tests.
#
#   deploy/kafka/start.sh            # fetch Kafka with Maven (cached), format storage once, start, wait
#
# Does nothing when a broker already answers on the port. Environment:
#   KAFKA_PORT        client port                   (default 9092; the controller uses KAFKA_PORT+1)
#   KAFKA_DATA_DIR    storage, logs and pid file    (default deploy/kafka/.cache/data)
#   KAFKA_HEAP        JVM heap                      (default 512m)
#   KAFKA_SASL=1      also open a SASL_PLAINTEXT listener with SCRAM-SHA-512 on KAFKA_SASL_PORT
#                     (default KAFKA_PORT+2) and create (or update) the SCRAM user KAFKA_SASL_USERNAME
#                     with KAFKA_SASL_PASSWORD (default docintel / docintel-secret); no authorizer, so
#                     an authenticated user may do anything. The PLAINTEXT listener stays open.
#   KAFKA_SSL=1       with KAFKA_SASL=1: also a SASL_SSL listener on KAFKA_SSL_PORT (default
#                     KAFKA_PORT+3) with a certificate from a local CA made once with keytool; clients
#                     trust it with KAFKA_SSL_CA_FILE=<data dir>/tls/ca.pem
#
# The user is created with the admin API (deploy/kafka/ScramUser.java), so KAFKA_SASL=1 also works on
# storage formatted without it. Its password is passed to the JVM through the environment, never on
# a command line, and is not written anywhere: the broker keeps only a salted SCRAM hash.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="$here/.cache"
port="${KAFKA_PORT:-9092}"
controller_port=$((port + 1))
data="${KAFKA_DATA_DIR:-$cache/data}"
libs="$cache/libs"
sasl="${KAFKA_SASL:-0}"
ssl=0
if [ "$sasl" = 1 ]; then
  sasl_port="${KAFKA_SASL_PORT:-$((port + 2))}"
  ssl="${KAFKA_SSL:-0}"
  case "$ssl" in 1 | true | yes | on) ssl=1 ;; *) ssl=0 ;; esac
  ssl_port="${KAFKA_SSL_PORT:-$((port + 3))}"
  export KAFKA_SASL_USERNAME="${KAFKA_SASL_USERNAME:-docintel}"
  export KAFKA_SASL_PASSWORD="${KAFKA_SASL_PASSWORD:-docintel-secret}"
elif [ "$sasl" != 0 ]; then
  echo "kafka: KAFKA_SASL must be 1 or 0, got \"$sasl\"" >&2
  exit 2
fi

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if answers "$port"; then
  echo "kafka: a broker already answers on 127.0.0.1:$port"
  if [ "$sasl" = 1 ] && ! answers "$sasl_port"; then
    echo "kafka: but nothing answers on the SASL port 127.0.0.1:$sasl_port; stop that broker (deploy/kafka/stop.sh) and start it again with KAFKA_SASL=1" >&2
    exit 1
  fi
  exit 0
fi

if [ ! -f "$libs/.complete" ] || [ "$here/pom.xml" -nt "$libs/.complete" ]; then
  echo "kafka: fetching Apache Kafka from Maven Central (once; cached in $libs)"
  rm -rf "$libs"
  bash "$here/../maven-fetch.sh" "$here/pom.xml" "$libs"
  touch "$libs/.complete"
fi

mkdir -p "$data"

# The default: one PLAINTEXT listener for clients (and between brokers), one for the controller.
listeners="PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port"
advertised="PLAINTEXT://127.0.0.1:$port"
protocols="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
if [ "$sasl" = 1 ]; then
  listeners="$listeners,SASL_PLAINTEXT://127.0.0.1:$sasl_port"
  advertised="$advertised,SASL_PLAINTEXT://127.0.0.1:$sasl_port"
  protocols="$protocols,SASL_PLAINTEXT:SASL_PLAINTEXT"
fi
if [ "$ssl" = 1 ]; then
  listeners="$listeners,SASL_SSL://127.0.0.1:$ssl_port"
  advertised="$advertised,SASL_SSL://127.0.0.1:$ssl_port"
  protocols="$protocols,SASL_SSL:SASL_SSL"
  tls="$data/tls"
  if [ ! -f "$tls/.complete" ]; then
    # A CA of our own signs the broker's certificate (for 127.0.0.1 and localhost), so that clients
    # verify it like any other: KAFKA_SSL_CA_FILE=$tls/ca.pem. The keystores' password is random.
    echo "kafka: making a local CA and a broker certificate with keytool (once; in $tls)"
    rm -rf "$tls"
    mkdir -p "$tls"
    chmod 700 "$tls"
    (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tls/store-password")
    STOREPASS="$(cat "$tls/store-password")"
    export STOREPASS
    store=(-storetype PKCS12 -storepass:env STOREPASS)
    kt() { keytool "$@" >>"$tls/keytool.log" 2>&1 || { echo "kafka: keytool $1 failed; see $tls/keytool.log" >&2; exit 1; }; }
    kt -genkeypair -alias ca -keystore "$tls/ca.p12" "${store[@]}" -keypass:env STOREPASS -keyalg RSA -keysize 2048 \
      -validity 3650 -dname "CN=docintel local Kafka CA" -ext bc:c
    kt -exportcert -rfc -alias ca -keystore "$tls/ca.p12" "${store[@]}" -file "$tls/ca.pem"
    kt -genkeypair -alias broker -keystore "$tls/broker.p12" "${store[@]}" -keypass:env STOREPASS -keyalg RSA -keysize 2048 \
      -validity 3650 -dname "CN=127.0.0.1" -ext "SAN=IP:127.0.0.1,DNS:localhost"
    kt -certreq -alias broker -keystore "$tls/broker.p12" "${store[@]}" -file "$tls/broker.csr"
    kt -gencert -alias ca -keystore "$tls/ca.p12" "${store[@]}" -infile "$tls/broker.csr" -outfile "$tls/broker.pem" -rfc \
      -validity 3650 -ext "SAN=IP:127.0.0.1,DNS:localhost" -ext ku:c=digitalSignature,keyEncipherment -ext eku=serverAuth
    kt -importcert -noprompt -alias ca -file "$tls/ca.pem" -keystore "$tls/broker.p12" "${store[@]}"
    kt -importcert -noprompt -alias broker -file "$tls/broker.pem" -keystore "$tls/broker.p12" "${store[@]}"
    rm -f "$tls/broker.csr"
    unset STOREPASS
    touch "$tls/.complete"
  fi
fi

cat > "$data/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=$listeners
advertised.listeners=$advertised
controller.listener.names=CONTROLLER
listener.security.protocol.map=$protocols
inter.broker.listener.name=PLAINTEXT
log.dirs=$data/log
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
log.retention.hours=24
PROPS
if [ "$sasl" = 1 ]; then
  # SCRAM needs no secret in this file: the broker checks clients against the salted credentials
  # in its metadata log. No authorizer.class.name: authentication only, no ACLs.
  cat >> "$data/server.properties" <<PROPS
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_plaintext.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
PROPS
fi
if [ "$ssl" = 1 ]; then
  (umask 077 && cat >> "$data/server.properties" <<PROPS
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PKCS12
listener.name.sasl_ssl.ssl.keystore.location=$tls/broker.p12
listener.name.sasl_ssl.ssl.keystore.password=$(cat "$tls/store-password")
listener.name.sasl_ssl.ssl.key.password=$(cat "$tls/store-password")
PROPS
  )
  chmod 600 "$data/server.properties"
fi
cat > "$data/log4j2.properties" <<PROPS
rootLogger.level = WARN
rootLogger.appenderRef.file.ref = file
appender.file.type = File
appender.file.name = file
appender.file.fileName = $data/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
logger.kafka.name = kafka
logger.kafka.level = INFO
PROPS
if [ "$sasl" = 1 ]; then
  # "Failed authentication with /<client address> (<reason>)": who was turned away, never with what
  cat >> "$data/log4j2.properties" <<PROPS
logger.authentication.name = org.apache.kafka.common.network.Selector
logger.authentication.level = INFO
PROPS
fi

if [ ! -f "$data/log/meta.properties" ]; then
  cluster_id="$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
  echo "kafka: formatting KRaft storage (cluster $cluster_id)"
  java -cp "$libs/*" kafka.tools.StorageTool format -t "$cluster_id" -c "$data/server.properties" --standalone >/dev/null 2>&1 \
    || java -cp "$libs/*" kafka.tools.StorageTool format -t "$cluster_id" -c "$data/server.properties" >/dev/null
fi

# Creates the SCRAM user through the PLAINTEXT listener (the admin API, so it works on storage
# formatted long ago too) and waits until the SASL listener accepts it.
add_scram_user() {
  if ! SCRAM_ADMIN_BOOTSTRAP="127.0.0.1:$port" SCRAM_CHECK_BOOTSTRAP="127.0.0.1:$sasl_port" \
    java -Dlog4j2.level=WARN -cp "$libs/*" "$here/ScramUser.java" >"$data/scram-user.log" 2>&1; then
    echo "kafka: could not create the SCRAM user \"$KAFKA_SASL_USERNAME\" (the broker runs on; deploy/kafka/stop.sh stops it):" >&2
    tail -n 20 "$data/scram-user.log" >&2 || true
    exit 1
  fi
  echo "kafka: SASL_PLAINTEXT (SCRAM-SHA-512) on 127.0.0.1:$sasl_port for user \"$KAFKA_SASL_USERNAME\""
  if [ "$ssl" = 1 ]; then
    echo "kafka: SASL_SSL (SCRAM-SHA-512) on 127.0.0.1:$ssl_port; clients: KAFKA_SSL=1 KAFKA_SSL_CA_FILE=$tls/ca.pem"
  fi
}

echo "kafka: starting broker on 127.0.0.1:$port (log: $data/server.log)"
nohup java "-Xmx${KAFKA_HEAP:-512m}" "-Xms${KAFKA_HEAP:-512m}" -XX:+UseG1GC \
  "-Dlog4j2.configurationFile=$data/log4j2.properties" \
  -cp "$libs/*" kafka.Kafka "$data/server.properties" >"$data/stdout.log" 2>&1 &
echo $! >"$data/kafka.pid"

for _ in $(seq 1 120); do
  if grep -q "Kafka Server started" "$data/server.log" 2>/dev/null && answers "$port"; then
    echo "kafka: ready on 127.0.0.1:$port"
    if [ "$sasl" = 1 ]; then add_scram_user; fi
    exit 0
  fi
  if ! kill -0 "$(cat "$data/kafka.pid")" 2>/dev/null; then
    echo "kafka: the broker exited; last lines of its log:" >&2
    tail -n 30 "$data/stdout.log" "$data/server.log" >&2 || true
    exit 1
  fi
  sleep 0.5
done
echo "kafka: the broker did not become ready within 60 s; see $data/server.log" >&2
exit 1
