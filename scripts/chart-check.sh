#!/usr/bin/env bash
# The Helm chart renders and its manifests are valid Kubernetes objects, offline:
# `helm lint` and `helm template` with the default values and with
# deploy/helm/values-production.yaml, each rendering checked by kubernetes-validate
# (PyPI; it bundles the Kubernetes schemas, so no download at check time: kubeconform
# would fetch its schemas from the internet). CRDs it has no schema for (the
# ServiceMonitor) are reported as a warning, not checked.
#
# helm is pinned and built from the Go module proxy the first time (about 2 minutes) into the
# user's cache (${XDG_CACHE_HOME:-~/.cache}/npo-integration/tools/helm-<version>), so every
# checkout on the machine, CI's fresh clone included, builds it once; a helm already on PATH
# is used as is. `scripts/chart-check.sh --which-helm` prints the helm it would use, if there is
# one yet, and builds nothing (tests/unit/test_helm_chart.py runs that helm).
set -euo pipefail
cd "$(dirname "$0")/.."

HELM_VERSION=v3.22.0
TOOLS="${XDG_CACHE_HOME:-$HOME/.cache}/npo-integration/tools"
VALIDATE="${KUBERNETES_VALIDATE:-.venv/bin/kubernetes-validate}"
CHART=deploy/helm/npo-integration
OUT=var/chart

HELM=""
if command -v helm >/dev/null 2>&1; then
  HELM=$(command -v helm)
elif [ -x "$TOOLS/helm-$HELM_VERSION" ]; then
  HELM="$TOOLS/helm-$HELM_VERSION"
fi
if [ "${1:-}" = --which-helm ]; then
  [ -n "$HELM" ] && echo "$HELM"
  exit 0
fi
if [ -z "$HELM" ]; then
  echo "chart-check: building helm $HELM_VERSION into $TOOLS (once per machine)"
  mkdir -p "$TOOLS"
  build=$(mktemp -d "$TOOLS/build.XXXXXX")
  GOBIN="$build" go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  mv "$build/helm" "$TOOLS/helm-$HELM_VERSION"  # a rename: complete or absent, never cut
  rmdir "$build"
  HELM="$TOOLS/helm-$HELM_VERSION"
fi

mkdir -p "$OUT"
for values in default production; do
  args=()
  [ "$values" = production ] && args=(-f deploy/helm/values-production.yaml)
  "$HELM" lint --strict --quiet "$CHART" "${args[@]}"
  "$HELM" template npo "$CHART" "${args[@]}" >"$OUT/$values.yaml"
  "$VALIDATE" --strict --quiet "$OUT/$values.yaml"
  echo "chart-check: $values values: rendered and valid ($OUT/$values.yaml)"
done
