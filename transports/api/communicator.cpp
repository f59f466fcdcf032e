#include "transports/api/communicator.hpp"

#include <array>
#include <utility>

namespace fabricbench::transport {
namespace {

template <typename E, std::size_t N>
std::string_view name_in(const std::array<std::pair<E, std::string_view>, N>& table, E value) {
  for (const auto& [e, name] : table) {
    if (e == value) return name;
  }
  return "?";
}

template <typename E, std::size_t N>
std::optional<E> parse_in(const std::array<std::pair<E, std::string_view>, N>& table,
                          std::string_view name) {
  for (const auto& [e, n] : table) {
    if (n == name) return e;
  }
  return std::nullopt;
}

template <typename E, std::size_t N>
std::vector<E> values_of(const std::array<std::pair<E, std::string_view>, N>& table) {
  std::vector<E> out;
  for (const auto& entry : table) out.push_back(entry.first);
  return out;
}

constexpr std::array<std::pair<Collective, std::string_view>, 9> kCollectives{{
    {Collective::all_reduce, "all_reduce"},
    {Collective::all_gather, "all_gather"},
    {Collective::reduce_scatter, "reduce_scatter"},
    {Collective::broadcast, "broadcast"},
    {Collective::reduce, "reduce"},
    {Collective::alltoall, "alltoall"},
    {Collective::gather, "gather"},
    {Collective::scatter, "scatter"},
    {Collective::sendrecv, "sendrecv"},
}};

constexpr std::array<std::pair<DataType, std::string_view>, 12> kTypes{{
    {DataType::int8, "int8"},
    {DataType::uint8, "uint8"},
    {DataType::int32, "int32"},
    {DataType::uint32, "uint32"},
    {DataType::int64, "int64"},
    {DataType::uint64, "uint64"},
    {DataType::float16, "float16"},
    {DataType::bfloat16, "bfloat16"},
    {DataType::float32, "float32"},
    {DataType::float64, "float64"},
    {DataType::fp8_e4m3, "fp8_e4m3"},
    {DataType::fp8_e5m2, "fp8_e5m2"},
}};

constexpr std::array<std::pair<RedOp, std::string_view>, 5> kOps{{
    {RedOp::sum, "sum"},
    {RedOp::prod, "prod"},
    {RedOp::min, "min"},
    {RedOp::max, "max"},
    {RedOp::avg, "avg"},
}};

}  // namespace

const std::vector<Collective>& all_collectives() {
  static const std::vector<Collective> all = values_of(kCollectives);
  return all;
}
const std::vector<DataType>& all_data_types() {
  static const std::vector<DataType> all = values_of(kTypes);
  return all;
}
const std::vector<RedOp>& all_red_ops() {
  static const std::vector<RedOp> all = values_of(kOps);
  return all;
}

std::string_view to_string(Collective c) noexcept {
  return name_in(kCollectives, c);
}
std::string_view to_string(DataType t) noexcept {
  return name_in(kTypes, t);
}
std::string_view to_string(RedOp op) noexcept {
  return name_in(kOps, op);
}
std::optional<Collective> parse_collective(std::string_view name) noexcept {
  return parse_in(kCollectives, name);
}
std::optional<DataType> parse_data_type(std::string_view name) noexcept {
  return parse_in(kTypes, name);
}
std::optional<RedOp> parse_red_op(std::string_view name) noexcept {
  return parse_in(kOps, name);
}

std::size_t size_of(DataType t) noexcept {
  switch (t) {
    case DataType::int8:
    case DataType::uint8:
    case DataType::fp8_e4m3:
    case DataType::fp8_e5m2:
      return 1;
    case DataType::float16:
    case DataType::bfloat16:
      return 2;
    case DataType::int32:
    case DataType::uint32:
    case DataType::float32:
      return 4;
    case DataType::int64:
    case DataType::uint64:
    case DataType::float64:
      return 8;
  }
  return 1;
}

bool reduces(Collective c) noexcept {
  return c == Collective::all_reduce || c == Collective::reduce_scatter || c == Collective::reduce;
}

bool rooted(Collective c) noexcept {
  return c == Collective::broadcast || c == Collective::reduce || c == Collective::gather ||
         c == Collective::scatter;
}

}  // namespace fabricbench::transport
