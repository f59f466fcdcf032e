#pragma once
// The transports' side channel (transport::Exchange) over the ranks' bootstrap: what the engine
// hands to Transport::connect().
#include <string>
#include <vector>

#include "harness/bootstrap/bootstrap.hpp"
#include "transports/api/exchange.hpp"

namespace fabricbench::engine {

class BootstrapExchange final : public transport::Exchange {
 public:
  explicit BootstrapExchange(bootstrap::Bootstrap& bootstrap) noexcept : bootstrap_(bootstrap) {}

  int rank() const override { return bootstrap_.rank(); }
  int size() const override { return bootstrap_.size(); }
  std::vector<std::string> allgather(const std::string& mine) override {
    return bootstrap_.allgather(mine);
  }
  std::string local_address() const override { return bootstrap_.local_address(); }

 private:
  bootstrap::Bootstrap& bootstrap_;
};

}  // namespace fabricbench::engine
