# Sourced by the VM experiment tests: runs CONFIG across the two guests with
# ci/vm/run-experiment.sh and validates the run document against the schema.
#   run_checked FABRICBENCH_BINARY VM_BUILD_DIR CONFIG TIMEOUT_S [fabricbench run args...]
# More run-experiment.sh options (--nics, --before) may be set beforehand in the array
# run_experiment_opts.
# Leaves the run in $out/run (a temp dir removed on exit). Exits the test with 77 when no VM
# can be had here, 1 when the run or the schema check fails.
run_checked() {
  local bin="$1" build_dir="$2" config="$3" timeout_s="$4" repo rc
  shift 4
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  out="$(mktemp -d /tmp/fabricbench-vm-test.XXXXXX)"
  trap 'rm -rf "$out"' EXIT
  "$repo/ci/vm/run-experiment.sh" --build-dir "$build_dir" --timeout "$timeout_s" \
    "${run_experiment_opts[@]+"${run_experiment_opts[@]}"}" "$bin" "$config" "$out/run" "$@"
  rc=$?
  [ $rc -eq 77 ] && exit 77
  if [ $rc -ne 0 ]; then
    echo "FAIL: run-experiment.sh exited $rc"
    exit 1
  fi
  if python3 -c 'import jsonschema' 2>/dev/null; then
    python3 "$repo/ci/validate-run.py" "$repo/results/schema/run-v1.schema.json" "$out/run" ||
      exit 1
  fi
}
