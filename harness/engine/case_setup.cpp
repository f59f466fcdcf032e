#include "harness/engine/case_setup.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "core/clock.hpp"
#include "core/units.hpp"
#include "harness/engine/regime_run.hpp"
#include "suites/api/measure.hpp"

namespace fabricbench::engine {

using core::Error;
using core::ErrorKind;

namespace {

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

transport::OpenParams open_params(const spec::Case& c, const suites::Params& p) {
  transport::OpenParams o;
  o.completion = p.completion;
  o.connect_timeout_ns = p.peer_timeout_ns;
  o.reconnect = c.on_break == "reconnect";
  o.reconnect_timeout_ns = c.reconnect_timeout_ns;
  return o;
}

// The suite, transport and memory provider of the case, and whether this host can run them.
void find_entries(CaseSetup& s, const spec::Case& c, const Registry& registry, int size) {
  s.suite = registry.suite(c.suite);
  if (s.suite == nullptr)
    throw Error(ErrorKind::unavailable, "suite '" + c.suite + "' is not built");
  s.transport_entry = registry.transport(c.transport);
  if (s.transport_entry == nullptr || !s.transport_entry->built()) {
    throw Error(ErrorKind::unavailable, "transport '" + c.transport + "' is not built");
  }
  const auto& unavailable = s.transport_entry->descriptor.unavailable_reason;
  if (auto why = unavailable ? unavailable() : std::nullopt) {
    throw Error(ErrorKind::unavailable, "transport '" + c.transport + "' unavailable: " + *why);
  }
  if (c.map.pattern != "pairs") {
    if (size < 2) {
      throw Error(ErrorKind::config, "pattern " + c.map.pattern +
                                         " runs between pairs of ranks and needs at least 2; "
                                         "this run has 1");
    }
  } else if (size < 2 || size % 2 != 0) {
    throw Error(ErrorKind::config, c.suite +
                                       " runs between pairs of ranks (r, r + N/2) and needs "
                                       "an even number of ranks; this run has " +
                                       std::to_string(size));
  }
}

// What the transport can do against what the case asks of it.
void check_capabilities(const spec::Case& c, const suites::Params& p,
                        const transport::Capabilities& caps) {
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
}

void check_regime(const spec::Case& c, const suites::Params& p) {
  if (c.regime.kind == "closed") return;
  if (p.verify) {
    throw Error(ErrorKind::config, "verify applies to the closed regime only (regime " +
                                       c.regime.kind + " does not check data)");
  }
  if (p.bidirectional) {
    throw Error(ErrorKind::config,
                "regime " + c.regime.kind + " drives one direction: set direction: uni");
  }
}

// The case's memory provider, and whether the workload can use its memory.
void make_provider(CaseSetup& s, const spec::Case& c, const suites::Params& p,
                   const Registry& registry) {
  const transport::MemoryDescriptor* memory = registry.memory_provider(c.memory);
  if (memory == nullptr || !memory->make) {
    throw Error(ErrorKind::unavailable, "memory provider '" + c.memory + "' is not built");
  }
  if (auto why = memory->unavailable_reason ? memory->unavailable_reason() : std::nullopt) {
    throw Error(ErrorKind::unavailable, "memory " + c.memory + ": " + *why);
  }
  s.provider = memory->make(c.memory_settings);
  s.provider->place_near(s.transport->capabilities().rdma_device);
  if (auto why = s.workload->unsupported(p, s.provider->traits())) {
    throw Error(ErrorKind::unavailable, "memory " + c.memory + ": " + *why);
  }
  // Memory the transport cannot register goes through page-locked host buffers.
  if (!s.provider->traits().cpu_addressable && !s.transport->capabilities().device_memory) {
    auto staged =
        std::make_unique<transport::StagingTransport>(std::move(s.transport), core::now_ns);
    s.staging = staged.get();
    s.transport = std::move(staged);
  }
}

// Buffers larger than this host's memory are refused before anything is mapped (size x window x
// connections grows fast), naming what makes them up.
void check_buffer_bytes(const spec::Case& c, std::size_t bytes) {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return;
  const auto memory = static_cast<std::size_t>(pages) * static_cast<std::size_t>(page);
  if (bytes <= memory) return;
  throw Error(ErrorKind::config,
              c.id + ": its send and receive buffers need " + core::format_size(bytes) +
                  " per rank (message size x slots x connections), more than this host's " +
                  core::format_size(memory) + " of memory; lower the size, window or connections");
}

// Whether this process has CAP_IPC_LOCK in its effective set (/proc/self/status CapEff, bit 14);
// false when that cannot be read.
bool has_cap_ipc_lock() {
  constexpr int kCapIpcLock = 14;
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("CapEff:", 0) != 0) continue;
    try {
      return ((std::stoull(line.substr(7), nullptr, 16) >> kCapIpcLock) & 1U) != 0;
    } catch (const std::exception&) {
      return false;
    }
  }
  return false;
}

// Host memory a transport pins when it registers it is refused, before anything is mapped, when
// it is beyond RLIMIT_MEMLOCK (the registration would fail half-way through set-up otherwise).
void check_pinned_bytes(const spec::Case& c, const CaseSetup& s, std::size_t bytes) {
  if (!s.transport->capabilities().pins_memory || !s.provider->traits().cpu_addressable) return;
  rlimit limit{};
  if (::getrlimit(RLIMIT_MEMLOCK, &limit) != 0) return;
  if (auto why = memlock_refusal(bytes, limit.rlim_cur, has_cap_ipc_lock())) {
    throw Error(ErrorKind::config, c.id + ": " + *why);
  }
}

// Send and receive buffers for every connection of every flow set, registered with the transport.
void allocate_buffers(CaseSetup& s, const spec::Case& c, const suites::Params& p, int flow_sets) {
  const std::size_t msg = std::max<std::uint64_t>(c.message_size, 1);
  const auto conns = static_cast<std::size_t>(c.connections) * static_cast<std::size_t>(flow_sets);
  const auto regime_needs = regime_slots(c);
  const int send_slots = regime_needs ? regime_needs->first : s.workload->send_slots(p);
  const int recv_slots = regime_needs ? regime_needs->second : s.workload->recv_slots(p);
  const std::size_t bytes = msg * static_cast<std::size_t>(send_slots + recv_slots) * conns;
  check_buffer_bytes(c, bytes);
  check_pinned_bytes(c, s, bytes);
  s.send_buffer = s.provider->allocate(msg * static_cast<std::size_t>(send_slots) * conns);
  s.recv_buffer = s.provider->allocate(msg * static_cast<std::size_t>(recv_slots) * conns);
  if (p.verify) {
    // One-sided reads check what they fetch against this pattern (sequence 0 in every slot).
    const std::size_t slots = s.send_buffer.length / msg;
    for (std::size_t i = 0; i < slots; ++i) suites::stamp_pattern(s.send_buffer, i * msg, msg, 0);
  }
  s.send_region = s.transport->register_memory(s.send_buffer);
  s.recv_region = s.transport->register_memory(s.recv_buffer);
  s.registered = true;
}

}  // namespace

CaseSetup::~CaseSetup() {
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

std::optional<std::string> memlock_refusal(std::size_t bytes, std::uint64_t memlock_limit,
                                           bool cap_ipc_lock) {
  if (cap_ipc_lock || memlock_limit == RLIM_INFINITY || bytes <= memlock_limit) return std::nullopt;
  return "its send and receive buffers need " + core::format_size(bytes) +
         " per rank (message size x slots x connections), registered (pinned) by the transport, "
         "more than this process's locked-memory limit (RLIMIT_MEMLOCK) of " +
         core::format_size(memlock_limit) +
         " without CAP_IPC_LOCK; raise it (`ulimit -l unlimited`, or a memlock entry in "
         "/etc/security/limits.conf) or lower the size, window or connections";
}

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

suites::Params to_params(const spec::Case& c, const spec::Experiment& e, const Registry& registry) {
  suites::Params p;
  p.op = parse_op(c.op);
  p.message_size = c.message_size;
  p.duration_mode = c.mode == spec::Mode::duration;
  p.iterations = c.iterations;
  p.duration_ns = c.duration_ns;
  p.warmup_iterations = c.warmup_iterations;
  p.warmup_ns = c.warmup_ns;
  p.interval_ns = c.interval_ns;
  p.verify = c.verify;
  p.completion = c.completion == "blocking" ? transport::CompletionMode::blocking
                                            : transport::CompletionMode::busy_poll;
  p.peer_timeout_ns = e.peer_timeout_ns;
  if (const TransportEntry* t = registry.transport(c.transport)) {
    const std::string& key = t->descriptor.signal_every_key;
    if (!key.empty()) p.cq_moderation = static_cast<int>(c.transport_settings.integer(key));
  }
  if (const SuiteEntry* s = registry.suite(c.suite); s != nullptr && s->descriptor.configure) {
    s->descriptor.configure(c.suite_settings, p);
  }
  return p;
}

void prepare(CaseSetup& s, const spec::Case& c, const suites::Params& p, const Registry& registry,
             int size, int flow_sets) {
  find_entries(s, c, registry, size);
  const int connections = c.connections;
  if (!p.duration_mode &&
      p.iterations + p.warmup_iterations < static_cast<std::uint64_t>(connections)) {
    throw Error(ErrorKind::config, "iterations (" + std::to_string(p.iterations) +
                                       ") must be at least the number of connections (" +
                                       std::to_string(connections) + ")");
  }
  s.workload = s.suite->descriptor.make();
  s.transport = s.transport_entry->descriptor.make(c.transport_settings, open_params(c, p));
  check_capabilities(c, p, s.transport->capabilities());
  check_regime(c, p);
  make_provider(s, c, p, registry);
  allocate_buffers(s, c, p, std::max(flow_sets, 1));
}

void check_queue_depth(const spec::Case& c, const suites::Params& p, const CaseSetup& s,
                       const transport::Endpoint& ep) {
  // The stream window, plus room for control messages, must fit the endpoint's queue.
  const auto regime_needs = regime_slots(c);
  const auto needed =
      regime_needs ? static_cast<std::size_t>(regime_needs->second)
                   : std::max<std::size_t>(static_cast<std::size_t>(p.window) + 2,
                                           static_cast<std::size_t>(s.workload->recv_slots(p)));
  if (regime_needs && needed > ep.queue_depth()) {
    throw Error(ErrorKind::config,
                "regime " + c.regime.kind + " needs " + std::to_string(needed) +
                    " queue entries per endpoint (regime.inflight x streams per "
                    "connection + 2 control messages) but the endpoint queue depth is " +
                    std::to_string(ep.queue_depth()) +
                    " (verbs.queue_depth); lower regime.inflight or raise the queue depth");
  }
  if (needed > ep.queue_depth()) {
    throw Error(ErrorKind::config,
                "this case needs " + std::to_string(needed) +
                    " queue entries per endpoint (stream: window + 2 control messages, "
                    "and 2 x window receives) but the endpoint queue depth is " +
                    std::to_string(ep.queue_depth()) +
                    " (verbs.queue_depth); lower window or raise the queue depth");
  }
}

namespace {

nlohmann::json region_json(const transport::MemoryRegion& r) {
  return nlohmann::json::array(
      {reinterpret_cast<std::uintptr_t>(r.buffer.addr), r.remote_key, r.buffer.length});
}

transport::RemoteRegion remote_region(const nlohmann::json& r) {
  return transport::RemoteRegion{r[0].get<std::uint64_t>(), r[1].get<std::uint64_t>(),
                                 r[2].get<std::uint64_t>()};
}

}  // namespace

void exchange_regions(bootstrap::Bootstrap& bs, const CaseSetup& s, suites::Context& ctx,
                      bool has_peer) {
  const auto regions = gather_regions(bs, s);
  if (!has_peer) return;
  ctx.peer_send = regions[static_cast<std::size_t>(ctx.peer)].send;
  ctx.peer_recv = regions[static_cast<std::size_t>(ctx.peer)].recv;
}

std::vector<RankRegions> gather_regions(bootstrap::Bootstrap& bs, const CaseSetup& s) {
  const nlohmann::json mine = {{"send", region_json(s.send_region)},
                               {"recv", region_json(s.recv_region)}};
  std::vector<RankRegions> out;
  for (const auto& text : bs.allgather(mine.dump())) {
    const nlohmann::json r = nlohmann::json::parse(text);
    out.push_back({remote_region(r.at("send")), remote_region(r.at("recv"))});
  }
  return out;
}

nlohmann::json memory_facts(const CaseSetup& s) {
  nlohmann::json j = s.provider ? s.provider->facts() : nlohmann::json::object();
  j["registration"] = s.registered ? nlohmann::json(s.send_region.registration) : nullptr;
  j["staging"] = s.staging != nullptr ? to_json(s.staging->counters()) : nlohmann::json(nullptr);
  return j;
}

std::vector<transport::RailTraffic> rail_traffic(const CaseSetup& setup) {
  const auto* source = dynamic_cast<const transport::RailTrafficSource*>(setup.transport.get());
  return source != nullptr ? source->rail_traffic() : std::vector<transport::RailTraffic>{};
}

std::vector<transport::RailTraffic> rail_delta(const std::vector<transport::RailTraffic>& before,
                                               std::vector<transport::RailTraffic> after) {
  for (std::size_t i = 0; i < after.size() && i < before.size(); ++i) {
    after[i].bytes -= before[i].bytes;
    after[i].requests -= before[i].requests;
  }
  return after;
}

nlohmann::json drain_events(CaseSetup& setup) {
  const TransportEntry* entry = setup.transport_entry;
  if (entry == nullptr || !entry->drain_events || !setup.transport) {
    return nlohmann::json::array();
  }
  return entry->drain_events(*setup.transport);
}

CaseVerdict agree_on_case(bootstrap::Bootstrap& bs, const std::optional<Error>& local) {
  const auto all =
      bs.allgather(local ? std::string(kind_name(local->kind())) + "\t" + local->what() : "");
  CaseVerdict v;
  for (std::size_t r = 0; r < all.size(); ++r) {
    if (all[r].empty()) continue;
    const auto tab = all[r].find('\t');
    const std::string kind = all[r].substr(0, tab);
    if (kind == "unavailable") {
      if (v.skip.empty()) v.skip = "rank " + std::to_string(r) + ": " + all[r].substr(tab + 1);
    } else {
      v.fails.push_back({static_cast<int>(r), kind, all[r].substr(tab + 1)});
    }
  }
  return v;
}

}  // namespace fabricbench::engine
