#pragma once
// The keys of a case group (or of `defaults`): the loader's own (suite, sizes, regime.*, ...),
// each transport's section and each suite's keys, from the catalog.
#include <string>
#include <string_view>
#include <vector>

#include "harness/spec/catalog.hpp"
#include "harness/spec/values.hpp"

namespace fabricbench::spec {

// The regimes (docs/CONFIG.md, "Regimes"). Open-loop ones offer arrivals at a rate; overload
// and search set their own lengths (no iterations or duration).
const std::vector<std::string>& regime_kinds();
bool is_self_timed(std::string_view kind);

class KeyTable {
 public:
  // Throws core::Error(runtime) when a suite declares one of the loader's own keys.
  explicit KeyTable(const Catalog& catalog);
  KeyTable(const KeyTable&) = delete;  // Params point into it
  KeyTable& operator=(const KeyTable&) = delete;

  // "completion", "tcp.sndbuf", "window"; nullptr when unknown.
  const KeySpec* find(std::string_view name) const;
  // Keys valid directly in a case group (with_name) or under defaults (without): keys and
  // section names.
  std::vector<std::string_view> group_key_names(bool with_name) const;
  // The keys of one section (a transport's or the regime's), without the "section." prefix.
  std::vector<std::string_view> section_key_names(std::string_view section) const;
  bool is_section(std::string_view name) const;
  bool is_transport_section(std::string_view name) const;
  // "{nodelay: true}" for a transport's section, "{kind: realistic, rate: 70%}" for the regime.
  std::string section_example(std::string_view section) const;

 private:
  void add_suite_keys(const Catalog& catalog);
  void add_memory_keys(const Catalog& catalog);
  void add_backend_key(const core::KeyDecl& decl, std::string section,
                       std::vector<std::string> suites);

  std::vector<KeySpec> keys_;
  std::vector<std::string> sections_;  // transports' names, then "regime"
  std::vector<std::string> examples_;  // per section
  std::size_t transport_sections_ = 0;
};

}  // namespace fabricbench::spec
