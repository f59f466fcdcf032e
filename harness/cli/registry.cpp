// The registry table: one line per backend. A backend's folder declares everything else about it
// (its Descriptor); see docs/ARCHITECTURE.md, "How to add a transport / suite / memory provider /
// collective backend".
#include "harness/cli/registry.hpp"

#include "harness/bootstrap/launchers.hpp"
#include "harness/placement/placement.hpp"
#include "suites/collective/collective.hpp"
#include "suites/copy/copy.hpp"
#include "suites/pingpong/pingpong.hpp"
#include "suites/stream/stream.hpp"
#include "transports/api/memory.hpp"
#include "transports/cuda/cuda_copy.hpp"
#include "transports/cuda/cuda_memory.hpp"
#include "transports/mpi/mpi_descriptor.hpp"
#include "transports/nccl/nccl_descriptor.hpp"
#include "transports/tcp/tcp_descriptor.hpp"
#include "transports/verbs/verbs_descriptor.hpp"

namespace fabricbench::cli {
namespace {

// Connection life events (broken, reconnected, reconnect_failed) of any transport that reports
// them, as run-document events.
nlohmann::json connection_events(transport::Transport& t) {
  nlohmann::json out = nlohmann::json::array();
  if (auto* source = dynamic_cast<transport::ConnectionEventSource*>(&t)) {
    for (const auto& e : source->drain_connection_events()) {
      out.push_back({{"t_ns", e.wall_ns},
                     {"kind", e.kind},
                     {"detail",
                      {{"peer", e.peer},
                       {"index", e.index},
                       {"role", e.role},
                       {"cause", e.cause},
                       {"outage_ns", e.outage_ns},
                       {"attempts", e.attempts},
                       {"lost_messages", e.lost_messages},
                       {"resent_messages", e.resent_messages},
                       {"mono_ns", e.mono_ns}}}});
    }
  }
  return out;
}

#ifdef FABRICBENCH_HAVE_VERBS_TRANSPORT
// The verbs device's asynchronous events (port down/up, QP fatal), then connection events.
nlohmann::json verbs_events(transport::Transport& t) {
  nlohmann::json out = nlohmann::json::array();
  if (auto* source = dynamic_cast<transport::verbs::EventSource*>(&t)) {
    for (const auto& e : source->drain_events()) {
      out.push_back({{"t_ns", e.wall_ns},
                     {"kind", e.type},
                     {"detail",
                      {{"device", e.device},
                       {"port", e.port},
                       {"qp_num", e.qp_num},
                       {"mono_ns", e.mono_ns}}}});
    }
  }
  for (auto& e : connection_events(t)) out.push_back(std::move(e));
  return out;
}
#endif

}  // namespace

engine::Registry make_registry() {
  engine::Registry r;
  r.transports.push_back({transport::tcp::descriptor(), connection_events});
#ifdef FABRICBENCH_HAVE_VERBS_TRANSPORT
  r.transports.push_back({transport::verbs::descriptor(), verbs_events});
#else
  r.transports.push_back({transport::verbs::declared(), {}});  // its keys validate; skipped
#endif
  r.suites.push_back({suites::pingpong_descriptor()});
  r.suites.push_back({suites::stream_descriptor()});
  r.suites.push_back({suites::collective_descriptor()});
  r.suites.push_back({suites::copy_descriptor(transport::cuda::make_copy_engine)});
  r.collectives.push_back({transport::mpi::descriptor()});
  r.collectives.push_back({transport::nccl::descriptor()});
  r.memory.push_back(transport::host_memory());
  r.memory.push_back(transport::hugepage_memory());
  r.memory.push_back(transport::dmabuf_memory());
  r.memory.push_back(transport::cuda::cuda_device_memory());
  r.memory.push_back(transport::cuda::cuda_host_memory());
  return r;
}

std::vector<Component> components() {
  std::vector<Component> out;
  out.push_back({"launcher local", true, "forks ranks on this host"});
  out.push_back({"launcher env", true, "FABRICBENCH_RANK/SIZE/ROOT/SECRET from the environment"});
  out.push_back({"launcher mpi", bootstrap::mpi_available(),
                 bootstrap::mpi_available()
                     ? "mpirun / srun --mpi=pmix (MPI broadcasts the side channel)"
                     : "not built: MPI was not found at configure time"});
  out.push_back({"launcher slurm", true,
                 "plain srun: SLURM_PROCID/NTASKS/STEP_NODELIST, rank 0 on the first node"});
  out.push_back({"placement hwloc", placement::built_with_hwloc(),
                 placement::built_with_hwloc()
                     ? "placement: auto | explicit bind ranks near their NIC/GPU"
                     : "built without hwloc: only placement: none (libhwloc-dev not found)"});
  return out;
}

}  // namespace fabricbench::cli
