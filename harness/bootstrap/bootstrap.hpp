#pragma once
// Rank bootstrap: who am I, how many are we, and a side channel to agree and exchange.
//
// Every collective is bounded in time: if a rank dies (its side-channel connection closes) or
// stops answering within `timeout`, every other rank's pending or next collective throws
// core::Error(ErrorKind::peer_lost or ErrorKind::timeout) whose message names the lost rank,
// e.g. "rank 1 (host-a, pid 4242) lost: side channel closed during barrier".
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace fabricbench::bootstrap {

class Bootstrap {
 public:
  virtual ~Bootstrap() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // "local", "mpi" or "env".
  virtual std::string launcher() const = 0;
  virtual void barrier() = 0;
  // Every rank contributes `mine`; everyone gets all contributions indexed by rank.
  virtual std::vector<std::string> allgather(const std::string& mine) = 0;
  // The root's `data` reaches every rank (other ranks' argument is ignored).
  virtual std::string broadcast(int root, const std::string& data) = 0;
  // Tell every rank to fail now with `reason` (best effort, never blocks longer than timeout).
  virtual void abort(const std::string& reason) noexcept = 0;
};

struct Options {
  std::chrono::milliseconds timeout{30'000};  // bound on every wait for a peer
};

}  // namespace fabricbench::bootstrap
