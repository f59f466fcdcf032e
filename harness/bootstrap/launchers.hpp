#pragma once
// The four launchers.
//   local: `fabricbench run` forks N ranks on this host (no launcher present).
//   mpi:   started by mpirun, or srun --mpi=pmix/pmi2; MPI gives rank/size and broadcasts the
//          root address and secret, then everything goes over the side channel (so timeouts
//          behave the same). Rank 0's address: 127.0.0.1 when every rank runs on its host;
//          otherwise FABRICBENCH_BOOTSTRAP_ADDRESS (host or host:port) when set; otherwise, from
//          the interface addresses every rank sends with its host name (getifaddrs), rank 0's
//          first address whose subnet holds an address of every other host
//          (choose_root_address, addresses.hpp); otherwise the first non-loopback IPv4 address
//          its host name resolves to. No /etc/hosts entry is needed across nodes on one subnet.
//   slurm: started by plain srun (no MPI, no PMI): rank = SLURM_PROCID, size = SLURM_NTASKS,
//          rank 0 on the first node of SLURM_STEP_NODELIST (checked on rank 0), listening on
//          every address at FABRICBENCH_SLURM_PORT or a port derived from the job and step
//          (slurm.hpp). Secret: FABRICBENCH_SECRET / FABRICBENCH_SECRET_FILE when set, else derived
//          from the job's identity, which keeps stray connections out but not other users who
//          can read the job's identity: set FABRICBENCH_SECRET for a real secret.
//   env:   rank, size, root host:port and secret from environment variables:
//          FABRICBENCH_RANK, FABRICBENCH_SIZE, FABRICBENCH_ROOT, FABRICBENCH_SECRET
//          (or FABRICBENCH_SECRET_FILE).
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "harness/bootstrap/bootstrap.hpp"

namespace fabricbench::bootstrap {

// Which launcher the environment indicates: "mpi" when an MPI or PMI environment is present
// (OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMI_RANK or PMIX_RANK: mpirun, srun --mpi=pmix/pmi2);
// "slurm" under plain srun (SLURM_PROCID, SLURM_NTASKS, SLURM_STEP_ID and SLURM_STEP_NODELIST
// all set: a job step's task, not a batch script); "env" when FABRICBENCH_RANK is set;
// otherwise "local".
std::string detect_launcher();

bool mpi_available() noexcept;  // built with MPI

// env launcher. Throws core::Error(usage) naming the missing/bad variable.
std::unique_ptr<Bootstrap> make_env_bootstrap(const Options& options);

// slurm launcher (plain srun). Throws core::Error(usage) naming the missing/bad variable, and
// on rank 0 core::Error(usage) when it is not on the step's first node (naming both).
std::unique_ptr<Bootstrap> make_slurm_bootstrap(const Options& options);

// mpi launcher (throws core::Error(unavailable) when built without MPI). Calls MPI_Init;
// MPI_Finalize happens when the returned object is destroyed, except after a failed collective
// (MPI_Finalize is collective and could wait forever for a lost rank).
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
// returning.
int run_local(int nranks, const Options& options, const std::function<int(Bootstrap&)>& body,
              std::string* report = nullptr);

}  // namespace fabricbench::bootstrap
