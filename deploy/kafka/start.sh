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
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="$here/.cache"
port="${KAFKA_PORT:-9092}"
controller_port=$((port + 1))
data="${KAFKA_DATA_DIR:-$cache/data}"
libs="$cache/libs"

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if answers "$port"; then
  echo "kafka: a broker already answers on 127.0.0.1:$port"
  exit 0
fi

if [ ! -f "$libs/.complete" ] || [ "$here/pom.xml" -nt "$libs/.complete" ]; then
  echo "kafka: fetching Apache Kafka from Maven Central (once; cached in $libs)"
  rm -rf "$libs"
  mvn -q -B -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$libs" -DincludeScope=runtime
  touch "$libs/.complete"
fi

mkdir -p "$data"
cat > "$data/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
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

if [ ! -f "$data/log/meta.properties" ]; then
  cluster_id="$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
  echo "kafka: formatting KRaft storage (cluster $cluster_id)"
  java -cp "$libs/*" kafka.tools.StorageTool format -t "$cluster_id" -c "$data/server.properties" --standalone >/dev/null 2>&1 \
    || java -cp "$libs/*" kafka.tools.StorageTool format -t "$cluster_id" -c "$data/server.properties" >/dev/null
fi

echo "kafka: starting broker on 127.0.0.1:$port (log: $data/server.log)"
nohup java "-Xmx${KAFKA_HEAP:-512m}" "-Xms${KAFKA_HEAP:-512m}" -XX:+UseG1GC \
  "-Dlog4j2.configurationFile=$data/log4j2.properties" \
  -cp "$libs/*" kafka.Kafka "$data/server.properties" >"$data/stdout.log" 2>&1 &
echo $! >"$data/kafka.pid"

for _ in $(seq 1 120); do
  if grep -q "Kafka Server started" "$data/server.log" 2>/dev/null && answers "$port"; then
    echo "kafka: ready on 127.0.0.1:$port"
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
