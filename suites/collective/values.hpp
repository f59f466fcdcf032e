#pragma once
// The correctness check's data: every input element is a small integer generated from (seed,
// rank, index), chosen per type and op so that every sum, product, minimum and maximum is exact
// in the type and in any order of reduction; so every output element has one exact expected
// value. avg (NCCL only) is compared within the type's rounding.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "suites/collective/layout.hpp"
#include "transports/api/communicator.hpp"

namespace fabricbench::suites::collective {

// Element encoding for every DataType (float16, bfloat16 and fp8 included: exact for the small
// integers used here). `out` holds size_of(type) bytes.
void encode(transport::DataType type, double value, std::byte* out);
double decode(transport::DataType type, const std::byte* in);

// Input element `index` of `rank`'s send buffer.
double input_value(std::uint64_t seed, int rank, std::uint64_t index, transport::DataType type,
                   transport::RedOp op, int ranks);

struct Call {
  transport::Collective collective = transport::Collective::all_reduce;
  transport::DataType type = transport::DataType::float32;
  transport::RedOp op = transport::RedOp::sum;
  int root = 0;
  int ranks = 1;
  std::uint64_t seed = 1;
};

// The host image of `rank`'s send buffer (layout.send_count elements).
std::vector<std::byte> make_input(const Call& call, const Layout& layout, int rank);

struct Mismatch {
  std::uint64_t index = 0;  // element of the receive buffer
  double expected = 0;
  double got = 0;
};
struct CheckResult {
  std::uint64_t wrong = 0;  // elements that differ
  std::optional<Mismatch> first;
};

// Compares `rank`'s receive buffer (its host image, layout.recv_count elements) with what the
// collective must produce. Ranks whose buffer the collective leaves undefined (reduce and gather
// off the root) check nothing.
CheckResult check_output(const Call& call, const Layout& layout, int rank,
                         std::span<const std::byte> recv);

}  // namespace fabricbench::suites::collective
