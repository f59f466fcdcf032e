// Documents the library writes validate against results/schema/run-v1.schema.json, checked with
// ci/validate-run.py (python3-jsonschema), and the check rejects a broken document.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "results/run_document.hpp"
#include "tests/results/test_support.hpp"

namespace fabricbench::results {
namespace {

using nlohmann::json;
using testing::TempDir;

struct Outcome {
  int exit_code = -1;
  std::string output;
};

std::string source_dir() {
  const char* env = std::getenv("FABRICBENCH_SOURCE_DIR");
  return env != nullptr && *env != '\0' ? env : FABRICBENCH_TEST_SOURCE_DIR;
}

std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char ch : s) {
    if (ch == '\'') {
      out += "'\\''";
    } else {
      out += ch;
    }
  }
  return out + "'";
}

Outcome run_command(const std::string& command) {
  Outcome o;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return o;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) o.output.append(buf, n);
  const int status = pclose(pipe);
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return o;
}

class SchemaValidation : public ::testing::Test {
 protected:
  void SetUp() override {
    if (run_command("python3 -c 'import jsonschema'").exit_code != 0) {
      GTEST_SKIP() << "python3 with the jsonschema module is not available "
                      "(apt-get install python3-jsonschema)";
    }
  }
  Outcome validate(const std::string& doc_path) const {
    const std::string src = source_dir();
    return run_command("python3 " + quoted(src + "/ci/validate-run.py") + " " +
                       quoted(src + "/results/schema/run-v1.schema.json") + " " + quoted(doc_path));
  }
  static std::string write_doc(const TempDir& tmp, const std::string& name, const json& j) {
    const std::string path = tmp.file(name);
    write_file_atomic(path, j.dump());
    return path;
  }
};

TEST_F(SchemaValidation, WrittenDocumentsValidate) {
  TempDir tmp;
  const std::string dir = tmp.file("run");
  RunWriter writer(dir, testing::sample_header());
  // Running document with no cases yet.
  Outcome running = validate(dir);
  EXPECT_EQ(running.exit_code, 0) << running.output;

  writer.add_case(testing::pingpong_case());
  CaseResult skipped;
  skipped.id = "pingpong.verbs.64B";
  skipped.suite = "pingpong";
  skipped.transport = "verbs";
  skipped.status = CaseStatus::skipped;
  skipped.skip_reason = "no RDMA device: ibv_get_device_list: Function not implemented";
  writer.add_case(skipped);
  writer.add_case(testing::stream_case());
  writer.finish(RunStatus::complete);

  const Outcome done = validate(writer.document_path());
  EXPECT_EQ(done.exit_code, 0) << done.output;
  EXPECT_EQ(done.output, "ok " + writer.document_path() + "\n");

  // A recovered document (journal only) is valid too.
  TempDir tmp2;
  {
    RunWriter killed(tmp2.path(), testing::sample_header());
    killed.add_case(testing::stream_case());
  }
  std::remove(tmp2.file("run.json").c_str());
  const std::string recovered =
      write_doc(tmp2, "recovered.json", to_json(recover_from_journal(tmp2.path())));
  const Outcome rec = validate(recovered);
  EXPECT_EQ(rec.exit_code, 0) << rec.output;
}

TEST_F(SchemaValidation, DocumentMissingRunStatusFails) {
  TempDir tmp;
  json j = to_json(testing::sample_document());
  const std::string good = write_doc(tmp, "good.json", j);
  j["run"].erase("status");
  const std::string bad = write_doc(tmp, "bad.json", j);
  const Outcome o = validate(bad);
  EXPECT_EQ(o.exit_code, 1) << o.output;
  EXPECT_NE(o.output.find("FAIL " + bad), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("'status' is a required property"), std::string::npos) << o.output;

  // One line per document; one failure fails the whole invocation.
  const std::string src = source_dir();
  const Outcome both = run_command("python3 " + quoted(src + "/ci/validate-run.py") + " " +
                                   quoted(src + "/results/schema/run-v1.schema.json") + " " +
                                   quoted(good) + " " + quoted(bad));
  EXPECT_EQ(both.exit_code, 1) << both.output;
  EXPECT_NE(both.output.find("ok " + good + "\n"), std::string::npos) << both.output;
}

TEST_F(SchemaValidation, SchemaIsStrictOnUnitsAndTypes) {
  TempDir tmp;
  struct Mutation {
    const char* what;
    void (*apply)(json&);
  };
  const Mutation mutations[] = {
      {"string bandwidth",
       [](json& j) { j["cases"][1]["repetitions"][0]["bw_gbps"] = "9.4 Gb/s"; }},
      {"renamed unit field",
       [](json& j) {
         auto& r = j["cases"][1]["repetitions"][0];
         r["bw_mbps"] = 9400;
         r.erase("bw_gbps");
       }},
      {"unknown case status", [](json& j) { j["cases"][0]["status"] = "great"; }},
      {"histogram unit",
       [](json& j) { j["cases"][0]["repetitions"][0]["latency"]["histogram"]["unit"] = "us"; }},
      {"negative bytes", [](json& j) { j["cases"][0]["repetitions"][0]["bytes"] = -1; }},
      {"newer version", [](json& j) { j["schema_version"] = 2; }},
      {"local timestamp", [](json& j) { j["run"]["started_at"] = "2026-11-23 10:15:00"; }},
      {"skipped without reason",
       [](json& j) {
         j["cases"][0]["status"] = "skipped";
         j["cases"][0].erase("skip_reason");
       }},
  };
  for (const auto& m : mutations) {
    json j = to_json(testing::sample_document());
    m.apply(j);
    const Outcome o = validate(write_doc(tmp, "mutated.json", j));
    EXPECT_EQ(o.exit_code, 1) << m.what << ": " << o.output;
  }
  // Open objects: new envelope facts and plan parameters are allowed.
  json open = to_json(testing::sample_document());
  open["envelope"]["ranks"][0]["new_fact"] = {{"x", 1}};
  open["cases"][0]["params"]["new_param"] = "y";
  const Outcome o = validate(write_doc(tmp, "open.json", open));
  EXPECT_EQ(o.exit_code, 0) << o.output;
}

struct MapMutation {
  const char* what;
  void (*apply)(json&);
};

// The summary of a pattern incast or shift case (harness/engine/flows_case.cpp): 2 ranks.
json flows_map(const char* pattern) {
  const bool incast = std::string(pattern) == "incast";
  json steps = json::array();
  if (incast) {
    steps.push_back({{"target", 0},
                     {"flows", json::array({json::array({1, 0, 1.5})})},
                     {"aggregate", 1.5},
                     {"aggregate_per_repetition", json::array({1.5})}});
    steps.push_back({{"target", 1},
                     {"flows", json::array({json::array({0, 1, nullptr})})},
                     {"aggregate", nullptr},
                     {"aggregate_per_repetition", json::array({nullptr})}});
  } else {
    steps.push_back({{"shift", 1},
                     {"flows", json::array({json::array({0, 1, 1.0}), json::array({1, 0, 2.0})})},
                     {"aggregate", 3.0},
                     {"aggregate_per_repetition", json::array({3.0})}});
  }
  json m = {{"pattern", pattern},
            {"metric", "bandwidth"},
            {"unit", "GB/s"},
            {"directed", true},
            {"nodes", json::array({{{"rank", 0}, {"host", "a"}}, {{"rank", 1}, {"host", "b"}}})},
            {"steps", steps},
            {"repetitions", 1},
            {"matrix", json::array({json::array({nullptr, 1.0}), json::array({2.0, nullptr})})},
            {"reference", 2.0}};
  if (incast) m["incast_bandwidth"] = json::array({1.5, nullptr});
  return m;
}

TEST_F(SchemaValidation, FlowMapsValidateAndAreChecked) {
  TempDir tmp;
  for (const char* pattern : {"incast", "shift"}) {
    json j = to_json(testing::sample_document());
    j["cases"][1]["summary"]["map"] = flows_map(pattern);
    const Outcome o = validate(write_doc(tmp, "flows.json", j));
    EXPECT_EQ(o.exit_code, 0) << pattern << ": " << o.output;
  }
  const MapMutation mutations[] = {
      {"unknown pattern", [](json& m) { m["pattern"] = "broadcast"; }},
      {"latency", [](json& m) { m["metric"] = "latency"; }},
      {"flow figure as text", [](json& m) { m["steps"][0]["flows"][0][2] = "1.5 GB/s"; }},
      {"flow without its receiver",
       [](json& m) {
         m["steps"][0]["flows"][0] = json::array({1, 1.5});
       }},
      {"step without aggregate", [](json& m) { m["steps"][0].erase("aggregate"); }},
      {"step neither target nor shift", [](json& m) { m["steps"][0].erase("target"); }},
      {"no matrix", [](json& m) { m.erase("matrix"); }},
  };
  for (const auto& m : mutations) {
    json j = to_json(testing::sample_document());
    json map = flows_map("incast");
    m.apply(map);
    j["cases"][1]["summary"]["map"] = map;
    const Outcome o = validate(write_doc(tmp, "mutated.json", j));
    EXPECT_EQ(o.exit_code, 1) << m.what << ": " << o.output;
  }
}

}  // namespace
}  // namespace fabricbench::results
