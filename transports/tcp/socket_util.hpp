#pragma once
// Small socket helpers for the TCP transport (internal).
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace fabricbench::transport::tcp {

// Owns one file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = other.release();
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  int release() noexcept {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset() noexcept;

 private:
  int fd_ = -1;
};

// strerror text for an errno value (thread-safe).
std::string errno_text(int err);

// An IPv4 or IPv6 socket address.
struct SockAddr {
  sockaddr_storage storage{};
  socklen_t length = 0;

  int family() const noexcept { return storage.ss_family; }
  const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&storage); }
  sockaddr* get() noexcept { return reinterpret_cast<sockaddr*>(&storage); }
  std::uint16_t port() const noexcept;
  void set_port(std::uint16_t port) noexcept;
  bool is_loopback() const noexcept;
  bool is_wildcard() const noexcept;
  // "127.0.0.1:4000", "[::1]:4000"; without the port when with_port is false.
  std::string to_string(bool with_port = true) const;
};

// Parses "host:port" / "[v6]:port" with a numeric host. Returns false when it does not parse.
bool parse_endpoint(std::string_view text, SockAddr& out);

// The local address to bind and advertise, from the transport options. Throws
// core::Error(config) naming the bad option.
struct LocalAddress {
  SockAddr address;       // port 0
  std::string interface;  // for SO_BINDTODEVICE, may be empty
};
LocalAddress resolve_local_address(const std::string& address, const std::string& interface,
                                   const std::string& family);

// getsockname / getpeername as text ("?" when it fails).
std::string local_name(int fd);
std::string peer_name(int fd);

}  // namespace fabricbench::transport::tcp
