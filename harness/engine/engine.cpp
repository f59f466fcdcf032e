#include "harness/engine/engine.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <ctime>
#include <memory>
#include <optional>
#include <utility>

#include "core/clock.hpp"
#include "core/version.hpp"
#include "harness/engine/bootstrap_exchange.hpp"
#include "harness/engine/fault_run.hpp"
#include "harness/engine/regime_run.hpp"
#include "harness/envelope/envelope.hpp"
#include "suites/api/measure.hpp"

namespace fabricbench::engine {

using core::Error;
using core::ErrorKind;
using nlohmann::json;

const TransportEntry* Registry::transport(const std::string& name) const {
  for (const auto& t : transports) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

const SuiteEntry* Registry::suite(const std::string& name) const {
  for (const auto& s : suites) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

namespace {

const char* kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::config:
      return "config";
    case ErrorKind::usage:
      return "usage";
    case ErrorKind::unavailable:
      return "unavailable";
    case ErrorKind::runtime:
      return "runtime";
    case ErrorKind::peer_lost:
      return "peer_lost";
    case ErrorKind::timeout:
      return "timeout";
  }
  return "runtime";
}

std::string make_run_id(const std::string& name) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  unsigned char rnd[2] = {0, 0};
  RAND_bytes(rnd, sizeof rnd);
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, "%02x%02x", rnd[0], rnd[1]);
  return std::string(stamp) + "-" + name + "-" + suffix;
}

transport::Op parse_op(const std::string& op) {
  using transport::Op;
  for (Op o : {Op::send, Op::write, Op::write_imm, Op::read, Op::fetch_add, Op::compare_swap}) {
    if (op == transport::op_name(o)) return o;
  }
  throw Error(ErrorKind::config, "unknown op '" + op + "'");
}

bool supports(const transport::Capabilities& caps, transport::Op op) {
  using transport::Op;
  switch (op) {
    case Op::send:
    case Op::recv:
      return caps.send_recv;
    case Op::write:
      return caps.write;
    case Op::write_imm:
      return caps.write_imm;
    case Op::read:
      return caps.read;
    case Op::fetch_add:
    case Op::compare_swap:
      return caps.atomics;
  }
  return false;
}

suites::Params to_params(const spec::Case& c, const spec::Experiment& e) {
  suites::Params p;
  p.op = parse_op(c.op);
  p.message_size = c.message_size;
  p.duration_mode = c.mode == spec::Mode::duration;
  p.iterations = c.iterations;
  p.duration_ns = c.duration_ns;
  p.warmup_iterations = c.warmup_iterations;
  p.warmup_ns = c.warmup_ns;
  p.bidirectional = c.direction == "bidir";
  p.window = c.window;
  p.cq_moderation = c.transport == "verbs" ? c.verbs.cq_moderation : 1;
  p.interval_ns = c.interval_ns;
  p.verify = c.verify;
  p.completion = c.completion == "blocking" ? transport::CompletionMode::blocking
                                            : transport::CompletionMode::busy_poll;
  p.peer_timeout_ns = e.peer_timeout_ns;
  return p;
}

// Everything one case holds on one rank; torn down in reverse order.
struct CaseSetup {
  std::unique_ptr<suites::Workload> workload;
  std::unique_ptr<transport::Transport> transport;
  std::unique_ptr<transport::MemoryProvider> provider;
  transport::Buffer send_buffer;
  transport::Buffer recv_buffer;
  transport::MemoryRegion send_region;
  transport::MemoryRegion recv_region;
  bool registered = false;
  std::vector<std::unique_ptr<transport::Endpoint>> endpoints;
  std::unique_ptr<CaseFaults> faults;  // the injecting rank of a case with a fault

  CaseSetup() = default;
  CaseSetup(const CaseSetup&) = delete;
  CaseSetup& operator=(const CaseSetup&) = delete;
  ~CaseSetup() {
    faults.reset();  // clears a fault still injected before anything is torn down
    endpoints.clear();
    if (registered) {
      transport->deregister_memory(send_region);
      transport->deregister_memory(recv_region);
    }
    if (provider) {
      provider->release(send_buffer);
      provider->release(recv_buffer);
    }
  }
};

// Local set-up of one case: everything before the first collective of the transport.
void prepare(CaseSetup& s, const spec::Case& c, const suites::Params& p, const Registry& registry,
             int size) {
  const SuiteEntry* suite = registry.suite(c.suite);
  if (suite == nullptr) throw Error(ErrorKind::unavailable, "suite '" + c.suite + "' is not built");
  const TransportEntry* tentry = registry.transport(c.transport);
  if (tentry == nullptr) {
    throw Error(ErrorKind::unavailable, "transport '" + c.transport + "' is not built");
  }
  if (auto why = tentry->unavailable_reason ? tentry->unavailable_reason() : std::nullopt) {
    throw Error(ErrorKind::unavailable, "transport '" + c.transport + "' unavailable: " + *why);
  }
  if (size < 2 || size % 2 != 0) {
    throw Error(ErrorKind::config, c.suite +
                                       " runs between pairs of ranks (r, r + N/2) and needs "
                                       "an even number of ranks; this run has " +
                                       std::to_string(size));
  }
  const int connections = c.connections();
  if (!p.duration_mode &&
      p.iterations + p.warmup_iterations < static_cast<std::uint64_t>(connections)) {
    throw Error(ErrorKind::config, "iterations (" + std::to_string(p.iterations) +
                                       ") must be at least the number of connections (" +
                                       std::to_string(connections) + ")");
  }
  s.workload = suite->make();
  s.transport = tentry->make(c, p.peer_timeout_ns);
  const auto caps = s.transport->capabilities();
  if (c.message_size > caps.max_message_size) {
    throw Error(ErrorKind::unavailable, "message size " + std::to_string(c.message_size) +
                                            " exceeds " + c.transport + "'s maximum of " +
                                            std::to_string(caps.max_message_size) + " bytes");
  }
  if (!supports(caps, p.op)) {
    throw Error(ErrorKind::unavailable, c.transport + " does not support op '" + c.op + "'");
  }
  if (suites::is_atomic(p.op) && c.message_size != 8) {
    throw Error(ErrorKind::config, "op " + c.op + " works on 8-byte words; set sizes: 8 (got " +
                                       std::to_string(c.message_size) + ")");
  }
  if (p.completion == transport::CompletionMode::blocking ? !caps.blocking : !caps.busy_poll) {
    throw Error(ErrorKind::unavailable,
                c.transport + " does not support completion mode '" + c.completion + "'");
  }
  if (c.regime.kind != "closed") {
    if (p.verify) {
      throw Error(ErrorKind::config, "verify applies to the closed regime only (regime " +
                                         c.regime.kind + " does not check data)");
    }
    if (p.bidirectional) {
      throw Error(ErrorKind::config,
                  "regime " + c.regime.kind + " drives one direction: set direction: uni");
    }
  }
  s.provider = transport::make_memory_provider(c.memory);
  const std::size_t msg = std::max<std::uint64_t>(c.message_size, 1);
  const auto conns = static_cast<std::size_t>(connections);
  const auto regime_needs = regime_slots(c);
  const int send_slots = regime_needs ? regime_needs->first : s.workload->send_slots(p);
  const int recv_slots = regime_needs ? regime_needs->second : s.workload->recv_slots(p);
  s.send_buffer = s.provider->allocate(msg * static_cast<std::size_t>(send_slots) * conns);
  s.recv_buffer = s.provider->allocate(msg * static_cast<std::size_t>(recv_slots) * conns);
  if (p.verify) {
    // One-sided reads check what they fetch against this pattern (sequence 0 in every slot).
    auto* base = static_cast<unsigned char*>(s.send_buffer.addr);
    const std::size_t slots = s.send_buffer.length / msg;
    for (std::size_t i = 0; i < slots; ++i) suites::stamp_pattern(base + i * msg, msg, 0);
  }
  s.send_region = s.transport->register_memory(s.send_buffer);
  s.recv_region = s.transport->register_memory(s.recv_buffer);
  s.registered = true;
}

json drain_events(const Registry& registry, const spec::Case& c, CaseSetup& setup) {
  const TransportEntry* entry = registry.transport(c.transport);
  if (entry == nullptr || !entry->drain_events || !setup.transport) return json::array();
  return entry->drain_events(*setup.transport);
}

json intervals_to_json(const std::vector<stats::IntervalPoint>& points) {
  json out = json::array();
  for (const auto& pt : points) {
    out.push_back({{"start_ns", pt.start_ns},
                   {"length_ns", pt.length_ns},
                   {"bytes", pt.bytes},
                   {"ops", pt.ops},
                   {"latency_count", pt.latency_count},
                   {"lat_p50_ns", pt.lat_p50_ns ? json(*pt.lat_p50_ns) : json(nullptr)},
                   {"lat_p99_ns", pt.lat_p99_ns ? json(*pt.lat_p99_ns) : json(nullptr)}});
  }
  return out;
}

std::vector<stats::IntervalPoint> intervals_from_json(const json& j) {
  std::vector<stats::IntervalPoint> out;
  for (const auto& e : j) {
    stats::IntervalPoint pt;
    pt.start_ns = e.at("start_ns").get<std::uint64_t>();
    pt.length_ns = e.at("length_ns").get<std::uint64_t>();
    pt.bytes = e.at("bytes").get<std::uint64_t>();
    pt.ops = e.at("ops").get<std::uint64_t>();
    pt.latency_count = e.at("latency_count").get<std::uint64_t>();
    if (!e.at("lat_p50_ns").is_null()) pt.lat_p50_ns = e.at("lat_p50_ns").get<std::uint64_t>();
    if (!e.at("lat_p99_ns").is_null()) pt.lat_p99_ns = e.at("lat_p99_ns").get<std::uint64_t>();
    out.push_back(pt);
  }
  return out;
}

std::string serialize(const suites::RankResult& r, const json& fault_record) {
  return json{{"measured", r.measured},
              {"elapsed_ns", r.elapsed_ns},
              {"bytes", r.bytes},
              {"ops", r.ops},
              {"latency", results::histogram_to_json(r.latency)},
              {"intervals", intervals_to_json(r.intervals)},
              {"measure_start_ns", r.measure_start_ns},
              {"fault", fault_record}}
      .dump();
}

// Merges what every rank measured into one repetition (rank 0).
results::Repetition merge(int index, const std::vector<std::string>& per_rank, bool bandwidth) {
  results::Repetition rep;
  rep.index = index;
  for (const auto& text : per_rank) {
    const json r = json::parse(text);
    if (!r.at("measured").get<bool>()) continue;
    rep.elapsed_ns = std::max(rep.elapsed_ns, r.at("elapsed_ns").get<std::uint64_t>());
    rep.bytes += r.at("bytes").get<std::uint64_t>();
    rep.ops += r.at("ops").get<std::uint64_t>();
    rep.latency.merge(results::histogram_from_json(r.at("latency")));
    // Intervals: bytes and ops add up bin by bin; latency percentiles keep the worst pair.
    const auto points = intervals_from_json(r.at("intervals"));
    if (rep.intervals.size() < points.size()) rep.intervals.resize(points.size());
    for (std::size_t i = 0; i < points.size(); ++i) {
      auto& dst = rep.intervals[i];
      const auto& src = points[i];
      dst.start_ns = src.start_ns;
      dst.length_ns = std::max(dst.length_ns, src.length_ns);
      dst.bytes += src.bytes;
      dst.ops += src.ops;
      dst.latency_count += src.latency_count;
      if (src.lat_p50_ns) dst.lat_p50_ns = std::max(dst.lat_p50_ns.value_or(0), *src.lat_p50_ns);
      if (src.lat_p99_ns) dst.lat_p99_ns = std::max(dst.lat_p99_ns.value_or(0), *src.lat_p99_ns);
    }
  }
  if (bandwidth && rep.elapsed_ns > 0) {
    const double seconds = static_cast<double>(rep.elapsed_ns) / 1e9;
    const double bytes = static_cast<double>(rep.bytes);
    rep.bw_gbps = bytes * 8.0 / seconds / 1e9;
    rep.bw_gibps = bytes / seconds / static_cast<double>(1ULL << 30);
    rep.msg_rate_mops = static_cast<double>(rep.ops) / seconds / 1e6;
  }
  return rep;
}

// Every rank learns every rank's local status ("" = ok, else "kind\tmessage").
std::vector<std::string> agree(bootstrap::Bootstrap& bs, const std::optional<Error>& local) {
  return bs.allgather(local ? std::string(kind_name(local->kind())) + "\t" + local->what() : "");
}

}  // namespace

RunOutcome run_experiment(bootstrap::Bootstrap& bs, const spec::Experiment& exp,
                          const Registry& registry, const RunOptions& options, Observer* observer) {
  const int rank = bs.rank();
  const int size = bs.size();
  const bool root = rank == 0;

  // 1. Same tool, same plan, on every rank, before anything is measured.
  const std::string identity =
      std::string(core::kVersion) + " (" + core::kRevision + "), plan digest " + exp.digest;
  const auto identities = bs.allgather(identity);
  for (int r = 1; r < size; ++r) {
    if (identities[static_cast<std::size_t>(r)] != identities[0]) {
      throw Error(ErrorKind::config, "ranks disagree: rank " + std::to_string(r) +
                                         " runs fabricbench " +
                                         identities[static_cast<std::size_t>(r)] +
                                         "; rank 0 runs fabricbench " + identities[0]);
    }
  }

  // 2. The envelope of every rank.
  const auto envelopes = bs.allgather(envelope::capture({rank, size, bs.launcher()}).dump());
  std::vector<std::string> hostnames;  // rank 0: each rank's host ("" when unknown)
  const std::string run_id = bs.broadcast(0, root ? make_run_id(exp.name) : std::string());

  RunOutcome outcome;
  std::unique_ptr<results::RunWriter> writer;
  if (root) {
    results::RunDocument doc;
    doc.run_id = run_id;
    doc.tool_version = core::kVersion;
    doc.tool_revision = core::kRevision;
    doc.started_ns = core::wall_clock_ns();
    doc.launcher = bs.launcher();
    doc.ranks = size;
    doc.config = {{"path", exp.source_path},
                  {"text", exp.source_text},
                  {"overrides", exp.overrides},
                  {"resolved", exp.resolved},
                  {"digest", exp.digest}};
    json ranks = json::array();
    for (const auto& e : envelopes) {
      ranks.push_back(json::parse(e));
      const json& host = ranks.back().contains("hostname") ? ranks.back()["hostname"] : json();
      hostnames.push_back(host.is_string() ? host.get<std::string>() : std::string());
    }
    doc.envelope = {{"ranks", ranks}};
    doc.events = json::array();
    const std::string dir =
        options.output_dir.empty() ? options.output_root + "/" + run_id : options.output_dir;
    writer = std::make_unique<results::RunWriter>(dir, std::move(doc));
    outcome.run_dir = writer->dir();
    if (observer) observer->on_run_start(writer->document(), writer->dir());
  }

  auto stop_requested = [&] {
    return options.stop_requested != nullptr && options.stop_requested->load();
  };
  results::RunStatus final_status = results::RunStatus::complete;
  SearchCache searches;  // sustainable rates found so far, shared by the cases that need them
  // Restores injected faults if this process dies (started on first need; netns needs none:
  // the launcher's watchdog removes the namespaces as a whole).
  std::unique_ptr<faults::Watchdog> watchdog;
  const std::size_t total = exp.cases.size();
  for (std::size_t index = 0; index < total; ++index) {
    const spec::Case& c = exp.cases[index];
    if (stop_requested()) {
      final_status = results::RunStatus::interrupted;
      if (writer) writer->set_current_case(c.id);
      break;
    }
    if (observer) observer->on_case_start(index, total, c);
    if (writer) writer->set_current_case(c.id);
    results::CaseResult result;
    result.id = c.id;
    result.suite = c.suite;
    result.transport = c.transport;
    if (exp.resolved.contains("cases") && exp.resolved["cases"].size() > index) {
      result.params = exp.resolved["cases"][index];
    }
    result.started_ns = core::wall_clock_ns();

    const suites::Params params = to_params(c, exp);
    CaseSetup setup;
    std::optional<Error> local;
    try {
      prepare(setup, c, params, registry, size);
      if (c.fault.active() && rank == injecting_rank(c, size)) {
        faults::Watchdog* dog = nullptr;
        if (exp.injector.backend != "netns") {
          if (!watchdog) watchdog = faults::Watchdog::start();
          dog = watchdog.get();
        }
        setup.faults = std::make_unique<CaseFaults>(exp, c, dog);
      }
    } catch (const Error& e) {
      local = e;
    }
    // All ranks agree whether the case can run: a case that cannot run on some rank is
    // skipped (unavailable) or fails (anything else) on every rank alike.
    const auto statuses = agree(bs, local);
    std::string skip_reason;
    bool setup_failed = false;
    for (int r = 0; r < size; ++r) {
      const std::string& s = statuses[static_cast<std::size_t>(r)];
      if (s.empty()) continue;
      const auto tab = s.find('\t');
      const std::string kind = s.substr(0, tab);
      const std::string msg = "rank " + std::to_string(r) + ": " + s.substr(tab + 1);
      if (kind == "unavailable") {
        if (skip_reason.empty()) skip_reason = msg;
      } else {
        setup_failed = true;
        result.errors.push_back({r, kind, s.substr(tab + 1)});
      }
    }
    if (!setup_failed && !skip_reason.empty()) {
      result.status = results::CaseStatus::skipped;
      result.skip_reason = skip_reason;
      result.finished_ns = core::wall_clock_ns();
      if (writer) {
        if (observer) observer->on_case_done(c, result);
        writer->add_case(std::move(result));
      }
      continue;
    }
    if (setup_failed) {
      result.status = results::CaseStatus::failed;
      result.finished_ns = core::wall_clock_ns();
      outcome.exit_code = core::ExitCode::run_failed;
      outcome.error = c.id + ": " + result.errors.front().message;
      final_status = results::RunStatus::failed;
      if (writer) {
        if (observer) observer->on_case_done(c, result);
        writer->add_case(std::move(result));
        writer->set_current_case(c.id);
      }
      break;
    }

    const int half = size / 2;
    suites::Context ctx{params, rank, rank < half ? rank + half : rank - half, rank < half};
    // Rank 0: each repetition's fault record and the injecting rank's measured-phase start.
    std::vector<std::pair<json, std::uint64_t>> fault_records;
    // Rank 0: each repetition's transport events of every rank (tagged with rank, case and
    // repetition). Drained after each repetition, so events are assigned to their repetition
    // without comparing the wall clocks of different hosts.
    std::vector<json> rep_events;
    const auto collect_events = [&](int rep) {
      const auto all = bs.allgather(drain_events(registry, c, setup).dump());
      if (!writer) return;
      json mine = json::array();
      for (int r = 0; r < size; ++r) {
        for (auto e : json::parse(all[static_cast<std::size_t>(r)])) {
          e["rank"] = r;
          e["detail"]["case"] = c.id;
          e["detail"]["repetition"] = rep;
          writer->document().events.push_back(e);
          mine.push_back(std::move(e));
        }
      }
      rep_events.push_back(std::move(mine));
    };
    // Rank 0: each completed repetition's fault: its evidence as events, its recovery metrics
    // from its curve and its repetition's events.
    const auto summarize_faults = [&]() {
      if (!writer || !c.fault.active()) return;
      // Each repetition's fault: its evidence as events, its recovery metrics from its curve.
      const int injector_rank = injecting_rank(c, size);
      // Ranks whose wall clock is the injecting rank's (same host).
      std::vector<bool> same_clock(static_cast<std::size_t>(size), false);
      for (int r = 0; r < size; ++r) {
        const auto i = static_cast<std::size_t>(r);
        same_clock[i] = r == injector_rank ||
                        (i < hostnames.size() && !hostnames[i].empty() &&
                         hostnames[i] == hostnames[static_cast<std::size_t>(injector_rank)]);
      }
      for (std::size_t i = 0; i < fault_records.size() && i < result.repetitions.size(); ++i) {
        const auto& [record, measure_start] = fault_records[i];
        if (record.is_null()) continue;
        for (auto ev : fault_events(record)) {
          ev["rank"] = injector_rank;
          ev["detail"]["case"] = c.id;
          writer->document().events.push_back(std::move(ev));
        }
        result.repetitions[i].fault =
            fault_summary(c, result.repetitions[i], record, measure_start,
                          i < rep_events.size() ? rep_events[i] : json::array(), same_clock);
      }
    };
    ctx.stop_requested = options.stop_requested;
    try {
      BootstrapExchange exchange(bs);
      setup.endpoints = setup.transport->connect(exchange, {ctx.peer}, c.connections());
      for (auto& ep : setup.endpoints) {
        ctx.endpoints.push_back(ep.get());
        // The stream window, plus room for control messages, must fit the endpoint's queue.
        const auto regime_needs = regime_slots(c);
        const auto needed =
            regime_needs ? static_cast<std::size_t>(regime_needs->second)
                         : std::max<std::size_t>(
                               static_cast<std::size_t>(c.suite == "stream" ? c.window : 1) + 2,
                               static_cast<std::size_t>(setup.workload->recv_slots(params)));
        if (regime_needs && needed > ep->queue_depth()) {
          throw Error(ErrorKind::config,
                      "regime " + c.regime.kind + " needs " + std::to_string(needed) +
                          " queue entries per endpoint (regime.inflight x streams per "
                          "connection + 2 control messages) but the endpoint queue depth is " +
                          std::to_string(ep->queue_depth()) +
                          " (verbs.queue_depth); lower regime.inflight or raise the queue depth");
        }
        if (needed > ep->queue_depth()) {
          throw Error(ErrorKind::config,
                      "this case needs " + std::to_string(needed) +
                          " queue entries per endpoint (stream: window + 2 control messages, "
                          "and 2 x window receives) but the endpoint queue depth is " +
                          std::to_string(ep->queue_depth()) +
                          " (verbs.queue_depth); lower window or raise the queue depth");
        }
      }
      ctx.memory = {setup.send_region, setup.recv_region};
      // Exchange registered regions for one-sided operations.
      auto region_json = [](const transport::MemoryRegion& r) {
        return json::array(
            {reinterpret_cast<std::uintptr_t>(r.buffer.addr), r.remote_key, r.buffer.length});
      };
      const json mine_regions = {{"send", region_json(setup.send_region)},
                                 {"recv", region_json(setup.recv_region)}};
      const auto regions = bs.allgather(mine_regions.dump());
      const json peer_regions = json::parse(regions[static_cast<std::size_t>(ctx.peer)]);
      auto remote = [](const json& r) {
        return transport::RemoteRegion{r[0].get<std::uint64_t>(), r[1].get<std::uint64_t>(),
                                       r[2].get<std::uint64_t>()};
      };
      ctx.peer_send = remote(peer_regions.at("send"));
      ctx.peer_recv = remote(peer_regions.at("recv"));
      // One line per rank (index = rank): its connections, as the transport describes them.
      std::string described;
      for (auto& ep : setup.endpoints) {
        described += (described.empty() ? "" : "; ") + ep->describe();
      }
      result.endpoints = bs.allgather(described);
      std::optional<RegimeRunner> regime;
      if (c.regime.kind != "closed") {
        regime.emplace(bs, c, ctx, setup.workload->echoes_requests(),
                       setup.workload->reports_bandwidth(), searches);
        regime->set_faults(setup.faults.get());  // the injecting rank (rank 0) only
      }
      for (int rep = 0; rep < c.repetitions; ++rep) {
        if (regime) {
          auto merged = regime->run_repetition(rep);
          collect_events(rep);
          if (root && merged) {
            result.repetitions.push_back(std::move(*merged));
            // A regime's curve is rank 0's (the generator of pair 0), which injects.
            if (c.fault.active()) {
              fault_records.emplace_back(regime->fault_record(), regime->fault_measure_start_ns());
            }
            if (observer) observer->on_repetition(c, rep + 1);
          }
          continue;
        }
        bs.barrier();
        if (setup.faults) {
          // The fault timeline counts from the planned start of the measured phase.
          setup.faults->begin(rep, core::now_ns() + (params.duration_mode ? params.warmup_ns : 0));
        }
        const suites::RankResult mine = setup.workload->run(ctx);
        const json record = setup.faults ? setup.faults->end() : json(nullptr);
        const auto gathered = bs.allgather(serialize(mine, record));
        collect_events(rep);
        if (root) {
          result.repetitions.push_back(merge(rep, gathered, setup.workload->reports_bandwidth()));
          if (c.fault.active()) {
            const json r = json::parse(gathered[static_cast<std::size_t>(injecting_rank(c, size))]);
            fault_records.emplace_back(r.at("fault"),
                                       r.at("measure_start_ns").get<std::uint64_t>());
          }
          if (observer) observer->on_repetition(c, rep + 1);
        }
      }
    } catch (const Error& e) {
      // Clear a fault still injected; keep its evidence (in the document when this is rank 0,
      // else on stderr, since only rank 0 writes).
      if (setup.faults && setup.faults->running()) {
        const json record = setup.faults->end();
        if (!writer)
          std::fprintf(stderr, "fabricbench: rank %d: fault record %s\n", rank,
                       record.dump().c_str());
        for (auto ev : fault_events(record)) {
          if (!writer) break;
          ev["rank"] = rank;
          ev["detail"]["case"] = c.id;
          writer->document().events.push_back(std::move(ev));
        }
      }
      // Tell the other ranks at once (they may be blocked on this one), then record and stop.
      const bool interrupted = stop_requested();
      bs.abort("rank " + std::to_string(rank) + " failed in case " + c.id + ": " + e.what());
      result.status = results::CaseStatus::failed;
      result.errors.push_back({rank, interrupted ? "interrupted" : kind_name(e.kind()), e.what()});
      if (writer) {  // the other ranks may be gone: keep at least this rank's events
        for (auto ev : drain_events(registry, c, setup)) {
          ev["rank"] = rank;
          ev["detail"]["case"] = c.id;
          writer->document().events.push_back(std::move(ev));
        }
      }
      if (writer && c.fault.active()) {
        // The repetitions before this one keep their recovery; this one was aborted.
        summarize_faults();
        results::summarize_case(result);
        json recovery = recovery_spread(result.repetitions);
        if (!recovery.is_object())
          recovery = {{"outcomes", json::object()}, {"metrics", json::object()}};
        recovery["outcomes"]["aborted"] = recovery["outcomes"].value("aborted", 0) + 1;
        recovery["aborted"] = {
            {"repetition", result.repetitions.size()}, {"rank", rank}, {"error", e.what()}};
        result.summary["recovery"] = std::move(recovery);
      }
      result.finished_ns = core::wall_clock_ns();
      outcome.exit_code = core::ExitCode::run_failed;
      outcome.error = "rank " + std::to_string(rank) + ", case " + c.id + ": " + e.what();
      final_status = interrupted ? results::RunStatus::interrupted : results::RunStatus::failed;
      if (writer) {
        if (!interrupted) {
          if (observer) observer->on_case_done(c, result);
          writer->add_case(std::move(result));
        }
        writer->set_current_case(c.id);  // the document names the case the run stopped in
      }
      break;
    }
    result.finished_ns = core::wall_clock_ns();
    // Transport events of every rank (link state changes, QP errors), tagged with rank and case.
    const auto all_events = bs.allgather(drain_events(registry, c, setup).dump());
    if (writer) {
      auto& events = writer->document().events;
      for (int r = 0; r < size; ++r) {
        for (auto e : json::parse(all_events[static_cast<std::size_t>(r)])) {
          e["rank"] = r;
          e["detail"]["case"] = c.id;
          events.push_back(std::move(e));
        }
      }
    }
    summarize_faults();
    if (writer) {
      results::summarize_case(result);
      if (c.fault.active()) result.summary["recovery"] = recovery_spread(result.repetitions);
      if (observer) observer->on_case_done(c, result);
      writer->add_case(std::move(result));
    }
  }
  if (writer) {
    writer->finish(final_status);
    if (observer) observer->on_run_done(writer->document(), writer->dir());
  }
  if (final_status == results::RunStatus::interrupted && outcome.exit_code == core::ExitCode::ok) {
    outcome.exit_code = core::ExitCode::run_failed;
    outcome.error = "interrupted";
  }
  return outcome;
}

}  // namespace fabricbench::engine
