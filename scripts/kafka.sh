#!/usr/bin/env bash
# A single-node Apache Kafka broker (KRaft) on 127.0.0.1, from Maven Central jars.
#
#   scripts/kafka.sh start    fetch jars (cached), format once, start, wait until it answers
#   scripts/kafka.sh stop     stop cleanly (SIGTERM, then SIGKILL after 30 s)
#   scripts/kafka.sh status   exit 0 if the broker answers
#   scripts/kafka.sh reset    stop and delete the broker's data
#
# Idempotent: a second start reuses the cached jars and a running broker.
# Knobs: KAFKA_PORT (19092), KAFKA_CONTROLLER_PORT (19093), KAFKA_HOME (.cache/kafka),
#        KAFKA_DATA (var/kafka), KAFKA_HEAP (512m).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
port="${KAFKA_PORT:-19092}"
controller_port="${KAFKA_CONTROLLER_PORT:-19093}"
home="${KAFKA_HOME:-$root/.cache/kafka}"
data="${KAFKA_DATA:-$root/var/kafka}"
heap="${KAFKA_HEAP:-512m}"
version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$root/scripts/kafka/pom.xml")"
libs="$home/$version/libs"
pidfile="$data/broker.pid"

log() { echo "kafka.sh: $*" >&2; }

answers() {
  # The broker answers once its listener accepts connections and it logged that it started.
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || return 1
  grep -q "Kafka Server started" "$data/logs/server.log" 2>/dev/null
}

fetch() {
  if [ -f "$libs/.complete" ]; then return; fi
  log "fetching Kafka $version jars from Maven Central into $libs"
  mkdir -p "$libs"
  mvn -B -q -f "$root/scripts/kafka/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$libs" >&2
  touch "$libs/.complete"
}

write_config() {
  mkdir -p "$data/logs" "$data/log-dirs"
  cat > "$data/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$data/log-dirs
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
group.initial.rebalance.delay.ms=0
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
log.retention.hours=168
PROPS
}

jvm_opts=(-Xmx"$heap" -Xms128m -XX:+UseG1GC -Djava.awt.headless=true
  "-Dkafka.logs.dir=$data/logs" "-Dlog4j2.configurationFile=$root/scripts/kafka/log4j2.properties"
  -cp "$libs/*")

start() {
  if answers; then log "broker already answers on 127.0.0.1:$port"; return; fi
  if running; then log "broker process is up; waiting for it"; wait_ready; return; fi
  command -v java >/dev/null || { log "java not found (Java 17+ is needed)"; exit 1; }
  fetch
  write_config
  if [ ! -f "$data/log-dirs/meta.properties" ]; then
    java "${jvm_opts[@]}" kafka.tools.StorageTool format -c "$data/server.properties" \
      -t "$(java "${jvm_opts[@]}" kafka.tools.StorageTool random-uuid)" >/dev/null
  fi
  rm -f "$data/logs/server.log"
  # setsid: the broker outlives the shell that started it and is not hit by its signals.
  setsid nohup java "${jvm_opts[@]}" kafka.Kafka "$data/server.properties" \
    > "$data/logs/stdout.log" 2>&1 < /dev/null &
  echo $! > "$pidfile"
  wait_ready
}

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

wait_ready() {
  local deadline=$((SECONDS + ${KAFKA_START_TIMEOUT:-90}))
  until answers; do
    if ! running; then log "broker exited; see $data/logs/"; tail -n 20 "$data/logs/stdout.log" >&2 || true; exit 1; fi
    if [ $SECONDS -ge $deadline ]; then log "broker did not answer in time; see $data/logs/"; exit 1; fi
    sleep 0.5
  done
  log "broker ready on 127.0.0.1:$port (Kafka $version, data $data)"
}

stop() {
  if ! running; then log "not running"; rm -f "$pidfile"; return; fi
  local pid; pid="$(cat "$pidfile")"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then kill -KILL "$pid" 2>/dev/null || true; break; fi
    sleep 0.5
  done
  rm -f "$pidfile"
  log "stopped"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) answers ;;
  fetch) fetch ;;
  reset) stop; rm -rf "$data" ;;
  *) echo "usage: $0 start|stop|status|fetch|reset" >&2; exit 2 ;;
esac
