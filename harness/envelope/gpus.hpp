#pragma once
// The envelope's "gpus" section (docs/RESULTS.md, "GPUs"): /proc/driver/nvidia, NVML (loaded at
// run time, nvml.hpp) and sysfs (PCIe path, NUMA node, the relation to each RDMA NIC).
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/envelope/nvml.hpp"

namespace fabricbench::envelope {

// Never throws for a missing fact: each is null, with its reason passed to `missing`.
nlohmann::json capture_gpus(const nvml::Missing& missing,
                            const std::string& nvml_library = nvml::library_name());

// One line naming every GPU whose PCIe link runs below its maximum, over the envelopes of all
// ranks (the run document's envelope, {"ranks": [...]}; a host's GPUs are named once), or
// nullopt when none does. For the console at run start.
std::optional<std::string> degraded_links_warning(const nlohmann::json& envelope);

}  // namespace fabricbench::envelope
