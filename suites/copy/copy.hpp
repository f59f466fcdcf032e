#pragma once
// The `copy` suite: each rank alone measures copies between host memory and its GPU (host to
// device, device to host, both at once, device to device; pinned or pageable host memory; the
// copy engine or a kernel; the host buffer on the GPU's NUMA node or another), through a
// transport::CopyEngine (transports/api/copy_engine.hpp). Methodology: docs/METHODOLOGY.md,
// "Copy suite"; figures: docs/RESULTS.md, "Copy cases".
//
// The decisions are pure functions (settings -> CopySetup, an engine's times -> a rank's
// figures, every rank's figures -> a repetition), so the unit tests run them without a GPU; the
// workload only sequences them around the engine.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/settings.hpp"
#include "suites/api/descriptor.hpp"
#include "suites/api/local.hpp"
#include "transports/api/copy_engine.hpp"

namespace fabricbench::suites {

using CopyEngineFactory = std::function<std::unique_ptr<transport::CopyEngine>()>;

// The registry entry; `make_engine` gives each rank's engine (the CUDA one in the binary).
Descriptor copy_descriptor(CopyEngineFactory make_engine);

// --- The pure parts (tests/copy) ---

std::string_view to_string(transport::CopyDirection d) noexcept;
std::string_view to_string(transport::HostMemoryKind h) noexcept;
std::string_view to_string(transport::CopyMethod m) noexcept;
std::string to_string(const transport::HostNuma& n);
// "local" | "remote" | "any" | a node number; nullopt for anything else.
std::optional<transport::HostNuma> parse_host_numa(std::string_view text);

// The suite's settings and the swept size as an engine's setup.
transport::CopySetup copy_setup(const core::Settings& own, std::uint64_t size);

// GB/s as nvbandwidth prints them: bytes per second / 1e9 (= bytes per ns); 0 when ns is 0.
double gbytes_per_s(std::uint64_t bytes, std::uint64_t ns) noexcept;

// One rank's figures of one repetition (an element of Repetition::copy.per_rank).
nlohmann::json rank_figures(int rank, const transport::CopySetup& setup,
                            const transport::CopyTimes& times, std::uint64_t copies,
                            const transport::CopyFacts& facts, std::optional<double> rated);

// Every rank's figures (index = rank) as one repetition: the `copy` block and its totals. Throws
// core::Error(runtime) when a rank's figures lack a field (a version mismatch).
LocalMerged merge_copy(const std::vector<nlohmann::json>& per_rank);

// The workload over any engine (the descriptor's make_local; the tests' stand-ins).
std::unique_ptr<LocalWorkload> make_copy_workload(const core::Settings& own,
                                                  CopyEngineFactory make_engine);

}  // namespace fabricbench::suites
