// The "Envelope" section: rank 0's envelope (host, kernel, CPU, NICs, RDMA devices, GPUs,
// libraries) as a table.
#include <set>

#include <fmt/core.h>

#include "results/json_read.hpp"
#include "results/report/format.hpp"
#include "results/report/html.hpp"
#include "results/report/sections.hpp"

namespace fabricbench::results::report {

using detail::flag_at;
using detail::member;
using detail::number_at;
using detail::text_at;
using detail::text_of;
using nlohmann::json;

namespace {

// host, the hosts of all ranks (several ranks), OS and kernel.
void host_rows(std::string& out, const json& e, const json& ranks) {
  kv_row(out, "host", html_escape(text_at(e, "hostname")));
  std::set<std::string> hosts;
  for (const auto& rank : ranks) hosts.insert(text_at(rank, "hostname"));
  if (ranks.size() > 1) {
    std::string all;
    for (const auto& h : hosts) all += (all.empty() ? "" : ", ") + h;
    kv_row(out, "hosts of all ranks",
           html_escape(fmt::format("{} rank(s): {}", ranks.size(), all)));
  }
  kv_row(out, "OS", html_escape(text_at(e, "os_release")));
  const json& kernel = member(e, "kernel");
  kv_row(out, "kernel",
         html_escape(text_at(kernel, "release") + " " + text_at(kernel, "machine") + " " +
                     text_at(kernel, "version")));
  if (!text_at(kernel, "cmdline").empty())
    kv_row(out, "kernel cmdline", "<code>" + html_escape(text_at(kernel, "cmdline")) + "</code>");
}

std::string cpu_text(const json& cpu) {
  std::string text = text_at(cpu, "model");
  if (const auto n = number_at(cpu, "cores_online"))
    text += fmt::format(", {:.0f} cores online", *n);
  if (const auto n = number_at(cpu, "sockets")) text += fmt::format(", {:.0f} socket(s)", *n);
  if (!text_at(cpu, "governor").empty()) text += ", governor " + text_at(cpu, "governor");
  if (const auto f = number_at(member(cpu, "frequency_khz"), "max"))
    text += fmt::format(", max {:.0f} MHz", *f / 1000);
  return text;
}

// CPU, placement and memory.
void machine_rows(std::string& out, const json& e) {
  kv_row(out, "CPU", html_escape(cpu_text(member(e, "cpu"))));
  const json& placement = member(e, "placement");
  if (placement.is_object()) {
    kv_row(out, "placement",
           html_escape("cpu " + text_at(placement, "cpu") + ", NUMA node " +
                       text_at(placement, "numa_node") + ", affinity " +
                       text_at(placement, "affinity")));
  }
  const json& memory = member(e, "memory");
  if (memory.is_object()) {
    std::string m = format_bytes_approx(number_at(memory, "total_bytes"));
    if (!text_at(memory, "thp_enabled").empty()) m += ", THP " + text_at(memory, "thp_enabled");
    kv_row(out, "memory", html_escape(m));
  }
}

// One <div> per NIC; empty without NICs.
std::string nics_html(const json& nics) {
  std::string html;
  if (!nics.is_array()) return html;
  for (const auto& n : nics) {
    std::string line = text_at(n, "name");
    if (!text_at(n, "driver").empty()) line += " (" + text_at(n, "driver") + ")";
    if (!text_at(n, "mtu").empty()) line += ", MTU " + text_at(n, "mtu");
    if (const auto s = number_at(n, "speed_mbps")) line += fmt::format(", {:.0f} Mb/s", *s);
    if (!text_at(n, "operstate").empty()) line += ", " + text_at(n, "operstate");
    const json& addrs = member(n, "addresses");
    if (addrs.is_array() && !addrs.empty()) {
      line += ",";
      for (const auto& a : addrs) line += " " + text_of(a);
    }
    html += "<div>" + html_escape(line) + "</div>";
  }
  return html;
}

// One <div> per RDMA device, "none", "unavailable: <reason>", or empty when not probed.
std::string rdma_html(const json& rdma) {
  std::string html;
  if (flag_at(rdma, "available")) {
    for (const auto& dev : member(rdma, "devices")) {
      std::string line = text_at(dev, "name");
      if (!text_at(dev, "fw_ver").empty()) line += ", fw " + text_at(dev, "fw_ver");
      if (!text_at(dev, "node_guid").empty()) line += ", GUID " + text_at(dev, "node_guid");
      for (const auto& p : member(dev, "ports")) {
        line += "; port " + text_at(p, "port") + " " + text_at(p, "state") + " " +
                text_at(p, "link_layer");
        if (!text_at(p, "active_mtu").empty()) line += " MTU " + text_at(p, "active_mtu");
      }
      html += "<div>" + html_escape(line) + "</div>";
    }
    if (html.empty()) html = "none";
  } else if (rdma.is_object()) {
    html = "unavailable: " + html_escape(text_at(rdma, "reason"));
  }
  return html;
}

// "gen5 x16 (max gen5 x16)", or "" without NVML's figures.
std::string pcie_text(const json& pcie) {
  if (!pcie.is_object()) return {};
  return "PCIe gen" + text_at(pcie, "generation") + " x" + text_at(pcie, "width") + " (max gen" +
         text_at(pcie, "max_generation") + " x" + text_at(pcie, "max_width") + ")";
}

std::string gpus_text(const json& gpus) {
  if (!flag_at(gpus, "available")) return "unavailable: " + text_at(gpus, "reason");
  std::string text = "driver " + text_at(gpus, "driver_version");
  const json& nvml = member(gpus, "nvml");
  if (!text_at(nvml, "cuda_driver_version").empty())
    text += ", CUDA driver " + text_at(nvml, "cuda_driver_version");
  for (const auto& dev : member(gpus, "devices")) {
    const std::string name =
        text_at(dev, "product_name").empty() ? text_at(dev, "model") : text_at(dev, "product_name");
    text += "; " + name + " " + text_at(dev, "bus_id");
    if (!pcie_text(member(dev, "pcie")).empty()) text += ", " + pcie_text(member(dev, "pcie"));
    if (!text_at(dev, "numa_node").empty()) text += ", NUMA node " + text_at(dev, "numa_node");
  }
  if (!flag_at(nvml, "available") && nvml.is_object()) text += "; " + text_at(nvml, "reason");
  return text;
}

// One <div> per GPU whose PCIe link runs below its maximum (pcie_degraded); empty when none.
std::string degraded_links_html(const json& gpus) {
  std::string html;
  for (const auto& dev : member(gpus, "devices")) {
    if (!flag_at(dev, "pcie_degraded")) continue;
    html += "<div>" +
            html_escape(text_at(dev, "bus_id") + ": " + text_at(dev, "pcie_degraded_reason")) +
            "</div>";
  }
  return html;
}

// One <div> per library and its version; empty without libraries.
std::string libraries_html(const json& libs) {
  std::string html;
  if (!libs.is_object()) return html;
  for (const auto& [name, version] : libs.items()) {
    html += "<div><code>" + html_escape(name) + "</code> " +
            html_escape(version.is_null() ? std::string("(not found)") : text_of(version)) +
            "</div>";
  }
  return html;
}

}  // namespace

void envelope_section(std::string& out, const Context& ctx, std::size_t r) {
  const RunDocument& d = ctx.runs[r];
  out += "<h3>Envelope of <code>" + html_escape(ctx.names[r]) + "</code> (rank 0)</h3>";
  const json& ranks = member(d.envelope, "ranks");
  if (!ranks.is_array() || ranks.empty() || !ranks[0].is_object()) {
    out += "<p class=\"note\">no envelope recorded</p>";
    return;
  }
  const json& e = ranks[0];
  out += "<table class=\"kv envelope\" data-run=\"" + html_escape(d.run_id) + "\">";
  host_rows(out, e, ranks);
  machine_rows(out, e);
  const std::string nics = nics_html(member(e, "nics"));
  kv_row(out, "NICs", nics.empty() ? "-" : nics);
  const std::string rdma = rdma_html(member(e, "rdma_devices"));
  kv_row(out, "RDMA devices", rdma.empty() ? "-" : rdma);
  const json& gpus = member(e, "gpus");
  if (gpus.is_object()) kv_row(out, "GPUs", html_escape(gpus_text(gpus)));
  if (const std::string degraded = degraded_links_html(gpus); !degraded.empty())
    kv_row(out, "GPU PCIe link below its maximum", degraded);
  const std::string libraries = libraries_html(member(e, "libraries"));
  kv_row(out, "libraries", libraries.empty() ? "-" : libraries);
  out += "</table>";
}

}  // namespace fabricbench::results::report
