#!/usr/bin/env bash
# The Helm chart (deploy/helm/adoport), rendered by a real Helm engine — Helm's Go SDK,
# embedded by the PyPI package helm-python-sdk — for the default values and each documented
# mode (deploy/helm/adoport/ci/*-values.yaml): `helm lint`, values.schema.json, every
# manifest against Kubernetes' schemas (strict: unknown fields are errors) for the oldest
# and newest supported Kubernetes, the ServiceMonitor against the Prometheus Operator's
# API, the command lines, probes, secrets, security context and volumes each mode needs,
# and the values that must be refused (deploy/chart_test.py says each check).
#
# Installs what it needs (deploy/chart-test-requirements.txt, pinned) into a throw-away
# venv under target/ the first time; later runs reuse it while the pins are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/chart-venv
requirements=deploy/chart-test-requirements.txt
stamp="$venv/.requirements"
if ! cmp -s "$requirements" "$stamp" 2>/dev/null; then
  echo "test-chart: installing $requirements into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  # The download cache stays inside the repository too.
  PIP_CACHE_DIR="$PWD/target/pip-cache" "$venv/bin/pip" install --quiet --disable-pip-version-check \
    --no-input -r "$requirements"
  cp "$requirements" "$stamp"
fi
"$venv/bin/python" -c 'import helm_python as h; print("test-chart: Helm SDK", h.helm_sdk_version())'
exec "$venv/bin/python" deploy/chart_test.py
