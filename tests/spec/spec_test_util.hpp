#pragma once
// Helpers for the spec tests: load text and return the diagnostics of the ConfigError.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "harness/cli/registry.hpp"
#include "harness/spec/loader.hpp"

namespace fabricbench::spec::testing {

// The catalog of the binary's own registry table (harness/cli): the keys users write.
inline const Catalog& catalog() {
  static const Catalog c = cli::make_registry().catalog();
  return c;
}

// The diagnostics for `text` (fails the test if the text loads).
inline std::vector<Diagnostic> diagnostics_of(const std::string& text,
                                              const std::vector<std::string>& overrides = {}) {
  try {
    (void)load_experiment_text(text, "t.yaml", catalog(), overrides);
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::config);
    EXPECT_FALSE(e.diagnostics().empty());
    return e.diagnostics();
  }
  ADD_FAILURE() << "expected a ConfigError for:\n" << text;
  return {};
}

inline std::string dump(const std::vector<Diagnostic>& ds) {
  std::string out;
  for (const auto& d : ds) out += d.to_string() + "\n";
  return out;
}

// True when `ds` holds a diagnostic at file:line:col for `field` whose message contains
// `fragment`.
inline ::testing::AssertionResult has_diagnostic(const std::vector<Diagnostic>& ds,
                                                 const std::string& file, int line, int column,
                                                 const std::string& field,
                                                 const std::string& fragment) {
  for (const auto& d : ds) {
    if (d.file == file && d.line == line && d.column == column && d.field == field &&
        d.message.find(fragment) != std::string::npos) {
      return ::testing::AssertionSuccess();
    }
  }
  return ::testing::AssertionFailure() << "no diagnostic " << file << ":" << line << ":" << column
                                       << ": " << field << ": ..." << fragment << "... among:\n"
                                       << dump(ds);
}

}  // namespace fabricbench::spec::testing
