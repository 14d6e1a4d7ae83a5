#!/usr/bin/env bash
# A single-node Apache Kafka broker (KRaft) on 127.0.0.1, from Maven Central jars.
#
#   scripts/kafka.sh start    fetch jars (cached), format once, start, wait until it answers
#   scripts/kafka.sh stop     stop cleanly (SIGTERM, then SIGKILL after 30 s)
#   scripts/kafka.sh status   exit 0 if the broker answers
#   scripts/kafka.sh reset    stop and delete the broker's data (a new cluster id at the next
#                             start), and name the workers' data directories this invalidated
#
# Idempotent: a second start reuses the cached jars and a running broker.
# Knobs: KAFKA_PORT (19092), KAFKA_CONTROLLER_PORT (19093), KAFKA_HOME (.cache/kafka),
#        KAFKA_DATA (var/kafka), KAFKA_HEAP (512m).
#
# KAFKA_SECURE=1: a second broker that runs beside the plaintext one (port 19094, controller
# 19095, data var/kafka-secure), whose only client listener is SASL_SSL with SCRAM-SHA-512:
#   - a CA and a broker certificate (for 127.0.0.1 and localhost) are made at each start
#     (openssl; keytool makes the broker's Java trust store);
#   - at the first start, a SCRAM user with a random password is written into the metadata
#     log by Kafka's own storage tool (kafka-storage format --add-scram);
#   - clients find what they need in $KAFKA_DATA/client/: ca.pem (the CA, PEM) and sasl.env
#     (KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD; mode 0600).
# The controller listener stays plaintext on 127.0.0.1 (SCRAM is not available to KRaft
# controllers); no client is given its port.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
secure="${KAFKA_SECURE:-0}"
if [ "$secure" = 1 ]; then
  port="${KAFKA_PORT:-19094}"
  controller_port="${KAFKA_CONTROLLER_PORT:-19095}"
  data="${KAFKA_DATA:-$root/var/kafka-secure}"
else
  port="${KAFKA_PORT:-19092}"
  controller_port="${KAFKA_CONTROLLER_PORT:-19093}"
  data="${KAFKA_DATA:-$root/var/kafka}"
fi
home="${KAFKA_HOME:-$root/.cache/kafka}"
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
  # log.cleaner.dedupe.buffer.size: the cleaner allocates it on the heap at start, 128 MB by
  # default: half of a private test broker's 256 MB heap, which failed to start now and then
  # (OutOfMemoryError in LogManager). 32 MB dedupes over a million keys per cleaning pass.
  # log.segment.delete.delay.ms: a deleted topic's files go a second after its deletion, not a
  # minute: tests and benches delete hundreds of partitions at their end, and that burst of file
  # work a minute later stalled the broker's writes for up to a second in the middle of whatever
  # ran then (bench/harness.py waits for it before the next measurement).
  mkdir -p "$data/logs" "$data/log-dirs"
  # umask: the secure broker's properties hold its store and SCRAM passwords.
  (umask 077 && if [ "$secure" = 1 ]; then listener_config; else plaintext_listener_config; fi \
    > "$data/server.properties")
  cat >> "$data/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
controller.listener.names=CONTROLLER
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
log.cleaner.dedupe.buffer.size=33554432
log.segment.delete.delay.ms=1000
PROPS
}

plaintext_listener_config() {
  cat <<PROPS
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
PROPS
}

# The secure broker's secrets, made once (with its data): a user for the broker itself
# (inter-broker SCRAM), the clients' user, the Java stores' password.
secret() {
  local file="$data/secrets/$1"
  if [ ! -s "$file" ]; then
    mkdir -p "$data/secrets"
    (umask 077 && openssl rand -hex 24 > "$file")
  fi
  cat "$file"
}

sasl_user=npo-integration

listener_config() {
  cat <<PROPS
listeners=SASL_SSL://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=SASL_SSL://127.0.0.1:$port
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
inter.broker.listener.name=SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="$(secret broker)";
ssl.keystore.type=PKCS12
ssl.keystore.location=$data/tls/broker.p12
ssl.keystore.password=$(secret store)
ssl.truststore.type=PKCS12
ssl.truststore.location=$data/tls/truststore.p12
ssl.truststore.password=$(secret store)
ssl.client.auth=none
PROPS
}

# A fresh CA and broker certificate (valid 30 days) at each start of the secure broker; the CA
# is also left for clients, as PEM, in $data/client/ca.pem.
make_certificates() {
  local tls="$data/tls" store; store="$(secret store)"
  rm -rf "$tls" && mkdir -p "$tls" "$data/client"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=npo-integration test CA" \
    -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$tls/broker.key" -out "$tls/broker.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' \
    > "$tls/broker.ext"
  openssl x509 -req -days 30 -in "$tls/broker.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
    -CAcreateserial -extfile "$tls/broker.ext" -out "$tls/broker.pem" 2>/dev/null
  openssl pkcs12 -export -name broker -in "$tls/broker.pem" -inkey "$tls/broker.key" \
    -certfile "$tls/ca.pem" -out "$tls/broker.p12" -passout "pass:$store"
  keytool -importcert -noprompt -alias ca -file "$tls/ca.pem" -storetype PKCS12 \
    -keystore "$tls/truststore.p12" -storepass "$store" >/dev/null 2>&1
  rm -f "$tls/ca.key"  # nothing more is signed with it
  cp "$tls/ca.pem" "$data/client/ca.pem"
}

write_client_credentials() {
  (umask 077 && cat > "$data/client/sasl.env" <<ENV
KAFKA_SASL_MECHANISM=SCRAM-SHA-512
KAFKA_SASL_USERNAME=$sasl_user
KAFKA_SASL_PASSWORD=$(secret user)
ENV
  )
}

jvm_opts=(-Xmx"$heap" -Xms128m -XX:+UseG1GC -Djava.awt.headless=true
  "-Dkafka.logs.dir=$data/logs" "-Dlog4j2.configurationFile=$root/scripts/kafka/log4j2.properties"
  -cp "$libs/*")

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

start() {
  if answers; then log "broker already answers on 127.0.0.1:$port"; return; fi
  if running; then log "broker process is up; waiting for it"; wait_ready; return; fi
  if listening; then
    # Another checkout's broker (a worktree, CI's fresh clone beside a developer's): the same
    # broker serves them all, as every test and deployment names its own topics.
    log "a broker of another checkout already listens on 127.0.0.1:$port; using it"
    return
  fi
  command -v java >/dev/null || { log "java not found (Java 17+ is needed)"; exit 1; }
  fetch
  write_config
  local users=()
  if [ "$secure" = 1 ]; then
    make_certificates
    write_client_credentials
    # The SCRAM users, written into the metadata log when the storage is formatted.
    users=(--add-scram "SCRAM-SHA-512=[name=broker,password=$(secret broker)]"
      --add-scram "SCRAM-SHA-512=[name=$sasl_user,password=$(secret user)]")
  fi
  if [ ! -f "$data/log-dirs/meta.properties" ]; then
    java "${jvm_opts[@]}" kafka.tools.StorageTool format -c "$data/server.properties" \
      -t "$(java "${jvm_opts[@]}" kafka.tools.StorageTool random-uuid)" "${users[@]}" >/dev/null
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
  log "broker ready on 127.0.0.1:$port$([ "$secure" = 1 ] && echo " (SASL_SSL)") (Kafka $version, data $data)"
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

# The broker's data is deleted, and with it every changelog: a worker's table state built from
# them (its data directory records the cluster id in cluster.json) no longer matches. Name the
# directories of this checkout that belong to the deleted cluster, and what each start will do.
reset() {
  local cluster="" dirs=()
  if [ -f "$data/log-dirs/meta.properties" ]; then
    cluster="$(sed -n 's/^cluster.id=//p' "$data/log-dirs/meta.properties")"
  fi
  stop
  rm -rf "$data"
  log "deleted $data${cluster:+ (cluster $cluster)}: its topics, changelogs and consumer offsets are gone"
  [ -n "$cluster" ] || return 0
  while IFS= read -r marker; do
    if grep -q "\"$cluster\"" "$marker"; then dirs+=("${marker%/cluster.json}"); fi
  done < <(find "$root/var" -maxdepth 3 -name cluster.json 2>/dev/null)
  for dir in ${dirs[@]+"${dirs[@]}"}; do
    if [ "$dir" = "$root/var/demo-data" ]; then
      log "invalidated ${dir#"$root"/}: the table state of cluster $cluster; \`make run\` rebuilds it by itself"
    else
      log "invalidated ${dir#"$root"/}: the table state of cluster $cluster; a worker on it stops until \`npo-integration reset-local-state --data-dir ${dir#"$root"/}\` (docs/operations.md#local-table-state)"
    fi
  done
  log "data directories outside var/ are not searched: any that ran against this broker is invalidated the same way"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) answers ;;
  fetch) fetch ;;
  reset) reset ;;
  *) echo "usage: $0 start|stop|status|fetch|reset" >&2; exit 2 ;;
esac
