#pragma once
// The top-level `injector:` mapping (docs/CONFIG.md, "Faults") and what each injector backend
// can cause on which transport.
#include <optional>
#include <string>
#include <string_view>

#include "harness/spec/catalog.hpp"
#include "harness/spec/experiment.hpp"
#include "harness/spec/source_tree.hpp"
#include "harness/spec/values.hpp"

namespace fabricbench::spec {

struct ParsedInjector {
  // absent (not written), invalid (reported), or valid (in `settings`).
  enum class State { absent, invalid, valid };
  State state = State::absent;
  InjectorSettings settings;
};

// Parses and checks `n`; `exp` gives the launcher and ranks (netns needs local, even ranks).
ParsedInjector parse_injector(const SNode& n, const Experiment& exp, ValueParser& values);

// Why `backend` cannot cause a fault of `kind` on `transport` (nullopt: it can).
std::optional<std::string> fault_refusal(std::string_view backend, const TransportKeys& transport,
                                         std::string_view kind);

}  // namespace fabricbench::spec
