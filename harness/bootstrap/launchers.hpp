#pragma once
// The three launchers.
//   local: `fabricbench run` forks N ranks on this host (no launcher present).
//   mpi:   started by mpirun/srun; MPI gives rank/size and broadcasts the root address and
//          secret, then everything goes over the side channel (so timeouts behave the same).
//   env:   rank, size, root host:port and secret from environment variables:
//          FABRICBENCH_RANK, FABRICBENCH_SIZE, FABRICBENCH_ROOT, FABRICBENCH_SECRET
//          (or FABRICBENCH_SECRET_FILE).
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "harness/bootstrap/bootstrap.hpp"

namespace fabricbench::bootstrap {

// Which launcher the environment indicates: "mpi" when OMPI_COMM_WORLD_SIZE, PMI_SIZE,
// PMIX_RANK or SLURM_NTASKS (with SLURM_PROCID) is set, "env" when FABRICBENCH_RANK is set,
// otherwise "local".
std::string detect_launcher();

bool mpi_available() noexcept;  // built with MPI

// env launcher. Throws core::Error(usage) naming the missing/bad variable.
std::unique_ptr<Bootstrap> make_env_bootstrap(const Options& options);

// mpi launcher (throws core::Error(unavailable) when built without MPI). Calls MPI_Init;
// MPI_Finalize happens when the returned object is destroyed.
std::unique_ptr<Bootstrap> make_mpi_bootstrap(const Options& options);

// local launcher: forks `nranks` children; each runs body(bootstrap) and exits with its return
// value. The parent waits for all, and if one child dies or exits non-zero it gives the others
// options.timeout to finish, then kills them. Returns the worst exit code (a signal-killed child
// counts as 1) and fills `report` with a line per failed rank.
int run_local(int nranks, const Options& options,
              const std::function<int(Bootstrap&)>& body, std::string* report = nullptr);

}  // namespace fabricbench::bootstrap
