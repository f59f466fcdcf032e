#pragma once
// The experiment envelope of one rank: everything about the host that a figure depends on.
// Captured on every rank and stored in the run document under envelope.ranks[rank].
// Reads /proc and /sys only (plus library version calls); never fails: a fact that cannot be
// read is recorded as null with a reason in "unavailable".
#include <string>

#include <nlohmann/json.hpp>

namespace fabricbench::envelope {

struct Context {
  int rank = 0;
  int size = 1;
  std::string launcher;  // local | mpi | env
};

// Keys (docs/RESULTS.md): rank, hostname, pid, kernel{release,version,cmdline}, os_release,
// cpu{model, cores_online, sockets, governor, frequency_khz{min,max,cur}}, numa{nodes:[{id, cpus,
// mem_total_bytes}]}, placement{cpu (sched_getcpu), numa_node, affinity (cpu list)},
// memory{total_bytes, thp_enabled, thp_defrag, swappiness, hugepages_total, hugepage_size_bytes},
// sysctls{net.core.rmem_max, ... }, nics:[{name, driver, mtu, speed_mbps, operstate, numa_node,
// mac, addresses}], rdma_devices:[{name, fw_ver, node_guid, ports:[{port, state, link_layer,
// lid, gids:[...]}]}] or unavailable reason, gpus:[...] or unavailable reason,
// libraries{libibverbs, librdmacm, libfabric, mpi, cuda, nccl, yaml_cpp, nlohmann_json, fmt,
// openssl} (version or null), environment{NCCL_*, UCX_*, FI_*, OMPI_*, ... with secrets redacted}.
nlohmann::json capture(const Context& context);

// True if an environment variable name looks like it holds a secret
// (SECRET, TOKEN, PASSWORD, PASSWD, KEY, CREDENTIAL, AUTH in the name).
bool looks_secret(const std::string& name);

}  // namespace fabricbench::envelope
