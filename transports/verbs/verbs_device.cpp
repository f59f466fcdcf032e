#include "transports/verbs/verbs_device.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <utility>

namespace fabricbench::transport::verbs {
namespace {

using core::Error;
using core::ErrorKind;

std::optional<std::string> read_sysfs(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
  return line;
}

constexpr std::uint32_t kRxeVendorId = 0xFFFFFF;  // Soft-RoCE's vendor_id

std::string sysfs_port(const std::string& device, int port) {
  return "/sys/class/infiniband/" + device + "/ports/" + std::to_string(port);
}

std::uint64_t clock_ns(clockid_t clock) noexcept {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

const char* state_name(ibv_port_state state) noexcept {
  switch (state) {
    case IBV_PORT_NOP:
      return "NOP";
    case IBV_PORT_DOWN:
      return "DOWN";
    case IBV_PORT_INIT:
      return "INIT";
    case IBV_PORT_ARMED:
      return "ARMED";
    case IBV_PORT_ACTIVE:
      return "ACTIVE";
    case IBV_PORT_ACTIVE_DEFER:
      return "ACTIVE_DEFER";
  }
  return "UNKNOWN";
}

const char* event_name(ibv_event_type type) noexcept {
  switch (type) {
    case IBV_EVENT_CQ_ERR:
      return "IBV_EVENT_CQ_ERR";
    case IBV_EVENT_QP_FATAL:
      return "IBV_EVENT_QP_FATAL";
    case IBV_EVENT_QP_REQ_ERR:
      return "IBV_EVENT_QP_REQ_ERR";
    case IBV_EVENT_QP_ACCESS_ERR:
      return "IBV_EVENT_QP_ACCESS_ERR";
    case IBV_EVENT_COMM_EST:
      return "IBV_EVENT_COMM_EST";
    case IBV_EVENT_SQ_DRAINED:
      return "IBV_EVENT_SQ_DRAINED";
    case IBV_EVENT_PATH_MIG:
      return "IBV_EVENT_PATH_MIG";
    case IBV_EVENT_PATH_MIG_ERR:
      return "IBV_EVENT_PATH_MIG_ERR";
    case IBV_EVENT_DEVICE_FATAL:
      return "IBV_EVENT_DEVICE_FATAL";
    case IBV_EVENT_PORT_ACTIVE:
      return "IBV_EVENT_PORT_ACTIVE";
    case IBV_EVENT_PORT_ERR:
      return "IBV_EVENT_PORT_ERR";
    case IBV_EVENT_LID_CHANGE:
      return "IBV_EVENT_LID_CHANGE";
    case IBV_EVENT_PKEY_CHANGE:
      return "IBV_EVENT_PKEY_CHANGE";
    case IBV_EVENT_SM_CHANGE:
      return "IBV_EVENT_SM_CHANGE";
    case IBV_EVENT_SRQ_ERR:
      return "IBV_EVENT_SRQ_ERR";
    case IBV_EVENT_SRQ_LIMIT_REACHED:
      return "IBV_EVENT_SRQ_LIMIT_REACHED";
    case IBV_EVENT_QP_LAST_WQE_REACHED:
      return "IBV_EVENT_QP_LAST_WQE_REACHED";
    case IBV_EVENT_CLIENT_REREGISTER:
      return "IBV_EVENT_CLIENT_REREGISTER";
    case IBV_EVENT_GID_CHANGE:
      return "IBV_EVENT_GID_CHANGE";
    case IBV_EVENT_WQ_FATAL:
      return "IBV_EVENT_WQ_FATAL";
  }
  return "IBV_EVENT_UNKNOWN";
}

std::optional<ibv_mtu> mtu_from_bytes(int bytes) noexcept {
  switch (bytes) {
    case 256:
      return IBV_MTU_256;
    case 512:
      return IBV_MTU_512;
    case 1024:
      return IBV_MTU_1024;
    case 2048:
      return IBV_MTU_2048;
    case 4096:
      return IBV_MTU_4096;
    default:
      return std::nullopt;
  }
}

bool ipv4_mapped(const ibv_gid& gid) noexcept {
  for (int i = 0; i < 10; ++i) {
    if (gid.raw[i] != 0) return false;
  }
  return gid.raw[10] == 0xff && gid.raw[11] == 0xff;
}

// What exists, for selection and for error messages.
struct PortSurvey {
  int num = 0;
  ibv_port_state state = IBV_PORT_NOP;
  bool ethernet = false;
  std::vector<std::string> netdevs;
};
struct DeviceSurvey {
  std::string name;
  ibv_device* device = nullptr;
  std::string error;  // could not be opened or queried
  std::vector<PortSurvey> ports;
};

struct GidInfo {
  int index = 0;
  ibv_gid gid{};
  std::string type;
  std::string netdev;
};

std::string gid_type_text(std::uint32_t type) {
  switch (type) {
    case IBV_GID_TYPE_IB:
      return "IB/RoCE v1";
    case IBV_GID_TYPE_ROCE_V1:
      return "RoCE v1";
    case IBV_GID_TYPE_ROCE_V2:
      return "RoCE v2";
    default:
      return "type " + std::to_string(type);
  }
}

std::string ifname(std::uint32_t ifindex) {
  if (ifindex == 0) return {};
  char name[IF_NAMESIZE] = {};
  return if_indextoname(ifindex, name) != nullptr ? std::string(name) : std::string();
}

// The non-zero GIDs of one port: ibv_query_gid_table (one call), else ibv_query_gid per index.
// Types come from sysfs gid_attrs/types/<i> (the kernel's own words), else the table's.
std::vector<GidInfo> port_gids(ibv_context* ctx, const std::string& device, int port, int table_len,
                               int port_count) {
  std::vector<GidInfo> out;
  const std::string base = sysfs_port(device, port) + "/gid_attrs/";
  const std::size_t max_entries =
      static_cast<std::size_t>(std::max(table_len, 1)) * static_cast<std::size_t>(port_count);
  std::vector<ibv_gid_entry> entries(max_entries);
  const ssize_t n = ibv_query_gid_table(ctx, entries.data(), entries.size(), 0);
  if (n >= 0) {
    for (ssize_t i = 0; i < n; ++i) {
      const ibv_gid_entry& e = entries[static_cast<std::size_t>(i)];
      if (static_cast<int>(e.port_num) != port || gid_is_zero(e.gid)) continue;
      GidInfo g;
      g.index = static_cast<int>(e.gid_index);
      g.gid = e.gid;
      g.type =
          read_sysfs(base + "types/" + std::to_string(g.index)).value_or(gid_type_text(e.gid_type));
      g.netdev = ifname(e.ndev_ifindex);
      out.push_back(g);
    }
  } else {
    for (int i = 0; i < table_len; ++i) {
      GidInfo g;
      g.index = i;
      if (ibv_query_gid(ctx, static_cast<std::uint8_t>(port), i, &g.gid) != 0) continue;
      if (gid_is_zero(g.gid)) continue;
      g.type = read_sysfs(base + "types/" + std::to_string(i)).value_or("unknown type");
      g.netdev = read_sysfs(base + "ndevs/" + std::to_string(i)).value_or("");
      out.push_back(g);
    }
  }
  std::sort(out.begin(), out.end(),
            [](const GidInfo& a, const GidInfo& b) { return a.index < b.index; });
  return out;
}

std::vector<std::string> port_netdevs(ibv_context* ctx, const std::string& device, int port,
                                      int table_len, int port_count) {
  std::set<std::string> names;
  for (const GidInfo& g : port_gids(ctx, device, port, table_len, port_count)) {
    if (!g.netdev.empty()) names.insert(g.netdev);
  }
  // InfiniBand (IPoIB) and others: the netdevs of the parent device, matched by dev_port.
  std::error_code ec;
  const std::filesystem::path net = "/sys/class/infiniband/" + device + "/device/net";
  for (std::filesystem::directory_iterator it(net, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string nd = it->path().filename().string();
    const auto dev_port = read_sysfs("/sys/class/net/" + nd + "/dev_port");
    if (!dev_port || *dev_port == std::to_string(port - 1)) names.insert(nd);
  }
  return {names.begin(), names.end()};
}

std::vector<DeviceSurvey> survey(ibv_device** list, int count) {
  std::vector<DeviceSurvey> out;
  for (int i = 0; i < count; ++i) {
    DeviceSurvey d;
    d.device = list[i];
    d.name = ibv_get_device_name(list[i]);
    ibv_context* ctx = ibv_open_device(list[i]);
    if (ctx == nullptr) {
      d.error = "ibv_open_device: " + errno_text(errno);
      out.push_back(std::move(d));
      continue;
    }
    ibv_device_attr attr{};
    if (const int rc = ibv_query_device(ctx, &attr); rc != 0) {
      d.error = "ibv_query_device: " + errno_text(rc);
    } else {
      for (int p = 1; p <= attr.phys_port_cnt; ++p) {
        ibv_port_attr pa{};
        PortSurvey ps;
        ps.num = p;
        if (ibv_query_port(ctx, static_cast<std::uint8_t>(p), &pa) == 0) {
          ps.state = pa.state;
          ps.ethernet = pa.link_layer == IBV_LINK_LAYER_ETHERNET;
          ps.netdevs = port_netdevs(ctx, d.name, p, pa.gid_tbl_len, attr.phys_port_cnt);
        }
        d.ports.push_back(std::move(ps));
      }
    }
    ibv_close_device(ctx);
    out.push_back(std::move(d));
  }
  return out;
}

std::string join(const std::vector<std::string>& items, const char* sep = ", ") {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

std::string describe_survey(const std::vector<DeviceSurvey>& devices) {
  std::vector<std::string> items;
  for (const DeviceSurvey& d : devices) {
    std::string s = d.name + " (";
    if (!d.error.empty()) {
      s += d.error;
    } else {
      std::vector<std::string> ports;
      for (const PortSurvey& p : d.ports) {
        std::string ps = "port " + std::to_string(p.num) + " " + state_name(p.state) + " " +
                         (p.ethernet ? "Ethernet" : "InfiniBand");
        if (!p.netdevs.empty()) ps += " netdev " + join(p.netdevs, "/");
        ports.push_back(ps);
      }
      s += ports.empty() ? std::string("no ports") : join(ports);
    }
    items.push_back(s + ")");
  }
  return join(items, "; ");
}

std::string describe_netdevs(const std::vector<DeviceSurvey>& devices) {
  std::vector<std::string> pairs;
  for (const DeviceSurvey& d : devices) {
    for (const PortSurvey& p : d.ports) {
      for (const auto& nd : p.netdevs) {
        pairs.push_back(nd + " -> " + d.name + " port " + std::to_string(p.num));
      }
    }
  }
  return pairs.empty() ? std::string("(no device reports a netdev)") : join(pairs);
}

std::string describe_gids(const std::vector<GidInfo>& gids) {
  std::vector<std::string> items;
  for (const GidInfo& g : gids) {
    std::string s = "index " + std::to_string(g.index) + ": " + format_gid(g.gid) + " (" + g.type;
    if (!g.netdev.empty()) s += ", " + g.netdev;
    items.push_back(s + ")");
  }
  return items.empty() ? std::string("none") : join(items);
}

}  // namespace

// ---- shared helpers ----

const char* qp_kind_name(QpKind kind) noexcept {
  switch (kind) {
    case QpKind::rc:
      return "rc";
    case QpKind::uc:
      return "uc";
    case QpKind::ud:
      return "ud";
  }
  return "?";
}

std::string errno_text(int err) {
  char buf[256];
  const char* s = strerror_r(err, buf, sizeof buf);  // GNU strerror_r
  return std::string(s);
}

bool gid_is_zero(const ibv_gid& gid) noexcept {
  for (const auto b : gid.raw) {
    if (b != 0) return false;
  }
  return true;
}

std::string format_gid(const ibv_gid& gid) {
  char text[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(AF_INET6, gid.raw, text, sizeof text) == nullptr) return "?";
  return text;
}

std::string hex(std::uint64_t value) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  do {
    out.insert(out.begin(), kDigits[value & 0xf]);
    value >>= 4;
  } while (value != 0);
  return "0x" + out;
}

int mtu_bytes(ibv_mtu mtu) noexcept {
  return 128 << static_cast<int>(mtu);
}

RdAtomicDepths rd_atomic_depths(std::uint32_t requested, int max_qp_init_rd_atom,
                                int max_qp_rd_atom) noexcept {
  const auto clamp = [requested](int device_limit) {
    const auto limit = static_cast<std::uint32_t>(std::clamp(device_limit, 0, 255));
    return static_cast<std::uint8_t>(requested == 0 ? limit : std::min(requested, limit));
  };
  return {clamp(max_qp_init_rd_atom), clamp(max_qp_rd_atom)};
}

void Fault::raise(core::ErrorKind k, const std::string& why) {
  {
    std::lock_guard lock(mutex);
    if (raised.load(std::memory_order_relaxed)) return;  // keep the first reason
    reason = why;
    kind = k;
  }
  raised.store(true, std::memory_order_release);
}

QpKind validate_options(const Options& o) {
  auto bad = [](const std::string& message) {
    throw Error(ErrorKind::config, "verbs: " + message);
  };
  QpKind kind = QpKind::rc;
  if (o.qp_type == "rc") {
    kind = QpKind::rc;
  } else if (o.qp_type == "uc") {
    kind = QpKind::uc;
  } else if (o.qp_type == "ud") {
    kind = QpKind::ud;
  } else {
    bad("qp_type must be rc, uc or ud, got '" + o.qp_type + "'");
  }
  if (!o.device.empty() && !o.netdev.empty()) {
    bad("device ('" + o.device + "') and netdev ('" + o.netdev +
        "') are exclusive: give one of them");
  }
  if (o.port < 0 || o.port > 255)
    bad("port must be 0 (first ACTIVE) or 1..255, got " + std::to_string(o.port));
  if (o.gid_index < -1 || o.gid_index > 65535) {
    bad("gid_index must be -1 (automatic) or 0..65535, got " + std::to_string(o.gid_index));
  }
  if (o.mtu != 0 && !mtu_from_bytes(o.mtu)) {
    bad("mtu must be 0 (the port's active MTU) or one of 256, 512, 1024, 2048, 4096, got " +
        std::to_string(o.mtu));
  }
  if (o.queue_depth == 0) bad("queue_depth must be at least 1");
  if (o.queue_depth > (1u << 20)) {
    bad("queue_depth " + std::to_string(o.queue_depth) + " is above the limit of 1048576");
  }
  if (o.cq_moderation == 0) bad("cq_moderation must be at least 1 (1 = signal every request)");
  if (o.sl > 15) bad("sl must be 0..15, got " + std::to_string(o.sl));
  if (o.timeout > 31) bad("timeout must be 0..31, got " + std::to_string(o.timeout));
  if (o.retry_count > 7) bad("retry_count must be 0..7, got " + std::to_string(o.retry_count));
  if (o.rnr_retry > 7) bad("rnr_retry must be 0..7, got " + std::to_string(o.rnr_retry));
  if (o.connect_timeout_ns == 0) bad("connect_timeout_ns must be positive");
  if (o.use_rdma_cm && kind != QpKind::rc) {
    bad("use_rdma_cm connects rc queue pairs only, got qp_type " + o.qp_type);
  }
  if (o.reconnect && kind != QpKind::rc) {
    bad("reconnect re-establishes rc queue pairs only; qp_type " + o.qp_type +
        " has no connection to re-establish");
  }
  if (o.reconnect && o.use_rdma_cm) {
    bad("reconnect re-establishes queue pairs through the bootstrap exchange, not rdma_cm");
  }
  if (o.reconnect && o.reconnect_timeout_ns == 0) bad("reconnect_timeout_ns must be positive");
  if (o.completion != CompletionMode::busy_poll && o.completion != CompletionMode::blocking) {
    bad("unknown completion mode");
  }
  if (o.recv_overflow_bytes > (1u << 30)) {
    bad("recv_overflow_bytes must be at most 1 GiB, got " + std::to_string(o.recv_overflow_bytes));
  }
  return kind;
}

// ---- Device ----

Device::Device(const Options& options, QpKind kind) {
  int count = 0;
  errno = 0;
  ibv_device** list = ibv_get_device_list(&count);
  if (list == nullptr) {
    const int err = errno != 0 ? errno : ENODEV;
    throw Error(ErrorKind::unavailable, "verbs: ibv_get_device_list: " + errno_text(err));
  }
  struct ListGuard {
    ibv_device** l;
    ~ListGuard() { ibv_free_device_list(l); }
  } guard{list};
  if (count == 0) {
    throw Error(ErrorKind::unavailable, "verbs: ibv_get_device_list: no RDMA devices found");
  }
  try {
    select(options, list, count);  // opens context_; sets name, port, ethernet, netdev
    if (const int rc = ibv_query_device(context_, &attr_); rc != 0) {
      throw Error(ErrorKind::runtime, "verbs: ibv_query_device(" + name + "): " + errno_text(rc));
    }
    if (const int rc = ibv_query_port(context_, static_cast<std::uint8_t>(port), &port_attr_);
        rc != 0) {
      throw Error(ErrorKind::runtime, "verbs: ibv_query_port(" + name + ", " +
                                          std::to_string(port) + "): " + errno_text(rc));
    }
    lid = port_attr_.lid;
    select_gid(options);
    check_mtu(options);
    atomics = attr_.atomic_cap != IBV_ATOMIC_NONE;
    soft_roce = attr_.vendor_id == kRxeVendorId || name.starts_with("rxe");
    retry_count = options.retry_count;
    if (soft_roce && retry_count == 7) {
      retry_count = 6;
      clamp_note = "retry_count 7->6 (rxe retries forever at 7)";
    }
    const RdAtomicDepths depths =
        rd_atomic_depths(options.max_rd_atomic, attr_.max_qp_init_rd_atom, attr_.max_qp_rd_atom);
    max_rd_atomic = depths.initiator;
    max_dest_rd_atomic = depths.responder;
    if (options.max_rd_atomic != 0 &&
        (max_rd_atomic != options.max_rd_atomic || max_dest_rd_atomic != options.max_rd_atomic)) {
      if (!clamp_note.empty()) clamp_note += "; ";
      clamp_note += "max_rd_atomic " + std::to_string(options.max_rd_atomic) + "->" +
                    std::to_string(max_rd_atomic) + "/" + std::to_string(max_dest_rd_atomic);
    }
    pd_ = ibv_alloc_pd(context_);
    if (pd_ == nullptr) {
      throw Error(ErrorKind::runtime, "verbs: ibv_alloc_pd(" + name + "): " + errno_text(errno));
    }
    scratch_bytes_ = kScratchHeader + options.recv_overflow_bytes;
    scratch_ = std::make_unique<std::byte[]>(scratch_bytes_);
    int access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE;
    scratch_mr_ = ibv_reg_mr(pd_, scratch_.get(), scratch_bytes_, access);
    if (scratch_mr_ == nullptr) {
      throw Error(ErrorKind::runtime, "verbs: ibv_reg_mr of the internal region (" +
                                          std::to_string(scratch_bytes_) + " bytes) on " + name +
                                          ": " + errno_text(errno));
    }
    check_queue(options, kind);
    start_events();
  } catch (...) {
    if (scratch_mr_ != nullptr) ibv_dereg_mr(scratch_mr_);
    if (pd_ != nullptr) ibv_dealloc_pd(pd_);
    if (context_ != nullptr) ibv_close_device(context_);
    throw;
  }
}

Device::~Device() {
  if (thread_.joinable()) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t w = ::write(stop_fd_, &one, sizeof one);
    thread_.join();
  }
  if (stop_fd_ >= 0) ::close(stop_fd_);
  if (scratch_mr_ != nullptr) ibv_dereg_mr(scratch_mr_);
  if (pd_ != nullptr) ibv_dealloc_pd(pd_);
  if (context_ != nullptr) ibv_close_device(context_);
}

std::uint64_t Device::scratch_addr() const noexcept {
  return reinterpret_cast<std::uintptr_t>(scratch_.get());
}

void Device::select(const Options& options, ibv_device** list, int count) {
  const std::vector<DeviceSurvey> devices = survey(list, count);
  const DeviceSurvey* chosen = nullptr;
  int chosen_port = options.port;

  auto first_active = [](const DeviceSurvey& d, int want) -> int {
    for (const PortSurvey& p : d.ports) {
      if ((want == 0 || p.num == want) && p.state == IBV_PORT_ACTIVE) return p.num;
    }
    return 0;
  };

  if (!options.device.empty()) {
    for (const DeviceSurvey& d : devices) {
      if (d.name == options.device) chosen = &d;
    }
    if (chosen == nullptr) {
      throw Error(ErrorKind::config, "verbs: no RDMA device named '" + options.device +
                                         "'; devices here: " + describe_survey(devices));
    }
  } else if (!options.netdev.empty()) {
    bool chosen_active = false;
    for (const DeviceSurvey& d : devices) {
      for (const PortSurvey& p : d.ports) {
        if (options.port != 0 && p.num != options.port) continue;
        if (std::find(p.netdevs.begin(), p.netdevs.end(), options.netdev) == p.netdevs.end()) {
          continue;
        }
        // The first match, unless a later one is ACTIVE and the chosen one is not.
        if (chosen == nullptr || (p.state == IBV_PORT_ACTIVE && !chosen_active)) {
          chosen = &d;
          chosen_port = p.num;
          chosen_active = p.state == IBV_PORT_ACTIVE;
        }
      }
    }
    if (chosen == nullptr) {
      throw Error(ErrorKind::config,
                  "verbs: netdev '" + options.netdev + "' backs no RDMA device" +
                      (options.port != 0 ? " port " + std::to_string(options.port) : "") +
                      "; netdev -> device: " + describe_netdevs(devices));
    }
  } else {
    for (const DeviceSurvey& d : devices) {
      if (d.error.empty() && first_active(d, options.port) != 0) {
        chosen = &d;
        break;
      }
    }
    const bool port_exists = std::any_of(devices.begin(), devices.end(), [&](const auto& d) {
      return std::any_of(d.ports.begin(), d.ports.end(),
                         [&](const PortSurvey& p) { return p.num == options.port; });
    });
    if (chosen == nullptr && options.port != 0 && !port_exists) {
      throw Error(ErrorKind::config, "verbs: no RDMA device has a port " +
                                         std::to_string(options.port) +
                                         "; devices here: " + describe_survey(devices));
    }
    if (chosen == nullptr) {
      throw Error(ErrorKind::unavailable,
                  std::string("verbs: no RDMA device has an ACTIVE port") +
                      (options.port != 0 ? " " + std::to_string(options.port) : "") + ": " +
                      describe_survey(devices));
    }
  }
  if (!chosen->error.empty()) {
    throw Error(ErrorKind::unavailable, "verbs: " + chosen->name + ": " + chosen->error);
  }
  name = chosen->name;

  // The port.
  const PortSurvey* port_info = nullptr;
  if (chosen_port != 0) {
    for (const PortSurvey& p : chosen->ports) {
      if (p.num == chosen_port) port_info = &p;
    }
    if (port_info == nullptr) {
      throw Error(ErrorKind::config, "verbs: " + name + " has no port " +
                                         std::to_string(chosen_port) + " (ports 1.." +
                                         std::to_string(chosen->ports.size()) + ")");
    }
    if (port_info->state != IBV_PORT_ACTIVE) {
      throw Error(ErrorKind::unavailable, "verbs: " + name + " port " +
                                              std::to_string(chosen_port) + " is " +
                                              state_name(port_info->state) + ", not ACTIVE (" +
                                              ibv_port_state_str(port_info->state) + ")");
    }
  } else {
    const int p = first_active(*chosen, 0);
    if (p == 0) {
      throw Error(ErrorKind::unavailable,
                  "verbs: " + name + " has no ACTIVE port: " + describe_survey({*chosen}));
    }
    for (const PortSurvey& ps : chosen->ports) {
      if (ps.num == p) port_info = &ps;
    }
  }
  port = port_info->num;
  ethernet = port_info->ethernet;
  if (!options.netdev.empty()) {
    netdev = options.netdev;
  } else if (!port_info->netdevs.empty()) {
    netdev = port_info->netdevs.front();
  }

  context_ = ibv_open_device(chosen->device);
  if (context_ == nullptr) {
    throw Error(ErrorKind::unavailable,
                "verbs: ibv_open_device(" + name + "): " + errno_text(errno));
  }
}

void Device::select_gid(const Options& options) {
  const std::vector<GidInfo> gids = port_gids(context_, name, port, port_attr_.gid_tbl_len,
                                              std::max<int>(attr_.phys_port_cnt, 1));
  const std::string where = name + " port " + std::to_string(port);
  if (options.gid_index >= 0) {
    const auto it = std::find_if(gids.begin(), gids.end(),
                                 [&](const GidInfo& g) { return g.index == options.gid_index; });
    if (it == gids.end()) {
      const bool out_of_range = options.gid_index >= port_attr_.gid_tbl_len;
      throw Error(ErrorKind::config,
                  "verbs: gid_index " + std::to_string(options.gid_index) + " of " + where +
                      (out_of_range ? " is out of range (table of " +
                                          std::to_string(port_attr_.gid_tbl_len) + " entries)"
                                    : " is empty") +
                      "; valid GIDs: " + describe_gids(gids));
    }
    gid_index = it->index;
    gid = it->gid;
    gid_type = it->type;
    return;
  }
  if (!ethernet) {
    // InfiniBand: LID routing, GRH not needed; GID 0 is recorded.
    gid_index = -1;
    if (!gids.empty()) {
      gid = gids.front().gid;
      gid_type = gids.front().type;
    }
    return;
  }
  auto pick = [&](auto&& pred) -> const GidInfo* {
    for (const GidInfo& g : gids) {
      if (!netdev.empty() && !g.netdev.empty() && g.netdev != netdev) continue;
      if (pred(g)) return &g;
    }
    return nullptr;
  };
  auto is_v2 = [](const GidInfo& g) { return g.type.find("v2") != std::string::npos; };
  const GidInfo* g = pick([&](const GidInfo& x) { return is_v2(x) && ipv4_mapped(x.gid); });
  if (g == nullptr) g = pick(is_v2);
  if (g == nullptr) g = pick([](const GidInfo&) { return true; });
  if (g == nullptr) {
    throw Error(ErrorKind::unavailable,
                "verbs: " + where +
                    " has no usable GID (an Ethernet port needs one: is the "
                    "netdev up with an address?)");
  }
  gid_index = g->index;
  gid = g->gid;
  gid_type = g->type;
}

void Device::check_mtu(const Options& options) {
  const ibv_mtu active = port_attr_.active_mtu;
  if (options.mtu == 0) {
    mtu = active;
    return;
  }
  const ibv_mtu want = *mtu_from_bytes(options.mtu);
  if (want > active) {
    std::vector<std::string> allowed;
    for (int m = IBV_MTU_256; m <= active; ++m) {
      allowed.push_back(std::to_string(mtu_bytes(static_cast<ibv_mtu>(m))));
    }
    throw Error(ErrorKind::config,
                "verbs: mtu " + std::to_string(options.mtu) + " is above " + name + " port " +
                    std::to_string(port) + "'s active MTU of " + std::to_string(mtu_bytes(active)) +
                    " (port max " + std::to_string(mtu_bytes(port_attr_.max_mtu)) +
                    (ethernet ? ", active follows the netdev MTU" : "") +
                    "); allowed: " + join(allowed) + " (or 0 = active)");
  }
  mtu = want;
}

void Device::check_queue(const Options& options, QpKind kind) {
  const std::uint64_t send_wr = std::uint64_t{options.queue_depth} + kSendReserve;
  const std::uint64_t cqe = 2 * std::uint64_t{options.queue_depth} + kSendReserve;
  if (send_wr > static_cast<std::uint64_t>(attr_.max_qp_wr)) {
    throw Error(ErrorKind::config, "verbs: queue_depth " + std::to_string(options.queue_depth) +
                                       " (+" + std::to_string(kSendReserve) +
                                       " internal) exceeds " + name + "'s max_qp_wr of " +
                                       std::to_string(attr_.max_qp_wr));
  }
  if (cqe > static_cast<std::uint64_t>(attr_.max_cqe)) {
    throw Error(ErrorKind::config, "verbs: queue_depth " + std::to_string(options.queue_depth) +
                                       " needs a completion queue of " + std::to_string(cqe) +
                                       " entries, above " + name + "'s max_cqe of " +
                                       std::to_string(attr_.max_cqe));
  }
  const int sges = 1 + (options.recv_overflow_bytes != 0 ? 1 : 0) + (kind == QpKind::ud ? 1 : 0);
  if (sges > attr_.max_sge) {
    throw Error(ErrorKind::config, "verbs: " + name + " allows " + std::to_string(attr_.max_sge) +
                                       " scatter entries per request, the receive path needs " +
                                       std::to_string(sges) + " (set recv_overflow_bytes to 0)");
  }
  // A probe QP with the endpoints' exact sizes, so a refused inline size or depth fails here,
  // before anything is measured.
  ibv_cq* cq = ibv_create_cq(context_, static_cast<int>(cqe), nullptr, nullptr, 0);
  if (cq == nullptr) {
    throw Error(ErrorKind::runtime, "verbs: ibv_create_cq(" + std::to_string(cqe) + ") on " + name +
                                        ": " + errno_text(errno));
  }
  auto make = [&](std::uint32_t inline_bytes) {
    ibv_qp_init_attr init{};
    init.send_cq = cq;
    init.recv_cq = cq;
    init.qp_type = kind == QpKind::rc ? IBV_QPT_RC : kind == QpKind::uc ? IBV_QPT_UC : IBV_QPT_UD;
    init.cap.max_send_wr = static_cast<std::uint32_t>(send_wr);
    init.cap.max_recv_wr = options.queue_depth;
    init.cap.max_send_sge = 1;
    init.cap.max_recv_sge = static_cast<std::uint32_t>(sges);
    init.cap.max_inline_data = inline_bytes;
    ibv_qp* qp = ibv_create_qp(pd_, &init);
    const int err = errno;
    if (qp != nullptr) ibv_destroy_qp(qp);
    return qp != nullptr ? 0 : (err != 0 ? err : EINVAL);
  };
  const int rc = make(options.inline_size);
  if (rc != 0) {
    const int rc0 = options.inline_size != 0 ? make(0) : rc;
    ibv_destroy_cq(cq);
    if (options.inline_size != 0 && rc0 == 0) {
      throw Error(ErrorKind::config, "verbs: " + name + " refused inline_size " +
                                         std::to_string(options.inline_size) + " (" +
                                         errno_text(rc) +
                                         "); it accepts the same QP without inline data, so "
                                         "lower inline_size or set it to 0");
    }
    throw Error(ErrorKind::config,
                "verbs: " + name + " refused a " + qp_kind_name(kind) + " QP with queue_depth " +
                    std::to_string(options.queue_depth) + ", " + std::to_string(sges) +
                    " receive scatter entries, inline_size " + std::to_string(options.inline_size) +
                    ": " + errno_text(rc));
  }
  ibv_destroy_cq(cq);
  inline_size = options.inline_size;
}

// ---- async events ----

void Device::start_events() {
  const int flags = ::fcntl(context_->async_fd, F_GETFL);
  if (flags < 0 || ::fcntl(context_->async_fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    throw Error(ErrorKind::runtime, "verbs: cannot make the async event fd of " + name +
                                        " non-blocking: " + errno_text(errno));
  }
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) throw Error(ErrorKind::runtime, "verbs: eventfd: " + errno_text(errno));
  thread_ = std::thread([this] { event_loop(); });
}

void Device::event_loop() {
  while (true) {
    pollfd fds[2] = {{context_->async_fd, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    const int rc = ::poll(fds, 2, -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if ((fds[1].revents & POLLIN) != 0) return;
    if ((fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) != 0 && (fds[0].revents & POLLIN) == 0) {
      return;
    }
    while (true) {
      ibv_async_event event{};
      if (ibv_get_async_event(context_, &event) != 0) break;  // EAGAIN: drained
      on_event(event);
      ibv_ack_async_event(&event);
    }
  }
}

void Device::on_event(const ibv_async_event& event) {
  AsyncEvent e;
  e.wall_ns = clock_ns(CLOCK_REALTIME);
  e.mono_ns = clock_ns(CLOCK_MONOTONIC);
  e.type = event_name(event.event_type);
  e.device = name;
  e.port = port;
  const ibv_cq* cq = nullptr;
  switch (event.event_type) {
    case IBV_EVENT_QP_FATAL:
    case IBV_EVENT_QP_REQ_ERR:
    case IBV_EVENT_QP_ACCESS_ERR:
    case IBV_EVENT_COMM_EST:
    case IBV_EVENT_SQ_DRAINED:
    case IBV_EVENT_PATH_MIG:
    case IBV_EVENT_PATH_MIG_ERR:
    case IBV_EVENT_QP_LAST_WQE_REACHED:
      e.qp_num = event.element.qp != nullptr ? event.element.qp->qp_num : 0;
      break;
    case IBV_EVENT_CQ_ERR:
      cq = event.element.cq;
      break;
    case IBV_EVENT_PORT_ACTIVE:
    case IBV_EVENT_PORT_ERR:
    case IBV_EVENT_LID_CHANGE:
    case IBV_EVENT_PKEY_CHANGE:
    case IBV_EVENT_SM_CHANGE:
    case IBV_EVENT_CLIENT_REREGISTER:
    case IBV_EVENT_GID_CHANGE:
      e.port = event.element.port_num;
      break;
    default:
      break;
  }
  std::lock_guard lock(mutex_);
  events_.push_back(e);
  if (event.event_type == IBV_EVENT_PORT_ERR && e.port == port) {
    std::uint64_t expected = 0;
    port_down_since_ns_.compare_exchange_strong(expected, std::max<std::uint64_t>(e.mono_ns, 1));
  } else if (event.event_type == IBV_EVENT_PORT_ACTIVE && e.port == port) {
    port_down_since_ns_.store(0, std::memory_order_release);
  }
  const std::string when = " (" + e.type + " at CLOCK_MONOTONIC " + std::to_string(e.mono_ns) + ")";
  for (const Watched& w : watched_) {
    const auto fault = w.fault.lock();
    if (!fault) continue;
    switch (event.event_type) {
      case IBV_EVENT_QP_FATAL:
      case IBV_EVENT_QP_REQ_ERR:
      case IBV_EVENT_QP_ACCESS_ERR:
        if (w.qp_num == e.qp_num) {
          fault->raise(ErrorKind::runtime, "QP " + std::to_string(e.qp_num) + " on " + name +
                                               " entered the error state" + when);
        }
        break;
      case IBV_EVENT_CQ_ERR:
        if (w.cq == cq) {
          fault->raise(ErrorKind::runtime, "the completion queue of QP " +
                                               std::to_string(w.qp_num) + " on " + name +
                                               " overflowed or failed" + when);
        }
        break;
      case IBV_EVENT_DEVICE_FATAL:
        fault->raise(ErrorKind::runtime, "device " + name + " reported a fatal error" + when);
        break;
      default:
        break;
    }
  }
}

void Device::watch(std::uint32_t qp_num, const ibv_cq* cq, const std::shared_ptr<Fault>& fault) {
  std::lock_guard lock(mutex_);
  watched_.push_back(Watched{qp_num, cq, fault});
}

void Device::unwatch(std::uint32_t qp_num) noexcept {
  std::lock_guard lock(mutex_);
  std::erase_if(watched_, [&](const Watched& w) { return w.qp_num == qp_num; });
}

std::vector<AsyncEvent> Device::drain_events() {
  std::lock_guard lock(mutex_);
  std::vector<AsyncEvent> out;
  out.swap(events_);
  return out;
}

}  // namespace fabricbench::transport::verbs
