#pragma once
// The `mpi` collective backend: Open MPI's (or MPICH's) non-blocking collectives on host memory
// over MPI_COMM_WORLD, under the mpi launcher (docs/CONFIG.md "Collective backends").
#include "transports/api/communicator.hpp"

namespace fabricbench::transport::mpi {

// Always declared (its keys validate in every build); make is empty when built without MPI.
CollectiveDescriptor descriptor();

}  // namespace fabricbench::transport::mpi
