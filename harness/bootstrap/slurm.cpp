#include "harness/bootstrap/slurm.hpp"

#include <charconv>

#include "core/error.hpp"
#include "harness/bootstrap/addresses.hpp"

namespace fabricbench::bootstrap {

namespace {

using core::Error;
using core::ErrorKind;

constexpr const char* kSlurmHelp =
    " (the slurm launcher runs under srun without MPI: it reads SLURM_PROCID, SLURM_NTASKS, "
    "SLURM_STEP_NODELIST, SLURM_JOB_ID and SLURM_STEP_ID)";

std::string require(const EnvLookup& lookup, const char* name) {
  auto value = lookup(name);
  if (!value || value->empty()) {
    throw Error(ErrorKind::usage, std::string(name) + " is not set" + kSlurmHelp);
  }
  return *value;
}

std::uint64_t number(const char* name, const std::string& text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    throw Error(ErrorKind::usage, std::string(name) + "='" + text + "' is not a whole number");
  }
  return value;
}

}  // namespace

std::uint16_t derived_slurm_port(std::uint64_t job_id, std::uint64_t step_id) {
  const std::uint64_t mixed = job_id * 2654435761ULL + step_id * 40503ULL;
  return static_cast<std::uint16_t>(20000 + mixed % 10000);
}

SlurmStep read_slurm_step(const EnvLookup& lookup) {
  SlurmStep step;
  const auto procid = number("SLURM_PROCID", require(lookup, "SLURM_PROCID"));
  auto ntasks = lookup("SLURM_NTASKS");
  if (!ntasks || ntasks->empty()) ntasks = lookup("SLURM_STEP_NUM_TASKS");
  if (!ntasks || ntasks->empty()) {
    throw Error(ErrorKind::usage, std::string("SLURM_NTASKS is not set") + kSlurmHelp);
  }
  const auto size = number("SLURM_NTASKS", *ntasks);
  if (size < 1 || size > 1'000'000) {
    throw Error(ErrorKind::usage, "SLURM_NTASKS=" + *ntasks + " is not a task count");
  }
  if (procid >= size) {
    throw Error(ErrorKind::usage, "SLURM_PROCID=" + std::to_string(procid) +
                                      " must be below SLURM_NTASKS=" + std::to_string(size));
  }
  step.rank = static_cast<int>(procid);
  step.size = static_cast<int>(size);
  const std::string nodelist = require(lookup, "SLURM_STEP_NODELIST");
  step.nodes = expand_hostlist(nodelist);
  if (step.nodes.empty()) {
    throw Error(ErrorKind::usage, "SLURM_STEP_NODELIST='" + nodelist + "' names no node");
  }
  step.root_host = step.nodes.front();
  step.node = lookup("SLURMD_NODENAME").value_or("");
  const std::string job = require(lookup, "SLURM_JOB_ID");
  const std::string step_id = require(lookup, "SLURM_STEP_ID");
  const auto job_number = number("SLURM_JOB_ID", job);
  const auto step_number = number("SLURM_STEP_ID", step_id);
  const auto port = lookup("FABRICBENCH_SLURM_PORT");
  if (port && !port->empty()) {
    const auto p = number("FABRICBENCH_SLURM_PORT", *port);
    if (p < 1 || p > 65535) {
      throw Error(ErrorKind::usage,
                  "FABRICBENCH_SLURM_PORT=" + *port + " is not a port (1..65535)");
    }
    step.port = static_cast<std::uint16_t>(p);
  } else {
    step.port = derived_slurm_port(job_number, step_number);
  }
  step.job_identity = "slurm:" + lookup("SLURM_CLUSTER_NAME").value_or("") + ":" + job + "." +
                      step_id + ":" + lookup("SLURM_JOB_UID").value_or("") + ":" + nodelist;
  return step;
}

std::optional<std::string> slurm_root_misplaced(const SlurmStep& step) {
  if (step.rank != 0 || step.node.empty() || step.node == step.root_host) return std::nullopt;
  return "slurm launcher: SLURM_PROCID 0 runs on " + step.node + " (SLURMD_NODENAME), not on " +
         step.root_host +
         ", the first node of SLURM_STEP_NODELIST, where the other ranks look for it; use srun's "
         "default block distribution, or the env launcher";
}

}  // namespace fabricbench::bootstrap
