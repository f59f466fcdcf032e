// Reading NCCL's debug output (nccl_log.hpp).
#include "transports/nccl/nccl_log.hpp"

#include <array>
#include <charconv>
#include <regex>

namespace fabricbench::transport::nccl {
namespace {

constexpr std::array<std::string_view, 7> kAlgorithms{
    "Tree", "Ring", "CollNetDirect", "CollNetChain", "NVLS", "NVLSTree", "PAT"};
constexpr std::array<std::string_view, 3> kProtocols{"LL", "LL128", "Simple"};

// A number stands for NCCL's table entry; a name is kept as NCCL wrote it.
std::string name_or_number(const std::string& word, std::string_view (*by_number)(int)) {
  int n = 0;
  const auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), n);
  if (ec == std::errc() && end == word.data() + word.size()) return std::string(by_number(n));
  return word;
}

template <typename T>
bool to_number(const std::string& text, T& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

template <typename F>
void for_each_line(std::string_view log, F&& f) {
  while (!log.empty()) {
    const auto nl = log.find('\n');
    f(log.substr(0, nl));
    if (nl == std::string_view::npos) break;
    log.remove_prefix(nl + 1);
  }
}

}  // namespace

std::string_view algorithm_name(int number) noexcept {
  if (number < 0 || number >= static_cast<int>(kAlgorithms.size())) return "?";
  return kAlgorithms[static_cast<std::size_t>(number)];
}

std::string_view protocol_name(int number) noexcept {
  if (number < 0 || number >= static_cast<int>(kProtocols.size())) return "?";
  return kProtocols[static_cast<std::size_t>(number)];
}

std::optional<TuningLine> parse_tuning_line(std::string_view line) {
  static const std::regex re(
      R"(NCCL INFO ([A-Za-z]+): ([0-9]+) Bytes -> Algo ([A-Za-z0-9_]+) proto ([A-Za-z0-9_]+) )"
      R"(channel\{Lo\.\.Hi\}=\{([0-9]+)\.\.([0-9]+)\})");
  std::match_results<std::string_view::const_iterator> m;
  if (!std::regex_search(line.begin(), line.end(), m, re)) return std::nullopt;
  TuningLine t;
  t.collective = m[1].str();
  if (!to_number(m[2].str(), t.bytes) || !to_number(m[5].str(), t.channel_lo) ||
      !to_number(m[6].str(), t.channel_hi)) {
    return std::nullopt;
  }
  t.algorithm = name_or_number(m[3].str(), algorithm_name);
  t.protocol = name_or_number(m[4].str(), protocol_name);
  return t;
}

nlohmann::json summarize_tuning(std::string_view log) {
  nlohmann::json out = nlohmann::json::object();
  for_each_line(log, [&](std::string_view line) {
    const auto t = parse_tuning_line(line);
    if (!t) return;
    nlohmann::json& choices = out[t->collective][std::to_string(t->bytes)];
    if (choices.is_null()) choices = nlohmann::json::array();
    for (auto& c : choices) {
      if (c["algorithm"] == t->algorithm && c["protocol"] == t->protocol &&
          c["channel_lo"] == t->channel_lo && c["channel_hi"] == t->channel_hi) {
        c["calls"] = c["calls"].get<std::uint64_t>() + 1;
        return;
      }
    }
    choices.push_back({{"algorithm", t->algorithm},
                       {"protocol", t->protocol},
                       {"channels", t->channels()},
                       {"channel_lo", t->channel_lo},
                       {"channel_hi", t->channel_hi},
                       {"calls", 1}});
  });
  return out;
}

std::vector<std::string> warnings_in(std::string_view log, std::size_t limit) {
  std::vector<std::string> out;
  for_each_line(log, [&](std::string_view line) {
    const auto at = line.find("NCCL WARN ");
    if (at == std::string_view::npos || out.size() >= limit) return;
    out.emplace_back(line.substr(at + 10));
  });
  return out;
}

}  // namespace fabricbench::transport::nccl
