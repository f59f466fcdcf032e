#pragma once
// The experiment model: what a YAML experiment file (schema v1, docs/CONFIG.md) resolves to.
// Every case is fully resolved: defaults applied, sweeps and matrices expanded, units parsed.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/settings.hpp"

namespace fabricbench::spec {

enum class Mode { iterations, duration };

// An offered rate as written in the file: absolute (operations or bits per second) or a fraction
// of the sustainable rate that the case's search finds (docs/CONFIG.md, "Regimes").
struct Rate {
  enum class Unit { none, ops_per_s, bits_per_s, fraction };
  Unit unit = Unit::none;  // none: not set
  double value = 0;        // ops/s, bit/s, or a fraction (0.7 for "70%")
  std::string text;        // as written, canonical ("200000/s", "5Gb/s", "70%")
};

// One message size of a size mix with its relative weight.
struct SizeWeight {
  std::uint64_t size = 0;
  double weight = 1;
};

// `regime:` section (docs/CONFIG.md). closed: the suite's own closed loop (perftest-style
// figures, the default); floor: one operation in flight; realistic: open-loop arrivals at `rate`;
// overload: a step profile baseline -> factor x baseline -> baseline; search: the
// sustainable-rate search alone.
// `pattern:` and the `map:` section (docs/CONFIG.md "Patterns"): how ranks pair up. pairs: rank
// r with r + N/2, all pairs at once; all_pairs: every pair of ranks in N-1 rounds of disjoint
// pairs (circle method), judged against the best pair (ClusterKit's thresholds by default), the
// suspects retested against known-good partners; incast and shift: steps of directed flows
// (harness/pattern/flows.hpp), every ordered pair once, with each step's aggregate (the map:
// thresholds do not apply to them).
struct MapSettings {
  std::string pattern = "pairs";     // pairs | all_pairs | incast | shift
  double latency_factor = 2.1;       // a pair is suspect above factor x the best pair's latency
  double bandwidth_fraction = 0.93;  // ... below fraction x the best pair's bandwidth
  double node_fraction = 0.5;        // a node is suspect when more of its pairs than this are
  int retest_partners = 2;           // known-good partners a suspect is retested against
};

struct RegimeSettings {
  std::string kind = "closed";      // closed | floor | realistic | overload | search
  std::string arrival = "poisson";  // constant | poisson
  std::uint64_t seed = 1;
  Rate rate;        // realistic: offered rate; overload: baseline rate (required there)
  int streams = 1;  // concurrent arrival streams per pair (stream s on connection s % N)
  std::vector<SizeWeight> mix;      // empty: every message is message_size; else message_size = max
  std::string mix_text;             // as written ("64B:9,64KiB:1"), "" when not set
  int inflight = 64;                // open loop: most ops posted but not yet confirmed, per stream
  std::uint64_t backlog = 100'000;  // most ops waiting to be posted, per stream; more refused
  std::uint64_t deadline_ns = 0;    // 0: no deadline; else latency above it = a miss
  std::uint64_t sample_interval_ns = 1'000'000;  // queue depth and age sampling period
  // How the generator waits between operations with blocking completions: sleep (in the
  // transport's wait, polling only the last stretch before each arrival) | spin (polls the
  // transport and the clock throughout, as a spinning load generator does; costs a core).
  std::string generator = "sleep";
  // Sustainable-rate search.
  std::uint64_t search_queue_age_ns = 5'000'000;  // bound on a probe's queue-age p99
  std::uint64_t search_probe_ns = 1'000'000'000;  // length of each probe
  double search_precision = 0.03;                 // stop when (hi - lo) / lo <= this
  int search_max_probes = 12;
  // Overload step profile.
  double overload_factor = 2.0;
  std::uint64_t overload_before_ns = 1'000'000'000;
  std::uint64_t overload_during_ns = 1'000'000'000;
  std::uint64_t overload_after_ns = 3'000'000'000;
  bool open_loop() const noexcept {
    return kind == "realistic" || kind == "overload" || kind == "search";
  }
};

// `fault:` (a case key; docs/CONFIG.md "Faults"): one fault on the case's link, timed from the
// start of each repetition's measured phase.
struct FaultSettings {
  // none | link_down | flap | blackhole | loss | delay | rate_limit
  std::string kind = "none";
  std::uint64_t start_ns = 1'000'000'000;  // after the measured phase starts
  std::uint64_t hold_ns = 1'000'000'000;   // how long each occurrence lasts (flap: each down)
  int count = 1;                           // occurrences (flap: down/up cycles)
  std::uint64_t period_ns = 0;             // from one occurrence's start to the next (0: 2 x hold)
  std::uint64_t jitter_ns = 0;             // a random phase in [0, jitter] added to start (seeded)
  std::uint64_t seed = 1;
  double loss = 0;             // loss: fraction of packets dropped (0.05 for "5%")
  std::uint64_t delay_ns = 0;  // delay: added one-way delay (netem)
  double rate_bits_per_s = 0;  // rate_limit: tbf rate
  std::uint64_t bin_ns = 0;    // recovery-curve bin; 0: the transport's default
  int consecutive = 5;         // K: bins that must stay >= 90% / 99% of the baseline (ttr)
  // Where the fault is written, for messages: "quick.yaml:12:7: cases[0].fault[1]" (or
  // "... (from --set '...')"). Not in to_json: the plan does not depend on the file's layout.
  std::string origin;
  bool active() const noexcept { return kind != "none"; }
};

struct Case {
  std::string id;     // stable, unique: "latency.pingpong.tcp.64B.completion=blocking" (CONFIG.md)
  std::string group;  // `name` of the case group in the file (or "cases[N]")
  std::string suite;  // a suite of the registry (`fabricbench list`)
  std::string transport;           // a transport of the registry
  std::uint64_t message_size = 0;  // bytes
  Mode mode = Mode::iterations;
  std::uint64_t iterations = 0;         // iteration mode: measured ops (round trips / messages)
  std::uint64_t duration_ns = 0;        // duration mode: length of the measured phase
  std::uint64_t warmup_iterations = 0;  // iteration mode warm-up
  std::uint64_t warmup_ns = 0;          // duration mode warm-up
  int repetitions = 1;
  std::string completion = "busy_poll";     // busy_poll | blocking
  std::uint64_t interval_ns = 100'000'000;  // interval-series bin (duration mode)
  std::string memory;                       // a memory provider of the registry
  bool verify = false;                      // receiver checks a data pattern
  // A connection that breaks: fail (the case ends with the error) or reconnect (re-established
  // with the peer within reconnect_timeout_ns, where the transport can).
  std::string on_break = "fail";
  std::uint64_t reconnect_timeout_ns = 30'000'000'000;
  // The operation the workload issues: send | write | write_imm | read | fetch_add |
  // compare_swap (transports refuse what they cannot do: TCP offers send only).
  std::string op = "send";
  // The keys its suite declares (and the suite keys every case of a plan records, at their
  // defaults: core::PlanScope), resolved.
  core::Settings suite_settings;
  // The keys its memory provider reads (`gpu`, `numa_node`), resolved.
  core::Settings memory_settings;
  // The keys of its transport's section (`tcp: {...}`), resolved.
  core::Settings transport_settings;
  // Connections (or queue pairs) per pair of ranks: the transport's key for it (or 1).
  int connections = 1;
  RegimeSettings regime;
  MapSettings map;
  FaultSettings fault;
  // The keys whose values came from a matrix list or a size sweep, and the value for this case,
  // in file order (used for display and ids), e.g. {"message_size": "64B", "completion": ...}.
  std::vector<std::pair<std::string, std::string>> varied;
};

// Top-level `injector:` (docs/CONFIG.md "Faults"): who causes the cases' faults, and how.
struct InjectorSettings {
  // none | netns | vm | link | ibport | command.
  //  netns:   fabricbench creates two network namespaces joined by a veth pair (fbd0 on each
  //           side, 198.51.100.1/24 and .2/24) and runs ranks r < N/2 in the first, the others in
  //           the second (local launcher only); the side channel stays outside, on loopback.
  //  vm:      inside the Soft-RoCE guests (ci/vm): the injecting rank acts on its own `target`.
  //  link:    `ip link set <target> down/up` on a real host; target must be in `allow`, and the
  //           interface of the default route is refused unless `force`.
  //  ibport:  `ibportstate <lid> <port> disable/enable` (target "LID:PORT").
  //  command: `inject` and `clear` shell commands run by the injecting rank.
  std::string backend = "none";
  std::string target;              // netns: fbd0 (fixed); vm: eth0 by default
  std::vector<std::string> allow;  // link: interfaces that may be taken down
  bool force = false;              // link: allow the default-route interface
  std::string inject;              // command backend
  std::string clear;               // command backend
  std::uint64_t command_timeout_ns = 10'000'000'000;
  // netns: the veth is shaped to this rate (tc tbf on both ends) for the whole run, so the link
  // has a known capacity below what the CPU moves; 0: not shaped. A rate_limit fault's clear
  // returns to it.
  double link_rate_bits_per_s = 0;
  bool active() const noexcept { return backend != "none"; }
};

// Top-level `placement:` (docs/CONFIG.md "Placement"): where each rank's CPUs and memory are
// bound, applied by harness/placement once per run before the envelope is captured.
//   placement: auto                       (or none, the default: left to the launcher)
//   placement: {mode: auto, device: mlx5_0, gpu: "0000:07:00.0"}
//   placement: {mode: explicit, local_ranks: ["0-7,16-23", "numa:1"]}
struct PlacementSettings {
  std::string mode = "none";  // none | auto | explicit
  // The NIC (RDMA device or network interface) and GPU (PCI bus id, or hwloc's cuda0/nvml0) to
  // place near; a list gives one per local rank (local rank i: entry i % size). Empty: auto
  // takes the first case's verbs device or tcp interface (harness/cli).
  std::vector<std::string> devices;
  std::vector<std::string> gpus;
  // explicit: one entry per local rank (CPUs "0-7,16-23" or "numa:1"), each with where it is
  // written ("run.yaml:4:23: placement.local_ranks[1]") for run-time messages (not in the plan).
  std::vector<std::string> local_ranks;
  std::vector<std::string> local_rank_origins;
  bool is_default() const noexcept {
    return mode == "none" && devices.empty() && gpus.empty() && local_ranks.empty();
  }
};

struct Experiment {
  int schema_version = 1;
  std::string name;
  std::string description;
  std::string source_path;                         // as given on the command line
  std::string source_text;                         // the file as read (before --set)
  std::vector<std::string> overrides;              // --set key=value, as given
  int ranks = 2;                                   // ranks the local launcher forks
  std::string launcher = "auto";                   // auto | local | mpi | env
  std::uint64_t peer_timeout_ns = 30'000'000'000;  // rank loss detection bound
  InjectorSettings injector;
  PlacementSettings placement;
  std::vector<Case> cases;
  nlohmann::json resolved;  // the whole resolved plan (every case, every field), for documents
  std::string digest;       // SHA-256 (hex) of resolved.dump(): all ranks must agree
};

// "iterations" | "duration".
const char* to_string(Mode mode) noexcept;

// One case as it appears in Experiment::resolved["cases"]: every field, units in the names
// (message_size_bytes, duration_ns, ...).
nlohmann::json to_json(const Case& c);
// Resolved backend settings as the plan records them: {plan_name: value}.
nlohmann::json to_json(const core::Settings& settings);
nlohmann::json to_json(const RegimeSettings& regime);
nlohmann::json to_json(const MapSettings& map);
nlohmann::json to_json(const FaultSettings& fault);
nlohmann::json to_json(const InjectorSettings& injector);
// {mode, devices, gpus, local_ranks}; the plan records it only when it is not the default, so
// the digest of a file without `placement:` is what it was before the key existed.
nlohmann::json to_json(const PlacementSettings& placement);

}  // namespace fabricbench::spec
