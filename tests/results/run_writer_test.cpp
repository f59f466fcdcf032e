// Files of a run directory: atomic run.json, journal, reading, recovery after a kill.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <sstream>
#include <string>

#include "core/error.hpp"
#include "results/run_document.hpp"
#include "tests/results/test_support.hpp"

namespace fabricbench::results {
namespace {

using nlohmann::json;
using testing::list_dir;
using testing::read_file;
using testing::TempDir;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

const std::vector<std::string> kRunFiles = {"journal.jsonl", "run.json"};

TEST(WriteFileAtomic, ReplacesContentAndLeavesNoTempFile) {
  TempDir tmp;
  const std::string path = tmp.file("doc.json");
  write_file_atomic(path, "first");
  write_file_atomic(path, "second, longer content");
  EXPECT_EQ(read_file(path), "second, longer content");
  EXPECT_EQ(list_dir(tmp.path()), std::vector<std::string>{"doc.json"});
}

TEST(WriteFileAtomic, FailureRemovesTempFileAndKeepsTarget) {
  TempDir tmp;
  // rename() onto a non-empty directory fails after the temp file was written and synced.
  const std::string target = tmp.file("target");
  std::filesystem::create_directory(target);
  testing::write_file(target + "/keep", "x");
  try {
    write_file_atomic(target, "content");
    FAIL() << "rename onto a non-empty directory succeeded";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::runtime);
    EXPECT_NE(std::string(e.what()).find(target), std::string::npos) << e.what();
  }
  EXPECT_EQ(list_dir(tmp.path()), std::vector<std::string>{"target"});
  EXPECT_EQ(read_file(target + "/keep"), "x");

  EXPECT_THROW(write_file_atomic(tmp.file("missing/dir/doc.json"), "x"), core::Error);
}

// A symlink planted where the temporary file used to be named (<path>.tmp.<pid>) must not make
// the write go through it: the file it points to stays as it was.
TEST(WriteFileAtomic, PlantedSymlinkIsNotFollowed) {
  TempDir tmp;
  const std::string victim = tmp.file("victim");
  testing::write_file(victim, "precious");
  const std::string path = tmp.file("doc.json");
  std::filesystem::create_symlink(victim, path + ".tmp." + std::to_string(::getpid()));
  write_file_atomic(path, "new");
  EXPECT_EQ(read_file(victim), "precious");
  EXPECT_EQ(read_file(path), "new");
  // A symlink at the target itself is replaced, not written through.
  std::filesystem::create_symlink(victim, tmp.file("link.json"));
  write_file_atomic(tmp.file("link.json"), "replaced");
  EXPECT_EQ(read_file(victim), "precious");
  EXPECT_FALSE(std::filesystem::is_symlink(tmp.file("link.json")));
}

TEST(RunWriter, RefusesDirectoriesOthersCanChange) {
  TempDir tmp;
  const std::string open_dir = tmp.file("open");
  std::filesystem::create_directory(open_dir);
  std::filesystem::permissions(open_dir, std::filesystem::perms::all);  // 0777, no sticky bit
  try {
    RunWriter writer(open_dir, testing::sample_header());
    FAIL() << "a world-writable directory was accepted";
  } catch (const core::Error& e) {
    EXPECT_NE(std::string(e.what()).find("without the sticky bit"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(list_dir(open_dir).empty());
  std::filesystem::permissions(open_dir, std::filesystem::perms::sticky_bit,
                               std::filesystem::perm_options::add);
  EXPECT_NO_THROW(RunWriter(open_dir, testing::sample_header()));

  if (::geteuid() != 0) GTEST_SKIP() << "a directory of another user needs root to make";
  const std::string foreign = tmp.file("foreign");
  std::filesystem::create_directory(foreign);
  ASSERT_EQ(::chown(foreign.c_str(), 65534, 65534), 0);
  try {
    RunWriter writer(foreign, testing::sample_header());
    FAIL() << "a directory of another user was accepted";
  } catch (const core::Error& e) {
    EXPECT_NE(std::string(e.what()).find("belongs to uid 65534"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(list_dir(foreign).empty());
}

TEST(RunWriter, WritesRunningThenCompleteWithJournalPerCase) {
  TempDir tmp;
  const std::string dir = tmp.file("runs/quickstart");  // parents are created
  RunWriter writer(dir, testing::sample_header());
  EXPECT_EQ(writer.document_path(), dir + "/run.json");
  EXPECT_EQ(list_dir(dir), kRunFiles);
  EXPECT_EQ(read_run_document(dir).status, RunStatus::running);
  EXPECT_EQ(read_file(dir + "/journal.jsonl"), "");

  writer.set_current_case("pingpong.tcp.64B");
  EXPECT_EQ(read_run_document(dir).interrupted_case, "pingpong.tcp.64B");
  writer.add_case(testing::pingpong_case());
  RunDocument mid = read_run_document(dir + "/run.json");
  EXPECT_EQ(mid.status, RunStatus::running);
  EXPECT_EQ(mid.cases.size(), 1u);
  EXPECT_EQ(mid.interrupted_case, "");

  writer.set_current_case("stream.tcp.1MiB");
  CaseResult stream = testing::stream_case();
  stream.summary = nullptr;  // the writer derives it
  writer.add_case(stream);
  writer.finish(RunStatus::complete);

  EXPECT_EQ(list_dir(dir), kRunFiles);  // no temp file left behind
  const RunDocument done = read_run_document(dir);
  EXPECT_EQ(done.status, RunStatus::complete);
  EXPECT_EQ(done.interrupted_case, "");
  EXPECT_GE(done.finished_ns, done.started_ns);
  ASSERT_EQ(done.cases.size(), 2u);
  EXPECT_TRUE(done.cases[1].summary.contains("bw_gbps_median"));
  EXPECT_EQ(to_json(done), to_json(writer.document()));

  const auto lines = lines_of(read_file(dir + "/journal.jsonl"));
  ASSERT_EQ(lines.size(), done.cases.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const json line = json::parse(lines[i]);
    EXPECT_EQ(line["run_id"], done.run_id);
    EXPECT_EQ(line["case"], to_json(done.cases[i]));
  }
}

TEST(RunWriter, FinishInterruptedNamesTheCaseInProgress) {
  TempDir tmp;
  RunWriter writer(tmp.path(), testing::sample_header());
  writer.add_case(testing::pingpong_case());
  writer.set_current_case("stream.tcp.1MiB");
  writer.finish(RunStatus::interrupted);
  const RunDocument d = read_run_document(tmp.path());
  EXPECT_EQ(d.status, RunStatus::interrupted);
  EXPECT_EQ(d.interrupted_case, "stream.tcp.1MiB");
  EXPECT_NE(d.finished_ns, 0u);
  EXPECT_THROW(writer.add_case(testing::stream_case()), core::Error);
}

TEST(RunWriter, RefusesReusedDirectoryDuplicateAndNonFiniteCases) {
  TempDir tmp;
  {
    RunWriter writer(tmp.path(), testing::sample_header());
    writer.add_case(testing::pingpong_case());
    EXPECT_THROW(writer.add_case(testing::pingpong_case()), core::Error);  // duplicate id

    CaseResult bad = testing::stream_case();
    bad.repetitions[0].bw_gbps = INFINITY;
    bad.summary = nullptr;
    EXPECT_THROW(writer.add_case(bad), core::Error);
    // Neither refused case reached the journal or the document.
    EXPECT_EQ(lines_of(read_file(tmp.file("journal.jsonl"))).size(), 1u);
    EXPECT_EQ(read_run_document(tmp.path()).cases.size(), 1u);
  }
  try {
    RunWriter again(tmp.path(), testing::sample_header());
    FAIL() << "a second run was written into a used run directory";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::usage);
    EXPECT_NE(std::string(e.what()).find("already holds a run"), std::string::npos);
  }
}

TEST(ReadRunDocument, ReportsFileAndReason) {
  TempDir tmp;
  testing::write_file(tmp.file("run.json"), "{\"schema\": \"fabricbench.run\",");
  try {
    read_run_document(tmp.path());
    FAIL();
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::config);
    EXPECT_NE(std::string(e.what()).find(tmp.file("run.json")), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("not valid JSON"), std::string::npos);
  }
  testing::write_file(tmp.file("run.json"), "{\"schema\": \"fabricbench.run\"}");
  try {
    read_run_document(tmp.file("run.json"));
    FAIL();
  } catch (const core::Error& e) {
    EXPECT_NE(std::string(e.what()).find("schema_version"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_run_document(tmp.file("absent.json")), core::Error);
}

TEST(Recovery, RebuildsRunKilledWithSigkill) {
  TempDir tmp;
  const std::string dir = tmp.file("run");
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    try {
      RunWriter writer(dir, testing::sample_header());
      writer.set_current_case("pingpong.tcp.64B");
      writer.add_case(testing::pingpong_case());
      writer.set_current_case("stream.tcp.1MiB");
      writer.add_case(testing::stream_case());
      writer.set_current_case("pingpong.tcp.1MiB");
      ::kill(::getpid(), SIGKILL);  // no destructor, no finish(): as if killed mid-case
    } catch (...) {
    }
    _exit(3);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child status " << status;

  EXPECT_EQ(read_run_document(dir).status, RunStatus::running);  // what the killed run left
  const RunDocument d = recover_from_journal(dir);
  EXPECT_EQ(d.status, RunStatus::interrupted);
  EXPECT_EQ(d.run_id, testing::sample_header().run_id);
  EXPECT_EQ(d.interrupted_case, "pingpong.tcp.1MiB");
  ASSERT_EQ(d.cases.size(), 2u);
  EXPECT_EQ(d.cases[0].id, "pingpong.tcp.64B");
  EXPECT_EQ(d.cases[1].id, "stream.tcp.1MiB");
  EXPECT_EQ(d.finished_ns, d.cases[1].finished_ns);
  ASSERT_TRUE(d.events.is_array());
  EXPECT_EQ(d.events.back()["kind"], "recovered");
  EXPECT_EQ(d.cases[0].repetitions[0].latency, testing::pingpong_case().repetitions[0].latency);
  EXPECT_EQ(list_dir(dir), kRunFiles);
}

TEST(Recovery, JournalAheadOfRunJsonAndTornLastLine) {
  TempDir tmp;
  RunWriter writer(tmp.path(), testing::sample_header());
  writer.add_case(testing::pingpong_case());
  const std::string after_first = read_file(writer.document_path());
  writer.add_case(testing::stream_case());
  // Killed after the journal append of case 2 but before run.json was replaced, and again in the
  // middle of appending a third line.
  testing::write_file(writer.document_path(), after_first);
  const std::string journal = read_file(tmp.file("journal.jsonl"));
  testing::write_file(tmp.file("journal.jsonl"), journal + "{\"run_id\": \"2026");

  const RunDocument d = recover_from_journal(tmp.path());
  EXPECT_EQ(d.status, RunStatus::interrupted);
  ASSERT_EQ(d.cases.size(), 2u);  // case 1 from run.json, case 2 from the journal only
  EXPECT_EQ(to_json(d.cases[1]), to_json(testing::stream_case()));
  const std::string detail = d.events.back()["detail"];
  EXPECT_NE(detail.find("1 case(s) from journal.jsonl"), std::string::npos) << detail;
  EXPECT_NE(detail.find("torn"), std::string::npos) << detail;
  // The recovered document is itself a valid document.
  EXPECT_EQ(to_json(run_document_from_json(to_json(d))), to_json(d));
}

TEST(Recovery, WithoutRunJsonUsesTheJournal) {
  TempDir tmp;
  {
    RunWriter writer(tmp.path(), testing::sample_header());
    writer.add_case(testing::pingpong_case());
    writer.add_case(testing::stream_case());
  }
  std::filesystem::remove(tmp.file("run.json"));
  const RunDocument d = recover_from_journal(tmp.path());
  EXPECT_EQ(d.status, RunStatus::interrupted);
  EXPECT_EQ(d.run_id, testing::sample_header().run_id);
  EXPECT_EQ(d.launcher, "unknown");
  EXPECT_EQ(d.cases.size(), 2u);
  EXPECT_EQ(d.started_ns, testing::pingpong_case().started_ns);
  EXPECT_NE(d.events.back()["detail"].get<std::string>().find("run.json missing"),
            std::string::npos);
}

TEST(Recovery, FinishedRunIsReturnedAsIs) {
  TempDir tmp;
  RunWriter writer(tmp.path(), testing::sample_header());
  writer.add_case(testing::pingpong_case());
  writer.finish(RunStatus::complete);
  const RunDocument d = recover_from_journal(tmp.path());
  EXPECT_EQ(d.status, RunStatus::complete);
  EXPECT_EQ(to_json(d), to_json(writer.document()));
}

TEST(Recovery, RejectsForeignOrMalformedJournal) {
  TempDir tmp;
  RunWriter writer(tmp.path(), testing::sample_header());
  writer.add_case(testing::pingpong_case());
  const std::string journal = read_file(tmp.file("journal.jsonl"));

  json foreign = {{"run_id", "another-run"}, {"case", to_json(testing::stream_case())}};
  testing::write_file(tmp.file("journal.jsonl"), journal + foreign.dump() + "\n");
  try {
    recover_from_journal(tmp.path());
    FAIL();
  } catch (const core::Error& e) {
    EXPECT_NE(std::string(e.what()).find("journal.jsonl:2: belongs to run another-run"),
              std::string::npos)
        << e.what();
  }

  // A broken line that is followed by more lines is corruption, not a torn tail.
  testing::write_file(tmp.file("journal.jsonl"), "{broken\n" + journal);
  try {
    recover_from_journal(tmp.path());
    FAIL();
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::config);
    EXPECT_NE(std::string(e.what()).find("journal.jsonl:1: not valid JSON"), std::string::npos)
        << e.what();
  }

  json bad_case = {{"run_id", testing::sample_header().run_id}, {"case", {{"id", "x"}}}};
  testing::write_file(tmp.file("journal.jsonl"), journal + bad_case.dump() + "\n");
  try {
    recover_from_journal(tmp.path());
    FAIL();
  } catch (const core::Error& e) {
    EXPECT_NE(std::string(e.what()).find("journal.jsonl:2: run document: case.suite"),
              std::string::npos)
        << e.what();
  }

  TempDir empty;
  EXPECT_THROW(recover_from_journal(empty.path()), core::Error);
}

}  // namespace
}  // namespace fabricbench::results
