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
// Details: the grace period is options.timeout + 5 s; report lines read "rank N exited with code
// C" or "rank N killed by signal S (SIGNAME)" (plus "interrupted by SIGTERM" when the launcher was
// signalled). A child that throws hands the error to options.on_rank_error and exits 1.
// SIGINT/SIGTERM sent to the parent while it waits are forwarded to the children (a terminal's
// Ctrl-C reaches them directly and is not sent twice); the caller's handlers are restored before
// returning. The mpi launcher: rank 0 listens on 127.0.0.1 when every rank runs on its host,
// otherwise on FABRICBENCH_BOOTSTRAP_ADDRESS (host or host:port) when set, otherwise on the first
// non-loopback IPv4 address of its host name. After a failed collective MPI_Finalize is skipped
// (it is collective and could wait forever for a lost rank).
int run_local(int nranks, const Options& options, const std::function<int(Bootstrap&)>& body,
              std::string* report = nullptr);

}  // namespace fabricbench::bootstrap
