#include "harness/bootstrap/addresses.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <memory>

#include "core/error.hpp"

namespace fabricbench::bootstrap {

namespace {

using core::Error;
using core::ErrorKind;

// An address's bytes (4 or 16) or empty when it is not numeric.
std::vector<unsigned char> address_bytes(std::string_view text) {
  const std::string s(text);
  if (s.find(':') != std::string::npos) {
    std::array<unsigned char, 16> v6{};
    if (::inet_pton(AF_INET6, s.c_str(), v6.data()) == 1) return {v6.begin(), v6.end()};
    return {};
  }
  std::array<unsigned char, 4> v4{};
  if (::inet_pton(AF_INET, s.c_str(), v4.data()) == 1) return {v4.begin(), v4.end()};
  return {};
}

// The prefix length of a netmask (its leading one bits).
int prefix_of(const unsigned char* mask, std::size_t bytes) {
  int prefix = 0;
  for (std::size_t i = 0; i < bytes; ++i) {
    for (int bit = 7; bit >= 0; --bit) {
      if ((mask[i] & (1U << static_cast<unsigned>(bit))) == 0) return prefix;
      ++prefix;
    }
  }
  return prefix;
}

std::string numeric(const sockaddr* sa) {
  std::array<char, INET6_ADDRSTRLEN> text{};
  const void* where =
      sa->sa_family == AF_INET
          ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(sa)->sin_addr)
          : static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr);
  if (::inet_ntop(sa->sa_family, where, text.data(), text.size()) == nullptr) return {};
  return text.data();
}

struct IfaddrsDeleter {
  void operator()(ifaddrs* p) const noexcept { ::freeifaddrs(p); }
};

[[noreturn]] void bad_hostlist(std::string_view list, const std::string& why) {
  throw Error(ErrorKind::usage, "host list '" + std::string(list) + "': " + why);
}

constexpr std::size_t kMaxHosts = 65536;

// Splits at commas outside brackets.
std::vector<std::string_view> split_top(std::string_view list, std::string_view whole) {
  std::vector<std::string_view> out;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (list[i] == '[') {
      if (++depth > 1) bad_hostlist(whole, "nested '['");
    } else if (list[i] == ']') {
      if (--depth < 0) bad_hostlist(whole, "']' without '['");
    } else if (list[i] == ',' && depth == 0) {
      out.push_back(list.substr(start, i - start));
      start = i + 1;
    }
  }
  if (depth != 0) bad_hostlist(whole, "'[' without ']'");
  out.push_back(list.substr(start));
  return out;
}

unsigned long parse_bound(std::string_view text, std::string_view whole) {
  if (text.size() > 9) bad_hostlist(whole, "'" + std::string(text) + "' is too long a number");
  unsigned long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    bad_hostlist(whole, "'" + std::string(text) + "' inside brackets is not a number");
  }
  return value;
}

std::string padded(unsigned long value, std::size_t width) {
  std::string digits = std::to_string(value);
  if (digits.size() < width) digits.insert(0, width - digits.size(), '0');
  return digits;
}

// The values of one bracket group's body ("1-3,07"), formatted.
std::vector<std::string> expand_ranges(std::string_view body, std::string_view whole) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= body.size()) {
    auto comma = body.find(',', start);
    if (comma == std::string_view::npos) comma = body.size();
    const std::string_view item = body.substr(start, comma - start);
    const auto dash = item.find('-');
    const std::string_view lo_text = item.substr(0, dash);
    const unsigned long lo = parse_bound(lo_text, whole);
    const unsigned long hi =
        dash == std::string_view::npos ? lo : parse_bound(item.substr(dash + 1), whole);
    if (hi < lo) bad_hostlist(whole, "range '" + std::string(item) + "' runs backwards");
    if (hi - lo >= kMaxHosts) bad_hostlist(whole, "more than 65536 names");
    for (unsigned long v = lo; v <= hi; ++v) out.push_back(padded(v, lo_text.size()));
    start = comma + 1;
  }
  return out;
}

// One name with any number of bracket groups, appended to `out`.
void expand_name(std::string_view name, std::string_view whole, std::vector<std::string>& out) {
  const auto open = name.find('[');
  if (open == std::string_view::npos) {
    out.emplace_back(name);
    return;
  }
  const auto close = name.find(']', open);
  const std::string prefix(name.substr(0, open));
  const std::string_view rest = name.substr(close + 1);
  for (const auto& value : expand_ranges(name.substr(open + 1, close - open - 1), whole)) {
    std::vector<std::string> tails;
    expand_name(rest, whole, tails);
    for (auto& tail : tails) {
      if (out.size() >= kMaxHosts) bad_hostlist(whole, "more than 65536 names");
      out.push_back(prefix + value + tail);
    }
  }
}

}  // namespace

std::vector<InterfaceAddress> local_interface_addresses() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return {};
  std::unique_ptr<ifaddrs, IfaddrsDeleter> guard(list);
  std::vector<InterfaceAddress> out;
  for (const ifaddrs* ia = list; ia != nullptr; ia = ia->ifa_next) {
    if (ia->ifa_addr == nullptr || ia->ifa_netmask == nullptr) continue;
    if ((ia->ifa_flags & IFF_UP) == 0 || (ia->ifa_flags & IFF_LOOPBACK) != 0) continue;
    const int family = ia->ifa_addr->sa_family;
    InterfaceAddress a;
    if (family == AF_INET) {
      const auto* mask = reinterpret_cast<const sockaddr_in*>(ia->ifa_netmask);
      a.prefix = prefix_of(reinterpret_cast<const unsigned char*>(&mask->sin_addr), 4);
    } else if (family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(ia->ifa_addr);
      if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr) || IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr)) {
        continue;
      }
      const auto* mask = reinterpret_cast<const sockaddr_in6*>(ia->ifa_netmask);
      a.prefix = prefix_of(reinterpret_cast<const unsigned char*>(&mask->sin6_addr), 16);
    } else {
      continue;
    }
    a.address = numeric(ia->ifa_addr);
    if (!a.address.empty()) out.push_back(std::move(a));
  }
  return out;
}

std::string format_interface_addresses(const std::vector<InterfaceAddress>& addresses) {
  std::string out;
  for (const auto& a : addresses) {
    if (!out.empty()) out += ',';
    out += a.address + "/" + std::to_string(a.prefix);
  }
  return out;
}

std::vector<InterfaceAddress> parse_interface_addresses(std::string_view text) {
  std::vector<InterfaceAddress> out;
  std::size_t start = 0;
  while (start < text.size()) {
    auto comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view item = text.substr(start, comma - start);
    start = comma + 1;
    const auto slash = item.rfind('/');
    if (slash == std::string_view::npos) continue;
    InterfaceAddress a{std::string(item.substr(0, slash)), 0};
    const std::string_view prefix = item.substr(slash + 1);
    const auto [end, ec] = std::from_chars(prefix.data(), prefix.data() + prefix.size(), a.prefix);
    const auto bytes = address_bytes(a.address);
    if (ec != std::errc() || end != prefix.data() + prefix.size() || bytes.empty() ||
        a.prefix < 0 || a.prefix > static_cast<int>(bytes.size() * 8)) {
      continue;
    }
    out.push_back(std::move(a));
  }
  return out;
}

bool in_subnet(const InterfaceAddress& network, std::string_view address) {
  const auto net = address_bytes(network.address);
  const auto other = address_bytes(address);
  if (net.empty() || net.size() != other.size()) return false;
  if (network.prefix < 0 || network.prefix > static_cast<int>(net.size() * 8)) return false;
  const auto full = static_cast<std::size_t>(network.prefix / 8);
  if (!std::equal(net.begin(), net.begin() + static_cast<std::ptrdiff_t>(full), other.begin())) {
    return false;
  }
  const int rest = network.prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<unsigned char>(0xFFU << static_cast<unsigned>(8 - rest));
  return (net[full] & mask) == (other[full] & mask);
}

std::optional<std::string> choose_root_address(
    const std::vector<InterfaceAddress>& root,
    const std::vector<std::vector<InterfaceAddress>>& others) {
  if (others.empty()) return std::nullopt;
  for (const auto& mine : root) {
    const bool reaches_all =
        std::all_of(others.begin(), others.end(), [&](const std::vector<InterfaceAddress>& host) {
          return std::any_of(host.begin(), host.end(), [&](const InterfaceAddress& theirs) {
            return in_subnet(mine, theirs.address);
          });
        });
    if (reaches_all) return mine.address;
  }
  return std::nullopt;
}

std::vector<std::string> expand_hostlist(std::string_view list) {
  std::vector<std::string> out;
  for (const auto name : split_top(list, list)) {
    if (name.empty()) continue;
    expand_name(name, list, out);
  }
  return out;
}

}  // namespace fabricbench::bootstrap
