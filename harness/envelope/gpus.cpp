// The envelope's "gpus" section (gpus.hpp).
#include "harness/envelope/gpus.hpp"

#include <limits.h>
#include <stdlib.h>

#include <cctype>
#include <cerrno>
#include <map>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "core/pci_topology.hpp"
#include "harness/envelope/text.hpp"

namespace fabricbench::envelope {

namespace {

using detail::errno_message;
using detail::parse_int;
using detail::Read;
using detail::read_file;
using detail::trim;
using detail::utf8;
using nlohmann::json;
namespace pcie = core::pcie;

constexpr std::size_t kSmallFile = 4096;

// snake_case of a /proc/driver/nvidia "information" key: "GPU UUID" -> "gpu_uuid".
std::string snake(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (std::isalnum(static_cast<unsigned char>(c)) != 0) {
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else if (!out.empty() && out.back() != '_') {
      out.push_back('_');
    }
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out;
}

struct ProcGpus {
  std::map<std::string, json> devices;  // normalized bus id -> /proc fields
  std::string reason;                   // when the directory is missing or empty
};

ProcGpus proc_gpus(const nvml::Missing& missing) {
  const std::string base = "/proc/driver/nvidia/gpus";
  ProcGpus out;
  std::string why;
  const auto entries = detail::list_dir(base, &why);
  if (!entries || entries->empty()) {
    out.reason = entries ? base + " is empty" : why + " (NVIDIA kernel driver not loaded)";
    return out;
  }
  for (const std::string& bus : *entries) {
    const std::string key = utf8(pcie::normalize_bus_id(bus).value_or(bus));
    json g = {{"bus_id", key}};
    Read info = read_file(base + "/" + bus + "/information", kSmallFile * 4);
    if (!info.text) {
      missing("gpus." + key, info.error);
      g["error"] = info.error;
    } else {
      for (const auto& [k, value] : detail::parse_colon_lines(*info.text)) {
        const std::string name = snake(k);
        if (!name.empty() && name != "bus_id") g[name] = utf8(value);
      }
    }
    out.devices[key] = std::move(g);
  }
  return out;
}

json proc_driver_version(const nvml::Missing& missing) {
  Read version = read_file("/proc/driver/nvidia/version", kSmallFile);
  if (!version.text) {
    missing("gpus.driver_version", version.error);
    return nullptr;
  }
  return utf8(trim(version.text->substr(0, version.text->find('\n'))));
}

std::optional<std::string> real_path(const std::string& path, std::string* error) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) {
    *error = fmt::format("realpath {}: {}", path, errno_message(errno));
    return std::nullopt;
  }
  return std::string(buf);
}

// A PCI function's sysfs place: {pcie_path, numa_node}, nulls with reasons under `fact`.
pcie::PcieEndpoint sysfs_place(const std::string& link, const std::string& fact, json& out,
                               const nvml::Missing& missing) {
  pcie::PcieEndpoint place;
  std::string why;
  const auto path = real_path(link, &why);
  out["pcie_path"] = path ? json(utf8(*path)) : json(nullptr);
  out["numa_node"] = nullptr;
  if (!path) {
    missing(fact + ".pcie_path", why);
    missing(fact + ".numa_node", why);
    return place;
  }
  place.path = *path;
  Read node = read_file(*path + "/numa_node", kSmallFile);
  const auto n = node.text ? parse_int<int>(*node.text) : std::nullopt;
  if (n && *n >= 0) {
    out["numa_node"] = *n;
    place.numa_node = *n;
  } else {
    missing(fact + ".numa_node", !node.text ? node.error
                                 : n        ? "device reports no NUMA affinity (-1)"
                                            : "numa_node is not an integer");
  }
  return place;
}

std::optional<unsigned> link_figure(const json& pcie, const char* key) {
  const json* v = pcie.is_object() && pcie.contains(key) ? &pcie[key] : nullptr;
  if (v == nullptr || !v->is_number_unsigned()) return std::nullopt;
  return v->get<unsigned>();
}

pcie::LinkVerdict verdict_of(const json& device) {
  const json& pcie = device.contains("pcie") ? device["pcie"] : json();
  return pcie::pcie_link_verdict({link_figure(pcie, "generation"), link_figure(pcie, "width"),
                                  link_figure(pcie, "max_generation"),
                                  link_figure(pcie, "max_width")});
}

// `unknown_reason`: why there are no PCIe figures at all ("" when NVML gave some).
void add_link_verdict(json& device, const std::string& fact, const std::string& unknown_reason,
                      const nvml::Missing& missing) {
  const pcie::LinkVerdict v = verdict_of(device);
  const auto degraded = v.degraded();
  device["pcie_degraded"] = degraded ? json(*degraded) : json(nullptr);
  if (!degraded)
    missing(fact + ".pcie_degraded", unknown_reason.empty() ? v.reason : unknown_reason);
  if (degraded && *degraded) device["pcie_degraded_reason"] = v.reason;
}

// One device: /proc fields, NVML fields (or nulls with NVML's reason), sysfs place, link verdict.
json merge_device(const std::string& key, const json* proc, const json* from_nvml,
                  const std::string& nvml_reason, const nvml::Missing& missing) {
  json d = proc != nullptr ? *proc : json{{"bus_id", key}};
  const std::string fact = "gpus." + key;
  const std::string absent = from_nvml != nullptr  ? ""
                             : nvml_reason.empty() ? "NVML does not list this GPU"
                                                   : nvml_reason;
  for (const std::string& field : nvml::device_fields()) {
    if (from_nvml != nullptr) {
      d[field] = from_nvml->contains(field) ? (*from_nvml)[field] : json(nullptr);
    } else {
      d[field] = nullptr;
      missing(fact + "." + field, absent);
    }
  }
  add_link_verdict(d, fact, absent, missing);
  return d;
}

struct Nic {
  std::string name;
  pcie::PcieEndpoint place;
  json doc;
};

std::vector<Nic> rdma_nics(const nvml::Missing& missing) {
  std::vector<Nic> nics;
  std::string ignored;
  const auto names = detail::list_dir("/sys/class/infiniband", &ignored);
  if (!names) return nics;
  for (const std::string& name : *names) {
    Nic nic{utf8(name), {}, json{{"name", utf8(name)}}};
    nic.place = sysfs_place("/sys/class/infiniband/" + name + "/device",
                            "gpus.rdma_nics." + nic.name, nic.doc, missing);
    nics.push_back(std::move(nic));
  }
  return nics;
}

// relations (bus id -> PIX|...|SYS|null) and the nearest GPU of each NIC.
json relate_nics(std::vector<Nic>& nics, const std::vector<std::string>& gpu_keys,
                 const std::vector<pcie::PcieEndpoint>& gpu_places, const nvml::Missing& missing) {
  json out = json::array();
  for (Nic& nic : nics) {
    const std::string fact = "gpus.rdma_nics." + nic.name;
    std::vector<std::optional<pcie::PcieRelation>> row;
    json relations = json::object();
    for (std::size_t g = 0; g < gpu_keys.size(); ++g) {
      const pcie::Relation r = pcie::classify(gpu_places[g], nic.place);
      row.push_back(r.relation);
      relations[gpu_keys[g]] = r.relation ? json(pcie::to_string(*r.relation)) : json(nullptr);
      if (!r.relation) missing(fact + ".relations." + gpu_keys[g], r.reason);
    }
    nic.doc["relations"] = std::move(relations);
    const auto best = pcie::nearest(row);
    nic.doc["nearest_gpu"] = best ? json(gpu_keys[*best]) : json(nullptr);
    nic.doc["nearest_relation"] = best ? json(pcie::to_string(*row[*best])) : json(nullptr);
    if (!best) {
      const char* why = gpu_keys.empty() ? "no GPU found" : "no relation to any GPU is known";
      missing(fact + ".nearest_gpu", why);
      missing(fact + ".nearest_relation", why);
    }
    out.push_back(std::move(nic.doc));
  }
  return out;
}

json merge_devices(const ProcGpus& proc, const nvml::Capture& from_nvml,
                   std::vector<std::string>& keys, const nvml::Missing& missing) {
  std::set<std::string> all;
  for (const auto& [k, v] : proc.devices) all.insert(k);
  for (const auto& [k, v] : from_nvml.devices) all.insert(k);
  json devices = json::array();
  for (const std::string& key : all) {
    const auto p = proc.devices.find(key);
    const auto n = from_nvml.devices.find(key);
    devices.push_back(merge_device(key, p == proc.devices.end() ? nullptr : &p->second,
                                   n == from_nvml.devices.end() ? nullptr : &n->second,
                                   from_nvml.reason, missing));
    keys.push_back(key);
  }
  return devices;
}

}  // namespace

json capture_gpus(const nvml::Missing& missing, const std::string& nvml_library) {
  const ProcGpus proc = proc_gpus(missing);
  const nvml::Capture from_nvml = nvml::capture(nvml_library, missing);
  std::vector<std::string> keys;
  json devices = merge_devices(proc, from_nvml, keys, missing);
  std::vector<pcie::PcieEndpoint> places;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    places.push_back(
        sysfs_place("/sys/bus/pci/devices/" + keys[i], "gpus." + keys[i], devices[i], missing));
  }
  std::vector<Nic> nics = rdma_nics(missing);
  json out = {{"available", !keys.empty()}};
  if (keys.empty()) {
    out["reason"] = proc.reason.empty() ? std::string("no GPU found") : proc.reason;
    missing("gpus", out["reason"].get<std::string>());
  }
  out["driver_version"] = proc.devices.empty() ? json(nullptr) : proc_driver_version(missing);
  if (proc.devices.empty()) missing("gpus.driver_version", out.value("reason", proc.reason));
  out["devices"] = std::move(devices);
  out["nvml"] = from_nvml.system;
  out["rdma_nics"] = relate_nics(nics, keys, places, missing);
  return out;
}

namespace {

std::string text_or(const json& object, const char* key, const char* fallback) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string(fallback);
}

}  // namespace

std::optional<std::string> degraded_links_warning(const json& envelope) {
  const json* ranks =
      envelope.is_object() && envelope.contains("ranks") ? &envelope["ranks"] : nullptr;
  const json none = json::array();
  const json& rank_envelopes = ranks != nullptr && ranks->is_array() ? *ranks : none;
  std::set<std::string> seen;
  std::string line;
  bool idle_note = false;
  for (const json& rank : rank_envelopes) {
    const json* gpus = rank.is_object() && rank.contains("gpus") ? &rank["gpus"] : nullptr;
    if (gpus == nullptr || !gpus->is_object() || !gpus->contains("devices")) continue;
    const std::string host = text_or(rank, "hostname", "?");
    for (const json& d : (*gpus)["devices"].is_array() ? (*gpus)["devices"] : json::array()) {
      const pcie::LinkVerdict v = verdict_of(d);
      if (!v.degraded().value_or(false)) continue;
      const std::string bus = text_or(d, "bus_id", "?");
      if (!seen.insert(host + "/" + bus).second) continue;
      line += fmt::format("{}{} {} {}", line.empty() ? "" : "; ", host, bus,
                          v.reason.substr(0, v.reason.find(';')));
      idle_note = idle_note || v.state == pcie::LinkState::generation_below;
    }
  }
  if (line.empty()) return std::nullopt;
  std::string out = "warning: GPU PCIe link below its maximum: " + line;
  if (idle_note) out += " (GPUs lower the generation when idle, so check under load)";
  return out;
}

}  // namespace fabricbench::envelope
