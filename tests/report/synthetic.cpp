#include "tests/report/synthetic.hpp"

#include <cmath>
#include <filesystem>

namespace fabricbench::results::reporttest {

using nlohmann::json;

namespace {

constexpr std::uint64_t kStart = 1'795'000'000'000'000'000ULL;

std::string size_text(std::uint64_t size) {
  if (size >= (1u << 20) && size % (1u << 20) == 0) return std::to_string(size >> 20) + "MiB";
  if (size >= 1024 && size % 1024 == 0) return std::to_string(size >> 10) + "KiB";
  return std::to_string(size) + "B";
}

CaseResult make_case(const std::string& id, const std::string& group, const std::string& suite,
                     std::uint64_t size, const json& extra_varied = json::array()) {
  CaseResult c;
  c.id = id;
  c.suite = suite;
  c.transport = "tcp";
  c.status = CaseStatus::ok;
  c.started_ns = kStart;
  c.finished_ns = kStart + 1'000'000'000ULL;
  json varied = json::array({{{"key", "message_size"}, {"value", size_text(size)}}});
  for (const auto& v : extra_varied) varied.push_back(v);
  c.params = {{"id", id},
              {"group", group},
              {"suite", suite},
              {"transport", "tcp"},
              {"message_size_bytes", size},
              {"mode", "iterations"},
              {"iterations", 1000},
              {"repetitions", 3},
              {"regime", {{"kind", "closed"}}},
              {"fault", {{"kind", "none"}}},
              {"varied", varied}};
  c.endpoints = json::array({"tcp 127.0.0.1:1 -> 127.0.0.1:2", "tcp 127.0.0.1:2 -> 127.0.0.1:1"});
  return c;
}

// 90 samples at p50, 9 at 2 x p50, 1 at 5 x p50.
stats::Histogram latency(double p50_ns) {
  stats::Histogram h;
  const auto v = static_cast<std::uint64_t>(p50_ns);
  h.record_n(v, 90);
  h.record_n(2 * v, 9);
  h.record(5 * v);
  return h;
}

Repetition bandwidth_rep(int index, double gbps, std::uint64_t size) {
  Repetition r;
  r.index = index;
  r.elapsed_ns = 1'000'000'000ULL;
  r.bytes = static_cast<std::uint64_t>(gbps * 1e9 / 8);
  r.ops = r.bytes / size;
  r.bw_gbps = gbps;
  r.bw_gibps = gbps * 1e9 / 8 / (1024.0 * 1024 * 1024);
  r.msg_rate_mops = static_cast<double>(r.ops) / 1e6;
  return r;
}

// Duration-mode bins of 50 ms at about `gbps`.
std::vector<stats::IntervalPoint> bins(double gbps, int count, bool with_latency, double p99_ns) {
  std::vector<stats::IntervalPoint> out;
  for (int i = 0; i < count; ++i) {
    stats::IntervalPoint p;
    p.start_ns = static_cast<std::uint64_t>(i) * 50'000'000ULL;
    p.length_ns = 50'000'000ULL;
    const double wobble = 1.0 + 0.1 * std::sin(i);
    p.bytes = static_cast<std::uint64_t>(gbps * wobble * 0.05e9 / 8);
    p.ops = p.bytes / 64 + 1;
    if (with_latency && i != 2) {  // bin 2 without samples: a gap in the p99 line
      p.latency_count = 100;
      p.lat_p50_ns = static_cast<std::uint64_t>(p99_ns / 2);
      p.lat_p99_ns = static_cast<std::uint64_t>(p99_ns * wobble);
    }
    out.push_back(p);
  }
  return out;
}

json phase(double rate_ops, double lat_p99_ns, double age_p99_ns, int count, std::uint64_t bin_ns,
           double overload_factor = 1, int ov_from = -1, int ov_to = -1) {
  json intervals = json::array();
  std::uint64_t offered = 0;
  for (int i = 0; i < count; ++i) {
    const bool over = i >= ov_from && i < ov_to;
    const double r = rate_ops * (over ? overload_factor : 1.0);
    const auto ops = static_cast<std::uint64_t>(r * static_cast<double>(bin_ns) / 1e9);
    offered += ops;
    const double grow = over ? 1.0 + 3.0 * (i - ov_from) : 1.0;
    intervals.push_back({{"start_ns", static_cast<std::uint64_t>(i) * bin_ns},
                         {"length_ns", bin_ns},
                         {"offered_ops", ops},
                         {"offered_bytes", ops * 1024},
                         {"refused_ops", over ? ops / 10 : 0},
                         {"completed_ops", over ? ops / 2 : ops},
                         {"completed_bytes", (over ? ops / 2 : ops) * 1024},
                         {"deadline_misses", 0},
                         {"lat_p50_ns", lat_p99_ns / 3},
                         {"lat_p99_ns", lat_p99_ns * grow},
                         {"queue_samples", 50},
                         {"depth_max_ops", 4},
                         {"depth_mean_ops", 1.5},
                         {"backlog_max_ops", 0},
                         {"age_p99_ns", age_p99_ns * grow},
                         {"age_max_ns", age_p99_ns * grow * 1.2}});
  }
  const std::uint64_t length = bin_ns * static_cast<std::uint64_t>(count);
  return {{"length_ns", length},
          {"end_ns", length},
          {"offered_ops", offered},
          {"completed_ops", offered},
          {"refused_ops", 0},
          {"offered_ops_per_s", rate_ops},
          {"goodput_ops_per_s", rate_ops},
          {"goodput_gbps", rate_ops * 1024 * 8 / 1e9},
          {"intervals", intervals}};
}

json search_json(const std::string& found_by) {
  json probes = json::array();
  const double rates[] = {40000, 60000, 90000, 90000, 75000};
  const bool ok[] = {true, true, false, false, true};
  const double ages[] = {300e3, 900e3, 40e6, 45e6, 2e6};
  for (int i = 0; i < 5; ++i) {
    probes.push_back({{"rate_ops_per_s", rates[i]},
                      {"rate_gbps", rates[i] * 1024 * 8 / 1e9},
                      {"sustainable", ok[i]},
                      {"reason", ok[i] ? "queue age p99 <= bound <5ms>, no upward trend"
                                       : "queue age p99 > bound 5ms & rising"},
                      {"age_p99_ns", ages[i]},
                      {"age_trend_ns_per_s", ok[i] ? 0.0 : 1e8},
                      {"refused_ops", 0},
                      {"offered_ops_per_s", rates[i]},
                      {"completed_ops_per_s", rates[i]}});
  }
  return {{"sustainable_rate_ops_per_s", 75000.0},
          {"sustainable_rate_gbps", 75000.0 * 1024 * 8 / 1e9},
          {"converged", true},
          {"lowest_failed_ops_per_s", 90000.0},
          {"estimate_ops_per_s", 60000.0},
          {"queue_age_bound_ns", 5'000'000},
          {"probe_ns", 500'000'000},
          {"precision", 0.05},
          {"elapsed_ns", 3'000'000'000ULL},
          {"found_by", found_by},
          {"probes", probes}};
}

CaseResult regime_case(const std::string& kind, double scale, double rate, const json& search) {
  const std::string id = "reg.stream.tcp.1KiB.regime=" + kind +
                         (rate > 0 ? ",rate=" + std::to_string(static_cast<int>(rate)) : "");
  CaseResult c = make_case(id, "reg-" + kind, "stream", 1024);
  c.params["mode"] = "duration";
  c.params["regime"] = {{"kind", kind}, {"arrival", "poisson"}, {"mix_text", ""}};
  Repetition r;
  r.index = 0;
  r.elapsed_ns = 1'000'000'000ULL;
  const double p50 = (kind == "floor" ? 20e3 : 20e3 + rate / 2000 * 1e3) * scale;
  json doc = {{"kind", kind},
              {"arrival", kind == "floor" ? "closed" : "poisson"},
              {"streams", 1},
              {"inflight", kind == "floor" ? 1 : 16},
              {"backlog_ops", 100000},
              {"deadline_ns", 5'000'000},
              {"mean_message_bytes", 1024.0},
              {"search", search},
              {"overload", nullptr}};
  json headline = json::object();
  if (kind == "search") {
    doc["phase"] = nullptr;
    headline["sustainable_rate_ops_per_s"] = 75000.0;
  } else {
    r.latency = latency(p50);
    const double goodput = kind == "floor" ? 40000 : rate;
    r.ops = static_cast<std::uint64_t>(goodput);
    r.bytes = r.ops * 1024;
    r.bw_gbps = static_cast<double>(r.bytes) * 8 / 1e9;
    r.msg_rate_mops = goodput / 1e6;
    if (kind == "overload") {
      doc["phase"] = phase(rate, 2 * p50, p50, 20, 50'000'000, 3.0, 6, 10);
      doc["overload"] = {{"factor", 3.0},
                         {"before_ns", 300'000'000},
                         {"during_ns", 200'000'000},
                         {"after_ns", 500'000'000},
                         {"drain_ns", 120'000'000},
                         {"drained", true},
                         {"peak_backlog_ops", 4200},
                         {"peak_age_ns", 30'000'000},
                         {"goodput_during_ops_per_s", 70000.0},
                         {"recovery_ops_per_s", 72000.0},
                         {"recovery_excess_ops_per_s", 22000.0}};
      headline["drain_ns"] = 120'000'000;
      headline["peak_backlog_ops"] = 4200;
    } else {
      doc["phase"] = phase(goodput, 2 * p50, p50 / 2, 20, 50'000'000);
    }
    if (kind != "floor") {
      doc["rate"] = {{"text", std::to_string(static_cast<int>(rate)) + "/s"},
                     {"ops_per_s", rate},
                     {"gbps", rate * 1024 * 8 / 1e9},
                     {"fraction_of_sustainable", rate / 75000.0}};
      headline["offered_ops_per_s"] = rate;
    }
    const auto s = stats::summarize(r.latency);
    headline["lat_p50_ns"] = s.p50;
    headline["lat_p99_ns"] = s.p99;
    headline["goodput_ops_per_s"] = goodput;
    headline["queue_age_p99_ns"] = p50 / 2;
    headline["deadline_misses"] = 0;
    headline["refused_ops"] = 0;
  }
  doc["headline"] = headline;
  r.regime = doc;
  c.repetitions.push_back(std::move(r));
  summarize_case(c);
  return c;
}

CaseResult fault_case(double scale) {
  CaseResult c = make_case("flt.stream.tcp.64KiB.fault=link_down", "flt", "stream", 65536);
  c.params["mode"] = "duration";
  c.params["fault"] = {{"kind", "link_down"}, {"start_ns", kFaultStartNs}, {"hold_ns", 1e9}};
  const double base_gbps = 10.0 / scale;
  for (int rep = 0; rep < 2; ++rep) {
    Repetition r;
    r.index = rep;
    r.elapsed_ns = 5'000'000'000ULL;
    const std::uint64_t bin = 100'000'000ULL;
    std::uint64_t total = 0;
    for (int i = 0; i < 50; ++i) {
      stats::IntervalPoint p;
      p.start_ns = static_cast<std::uint64_t>(i) * bin;
      p.length_ns = bin;
      double factor = 1.0;
      if (p.start_ns >= kFaultStartNs && p.start_ns < kFaultClearNs) factor = 0;
      if (p.start_ns >= kFaultClearNs)
        factor = std::min(1.0, 0.3 + 0.2 * static_cast<double>(i - 25));
      p.bytes = static_cast<std::uint64_t>(base_gbps * factor * (1.0 + 0.02 * rep) * 0.1e9 / 8);
      p.ops = p.bytes / 65536;
      total += p.bytes;
      r.intervals.push_back(p);
    }
    r.bytes = total;
    r.ops = total / 65536;
    r.bw_gbps = static_cast<double>(total) * 8 / 5e9;
    r.msg_rate_mops = static_cast<double>(r.ops) / 5e9 * 1e3;
    r.fault = {{"kind", "link_down"},
               {"backend", "netns:veth <fbd0>"},
               {"outcome", rep == 0 ? "absorbed" : "reconnected"},
               {"error", nullptr},
               {"reconnects", rep},
               {"bin_ns", bin},
               {"start_ns", kFaultStartNs},
               {"clear_ns", kFaultClearNs},
               {"link_event_ns", nullptr},
               {"recovery",
                {{"baseline_bytes_per_bin", base_gbps * 0.1e9 / 8},
                 {"baseline_gbps", base_gbps},
                 {"baseline_bins", 15},
                 {"detect_link_ns", nullptr},
                 {"detect_error_ns", nullptr},
                 {"stall_ns", 1'000'000'000},
                 {"first_byte_after_clear_ns", 0},
                 {"ttr90_from_start_ns", 1'400'000'000},
                 {"ttr90_from_clear_ns", 400'000'000},
                 {"ttr99_from_start_ns", 1'400'000'000},
                 {"ttr99_from_clear_ns", 400'000'000},
                 {"deficit_bytes", base_gbps * 1.3e9 / 8}}}};
    c.repetitions.push_back(std::move(r));
  }
  summarize_case(c);
  c.summary["recovery"] = {
      {"outcomes", {{"absorbed", 1}, {"reconnected", 1}}},
      {"metrics",
       {{"stall_ns", {{"median", 1e9}, {"p95", 1e9}, {"count", 2}}},
        {"ttr90_from_clear_ns", {{"median", 4e8}, {"p95", 4e8}, {"count", 2}}},
        {"deficit_bytes", {{"median", base_gbps * 1.3e9 / 8}, {"p95", 1}, {"count", 2}}}}}};
  return c;
}

json envelope() {
  json rank0 = {
      {"rank", 0},
      {"size", 2},
      {"launcher", "local"},
      {"hostname", kHostileHostname},
      {"pid", 4242},
      {"os_release", "Debian GNU/Linux 12 (bookworm)"},
      {"kernel",
       {{"release", "6.1.0-18-amd64"}, {"machine", "x86_64"}, {"version", "#1 SMP <PREEMPT>"}}},
      {"cpu",
       {{"model", "AMD EPYC 7763 64-Core"},
        {"cores_online", 64},
        {"sockets", 1},
        {"governor", "performance"}}},
      {"placement", {{"cpu", 3}, {"numa_node", 0}, {"affinity", "0-63"}}},
      {"memory", {{"total_bytes", 270000000000ULL}, {"thp_enabled", "madvise"}}},
      {"nics", json::array({{{"name", "eth0"},
                             {"driver", "mlx5_core"},
                             {"mtu", 9000},
                             {"speed_mbps", 100000},
                             {"operstate", "up"},
                             {"addresses", json::array({"192.0.2.2/24"})}},
                            {{"name", "lo"}, {"driver", nullptr}, {"mtu", 65536}}})},
      {"rdma_devices",
       {{"available", true},
        {"devices", json::array({{{"name", "mlx5_0"},
                                  {"fw_ver", "28.39.1002"},
                                  {"node_guid", "b8ce:f603:00aa:bb01"},
                                  {"ports", json::array({{{"port", 1},
                                                          {"state", "active"},
                                                          {"link_layer", "InfiniBand"},
                                                          {"active_mtu", 4096}}})}}})}}},
      {"gpus", {{"available", false}, {"reason", "no NVIDIA driver"}}},
      {"libraries",
       {{"libibverbs", "1.14.44.0"}, {"fmt", "9.1.0"}, {"libfabric", nullptr}, {"x<y>", "a&b"}}}};
  json rank1 = rank0;
  rank1["rank"] = 1;
  rank1["hostname"] = "node2";
  return {{"ranks", json::array({rank0, rank1})}};
}

}  // namespace

RunDocument synthetic_run(const std::string& run_id, double scale) {
  RunDocument d;
  d.run_id = run_id;
  d.tool_version = "0.1.0";
  d.tool_revision = "abc123def456";
  d.started_ns = kStart;
  d.finished_ns = kStart + 90'000'000'000ULL;
  d.status = RunStatus::complete;
  d.launcher = "local";
  d.ranks = 2;
  d.config = {{"path", "configs/synthetic.yaml"}, {"digest", "0123abcd"}};
  d.envelope = envelope();
  d.events = json::array();

  for (const std::uint64_t size : {8u, 64u, 4096u}) {
    CaseResult c = make_case("lat.pingpong.tcp." + size_text(size), "lat", "pingpong", size);
    for (int i = 0; i < 3; ++i) {
      Repetition r;
      r.index = i;
      r.elapsed_ns = 10'000'000;
      r.ops = 100;
      r.bytes = 2 * size * 100;
      r.latency = latency((5000.0 + static_cast<double>(size) + 50.0 * i) * scale);
      c.repetitions.push_back(std::move(r));
    }
    summarize_case(c);
    d.cases.push_back(std::move(c));
  }
  for (const char* direction : {"uni", "bidir"}) {
    for (const std::uint64_t size : {4096u, 65536u, 1048576u}) {
      const json dir = json::array({{{"key", "direction"}, {"value", direction}}});
      CaseResult c =
          make_case("bw.stream.tcp." + size_text(size) + ".direction=" + std::string(direction),
                    "bw", "stream", size, dir);
      c.params["mode"] = "duration";
      const double gbps = (std::string(direction) == "bidir" ? 1.6 : 1.0) * 8.0 *
                          std::log2(static_cast<double>(size)) / 20.0 / scale;
      for (int i = 0; i < 3; ++i) {
        Repetition r = bandwidth_rep(i, gbps * (1.0 + 0.03 * i), size);
        if (size == 65536) r.intervals = bins(gbps * (1.0 + 0.05 * i), 6, false, 0);
        c.repetitions.push_back(std::move(r));
      }
      summarize_case(c);
      d.cases.push_back(std::move(c));
    }
  }
  {
    CaseResult c = make_case("dur.pingpong.tcp.64B", "dur", "pingpong", 64);
    c.params["mode"] = "duration";
    Repetition r;
    r.index = 0;
    r.elapsed_ns = 300'000'000;
    r.ops = 3000;
    r.bytes = 2 * 64 * 3000;
    r.latency = latency(7000 * scale);
    r.intervals = bins(0.01, 6, true, 14000 * scale);
    c.repetitions.push_back(std::move(r));
    summarize_case(c);
    d.cases.push_back(std::move(c));
  }
  d.cases.push_back(fault_case(scale));
  const json search = search_json("reg.stream.tcp.1KiB.regime=search");
  d.cases.push_back(regime_case("floor", scale, 0, nullptr));
  d.cases.push_back(regime_case("realistic", scale, 30000, search));
  d.cases.push_back(regime_case("realistic", scale, 60000, search));
  d.cases.push_back(regime_case("overload", scale, 40000, search));
  d.cases.push_back(regime_case("search", scale, 0, search));
  {
    CaseResult c = make_case("skip.stream.verbs.64KiB", "skip", "stream", 65536);
    c.transport = "verbs";
    c.status = CaseStatus::skipped;
    c.skip_reason = "no RDMA device: ibv_get_device_list returned <none>";
    summarize_case(c);
    d.cases.push_back(std::move(c));
  }
  {
    CaseResult c = make_case("fail.pingpong.tcp.8B", "fail", "pingpong", 8);
    c.status = CaseStatus::failed;
    c.errors.push_back({1, "peer_lost", "rank 1 | stopped answering <b>after 10s</b>"});
    summarize_case(c);
    d.cases.push_back(std::move(c));
  }
  return d;
}

void write_run(const std::string& dir, const RunDocument& doc) {
  std::filesystem::create_directories(dir);
  write_file_atomic(dir + "/" + kDocumentFileName, to_json(doc).dump() + "\n");
}

}  // namespace fabricbench::results::reporttest
