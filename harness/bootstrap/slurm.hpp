#pragma once
// The slurm launcher's view of a job step (srun without MPI): who this rank is and where rank 0
// listens, read from Slurm's environment variables. Pure: the variables come through `lookup`.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace fabricbench::bootstrap {

struct SlurmStep {
  int rank = 0;                    // SLURM_PROCID
  int size = 1;                    // SLURM_NTASKS (else SLURM_STEP_NUM_TASKS)
  std::vector<std::string> nodes;  // SLURM_STEP_NODELIST, expanded
  std::string node;                // this task's node: SLURMD_NODENAME (empty when unset)
  std::string root_host;           // nodes[0]: where rank 0 runs and listens
  std::uint16_t port = 0;          // FABRICBENCH_SLURM_PORT, else derived from job and step
  std::string job_identity;        // "cluster:job.step:uid:nodelist" (the derived secret)
};

// The port rank 0 listens on when FABRICBENCH_SLURM_PORT is not set: in 20000..29999 (below
// Linux's ephemeral range), from SLURM_JOB_ID and SLURM_STEP_ID, so every rank of a step
// computes the same one and concurrent steps on one node rarely share it.
std::uint16_t derived_slurm_port(std::uint64_t job_id, std::uint64_t step_id);

using EnvLookup = std::function<std::optional<std::string>(const char* name)>;

// Throws core::Error(usage) naming the variable that is missing or malformed (SLURM_PROCID,
// SLURM_NTASKS, SLURM_STEP_NODELIST, SLURM_JOB_ID, SLURM_STEP_ID, FABRICBENCH_SLURM_PORT), or
// when SLURM_PROCID is not below the task count.
SlurmStep read_slurm_step(const EnvLookup& lookup);

// Rank 0 only: an error message when this task is not on the step's first node (the other ranks
// look for rank 0 there), naming both; nullopt when it is or when SLURMD_NODENAME is unknown.
std::optional<std::string> slurm_root_misplaced(const SlurmStep& step);

}  // namespace fabricbench::bootstrap
