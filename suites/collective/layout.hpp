#pragma once
// nccl-tests' byte counts and bandwidth factors, per collective (its src/<collective>.cu:
// *GetCollByteCount and *GetBw). `size` is the size swept (nccl-tests' -b/-e): its count is
// size / element size, of which each collective takes its share; collectives that split the
// count over ranks round each rank's part down to a multiple of 16 bytes, as nccl-tests does.
//   algbw = bytes / time, busbw = algbw * factor, where bytes is param_count * element size
//   (times n for all_gather, reduce_scatter, alltoall, gather, scatter) and factor is
//   2(n-1)/n (all_reduce), (n-1)/n (all_gather, reduce_scatter, alltoall, gather, scatter) or 1
//   (broadcast, reduce, sendrecv). docs/METHODOLOGY.md, "Collectives".
#include <cstdint>

#include "transports/api/communicator.hpp"

namespace fabricbench::suites::collective {

struct Layout {
  std::uint64_t send_count = 0;   // elements in the send buffer
  std::uint64_t recv_count = 0;   // elements in the receive buffer
  std::uint64_t param_count = 0;  // the count passed to the call (nccl-tests' "count" column)
  // In place: the send and receive pointers inside the one buffer, in elements times rank.
  std::uint64_t send_inplace_offset = 0;
  std::uint64_t recv_inplace_offset = 0;
  std::uint64_t element_bytes = 0;
  std::uint64_t size_bytes = 0;   // nccl-tests' "size" column: max(send, recv) bytes
  std::uint64_t algbw_bytes = 0;  // bytes over which algbw is computed
  double bus_factor = 1.0;
  std::uint64_t buffer_bytes() const noexcept { return size_bytes; }
};

Layout layout_of(transport::Collective c, transport::DataType t, std::uint64_t size, int ranks);

// The call with nccl-tests' pointers on `rank` (its collective, type, op and root kept; count
// and placement set): out of place from `send` to `recv`; in place both inside `recv`, the send
// part at send_inplace_offset x rank elements and the receive part at recv_inplace_offset x rank.
transport::CollectiveCall place_call(transport::CollectiveCall call, const Layout& l, int rank,
                                     void* send, void* recv, bool in_place);

// busbw's factor alone (the table of the module comment), for n ranks.
double bus_factor(transport::Collective c, int ranks);

// GB/s (1e9 bytes per second), as nccl-tests prints; 0 for a zero time.
double gbytes_per_s(std::uint64_t bytes, double seconds);

}  // namespace fabricbench::suites::collective
