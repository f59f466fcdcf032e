// The verbs transport's keys (`verbs: {...}` in an experiment file, docs/CONFIG.md "verbs
// keys"), their cross-field checks, and how resolved settings become Options. Built whether or
// not libibverbs was found (fb_transport_verbs_keys).
#include "transports/verbs/verbs_descriptor.hpp"

#include <algorithm>
#include <string>

namespace fabricbench::transport::verbs {
namespace {

using core::KeyType;

std::vector<core::KeyDecl> keys() {
  return {
      core::text_key("device", KeyType::device_name, "",
                     "RDMA device (mlx5_0, rxe0); \"\": the first with an ACTIVE port."),
      core::text_key("netdev", KeyType::interface_name, "",
                     "Pick the device whose port is backed by this netdev (RoCE)."),
      core::text_key("devices", KeyType::device_list, "",
                     "Multi-rail: several RDMA devices per rank, one QP set per rail, messages "
                     "striped across them round robin."),
      core::count_key("port", 0, 255, 0, "Port number; 0: the first ACTIVE port."),
      core::count_key("gid_index", 0, 1023, -1,
                      "GID table index; when absent, automatic (RoCEv2 IPv4-mapped first)."),
      core::choice_key("qp_type", {"rc", "uc", "ud"}, "rc", "Queue pair type."),
      core::choice_key("mtu", {"auto", "256", "512", "1024", "2048", "4096"}, "auto",
                       "Path MTU; auto: the port's active MTU.")
          .plan("mtu_bytes")
          .numeric(),
      core::count_key("queue_depth", 1, 32768, 128, "Send and receive queue size per QP."),
      core::count_key("inline", 0, 4096, 0, "Largest message sent inline.").plan("inline_bytes"),
      core::count_key("cq_moderation", 1, 4096, 1, "Request a completion for one send in N."),
      core::count_key("sl", 0, 15, 0, "Service level."),
      core::count_key("traffic_class", 0, 255, 0, "Traffic class (RoCE: DSCP/ECN bits)."),
      core::count_key("timeout", 0, 31, 14, "Local ACK timeout, 4.096 us x 2^timeout."),
      core::count_key("retry_count", 0, 7, 7, "Transport retries."),
      core::count_key("rnr_retry", 0, 7, 7, "Receiver-not-ready retries (7 = infinite)."),
      core::count_key("qps", 1, 64, 1, "Queue pairs per pair of ranks."),
      core::flag_key("rdma_cm", false, "Connect with rdma_cm instead of the bootstrap exchange."),
      core::choice_key("registration", {"auto", "dmabuf", "plain"}, "auto",
                       "How memory is registered: auto (dma-buf where the memory exports one, "
                       "GPU memory falling back to ibv_reg_mr), dmabuf (ibv_reg_dmabuf_mr only; "
                       "perftest --use_cuda_dmabuf) or plain (ibv_reg_mr only; perftest "
                       "--use_cuda with nvidia-peermem)."),
  };
}

std::vector<core::KeyProblem> check_rails(const core::Settings& own, const core::CaseFacts& c) {
  const std::string& devices = own.text("devices");
  if (devices.empty()) return {};
  if (!own.text("device").empty() || !own.text("netdev").empty()) {
    return {{{"verbs.devices", own.text("device").empty() ? "verbs.netdev" : "verbs.device"},
             "verbs.devices names every device a rank uses; leave verbs.device and verbs.netdev "
             "unset with it"}};
  }
  if (devices.find(',') == std::string::npos) return {};
  if (own.text("qp_type") != "rc") {
    return {{{"verbs.devices", "verbs.qp_type"},
             "striping across several devices needs reliable queue pairs (qp_type rc): a message "
             "lost on one rail would stall the receives of every rail"}};
  }
  if (c.on_break == "reconnect") {
    return {{{"verbs.devices", "on_break"},
             "on_break reconnect is not implemented across several devices (verbs.devices); use "
             "one device, or on_break fail"}};
  }
  return {};
}

std::vector<core::KeyProblem> check(const core::Settings& own, const core::CaseFacts& c) {
  if (auto rails = check_rails(own, c); !rails.empty()) return rails;
  if (c.on_break != "reconnect") return {};
  const std::string& qp_type = own.text("qp_type");
  if (qp_type != "rc") {
    return {{{"on_break"},
             "on_break reconnect re-establishes RC queue pairs; verbs.qp_type " + qp_type +
                 " has no connection to re-establish (use rc, or on_break fail)"}};
  }
  if (own.flag("rdma_cm")) {
    return {{{"on_break"},
             "on_break reconnect re-establishes queue pairs through the bootstrap exchange; with "
             "verbs.rdma_cm it is not implemented (set rdma_cm false, or on_break fail)"}};
  }
  return {};
}

template <typename T>
T narrow(const core::Settings& own, std::string_view key) {
  return static_cast<T>(own.integer(key));
}

}  // namespace

Options options_from(const core::Settings& own, const OpenParams& common) {
  Options o;
  o.device = own.text("device");
  o.netdev = own.text("netdev");
  const std::string& devices = own.text("devices");
  for (std::size_t at = 0; !devices.empty() && at <= devices.size();) {
    const auto comma = std::min(devices.find(',', at), devices.size());
    o.devices.push_back(devices.substr(at, comma - at));
    at = comma + 1;
  }
  o.port = narrow<int>(own, "port");
  o.gid_index = narrow<int>(own, "gid_index");
  o.qp_type = own.text("qp_type");
  o.mtu = narrow<int>(own, "mtu");
  o.queue_depth = narrow<std::uint32_t>(own, "queue_depth");
  o.inline_size = narrow<std::uint32_t>(own, "inline");
  o.cq_moderation = narrow<std::uint32_t>(own, "cq_moderation");
  o.sl = narrow<std::uint8_t>(own, "sl");
  o.traffic_class = narrow<std::uint8_t>(own, "traffic_class");
  o.timeout = narrow<std::uint8_t>(own, "timeout");
  o.retry_count = narrow<std::uint8_t>(own, "retry_count");
  o.rnr_retry = narrow<std::uint8_t>(own, "rnr_retry");
  o.use_rdma_cm = own.flag("rdma_cm");
  o.registration = own.text("registration");
  apply_common(common, o);
  return o;
}

Descriptor declared() {
  Descriptor d;
  d.name = "verbs";
  d.description = "InfiniBand/RoCE verbs: RC/UC/UD QPs; send, write, write_imm, read, atomics";
  d.keys = keys();
  d.check = check;
  d.example = "{device: rxe0}";
  d.connections_key = "qps";
  d.connection_noun = "QP(s)";
  d.signal_every_key = "cq_moderation";
  d.traffic = Traffic::rdma;
  d.fault_bin_ns = 10'000'000;
  d.unavailable_reason = [] {
    return std::optional<std::string>(
        "not built: libibverbs/librdmacm were not found at configure time");
  };
  return d;
}

}  // namespace fabricbench::transport::verbs
