#pragma once
// Synthetic run documents for the diff tests: cases with chosen per-repetition latencies,
// bandwidths, regime headlines and fault recovery figures, and a two-rank envelope.
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "results/run_document.hpp"

namespace fabricbench::results::difftest {

// A case with the resolved params a plan would give (suite, transport, size, id, group, ...).
CaseResult make_case(const std::string& id, const std::string& suite, std::uint64_t size);

// A repetition whose latency histogram has p50 = p50_ns (90 samples) and a tail at 2 * p50_ns
// (10 samples), so that p99 = 2 * p50_ns (within the histogram's bucket).
Repetition latency_rep(int index, std::uint64_t p50_ns);
// A repetition with bandwidth figures only (stream): bw_gbps and msg_rate_mops.
Repetition bandwidth_rep(int index, double gbps, double mops);

// A repetition drawn around `center_ns` (relative noise `noise` between repetitions, spread of
// the samples within one) and a bandwidth around `gbps`.
Repetition noisy_rep(int index, double center_ns, double gbps, double noise, std::mt19937_64& rng);

// Two ranks' envelopes: kernel release, NIC eth0 with `mtu`, pid, placement, environment.
nlohmann::json envelope(const std::string& kernel_release, int mtu, int pid_base);

// Header fields filled (run id, tool, status complete, 2 ranks), no cases.
RunDocument make_document(const std::string& run_id, const nlohmann::json& envelope_json);

// The fixed BASE / NEW pair behind the golden files: every verdict and two envelope changes.
RunDocument golden_base();
RunDocument golden_new();

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const noexcept { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string read_text(const std::string& path);
void write_text(const std::string& path, const std::string& content);
// The source tree (FABRICBENCH_SOURCE_DIR from ctest, else the configured path).
std::string source_dir();

}  // namespace fabricbench::results::difftest
