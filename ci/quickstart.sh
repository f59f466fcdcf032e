#!/usr/bin/env bash
# Installs what is needed, builds fabricbench (release) and runs the default experiment
# (configs/quickstart.yaml: TCP ping-pong and stream between 2 local ranks). Extra arguments go
# to `fabricbench run`, e.g. ci/quickstart.sh -o /tmp/run1
set -euo pipefail
cd "$(dirname "$0")/.."
ci/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
exec build/release/fabricbench run configs/quickstart.yaml "$@"
