#pragma once
// Shared fixtures of the results tests: a realistic two-case run document and a temporary dir.
#include <string>

#include "results/run_document.hpp"

namespace fabricbench::results::testing {

// A histogram with `n` deterministic, widely spread latencies (tens of ns to ~10 ms).
stats::Histogram spread_histogram(std::uint64_t seed, int n);

// Case "pingpong.tcp.64B": ok, 2 repetitions with latency histograms and intervals.
CaseResult pingpong_case();
// Case "stream.tcp.1MiB": failed, 3 repetitions with bandwidth figures, intervals, one error.
CaseResult stream_case();
// Header fields, config, envelope and events filled; no cases.
RunDocument sample_header();
// sample_header() plus both cases, status complete.
RunDocument sample_document();

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

// Runs the run-document reader on `j` and returns its core::Error message (adds a failure when
// nothing is thrown or the kind is not config).
std::string reader_error(const nlohmann::json& j);

// Names in a directory, sorted.
std::vector<std::string> list_dir(const std::string& dir);
std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& content);

}  // namespace fabricbench::results::testing
