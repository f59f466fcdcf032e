// The mpi backend in the communicator contract: run by ctest as
// `mpirun -np 4 contract_mpi_test`, every process one rank (tests/contract/CMakeLists.txt).
#include <gtest/gtest.h>

#include "harness/bootstrap/launchers.hpp"
#include "harness/engine/bootstrap_exchange.hpp"
#include "tests/contract/communicator_contract.hpp"
#include "transports/mpi/mpi_communicator.hpp"

namespace fabricbench::testkit {
namespace {

std::unique_ptr<transport::Communicator> make_blocking(transport::Exchange& world) {
  return transport::mpi::make_mpi_communicator({}, world);
}
std::unique_ptr<transport::Communicator> make_nonblocking(transport::Exchange& world) {
  transport::mpi::MpiOptions options;
  options.blocking = false;
  return transport::mpi::make_mpi_communicator(options, world);
}
std::unique_ptr<transport::MemoryProvider> host() {
  return transport::make_memory_provider("host");
}

INSTANTIATE_TEST_SUITE_P(
    Mpi, CommunicatorContract,
    ::testing::Values(CommunicatorVariant{"blocking", &make_blocking, &host, nullptr},
                      CommunicatorVariant{"nonblocking", &make_nonblocking, &host, nullptr}),
    communicator_variant_name);

}  // namespace
}  // namespace fabricbench::testkit

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  fabricbench::bootstrap::Options options;
  options.timeout = std::chrono::milliseconds(30'000);
  auto bs = fabricbench::bootstrap::make_mpi_bootstrap(options);
  fabricbench::engine::BootstrapExchange world(*bs);
  fabricbench::testkit::set_world(&world);
  if (bs->rank() != 0) {
    // One report (rank 0's); the others speak only of their failures, via the exit code.
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  const int rc = RUN_ALL_TESTS();
  // Every rank's verdict: a failure on any rank fails the run on rank 0 too.
  int failed = 0;
  for (const auto& v : bs->allgather(rc == 0 ? "0" : "1")) failed += v == "1" ? 1 : 0;
  if (bs->rank() == 0 && failed > 0) std::fprintf(stderr, "%d rank(s) failed\n", failed);
  return failed > 0 ? 1 : 0;
}
