// The mpi launcher: MPI gives rank and size and carries rank 0's address and the secret; every
// collective then goes over the side channel, so timeouts and lost-rank reports behave as with
// the other launchers.
#include <cstdlib>
#include <memory>
#include <string>

#include "core/error.hpp"
#include "harness/bootstrap/launchers.hpp"
#include "harness/bootstrap/side_channel.hpp"

#if defined(FABRICBENCH_HAVE_MPI) && FABRICBENCH_HAVE_MPI
// The C API only: Open MPI's and MPICH's mpi.h otherwise drag in their deprecated C++ bindings,
// which need libmpi_cxx.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "harness/bootstrap/addresses.hpp"
#include "harness/bootstrap/net.hpp"
#endif

namespace fabricbench::bootstrap {

#if defined(FABRICBENCH_HAVE_MPI) && FABRICBENCH_HAVE_MPI

namespace {

using core::Error;
using core::ErrorKind;

// What each rank tells the others: "host\naddr/prefix,addr/prefix..." in a fixed-size record.
constexpr int kRecordBytes = 2048;

struct HostRecord {
  std::string host;
  std::vector<InterfaceAddress> addresses;
};

// This rank's record; addresses that do not fit are left out (whole entries).
std::string my_record() {
  std::string record = net::hostname().substr(0, 255) + "\n";
  for (const auto& a : local_interface_addresses()) {
    const std::string entry = a.address + "/" + std::to_string(a.prefix);
    const std::size_t extra = entry.size() + (record.back() == '\n' ? 0 : 1);
    if (record.size() + extra >= kRecordBytes) break;
    if (record.back() != '\n') record += ',';
    record += entry;
  }
  return record;
}

HostRecord parse_record(std::string_view text) {
  const auto newline = text.find('\n');
  if (newline == std::string_view::npos) return {std::string(text), {}};
  return {std::string(text.substr(0, newline)),
          parse_interface_addresses(text.substr(newline + 1))};
}

void check_mpi(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  std::array<char, MPI_MAX_ERROR_STRING> text{};
  int len = 0;
  MPI_Error_string(rc, text.data(), &len);
  throw Error(ErrorKind::runtime,
              std::string("mpi launcher: ") + call + " failed: " + std::string(text.data(), len));
}

// The first non-loopback IPv4 address `host` resolves to.
std::string first_ipv4(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0) return {};
  std::string out;
  for (addrinfo* ai = found; ai != nullptr && out.empty(); ai = ai->ai_next) {
    sockaddr_in sin{};
    std::memcpy(&sin, ai->ai_addr, sizeof sin);
    if ((ntohl(sin.sin_addr.s_addr) >> 24) == 127) continue;
    std::array<char, NI_MAXHOST> text{};
    if (::getnameinfo(ai->ai_addr, ai->ai_addrlen, text.data(), text.size(), nullptr, 0,
                      NI_NUMERICHOST) == 0) {
      out = text.data();
    }
  }
  ::freeaddrinfo(found);
  return out;
}

// FABRICBENCH_BOOTSTRAP_ADDRESS: "10.0.0.1", "[fd00::1]", or either with ":port".
net::HostPort configured_address(const std::string& text) {
  const bool bracketed = text.front() == '[';
  const bool has_port = bracketed ? text.find("]:") != std::string::npos
                                  : std::count(text.begin(), text.end(), ':') == 1;
  if (has_port) return net::parse_host_port(text, "FABRICBENCH_BOOTSTRAP_ADDRESS", true);
  return {bracketed ? text.substr(1, text.size() - 2) : text, 0};
}

// Rank 0: a listener and the "host:port" the other ranks connect to. Every rank on this host:
// loopback. Otherwise FABRICBENCH_BOOTSTRAP_ADDRESS when set; else rank 0's own interface
// address whose subnet holds an address of every other host; else its host name's first
// non-loopback IPv4 address.
std::string listen_for_peers(const std::vector<HostRecord>& hosts, net::Fd& listener) {
  bool one_host = true;
  for (const auto& h : hosts) one_host = one_host && h.host == hosts[0].host;
  net::HostPort bind_to{"127.0.0.1", 0};
  if (!one_host) {
    const char* configured = std::getenv("FABRICBENCH_BOOTSTRAP_ADDRESS");
    if (configured != nullptr && configured[0] != '\0') {
      bind_to = configured_address(configured);
    } else {
      // One address list per other host (ranks sharing rank 0's host need no route).
      std::vector<std::vector<InterfaceAddress>> others;
      std::vector<std::string> seen{hosts[0].host};
      for (const auto& h : hosts) {
        if (std::find(seen.begin(), seen.end(), h.host) != seen.end()) continue;
        seen.push_back(h.host);
        others.push_back(h.addresses);
      }
      const auto chosen = choose_root_address(hosts[0].addresses, others);
      bind_to.host = chosen ? *chosen : first_ipv4(hosts[0].host);
      if (bind_to.host.empty()) {
        throw Error(ErrorKind::unavailable,
                    "mpi launcher: none of rank 0's addresses (" +
                        format_interface_addresses(hosts[0].addresses) +
                        ") shares a subnet with every other host, and rank 0's host name '" +
                        hosts[0].host +
                        "' resolves to no non-loopback IPv4 address; set "
                        "FABRICBENCH_BOOTSTRAP_ADDRESS to one the other hosts reach");
      }
    }
  }
  listener = net::listen_on(bind_to);
  return net::format_host_port(bind_to.host, net::local_port(listener.get()));
}

class MpiBootstrap final : public Bootstrap {
 public:
  MpiBootstrap(std::unique_ptr<SideChannel> channel, bool finalize)
      : channel_(std::move(channel)), finalize_(finalize) {}
  ~MpiBootstrap() override {
    const bool failed = channel_->failed();
    channel_.reset();
    // MPI_Finalize is collective: after a failure another rank may never reach it, and no wait
    // may be unbounded, so a failed run leaves it to the process exit.
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalize_ && !failed && finalized == 0) MPI_Finalize();
  }
  MpiBootstrap(const MpiBootstrap&) = delete;
  MpiBootstrap& operator=(const MpiBootstrap&) = delete;

  int rank() const override { return channel_->rank(); }
  int size() const override { return channel_->size(); }
  std::string launcher() const override { return "mpi"; }
  void barrier() override { channel_->barrier(); }
  std::vector<std::string> allgather(const std::string& mine) override {
    return channel_->allgather(mine);
  }
  std::vector<std::string> gather(const std::string& mine) override {
    return channel_->gather(mine);
  }
  std::string local_address() const override { return channel_->local_address(); }
  std::uint64_t join_ns() const override { return channel_->join_ns(); }
  std::string broadcast(int root, const std::string& data) override {
    return channel_->broadcast(root, data);
  }
  void abort(const std::string& reason) noexcept override { channel_->abort(reason); }
  void wait_for_root_to_finish() noexcept override { channel_->wait_for_root_to_finish(); }
  std::vector<int> liveness_fds() const override { return channel_->liveness_fds(); }

 private:
  std::unique_ptr<SideChannel> channel_;
  bool finalize_;
};

}  // namespace

bool mpi_available() noexcept {
  return true;
}

std::unique_ptr<Bootstrap> make_mpi_bootstrap(const Options& options) {
  int initialized = 0;
  check_mpi(MPI_Initialized(&initialized), "MPI_Initialized");
  bool finalize = false;
  if (initialized == 0) {
    // As IMB and nccl-tests do (MPI_Init): only the main thread ever calls MPI; fabricbench's
    // other threads (the collectives' progress watch, the side channel) never do. Asking for
    // MPI_THREAD_FUNNELED instead costs Open MPI 4.1 about 0.15 us per collective here (an
    // 8-byte MPI_Allreduce of 0.30 us takes 0.45 us), which the peer tools do not pay.
    check_mpi(MPI_Init(nullptr, nullptr), "MPI_Init");
    finalize = true;
  }
  int rank = 0;
  int size = 0;
  check_mpi(MPI_Comm_rank(MPI_COMM_WORLD, &rank), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(MPI_COMM_WORLD, &size), "MPI_Comm_size");

  std::vector<char> mine(kRecordBytes, '\0');
  const std::string record = my_record();
  std::copy(record.begin(), record.end(), mine.begin());
  std::vector<char> all(static_cast<std::size_t>(kRecordBytes) * static_cast<std::size_t>(size));
  check_mpi(MPI_Allgather(mine.data(), kRecordBytes, MPI_CHAR, all.data(), kRecordBytes, MPI_CHAR,
                          MPI_COMM_WORLD),
            "MPI_Allgather");
  std::vector<HostRecord> hosts;
  for (int r = 0; r < size; ++r) {
    const char* entry = all.data() + static_cast<std::ptrdiff_t>(r) * kRecordBytes;
    hosts.push_back(parse_record(std::string_view(entry, strnlen(entry, kRecordBytes))));
  }

  // Rank 0 sends "+address\nsecret", or "!reason" when it could not listen, so that every rank
  // fails with the reason instead of waiting.
  net::Fd listener;
  std::string message;
  if (rank == 0) {
    try {
      const std::string address = listen_for_peers(hosts, listener);
      message = "+" + address + "\n" + generate_secret();
    } catch (const std::exception& e) {
      message = std::string("!") + e.what();
    }
  }
  std::uint64_t length = message.size();
  check_mpi(MPI_Bcast(&length, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD), "MPI_Bcast");
  message.resize(static_cast<std::size_t>(length));
  check_mpi(MPI_Bcast(message.data(), static_cast<int>(length), MPI_CHAR, 0, MPI_COMM_WORLD),
            "MPI_Bcast");
  if (message.empty() || message[0] != '+') {
    throw Error(ErrorKind::unavailable,
                "mpi launcher: rank 0 could not open the side channel: " +
                    (message.empty() ? std::string("no reason given") : message.substr(1)));
  }
  const auto newline = message.find('\n');
  SideChannelConfig config;
  config.rank = rank;
  config.size = size;
  config.launcher = "mpi";
  config.root_address = message.substr(1, newline - 1);
  config.secret = message.substr(newline + 1);
  config.listen_fd = rank == 0 ? listener.release() : -1;
  config.options = options;
  return std::make_unique<MpiBootstrap>(open_side_channel(config), finalize);
}

#else

bool mpi_available() noexcept {
  return false;
}

std::unique_ptr<Bootstrap> make_mpi_bootstrap(const Options& /*options*/) {
  throw core::Error(core::ErrorKind::unavailable, "mpi launcher: built without MPI");
}

#endif

}  // namespace fabricbench::bootstrap
