#pragma once
// What NCCL chose for each collective, read from its debug output. NCCL 2.28 prints, on rank 0,
// with NCCL_DEBUG=INFO and NCCL_DEBUG_SUBSYS including TUNING (src/enqueue.cc):
//   host:pid:tid [0] NCCL INFO AllReduce: 1048576 Bytes -> Algo Ring proto LL128
//   channel{Lo..Hi}={0..1}
// (older releases print the algorithm and protocol as numbers: "Algo 1 proto 2"). Pure: no NCCL.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace fabricbench::transport::nccl {

struct TuningLine {
  std::string collective;  // NCCL's name: AllReduce, AllGather, ReduceScatter, Broadcast, ...
  std::uint64_t bytes = 0;
  std::string algorithm;  // Tree, Ring, CollNetDirect, CollNetChain, NVLS, NVLSTree, PAT
  std::string protocol;   // LL, LL128, Simple
  int channel_lo = 0;
  int channel_hi = 0;
  int channels() const noexcept { return channel_hi - channel_lo + 1; }
};

// The choice one debug line records, or nullopt for any other line.
std::optional<TuningLine> parse_tuning_line(std::string_view line);

// NCCL's algorithm and protocol names by number (NCCL_ALGO_*, NCCL_PROTO_*); "?" beyond them.
std::string_view algorithm_name(int number) noexcept;
std::string_view protocol_name(int number) noexcept;

// Every choice in `log` (lines separated by '\n'), summarised by collective and size:
//   {"AllReduce": {"1048576": [{"algorithm": "Ring", "protocol": "LL128", "channels": 2,
//                               "channel_lo": 0, "channel_hi": 1, "calls": 20}]}}
// One entry per distinct choice, in the order first seen.
nlohmann::json summarize_tuning(std::string_view log);

// The "NCCL WARN" lines of `log` (at most `limit`), without the host:pid:tid prefix.
std::vector<std::string> warnings_in(std::string_view log, std::size_t limit = 20);

}  // namespace fabricbench::transport::nccl
