// libFuzzer target: the experiment loader (YAML, keys from the real registry's catalog, aliases,
// matrices, sweeps, limits). It may only fail with core::Error (ConfigError).
#include <cstddef>
#include <cstdint>

#include "core/error.hpp"
#include "harness/cli/registry.hpp"
#include "harness/spec/loader.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fabricbench;
  static const spec::Catalog catalog = cli::make_registry().catalog();
  try {
    (void)spec::load_experiment_text(fuzz::text_of(data, size), "fuzz.yaml", catalog);
  } catch (const core::Error&) {
  }
  return 0;
}
