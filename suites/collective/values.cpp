#include "suites/collective/values.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

namespace fabricbench::suites::collective {

using transport::Collective;
using transport::DataType;
using transport::RedOp;

namespace {

struct MiniFloat {
  int exponent_bits;
  int mantissa_bits;
};

MiniFloat mini_float(DataType t) {
  switch (t) {
    case DataType::float16:
      return {5, 10};
    case DataType::bfloat16:
      return {8, 7};
    case DataType::fp8_e4m3:
      return {4, 3};
    default:
      return {5, 2};  // fp8_e5m2
  }
}

// Finite normal numbers and zero (the values used here are small integers, all exact).
std::uint32_t encode_mini(MiniFloat f, double v) {
  const std::uint32_t sign = v < 0 ? 1U : 0U;
  const double a = std::fabs(v);
  const int total = 1 + f.exponent_bits + f.mantissa_bits;
  if (a == 0) return sign << (total - 1);
  int e = 0;
  const double m = std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  const int bias = (1 << (f.exponent_bits - 1)) - 1;
  const auto exponent = static_cast<std::uint32_t>(e - 1 + bias);
  const auto mantissa =
      static_cast<std::uint32_t>(std::lround((m * 2.0 - 1.0) * std::ldexp(1.0, f.mantissa_bits)));
  return (sign << (total - 1)) | (exponent << f.mantissa_bits) | mantissa;
}

double decode_mini(MiniFloat f, std::uint32_t bits) {
  const int total = 1 + f.exponent_bits + f.mantissa_bits;
  const bool negative = ((bits >> (total - 1)) & 1U) != 0;
  const auto exponent = static_cast<int>((bits >> f.mantissa_bits) & ((1U << f.exponent_bits) - 1));
  const auto mantissa = static_cast<double>(bits & ((1U << f.mantissa_bits) - 1));
  const int bias = (1 << (f.exponent_bits - 1)) - 1;
  double v = 0;
  if (exponent == 0) {
    v = std::ldexp(mantissa, 1 - bias - f.mantissa_bits);
  } else {
    v = std::ldexp(1.0 + mantissa / std::ldexp(1.0, f.mantissa_bits), exponent - bias);
  }
  return negative ? -v : v;
}

template <typename T>
void put(T value, std::byte* out) {
  std::memcpy(out, &value, sizeof value);
}
template <typename T>
T get(const std::byte* in) {
  T value{};
  std::memcpy(&value, in, sizeof value);
  return value;
}

// splitmix64: a well-mixed hash of (seed, rank, index).
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The largest integer every value of the type holds exactly (and its signed range allows).
double exact_limit(DataType t) {
  switch (t) {
    case DataType::int8:
      return 127;
    case DataType::uint8:
      return 255;
    case DataType::float16:
      return 2048;
    case DataType::bfloat16:
      return 256;
    case DataType::fp8_e4m3:
      return 16;
    case DataType::fp8_e5m2:
      return 8;
    default:
      return 1 << 20;
  }
}

double reduce_values(RedOp op, double a, double b) {
  switch (op) {
    case RedOp::sum:
    case RedOp::avg:
      return a + b;
    case RedOp::prod:
      return a * b;
    case RedOp::min:
      return std::min(a, b);
    case RedOp::max:
      return std::max(a, b);
  }
  return a;
}

bool is_float(DataType t) {
  return t == DataType::float16 || t == DataType::bfloat16 || t == DataType::float32 ||
         t == DataType::float64 || t == DataType::fp8_e4m3 || t == DataType::fp8_e5m2;
}

}  // namespace

void encode(DataType type, double value, std::byte* out) {
  switch (type) {
    case DataType::int8:
      return put(static_cast<std::int8_t>(value), out);
    case DataType::uint8:
      return put(static_cast<std::uint8_t>(value), out);
    case DataType::int32:
      return put(static_cast<std::int32_t>(value), out);
    case DataType::uint32:
      return put(static_cast<std::uint32_t>(value), out);
    case DataType::int64:
      return put(static_cast<std::int64_t>(value), out);
    case DataType::uint64:
      return put(static_cast<std::uint64_t>(value), out);
    case DataType::float32:
      return put(static_cast<float>(value), out);
    case DataType::float64:
      return put(value, out);
    case DataType::float16:
    case DataType::bfloat16:
      return put(static_cast<std::uint16_t>(encode_mini(mini_float(type), value)), out);
    case DataType::fp8_e4m3:
    case DataType::fp8_e5m2:
      return put(static_cast<std::uint8_t>(encode_mini(mini_float(type), value)), out);
  }
}

double decode(DataType type, const std::byte* in) {
  switch (type) {
    case DataType::int8:
      return get<std::int8_t>(in);
    case DataType::uint8:
      return get<std::uint8_t>(in);
    case DataType::int32:
      return get<std::int32_t>(in);
    case DataType::uint32:
      return get<std::uint32_t>(in);
    case DataType::int64:
      return static_cast<double>(get<std::int64_t>(in));
    case DataType::uint64:
      return static_cast<double>(get<std::uint64_t>(in));
    case DataType::float32:
      return get<float>(in);
    case DataType::float64:
      return get<double>(in);
    case DataType::float16:
    case DataType::bfloat16:
      return decode_mini(mini_float(type), get<std::uint16_t>(in));
    case DataType::fp8_e4m3:
    case DataType::fp8_e5m2:
      return decode_mini(mini_float(type), get<std::uint8_t>(in));
  }
  return 0;
}

double input_value(std::uint64_t seed, int rank, std::uint64_t index, DataType type, RedOp op,
                   int ranks) {
  const std::uint64_t h = mix(mix(seed ^ (static_cast<std::uint64_t>(rank) << 40)) ^ index);
  const double limit = exact_limit(type);
  const double n = std::max(ranks, 1);
  switch (op) {
    case RedOp::prod: {
      // 1 or 2; at most log2(limit) - 1 ranks contribute a 2, so the product stays exact.
      const int twos = std::max(0, static_cast<int>(std::log2(limit)) - 1);
      return rank < twos && (h & 1U) != 0 ? 2.0 : 1.0;
    }
    case RedOp::avg:
      // The same value on every rank, so the average is that value (NCCL's avg divides).
      return static_cast<double>(mix(seed ^ index) % static_cast<std::uint64_t>(limit / 2));
    case RedOp::min:
    case RedOp::max:
      return static_cast<double>(h % static_cast<std::uint64_t>(std::min(limit, 100.0)));
    case RedOp::sum:
      break;
  }
  const auto span = static_cast<std::uint64_t>(std::max(1.0, std::floor(limit / n)));
  return static_cast<double>(h % std::min<std::uint64_t>(span, 64));
}

std::vector<std::byte> make_input(const Call& call, const Layout& layout, int rank) {
  std::vector<std::byte> out(layout.send_count * layout.element_bytes);
  for (std::uint64_t i = 0; i < layout.send_count; ++i) {
    encode(call.type, input_value(call.seed, rank, i, call.type, call.op, call.ranks),
           out.data() + i * layout.element_bytes);
  }
  return out;
}

namespace {

double input_of(const Call& call, int rank, std::uint64_t index) {
  return input_value(call.seed, rank, index, call.type, call.op, call.ranks);
}

double reduced(const Call& call, std::uint64_t index) {
  double acc = input_of(call, 0, index);
  for (int r = 1; r < call.ranks; ++r) acc = reduce_values(call.op, acc, input_of(call, r, index));
  if (call.op == RedOp::avg)
    acc = is_float(call.type) ? acc / call.ranks : std::floor(acc / call.ranks);
  return acc;
}

// The value element `i` of `rank`'s receive buffer must hold.
double expected_at(const Call& call, const Layout& l, int rank, std::uint64_t i) {
  const std::uint64_t share = l.param_count;
  const auto n = static_cast<std::uint64_t>(call.ranks);
  switch (call.collective) {
    case Collective::all_reduce:
    case Collective::reduce:
      return reduced(call, i);
    case Collective::broadcast:
      return input_of(call, call.root, i);
    case Collective::all_gather:
    case Collective::gather:
      return input_of(call, static_cast<int>(i / share), i % share);
    case Collective::reduce_scatter:
      return reduced(call, static_cast<std::uint64_t>(rank) * share + i);
    case Collective::alltoall:
      return input_of(call, static_cast<int>(i / share),
                      static_cast<std::uint64_t>(rank) * share + i % share);
    case Collective::scatter:
      return input_of(call, call.root, static_cast<std::uint64_t>(rank) * share + i);
    case Collective::sendrecv:
      return input_of(call, static_cast<int>((static_cast<std::uint64_t>(rank) + n - 1) % n), i);
  }
  return 0;
}

bool matches(const Call& call, double expected, double got) {
  if (call.op != RedOp::avg || !is_float(call.type) || !transport::reduces(call.collective)) {
    return expected == got;
  }
  // avg in floating point: NCCL may multiply by 1/n before summing; allow the type's rounding.
  const double eps = call.type == DataType::float64   ? 1e-12
                     : call.type == DataType::float32 ? 1e-5
                                                      : 0.07;
  return std::fabs(expected - got) <= eps * std::max(1.0, std::fabs(expected));
}

}  // namespace

CheckResult check_output(const Call& call, const Layout& layout, int rank,
                         std::span<const std::byte> recv) {
  CheckResult result;
  const bool root_only =
      call.collective == Collective::reduce || call.collective == Collective::gather;
  if (root_only && rank != call.root) return result;
  const std::uint64_t elements =
      std::min<std::uint64_t>(layout.recv_count, recv.size() / layout.element_bytes);
  for (std::uint64_t i = 0; i < elements; ++i) {
    const double expected = expected_at(call, layout, rank, i);
    const double got = decode(call.type, recv.data() + i * layout.element_bytes);
    if (matches(call, expected, got)) continue;
    if (!result.first) result.first = Mismatch{i, expected, got};
    ++result.wrong;
  }
  return result;
}

}  // namespace fabricbench::suites::collective
