// The env launcher and launcher detection.
#include <gtest/gtest.h>

#include <stdlib.h>
#include <unistd.h>
#include <cstdlib>

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "harness/bootstrap/launchers.hpp"
#include "harness/bootstrap/net.hpp"
#include "harness/bootstrap/side_channel.hpp"
#include "tests/bootstrap/test_support.hpp"

namespace fabricbench::bootstrap {
namespace {

using namespace std::chrono_literals;
using testing::Children;
using testing::ReportPipe;

constexpr const char* kVariables[] = {"FABRICBENCH_RANK",
                                      "FABRICBENCH_SIZE",
                                      "FABRICBENCH_ROOT",
                                      "FABRICBENCH_SECRET",
                                      "FABRICBENCH_SECRET_FILE",
                                      "OMPI_COMM_WORLD_SIZE",
                                      "PMI_SIZE",
                                      "PMI_RANK",
                                      "PMIX_RANK",
                                      "SLURM_NTASKS",
                                      "SLURM_PROCID",
                                      "SLURM_STEP_ID",
                                      "SLURM_STEP_NODELIST"};

// Every test starts from an environment without launcher variables and gets the old one back.
class EnvLauncher : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : kVariables) {
      const char* value = std::getenv(name);
      saved_.emplace_back(name,
                          value != nullptr ? std::optional<std::string>(value) : std::nullopt);
      ::unsetenv(name);
    }
  }
  void TearDown() override {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
    for (const auto& path : files_) std::remove(path.c_str());
  }

  // The message of the usage error make_env_bootstrap throws (or what went wrong instead).
  static std::string usage_error() {
    try {
      make_env_bootstrap(Options{200ms});
    } catch (const core::Error& e) {
      if (e.kind() != core::ErrorKind::usage) return std::string("not a usage error: ") + e.what();
      return e.what();
    }
    return "no error";
  }

  static void set_valid() {
    ::setenv("FABRICBENCH_RANK", "1", 1);
    ::setenv("FABRICBENCH_SIZE", "2", 1);
    ::setenv("FABRICBENCH_ROOT", "127.0.0.1:5000", 1);
    ::setenv("FABRICBENCH_SECRET", "s3cret-of-16-bytes", 1);
  }

  std::string write_file(const std::string& content) {
    char path[] = "/tmp/fabricbench-secret-XXXXXX";
    const int fd = ::mkstemp(path);
    if (fd < 0) return "/nonexistent";
    if (::write(fd, content.data(), content.size()) < 0) {
      // the test reading it will fail
    }
    ::close(fd);
    files_.emplace_back(path);
    return path;
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
  std::vector<std::string> files_;
};

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << (haystack)

TEST_F(EnvLauncher, NamesTheMissingVariable) {
  EXPECT_CONTAINS(usage_error(), "FABRICBENCH_RANK is not set");
  ::setenv("FABRICBENCH_RANK", "0", 1);
  EXPECT_CONTAINS(usage_error(), "FABRICBENCH_SIZE is not set");
  ::setenv("FABRICBENCH_SIZE", "2", 1);
  EXPECT_CONTAINS(usage_error(), "FABRICBENCH_ROOT is not set");
  ::setenv("FABRICBENCH_ROOT", "127.0.0.1:5000", 1);
  EXPECT_CONTAINS(usage_error(), "neither FABRICBENCH_SECRET nor FABRICBENCH_SECRET_FILE");
}

TEST_F(EnvLauncher, NamesTheMalformedVariable) {
  const auto with = [&](const char* name, const char* value) {
    set_valid();
    ::setenv(name, value, 1);
    return usage_error();
  };
  EXPECT_CONTAINS(with("FABRICBENCH_RANK", "abc"), "FABRICBENCH_RANK='abc' is not a whole number");
  EXPECT_CONTAINS(with("FABRICBENCH_RANK", "1x"), "FABRICBENCH_RANK='1x' is not a whole number");
  EXPECT_CONTAINS(with("FABRICBENCH_RANK", "-1"), "FABRICBENCH_RANK=-1 must be at least 0");
  EXPECT_CONTAINS(with("FABRICBENCH_RANK", ""), "FABRICBENCH_RANK is set but empty");
  EXPECT_CONTAINS(with("FABRICBENCH_RANK", "2"),
                  "FABRICBENCH_RANK=2 must be below FABRICBENCH_SIZE=2");
  EXPECT_CONTAINS(with("FABRICBENCH_SIZE", "0"), "FABRICBENCH_SIZE=0 must be at least 1");
  EXPECT_CONTAINS(with("FABRICBENCH_SIZE", "two"), "FABRICBENCH_SIZE='two' is not a whole number");
  EXPECT_CONTAINS(with("FABRICBENCH_ROOT", "nohost"), "FABRICBENCH_ROOT='nohost' is not host:port");
  EXPECT_CONTAINS(with("FABRICBENCH_ROOT", "node:99999"), "FABRICBENCH_ROOT='node:99999'");
  EXPECT_CONTAINS(with("FABRICBENCH_ROOT", "node:0"), "FABRICBENCH_ROOT='node:0'");
  EXPECT_CONTAINS(with("FABRICBENCH_ROOT", "fe80::1:5000"), "brackets");
  EXPECT_CONTAINS(with("FABRICBENCH_SECRET", ""), "FABRICBENCH_SECRET is set but empty");

  set_valid();
  ::setenv("FABRICBENCH_SECRET_FILE", write_file("x").c_str(), 1);
  EXPECT_CONTAINS(usage_error(), "both FABRICBENCH_SECRET and FABRICBENCH_SECRET_FILE");

  set_valid();
  ::unsetenv("FABRICBENCH_SECRET");
  ::setenv("FABRICBENCH_SECRET_FILE", "/nonexistent/fabricbench-secret", 1);
  EXPECT_CONTAINS(usage_error(),
                  "FABRICBENCH_SECRET_FILE=/nonexistent/fabricbench-secret cannot be read");

  const std::string blank = write_file(" \n");
  ::setenv("FABRICBENCH_SECRET_FILE", blank.c_str(), 1);
  EXPECT_CONTAINS(usage_error(), "FABRICBENCH_SECRET_FILE=" + blank + " holds an empty secret");
}

TEST_F(EnvLauncher, ShortSecretIsRefusedWithAHint) {
  set_valid();
  ::setenv("FABRICBENCH_SECRET", "s3cret", 1);
  EXPECT_CONTAINS(usage_error(), "FABRICBENCH_SECRET holds 6 bytes; a secret needs at least 16");
  set_valid();
  ::unsetenv("FABRICBENCH_SECRET");
  ::setenv("FABRICBENCH_SECRET_FILE", write_file("0123456789\n").c_str(), 1);
  EXPECT_CONTAINS(usage_error(), "holds 10 bytes; a secret needs at least 16");
  EXPECT_CONTAINS(usage_error(), "openssl rand -hex 16");
}

// Once read, the secret is out of the environment: no child the rank starts inherits it.
TEST_F(EnvLauncher, SecretLeavesTheEnvironmentOnceRead) {
  set_valid();
  ASSERT_NE(std::getenv("FABRICBENCH_SECRET"), nullptr);
  (void)usage_error();  // rank 1 finds no rank 0 at 127.0.0.1:5000: fails after reading it
  EXPECT_EQ(std::getenv("FABRICBENCH_SECRET"), nullptr);
}

TEST_F(EnvLauncher, TwoRanksJoinThroughTheEnvironment) {
  std::uint16_t port = 0;
  {
    net::Fd probe = net::listen_on(net::HostPort{"127.0.0.1", 0});
    port = net::local_port(probe.get());
  }
  const std::string secret = generate_secret();
  // Rank 0 reads the secret from the variable, rank 1 from a file (with a trailing newline).
  const std::string secret_file = write_file(secret + "\n");
  ReportPipe pipe;
  Children kids;
  std::vector<pid_t> pids;
  for (int rank = 0; rank < 2; ++rank) {
    pids.push_back(kids.spawn([&, rank]() -> int {
      ::setenv("FABRICBENCH_RANK", std::to_string(rank).c_str(), 1);
      ::setenv("FABRICBENCH_SIZE", "2", 1);
      ::setenv("FABRICBENCH_ROOT", ("127.0.0.1:" + std::to_string(port)).c_str(), 1);
      if (rank == 0) {
        ::setenv("FABRICBENCH_SECRET", secret.c_str(), 1);
      } else {
        ::setenv("FABRICBENCH_SECRET_FILE", secret_file.c_str(), 1);
      }
      try {
        if (detect_launcher() != "env") {
          pipe.send(rank, "detect", 0, detect_launcher());
          return 1;
        }
        auto b = make_env_bootstrap(Options{10s});
        const auto all = b->allgather("env-" + std::to_string(b->rank()));
        b->barrier();
        const std::string word = b->broadcast(1, rank == 1 ? "from one" : "");
        pipe.send(rank, b->launcher(), 0, all.at(0) + "," + all.at(1) + "," + word);
      } catch (const core::Error& e) {
        pipe.send(rank, "error", 0, e.what());
        return 1;
      }
      return 0;
    }));
  }
  pipe.close_write();
  const auto reports = pipe.collect(2, 20s);
  for (int rank = 0; rank < 2; ++rank) {
    ASSERT_TRUE(reports.count(rank)) << "rank " << rank << " did not report";
    EXPECT_EQ(reports.at(rank).kind, "env") << reports.at(rank).message;
    EXPECT_EQ(reports.at(rank).message, "env-0,env-1,from one");
  }
  for (pid_t pid : pids) {
    const int status = kids.wait(pid, 10s);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
}

TEST_F(EnvLauncher, DetectsTheLauncherFromTheEnvironment) {
  EXPECT_EQ(detect_launcher(), "local");
  ::setenv("FABRICBENCH_RANK", "0", 1);
  EXPECT_EQ(detect_launcher(), "env");
  ::setenv("SLURM_NTASKS", "4", 1);
  EXPECT_EQ(detect_launcher(), "env") << "SLURM_NTASKS alone is a batch allocation, not srun";
  ::setenv("SLURM_PROCID", "0", 1);
  EXPECT_EQ(detect_launcher(), "env") << "a batch script's variables, no job step";
  ::setenv("SLURM_STEP_ID", "0", 1);
  ::setenv("SLURM_STEP_NODELIST", "node[1-4]", 1);
  EXPECT_EQ(detect_launcher(), "slurm") << "plain srun: a step's task without MPI";
  // srun --mpi=pmix / pmi2 (and mpirun inside an allocation): MPI's variables win.
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMI_RANK", "PMIX_RANK"}) {
    ::setenv(name, "2", 1);
    EXPECT_EQ(detect_launcher(), "mpi") << name << " under srun";
    ::unsetenv(name);
  }
  for (const char* name :
       {"SLURM_NTASKS", "SLURM_PROCID", "SLURM_STEP_ID", "SLURM_STEP_NODELIST"}) {
    ::unsetenv(name);
  }
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMI_RANK", "PMIX_RANK"}) {
    ::setenv(name, "2", 1);
    EXPECT_EQ(detect_launcher(), "mpi") << name;
    ::unsetenv(name);
  }
}

}  // namespace
}  // namespace fabricbench::bootstrap
