#pragma once
// What every fuzz target shares: the input as text, and the rule that a target's code under test
// may fail only with core::Error (the CLI turns it into a message and an exit code). Any other
// exception escapes LLVMFuzzerTestOneInput, which aborts: libFuzzer reports it as a crash.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace fabricbench::fuzz {

inline std::string text_of(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};  // NOLINT(*-reinterpret-cast)
}

}  // namespace fabricbench::fuzz
