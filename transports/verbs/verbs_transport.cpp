#include "transports/verbs/verbs_transport.hpp"

#include <infiniband/verbs.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <random>
#include <sstream>
#include <utility>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "transports/api/pairing.hpp"
#include "transports/verbs/verbs_cm.hpp"
#include "transports/verbs/verbs_control.hpp"
#include "transports/verbs/verbs_device.hpp"
#include "transports/verbs/verbs_endpoint.hpp"
#include "transports/verbs/verbs_rails.hpp"

namespace fabricbench::transport::verbs {
namespace {

using core::Error;
using core::ErrorKind;

constexpr const char* kRecordVersion = "fbverbs1";

std::string gid_hex(const ibv_gid& gid) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const auto b : gid.raw) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0xf];
  }
  return out;
}

bool parse_gid_hex(const std::string& text, ibv_gid& gid) {
  if (text.size() != 32) return false;
  for (std::size_t i = 0; i < 16; ++i) {
    unsigned value = 0;
    for (std::size_t k = 0; k < 2; ++k) {
      const char c = text[2 * i + k];
      unsigned d = 0;
      if (c >= '0' && c <= '9') {
        d = static_cast<unsigned>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        d = static_cast<unsigned>(c - 'a' + 10);
      } else {
        return false;
      }
      value = value * 16 + d;
    }
    gid.raw[i] = static_cast<std::uint8_t>(value);
  }
  return true;
}

// What each rank publishes through the first allgather.
struct Record {
  bool ok = false;
  ErrorKind error_kind = ErrorKind::runtime;
  std::string error;
  std::string qp_type;
  bool ethernet = false;
  std::uint16_t lid = 0;
  ibv_gid gid{};
  int mtu = 0;  // ibv_mtu value
  int connections = 0;
  std::uint64_t scratch_addr = 0;
  std::uint32_t scratch_rkey = 0;
  std::vector<int> peers;
  // Bootstrap path: per listed peer, (qpn, psn) per connection.
  std::vector<std::pair<int, std::vector<std::pair<std::uint32_t, std::uint32_t>>>> qps;
  // rdma_cm path.
  std::string cm_address = "-";
  int cm_port = 0;
  std::uint64_t token = 0;
  // Reconnect: the control listener ("-" without reconnect).
  std::string ctl_address = "-";
  int ctl_port = 0;
  std::uint64_t ctl_token = 0;
};

bool parse_error(std::istringstream& in, Record& out) {
  int kind = 0;
  if (!(in >> kind)) return false;
  out.ok = false;
  out.error_kind = static_cast<ErrorKind>(kind);
  std::getline(in >> std::ws, out.error);
  return true;
}

bool parse_record(const std::string& text, Record& out) {
  std::istringstream in(text);
  std::string version;
  std::string status;
  if (!(in >> version >> status) || version != kRecordVersion) return false;
  if (status == "error") return parse_error(in, out);
  if (status != "ok") return false;
  std::string link;
  std::string gid;
  std::string addr;
  std::string peers;
  std::string qps;
  std::string token;
  if (!(in >> out.qp_type >> link >> out.lid >> gid >> out.mtu >> out.connections >> addr >>
        out.scratch_rkey >> peers >> qps >> out.cm_address >> out.cm_port >> token)) {
    return false;
  }
  std::string ctl;
  std::string ctl_token;
  if (in >> ctl) {
    if (ctl != "ctl" || !(in >> out.ctl_address >> out.ctl_port >> ctl_token)) return false;
    try {
      out.ctl_token = std::stoull(ctl_token, nullptr, 16);
    } catch (const std::exception&) {
      return false;
    }
  }
  out.ok = true;
  out.ethernet = link == "E";
  if (!parse_gid_hex(gid, out.gid)) return false;
  try {
    out.scratch_addr = std::stoull(addr, nullptr, 16);
    out.token = std::stoull(token, nullptr, 16);
    out.peers = parse_peers(peers);
    if (qps != "-") {
      std::istringstream groups(qps);
      std::string group;
      while (std::getline(groups, group, ';')) {
        const auto eq = group.find('=');
        if (eq == std::string::npos) return false;
        std::pair<int, std::vector<std::pair<std::uint32_t, std::uint32_t>>> entry;
        entry.first = std::stoi(group.substr(0, eq));
        std::istringstream items(group.substr(eq + 1));
        std::string item;
        while (std::getline(items, item, ',')) {
          const auto dot = item.find('.');
          if (dot == std::string::npos) return false;
          entry.second.emplace_back(static_cast<std::uint32_t>(std::stoul(item.substr(0, dot))),
                                    static_cast<std::uint32_t>(std::stoul(item.substr(dot + 1))));
        }
        out.qps.push_back(std::move(entry));
      }
    }
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

std::string memlock_text() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_MEMLOCK, &limit) != 0) return "unknown";
  if (limit.rlim_cur == RLIM_INFINITY) return "unlimited";
  return std::to_string(limit.rlim_cur) + " bytes";
}

// Registers [addr, addr + length) through the dma-buf `d`; nullptr with errno on failure.
ibv_mr* register_dmabuf(ibv_pd* pd, const Buffer& buffer, const Dmabuf& d, int access) {
  return ibv_reg_dmabuf_mr(
      pd, d.offset, buffer.length,
      static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(buffer.addr)), d.fd, access);
}

// "Operation not supported, EOPNOTSUPP".
std::string errno_named(int err) {
  const char* name = strerrorname_np(err);
  return errno_text(err) + ", " + (name != nullptr ? name : "errno " + std::to_string(err));
}

// Why a dma-buf registration failed, in the user's words.
std::string dmabuf_failure(int err) {
  if (err == EOPNOTSUPP || err == ENOSYS || err == EPROTONOSUPPORT) {
    return "the provider has no dma-buf support (ibv_reg_dmabuf_mr: " + errno_named(err) + ")";
  }
  return "ibv_reg_dmabuf_mr failed: " + errno_named(err);
}

// ---- the transport ----

class VerbsTransport final : public Transport, public EventSource, public ConnectionEventSource {
 public:
  explicit VerbsTransport(const Options& options)
      : options_(options),
        kind_(validate_options(options)),
        device_(std::make_shared<Device>(options, kind_)),
        random_(std::random_device{}()) {}

  std::string name() const override { return "verbs"; }

  Capabilities capabilities() const override {
    Capabilities c;
    c.send_recv = true;
    c.write = kind_ != QpKind::ud;
    c.write_imm = kind_ != QpKind::ud;
    c.read = kind_ == QpKind::rc;
    c.atomics = kind_ == QpKind::rc && device_->atomics;
    c.busy_poll = true;
    c.blocking = true;
    c.device_memory = true;
    c.pins_memory = true;
    c.rdma_device = device_->name;
    c.max_message_size = kind_ == QpKind::ud
                             ? static_cast<std::size_t>(mtu_bytes(device_->mtu))
                             : static_cast<std::size_t>(device_->port_attr().max_msg_sz);
    return c;
  }

  // auto: a buffer that exports a dma-buf goes through ibv_reg_dmabuf_mr; GPU memory whose
  // dma-buf path fails falls back to ibv_reg_mr on the device pointer (nvidia-peermem). Every
  // failure is one message naming the device, the memory, each path tried and what to use.
  MemoryRegion register_memory(const Buffer& buffer) override {
    if (buffer.addr == nullptr || buffer.length == 0) {
      throw Error(ErrorKind::runtime, "verbs: cannot register an empty buffer (" +
                                          std::to_string(buffer.length) + " bytes at " +
                                          hex(reinterpret_cast<std::uintptr_t>(buffer.addr)) + ")");
    }
    const std::string& mode = options_.registration;
    if (mode == "dmabuf" && !buffer.traits.dmabuf) {
      throw Error(ErrorKind::config,
                  "verbs.registration: dmabuf needs memory that exports a dma-buf (memory: "
                  "dmabuf or cuda_device); this case's is " +
                      describe(buffer.traits));
    }
    int access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ;
    if (device_->atomics) access |= IBV_ACCESS_REMOTE_ATOMIC;
    std::string tried;
    if (buffer.traits.dmabuf && mode != "plain") {
      if (auto region = try_dmabuf(buffer, access, tried)) return *region;
      if (mode == "dmabuf" || !buffer.traits.device) refuse(buffer, tried);
    }
    ibv_mr* mr = ibv_reg_mr(device_->pd(), buffer.addr, buffer.length, access);
    if (mr == nullptr) {
      const int err = errno;
      if (buffer.traits.device) {
        tried +=
            std::string(tried.empty() ? "" : "; ") +
            "ibv_reg_mr on the device pointer (needs nvidia-peermem) failed: " + errno_named(err);
        refuse(buffer, tried);
      }
      std::string hint;
      if (err == ENOMEM || err == EPERM || err == EAGAIN) {
        hint = " (locked-memory limit RLIMIT_MEMLOCK is " + memlock_text() + ")";
      }
      throw Error(ErrorKind::runtime, "verbs: ibv_reg_mr of " + std::to_string(buffer.length) +
                                          " bytes of " + describe(buffer.traits) + " on " +
                                          device_->name + ": " + errno_text(err) + hint);
    }
    return region_of(
        buffer, mr,
        buffer.traits.device ? "ibv_reg_mr (device pointer, nvidia-peermem)" : "ibv_reg_mr");
  }

  std::optional<MemoryRegion> try_dmabuf(const Buffer& buffer, int access, std::string& tried) {
    if (buffer.provider == nullptr) {
      tried = "the buffer has no memory provider to export it";
      return std::nullopt;
    }
    Dmabuf d;
    try {
      d = buffer.provider->export_dmabuf(buffer);
    } catch (const Error& e) {
      tried = e.what();
      return std::nullopt;
    }
    ibv_mr* mr = register_dmabuf(device_->pd(), buffer, d, access);
    const int err = errno;
    ::close(d.fd);  // the MR holds its own reference to the dma-buf
    if (mr == nullptr) {
      tried = dmabuf_failure(err);
      return std::nullopt;
    }
    return region_of(buffer, mr, "ibv_reg_dmabuf_mr (" + d.exporter + ")");
  }

  [[noreturn]] void refuse(const Buffer& buffer, const std::string& tried) const {
    const std::string use = buffer.traits.device ? "use memory: cuda_host" : "use memory: host";
    throw Error(ErrorKind::unavailable, "verbs: " + device_->name + " cannot register " +
                                            describe(buffer.traits) + ": " + tried + "; " + use);
  }

  static MemoryRegion region_of(const Buffer& buffer, ibv_mr* mr, std::string how) {
    MemoryRegion region;
    region.buffer = buffer;
    region.local_key = mr->lkey;
    region.remote_key = mr->rkey;
    region.handle = reinterpret_cast<std::uintptr_t>(mr);
    region.registration = std::move(how);
    return region;
  }

  void deregister_memory(MemoryRegion& region) noexcept override {
    if (region.handle != 0) ibv_dereg_mr(reinterpret_cast<ibv_mr*>(region.handle));
    region = MemoryRegion{};
  }

  std::vector<std::unique_ptr<Endpoint>> connect(Exchange& exchange, const std::vector<int>& peers,
                                                 int connections_per_peer) override;

  std::vector<AsyncEvent> drain_events() override { return device_->drain_events(); }

  std::vector<ConnectionEvent> drain_connection_events() override {
    std::lock_guard lock(sink_->mutex);
    std::vector<ConnectionEvent> out;
    out.swap(sink_->events);
    return out;
  }

 private:
  std::string format_ok(const std::vector<int>& peers, int n,
                        const std::vector<std::unique_ptr<VerbsEndpoint>>& endpoints,
                        const CmListener* listener, const ControlListener* control) const;
  bool reconnect() const noexcept {
    return options_.reconnect && kind_ == QpKind::rc && !options_.use_rdma_cm;
  }
  std::vector<Record> check_records(const std::vector<std::string>& all, int me,
                                    const std::vector<int>& peers, int n) const;
  void agree(Exchange& exchange, const std::vector<int>& peers, const std::string& local_error,
             ErrorKind local_kind, const char* stage) const;
  void open_local(int me, int size, const std::vector<int>& peers, int n,
                  std::vector<std::unique_ptr<VerbsEndpoint>>& endpoints,
                  std::unique_ptr<CmListener>& listener, std::unique_ptr<ControlListener>& control);
  void connect_queue_pairs(int me, const std::vector<int>& peers, int n,
                           const std::vector<Record>& records,
                           std::vector<std::unique_ptr<VerbsEndpoint>>& endpoints) const;
  void connect_control(ControlListener& control, int me, const std::vector<int>& peers, int n,
                       const std::vector<Record>& records,
                       std::vector<std::unique_ptr<VerbsEndpoint>>& endpoints) const;

  Options options_;
  QpKind kind_;
  std::shared_ptr<Device> device_;
  std::mt19937_64 random_;
  std::shared_ptr<EventSink> sink_ = std::make_shared<EventSink>();
};

std::string VerbsTransport::format_ok(const std::vector<int>& peers, int n,
                                      const std::vector<std::unique_ptr<VerbsEndpoint>>& endpoints,
                                      const CmListener* listener,
                                      const ControlListener* control) const {
  std::string qps;
  if (listener == nullptr && !peers.empty()) {
    for (std::size_t i = 0; i < peers.size(); ++i) {
      if (i != 0) qps += ';';
      qps += std::to_string(peers[i]) + "=";
      for (int k = 0; k < n; ++k) {
        const VerbsEndpoint& ep =
            *endpoints[i * static_cast<std::size_t>(n) + static_cast<std::size_t>(k)];
        if (k != 0) qps += ',';
        qps += std::to_string(ep.qp_num()) + "." + std::to_string(ep.psn());
      }
    }
  }
  std::ostringstream out;
  out << kRecordVersion << " ok " << qp_kind_name(kind_) << ' ' << (device_->ethernet ? "E" : "I")
      << ' ' << device_->lid << ' ' << gid_hex(device_->gid) << ' '
      << static_cast<int>(device_->mtu) << ' ' << n << ' ' << std::hex << device_->scratch_addr()
      << std::dec << ' ' << device_->scratch()->rkey << ' ' << join_peers(peers) << ' '
      << (qps.empty() ? "-" : qps) << ' '
      << (listener != nullptr ? listener->address() : std::string("-")) << ' '
      << (listener != nullptr ? listener->port() : 0) << ' ' << std::hex
      << (listener != nullptr ? listener->token() : 0);
  if (control != nullptr) {
    out << " ctl " << control->address() << ' ' << std::dec << control->port() << ' ' << std::hex
        << control->token();
  }
  return out.str();
}

std::vector<Record> VerbsTransport::check_records(const std::vector<std::string>& all, int me,
                                                  const std::vector<int>& peers, int n) const {
  const int size = static_cast<int>(all.size());
  std::vector<Record> records(all.size());
  for (int r = 0; r < size; ++r) {
    if (r == me) continue;
    const bool related = std::find(peers.begin(), peers.end(), r) != peers.end();
    Record& rec = records[static_cast<std::size_t>(r)];
    if (!parse_record(all[static_cast<std::size_t>(r)], rec)) {
      if (!related) continue;
      throw unrecognised_record("verbs", r, all[static_cast<std::size_t>(r)]);
    }
    if (!rec.ok) {
      if (!related) continue;
      throw peer_failed("verbs", r, "set up its queue pairs", rec.error_kind, rec.error);
    }
    check_pairing("verbs", me, r, peers, n, rec.peers, rec.connections);
    if (!related) continue;
    if (rec.qp_type != qp_kind_name(kind_)) {
      throw Error(ErrorKind::config, "verbs: qp_type differs: rank " + std::to_string(me) +
                                         " uses " + qp_kind_name(kind_) + ", rank " +
                                         std::to_string(r) + " uses " + rec.qp_type);
    }
    if (rec.ethernet != device_->ethernet) {
      throw Error(ErrorKind::config,
                  "verbs: link layers differ: rank " + std::to_string(me) + " uses " +
                      (device_->ethernet ? "Ethernet (RoCE)" : "InfiniBand") + " on " +
                      device_->name + ", rank " + std::to_string(r) + " uses " +
                      (rec.ethernet ? "Ethernet (RoCE)" : "InfiniBand"));
    }
    if ((rec.ctl_address != "-") != reconnect()) {
      throw Error(ErrorKind::config, "verbs: on_break differs between rank " + std::to_string(me) +
                                         " (" + (reconnect() ? "reconnect" : "fail") +
                                         ") and rank " + std::to_string(r));
    }
    if ((rec.cm_address != "-") != options_.use_rdma_cm) {
      throw Error(ErrorKind::config, "verbs: use_rdma_cm differs between rank " +
                                         std::to_string(me) + " and rank " + std::to_string(r));
    }
  }
  return records;
}

void VerbsTransport::agree(Exchange& exchange, const std::vector<int>& peers,
                           const std::string& local_error, ErrorKind local_kind,
                           const char* stage) const {
  const std::vector<std::string> all = exchange.allgather(
      local_error.empty() ? std::string(kRecordVersion) + " ready"
                          : format_error_record(kRecordVersion, local_kind, local_error));
  if (!local_error.empty()) throw Error(local_kind, local_error);
  for (const int p : peers) {
    Record rec;
    std::istringstream in(
        static_cast<std::size_t>(p) < all.size() ? all[static_cast<std::size_t>(p)] : "");
    std::string version;
    std::string status;
    in >> version >> status;
    if (status == "ready") continue;
    if (status == "error" && parse_error(in, rec)) {
      throw peer_failed("verbs", p, stage, rec.error_kind, rec.error);
    }
    throw Error(ErrorKind::runtime, "verbs: rank " + std::to_string(p) + " answered the " + stage +
                                        " step with '" + all[static_cast<std::size_t>(p)] + "'");
  }
}

std::vector<std::unique_ptr<Endpoint>> VerbsTransport::connect(Exchange& exchange,
                                                               const std::vector<int>& peers,
                                                               int connections_per_peer) {
  const int me = exchange.rank();
  const int size = exchange.size();
  const int n = connections_per_peer;

  // A failure to set up the local resources still takes part in both exchanges (as an error
  // record), so the other ranks fail at once, not after a timeout.
  std::string local_error;
  ErrorKind local_kind = ErrorKind::runtime;
  std::vector<std::unique_ptr<VerbsEndpoint>> endpoints;
  std::unique_ptr<CmListener> listener;
  std::unique_ptr<ControlListener> control;
  try {
    open_local(me, size, peers, n, endpoints, listener, control);
  } catch (const Error& e) {
    local_error = e.what();
    local_kind = e.kind();
    endpoints.clear();
  }
  const std::vector<std::string> all = exchange.allgather(
      local_error.empty() ? format_ok(peers, n, endpoints, listener.get(), control.get())
                          : format_error_record(kRecordVersion, local_kind, local_error));
  if (!local_error.empty()) throw Error(local_kind, local_error);

  const std::vector<Record> records = check_records(all, me, peers, n);

  // Bring the queue pairs up, then agree that everyone did before anything is sent (a QP that is
  // not yet RTR drops what arrives).
  try {
    if (options_.use_rdma_cm) {
      if (!peers.empty()) {
        std::vector<CmPeer> cm_peers;
        for (const int p : peers) {
          const Record& rec = records[static_cast<std::size_t>(p)];
          cm_peers.push_back(CmPeer{p, rec.cm_address, rec.cm_port, rec.token});
        }
        endpoints = listener->connect_all(me, cm_peers, n, kind_);
      }
    } else {
      connect_queue_pairs(me, peers, n, records, endpoints);
      if (control != nullptr) connect_control(*control, me, peers, n, records, endpoints);
    }
  } catch (const Error& e) {
    local_error = e.what();
    local_kind = e.kind();
    endpoints.clear();
  }
  agree(exchange, peers, local_error, local_kind, "connect its queue pairs");

  std::vector<std::unique_ptr<Endpoint>> out;
  out.reserve(endpoints.size());
  for (auto& ep : endpoints) out.push_back(std::move(ep));
  return out;
}

// The arguments checked, then what this rank publishes: its queue pairs (bootstrap path) or its
// rdma_cm listener, and with reconnect its control listener.
void VerbsTransport::open_local(int me, int size, const std::vector<int>& peers, int n,
                                std::vector<std::unique_ptr<VerbsEndpoint>>& endpoints,
                                std::unique_ptr<CmListener>& listener,
                                std::unique_ptr<ControlListener>& control) {
  check_peers("verbs", me, size, peers, n);
  if (reconnect() && !peers.empty()) control = std::make_unique<ControlListener>(*device_);
  if (options_.use_rdma_cm) {
    if (!peers.empty()) listener = std::make_unique<CmListener>(device_, options_);
    return;
  }
  for (const int p : peers) {
    for (int k = 0; k < n; ++k) {
      const auto psn = static_cast<std::uint32_t>(random_() & 0xffffff);
      endpoints.push_back(std::make_unique<VerbsEndpoint>(device_, options_, kind_, p, k, psn));
    }
  }
}

// Bootstrap path: each queue pair to the one its peer published for it.
void VerbsTransport::connect_queue_pairs(
    int me, const std::vector<int>& peers, int n, const std::vector<Record>& records,
    std::vector<std::unique_ptr<VerbsEndpoint>>& endpoints) const {
  for (std::size_t i = 0; i < peers.size(); ++i) {
    const int p = peers[i];
    const Record& rec = records[static_cast<std::size_t>(p)];
    const auto mine =
        std::find_if(rec.qps.begin(), rec.qps.end(), [&](const auto& e) { return e.first == me; });
    if (mine == rec.qps.end() || mine->second.size() != static_cast<std::size_t>(n)) {
      throw Error(ErrorKind::runtime, "verbs: rank " + std::to_string(p) + " published no " +
                                          std::to_string(n) + " queue pairs for rank " +
                                          std::to_string(me));
    }
    for (int k = 0; k < n; ++k) {
      RemoteQp remote;
      remote.qpn = mine->second[static_cast<std::size_t>(k)].first;
      remote.psn = mine->second[static_cast<std::size_t>(k)].second;
      remote.gid = rec.gid;
      remote.lid = rec.lid;
      remote.mtu = static_cast<ibv_mtu>(rec.mtu);
      remote.scratch_addr = rec.scratch_addr;
      remote.scratch_rkey = rec.scratch_rkey;
      endpoints[i * static_cast<std::size_t>(n) + static_cast<std::size_t>(k)]->connect_to(remote);
    }
  }
}

// Reconnect: a control connection per endpoint, handed to it with the peer's clock offset.
void VerbsTransport::connect_control(ControlListener& control, int me,
                                     const std::vector<int>& peers, int n,
                                     const std::vector<Record>& records,
                                     std::vector<std::unique_ptr<VerbsEndpoint>>& endpoints) const {
  std::vector<ControlPeer> ctl_peers;
  for (const int p : peers) {
    const Record& rec = records[static_cast<std::size_t>(p)];
    ctl_peers.push_back(ControlPeer{p, rec.ctl_address, rec.ctl_port, rec.ctl_token});
  }
  const std::vector<ControlConnection> conns =
      control.connect_all(me, ctl_peers, n, options_.connect_timeout_ns);
  std::string text = control.address() + ":" + std::to_string(control.port());
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    std::string shown = text;
    if (conns[i].clock_known) {
      shown += " peer_clock_offset_us=" + std::to_string(conns[i].peer_clock_offset_ns / 1000) +
               " peer_clock_error_us=" + std::to_string(conns[i].clock_error_ns / 1000);
    }
    endpoints[i]->enable_reconnect(conns[i].fd, sink_, me, shown);
  }
}

}  // namespace

std::unique_ptr<Transport> make_verbs_transport(const Options& options) {
  if (!options.devices.empty() && (!options.device.empty() || !options.netdev.empty())) {
    throw Error(ErrorKind::config,
                "verbs.devices names every device a rank uses; leave verbs.device and "
                "verbs.netdev unset with it");
  }
  if (options.devices.size() > 1) return make_rails_transport(options);
  if (options.devices.size() == 1) {
    Options one = options;
    one.device = options.devices.front();
    one.devices.clear();
    return std::make_unique<VerbsTransport>(one);
  }
  return std::make_unique<VerbsTransport>(options);
}

std::optional<std::string> unavailable_reason() {
  int count = 0;
  errno = 0;
  ibv_device** list = ibv_get_device_list(&count);
  if (list == nullptr) {
    return "ibv_get_device_list: " + errno_text(errno != 0 ? errno : ENODEV);
  }
  std::string failures;
  bool opened = false;
  for (int i = 0; i < count && !opened; ++i) {
    ibv_context* ctx = ibv_open_device(list[i]);
    if (ctx != nullptr) {
      ibv_close_device(ctx);
      opened = true;
    } else {
      if (!failures.empty()) failures += "; ";
      failures += std::string(ibv_get_device_name(list[i])) + ": " + errno_text(errno);
    }
  }
  ibv_free_device_list(list);
  if (opened) return std::nullopt;
  if (count == 0) return std::string("ibv_get_device_list: no RDMA devices found");
  return "ibv_open_device failed for every device: " + failures;
}

}  // namespace fabricbench::transport::verbs
