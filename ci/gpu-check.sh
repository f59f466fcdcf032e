#!/usr/bin/env bash
# The GPU checks of the nccl backend, the GPU memory providers, the copy suite and the envelope's
# GPU section, prepared here and run once on
# the GPU machine (../shared/recipes/gpu-machine.md: no package registry there, so bring the build).
#
#   ci/gpu-check.sh bundle [BUILD_DIR]           here: copies fabricbench, the nccl tests and the
#                                                shared libraries they need (ldd, less the C
#                                                library and the driver's libcuda) into
#                                                BUILD_DIR/gpu-bundle (git-ignored under build/)
#   ci/gpu-check.sh run [BUNDLE] [NCCL_TESTS_BIN] [NVBANDWIDTH]
#                                                on the GPU machine: writes everything to $OUT
#                                                (or ./gpu-check-out)
#
# What `run` needs: the bundle (LD_LIBRARY_PATH=BUNDLE/lib brings libcudart.so.13, libnccl.so.2
# 2.28.9, libstdc++ and the rest; libcuda.so.1 is the machine's driver), a glibc at least as new
# as the build machine's (checked first), nvidia-smi. NCCL_TESTS_BIN: a folder with nccl-tests'
# *_perf binaries built against the same NCCL (never committed; built here from its sources).
# NVBANDWIDTH: nvbandwidth's binary, built here with nvcc from NVIDIA/nvbandwidth (never
# committed); the copy suite and nvbandwidth then run in turn, three rounds.
# Every step is bounded by `timeout` and logs to its own file; the script goes on after a failure
# and exits non-zero when any step failed.
set -uo pipefail

mode=${1:-}
here=$(cd "$(dirname "$0")/.." && pwd)

bundle() {
  local build=${1:-${here}/build/release}
  local dest=${build}/gpu-bundle
  rm -rf "${dest}" && mkdir -p "${dest}/bin" "${dest}/lib"
  local bins=()
  for b in fabricbench tests/nccl/nccl_registry_test tests/nccl/nccl_log_test \
    tests/contract/memory_contract_test tests/copy/copy_test; do
    if [[ -x ${build}/${b} ]]; then
      cp "${build}/${b}" "${dest}/bin/" && bins+=("${build}/${b}")
    else
      echo "gpu-check: ${build}/${b} not built (cmake --build ${build} --target $(basename "${b}"))" >&2
    fi
  done
  # Every shared library but the C library itself and the driver's.
  ldd "${bins[@]}" 2>/dev/null | awk '/=> \// {print $3}' | sort -u |
    grep -Ev '/(libc|libm|libdl|librt|libpthread|ld-linux[^/]*|libcuda)\.so' |
    while read -r lib; do cp -L "${lib}" "${dest}/lib/"; done
  # libnccl.so.2 is ~200 MiB, over the 64 MiB a device run can carry: left out unless
  # BUNDLE_NCCL=1; `run` then takes the GPU machine's own (PyTorch's; it must be NCCL >= 2.28,
  # whose ncclAlltoAll/ncclGather/ncclScatter the backend calls).
  rm -f "${dest}"/lib/libnccl.so*
  [[ ${BUNDLE_NCCL:-0} == 1 ]] && cp -L /usr/local/cuda/lib/libnccl.so.2 "${dest}/lib/"
  cp -r "${here}/configs" "${dest}/"
  ldd --version | head -1 >"${dest}/built-with-glibc.txt"
  echo "gpu-check: bundle in ${dest} ($(du -sh "${dest}" | cut -f1)); carry it and run:"
  echo "  ci/gpu-check.sh run ${dest#"${here}"/} [NCCL_TESTS_BIN]"
}

step() {  # step NAME SECONDS COMMAND...: runs it, logs to $out/NAME.log, records its status
  local name=$1 limit=$2
  shift 2
  echo "== ${name}: $*" | tee -a "${out}/summary.txt"
  timeout -k 10 "${limit}" "$@" >"${out}/${name}.log" 2>&1
  local rc=$?
  echo "   rc=${rc}" | tee -a "${out}/summary.txt"
  tail -n 5 "${out}/${name}.log"
  [[ ${rc} -eq 0 ]] || failed=1
}

run() {
  local b=${1:-build/release/gpu-bundle}
  b=$(cd "${b}" && pwd) || exit 2
  local nccl_tests=${2:-} nvbandwidth=${3:-}
  out=${OUT:-${PWD}/gpu-check-out}
  mkdir -p "${out}"
  : >"${out}/summary.txt"
  failed=0
  local machine_nccl=""
  if [[ ! -e ${b}/lib/libnccl.so.2 ]]; then
    machine_nccl=$(python3 -c 'import glob, os, site, torch
dirs = site.getsitepackages() + [os.path.dirname(torch.__file__) + "/lib"]
hits = [g for d in dirs for g in glob.glob(d + "/**/libnccl.so.2", recursive=True)]
print(os.path.dirname(hits[0]) if hits else "")' 2>/dev/null || true)
  fi
  export LD_LIBRARY_PATH="${b}/lib${machine_nccl:+:${machine_nccl}}${LD_LIBRARY_PATH:+:${LD_LIBRARY_PATH}}"
  echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH}" >"${out}/libraries.txt"
  { ldd --version | head -1; echo "built with: $(cat "${b}/built-with-glibc.txt")"; } \
    >"${out}/glibc.txt" 2>&1
  step machine 60 sh -c 'nvidia-smi; nvidia-smi topo -m; nvidia-smi -L'
  local gpus
  gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
  [[ ${gpus} -ge 1 ]] || gpus=1
  step ldd 30 ldd "${b}/bin/nccl_registry_test"
  step nccl_log_test 60 "${b}/bin/nccl_log_test"
  # With a GPU, OneRankAllReduce must pass, not skip; NoGpuSaysWhy skips.
  step nccl_registry_test 300 "${b}/bin/nccl_registry_test" --gtest_print_time=1
  if grep -q '\[  SKIPPED \] NcclRegistry.OneRankAllReduce' "${out}/nccl_registry_test.log"; then
    echo "   OneRankAllReduce skipped on the GPU machine" | tee -a "${out}/summary.txt"
    failed=1
  fi
  if [[ -x ${b}/bin/fabricbench ]]; then
    step list 60 "${b}/bin/fabricbench" list
    step nccl_run 480 "${b}/bin/fabricbench" run "${b}/configs/nccl.yaml" --set "ranks=${gpus}" \
      -o "${out}/fabricbench-runs"
  fi
  gpu_memory_steps "${b}" "${nvbandwidth}"
  if [[ -n ${nccl_tests} ]]; then
    for t in all_reduce all_gather reduce_scatter broadcast reduce alltoall gather scatter sendrecv; do
      [[ -x ${nccl_tests}/${t}_perf ]] || continue
      step "nccl-tests-${t}" 300 "${nccl_tests}/${t}_perf" -b 8 -e 128M -f 2 -g "${gpus}" -d float \
        -o sum -n 20 -w 5
    done
  fi
  echo "gpu-check: results in ${out} (failed=${failed})"
  return "${failed}"
}

# Issue 12's checks: the memory providers' contract with a GPU (none may skip; a device buffer's
# dma-buf export must succeed), the envelope's GPU section beside nvidia-smi's view, configs/gpu.yaml
# (the copy suite; GPU memory over TCP with every message verified; verbs where there is an RDMA
# device), and the copy suite beside nvbandwidth in turn, three rounds.
gpu_memory_steps() {
  local b=$1 nvbw=$2
  [[ -x ${b}/bin/memory_contract_test ]] &&
    step memory_contract 120 env FABRICBENCH_REQUIRE_DMABUF_EXPORT=cuda_device \
      "${b}/bin/memory_contract_test" --gtest_filter='*cuda*:MemoryKeys*'
  [[ -x ${b}/bin/copy_test ]] && step copy_test 120 "${b}/bin/copy_test"
  [[ -x ${b}/bin/fabricbench ]] || return 0
  step envelope 60 sh -c "'${b}/bin/fabricbench' envelope > '${out}/envelope.json'; nvidia-smi topo -m"
  step gpu_run 480 "${b}/bin/fabricbench" run "${b}/configs/gpu.yaml" -o "${out}/gpu-run"
  [[ -n ${nvbw} && -x ${nvbw} ]] || return 0
  # nvbandwidth's defaults: 512 MiB buffers, 16 copies per sample (loopCount), 3 samples.
  cat >"${out}/copy-vs-nvbandwidth.yaml" <<'YAML'
fabricbench: 1
name: copy-vs-nvbandwidth
ranks: 2
defaults: {suite: copy, repetitions: 3, iterations: 16, warmup: 4, host_memory: pinned}
cases:
  - {name: ce, copy: [h2d, d2h, bidir], method: copy_engine, sizes: 512MiB}
  - {name: sm, copy: [h2d, d2h], method: kernel, sizes: 512MiB}
YAML
  local round
  for round in 1 2 3; do
    step "copy_round${round}" 300 "${b}/bin/fabricbench" run "${out}/copy-vs-nvbandwidth.yaml" \
      -o "${out}/copy-round${round}"
    step "nvbandwidth_round${round}" 300 "${nvbw}" -t host_to_device_memcpy_ce \
      device_to_host_memcpy_ce host_to_device_bidirectional_memcpy_ce \
      device_to_host_bidirectional_memcpy_ce host_to_device_memcpy_sm device_to_host_memcpy_sm
  done
}

case ${mode} in
  bundle) shift; bundle "$@" ;;
  run) shift; run "$@" ;;
  *) sed -n '2,20p' "$0" >&2; exit 2 ;;
esac
