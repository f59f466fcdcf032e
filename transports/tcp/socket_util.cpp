#include "transports/tcp/socket_util.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "core/error.hpp"

namespace fabricbench::transport::tcp {

using core::Error;
using core::ErrorKind;

void UniqueFd::reset() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::string errno_text(int err) {
  char buf[256];
  // GNU strerror_r: returns a pointer to the text (maybe not buf).
  const char* text = strerror_r(err, buf, sizeof buf);
  return text != nullptr ? std::string(text) : "errno " + std::to_string(err);
}

namespace {

const sockaddr_in* as_v4(const SockAddr& a) noexcept {
  return reinterpret_cast<const sockaddr_in*>(&a.storage);
}
const sockaddr_in6* as_v6(const SockAddr& a) noexcept {
  return reinterpret_cast<const sockaddr_in6*>(&a.storage);
}

SockAddr from_sockaddr(const sockaddr* sa) {
  SockAddr out;
  if (sa->sa_family == AF_INET) {
    std::memcpy(&out.storage, sa, sizeof(sockaddr_in));
    out.length = sizeof(sockaddr_in);
  } else if (sa->sa_family == AF_INET6) {
    std::memcpy(&out.storage, sa, sizeof(sockaddr_in6));
    out.length = sizeof(sockaddr_in6);
  }
  return out;
}

int family_of(const std::string& family) {
  if (family == "auto" || family.empty()) return AF_UNSPEC;
  if (family == "ipv4") return AF_INET;
  if (family == "ipv6") return AF_INET6;
  throw Error(ErrorKind::config, "tcp: unknown family '" + family + "' (known: auto, ipv4, ipv6)");
}

const char* family_name(int family) {
  return family == AF_INET6 ? "ipv6" : "ipv4";
}

bool parse_numeric(const std::string& host, int family, SockAddr& out) {
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST;
  addrinfo* result = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &result) != 0 || result == nullptr) {
    return false;
  }
  out = from_sockaddr(result->ai_addr);
  ::freeaddrinfo(result);
  return out.length != 0;
}

bool looks_numeric(const std::string& host) {
  if (host.find(':') != std::string::npos) return true;  // IPv6 literal (host names have none)
  for (const char c : host) {
    if ((c < '0' || c > '9') && c != '.') return false;
  }
  return true;
}

struct IfaddrsDeleter {
  void operator()(ifaddrs* p) const noexcept { ::freeifaddrs(p); }
};

// Addresses of `interface` of `family` (AF_UNSPEC: both), non-link-local first.
std::vector<SockAddr> interface_addresses(const std::string& interface, int family,
                                          bool& interface_exists) {
  ifaddrs* raw = nullptr;
  if (::getifaddrs(&raw) != 0) {
    throw Error(ErrorKind::config, "tcp: getifaddrs failed: " + errno_text(errno));
  }
  std::unique_ptr<ifaddrs, IfaddrsDeleter> list(raw);
  std::vector<SockAddr> preferred;
  std::vector<SockAddr> link_local;
  interface_exists = false;
  for (ifaddrs* it = list.get(); it != nullptr; it = it->ifa_next) {
    if (it->ifa_name == nullptr || interface != it->ifa_name) continue;
    interface_exists = true;
    if (it->ifa_addr == nullptr) continue;
    const int f = it->ifa_addr->sa_family;
    if (f != AF_INET && f != AF_INET6) continue;
    if (family != AF_UNSPEC && f != family) continue;
    SockAddr a = from_sockaddr(it->ifa_addr);
    a.set_port(0);
    if (f == AF_INET6 && IN6_IS_ADDR_LINKLOCAL(&as_v6(a)->sin6_addr)) {
      link_local.push_back(a);
    } else {
      preferred.push_back(a);
    }
  }
  // IPv4 before IPv6 for family auto, keeping the interface's own order otherwise.
  std::vector<SockAddr> out;
  for (const auto& a : preferred) {
    if (a.family() == AF_INET) out.push_back(a);
  }
  for (const auto& a : preferred) {
    if (a.family() == AF_INET6) out.push_back(a);
  }
  out.insert(out.end(), link_local.begin(), link_local.end());
  return out;
}

bool same_host(const SockAddr& a, const SockAddr& b) {
  if (a.family() != b.family()) return false;
  if (a.family() == AF_INET) return as_v4(a)->sin_addr.s_addr == as_v4(b)->sin_addr.s_addr;
  return std::memcmp(&as_v6(a)->sin6_addr, &as_v6(b)->sin6_addr, sizeof(in6_addr)) == 0;
}

}  // namespace

std::uint16_t SockAddr::port() const noexcept {
  if (family() == AF_INET) return ntohs(as_v4(*this)->sin_port);
  if (family() == AF_INET6) return ntohs(as_v6(*this)->sin6_port);
  return 0;
}

void SockAddr::set_port(std::uint16_t port) noexcept {
  if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&storage)->sin_port = htons(port);
  if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port = htons(port);
}

bool SockAddr::is_loopback() const noexcept {
  if (family() == AF_INET) return (ntohl(as_v4(*this)->sin_addr.s_addr) >> 24) == 127;
  if (family() == AF_INET6) return IN6_IS_ADDR_LOOPBACK(&as_v6(*this)->sin6_addr) != 0;
  return false;
}

bool SockAddr::is_wildcard() const noexcept {
  if (family() == AF_INET) return as_v4(*this)->sin_addr.s_addr == htonl(INADDR_ANY);
  if (family() == AF_INET6) return IN6_IS_ADDR_UNSPECIFIED(&as_v6(*this)->sin6_addr) != 0;
  return false;
}

std::string SockAddr::to_string(bool with_port) const {
  char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2] = {};
  if (family() == AF_INET) {
    ::inet_ntop(AF_INET, &as_v4(*this)->sin_addr, host, sizeof host);
    std::string out(host);
    return with_port ? out + ":" + std::to_string(port()) : out;
  }
  if (family() == AF_INET6) {
    ::inet_ntop(AF_INET6, &as_v6(*this)->sin6_addr, host, INET6_ADDRSTRLEN);
    std::string out(host);
    if (const auto scope = as_v6(*this)->sin6_scope_id; scope != 0) {
      char name[IF_NAMESIZE] = {};
      out += "%";
      out += ::if_indextoname(scope, name) != nullptr ? std::string(name) : std::to_string(scope);
    }
    return with_port ? "[" + out + "]:" + std::to_string(port()) : out;
  }
  return "?";
}

bool parse_endpoint(std::string_view text, SockAddr& out) {
  std::string host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return false;
    }
    host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return false;
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string::npos) return false;  // bare IPv6 needs brackets
  }
  if (port_text.empty() || port_text.size() > 5) return false;
  unsigned port = 0;
  for (const char c : port_text) {
    if (c < '0' || c > '9') return false;
    port = port * 10 + static_cast<unsigned>(c - '0');
  }
  if (port == 0 || port > 65535) return false;
  if (!parse_numeric(host, AF_UNSPEC, out)) return false;
  out.set_port(static_cast<std::uint16_t>(port));
  return true;
}

LocalAddress resolve_local_address(const std::string& address, const std::string& interface,
                                   const std::string& family) {
  const int want = family_of(family);
  LocalAddress out;
  out.interface = interface;
  if (!interface.empty() && interface.size() >= IF_NAMESIZE) {
    throw Error(ErrorKind::config, "tcp: interface name '" + interface + "' is too long");
  }
  std::vector<SockAddr> on_interface;
  if (!interface.empty()) {
    bool exists = false;
    on_interface = interface_addresses(interface, want, exists);
    if (!exists) {
      throw Error(ErrorKind::config, "tcp: interface '" + interface + "' does not exist");
    }
  }

  if (address.empty() || address == "auto") {
    if (!interface.empty()) {
      if (on_interface.empty()) {
        throw Error(ErrorKind::config, "tcp: interface '" + interface + "' has no " +
                                           (want == AF_UNSPEC ? std::string("IPv4 or IPv6")
                                                              : std::string(family_name(want))) +
                                           " address");
      }
      out.address = on_interface.front();
      return out;
    }
    parse_numeric(want == AF_INET6 ? "::1" : "127.0.0.1", want == AF_INET6 ? AF_INET6 : AF_INET,
                  out.address);
    return out;
  }

  if (looks_numeric(address)) {
    if (!parse_numeric(address, AF_UNSPEC, out.address)) {
      throw Error(ErrorKind::config,
                  "tcp: address '" + address + "' is not a valid IPv4 or IPv6 address");
    }
    if (want != AF_UNSPEC && out.address.family() != want) {
      throw Error(ErrorKind::config, "tcp: address '" + address + "' is " +
                                         family_name(out.address.family()) + " but family is " +
                                         family);
    }
  } else {
    addrinfo hints{};
    hints.ai_family = want;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* result = nullptr;
    const int rc = ::getaddrinfo(address.c_str(), nullptr, &hints, &result);
    if (rc != 0 || result == nullptr) {
      throw Error(ErrorKind::config, "tcp: cannot resolve address '" + address + "'" +
                                         (want != AF_UNSPEC ? " as " + family : std::string()) +
                                         ": " + ::gai_strerror(rc));
    }
    out.address = from_sockaddr(result->ai_addr);
    ::freeaddrinfo(result);
  }
  out.address.set_port(0);
  if (out.address.is_wildcard()) {
    throw Error(ErrorKind::config,
                "tcp: address '" + address +
                    "' is a wildcard and cannot be advertised to peers; give a concrete address, "
                    "or an interface with address auto");
  }
  if (!interface.empty()) {
    bool found = false;
    std::string listed;
    for (const auto& a : on_interface) {
      found = found || same_host(a, out.address);
      if (!listed.empty()) listed += ", ";
      listed += a.to_string(false);
    }
    if (!found) {
      throw Error(ErrorKind::config, "tcp: address " + out.address.to_string(false) +
                                         " is not on interface '" + interface +
                                         "' (it has: " + (listed.empty() ? "none" : listed) +
                                         "); use address auto to take the interface's");
    }
  }
  return out;
}

std::string local_name(int fd) {
  SockAddr a;
  a.length = sizeof a.storage;
  if (::getsockname(fd, a.get(), &a.length) != 0) return "?";
  return a.to_string();
}

std::string peer_name(int fd) {
  SockAddr a;
  a.length = sizeof a.storage;
  if (::getpeername(fd, a.get(), &a.length) != 0) return "?";
  return a.to_string();
}

}  // namespace fabricbench::transport::tcp
