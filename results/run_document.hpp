#pragma once
// The run document (schema "fabricbench.run", version 1; docs/RESULTS.md and
// results/schema/run-v1.schema.json). Typed model + JSON conversion + atomic writer/journal.
// Field names carry their unit (`lat_p99_ns`, `bw_gbps`, `bytes`). Never renumber or repurpose.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/stats/histogram.hpp"
#include "core/stats/interval_series.hpp"

namespace fabricbench::results {

inline constexpr const char* kSchemaName = "fabricbench.run";
inline constexpr int kSchemaVersion = 1;

// One repetition of one case, merged over all measuring ranks (pairs) of the case.
struct Repetition {
  int index = 0;
  std::uint64_t elapsed_ns = 0;  // measured phase (warm-up excluded)
  std::uint64_t bytes = 0;       // payload bytes counted (stream: by the receivers)
  std::uint64_t ops = 0;         // messages / round trips counted
  // Latency (pingpong: one-way = RTT/2 per iteration, ns). Empty histogram when not measured.
  stats::Histogram latency;
  // Throughput figures (stream): bw_gbps = bytes*8/elapsed/1e9, bw_gibps = bytes/elapsed/2^30,
  // msg_rate_mops = ops/elapsed/1e6. Absent for latency-only suites.
  std::optional<double> bw_gbps;
  std::optional<double> bw_gibps;
  std::optional<double> msg_rate_mops;
  std::vector<stats::IntervalPoint> intervals;  // duration mode only
  // Regimes other than closed (docs/RESULTS.md "Regimes"): the regime's figures, its per-interval
  // series and, where a rate was searched, the evidence. Null for the closed regime.
  nlohmann::json regime;
  // Cases with a fault (docs/RESULTS.md "Faults"): the timeline as it happened, with evidence,
  // and the recovery metrics of this repetition's curve. Null without a fault.
  nlohmann::json fault;
  // Collective cases (docs/RESULTS.md "Collectives"): the nccl-tests figures of this repetition
  // (collective, type, redop, root, ranks, size_bytes, count, bus_factor, combine, regime,
  // out_of_place and in_place {time_us, algbw_gbytes_per_s, busbw_gbytes_per_s, wrong,
  // rank_time_us}, backend). Null for other cases.
  nlohmann::json collective;
  // Copy cases (docs/RESULTS.md "Copy cases"): copy, host_memory, method, host_numa, size_bytes,
  // ranks, gbytes_per_s (1e9 bytes/s, summed over ranks), rank_min_gbytes_per_s and per_rank
  // (each rank's figures and facts). Null for other cases.
  nlohmann::json copy;
  // Multi-rail cases (verbs.devices, docs/RESULTS.md "Rails"): per rail {rail, bytes, requests,
  // share, bw_gbps}, rail order. Null for other cases.
  nlohmann::json rails;
};

struct CaseError {
  int rank = -1;     // rank that reported it (-1: harness)
  std::string kind;  // "peer_lost", "timeout", "runtime", ...
  std::string message;
};

enum class CaseStatus { ok, failed, skipped };
const char* to_string(CaseStatus s) noexcept;

struct CaseResult {
  std::string id;
  std::string suite;
  std::string transport;
  nlohmann::json params;  // the resolved case, as in the plan
  CaseStatus status = CaseStatus::ok;
  std::string skip_reason;
  std::uint64_t started_ns = 0;  // wall clock, ns since epoch
  std::uint64_t finished_ns = 0;
  std::vector<Repetition> repetitions;
  // Across repetitions: the merged latency histogram's summary, and the median/min/max of each
  // repetition's bandwidth. Derived by summarize_case(), stored for readers without a histogram
  // implementation.
  nlohmann::json summary;
  std::vector<CaseError> errors;
  nlohmann::json endpoints;  // per-rank Endpoint::describe() strings (array, index = rank)
  // Per rank (index = rank): the memory provider's facts (provider, allocator, gpu, numa_node,
  // ...), how the buffers were registered, and the staging copies ({to_host, to_device}: copies,
  // bytes, ns; null when not staged). Null for cases that did not run.
  nlohmann::json memory;
};

enum class RunStatus { running, complete, interrupted, failed };
const char* to_string(RunStatus s) noexcept;

struct RunDocument {
  std::string run_id;  // e.g. "20261123T101500Z-quickstart-3f2a"
  std::string tool_version;
  std::string tool_revision;
  std::uint64_t started_ns = 0;  // wall clock
  std::uint64_t finished_ns = 0;
  RunStatus status = RunStatus::running;
  std::string interrupted_case;  // id of the case that was running when interrupted/failed
  std::string launcher;          // local | mpi | env
  int ranks = 0;
  nlohmann::json config;    // {"path", "text", "overrides", "resolved", "digest"}
  nlohmann::json envelope;  // {"ranks": [ {rank envelope}, ... ]}
  std::vector<CaseResult> cases;
  nlohmann::json events;  // array of {t_ns, rank, kind, detail}
};

// Conversions (round trip: from_json(to_json(d)) == d, histograms bin-exact).
nlohmann::json to_json(const RunDocument& doc);
RunDocument run_document_from_json(const nlohmann::json& j);  // throws core::Error(config)
nlohmann::json to_json(const CaseResult& c);
CaseResult case_result_from_json(const nlohmann::json& j);
nlohmann::json histogram_to_json(const stats::Histogram& h);
stats::Histogram histogram_from_json(const nlohmann::json& j);
nlohmann::json summary_to_json(const stats::Summary& s);  // keys lat_*_ns, count
// Fill c.summary from c.repetitions.
void summarize_case(CaseResult& c);
// Whether a repetition of the case carries collective figures (Repetition::collective).
bool is_collective(const CaseResult& c);
// The case's summary.collective (filled by summarize_case), or null.
const nlohmann::json& summary_collective(const CaseResult& c);
// The placements of a collective repetition, in nccl-tests' column order.
inline constexpr const char* kCollectivePlacements[] = {"out_of_place", "in_place"};

// Writes <dir>/run.json atomically (temp file + fsync + rename + fsync dir) and journals each
// completed case to <dir>/journal.jsonl (append + fsync), so an interrupted run keeps them.
class RunWriter {
 public:
  // Creates `dir` (and parents). Writes the initial run.json with status "running".
  RunWriter(std::string dir, RunDocument header);
  const std::string& dir() const noexcept { return dir_; }
  std::string document_path() const;
  // Rewrites run.json with run.interrupted_case = id while running (the case in progress), so a
  // killed run's file names the case; finish(interrupted/failed) keeps it, add_case clears it.
  void set_current_case(const std::string& id);
  // Journal the case and rewrite run.json with it included.
  void add_case(CaseResult result);
  // Final write with status and finished time. Safe to call from the interrupt path.
  void finish(RunStatus status);
  const RunDocument& document() const noexcept { return doc_; }
  RunDocument& document() noexcept { return doc_; }

 private:
  void write_document();
  std::string dir_;
  RunDocument doc_;
  std::string current_case_;
};

// Atomic whole-file write: `path` is either the old content or the new, never partial.
void write_file_atomic(const std::string& path, const std::string& content);
// The document as run.json holds it (invalid UTF-8, e.g. from a host's /proc text, replaced).
std::string document_text(const RunDocument& doc);
// Reads run.json (or, if given a directory, <dir>/run.json).
RunDocument read_run_document(const std::string& path);

// --- Additions (docs/RESULTS.md) ---

// File names inside a run directory.
inline constexpr const char* kDocumentFileName = "run.json";
inline constexpr const char* kJournalFileName = "journal.jsonl";

// RFC 3339 UTC timestamp with milliseconds, e.g. "2026-11-23T10:15:00.123Z", of a wall-clock
// time in ns since the epoch (the `*_at` companions of the `*_ns` fields).
std::string format_rfc3339_ms(std::uint64_t wall_ns);

// Rebuilds the document of a run that stopped without finish() (e.g. SIGKILL): the last run.json
// plus every case in journal.jsonl that it lacks, with status "interrupted" and a "recovered"
// event. A run.json whose status is not "running" is returned as read. Works without run.json
// (header fields then "unknown"). A torn last journal line (no newline) is ignored. Does not write.
// Throws core::Error(config) for a malformed journal or a journal of another run.
RunDocument recover_from_journal(const std::string& dir);

}  // namespace fabricbench::results
