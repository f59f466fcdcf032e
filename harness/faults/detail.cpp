#include "harness/faults/detail.hpp"

#include "harness/faults/injector.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "core/error.hpp"

namespace fabricbench::faults::detail {

namespace {

bool executable(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::optional<NetnsId> id_of_path(const char* path) {
  struct stat st {};
  if (::stat(path, &st) != 0) return std::nullopt;
  return NetnsId{st.st_dev, st.st_ino};
}

}  // namespace

std::string find_tool(std::string_view name) {
  if (name.empty()) return {};
  if (name.find('/') != std::string_view::npos) {
    return executable(std::string(name)) ? std::string(name) : std::string();
  }
  std::string dirs;
  if (const char* path = std::getenv("PATH")) dirs = path;
  dirs += ":/usr/sbin:/sbin:/usr/bin:/bin";
  std::stringstream split(dirs);
  std::string dir;
  while (std::getline(split, dir, ':')) {
    if (dir.empty() || dir[0] != '/') continue;  // relative PATH entries are not trusted
    std::string candidate = dir + "/" + std::string(name);
    if (executable(candidate)) return candidate;
  }
  return {};
}

std::vector<std::string> tbf_args(double bits_per_s) {
  const double bytes_per_ms = bits_per_s / 8 / 1000;
  const auto burst = static_cast<unsigned long long>(std::max(65536.0, std::ceil(bytes_per_ms)));
  return {"tbf",
          "rate",
          fmt::format("{}bit", static_cast<unsigned long long>(std::llround(bits_per_s))),
          "burst",
          std::to_string(burst),
          "latency",
          "50ms"};
}

std::string shell_quote(std::string_view word) {
  if (!word.empty() &&
      word.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                             "_-.,/:=@%+") == std::string_view::npos) {
    return std::string(word);
  }
  std::string out = "'";
  for (char c : word) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

std::string shell_join(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& word : argv) {
    if (!out.empty()) out += ' ';
    out += shell_quote(word);
  }
  return out;
}

std::string failure_text(const ActionRecord& record) {
  std::string text = "`" + shell_join(record.argv) + "` ";
  if (record.exit_code == -1) {
    text += "could not run";
  } else if (record.exit_code == 124) {
    text += "timed out (killed)";
  } else {
    text += "exited with " + std::to_string(record.exit_code);
  }
  std::string output = record.output;
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
  if (output.size() > 400) output = output.substr(0, 400) + "...";
  if (!output.empty()) text += ": " + output;
  return text;
}

std::optional<NetnsId> current_netns() {
  return id_of_path("/proc/thread-self/ns/net");
}

std::optional<NetnsId> netns_of_fd(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return std::nullopt;
  return NetnsId{st.st_dev, st.st_ino};
}

std::optional<NetnsId> netns_of_pid(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
  return id_of_path(path.c_str());
}

std::string netns_name(const NetnsId& id) {
  DIR* dir = ::opendir("/run/netns");
  if (dir == nullptr) return {};
  std::string found;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    const std::string path = std::string("/run/netns/") + entry->d_name;
    const auto other = id_of_path(path.c_str());
    if (other && *other == id) {
      found = entry->d_name;
      break;
    }
  }
  ::closedir(dir);
  return found;
}

NetnsHandle::NetnsHandle() {
  fd_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    throw core::Error(core::ErrorKind::unavailable,
                      std::string("cannot open /proc/thread-self/ns/net: ") + std::strerror(errno));
  }
  const auto id = netns_of_fd(fd_);
  if (id) id_ = *id;
}

NetnsHandle::~NetnsHandle() {
  if (fd_ >= 0) ::close(fd_);
}

ScopedNetns::ScopedNetns(const NetnsHandle& target) {
  const auto here = current_netns();
  if (here && *here == target.id()) return;
  saved_fd_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (saved_fd_ < 0) {
    throw core::Error(core::ErrorKind::runtime,
                      std::string("cannot open /proc/thread-self/ns/net: ") + std::strerror(errno));
  }
  if (::setns(target.fd(), CLONE_NEWNET) != 0) {
    const int err = errno;
    ::close(saved_fd_);
    saved_fd_ = -1;
    throw core::Error(
        core::ErrorKind::runtime,
        std::string("cannot enter the injector's network namespace: ") + std::strerror(err));
  }
}

ScopedNetns::~ScopedNetns() {
  if (saved_fd_ < 0) return;
  (void)::setns(saved_fd_, CLONE_NEWNET);  // back where the thread was; nothing to do on failure
  ::close(saved_fd_);
}

std::vector<std::pair<std::string, std::string>> parse_link_stack(const std::string& ip_output) {
  std::vector<std::pair<std::string, std::string>> links;
  std::istringstream lines(ip_output);
  std::string line;
  while (std::getline(lines, line)) {
    std::replace(line.begin(), line.end(), '\\', ' ');  // -o joins a device's lines with '\'
    std::istringstream words(line);
    std::string index, name;
    if (!(words >> index >> name) || name.empty() || name.back() != ':') continue;
    name.pop_back();
    // A veth names its peer after '@' too: a peer is not stacked on it.
    const bool veth = line.find(" veth ") != std::string::npos;
    if (const auto at = name.find('@'); at != std::string::npos) {
      const std::string lower = name.substr(at + 1);
      name.resize(at);
      if (!veth && !lower.empty() && lower != "NONE" && !lower.starts_with("if")) {
        links.emplace_back(name, lower);
      }
    }
    for (std::string word; words >> word;) {
      if (word == "master" && words >> word) links.emplace_back(name, word);
    }
  }
  return links;
}

std::vector<std::string> stacked_interfaces(const std::string& name) {
  std::vector<std::string> out{name};
  const std::string ip = find_tool("ip");
  if (ip.empty()) return out;
  const auto listed =
      run_command("list links", {ip, "-o", "-d", "link", "show"}, kDefaultCommandTimeoutNs);
  if (!listed.ok()) return out;
  const auto links = parse_link_stack(listed.output);
  for (std::size_t i = 0; i < out.size(); ++i) {
    for (const auto& [a, b] : links) {
      const std::string* other = a == out[i] ? &b : b == out[i] ? &a : nullptr;
      if (other != nullptr && std::find(out.begin(), out.end(), *other) == out.end()) {
        out.push_back(*other);
      }
    }
  }
  return out;
}

std::vector<std::string> default_route_interfaces() {
  constexpr unsigned kRtfUp = 0x0001;
  constexpr unsigned kRtfReject = 0x0200;
  std::vector<std::string> out;
  auto add = [&out](const std::string& name) {
    for (const auto& n : out) {
      if (n == name) return;
    }
    out.push_back(name);
  };
  {
    std::ifstream in("/proc/thread-self/net/route");
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string iface, dest, gateway, flags, refcnt, use, metric, mask;
      if (!(fields >> iface >> dest >> gateway >> flags >> refcnt >> use >> metric >> mask))
        continue;
      const unsigned long f = std::strtoul(flags.c_str(), nullptr, 16);
      if (dest == "00000000" && mask == "00000000" && (f & kRtfUp) != 0 && (f & kRtfReject) == 0) {
        add(iface);
      }
    }
  }
  {
    std::ifstream in("/proc/thread-self/net/ipv6_route");
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string dest, dest_len, src, src_len, next_hop, metric, refcnt, use, flags, iface;
      if (!(fields >> dest >> dest_len >> src >> src_len >> next_hop >> metric >> refcnt >> use >>
            flags >> iface)) {
        continue;
      }
      const unsigned long f = std::strtoul(flags.c_str(), nullptr, 16);
      if (dest == std::string(32, '0') && dest_len == "00" && (f & kRtfUp) != 0 &&
          (f & kRtfReject) == 0 && iface != "lo") {
        add(iface);
      }
    }
  }
  return out;
}

}  // namespace fabricbench::faults::detail
