// The slurm launcher's reading of a job step's environment.
#include "harness/bootstrap/slurm.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "core/error.hpp"

namespace fabricbench::bootstrap {
namespace {

using Env = std::map<std::string, std::string>;

EnvLookup lookup(const Env& env) {
  return [env](const char* name) -> std::optional<std::string> {
    const auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

Env step_env() {
  return {
      {"SLURM_PROCID", "2"},        {"SLURM_NTASKS", "4"},    {"SLURM_STEP_NODELIST", "node[1-4]"},
      {"SLURM_JOB_ID", "1234"},     {"SLURM_STEP_ID", "0"},   {"SLURMD_NODENAME", "node3"},
      {"SLURM_CLUSTER_NAME", "fb"}, {"SLURM_JOB_UID", "1000"}};
}

std::string usage_error(const Env& env) {
  try {
    read_slurm_step(lookup(env));
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::usage);
    return e.what();
  }
  return "no error";
}

TEST(SlurmStep, ReadsTheStep) {
  const auto step = read_slurm_step(lookup(step_env()));
  EXPECT_EQ(step.rank, 2);
  EXPECT_EQ(step.size, 4);
  EXPECT_EQ(step.nodes, (std::vector<std::string>{"node1", "node2", "node3", "node4"}));
  EXPECT_EQ(step.root_host, "node1");
  EXPECT_EQ(step.node, "node3");
  EXPECT_EQ(step.port, derived_slurm_port(1234, 0));
  EXPECT_EQ(step.job_identity, "slurm:fb:1234.0:1000:node[1-4]");
  EXPECT_EQ(slurm_root_misplaced(step), std::nullopt) << "only rank 0 is checked";
}

TEST(SlurmStep, PortFromTheVariableOrDerived) {
  auto env = step_env();
  env["FABRICBENCH_SLURM_PORT"] = "31000";
  EXPECT_EQ(read_slurm_step(lookup(env)).port, 31000);
  env["FABRICBENCH_SLURM_PORT"] = "70000";
  EXPECT_NE(usage_error(env).find("FABRICBENCH_SLURM_PORT=70000 is not a port"), std::string::npos);
  env["FABRICBENCH_SLURM_PORT"] = "x";
  EXPECT_NE(usage_error(env).find("FABRICBENCH_SLURM_PORT='x' is not a whole number"),
            std::string::npos);
  // Derived: in 20000..29999, the same for every rank of a step, different for the next steps
  // and jobs.
  std::set<int> ports;
  for (std::uint64_t job = 1000; job < 1010; ++job) {
    for (std::uint64_t s = 0; s < 4; ++s) {
      const int p = derived_slurm_port(job, s);
      EXPECT_GE(p, 20000);
      EXPECT_LE(p, 29999);
      ports.insert(p);
    }
  }
  EXPECT_EQ(ports.size(), 40U);
  EXPECT_EQ(derived_slurm_port(4294967295ULL, 4294967294ULL),
            derived_slurm_port(4294967295ULL, 4294967294ULL));
}

TEST(SlurmStep, SizeFromTheStepWhenNtasksIsMissing) {
  auto env = step_env();
  env.erase("SLURM_NTASKS");
  env["SLURM_STEP_NUM_TASKS"] = "3";
  EXPECT_EQ(read_slurm_step(lookup(env)).size, 3);
}

TEST(SlurmStep, ErrorsNameTheVariable) {
  for (const char* name :
       {"SLURM_PROCID", "SLURM_NTASKS", "SLURM_STEP_NODELIST", "SLURM_JOB_ID", "SLURM_STEP_ID"}) {
    auto env = step_env();
    env.erase(name);
    EXPECT_NE(usage_error(env).find(std::string(name) + " is not set"), std::string::npos) << name;
  }
  auto env = step_env();
  env["SLURM_PROCID"] = "4";
  EXPECT_NE(usage_error(env).find("SLURM_PROCID=4 must be below SLURM_NTASKS=4"),
            std::string::npos);
  env = step_env();
  env["SLURM_NTASKS"] = "four";
  EXPECT_NE(usage_error(env).find("SLURM_NTASKS='four' is not a whole number"), std::string::npos);
  env = step_env();
  env["SLURM_NTASKS"] = "0";
  EXPECT_NE(usage_error(env).find("is not a task count"), std::string::npos);
  env = step_env();
  env["SLURM_STEP_NODELIST"] = "node[1-4";
  EXPECT_NE(usage_error(env).find("host list 'node[1-4'"), std::string::npos);
  env["SLURM_STEP_NODELIST"] = ",";
  EXPECT_NE(usage_error(env).find("names no node"), std::string::npos);
}

TEST(SlurmStep, RankZeroMustBeOnTheFirstNode) {
  auto env = step_env();
  env["SLURM_PROCID"] = "0";
  env["SLURMD_NODENAME"] = "node1";
  EXPECT_EQ(slurm_root_misplaced(read_slurm_step(lookup(env))), std::nullopt);
  env["SLURMD_NODENAME"] = "node2";
  const auto why = slurm_root_misplaced(read_slurm_step(lookup(env)));
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("SLURM_PROCID 0 runs on node2"), std::string::npos) << *why;
  EXPECT_NE(why->find("not on node1, the first node of SLURM_STEP_NODELIST"), std::string::npos)
      << *why;
  env.erase("SLURMD_NODENAME");
  EXPECT_EQ(slurm_root_misplaced(read_slurm_step(lookup(env))), std::nullopt)
      << "unknown: not checked";
}

}  // namespace
}  // namespace fabricbench::bootstrap
