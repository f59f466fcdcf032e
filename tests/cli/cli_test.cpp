// End-to-end tests of the `fabricbench` binary: exit codes, run documents, lost ranks,
// interrupts, and the mpi and env launchers.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "tests/cli/process.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string kBinary = FABRICBENCH_BINARY;
const std::string kSource = FABRICBENCH_SOURCE;

fs::path scratch(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path p = fs::temp_directory_path() / "fabricbench-cli-tests" /
               (std::string(info->test_suite_name()) + "." + info->name() + "." + name + "." +
                std::to_string(getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

fs::path write(const fs::path& dir, const std::string& name, const std::string& text) {
  const auto p = dir / name;
  std::ofstream(p) << text;
  return p;
}

// A small valid experiment: pingpong + stream over TCP on loopback.
std::string small_experiment(const std::string& extra_defaults = "",
                             const std::string& stream_duration = "300ms") {
  return "fabricbench: 1\n"
         "name: cli-test\n"
         "ranks: 2\n"
         "timeouts:\n"
         "  peer: 4s\n"
         "defaults:\n"
         "  repetitions: 2\n"
         "  verify: true\n" +
         extra_defaults +
         "cases:\n"
         "  - name: lat\n"
         "    suite: pingpong\n"
         "    transport: tcp\n"
         "    sizes: [8, 4KiB]\n"
         "    iterations: 200\n"
         "    warmup: 20\n"
         "  - name: bw\n"
         "    suite: stream\n"
         "    transport: tcp\n"
         "    sizes: 64KiB\n"
         "    duration: " +
         stream_duration +
         "\n"
         "    warmup: 50ms\n"
         "    window: 16\n";
}

json read_json(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

// A loopback port that was free a moment ago (bound to port 0, then closed).
int free_loopback_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return -1;
  }
  close(fd);
  return ntohs(addr.sin_port);
}

bool schema_tools_present() {
  return std::system("python3 -c 'import jsonschema' >/dev/null 2>&1") == 0;
}

void expect_schema_valid(const fs::path& doc) {
  if (!schema_tools_present()) GTEST_SKIP() << "python3 jsonschema not installed";
  const std::string cmd = "python3 " + kSource + "/ci/validate-run.py " + kSource +
                          "/results/schema/run-v1.schema.json " + doc.string() + " >/dev/null";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << "schema validation failed for " << doc;
}

// pid of the rank process named "fabricbench rN" under `parent` (local launcher).
pid_t find_rank(pid_t parent, int rank, std::chrono::seconds limit) {
  const std::string want = "fabricbench r" + std::to_string(rank);
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    for (pid_t c : fbtest::children_of(parent)) {
      std::string comm = fbtest::slurp("/proc/" + std::to_string(c) + "/comm");
      while (!comm.empty() && comm.back() == '\n') comm.pop_back();
      if (comm == want) return c;
    }
    std::this_thread::sleep_for(20ms);
  }
  return -1;
}

// Waits until the run's journal holds at least one completed case.
void wait_for_first_case(const fs::path& run_dir, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (fbtest::slurp(run_dir / "journal.jsonl").find('\n') != std::string::npos) return;
    std::this_thread::sleep_for(20ms);
  }
}

}  // namespace

TEST(Cli, VersionHelpAndUsage) {
  const auto dir = scratch("v");
  auto r = fbtest::run_process({kBinary, "--version"}, dir, 30s);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("fabricbench "), std::string::npos);
  EXPECT_NE(r.out.find("revision"), std::string::npos);
  for (const char* sub : {"run", "validate", "list", "envelope"}) {
    r = fbtest::run_process({kBinary, sub, "--help"}, dir, 30s);
    EXPECT_EQ(r.exit_code, 0) << sub;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << sub;
  }
  r = fbtest::run_process({kBinary, "frobnicate"}, dir, 30s);
  EXPECT_EQ(r.exit_code, 2);
  r = fbtest::run_process({kBinary, "run"}, dir, 30s);
  EXPECT_EQ(r.exit_code, 2);
}

TEST(Cli, ListSaysWhatIsBuiltAndWhy) {
  const auto r = fbtest::run_process({kBinary, "list"}, scratch("l"), 30s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("tcp"), std::string::npos);
  EXPECT_NE(r.out.find("pingpong"), std::string::npos);
  EXPECT_NE(r.out.find("stream"), std::string::npos);
  EXPECT_NE(r.out.find("verbs"), std::string::npos);
}

TEST(Cli, EnvelopeIsJson) {
  const auto r = fbtest::run_process({kBinary, "envelope"}, scratch("e"), 30s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_TRUE(j.contains("hostname"));
  EXPECT_TRUE(j.contains("kernel"));
  EXPECT_TRUE(j.contains("nics"));
}

TEST(Cli, BadConfigsExitTwoAndWriteNothing) {
  const auto dir = scratch("bad");
  struct Bad {
    std::string name, text, fragment;
  };
  const std::vector<Bad> bad = {
      {"unknown-key.yaml", small_experiment("  repetitons: 3\n"), "repetitions"},
      {"syntax.yaml", "fabricbench: 1\nname: [unclosed\n", "syntax.yaml:"},
      {"range.yaml", small_experiment("  window: 0\n"), "window"},
  };
  for (const auto& b : bad) {
    const auto cfg = write(dir, b.name, b.text);
    const auto out = dir / ("out-" + b.name);
    const auto r =
        fbtest::run_process({kBinary, "run", cfg.string(), "-o", out.string()}, dir, 60s);
    EXPECT_EQ(r.exit_code, 2) << b.name << ": " << r.err;
    EXPECT_NE(r.err.find(b.fragment), std::string::npos) << b.name << ": " << r.err;
    EXPECT_FALSE(fs::exists(out)) << b.name << " left a run directory";
  }
  const auto missing =
      fbtest::run_process({kBinary, "validate", (dir / "does-not-exist.yaml").string()}, dir, 30s);
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("does-not-exist.yaml"), std::string::npos);
}

TEST(Cli, LocalRunWritesValidDocumentWithEveryRanksEnvelope) {
  const auto dir = scratch("run");
  const auto cfg = write(dir, "small.yaml", small_experiment());
  const auto out = dir / "run";
  const auto r = fbtest::run_process({kBinary, "run", cfg.string(), "-o", out.string()}, dir, 120s);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("t_p99"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("BW[Gb/s]"), std::string::npos) << r.out;
  const json doc = read_json(out / "run.json");
  EXPECT_EQ(doc["run"]["status"], "complete");
  EXPECT_EQ(doc["run"]["launcher"], "local");
  ASSERT_EQ(doc["envelope"]["ranks"].size(), 2u);
  EXPECT_EQ(doc["envelope"]["ranks"][1]["rank"], 1);
  ASSERT_EQ(doc["cases"].size(), 3u);
  for (const auto& c : doc["cases"]) {
    EXPECT_EQ(c["status"], "ok") << c.dump();
    EXPECT_EQ(c["repetitions"].size(), 2u);
  }
  // Ping-pong: every measured iteration is a sample, with a positive latency.
  const auto& lat = doc["cases"][0];
  EXPECT_EQ(lat["repetitions"][0]["ops"], 200);
  EXPECT_GT(lat["summary"]["lat_p50_ns"].get<double>(), 0);
  // Stream: receiver-counted bytes and a bandwidth, and an interval series in duration mode.
  const auto& bw = doc["cases"][2];
  EXPECT_GT(bw["repetitions"][0]["bytes"].get<double>(), 0);
  EXPECT_GT(bw["repetitions"][0]["bw_gbps"].get<double>(), 0);
  EXPECT_FALSE(bw["repetitions"][0]["intervals"].empty());
  // The journal holds every completed case.
  std::ifstream journal(out / "journal.jsonl");
  int lines = 0;
  for (std::string line; std::getline(journal, line);) ++lines;
  EXPECT_EQ(lines, 3);
  expect_schema_valid(out / "run.json");
}

TEST(Cli, KilledRankIsReportedByTheOtherWithinTheBound) {
  const auto dir = scratch("kill");
  const auto cfg = write(dir, "long.yaml", small_experiment("", "30s"));
  const auto out = dir / "run";
  std::chrono::steady_clock::time_point killed_at;
  const auto r = fbtest::run_process({kBinary, "run", cfg.string(), "-o", out.string()}, dir, 90s,
                                     {}, [&](pid_t parent) {
                                       // Wait until the stream case runs, then kill rank 1
                                       // outright.
                                       wait_for_first_case(out, 60s);
                                       std::this_thread::sleep_for(1s);
                                       const pid_t victim = find_rank(parent, 1, 10s);
                                       ASSERT_GT(victim, 0);
                                       killed_at = std::chrono::steady_clock::now();
                                       kill(victim, SIGKILL);
                                     });
  ASSERT_FALSE(r.timed_out) << r.err;
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("rank 1"), std::string::npos) << r.err;
  // Rank 0 recorded the failure in the document, kept the completed cases and named the case.
  const json doc = read_json(out / "run.json");
  EXPECT_EQ(doc["run"]["status"], "failed");
  ASSERT_GE(doc["cases"].size(), 2u);
  EXPECT_EQ(doc["run"]["interrupted_case"], doc["cases"].back()["id"]);
  EXPECT_EQ(doc["cases"][0]["status"], "ok");
  EXPECT_EQ(doc["cases"].back()["status"], "failed");
  EXPECT_NE(doc["cases"].back()["errors"][0]["message"].get<std::string>().find("rank 1"),
            std::string::npos)
      << doc["cases"].back().dump();
}

TEST(Cli, StoppedRankTimesOutWithinTheBound) {
  const auto dir = scratch("stop");
  const auto cfg = write(dir, "long.yaml", small_experiment("", "30s"));
  const auto out = dir / "run";
  pid_t victim = -1;
  std::chrono::steady_clock::time_point stopped_at;
  const auto r = fbtest::run_process({kBinary, "run", cfg.string(), "-o", out.string()}, dir, 90s,
                                     {}, [&](pid_t parent) {
                                       wait_for_first_case(out, 60s);
                                       std::this_thread::sleep_for(1s);
                                       victim = find_rank(parent, 1, 10s);
                                       ASSERT_GT(victim, 0);
                                       stopped_at = std::chrono::steady_clock::now();
                                       kill(victim, SIGSTOP);
                                     });
  if (victim > 0) kill(victim, SIGKILL);
  ASSERT_FALSE(r.timed_out) << r.err;
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("rank 1"), std::string::npos) << r.err;
  const json doc = read_json(out / "run.json");
  EXPECT_EQ(doc["run"]["status"], "failed");
}

TEST(Cli, InterruptKeepsCompletedCasesAndNamesTheCurrentOne) {
  const auto dir = scratch("int");
  const auto cfg = write(dir, "long.yaml", small_experiment("", "30s"));
  const auto out = dir / "run";
  const auto r = fbtest::run_process({kBinary, "run", cfg.string(), "-o", out.string()}, dir, 90s,
                                     {}, [&](pid_t parent) {
                                       wait_for_first_case(out, 60s);
                                       std::this_thread::sleep_for(1s);
                                       kill(parent, SIGINT);
                                     });
  ASSERT_FALSE(r.timed_out) << r.err;
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const json doc = read_json(out / "run.json");
  EXPECT_EQ(doc["run"]["status"], "interrupted");
  ASSERT_GE(doc["cases"].size(), 1u);
  EXPECT_EQ(doc["cases"][0]["status"], "ok");
  // The document names the case that was running: the first planned case not completed.
  const auto& planned = doc["config"]["resolved"]["cases"];
  ASSERT_GT(planned.size(), doc["cases"].size());
  EXPECT_EQ(doc["run"]["interrupted_case"], planned[doc["cases"].size()]["id"]);
  expect_schema_valid(out / "run.json");
}

// A run killed outright (SIGKILL: the OOM killer, a lost node) leaves run.json "running"; `run`
// into the same directory says so, and `recover` completes the document from the journal.
TEST(Cli, RecoverCompletesARunKilledWithSigkill) {
  const auto dir = scratch("recover");
  const auto cfg = write(dir, "long.yaml", small_experiment("", "30s"));
  const auto out = dir / "run";
  const auto r = fbtest::run_process({kBinary, "run", cfg.string(), "-o", out.string()}, dir, 90s,
                                     {}, [&](pid_t parent) {
                                       wait_for_first_case(out, 60s);
                                       const auto ranks = fbtest::children_of(parent);
                                       kill(parent, SIGKILL);
                                       for (pid_t p : ranks) kill(p, SIGKILL);
                                     });
  ASSERT_EQ(r.signal, SIGKILL) << r.err;
  EXPECT_EQ(read_json(out / "run.json")["run"]["status"], "running");

  const auto again =
      fbtest::run_process({kBinary, "run", cfg.string(), "-o", out.string()}, dir / "again", 30s);
  EXPECT_EQ(again.exit_code, 2) << again.err;
  EXPECT_NE(again.err.find("fabricbench recover " + out.string()), std::string::npos) << again.err;

  const auto rec = fbtest::run_process({kBinary, "recover", out.string()}, dir / "rec", 30s);
  ASSERT_EQ(rec.exit_code, 0) << rec.out << rec.err;
  const json doc = read_json(out / "run.json");
  EXPECT_EQ(doc["run"]["status"], "interrupted");
  ASSERT_GE(doc["cases"].size(), 1u);
  EXPECT_EQ(doc["cases"][0]["status"], "ok");
  expect_schema_valid(out / "run.json");
  const auto done = fbtest::run_process({kBinary, "recover", out.string()}, dir / "done", 30s);
  EXPECT_EQ(done.exit_code, 0) << done.err;
  EXPECT_NE(done.out.find("nothing to recover"), std::string::npos) << done.out;
}

TEST(Cli, MpirunTwoRanks) {
  if (std::system("command -v mpirun >/dev/null 2>&1") != 0) GTEST_SKIP() << "mpirun not found";
  const auto dir = scratch("mpi");
  const auto cfg = write(dir, "small.yaml", small_experiment());
  const auto out = dir / "run";
  const auto r =
      fbtest::run_process({"/usr/bin/env", "mpirun", "--allow-run-as-root", "--oversubscribe",
                           "-np", "2", kBinary, "run", cfg.string(), "-o", out.string()},
                          dir, 180s,
                          // Open MPI does not free its own allocations at exit: keep
                          // LeakSanitizer (ASan builds) to our code.
                          {"ASAN_OPTIONS=detect_leaks=0:abort_on_error=1"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const json doc = read_json(out / "run.json");
  EXPECT_EQ(doc["run"]["launcher"], "mpi");
  EXPECT_EQ(doc["run"]["status"], "complete");
  ASSERT_EQ(doc["envelope"]["ranks"].size(), 2u);
  expect_schema_valid(out / "run.json");
}

TEST(Cli, EnvLauncherTwoProcesses) {
  const auto dir = scratch("env");
  const auto cfg = write(dir, "small.yaml", small_experiment());
  const auto out = dir / "run";
  const std::string port = std::to_string(free_loopback_port());
  auto env_for = [&](int rank) {
    return std::vector<std::string>{"FABRICBENCH_RANK=" + std::to_string(rank),
                                    "FABRICBENCH_SIZE=2", "FABRICBENCH_ROOT=127.0.0.1:" + port,
                                    "FABRICBENCH_SECRET=cli-test-secret-0123456789"};
  };
  fbtest::Result peer;
  std::thread rank1([&] {
    peer = fbtest::run_process({kBinary, "run", cfg.string(), "-o", (dir / "unused").string()},
                               dir / "rank1", 120s, env_for(1));
  });
  const auto r0 = fbtest::run_process({kBinary, "run", cfg.string(), "-o", out.string()},
                                      dir / "rank0", 120s, env_for(0));
  rank1.join();
  ASSERT_EQ(r0.exit_code, 0) << r0.err;
  ASSERT_EQ(peer.exit_code, 0) << peer.err;
  const json doc = read_json(out / "run.json");
  EXPECT_EQ(doc["run"]["launcher"], "env");
  ASSERT_EQ(doc["envelope"]["ranks"].size(), 2u);
  // Only rank 0 writes the document.
  EXPECT_FALSE(fs::exists(dir / "unused"));
  // The secret never reaches the document.
  EXPECT_EQ(fbtest::slurp(out / "run.json").find("cli-test-secret-0123456789"), std::string::npos);
}

// The secret a launcher hands the ranks in FABRICBENCH_SECRET is taken out of their environment:
// a `command` injector's shell (a child of rank 0) does not see it, and neither does anyone
// reading the ranks' /proc/PID/environ while they run.
TEST(Cli, SecretNeverReachesChildrenOrProcEnviron) {
  const auto dir = scratch("secret");
  const std::string secret = "cli-secret-" + std::to_string(getpid()) + "-abcdefghij";
  const auto seen = dir / "inject.env";
  const auto cfg = write(
      dir, "fault.yaml",
      "fabricbench: 1\nname: secret\nranks: 2\ntimeouts: {peer: 10s}\n"
      "injector: {backend: command, inject: 'env > " +
          seen.string() +
          "', clear: 'true'}\ncases:\n  - {suite: stream, transport: tcp, sizes: 64KiB, "
          "duration: 2s, warmup: 100ms, fault: {kind: link_down, start: 300ms, hold: 200ms}}\n");
  const std::string port = std::to_string(free_loopback_port());
  auto env_for = [&](int rank) {
    return std::vector<std::string>{"FABRICBENCH_RANK=" + std::to_string(rank),
                                    "FABRICBENCH_SIZE=2", "FABRICBENCH_ROOT=127.0.0.1:" + port,
                                    "FABRICBENCH_SECRET=" + secret};
  };
  std::string environs;
  const auto read_environs = [&](pid_t pid) {
    std::this_thread::sleep_for(1s);  // well into the run: the secret was read long ago
    environs += fbtest::slurp("/proc/" + std::to_string(pid) + "/environ");
    for (pid_t c : fbtest::children_of(pid)) {
      environs += fbtest::slurp("/proc/" + std::to_string(c) + "/environ");
    }
  };
  fbtest::Result peer;
  std::thread rank1([&] {
    peer = fbtest::run_process({kBinary, "run", cfg.string(), "-o", (dir / "unused").string()},
                               dir / "rank1", 60s, env_for(1), read_environs);
  });
  const auto r0 = fbtest::run_process({kBinary, "run", cfg.string(), "-o", (dir / "run").string()},
                                      dir / "rank0", 60s, env_for(0), read_environs);
  rank1.join();
  ASSERT_EQ(r0.exit_code, 0) << r0.err;
  ASSERT_EQ(peer.exit_code, 0) << peer.err;
  const std::string injected = fbtest::slurp(seen);
  ASSERT_NE(injected.find("PATH="), std::string::npos) << "the inject command did not run";
  EXPECT_EQ(injected.find(secret), std::string::npos) << injected;
  EXPECT_EQ(injected.find("FABRICBENCH_SECRET="), std::string::npos) << injected;
  EXPECT_NE(environs.find("FABRICBENCH_RANK="), std::string::npos) << "no environ was read";
  EXPECT_EQ(environs.find(secret), std::string::npos);
}

TEST(Cli, EnvLauncherRefusesMissingSecret) {
  const auto dir = scratch("envbad");
  const auto cfg = write(dir, "small.yaml", small_experiment());
  const auto r = fbtest::run_process(
      {kBinary, "run", cfg.string(), "-o", (dir / "run").string()}, dir, 30s,
      {"FABRICBENCH_RANK=0", "FABRICBENCH_SIZE=2", "FABRICBENCH_ROOT=127.0.0.1:1"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("FABRICBENCH_SECRET"), std::string::npos) << r.err;
}
