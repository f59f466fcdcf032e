#pragma once
// Rank bootstrap: who am I, how many are we, and a side channel to agree and exchange.
//
// Every collective is bounded in time: if a rank dies (its side-channel connection closes) or
// stops answering within `timeout`, every other rank's pending or next collective throws
// core::Error(ErrorKind::peer_lost or ErrorKind::timeout) whose message names the lost rank,
// e.g. "rank 1 (host-a, pid 4242) lost: side channel closed during barrier".
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace fabricbench::bootstrap {

class Bootstrap {
 public:
  virtual ~Bootstrap() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // "local", "mpi", "slurm" or "env".
  virtual std::string launcher() const = 0;
  virtual void barrier() = 0;
  // Every rank contributes `mine`; everyone gets all contributions indexed by rank.
  virtual std::vector<std::string> allgather(const std::string& mine) = 0;
  // Every rank contributes `mine`; rank 0 gets all contributions indexed by rank, the others an
  // empty vector (what only rank 0 keeps, such as envelopes and results, need not reach every
  // rank). The default is an allgather; the side channel sends the others nothing back.
  virtual std::vector<std::string> gather(const std::string& mine) {
    auto all = allgather(mine);
    if (rank() != 0) all.clear();
    return all;
  }
  // The root's `data` reaches every rank (other ranks' argument is ignored).
  virtual std::string broadcast(int root, const std::string& data) = 0;
  // Tell every rank to fail now with `reason` (best effort, never blocks longer than timeout).
  virtual void abort(const std::string& reason) noexcept = 0;
  // After a failure, on a rank other than 0: wait (at most about timeout / 4, 1..10 s) until rank
  // 0 has closed its end (it is writing the run document), so that a launcher which kills the
  // whole job when one rank exits with an error cannot cut the document short. Returns at once
  // on rank 0, before a failure, or when rank 0 is gone. Also done when the object is destroyed.
  virtual void wait_for_root_to_finish() noexcept {}
  // This host's address on the side channel's path to the other ranks (numeric, no port): the
  // local end of this rank's connection to rank 0, or on rank 0 the local end of its first
  // admitted peer's. The address the other hosts reached this one through, so data connections
  // may default to it. "" when unknown or when size is 1.
  virtual std::string local_address() const { return {}; }
  // How long this rank took to join the side channel (rank 0: from listening until every rank
  // was admitted), in ns; 0 when unknown. The harness's own start-up cost at scale.
  virtual std::uint64_t join_ns() const { return 0; }
  // Sockets a watcher may poll, never read, while this rank is away from the side channel (in a
  // repetition), to learn at once that the run is failing: on rank 0 every peer's connection,
  // where a hang-up (POLLHUP, POLLRDHUP, POLLERR) means that rank is gone; on the others the
  // connection to rank 0, where anything readable is rank 0's abort (it sends nothing else
  // between collectives) and a hang-up means rank 0 is gone. The next collective then reads the
  // verdict, naming the rank. Valid until the next collective; empty when there is nothing to
  // watch.
  virtual std::vector<int> liveness_fds() const { return {}; }
};

struct Options {
  std::chrono::milliseconds timeout{30'000};  // bound on every wait for a peer
  // The local launcher's forked rank, about to exit 1 because an error escaped its body (or its
  // side channel could not connect), hands the error here; the library never prints, the caller
  // says it (the CLI: "rank N: <what>" on stderr). Unset: the exit code and the parent's report
  // say it alone.
  std::function<void(int rank, const std::string& what)> on_rank_error{};
};

}  // namespace fabricbench::bootstrap
