#pragma once
// Everything one case holds on one rank before its repetitions: the workload, the transport, the
// memory provider and the registered buffers; and the checks that decide, before any traffic,
// whether the case can run here. Torn down in reverse order.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "harness/bootstrap/bootstrap.hpp"
#include "harness/engine/fault_run.hpp"
#include "harness/engine/registry.hpp"
#include "harness/spec/experiment.hpp"
#include "results/run_document.hpp"
#include "suites/api/workload.hpp"
#include "transports/api/staging.hpp"
#include "transports/api/transport.hpp"

namespace fabricbench::engine {

struct CaseSetup {
  const SuiteEntry* suite = nullptr;
  const TransportEntry* transport_entry = nullptr;
  std::unique_ptr<suites::Workload> workload;
  std::unique_ptr<transport::Transport> transport;
  // The transport when it stages the case's memory (owned by `transport`), else nullptr.
  transport::StagingTransport* staging = nullptr;
  std::unique_ptr<transport::MemoryProvider> provider;
  transport::Buffer send_buffer;
  transport::Buffer recv_buffer;
  transport::MemoryRegion send_region;
  transport::MemoryRegion recv_region;
  bool registered = false;
  std::vector<std::unique_ptr<transport::Endpoint>> endpoints;
  std::unique_ptr<CaseFaults> faults;  // the injecting rank of a case with a fault

  CaseSetup() = default;
  CaseSetup(const CaseSetup&) = delete;
  CaseSetup& operator=(const CaseSetup&) = delete;
  ~CaseSetup();
};

// The workload's parameters: the case's own fields, its suite's keys (Descriptor::configure)
// and its transport's completion moderation.
suites::Params to_params(const spec::Case& c, const spec::Experiment& e, const Registry& registry);

// Local set-up of one case: everything before the first collective of the transport. Throws
// core::Error: unavailable (skipped everywhere) or anything else (fails everywhere). The buffers
// hold `flow_sets` sets of the workload's slots for every connection, one set per flow a rank
// runs at once (patterns incast and shift; set i at offset i x the set's bytes).
void prepare(CaseSetup& s, const spec::Case& c, const suites::Params& p, const Registry& registry,
             int size, int flow_sets = 1);

// The queue entries each endpoint needs (window + 2 control messages, receives, or the open
// loop's inflight); throws core::Error(config) when the endpoint's queue is too small.
void check_queue_depth(const spec::Case& c, const suites::Params& p, const CaseSetup& s,
                       const transport::Endpoint& ep);

// Every rank's registered regions to every rank (an allgather); `ctx`'s peer regions are those
// of ctx.peer when `has_peer` (one-sided operations address them).
void exchange_regions(bootstrap::Bootstrap& bs, const CaseSetup& s, suites::Context& ctx,
                      bool has_peer);
// The same allgather, every rank's regions by rank.
struct RankRegions {
  transport::RemoteRegion send;
  transport::RemoteRegion recv;
};
std::vector<RankRegions> gather_regions(bootstrap::Bootstrap& bs, const CaseSetup& s);

// This rank's memory for the run document: the provider's facts, how the buffers were
// registered, and the staging copies so far (null when not staged).
nlohmann::json memory_facts(const CaseSetup& s);

// The transport's events since the last call (an empty array when it reports none).
// A multi-rail transport's traffic per rail so far (transport::RailTrafficSource); empty for
// other transports.
std::vector<transport::RailTraffic> rail_traffic(const CaseSetup& setup);
// What each rail moved between two readings of rail_traffic().
std::vector<transport::RailTraffic> rail_delta(const std::vector<transport::RailTraffic>& before,
                                               std::vector<transport::RailTraffic> after);

nlohmann::json drain_events(CaseSetup& setup);

// "config", "unavailable", ... (the run document's error kinds).
const char* kind_name(core::ErrorKind kind);

// Why `bytes` of buffers cannot be registered by a transport that pins them (its capabilities'
// pins_memory), or nullopt when they can: beyond `memlock_limit` (RLIMIT_MEMLOCK's soft limit,
// RLIM_INFINITY: none) unless the process has CAP_IPC_LOCK, which the kernel lets pin past it.
// The text names the figure, the limit and how to raise it. Pure.
std::optional<std::string> memlock_refusal(std::size_t bytes, std::uint64_t memlock_limit,
                                           bool cap_ipc_lock);

// Whether a case can run, agreed by every rank from each rank's local outcome of a step: skipped
// where some rank says unavailable (`skip`: "rank N: reason", the first such), failed where some
// rank has any other error (`fails`, one per rank), else it runs.
struct CaseVerdict {
  std::string skip;
  std::vector<results::CaseError> fails;
};
CaseVerdict agree_on_case(bootstrap::Bootstrap& bs, const std::optional<core::Error>& local);

}  // namespace fabricbench::engine
