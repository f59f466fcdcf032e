#pragma once
// MPI as a Communicator (transports/api/communicator.hpp): a duplicate of MPI_COMM_WORLD with
// MPI_ERRORS_RETURN; each collective either blocking (start() completes it) or non-blocking
// (MPI_Iallreduce, ..., polled with MPI_Testall). A blocking call that never returns (a lost rank)
// is ended by the engine's progress watch. Built only with MPI.
#include <memory>

#include "transports/api/communicator.hpp"

namespace fabricbench::transport::mpi {

struct MpiOptions {
  std::uint64_t timeout_ns = 30'000'000'000;  // bound on creating the communicator
  // true: MPI's blocking collectives (MPI_Allreduce, ...: what IMB and OSU time; Open MPI's tuned
  // component), start() returns when the call has completed. false: the non-blocking ones
  // (MPI_Iallreduce, ...; Open MPI's libnbc), polled by test().
  bool blocking = true;
};

// Collective: every rank of MPI_COMM_WORLD calls it. Throws core::Error(config) when MPI's ranks
// are not the run's (rank or size differ from the exchange's), core::Error(timeout) when the
// communicator is not created within the bound.
std::unique_ptr<Communicator> make_mpi_communicator(const MpiOptions& options, Exchange& exchange);

// The MPI library's version string (MPI_Get_library_version).
std::string library_version();

}  // namespace fabricbench::transport::mpi
