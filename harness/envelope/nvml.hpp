#pragma once
// NVML, loaded at run time (dlopen, never linked: the binary runs where it is absent): the
// driver's versions and each GPU's figures for the envelope's GPU section (docs/RESULTS.md).
// Every figure NVML refuses is null, with "<function>: <nvmlErrorString>" as its reason.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fabricbench::envelope::nvml {

// Records a fact as null: its dotted path and why.
using Missing = std::function<void(const std::string& fact, const std::string& reason)>;

inline constexpr const char* kDefaultLibrary = "libnvidia-ml.so.1";
// For tests: the library to load instead (a missing one, or a stand-in NVML).
inline constexpr const char* kLibraryVariable = "FABRICBENCH_NVML_LIBRARY";

// $FABRICBENCH_NVML_LIBRARY when set and not empty, else libnvidia-ml.so.1.
std::string library_name();

struct Capture {
  // {available, library, reason (when not available), driver_version, cuda_driver_version,
  // device_count}
  nlohmann::json system;
  // Normalized PCI bus id ("0000:3b:00.0") -> the fields of device_fields().
  std::map<std::string, nlohmann::json> devices;
  std::string reason;  // why NVML gave nothing ("" when it was available)
};

// Loads `library`, initializes NVML, reads everything and shuts NVML down again. Facts are
// named "gpus.nvml.<field>" and "gpus.<bus id>.<field>".
Capture capture(const std::string& library, const Missing& missing);

// The per-device fields NVML fills (a device NVML does not see has each of them null).
const std::vector<std::string>& device_fields();

}  // namespace fabricbench::envelope::nvml
