#include "harness/engine/failure_watch.hpp"

#include <poll.h>

#include <vector>

namespace fabricbench::engine {

namespace {
constexpr int kPollMs = 20;  // how soon a set stop flag or the end of the repetition is seen
}  // namespace

FailureWatch::FailureWatch(const bootstrap::Bootstrap& bs, const std::atomic<bool>* user_stop,
                           std::atomic<bool>& stop)
    : user_stop_(user_stop), stop_(stop) {
  stop_.store(user_stop_ != nullptr && user_stop_->load());
  thread_ = std::thread([this, fds = bs.liveness_fds(), hub = bs.rank() == 0]() mutable {
    loop(std::move(fds), hub);
  });
}

bool FailureWatch::wait_fired(std::chrono::milliseconds bound) const {
  const auto until = std::chrono::steady_clock::now() + bound;
  while (!fired_.load() && !done_.load() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return fired_.load();
}

FailureWatch::~FailureWatch() {
  done_.store(true);
  if (thread_.joinable()) thread_.join();
}

void FailureWatch::loop(std::vector<int> fds, bool hub) {
  // Rank 0 watches for hang-ups only: a peer that finished early has sent its next collective's
  // contribution, which is readable and not news.
  const short events = static_cast<short>(hub ? POLLRDHUP : (POLLIN | POLLRDHUP));
  std::vector<pollfd> polled;
  polled.reserve(fds.size());
  for (const int fd : fds) polled.push_back(pollfd{fd, events, 0});
  while (!done_.load()) {
    if (user_stop_ != nullptr && user_stop_->load()) stop_.store(true);
    const int n = ::poll(polled.data(), polled.size(), kPollMs);
    if (n <= 0) continue;
    for (auto& p : polled) {
      if (p.revents != 0) {
        fired_.store(true);
        stop_.store(true);
        return;
      }
    }
  }
}

}  // namespace fabricbench::engine
