#pragma once
// Socket helpers of the side channel (internal to harness/bootstrap and its tests).
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace fabricbench::bootstrap::net {

using Clock = std::chrono::steady_clock;

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  int release() noexcept;
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

struct HostPort {
  std::string host;  // without brackets; may be a name
  std::uint16_t port = 0;
};

// "127.0.0.1:5000", "[::1]:5000", "node-a:5000". Throws core::Error(usage) naming `what`
// (e.g. "FABRICBENCH_ROOT") when malformed; port 0 only when allow_port_zero.
HostPort parse_host_port(std::string_view text, std::string_view what, bool allow_port_zero);
// Adds brackets around IPv6 literals.
std::string format_host_port(std::string_view host, std::uint16_t port);

// A listening TCP socket (close-on-exec, SO_REUSEADDR) on the first address `where` resolves
// to. Throws core::Error(runtime) with the address and errno text.
Fd listen_on(const HostPort& where);

// Numeric "addr:port" of a socket's local or remote end ("?" when unknown).
std::string local_address(int fd);
std::string remote_address(int fd);
// Numeric address of a socket's local end, without the port ("" when unknown).
std::string local_host(int fd);
std::uint16_t local_port(int fd);

std::string hostname();
void set_nonblocking(int fd);
std::string errno_text(int err);

// Milliseconds left until `deadline` for poll(), rounded up, 0 when passed.
int poll_ms(Clock::time_point deadline);

}  // namespace fabricbench::bootstrap::net
