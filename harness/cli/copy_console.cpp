#include "harness/cli/copy_console.hpp"

#include <algorithm>
#include <optional>
#include <vector>

#include <fmt/format.h>

namespace fabricbench::cli {
namespace {

using nlohmann::json;

std::optional<double> number(const json& j, const char* key) {
  if (!j.is_object()) return std::nullopt;
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

// Rank 0's figures of a repetition's copy block.
const json& first_rank(const json& copy) {
  static const json none;
  const auto it = copy.find("per_rank");
  if (it == copy.end() || !it->is_array() || it->empty()) return none;
  return it->front();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string cell(const std::vector<double>& v, const char* format) {
  return v.empty() ? std::string("-") : fmt::format(fmt::runtime(format), median(v));
}

}  // namespace

void print_copy_header(std::FILE* out, const spec::Case& c, const std::string& described,
                       int ranks) {
  fmt::print(out,
             "\n# {} (copy: {}), {} copies per repetition after {} warm-up, {} repetitions, {} "
             "rank(s) each alone\n# GB/s = 1e9 bytes/s (nvbandwidth's unit), median over "
             "repetitions, summed over ranks; %rated: of the link's rated bandwidth\n",
             c.group, described, c.iterations, c.warmup_iterations, c.repetitions, ranks);
  fmt::print(out, "{:>10} {:>10} {:>20} {:>12} {:>7} {:>6}  {}\n", "#bytes", "GB/s",
             "GB/s min..max", "reverse GB/s", "%rated", "node", "GPU");
}

void print_copy_row(std::FILE* out, const spec::Case& c, const results::CaseResult& r) {
  std::vector<double> gbs, reverse, rated;
  std::string node = "-", gpu = "-";
  for (const auto& rep : r.repetitions) {
    if (!rep.copy.is_object()) continue;
    if (auto v = number(rep.copy, "gbytes_per_s")) gbs.push_back(*v);
    const json& rank0 = first_rank(rep.copy);
    if (!rank0.is_object()) continue;
    if (auto v = number(rank0.value("reverse", json()), "gbytes_per_s")) reverse.push_back(*v);
    if (auto v = number(rank0, "fraction_of_rated")) rated.push_back(100 * *v);
    if (auto v = number(rank0, "host_numa_node")) node = fmt::format("{}", *v);
    const auto name = rank0.find("device_name");
    if (name != rank0.end() && name->is_string() && !name->get<std::string>().empty()) {
      gpu = name->get<std::string>();
    }
  }
  const std::string range =
      gbs.empty() ? std::string("-")
                  : fmt::format("{:.2f}..{:.2f}", *std::min_element(gbs.begin(), gbs.end()),
                                *std::max_element(gbs.begin(), gbs.end()));
  fmt::print(out, "{:>10} {:>10} {:>20} {:>12} {:>7} {:>6}  {}\n", c.message_size,
             cell(gbs, "{:.2f}"), range, cell(reverse, "{:.2f}"), cell(rated, "{:.1f}"), node, gpu);
}

}  // namespace fabricbench::cli
