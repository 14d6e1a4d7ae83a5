#!/usr/bin/env bash
# The Helm chart renders and its manifests are valid Kubernetes objects, offline:
# `helm lint` and `helm template` with the default values and with
# deploy/helm/values-production.yaml, each rendering checked by kubernetes-validate
# (PyPI; it bundles the Kubernetes schemas, so no download at check time: kubeconform
# would fetch its schemas from the internet). CRDs it has no schema for (the
# ServiceMonitor) are reported as a warning, not checked.
#
# helm is pinned and built from the Go module proxy into .cache/tools/ (git-ignored) the
# first time (about 2 minutes); a helm already on PATH or in .cache/tools is used as is.
set -euo pipefail
cd "$(dirname "$0")/.."

HELM_VERSION=v3.22.0
TOOLS="$PWD/.cache/tools"
VALIDATE="${KUBERNETES_VALIDATE:-.venv/bin/kubernetes-validate}"
CHART=deploy/helm/npo-integration
OUT=var/chart

if command -v helm >/dev/null 2>&1; then
  HELM=$(command -v helm)
elif [ -x "$TOOLS/helm" ]; then
  HELM="$TOOLS/helm"
else
  echo "chart-check: building helm $HELM_VERSION into $TOOLS (once)"
  mkdir -p "$TOOLS"
  GOBIN="$TOOLS" go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  HELM="$TOOLS/helm"
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
