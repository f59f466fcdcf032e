// The copy suite's decisions and its workload (suites/copy/copy.hpp).
#include "suites/copy/copy.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

#include "core/error.hpp"

namespace fabricbench::suites {

using core::Error;
using core::ErrorKind;
using nlohmann::json;
using transport::CopyDirection;
using transport::CopyMethod;
using transport::HostMemoryKind;
using transport::HostNuma;

std::string_view to_string(CopyDirection d) noexcept {
  switch (d) {
    case CopyDirection::h2d:
      return "h2d";
    case CopyDirection::d2h:
      return "d2h";
    case CopyDirection::bidir:
      return "bidir";
    case CopyDirection::d2d:
      return "d2d";
  }
  return "?";
}

std::string_view to_string(HostMemoryKind h) noexcept {
  return h == HostMemoryKind::pinned ? "pinned" : "pageable";
}

std::string_view to_string(CopyMethod m) noexcept {
  return m == CopyMethod::copy_engine ? "copy_engine" : "kernel";
}

std::string to_string(const HostNuma& n) {
  switch (n.kind) {
    case HostNuma::Kind::local:
      return "local";
    case HostNuma::Kind::remote:
      return "remote";
    case HostNuma::Kind::any:
      return "any";
    case HostNuma::Kind::node:
      return std::to_string(n.node);
  }
  return "?";
}

std::optional<HostNuma> parse_host_numa(std::string_view text) {
  if (text == "local") return HostNuma{HostNuma::Kind::local, -1};
  if (text == "remote") return HostNuma{HostNuma::Kind::remote, -1};
  if (text == "any") return HostNuma{HostNuma::Kind::any, -1};
  int node = -1;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, node);
  if (text.empty() || ec != std::errc() || ptr != end || node < 0) return std::nullopt;
  return HostNuma{HostNuma::Kind::node, node};
}

transport::CopySetup copy_setup(const core::Settings& own, std::uint64_t size) {
  transport::CopySetup s;
  const std::string& d = own.text("copy");
  s.direction = d == "d2h"     ? CopyDirection::d2h
                : d == "bidir" ? CopyDirection::bidir
                : d == "d2d"   ? CopyDirection::d2d
                               : CopyDirection::h2d;
  s.host =
      own.text("host_memory") == "pageable" ? HostMemoryKind::pageable : HostMemoryKind::pinned;
  s.method = own.text("method") == "kernel" ? CopyMethod::kernel : CopyMethod::copy_engine;
  const auto numa = parse_host_numa(own.text("host_numa"));
  if (!numa) throw Error(ErrorKind::config, "host_numa: " + own.text("host_numa"));
  s.numa = *numa;
  s.bytes = size;
  return s;
}

double gbytes_per_s(std::uint64_t bytes, std::uint64_t ns) noexcept {
  return ns == 0 ? 0.0 : static_cast<double>(bytes) / static_cast<double>(ns);
}

namespace {

json optional_int(const std::optional<int>& v) {
  return v ? json(*v) : json(nullptr);
}

// A figure as JSON: finite numbers only (a zero elapsed time gives 0, never infinity).
json direction_figures(std::uint64_t copy_bytes, std::uint64_t copies, std::uint64_t ns) {
  return {{"copy_bytes", copy_bytes},
          {"copies", copies},
          {"bytes", copy_bytes * copies},
          {"elapsed_ns", ns},
          {"gbytes_per_s", gbytes_per_s(copy_bytes * copies, ns)}};
}

std::uint64_t u64_at(const json& j, const char* key, int rank) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number_unsigned()) {
    throw Error(ErrorKind::runtime,
                "copy figures of rank " + std::to_string(rank) + " lack " + std::string(key));
  }
  return it->get<std::uint64_t>();
}

}  // namespace

json rank_figures(int rank, const transport::CopySetup& setup, const transport::CopyTimes& times,
                  std::uint64_t copies, const transport::CopyFacts& facts,
                  std::optional<double> rated) {
  if (facts.idle) copies = 0;
  json out = direction_figures(times.copy_bytes, copies, times.elapsed_ns);
  out["rank"] = rank;
  out["idle"] = facts.idle;
  const double gbs = out["gbytes_per_s"].get<double>();
  if (setup.direction == CopyDirection::bidir) {
    out["reverse"] = direction_figures(times.reverse_copy_bytes, copies, times.reverse_elapsed_ns);
  } else {
    out["reverse"] = nullptr;
  }
  // bandwidthTest counts a device-to-device copy twice (it reads and writes device memory).
  out["memory_gbytes_per_s"] = setup.direction == CopyDirection::d2d ? json(2 * gbs) : json();
  const bool over_link = setup.direction != CopyDirection::d2d;
  out["rated_gbytes_per_s"] = rated && over_link ? json(*rated) : json();
  out["fraction_of_rated"] = rated && over_link && *rated > 0 ? json(gbs / *rated) : json();
  out["device"] = facts.device;
  out["device_name"] = facts.device_name;
  out["pci_bus_id"] = facts.pci_bus_id;
  out["gpu_numa_node"] = optional_int(facts.gpu_numa_node);
  out["host_numa_node"] = optional_int(facts.host_numa_node);
  out["host_allocation"] = facts.host_allocation;
  out["timing"] = facts.timing;
  return out;
}

LocalMerged merge_copy(const std::vector<json>& per_rank) {
  LocalMerged m;
  double sum = 0;
  std::optional<double> lowest;
  std::size_t measuring = 0;
  for (std::size_t r = 0; r < per_rank.size(); ++r) {
    const json& f = per_rank[r];
    const int rank = static_cast<int>(r);
    if (f.value("idle", false)) continue;  // its GPU is measured by another rank
    ++measuring;
    const std::uint64_t bytes = u64_at(f, "bytes", rank);
    const std::uint64_t ns = u64_at(f, "elapsed_ns", rank);
    m.bytes += bytes;
    m.ops += u64_at(f, "copies", rank);
    m.elapsed_ns = std::max(m.elapsed_ns, ns);
    const double gbs = gbytes_per_s(bytes, ns);
    sum += gbs;
    lowest = lowest ? std::min(*lowest, gbs) : gbs;
  }
  m.figures = {{"ranks", measuring},
               {"gbytes_per_s", sum},
               {"rank_min_gbytes_per_s", lowest ? json(*lowest) : json()},
               {"per_rank", per_rank}};
  return m;
}

namespace {

class CopyWorkload final : public LocalWorkload {
 public:
  CopyWorkload(core::Settings own, CopyEngineFactory make_engine)
      : own_(std::move(own)), make_engine_(std::move(make_engine)) {}

  void prepare(const LocalParams& p) override {
    setup_ = copy_setup(own_, p.size);
    setup_.rank = p.rank;
    if (p.iterations == 0) throw Error(ErrorKind::config, "the copy suite needs iterations >= 1");
    engine_ = make_engine_();
    engine_->prepare(setup_);
    facts_ = engine_->facts();
    rated_ = engine_->rated_gbytes_per_s();
  }

  json run(const LocalParams& p) override {
    const transport::CopyTimes times = engine_->run(p.warmup_iterations, p.iterations);
    return rank_figures(p.rank, setup_, times, p.iterations, facts_, rated_);
  }

  LocalMerged merge(const LocalParams& p, const std::vector<json>& per_rank) const override {
    LocalMerged m = merge_copy(per_rank);
    json head = {{"copy", to_string(setup_.direction)},
                 {"host_memory", to_string(setup_.host)},
                 {"method", to_string(setup_.method)},
                 {"host_numa", to_string(setup_.numa)},
                 {"size_bytes", p.size}};
    head.update(m.figures);
    m.figures = std::move(head);
    return m;
  }

 private:
  core::Settings own_;
  CopyEngineFactory make_engine_;
  transport::CopySetup setup_;
  transport::CopyFacts facts_;
  std::optional<double> rated_;
  std::unique_ptr<transport::CopyEngine> engine_;
};

}  // namespace

std::unique_ptr<LocalWorkload> make_copy_workload(const core::Settings& own,
                                                  CopyEngineFactory make_engine) {
  return std::make_unique<CopyWorkload>(own, std::move(make_engine));
}

}  // namespace fabricbench::suites
