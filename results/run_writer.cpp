// Files of a run directory: atomic run.json, append-only journal.jsonl, reading and recovery.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <system_error>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "results/config_error.hpp"
#include "results/json_read.hpp"
#include "results/run_document.hpp"

namespace fabricbench::results {

using nlohmann::json;
namespace fs = std::filesystem;
using detail::config_error;

namespace {

[[noreturn]] void throw_io(const std::string& what, const std::string& path, int err) {
  throw core::Error(core::ErrorKind::runtime,
                    what + " " + path + ": " + std::generic_category().message(err));
}

// Closes a file descriptor on scope exit unless released.
class Fd {
 public:
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }
  // Closes now and reports close()'s error (a late write-back error shows up here).
  int close() noexcept {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

void write_all(int fd, const std::string& content, const std::string& path) {
  const char* p = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_io("cannot write", path, errno);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

void fsync_directory_of(const std::string& path) {
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) throw_io("cannot open directory", dir.string(), errno);
  if (::fsync(fd.get()) != 0) throw_io("cannot fsync directory", dir.string(), errno);
}

std::string read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_io("cannot read", path, errno);
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) throw_io("cannot read", path, errno);
  return buf.str();
}

// "; it is an unfinished run (...)" when `dir` holds a run that was killed before it finished.
std::string unfinished_hint(const std::string& dir) {
  const fs::path doc = fs::path(dir) / kDocumentFileName;
  std::error_code ec;
  if (!fs::is_regular_file(fs::symlink_status(doc, ec))) {
    return "; it holds a journal without run.json: `fabricbench recover " + dir +
           "` rebuilds the document of a run that was killed";
  }
  const std::string text = read_whole_file(doc.string());
  if (text.find("\"status\":\"running\"") == std::string::npos) return {};
  return "; it is a run that never finished (killed?): `fabricbench recover " + dir +
         "` completes its document from the journal";
}

bool has_case(const RunDocument& doc, const std::string& id) {
  return std::any_of(doc.cases.begin(), doc.cases.end(),
                     [&](const CaseResult& c) { return c.id == id; });
}

}  // namespace

std::string document_text(const RunDocument& doc) {
  // Invalid UTF-8 (e.g. from a host's /proc text) is replaced rather than failing the write.
  return to_json(doc).dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

void write_file_atomic(const std::string& path, const std::string& content) {
  // A fresh name made by mkostemp (O_CREAT | O_EXCL: never an existing file, never through a
  // symlink someone planted), in the target's directory so rename() stays atomic; rename()
  // replaces a symlink at `path` itself, never what it points to.
  std::string tmp = path + ".tmp.XXXXXX";
  Fd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (fd.get() < 0) throw_io("cannot create", tmp, errno);
  try {
    if (::fchmod(fd.get(), 0644) != 0) throw_io("cannot chmod", tmp, errno);
    write_all(fd.get(), content, tmp);
    if (::fsync(fd.get()) != 0) throw_io("cannot fsync", tmp, errno);
    if (fd.close() != 0) throw_io("cannot close", tmp, errno);
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      throw_io("cannot rename " + tmp + " to", path, errno);
    }
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  fsync_directory_of(path);
}

void check_output_directory(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) throw_io("cannot stat", dir, errno);
  if (!S_ISDIR(st.st_mode)) {
    throw core::Error(core::ErrorKind::usage, dir + " is not a directory");
  }
  if (st.st_uid != ::geteuid()) {
    throw core::Error(core::ErrorKind::usage,
                      "output directory " + dir + " belongs to uid " + std::to_string(st.st_uid) +
                          ", not to this user (uid " + std::to_string(::geteuid()) +
                          "); another user could replace its files: use a directory of your own");
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0) {
    throw core::Error(core::ErrorKind::usage,
                      "output directory " + dir +
                          " is writable by its group or by everyone without the sticky bit; "
                          "others could replace its files (chmod go-w " +
                          dir + ", or use another directory)");
  }
}

RunWriter::RunWriter(std::string dir, RunDocument header)
    : dir_(std::move(dir)), doc_(std::move(header)) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) {
    throw core::Error(core::ErrorKind::runtime,
                      "cannot create run directory " + dir_ + ": " + ec.message());
  }
  check_output_directory(dir_);
  if (fs::exists(fs::symlink_status(document_path()))) {
    throw core::Error(core::ErrorKind::usage, "run directory " + dir_ +
                                                  " already holds a run (run.json); choose another "
                                                  "output directory" +
                                                  unfinished_hint(dir_));
  }
  const std::string journal = (fs::path(dir_) / kJournalFileName).string();
  Fd fd(::open(journal.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (fd.get() < 0) {
    if (errno == EEXIST) {
      throw core::Error(core::ErrorKind::usage, "run directory " + dir_ +
                                                    " already holds a run (journal.jsonl); choose "
                                                    "another output directory" +
                                                    unfinished_hint(dir_));
    }
    throw_io("cannot create", journal, errno);
  }
  if (fd.close() != 0) throw_io("cannot close", journal, errno);
  doc_.status = RunStatus::running;
  doc_.finished_ns = 0;
  doc_.interrupted_case.clear();
  if (doc_.started_ns == 0) doc_.started_ns = core::wall_clock_ns();
  write_document();  // fsyncs the directory: the journal's entry is durable too
}

std::string RunWriter::document_path() const {
  return (fs::path(dir_) / kDocumentFileName).string();
}

void RunWriter::set_current_case(const std::string& id) {
  current_case_ = id;
  // While the run is running, run.interrupted_case names the case in progress, so the file of
  // a killed run already says which case it was in.
  if (doc_.status == RunStatus::running) {
    doc_.interrupted_case = id;
    write_document();
  }
}

void RunWriter::add_case(CaseResult result) {
  if (doc_.status != RunStatus::running) {
    throw core::Error(core::ErrorKind::runtime, "run " + doc_.run_id + " is already " +
                                                    to_string(doc_.status) + "; cannot add case " +
                                                    result.id);
  }
  if (has_case(doc_, result.id)) {
    throw core::Error(core::ErrorKind::runtime,
                      "case " + result.id + " was already added to run " + doc_.run_id);
  }
  if (!result.summary.is_object()) summarize_case(result);
  // Converting first validates the case (finite figures) before any state changes.
  const json line = {{"run_id", doc_.run_id}, {"case", to_json(result)}};
  const std::string text = line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";

  const std::string journal = (fs::path(dir_) / kJournalFileName).string();
  Fd fd(::open(journal.c_str(), O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) throw_io("cannot open", journal, errno);
  write_all(fd.get(), text, journal);
  if (::fsync(fd.get()) != 0) throw_io("cannot fsync", journal, errno);
  if (fd.close() != 0) throw_io("cannot close", journal, errno);

  if (current_case_ == result.id) {
    current_case_.clear();
    doc_.interrupted_case.clear();
  }
  doc_.cases.push_back(std::move(result));
  write_document();
}

void RunWriter::finish(RunStatus status) {
  if (status == RunStatus::running) {
    throw core::Error(core::ErrorKind::runtime, "RunWriter::finish needs a final status");
  }
  doc_.status = status;
  doc_.finished_ns = core::wall_clock_ns();
  doc_.interrupted_case = status == RunStatus::complete ? std::string() : current_case_;
  write_document();
}

void RunWriter::write_document() {
  write_file_atomic(document_path(), document_text(doc_));
}

RunDocument read_run_document(const std::string& path) {
  std::string file = path;
  std::error_code ec;
  if (fs::is_directory(path, ec)) file = (fs::path(path) / kDocumentFileName).string();
  const json j = detail::parse_bounded(read_whole_file(file), file);
  try {
    return run_document_from_json(j);
  } catch (const core::Error& e) {
    throw core::Error(e.kind(), file + ": " + e.what());
  }
}

RunDocument recover_from_journal(const std::string& dir) {
  const std::string doc_path = (fs::path(dir) / kDocumentFileName).string();
  const std::string journal_path = (fs::path(dir) / kJournalFileName).string();
  std::error_code ec;
  const bool have_doc = fs::exists(doc_path, ec);
  const bool have_journal = fs::exists(journal_path, ec);
  if (!have_doc && !have_journal) {
    config_error(dir + ": neither run.json nor journal.jsonl: not a run directory");
  }
  RunDocument doc;
  if (have_doc) {
    doc = read_run_document(doc_path);
    if (doc.status != RunStatus::running) return doc;
  }

  std::size_t recovered = 0;
  bool torn_tail = false;
  std::string first_run_id;
  if (have_journal) {
    const std::string text = read_whole_file(journal_path);
    std::size_t pos = 0;
    std::size_t line_no = 0;
    while (pos < text.size()) {
      ++line_no;
      const std::size_t nl = text.find('\n', pos);
      const bool complete_line = nl != std::string::npos;
      const std::string line = text.substr(pos, complete_line ? nl - pos : std::string::npos);
      pos = complete_line ? nl + 1 : text.size();
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const std::string where = journal_path + ":" + std::to_string(line_no);
      json j;
      try {
        j = detail::parse_bounded(line, where);
      } catch (const core::Error&) {
        if (!complete_line) {  // killed while appending: the line never completed
          torn_tail = true;
          break;
        }
        throw;
      }
      CaseResult c;
      std::string run_id;
      try {
        if (!j.is_object() || !j.contains("run_id") || !j["run_id"].is_string() ||
            !j.contains("case")) {
          config_error("expected {\"run_id\": string, \"case\": object}");
        }
        run_id = j["run_id"].get<std::string>();
        c = case_result_from_json(j["case"]);
      } catch (const core::Error& e) {
        config_error(where + ": " + e.what());
      }
      if (first_run_id.empty()) first_run_id = run_id;
      const std::string& expected = have_doc ? doc.run_id : first_run_id;
      if (run_id != expected) {
        config_error(where + ": belongs to run " + run_id + ", not to run " + expected);
      }
      if (!has_case(doc, c.id)) {
        doc.cases.push_back(std::move(c));
        ++recovered;
      }
    }
  }

  if (!have_doc) {
    doc.run_id = first_run_id.empty() ? fs::path(dir).filename().string() : first_run_id;
    doc.tool_version = "unknown";
    doc.tool_revision = "unknown";
    doc.launcher = "unknown";
    doc.config = json::object();
    doc.envelope = json::object();
    for (const auto& c : doc.cases) {
      if (doc.started_ns == 0 || (c.started_ns != 0 && c.started_ns < doc.started_ns)) {
        doc.started_ns = c.started_ns;
      }
    }
  }
  doc.status = RunStatus::interrupted;
  std::uint64_t last = doc.started_ns;
  for (const auto& c : doc.cases) last = std::max(last, c.finished_ns);
  doc.finished_ns = last;
  if (has_case(doc, doc.interrupted_case)) doc.interrupted_case.clear();
  if (!doc.events.is_array()) doc.events = json::array();
  std::string detail = "run stopped without finishing; rebuilt from ";
  detail += have_doc ? "run.json" : "journal.jsonl only (run.json missing)";
  detail += " with " + std::to_string(recovered) + " case(s) from journal.jsonl";
  if (torn_tail) detail += "; ignored a torn last journal line";
  doc.events.push_back(
      {{"t_ns", core::wall_clock_ns()}, {"rank", -1}, {"kind", "recovered"}, {"detail", detail}});
  return doc;
}

}  // namespace fabricbench::results
