// The console observer: perftest/nccl-tests style tables, a progress line on a terminal, and a
// recovery line per case with a fault (docs/METHODOLOGY.md).
#include "harness/cli/console.hpp"

#include <unistd.h>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include "core/units.hpp"
#include "harness/cli/collective_console.hpp"
#include "harness/cli/copy_console.hpp"
#include "harness/cli/map_console.hpp"
#include "harness/envelope/gpus.hpp"
#include "results/diff.hpp"

namespace fabricbench::cli {

namespace {

// What a case's memory was and cost, under its row: only for memory other than plain host
// memory (GPU memory, dma-buf), from each rank's record (docs/RESULTS.md, `cases[].memory`).
void print_memory(std::FILE* out, const nlohmann::json& memory) {
  if (!memory.is_array()) return;
  for (std::size_t rank = 0; rank < memory.size(); ++rank) {
    const auto& m = memory[rank];
    const std::string provider = m.value("provider", "");
    if (provider.empty() || provider == "host" || provider == "hugepage") continue;
    std::string line = fmt::format("#   rank {}: memory {}", rank, provider);
    if (m.contains("gpu") && m["gpu"].is_number()) {
      line += fmt::format(" on GPU {} ({})", m["gpu"].get<int>(), m.value("gpu_name", "?"));
    }
    if (m.contains("registration") && m["registration"].is_string()) {
      line += ", " + m["registration"].get<std::string>();
    }
    const auto& staging = m.contains("staging") ? m["staging"] : nlohmann::json();
    if (staging.is_object()) {
      for (const char* way : {"to_host", "to_device"}) {
        const auto& d = staging[way];
        const auto copies = d.value("copies", std::uint64_t{0});
        if (copies == 0) continue;
        line += fmt::format("; {} {} copies, {:.2f} us each", way, copies,
                            static_cast<double>(d.value("ns", std::uint64_t{0})) / 1e3 /
                                static_cast<double>(copies));
      }
    }
    fmt::print(out, "{}\n", line);
  }
}

// A multi-rail case's rails under its row (docs/RESULTS.md "Rails"): each rail's median figure
// and share over the repetitions.
void print_rails(std::FILE* out, const results::CaseResult& r) {
  std::vector<std::string> names;
  std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> figures;
  for (const auto& rep : r.repetitions) {
    if (!rep.rails.is_array()) continue;
    for (const auto& rail : rep.rails) {
      const auto name = rail.value("rail", std::string("?"));
      if (!figures.contains(name)) names.push_back(name);
      auto& [bw, share] = figures[name];
      if (rail.contains("bw_gbps") && rail["bw_gbps"].is_number()) {
        bw.push_back(rail["bw_gbps"].get<double>());
      }
      share.push_back(rail.value("share", 0.0));
    }
  }
  for (const auto& name : names) {
    const auto& [bw, share] = figures[name];
    fmt::print(out, "#   rail {}: {:.3f} Gb/s, {:.0f}% of the bytes (medians over repetitions)\n",
               name, bw.empty() ? 0.0 : results::diff::median(bw),
               100 * results::diff::median(share));
  }
}

class Console final : public engine::Observer {
 public:
  Console(std::FILE* out, std::FILE* progress, const engine::Registry& registry)
      : out_(out), progress_(progress), registry_(registry) {
    tty_ = progress_ != nullptr && isatty(fileno(progress_)) != 0;
  }

  void on_run_start(const results::RunDocument& doc, const std::string& dir) override {
    fmt::print(out_, "# fabricbench {} ({}) run {}\n# {} ranks, launcher {}, output {}\n",
               doc.tool_version, doc.tool_revision, doc.run_id, doc.ranks, doc.launcher, dir);
    if (const auto w = envelope::degraded_links_warning(doc.envelope)) {
      fmt::print(out_, "# {}\n", *w);
    }
    ranks_ = doc.ranks;
  }

  void on_case_start(std::size_t index, std::size_t total, const spec::Case& c) override {
    index_ = index;
    total_ = total;
    show_progress(c, 0);
  }

  void on_repetition(const spec::Case& c, int done) override { show_progress(c, done); }

  void on_case_done(const spec::Case& c, const results::CaseResult& r) override {
    clear_progress();
    const std::string header_key =
        c.group + "|" + c.suite + "|" + c.transport + "|" + c.regime.kind + "|" + others(c);
    const bool collective = is_collective(c);
    const bool map = c.map.pattern != "pairs";  // all_pairs, incast, shift: map_console
    if (header_key != last_header_ && !map) {
      last_header_ = header_key;
      if (collective) {
        table_.header(c, describe_suite(c), ranks_);
      } else if (is_local(c)) {
        print_copy_header(out_, c, describe_suite(c), ranks_);
      } else {
        print_header(c);
      }
    }
    if (r.status != results::CaseStatus::ok && map) fmt::print(out_, "# {}\n", c.id);
    if (r.status == results::CaseStatus::skipped) {
      fmt::print(out_, "{:>10}  skipped: {}\n", c.message_size, r.skip_reason);
    } else if (r.status == results::CaseStatus::failed) {
      fmt::print(out_, "{:>10}  FAILED: {}\n", c.message_size,
                 r.errors.empty() ? std::string("unknown error") : r.errors.front().message);
    } else if (map) {
      print_map(out_, c, r);
    } else if (collective) {
      table_.row(r);
    } else if (is_local(c)) {
      print_copy_row(out_, c, r);
    } else if (c.regime.kind != "closed") {
      print_regime_row(c, r);
    } else if (reports_bandwidth(c)) {
      print_stream_row(c, r);
      print_rails(out_, r);
    } else {
      print_latency_row(c, r);
    }
    if (c.fault.active() && r.status != results::CaseStatus::skipped) print_recovery(c, r);
    if (r.status == results::CaseStatus::ok) print_memory(out_, r.memory);
    std::fflush(out_);
  }

  void on_run_done(const results::RunDocument& doc, const std::string& dir) override {
    clear_progress();
    table_.footer();
    fmt::print(out_, "# run {}: {} cases; document {}/run.json\n", results::to_string(doc.status),
               doc.cases.size(), dir);
    std::fflush(out_);
  }

 private:
  bool is_collective(const spec::Case& c) const {
    const auto* s = registry_.suite(c.suite);
    return s != nullptr && static_cast<bool>(s->descriptor.make_collective);
  }

  // A local suite's case; the copy suite is the only one, so its table is the copy table.
  bool is_local(const spec::Case& c) const {
    const auto* s = registry_.suite(c.suite);
    return s != nullptr && static_cast<bool>(s->descriptor.make_local);
  }

  static std::string others(const spec::Case& c) {
    std::string s;
    for (const auto& [k, v] : c.varied) {
      if (k == "message_size" || k == "size" || k == "sizes") continue;
      s += (s.empty() ? "" : ", ") + k + "=" + v;
    }
    return s;
  }

  void print_header(const spec::Case& c) {
    if (c.regime.kind != "closed") {
      print_regime_header(c);
      return;
    }
    const std::string extra = others(c);
    const std::string mode =
        c.mode == spec::Mode::duration
            ? fmt::format("{:.3g} s per repetition", static_cast<double>(c.duration_ns) / 1e9)
            : fmt::format("{} iterations per repetition", c.iterations);
    const bool two_sided = c.op == "send" || c.op == "write_imm";
    if (reports_bandwidth(c)) {
      const std::string own = describe_suite(c);
      fmt::print(
          out_,
          "\n# {} ({} over {}, op {}{}{}): {}{} {}, {}, {} repetitions\n"
          "# bandwidth counted by the {}; BW is the median over repetitions "
          "(Gb/s = 1e9 bit/s, GiB/s = 2^30 B/s)\n",
          c.group, c.suite, c.transport, c.op, extra.empty() ? "" : ", ", extra,
          own.empty() ? "" : own + ", ", c.connections, connection_noun(c), mode, c.repetitions,
          two_sided ? "receiver" : "initiator, first post to last completion (one-sided op)");
      fmt::print(out_, "{:>10} {:>12} {:>12} {:>12} {:>14} {:>22}\n", "#bytes", "#msgs", "BW[Gb/s]",
                 "BW[GiB/s]", "rate[Mmsg/s]", "BW min..max[Gb/s]");
    } else {
      const bool halved = two_sided || c.op == "write";
      fmt::print(out_,
                 "\n# {} ({} over {}, op {}{}{}): {} in usec, completion {}, {}, "
                 "{} repetitions merged\n",
                 c.group, c.suite, c.transport, c.op, extra.empty() ? "" : ", ", extra,
                 halved ? "one-way latency = RTT/2"
                        : "latency of the whole operation (a round trip; not halved)",
                 c.completion, mode, c.repetitions);
      fmt::print(out_, "{:>10} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}\n", "#bytes",
                 "#samples", "t_min", "t_mean", "t_stdev", "t_p50", "t_p90", "t_p99", "t_p99.9",
                 "t_max");
    }
  }

  void print_latency_row(const spec::Case& c, const results::CaseResult& r) {
    stats::Histogram merged;
    for (const auto& rep : r.repetitions) merged.merge(rep.latency);
    const auto s = stats::summarize(merged);
    auto us = [](double ns) { return ns / 1e3; };
    fmt::print(out_,
               "{:>10} {:>10} {:>9.2f} {:>9.2f} {:>9.2f} {:>9.2f} {:>9.2f} {:>9.2f} {:>9.2f} "
               "{:>10.2f}\n",
               c.message_size, s.count, us(static_cast<double>(s.min)), us(s.mean), us(s.stdev),
               us(static_cast<double>(s.p50)), us(static_cast<double>(s.p90)),
               us(static_cast<double>(s.p99)), us(static_cast<double>(s.p999)),
               us(static_cast<double>(s.max)));
  }

  void print_stream_row(const spec::Case& c, const results::CaseResult& r) {
    auto num = [&](const char* key) {
      return r.summary.contains(key) && r.summary[key].is_number() ? r.summary[key].get<double>()
                                                                   : 0.0;
    };
    std::uint64_t msgs = 0;
    for (const auto& rep : r.repetitions) msgs += rep.ops;
    fmt::print(out_, "{:>10} {:>12} {:>12.3f} {:>12.3f} {:>14.4f} {:>10.3f}..{:<10.3f}\n",
               c.message_size, msgs, num("bw_gbps_median"), num("bw_gibps_median"),
               num("msg_rate_mops_median"), num("bw_gbps_min"), num("bw_gbps_max"));
  }

  // Regimes (docs/METHODOLOGY.md "Regimes"): latency runs from the intended issue time to the
  // confirmation (acknowledgement, echo or one-sided completion) and is not halved.
  void print_regime_header(const spec::Case& c) {
    const std::string extra = others(c);
    fmt::print(out_, "\n# {} ({} over {}, op {}{}{}): regime {}, {} repetitions\n", c.group,
               c.suite, c.transport, c.op, extra.empty() ? "" : ", ", extra, c.regime.kind,
               c.repetitions);
    const std::string confirm =
        c.op == "send" || c.op == "write_imm"
            ? (echoes_requests(c) ? "the echo arrives" : "the receiver's acknowledgement arrives")
            : "the operation completes";
    if (c.regime.kind == "floor") {
      fmt::print(out_,
                 "# closed loop, one operation in flight; latency = post until {} (not halved), "
                 "usec\n",
                 confirm);
      fmt::print(out_, "{:>10} {:>10} {:>9} {:>9} {:>9} {:>9} {:>10}\n", "#bytes", "#samples",
                 "t_min", "t_p50", "t_p99", "t_p99.9", "t_max");
    } else if (c.regime.kind == "realistic") {
      fmt::print(out_,
                 "# open loop, {} arrivals, {} stream(s), inflight {}; latency = intended issue "
                 "time until {} (queueing + service), usec; rates in ops/s\n",
                 c.regime.arrival, c.regime.streams, c.regime.inflight, confirm);
      fmt::print(out_, "{:>10} {:>12} {:>12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8}\n",
                 "#bytes", "offered", "goodput", "t_p50", "t_p99", "t_p99.9", "queue99",
                 "service99", "age_p99", "misses", "refused");
    } else if (c.regime.kind == "overload") {
      fmt::print(out_,
                 "# open loop, {} arrivals: baseline {} for {}, x{} for {}, baseline for {}; "
                 "drain = until queue age is back at its pre-overload p99; rates in ops/s\n",
                 c.regime.arrival, c.regime.rate.text,
                 core::format_duration_ns(c.regime.overload_before_ns), c.regime.overload_factor,
                 core::format_duration_ns(c.regime.overload_during_ns),
                 core::format_duration_ns(c.regime.overload_after_ns));
      fmt::print(out_, "{:>10} {:>12} {:>12} {:>12} {:>12} {:>10} {:>12} {:>8}\n", "#bytes",
                 "baseline", "backlog_max", "goodput_ovl", "age_max[us]", "drain[ms]", "recovery",
                 "misses");
    } else {
      fmt::print(out_,
                 "# sustainable rate: highest offered rate whose queue-age p99 stays <= {} with "
                 "no upward trend over {} probes\n",
                 core::format_duration_ns(c.regime.search_queue_age_ns),
                 core::format_duration_ns(c.regime.search_probe_ns));
      fmt::print(out_, "{:>10} {:>14} {:>12} {:>8} {:>10}\n", "#bytes", "rate[ops/s]", "rate[Gb/s]",
                 "probes", "converged");
    }
  }

  void print_regime_row(const spec::Case& c, const results::CaseResult& r) {
    const nlohmann::json empty = nlohmann::json::object();
    const nlohmann::json& h =
        r.summary.contains("regime") ? r.summary["regime"].value("headline_median", empty) : empty;
    auto num = [&](const char* key) {
      return h.contains(key) && h[key].is_number() ? h[key].get<double>() : -1.0;
    };
    auto us = [&](const char* key) { return num(key) < 0 ? -1.0 : num(key) / 1e3; };
    const nlohmann::json* first = r.repetitions.empty() ? nullptr : &r.repetitions.front().regime;
    if (c.regime.kind == "floor") {
      stats::Histogram merged;
      for (const auto& rep : r.repetitions) merged.merge(rep.latency);
      const auto s = stats::summarize(merged);
      fmt::print(out_, "{:>10} {:>10} {:>9.2f} {:>9.2f} {:>9.2f} {:>9.2f} {:>10.2f}\n",
                 c.message_size, s.count, static_cast<double>(s.min) / 1e3,
                 static_cast<double>(s.p50) / 1e3, static_cast<double>(s.p99) / 1e3,
                 static_cast<double>(s.p999) / 1e3, static_cast<double>(s.max) / 1e3);
    } else if (c.regime.kind == "realistic") {
      fmt::print(out_,
                 "{:>10} {:>12.0f} {:>12.0f} {:>9.2f} {:>9.2f} {:>9.2f} {:>9.2f} {:>9.2f} "
                 "{:>9.2f} {:>8.0f} {:>8.0f}\n",
                 c.message_size, num("offered_ops_per_s"), num("goodput_ops_per_s"),
                 us("lat_p50_ns"), us("lat_p99_ns"), us("lat_p999_ns"), us("queueing_p99_ns"),
                 us("service_p99_ns"), us("queue_age_p99_ns"), num("deadline_misses"),
                 num("refused_ops"));
    } else if (c.regime.kind == "overload") {
      double age_max = -1;
      if (first != nullptr && first->contains("overload") && (*first)["overload"].is_object()) {
        age_max = (*first)["overload"].value("peak_age_ns", 0.0) / 1e3;
      }
      const double drain = num("drain_ns");
      fmt::print(out_, "{:>10} {:>12.0f} {:>12.0f} {:>12.0f} {:>12.1f} {:>10} {:>12.0f} {:>8.0f}\n",
                 c.message_size, num("offered_ops_per_s"), num("peak_backlog_ops"),
                 num("goodput_during_ops_per_s"), age_max,
                 drain < 0 ? std::string("no drain") : fmt::format("{:.1f}", drain / 1e6),
                 num("recovery_ops_per_s"), num("deadline_misses"));
    } else {
      std::size_t probes = 0;
      bool converged = false;
      if (first != nullptr && first->contains("search") && (*first)["search"].is_object()) {
        probes = (*first)["search"]["probes"].size();
        converged = (*first)["search"].value("converged", false);
      }
      fmt::print(out_, "{:>10} {:>14.0f} {:>12.4f} {:>8} {:>10}\n", c.message_size,
                 num("sustainable_rate_ops_per_s"), num("sustainable_rate_gbps"), probes,
                 converged ? "yes" : "no");
    }
    if (c.regime.kind != "search" && first != nullptr && first->contains("search") &&
        (*first)["search"].is_object()) {
      const auto& s = (*first)["search"];
      fmt::print(out_,
                 "{:>10} (rate {} of the sustainable {:.0f} ops/s = {:.4f} Gb/s, found by {})\n",
                 "", c.regime.rate.text, s.value("sustainable_rate_ops_per_s", 0.0),
                 s.value("sustainable_rate_gbps", 0.0), s.value("found_by", std::string()));
    }
  }

  // One line per case with a fault: the medians over repetitions of its recovery metrics
  // (docs/METHODOLOGY.md "Faults and recovery").
  void print_recovery(const spec::Case& c, const results::CaseResult& r) {
    const nlohmann::json empty = nlohmann::json::object();
    if (!r.summary.is_object()) return;  // a failed case has no summary
    const nlohmann::json rec = r.summary.value("recovery", empty);
    if (!rec.is_object()) return;
    const nlohmann::json m = rec.value("metrics", empty);
    auto med = [&](const char* key) -> std::optional<double> {
      if (!m.contains(key) || !m[key].is_object()) return std::nullopt;
      return m[key]["median"].get<double>();
    };
    auto ms = [&](const char* key) {
      const auto v = med(key);
      return v ? fmt::format("{:.0f} ms", *v / 1e6) : std::string("never");
    };
    std::string outcomes;
    const nlohmann::json counts = rec.value("outcomes", empty);  // items() must not outlive it
    for (const auto& [k, v] : counts.items()) {
      if (!v.is_number()) continue;
      outcomes += (outcomes.empty() ? "" : ", ") + k + " x" + std::to_string(v.get<int>());
    }
    if (rec.contains("aborted") && rec["aborted"].is_object()) {
      const nlohmann::json& a = rec["aborted"];
      fmt::print(out_,
                 "{:>10} fault {} {} at {}: outcome {}; repetition {} aborted on rank {}: {}\n", "",
                 c.fault.kind, core::format_duration_ns(c.fault.hold_ns),
                 core::format_duration_ns(c.fault.start_ns), outcomes, a.value("repetition", 0),
                 a.value("rank", 0), a.value("error", ""));
      if (r.repetitions.empty()) return;  // no curve to summarize
    }
    // Connections re-established and messages lost, summed over the repetitions.
    std::uint64_t reconnects = 0;
    std::uint64_t failed = 0;
    for (const auto& rep : r.repetitions) {
      if (!rep.fault.is_object()) continue;
      reconnects += rep.fault.value("reconnects", std::uint64_t{0});
      failed += rep.fault.value("failed_operations", std::uint64_t{0});
    }
    const std::string latency_text =
        med("regime_peak_p99_ns")
            ? fmt::format(
                  "; latency p99 {} before, peak {}, back in the pre-fault range {} and "
                  "backlog drained {} after clear",
                  med("regime_baseline_p99_ns")
                      ? fmt::format("{:.2f} ms", *med("regime_baseline_p99_ns") / 1e6)
                      : std::string("unknown"),
                  ms("regime_peak_p99_ns"), ms("regime_latency_recovered_from_clear_ns"),
                  ms("regime_drained_from_clear_ns"))
            : std::string();
    const std::string reconnect_text =
        reconnects == 0 ? std::string()
                        : fmt::format(
                              "; {} reconnect(s), {} message(s) lost, first error {} "
                              "after the fault",
                              reconnects, failed, ms("detect_error_ns"));
    fmt::print(out_,
               "{:>10} fault {} {} at {} (median of {} repetitions): outcome {}; baseline "
               "{:.3f} Gb/s; stall {}; after clear: first byte {}, ttr90 {}, ttr99 {}; deficit "
               "{:.1f} MB; link event {} after the fault{}{}\n",
               "", c.fault.kind, core::format_duration_ns(c.fault.hold_ns),
               core::format_duration_ns(c.fault.start_ns), c.repetitions, outcomes,
               med("baseline_gbps").value_or(0), ms("stall_ns"), ms("first_byte_after_clear_ns"),
               ms("ttr90_from_clear_ns"), ms("ttr99_from_clear_ns"),
               med("deficit_bytes").value_or(0) / 1e6, ms("detect_link_ns"), latency_text,
               reconnect_text);
  }

  void show_progress(const spec::Case& c, int done) {
    if (!tty_) return;
    fmt::print(progress_, "\r\033[K[{}/{}] {}  repetition {}/{}", index_ + 1, total_, c.id,
               std::min(done + 1, c.repetitions), c.repetitions);
    std::fflush(progress_);
  }
  void clear_progress() {
    if (!tty_) return;
    fmt::print(progress_, "\r\033[K");
    std::fflush(progress_);
  }

  // What the case's suite and transport say of themselves (registry entries).
  const suites::Descriptor* suite_of(const spec::Case& c) const {
    const engine::SuiteEntry* s = registry_.suite(c.suite);
    return s != nullptr ? &s->descriptor : nullptr;
  }
  bool reports_bandwidth(const spec::Case& c) const {
    const auto* s = suite_of(c);
    return s != nullptr && s->reports_bandwidth;
  }
  bool echoes_requests(const spec::Case& c) const {
    const auto* s = suite_of(c);
    return s != nullptr && s->echoes_requests;
  }
  std::string describe_suite(const spec::Case& c) const {
    const auto* s = suite_of(c);
    return s != nullptr && s->describe ? s->describe(c.suite_settings) : std::string();
  }
  std::string connection_noun(const spec::Case& c) const {
    const engine::TransportEntry* t = registry_.transport(c.transport);
    return t != nullptr ? t->descriptor.connection_noun : std::string("connection(s)");
  }

  std::FILE* out_;
  std::FILE* progress_;
  const engine::Registry& registry_;
  bool tty_ = false;
  CollectiveTable table_{out_};
  int ranks_ = 0;
  std::size_t index_ = 0;
  std::size_t total_ = 0;
  std::string last_header_;
};

}  // namespace

std::unique_ptr<engine::Observer> make_console(std::FILE* out, std::FILE* progress,
                                               const engine::Registry& registry) {
  return std::make_unique<Console>(out, progress, registry);
}

}  // namespace fabricbench::cli
