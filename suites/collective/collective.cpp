// The collective workload: both placements timed, then checked, on every rank; rank 0 merges.
#include "suites/collective/collective.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "core/error.hpp"
#include "suites/collective/layout.hpp"
#include "suites/collective/timed_loop.hpp"
#include "suites/collective/values.hpp"

namespace fabricbench::suites {
namespace {

using collective::Layout;
using nlohmann::json;
using transport::Collective;

constexpr std::size_t kMaxOpSamples = 100'000;  // per-operation times kept per rank

collective::Call call_of(const CollectiveParams& p, int ranks) {
  return {p.collective, p.type, p.op, p.root, ranks, p.seed};
}

// One collective call of the case (its pointers set by collective::place_call).
transport::CollectiveCall call_for(const CollectiveParams& p) {
  transport::CollectiveCall c;
  c.collective = p.collective;
  c.type = p.type;
  c.op = p.op;
  c.root = p.root;
  return c;
}

json mismatch_json(const collective::CheckResult& check) {
  if (!check.first) return nullptr;
  return {{"index", check.first->index},
          {"expected", check.first->expected},
          {"got", check.first->got}};
}

// The untimed check: known inputs in, one collective, every output element compared.
collective::CheckResult check_once(const CollectiveParams& p, const Layout& l,
                                   transport::Communicator& comm, collective::Waiter& waiter,
                                   const transport::CollectiveCall& call, std::uint64_t bytes) {
  const int rank = comm.rank();
  const auto input = collective::make_input(call_of(p, comm.size()), l, rank);
  std::vector<std::byte> poison(bytes, std::byte{0xA5});
  comm.to_device(call.recv, poison.data(), l.recv_count * l.element_bytes);
  // In place the input sits at its offset inside the one buffer (written after the poison).
  comm.to_device(const_cast<void*>(call.send), input.data(), input.size());
  transport::CollectiveCall once = call;
  once.once = true;
  comm.start(once);
  waiter.wait();
  waiter.count(1);
  std::vector<std::byte> out(l.recv_count * l.element_bytes);
  comm.from_device(out.data(), call.recv, out.size());
  return collective::check_output(call_of(p, comm.size()), l, rank, out);
}

// Completions per bin of `bin_ns` from the timed start (realistic with an interval).
std::vector<std::uint64_t> bin_counts(const std::vector<std::uint64_t>& done_ns,
                                      std::uint64_t bin_ns) {
  std::vector<std::uint64_t> bins;
  if (bin_ns == 0) return bins;
  for (const std::uint64_t t : done_ns) {
    const auto i = static_cast<std::size_t>(t / bin_ns);
    if (bins.size() <= i) bins.resize(i + 1, 0);
    ++bins[i];
  }
  return bins;
}

json samples(const std::vector<std::uint64_t>& v) {
  return json(std::vector<std::uint64_t>(
      v.begin(), v.begin() + static_cast<std::ptrdiff_t>(std::min(v.size(), kMaxOpSamples))));
}

class CollectiveWorkloadImpl final : public CollectiveWorkload {
 public:
  std::optional<std::string> unsupported(const transport::Communicator& comm,
                                         const CollectiveParams& p) const override {
    if (transport::rooted(p.collective) && p.root >= comm.size()) {
      return fmt::format("root {} is not a rank of this run ({} ranks)", p.root, comm.size());
    }
    return comm.unsupported(p.collective, p.type, p.op);
  }

  std::uint64_t buffer_bytes(const CollectiveParams& p, int ranks) const override {
    return std::max<std::uint64_t>(
        collective::layout_of(p.collective, p.type, p.size, ranks).buffer_bytes(), 64);
  }

  json run(transport::Communicator& comm, const CollectiveParams& p, transport::Buffer send,
           transport::Buffer recv, ProgressGuard& guard) override {
    const Layout l = collective::layout_of(p.collective, p.type, p.size, comm.size());
    collective::Waiter waiter(comm, guard);
    json out = json::object();
    for (const bool in_place : {false, true}) {
      if (in_place ? !p.in_place : !p.out_of_place) continue;
      const auto call =
          collective::place_call(call_for(p), l, comm.rank(), send.addr, recv.addr, in_place);
      const auto timed = collective::timed_loop(p, call, comm, waiter);
      json figures = {{"elapsed_ns", timed.elapsed_ns},
                      {"ops", timed.ops},
                      {"time_ns_per_op", timed.time_ns_per_op},
                      {"op_ns", samples(timed.op_ns)},
                      {"late_ns", samples(timed.late_ns)},
                      {"queue_ns", samples(timed.queue_ns)},
                      {"bins", bin_counts(timed.done_ns, p.interval_ns)},
                      {"start_ns", timed.start_ns},
                      {"wrong", nullptr},
                      {"first_mismatch", nullptr}};
      if (p.check) {
        const auto check = check_once(p, l, comm, waiter, call, recv.length);
        figures["wrong"] = check.wrong;
        figures["first_mismatch"] = mismatch_json(check);
      }
      out[in_place ? "in_place" : "out_of_place"] = std::move(figures);
    }
    out["rank"] = comm.rank();
    // What ran, as rank 0 saw it (the other ranks' facts would repeat it).
    out["backend"] = comm.rank() == 0 ? comm.facts() : json::object();
    return out;
  }

  CollectiveMerged merge(const CollectiveParams& p,
                         const std::vector<json>& per_rank) const override;
};

double combine(const std::string& how, const std::vector<double>& v) {
  if (v.empty()) return 0;
  if (how == "rank0") return v.front();
  if (how == "min") return *std::min_element(v.begin(), v.end());
  if (how == "max") return *std::max_element(v.begin(), v.end());
  double sum = 0;
  for (const double x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

// Element-wise maximum over ranks of a per-operation series.
std::vector<std::uint64_t> max_over_ranks(const std::vector<json>& per_rank, const char* placement,
                                          const char* series) {
  std::vector<std::uint64_t> out;
  for (const auto& r : per_rank) {
    const auto v = r.at(placement).at(series).get<std::vector<std::uint64_t>>();
    if (out.size() < v.size()) out.resize(v.size(), 0);
    for (std::size_t i = 0; i < v.size(); ++i) out[i] = std::max(out[i], v[i]);
  }
  return out;
}

json regime_figures(const CollectiveParams& p, const std::vector<json>& per_rank,
                    const char* placement, std::uint64_t elapsed_ns) {
  stats::Histogram late;
  stats::Histogram queue;
  for (const auto v : max_over_ranks(per_rank, placement, "late_ns")) late.record(v);
  for (const auto v : max_over_ranks(per_rank, placement, "queue_ns")) queue.record(v);
  std::uint64_t misses = 0;
  if (p.deadline_ns > 0) {
    for (const auto v : max_over_ranks(per_rank, placement, "late_ns")) {
      misses += v > p.deadline_ns ? 1 : 0;
    }
  }
  const double seconds = static_cast<double>(elapsed_ns) / 1e9;
  return {
      {"kind", "realistic"},
      {"headline",
       {{"offered_rate_per_s", p.rate_per_s},
        {"arrival", p.poisson ? "poisson" : "constant"},
        {"lat_p50_ns", late.percentile(50)},
        {"lat_p99_ns", late.percentile(99)},
        {"lat_max_ns", late.max()},
        {"queue_age_p99_ns", queue.percentile(99)},
        {"deadline_ns", p.deadline_ns},
        {"deadline_misses", misses},
        {"goodput_ops_per_s", seconds > 0 ? static_cast<double>(late.count()) / seconds : 0.0}}}};
}

// The first wrong element over the ranks, named.
std::string failure_of(const CollectiveParams& p, const std::vector<json>& per_rank,
                       const char* placement, std::uint64_t wrong_total) {
  for (const auto& r : per_rank) {
    const json& f = r.at(placement);
    if (f.at("first_mismatch").is_null()) continue;
    const json& m = f.at("first_mismatch");
    return fmt::format(
        "rank {}: {} {} {} {}, {} bytes: element {} expected {} got {} ({} wrong elements over "
        "all ranks)",
        r.at("rank").get<int>(), std::string(placement) == "in_place" ? "in-place" : "out-of-place",
        to_string(p.collective), to_string(p.type), to_string(p.op), p.size,
        m.at("index").get<std::uint64_t>(), m.at("expected").get<double>(),
        m.at("got").get<double>(), wrong_total);
  }
  return {};
}

// Rank 0's completions per bin as bus bytes: bytes / length of a bin is its busbw.
void completions_series(const CollectiveParams& p, const Layout& l, const json& rank0,
                        CollectiveMerged& m) {
  if (p.interval_ns == 0 || !rank0.contains("bins")) return;
  const auto bins = rank0.at("bins").get<std::vector<std::uint64_t>>();
  const double bus_bytes = static_cast<double>(l.algbw_bytes) * l.bus_factor;
  for (std::size_t i = 0; i < bins.size(); ++i) {
    stats::IntervalPoint pt;
    pt.start_ns = i * p.interval_ns;
    pt.length_ns = p.interval_ns;
    pt.ops = bins[i];
    pt.bytes = static_cast<std::uint64_t>(static_cast<double>(bins[i]) * bus_bytes);
    m.intervals.push_back(pt);
  }
  m.measure_start_ns = rank0.at("start_ns").get<std::uint64_t>();
}

CollectiveMerged CollectiveWorkloadImpl::merge(const CollectiveParams& p,
                                               const std::vector<json>& per_rank) const {
  CollectiveMerged m;
  const int ranks = static_cast<int>(per_rank.size());
  const Layout l = collective::layout_of(p.collective, p.type, p.size, ranks);
  m.collective = {{"collective", to_string(p.collective)},
                  {"type", to_string(p.type)},
                  {"redop", transport::reduces(p.collective) ? json(to_string(p.op)) : json()},
                  {"root", transport::rooted(p.collective) ? p.root : -1},
                  {"ranks", ranks},
                  {"size_bytes", l.size_bytes},
                  {"count", l.param_count},
                  {"bus_factor", l.bus_factor},
                  {"combine", p.combine},
                  {"regime", p.regime},
                  {"out_of_place", nullptr},
                  {"in_place", nullptr},
                  {"backend", per_rank.empty() ? json::object() : per_rank.front().at("backend")}};
  bool first = true;
  for (const char* placement : {"out_of_place", "in_place"}) {
    if (per_rank.empty() || !per_rank.front().contains(placement)) continue;
    std::vector<double> times;
    std::uint64_t wrong = 0;
    bool checked = false;
    for (const auto& r : per_rank) {
      const json& f = r.at(placement);
      times.push_back(f.at("time_ns_per_op").get<double>());
      if (!f.at("wrong").is_null()) {
        checked = true;
        wrong += f.at("wrong").get<std::uint64_t>();
      }
      m.elapsed_ns = std::max(m.elapsed_ns, f.at("elapsed_ns").get<std::uint64_t>());
    }
    const double time_ns = combine(p.combine, times);
    const double algbw = collective::gbytes_per_s(l.algbw_bytes, time_ns / 1e9);
    json rank_time_us = json::array();
    for (const double t : times) rank_time_us.push_back(t / 1e3);
    m.collective[placement] = {{"time_us", time_ns / 1e3},
                               {"algbw_gbytes_per_s", algbw},
                               {"busbw_gbytes_per_s", algbw * l.bus_factor},
                               {"wrong", checked ? json(wrong) : json()},
                               {"rank_time_us", rank_time_us}};
    if (m.failure.empty() && wrong > 0) m.failure = failure_of(p, per_rank, placement, wrong);
    if (!first) continue;
    first = false;
    m.ops = per_rank.front().at(placement).at("ops").get<std::uint64_t>();
    for (const auto v : max_over_ranks(per_rank, placement, "op_ns")) m.latency.record(v);
    if (p.regime == "realistic") m.regime = regime_figures(p, per_rank, placement, m.elapsed_ns);
    completions_series(p, l, per_rank.front().at(placement), m);
  }
  return m;
}

}  // namespace

std::unique_ptr<CollectiveWorkload> make_collective_workload() {
  return std::make_unique<CollectiveWorkloadImpl>();
}

}  // namespace fabricbench::suites
