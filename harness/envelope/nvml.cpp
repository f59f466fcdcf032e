// NVML through dlopen/dlsym (nvml.hpp). The few NVML types used are declared here as nvml.h
// declares them (the _v2/_v3 entry points keep their ABI), so no NVML header is needed.
#include "harness/envelope/nvml.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "core/pci_topology.hpp"
#include "harness/envelope/text.hpp"

namespace fabricbench::envelope::nvml {

namespace {

using nlohmann::json;

// ---- NVML's types (nvml.h) ---------------------------------------------------------------------
using Ret = int;  // nvmlReturn_t; 0 is NVML_SUCCESS
struct DeviceSt;
using Device = DeviceSt*;  // nvmlDevice_t
struct PciInfo {           // nvmlPciInfo_t (nvmlDeviceGetPciInfo_v3)
  char bus_id_legacy[16];
  unsigned int domain;
  unsigned int bus;
  unsigned int device;
  unsigned int pci_device_id;
  unsigned int pci_subsystem_id;
  char bus_id[32];
};
struct Bar1Memory {  // nvmlBAR1Memory_t
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
constexpr int kClockSm = 1;         // NVML_CLOCK_SM
constexpr int kClockMem = 2;        // NVML_CLOCK_MEM
constexpr int kCorrected = 0;       // NVML_MEMORY_ERROR_TYPE_CORRECTED
constexpr int kUncorrected = 1;     // NVML_MEMORY_ERROR_TYPE_UNCORRECTED
constexpr int kVolatile = 0;        // NVML_VOLATILE_ECC
constexpr int kAggregate = 1;       // NVML_AGGREGATE_ECC
constexpr unsigned kTextSize = 96;  // NVML_DEVICE_NAME_V2_BUFFER_SIZE, UUID_V2, driver (80)

// A function of the library: its name and address (null when the library does not export it).
template <typename F>
struct Fn {
  const char* name;
  F* ptr = nullptr;
};

struct Api {
  Fn<Ret()> init{"nvmlInit_v2"};
  Fn<Ret()> shutdown{"nvmlShutdown"};
  Fn<const char*(Ret)> error_string{"nvmlErrorString"};
  Fn<Ret(char*, unsigned)> driver_version{"nvmlSystemGetDriverVersion"};
  Fn<Ret(int*)> cuda_driver_version{"nvmlSystemGetCudaDriverVersion_v2"};
  Fn<Ret(unsigned*)> device_count{"nvmlDeviceGetCount_v2"};
  Fn<Ret(unsigned, Device*)> handle_by_index{"nvmlDeviceGetHandleByIndex_v2"};
  Fn<Ret(Device, char*, unsigned)> name{"nvmlDeviceGetName"};
  Fn<Ret(Device, char*, unsigned)> uuid{"nvmlDeviceGetUUID"};
  Fn<Ret(Device, PciInfo*)> pci_info{"nvmlDeviceGetPciInfo_v3"};
  Fn<Ret(Device, unsigned*)> pcie_generation{"nvmlDeviceGetCurrPcieLinkGeneration"};
  Fn<Ret(Device, unsigned*)> pcie_width{"nvmlDeviceGetCurrPcieLinkWidth"};
  Fn<Ret(Device, unsigned*)> pcie_max_generation{"nvmlDeviceGetMaxPcieLinkGeneration"};
  Fn<Ret(Device, unsigned*)> pcie_max_width{"nvmlDeviceGetMaxPcieLinkWidth"};
  Fn<Ret(Device, unsigned*)> pcie_gpu_max_generation{"nvmlDeviceGetGpuMaxPcieLinkGeneration"};
  Fn<Ret(Device, Bar1Memory*)> bar1{"nvmlDeviceGetBAR1MemoryInfo"};
  Fn<Ret(Device, unsigned*, unsigned*)> mig_mode{"nvmlDeviceGetMigMode"};
  Fn<Ret(Device, int*, int*)> ecc_mode{"nvmlDeviceGetEccMode"};
  Fn<Ret(Device, int, int, unsigned long long*)> ecc_errors{"nvmlDeviceGetTotalEccErrors"};
  Fn<Ret(Device, int, unsigned*)> clock{"nvmlDeviceGetClockInfo"};
  Fn<Ret(Device, int, unsigned*)> max_clock{"nvmlDeviceGetMaxClockInfo"};
  Fn<Ret(Device, unsigned*)> power_limit{"nvmlDeviceGetPowerManagementLimit"};
  Fn<Ret(Device, unsigned*)> enforced_power_limit{"nvmlDeviceGetEnforcedPowerLimit"};
  Fn<Ret(Device, int*)> persistence_mode{"nvmlDeviceGetPersistenceMode"};
};

template <typename F>
void bind(void* handle, Fn<F>& fn) {
  fn.ptr = reinterpret_cast<F*>(::dlsym(handle, fn.name));
}

void bind_all(void* h, Api& a) {
  bind(h, a.init), bind(h, a.shutdown), bind(h, a.error_string), bind(h, a.driver_version);
  bind(h, a.cuda_driver_version), bind(h, a.device_count), bind(h, a.handle_by_index);
  bind(h, a.name), bind(h, a.uuid), bind(h, a.pci_info), bind(h, a.pcie_generation);
  bind(h, a.pcie_width), bind(h, a.pcie_max_generation), bind(h, a.pcie_max_width);
  bind(h, a.pcie_gpu_max_generation), bind(h, a.bar1), bind(h, a.mig_mode), bind(h, a.ecc_mode);
  bind(h, a.ecc_errors), bind(h, a.clock), bind(h, a.max_clock), bind(h, a.power_limit);
  bind(h, a.enforced_power_limit), bind(h, a.persistence_mode);
}

// The loaded library, initialized; shuts NVML down and unloads it when destroyed.
class Library {
 public:
  explicit Library(const std::string& path) : path_(path) {
    handle_ = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr) {
      const char* e = ::dlerror();
      reason_ = "NVML not available: " + detail::utf8(e != nullptr ? e : path + ": dlopen failed");
      return;
    }
    bind_all(handle_, api_);
    if (api_.init.ptr == nullptr) {
      reason_ = fmt::format("NVML not available: {} does not export nvmlInit_v2", path);
    } else if (const Ret rc = api_.init.ptr(); rc != 0) {
      reason_ = fmt::format("NVML not available: nvmlInit_v2: {}", error(rc));
    } else {
      initialized_ = true;
    }
  }
  ~Library() {
    if (initialized_ && api_.shutdown.ptr != nullptr) api_.shutdown.ptr();
    if (handle_ != nullptr) ::dlclose(handle_);
  }
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;

  bool ok() const { return initialized_; }
  const std::string& reason() const { return reason_; }
  const Api& api() const { return api_; }
  const std::string& path() const { return path_; }

  std::string error(Ret rc) const {
    const char* text = api_.error_string.ptr != nullptr ? api_.error_string.ptr(rc) : nullptr;
    return text != nullptr ? detail::utf8(text) : fmt::format("NVML error {}", rc);
  }

 private:
  std::string path_;
  void* handle_ = nullptr;
  Api api_;
  bool initialized_ = false;
  std::string reason_;
};

// Calls NVML functions and turns each answer into a JSON value, or null plus a reason under
// `prefix` + field.
class Query {
 public:
  Query(const Library& lib, std::string prefix, const Missing& missing)
      : lib_(lib), prefix_(std::move(prefix)), missing_(missing) {}

  json fail(const std::string& field, const std::string& reason) const {
    missing_(prefix_ + field, reason);
    return nullptr;
  }

  // fn(args..., &value) -> convert(value).
  template <typename T, typename F, typename C, typename... A>
  json converted(const std::string& field, const Fn<F>& fn, C convert, A... args) const {
    if (fn.ptr == nullptr) return not_exported(field, fn.name);
    T out{};
    if (const Ret rc = fn.ptr(args..., &out); rc != 0) return failed(field, fn.name, rc);
    return convert(out);
  }

  // fn(args..., &value) -> value.
  template <typename T, typename F, typename... A>
  json value(const std::string& field, const Fn<F>& fn, A... args) const {
    return converted<T>(
        field, fn, [](const T& v) { return json(v); }, args...);
  }

  // fn(args..., buffer, size) -> text.
  template <typename F, typename... A>
  json text(const std::string& field, const Fn<F>& fn, A... args) const {
    if (fn.ptr == nullptr) return not_exported(field, fn.name);
    char buf[kTextSize + 1] = {};
    if (const Ret rc = fn.ptr(args..., buf, kTextSize); rc != 0) return failed(field, fn.name, rc);
    return detail::utf8(std::string_view(buf, ::strnlen(buf, kTextSize)));
  }

  // fn(device, &current, &pending) -> {current, pending} as "enabled" / "disabled".
  template <typename T, typename F>
  json mode(const std::string& field, const Fn<F>& fn, Device device) const {
    if (fn.ptr == nullptr) return not_exported(field, fn.name);
    T current{};
    T pending{};
    if (const Ret rc = fn.ptr(device, &current, &pending); rc != 0) {
      return failed(field, fn.name, rc);
    }
    return json{{"current", enabled(current)}, {"pending", enabled(pending)}};
  }

  static const char* enabled(long long v) { return v != 0 ? "enabled" : "disabled"; }

 private:
  json not_exported(const std::string& field, const char* name) const {
    return fail(field, fmt::format("{} is not exported by {}", name, lib_.path()));
  }
  json failed(const std::string& field, const char* name, Ret rc) const {
    return fail(field, fmt::format("{}: {}", name, lib_.error(rc)));
  }

  const Library& lib_;
  std::string prefix_;
  const Missing& missing_;
};

// 12040 -> "12.4"
json cuda_version_text(int v) {
  return fmt::format("{}.{}", v / 1000, v % 1000 / 10);
}

json system_facts(const Library& lib, const Missing& missing) {
  const Query q(lib, "gpus.nvml.", missing);
  const Api& api = lib.api();
  return {{"available", true},
          {"library", detail::utf8(lib.path())},
          {"driver_version", q.text("driver_version", api.driver_version)},
          {"cuda_driver_version",
           q.converted<int>("cuda_driver_version", api.cuda_driver_version, cuda_version_text)},
          {"device_count", q.value<unsigned>("device_count", api.device_count)}};
}

json pcie_facts(const Query& q, const Api& api, Device d) {
  return {{"generation", q.value<unsigned>("pcie.generation", api.pcie_generation, d)},
          {"width", q.value<unsigned>("pcie.width", api.pcie_width, d)},
          {"max_generation", q.value<unsigned>("pcie.max_generation", api.pcie_max_generation, d)},
          {"max_width", q.value<unsigned>("pcie.max_width", api.pcie_max_width, d)},
          {"gpu_max_generation",
           q.value<unsigned>("pcie.gpu_max_generation", api.pcie_gpu_max_generation, d)}};
}

json ecc_error_facts(const Query& q, const Api& api, Device d) {
  using Count = unsigned long long;
  return {{"volatile_corrected", q.value<Count>("ecc_errors.volatile_corrected", api.ecc_errors, d,
                                                kCorrected, kVolatile)},
          {"volatile_uncorrected", q.value<Count>("ecc_errors.volatile_uncorrected", api.ecc_errors,
                                                  d, kUncorrected, kVolatile)},
          {"aggregate_corrected", q.value<Count>("ecc_errors.aggregate_corrected", api.ecc_errors,
                                                 d, kCorrected, kAggregate)},
          {"aggregate_uncorrected", q.value<Count>("ecc_errors.aggregate_uncorrected",
                                                   api.ecc_errors, d, kUncorrected, kAggregate)}};
}

json clock_facts(const Query& q, const Api& api, Device d) {
  return {{"sm", q.value<unsigned>("clocks_mhz.sm", api.clock, d, kClockSm)},
          {"memory", q.value<unsigned>("clocks_mhz.memory", api.clock, d, kClockMem)},
          {"sm_max", q.value<unsigned>("clocks_mhz.sm_max", api.max_clock, d, kClockSm)},
          {"memory_max", q.value<unsigned>("clocks_mhz.memory_max", api.max_clock, d, kClockMem)}};
}

json device_facts(const Library& lib, Device d, const std::string& key, const Missing& missing) {
  const Query q(lib, "gpus." + key + ".", missing);
  const Api& api = lib.api();
  const auto enabled = [](int v) { return json(Query::enabled(v)); };
  const auto total = [](const Bar1Memory& b) { return json(b.total); };
  return {
      {"product_name", q.text("product_name", api.name, d)},
      {"uuid", q.text("uuid", api.uuid, d)},
      {"pcie", pcie_facts(q, api, d)},
      {"bar1_total_bytes", q.converted<Bar1Memory>("bar1_total_bytes", api.bar1, total, d)},
      {"mig_mode", q.mode<unsigned>("mig_mode", api.mig_mode, d)},
      {"ecc_mode", q.mode<int>("ecc_mode", api.ecc_mode, d)},
      {"ecc_errors", ecc_error_facts(q, api, d)},
      {"clocks_mhz", clock_facts(q, api, d)},
      {"power_limit_mw", q.value<unsigned>("power_limit_mw", api.power_limit, d)},
      {"enforced_power_limit_mw",
       q.value<unsigned>("enforced_power_limit_mw", api.enforced_power_limit, d)},
      {"persistence_mode", q.converted<int>("persistence_mode", api.persistence_mode, enabled, d)}};
}

// The device's normalized bus id, or "nvml<index>" when NVML does not give a usable one.
std::pair<std::string, json> device_key(const Library& lib, Device d, unsigned index) {
  const Api& api = lib.api();
  PciInfo pci{};
  if (api.pci_info.ptr == nullptr || api.pci_info.ptr(d, &pci) != 0) {
    return {fmt::format("nvml{}", index), nullptr};
  }
  const std::string raw(pci.bus_id, ::strnlen(pci.bus_id, sizeof pci.bus_id));
  const auto normalized = core::pcie::normalize_bus_id(raw);
  return {normalized ? *normalized : fmt::format("nvml{}", index), detail::utf8(raw)};
}

void capture_devices(const Library& lib, const json& count, Capture& out, const Missing& missing) {
  if (!count.is_number_unsigned()) return;
  const Api& api = lib.api();
  for (unsigned i = 0; i < count.get<unsigned>() && i < 1024; ++i) {
    Device d = nullptr;
    if (api.handle_by_index.ptr == nullptr || api.handle_by_index.ptr(i, &d) != 0) {
      missing(fmt::format("gpus.nvml.devices.{}", i), "nvmlDeviceGetHandleByIndex_v2 failed");
      continue;
    }
    auto [key, pci_bus_id] = device_key(lib, d, i);
    json facts = device_facts(lib, d, key, missing);
    if (pci_bus_id.is_null())
      missing("gpus." + key + ".pci_bus_id", "nvmlDeviceGetPciInfo_v3 failed");
    facts["pci_bus_id"] = std::move(pci_bus_id);
    facts["nvml_index"] = i;
    out.devices[key] = std::move(facts);
  }
}

}  // namespace

std::string library_name() {
  const char* v = std::getenv(kLibraryVariable);
  return v != nullptr && v[0] != '\0' ? std::string(v) : std::string(kDefaultLibrary);
}

const std::vector<std::string>& device_fields() {
  static const std::vector<std::string> fields = {
      "product_name",    "uuid",           "pci_bus_id",
      "nvml_index",      "pcie",           "bar1_total_bytes",
      "mig_mode",        "ecc_mode",       "ecc_errors",
      "clocks_mhz",      "power_limit_mw", "enforced_power_limit_mw",
      "persistence_mode"};
  return fields;
}

Capture capture(const std::string& library, const Missing& missing) {
  Capture out;
  const Library lib(library);
  if (!lib.ok()) {
    out.reason = lib.reason();
    out.system = {
        {"available", false},        {"library", detail::utf8(library)}, {"reason", out.reason},
        {"driver_version", nullptr}, {"cuda_driver_version", nullptr},   {"device_count", nullptr}};
    missing("gpus.nvml", out.reason);
    for (const char* f : {"driver_version", "cuda_driver_version", "device_count"}) {
      missing(std::string("gpus.nvml.") + f, out.reason);
    }
    return out;
  }
  out.system = system_facts(lib, missing);
  capture_devices(lib, out.system["device_count"], out, missing);
  return out;
}

}  // namespace fabricbench::envelope::nvml
