#pragma once
// The contract every collective backend passes (transports/api/communicator.hpp's rules), as a
// value-parameterized GoogleTest suite. The test process is one rank of a run (started by
// mpirun, or alone for a one-rank run); its main sets the world's Exchange with set_world() and a
// backend joins by instantiating the suite:
//
//   INSTANTIATE_TEST_SUITE_P(Mine, CommunicatorContract,
//       ::testing::Values(CommunicatorVariant{"mine", &make_mine, &host_provider, nullptr}),
//       communicator_variant_name);
//
// linking the fb_communicator_contract object library (tests/contract/CMakeLists.txt). Every
// rank runs the same tests in the same order; every wait is bounded, so a broken backend fails
// a test instead of hanging the run.
#include <gtest/gtest.h>

#include <memory>
#include <ostream>
#include <string>

#include "transports/api/communicator.hpp"

namespace fabricbench::testkit {

struct CommunicatorVariant {
  std::string name;
  std::unique_ptr<transport::Communicator> (*make)(transport::Exchange& world) = nullptr;
  std::unique_ptr<transport::MemoryProvider> (*memory)() = nullptr;
  // Why this backend cannot run here ("" when it can); the suite then skips with it.
  std::string (*unavailable)() = nullptr;
};

inline void PrintTo(const CommunicatorVariant& v, std::ostream* os) {
  *os << v.name;
}
inline std::string communicator_variant_name(
    const ::testing::TestParamInfo<CommunicatorVariant>& info) {
  return info.param.name;
}

// The process's rank in the world (set by the test binary's main before RUN_ALL_TESTS).
void set_world(transport::Exchange* world);
transport::Exchange& world();

class CommunicatorContract : public ::testing::TestWithParam<CommunicatorVariant> {
 protected:
  void SetUp() override {
    if (GetParam().unavailable != nullptr) {
      const std::string why = GetParam().unavailable();
      if (!why.empty()) GTEST_SKIP() << GetParam().name << " cannot run here: " << why;
    }
  }
};

}  // namespace fabricbench::testkit
