#!/usr/bin/env bash
# Installs the Debian packages fabricbench needs to build, test and compare against peer tools.
# Idempotent; runs apt-get only for what is missing. Needs root (or sudo).
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config git clang-format
  # lint: clang-tidy and run-clang-tidy (ci/clang-tidy.sh); the asan and tsan presets build with
  # clang, whose compiler-rt brings libFuzzer (tests/fuzz, ci/fuzz.sh)
  clang-tidy clang libclang-rt-dev
  # libraries
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libfmt-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev libsqlite3-dev
  # optional parts: MPI launcher, verbs transport, topology
  libopenmpi-dev openmpi-bin libibverbs-dev librdmacm-dev rdma-core ibverbs-providers
  libhwloc-dev libnuma-dev
  # the dmabuf memory provider: DRM ioctl headers only (vgem dumb buffers), no library linked
  libdrm-dev
  # tests and peer comparisons
  python3 python3-jsonschema iperf3 sockperf iproute2 procps nftables iptables chromium
  # tests/cluster: a real Slurm on namespace nodes (slurmctld, slurmd, srun; munge for auth)
  slurm-wlm munge
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
