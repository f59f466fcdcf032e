#include "suites/collective/layout.hpp"

#include <algorithm>
#include <cstddef>

namespace fabricbench::suites::collective {

using transport::Collective;

double bus_factor(Collective c, int ranks) {
  const double n = ranks;
  switch (c) {
    case Collective::all_reduce:
      return 2.0 * (n - 1.0) / n;
    case Collective::all_gather:
    case Collective::reduce_scatter:
    case Collective::alltoall:
    case Collective::gather:
    case Collective::scatter:
      return (n - 1.0) / n;
    case Collective::broadcast:
    case Collective::reduce:
    case Collective::sendrecv:
      return 1.0;
  }
  return 1.0;
}

Layout layout_of(Collective c, transport::DataType t, std::uint64_t size, int ranks) {
  Layout l;
  const std::uint64_t elt = transport::size_of(t);
  const auto n = static_cast<std::uint64_t>(std::max(ranks, 1));
  const std::uint64_t count = size / elt;
  // Each rank's share, a multiple of 16 bytes (16 / elt elements).
  const std::uint64_t share = (count / n) & ~(16 / elt - 1);
  l.element_bytes = elt;
  switch (c) {
    case Collective::all_reduce:
    case Collective::broadcast:
    case Collective::reduce:
    case Collective::sendrecv:
      l.send_count = l.recv_count = l.param_count = count;
      break;
    case Collective::all_gather:
    case Collective::gather:
      l.send_count = l.param_count = share;
      l.recv_count = share * n;
      l.send_inplace_offset = share;
      break;
    case Collective::reduce_scatter:
    case Collective::scatter:
      l.recv_count = l.param_count = share;
      l.send_count = share * n;
      l.recv_inplace_offset = share;
      break;
    case Collective::alltoall:
      l.param_count = share;
      l.send_count = l.recv_count = share * n;
      break;
  }
  l.size_bytes = std::max(l.send_count, l.recv_count) * elt;
  const bool times_n = c == Collective::all_gather || c == Collective::reduce_scatter ||
                       c == Collective::alltoall || c == Collective::gather ||
                       c == Collective::scatter;
  l.algbw_bytes = l.param_count * elt * (times_n ? n : 1);
  l.bus_factor = bus_factor(c, ranks);
  return l;
}

transport::CollectiveCall place_call(transport::CollectiveCall call, const Layout& l, int rank,
                                     void* send, void* recv, bool in_place) {
  call.count = l.param_count;
  call.in_place = in_place;
  auto* base = static_cast<std::byte*>(recv);
  const auto r = static_cast<std::uint64_t>(rank);
  call.send = in_place ? base + l.send_inplace_offset * r * l.element_bytes : send;
  call.recv = in_place ? base + l.recv_inplace_offset * r * l.element_bytes : recv;
  return call;
}

double gbytes_per_s(std::uint64_t bytes, double seconds) {
  return seconds > 0 ? static_cast<double>(bytes) / 1e9 / seconds : 0.0;
}

}  // namespace fabricbench::suites::collective
