// docs/CONFIG.md's per-backend tables against what the backends declare: every transport's
// section lists exactly its keys with their types, defaults and choices; the case-key table
// lists each suite's keys under that suite and the registry's transports, suites and memory
// providers as the allowed values. The doc cannot drift from the code.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/units.hpp"
#include "harness/cli/registry.hpp"
#include "harness/spec/loader.hpp"

namespace fabricbench {
namespace {

using Row = std::vector<std::string>;  // the cells of one table row, trimmed

std::string config_md() {
  const char* dir = std::getenv("FABRICBENCH_SOURCE_DIR");
  std::ifstream in(std::string(dir != nullptr ? dir : ".") + "/docs/CONFIG.md");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(' ');
  const auto e = s.find_last_not_of(' ');
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// The rows of the first table after `heading` (header and separator rows left out).
std::vector<Row> table_after(const std::string& doc, const std::string& heading) {
  std::vector<Row> rows;
  const auto at = doc.find("\n" + heading + "\n");
  if (at == std::string::npos) return rows;
  std::istringstream in(doc.substr(at + heading.size() + 2));
  std::string line;
  bool in_table = false;
  while (std::getline(in, line)) {
    if (line.rfind("|", 0) != 0) {
      if (in_table) break;
      if (line.rfind("#", 0) == 0) break;
      continue;
    }
    in_table = true;
    Row row;
    std::string cell;
    std::istringstream cells(line.substr(1));
    while (std::getline(cells, cell, '|')) row.push_back(trim(cell));
    if (row.empty() || row[0] == "key" || row[0].rfind("---", 0) == 0) continue;
    rows.push_back(row);
  }
  return rows;
}

// The backticked words of a cell: "`a`, `b`" -> {a, b}.
std::vector<std::string> ticked(const std::string& cell) {
  std::vector<std::string> out;
  static const std::regex word("`([^`]*)`");
  for (auto it = std::sregex_iterator(cell.begin(), cell.end(), word); it != std::sregex_iterator();
       ++it) {
    out.push_back((*it)[1]);
  }
  return out;
}

std::string doc_type(core::KeyType t) {
  switch (t) {
    case core::KeyType::size:
      return "size";
    case core::KeyType::count:
      return "integer";
    case core::KeyType::duration:
      return "duration";
    case core::KeyType::boolean:
      return "boolean";
    case core::KeyType::choice:
      return "enum";
    case core::KeyType::address:
    case core::KeyType::interface_name:
    case core::KeyType::device_name:
      return "string";
    case core::KeyType::device_list:
      return "list";
  }
  return "?";
}

// The documented default (first backticked word of the default cell) means the declared one.
bool same_default(const core::KeyDecl& k, const std::string& documented) {
  switch (k.type) {
    case core::KeyType::size:
      return core::parse_size(documented) == static_cast<std::uint64_t>(k.default_value.number);
    case core::KeyType::duration:  // "0" needs no unit in prose
      return (documented == "0" ? 0 : core::parse_duration_ns(documented)) ==
             static_cast<std::uint64_t>(k.default_value.number);
    case core::KeyType::address:
    case core::KeyType::interface_name:
    case core::KeyType::device_name:
      return (documented == "\"\"" ? std::string() : documented) == k.default_value.text;
    case core::KeyType::device_list:
      return documented == "[]" && k.default_value.text.empty();
    default:
      return documented == k.default_text();
  }
}

void expect_row_matches(const std::string& owner, const core::KeyDecl& k, const Row& row,
                        std::size_t default_col, std::size_t allowed_col) {
  const std::string where = owner + " key " + k.name;
  EXPECT_EQ(row[1].substr(0, row[1].find(',')), doc_type(k.type)) << where;
  const auto defaults = ticked(row[default_col]);
  if (k.default_value.number >= 0 || k.type != core::KeyType::count) {
    ASSERT_FALSE(defaults.empty()) << where << ": no default in '" << row[default_col] << "'";
    EXPECT_TRUE(same_default(k, defaults.front()))
        << where << ": documented default " << defaults.front() << ", declared "
        << k.default_text();
  }
  if (k.type == core::KeyType::choice) {
    EXPECT_EQ(ticked(row[allowed_col]), k.choices) << where;
  }
}

TEST(ConfigDoc, TransportSectionsListExactlyTheDeclaredKeys) {
  const std::string doc = config_md();
  ASSERT_FALSE(doc.empty()) << "docs/CONFIG.md not found (FABRICBENCH_SOURCE_DIR)";
  // Point-to-point transports and collective backends alike: a section of keys each.
  const engine::Registry registry = cli::make_registry();
  std::vector<std::pair<std::string, const std::vector<core::KeyDecl>*>> backends;
  for (const auto& t : registry.transports) backends.emplace_back(t.name(), &t.descriptor.keys);
  for (const auto& c : registry.collectives) backends.emplace_back(c.name(), &c.descriptor.keys);
  for (const auto& [name, keys] : backends) {
    ASSERT_NE(doc.find("\n### `" + name + "` keys\n"), std::string::npos)
        << "no section for " << name;
    const auto rows = table_after(doc, "### `" + name + "` keys");
    std::map<std::string, Row> documented;
    for (const auto& row : rows) {
      const auto words = ticked(row[0]);
      ASSERT_FALSE(words.empty()) << row[0];
      ASSERT_EQ(words[0].rfind(name + ".", 0), 0U) << words[0] << " in the " << name << " table";
      documented[words[0].substr(name.size() + 1)] = row;
    }
    std::set<std::string> declared;
    for (const auto& k : *keys) {
      declared.insert(k.name);
      const auto it = documented.find(k.name);
      if (it == documented.end()) {
        ADD_FAILURE() << name << "." << k.name << " is declared but not in docs/CONFIG.md";
        continue;
      }
      expect_row_matches(name, k, it->second, 2, 3);
    }
    for (const auto& [key, row] : documented) {
      EXPECT_TRUE(declared.count(key)) << name << "." << key << " is documented, not declared";
    }
  }
}

TEST(ConfigDoc, CaseKeyTableListsEachSuitesKeysAndTheRegistrysNames) {
  const std::string doc = config_md();
  const engine::Registry registry = cli::make_registry();
  const auto rows = table_after(doc, "## Case keys");
  ASSERT_FALSE(rows.empty());
  std::map<std::string, Row> by_key;
  for (const auto& row : rows) by_key[ticked(row[0]).at(0)] = row;
  std::vector<std::string> transports;
  std::vector<std::string> suites;
  std::vector<std::string> memory;
  for (const auto& t : registry.transports) transports.push_back(t.name());
  for (const auto& c : registry.collectives) transports.push_back(c.name());
  for (const auto& s : registry.suites) suites.push_back(s.name());
  for (const auto& m : registry.memory) memory.push_back(m.name);
  EXPECT_EQ(ticked(by_key.at("transport")[3]), transports);
  EXPECT_EQ(ticked(by_key.at("suite")[3]), suites);
  EXPECT_EQ(ticked(by_key.at("memory")[3]), memory);
  for (const auto& m : registry.memory) {
    for (const auto& k : m.keys) {
      ASSERT_TRUE(by_key.count(k.name)) << m.name << " key " << k.name << " not documented";
      expect_row_matches(m.name, k, by_key.at(k.name), 2, 3);
      EXPECT_NE(by_key.at(k.name)[4].find("`" + m.name + "`"), std::string::npos)
          << k.name << ": the row does not say it applies to memory " << m.name;
    }
  }
  for (const auto& s : registry.suites) {
    std::set<std::string> documented;
    for (const auto& row : rows) {
      if (row.size() > 4 && row[4] == s.name()) documented.insert(ticked(row[0]).at(0));
    }
    std::set<std::string> declared;
    for (const auto& k : s.descriptor.keys) {
      declared.insert(k.name);
      ASSERT_TRUE(by_key.count(k.name)) << s.name() << " key " << k.name << " not documented";
      expect_row_matches(s.name(), k, by_key.at(k.name), 2, 3);
    }
    EXPECT_EQ(documented, declared) << "the keys docs/CONFIG.md lists for suite " << s.name();
  }
}

}  // namespace
}  // namespace fabricbench

namespace fabricbench {
namespace {

// Every experiment file shipped in configs/ (configs/cluster/ included) loads against this
// build's registry: the files a user starts from never carry a stale key.
TEST(ShippedConfigs, EveryFileLoads) {
  const char* dir = std::getenv("FABRICBENCH_SOURCE_DIR");
  ASSERT_NE(dir, nullptr) << "FABRICBENCH_SOURCE_DIR is not set (run through ctest)";
  const engine::Registry registry = cli::make_registry();
  int loaded = 0;
  for (const auto& e :
       std::filesystem::recursive_directory_iterator(std::filesystem::path(dir) / "configs")) {
    if (e.path().extension() != ".yaml") continue;
    EXPECT_NO_THROW(spec::load_experiment_file(e.path().string(), registry.catalog())) << e.path();
    ++loaded;
  }
  EXPECT_GE(loaded, 15);
}

}  // namespace
}  // namespace fabricbench
