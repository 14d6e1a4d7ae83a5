#!/usr/bin/env bash
# Broker (already started by `make run`), the simulated NPO API and one worker, in the foreground.
# Secrets for the demo are generated once into var/demo.env (git-ignored, mode 600).
# The demo's table state (var/demo-data) belongs to the broker it ran against: when that broker
# was reset (scripts/kafka.sh reset) or is another one, the worker removes it and rebuilds the
# tables from the broker's changelogs (NPO_RESET_LOCAL_STATE_ON_CLUSTER_CHANGE).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bin="${VENV:-.venv}/bin"
mkdir -p var
if [ ! -f var/demo.env ]; then
  umask 077
  {
    echo "NPO_SECRETS_KEYS=$("$bin/python" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
    echo "NPO_ADMIN_TOKEN=$("$bin/python" -c 'import secrets; print(secrets.token_urlsafe(32))')"
  } > var/demo.env
fi
set -a
# shellcheck disable=SC1091
. var/demo.env
set +a
export NPO_ALLOW_PRIVATE_NPO_URLS=true
export NPO_CONFIG_FILE="${NPO_CONFIG_FILE:-examples/demo/npo-configs.json}"
export NPO_DATA_DIR="${NPO_DATA_DIR:-var/demo-data}"
export NPO_RESET_LOCAL_STATE_ON_CLUSTER_CHANGE="${NPO_RESET_LOCAL_STATE_ON_CLUSTER_CHANGE:-true}"
export NPO_BROKER_URL="${NPO_BROKER_URL:-kafka://127.0.0.1:${KAFKA_PORT:-19092}}"
sandbox_port="${SANDBOX_PORT:-8900}"
web_port="${NPO_WEB_PORT:-6066}"

"$bin/python" -m npo_sandbox --host 127.0.0.1 --port "$sandbox_port" --demo > var/sandbox.log 2>&1 &
sandbox_pid=$!
trap 'kill "$sandbox_pid" 2>/dev/null || true' EXIT

echo "simulated NPO API: http://127.0.0.1:$sandbox_port/npos/demo-npo (log: var/sandbox.log)"
echo "worker web server: http://127.0.0.1:$web_port/health (admin token: NPO_ADMIN_TOKEN in var/demo.env)"
echo "offerings topic:   ${NPO_TOPIC_OFFERINGS:-spotlight.npo-offerings} on ${NPO_BROKER_URL#kafka://}"
# The worker runs as a child the script waits for: a TERM or INT (Ctrl-C) stops it, and the script
# ends only once it has exited, so the next start never finds the data directory still in use.
"$bin/npo-integration" worker -l info &
worker_pid=$!
trap 'kill -TERM "$worker_pid" 2>/dev/null || true' TERM INT
while :; do
  wait "$worker_pid" && status=0 || status=$?
  kill -0 "$worker_pid" 2>/dev/null || break
done
exit "$status"
