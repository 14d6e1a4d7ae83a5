#!/usr/bin/env bash
# `make test` N times in a row (default 3) in a fresh clone of HEAD while a CPU-heavy process
# keeps one core busy: the check that the suite does not flake on a busy machine (issue 14).
#
#   scripts/test-beside-load.sh [RUNS]
#
# The load is `stress-ng --cpu 1` (Debian's stress-ng) or, without it, a Python busy loop; it is
# stopped on exit. Runs use CI=true, as CI does (TEST_TIME_FACTOR 2). Stops at the first failing
# run; prints one line per run and exits with that run's status. Each run's output is kept in
# var/test-beside-load/run-K.log of this checkout.
set -euo pipefail

runs=${1:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
logs=$here/var/test-beside-load
mkdir -p "$logs"
clone=$(mktemp -d)/clone
git clone -q "$here" "$clone"

if command -v stress-ng >/dev/null; then
	stress-ng --cpu 1 --quiet &
else
	python3 -c 'while True: pass' &
fi
load=$!
trap 'kill $load 2>/dev/null || true' EXIT

echo "test-beside-load: $(git -C "$clone" rev-parse --short HEAD) in $clone, $runs runs beside pid $load"
for k in $(seq 1 "$runs"); do
	start=$(date +%s)
	status=0
	(cd "$clone" && CI=true make test) >"$logs/run-$k.log" 2>&1 || status=$?
	summary=$(grep -E '^[0-9]+ (passed|failed)|^=+ .*(passed|failed)' "$logs/run-$k.log" | tr '\n' ' ')
	echo "run $k: exit $status in $(($(date +%s) - start)) s; $summary"
	if [ "$status" -ne 0 ]; then
		exit "$status"
	fi
done
