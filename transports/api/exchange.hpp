#pragma once
// What a transport needs from the ranks' side channel while it connects: which rank this is, how
// many ranks there are, and one collective to swap what each rank publishes (addresses, tokens,
// queue pair numbers, ...). The harness implements it over its bootstrap
// (harness/engine/bootstrap_exchange.hpp); transports never see the launcher behind it.
#include <string>
#include <vector>

namespace fabricbench::transport {

class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Collective: every rank contributes `mine`; everyone gets all contributions indexed by rank.
  // Bounded in time: when a rank dies or stops answering, throws core::Error(peer_lost or
  // timeout) naming the lost rank.
  virtual std::vector<std::string> allgather(const std::string& mine) = 0;
  // This host's address on the side channel's path to the other ranks (numeric, no port): the
  // address the other hosts already reached this one through, which a transport's data
  // connections may default to. "" when unknown; a loopback address when all ranks share a host.
  virtual std::string local_address() const { return {}; }
};

}  // namespace fabricbench::transport
