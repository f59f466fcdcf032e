#pragma once
// The contract every transport passes (transports/api/transport.hpp's rules), as a
// value-parameterized GoogleTest suite. A transport joins by instantiating it with its variants:
//
//   std::unique_ptr<Transport> make_mine(const std::string& variant) { ... }
//   INSTANTIATE_TEST_SUITE_P(Mine, TransportContract,
//       ::testing::Values(ContractVariant{"ipv4_busy_poll", &make_mine}, ...),
//       contract_variant_name);
//
// and linking the fb_transport_contract object library (see tests/contract/CMakeLists.txt).
// Two ranks run as two threads of the test process with an in-process bootstrap; each rank
// calls the factory itself, as separate processes would.
#include <gtest/gtest.h>

#include <memory>
#include <ostream>
#include <string>

#include "transports/api/transport.hpp"

namespace fabricbench::testkit {

using TransportFactory = std::unique_ptr<transport::Transport> (*)(const std::string& variant);

struct ContractVariant {
  std::string name;  // the test name suffix too: letters, digits and '_'
  TransportFactory make = nullptr;
  // Optional: why this variant cannot run on this host (empty: it can), e.g. no IPv6 loopback.
  // The suite then skips with that reason instead of failing.
  std::string (*unavailable)(const std::string& variant) = nullptr;
};

inline void PrintTo(const ContractVariant& v, std::ostream* os) {
  *os << v.name;
}

inline std::string contract_variant_name(const ::testing::TestParamInfo<ContractVariant>& info) {
  return info.param.name;
}

class TransportContract : public ::testing::TestWithParam<ContractVariant> {
 protected:
  void SetUp() override {
    if (GetParam().unavailable != nullptr) {
      const std::string why = GetParam().unavailable(GetParam().name);
      if (!why.empty()) GTEST_SKIP() << GetParam().name << " cannot run here: " << why;
    }
  }
};

}  // namespace fabricbench::testkit
