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

// Keys (docs/RESULTS.md): rank, size, launcher, hostname, pid, kernel{release, version, machine,
// cmdline}, os_release (PRETTY_NAME), cpu{model, cores_online, sockets, governor, frequency_cpu
// (the CPU whose cpufreq was read: the current one), frequency_khz{min,max,cur}},
// numa{nodes:[{id, cpus, mem_total_bytes}]}, placement{cpu (sched_getcpu), numa_node, affinity
// (cpu list such as "0-3,8"), binding (what record_placement_binding was given, when it was:
// {mode, cpus, numa_nodes, device, device_numa_node, distance, reason})},
// memory{total_bytes, thp_enabled, thp_defrag, swappiness,
// hugepages_total, hugepage_size_bytes}, sysctls{"net.core.rmem_max": 4194304, ...,
// "net.ipv4.tcp_rmem": "4096 131072 6291456"} (a single integer stays a number, anything else is
// a whitespace-normalized string), nics:[{name, driver, mtu, speed_mbps, operstate, numa_node,
// mac, addresses:["192.0.2.2/24", "fe80::1/64"]}],
// rdma_devices{available: true, devices:[{name, node_guid, fw_ver, vendor_id, vendor_part_id,
// ports:[{port, state, link_layer (InfiniBand|Ethernet), lid, active_mtu (bytes), gid_table_len,
// gids:[{index, gid, type}]}]}]} or {available: false, reason} (e.g. "ibv_get_device_list:
// Function not implemented"), gpus{available, reason (when no GPU), driver_version,
// nvml{available, library, reason, driver_version, cuda_driver_version, device_count},
// devices:[{bus_id, model, ...every field of /proc/driver/nvidia/gpus/*/information in
// snake_case, product_name, uuid, pci_bus_id, nvml_index, pcie{generation, width, max_generation,
// max_width, gpu_max_generation}, pcie_degraded, pcie_degraded_reason, pcie_path, numa_node,
// bar1_total_bytes, mig_mode, ecc_mode, ecc_errors, clocks_mhz, power_limit_mw,
// enforced_power_limit_mw, persistence_mode}], rdma_nics:[{name, pcie_path, numa_node,
// relations{bus_id: PIX|PXB|PHB|NODE|SYS}, nearest_gpu, nearest_relation}]} (gpus.hpp,
// docs/RESULTS.md), libraries{libibverbs, librdmacm, libfabric, mpi, cuda, nccl, yaml_cpp,
// nlohmann_json, fmt, openssl} (version string or null) with library_sources{name: where the
// version came from}, environment{NCCL_*, UCX_*, FI_*, OMPI_*, PMIX_*, SLURM_*, MLX5_*, IBV_*,
// RDMAV_*, CUDA_*, FABRICBENCH_*, UCC_*, I_MPI_*, MPICH_*, PSM3_*, NVSHMEM_*; "<redacted>" where
// looks_secret}, unavailable{"dotted.fact.path": "reason"} for every fact recorded as null (and for
// the rdma_devices / gpus objects when they are unavailable).
nlohmann::json capture(const Context& context);

// The placement this process was bound to (harness/placement's Binding as JSON), recorded under
// placement.binding by every later capture() of this process. It is process state like the
// affinity the envelope reads: the rank sets it once, after binding and before the engine
// captures the envelope.
void record_placement_binding(nlohmann::json binding);

// True if an environment variable name looks like it holds a secret
// (SECRET, TOKEN, PASSWORD, PASSWD, KEY, CREDENTIAL, AUTH in the name).
bool looks_secret(const std::string& name);

}  // namespace fabricbench::envelope
