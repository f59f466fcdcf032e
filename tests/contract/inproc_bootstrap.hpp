#pragma once
// A minimal in-process Bootstrap for tests: N ranks are N threads of one process, sharing a hub
// whose collectives are a generation-counted barrier. Every wait is bounded by the timeout; an
// abort() or a timeout makes every pending and later collective throw core::Error naming the
// rank(s) at fault, like the real side channel does.
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "harness/bootstrap/bootstrap.hpp"

namespace fabricbench::testkit {

class InprocHub {
 public:
  InprocHub(int size, std::chrono::milliseconds timeout)
      : size_(size),
        timeout_(timeout),
        slots_(static_cast<std::size_t>(size)),
        arrived_(static_cast<std::size_t>(size), false) {}

  int size() const noexcept { return size_; }

  std::vector<std::string> allgather(int rank, const std::string& mine, const char* what) {
    std::unique_lock lock(mutex_);
    throw_if_aborted(rank, what);
    const std::uint64_t generation = generation_;
    slots_[static_cast<std::size_t>(rank)] = mine;
    arrived_[static_cast<std::size_t>(rank)] = true;
    if (++count_ == size_) {
      result_ = slots_;
      count_ = 0;
      arrived_.assign(arrived_.size(), false);
      ++generation_;
      changed_.notify_all();
      return result_;
    }
    const bool done = changed_.wait_for(
        lock, timeout_, [&] { return generation_ != generation || !abort_reason_.empty(); });
    if (generation_ != generation) return result_;
    throw_if_aborted(rank, what);
    if (!done) {
      std::string missing;
      for (int r = 0; r < size_; ++r) {
        if (!arrived_[static_cast<std::size_t>(r)]) {
          if (!missing.empty()) missing += ", ";
          missing += std::to_string(r);
        }
      }
      abort_reason_ = "rank(s) " + missing + " did not arrive within " +
                      std::to_string(timeout_.count()) + " ms";
      changed_.notify_all();
      throw core::Error(core::ErrorKind::timeout, "inproc bootstrap: " + std::string(what) +
                                                      " at rank " + std::to_string(rank) + ": " +
                                                      abort_reason_);
    }
    return result_;
  }

  void abort(int rank, const std::string& reason) noexcept {
    std::lock_guard lock(mutex_);
    if (abort_reason_.empty())
      abort_reason_ = "rank " + std::to_string(rank) + " aborted: " + reason;
    changed_.notify_all();
  }

 private:
  void throw_if_aborted(int rank, const char* what) const {
    if (!abort_reason_.empty()) {
      throw core::Error(core::ErrorKind::peer_lost, "inproc bootstrap: " + std::string(what) +
                                                        " at rank " + std::to_string(rank) + ": " +
                                                        abort_reason_);
    }
  }

  const int size_;
  const std::chrono::milliseconds timeout_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::uint64_t generation_ = 0;
  int count_ = 0;
  std::vector<std::string> slots_;
  std::vector<bool> arrived_;
  std::vector<std::string> result_;
  std::string abort_reason_;
};

class InprocBootstrap final : public bootstrap::Bootstrap {
 public:
  InprocBootstrap(std::shared_ptr<InprocHub> hub, int rank) : hub_(std::move(hub)), rank_(rank) {}

  int rank() const override { return rank_; }
  int size() const override { return hub_->size(); }
  std::string launcher() const override { return "inproc"; }
  void barrier() override { hub_->allgather(rank_, std::string(), "barrier"); }
  std::vector<std::string> allgather(const std::string& mine) override {
    return hub_->allgather(rank_, mine, "allgather");
  }
  std::string broadcast(int root, const std::string& data) override {
    return hub_->allgather(rank_, rank_ == root ? data : std::string(),
                           "broadcast")[static_cast<std::size_t>(root)];
  }
  void abort(const std::string& reason) noexcept override { hub_->abort(rank_, reason); }

 private:
  std::shared_ptr<InprocHub> hub_;
  int rank_;
};

// Runs body(bootstrap) for ranks 0..size-1, each on its own thread, and joins them. A rank whose
// body throws aborts the group (so the others fail fast instead of timing out). Returns one
// entry per rank: empty when it succeeded, else its error text.
inline std::vector<std::string> run_ranks(
    int size, const std::function<void(bootstrap::Bootstrap&)>& body,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(20'000)) {
  auto hub = std::make_shared<InprocHub>(size, timeout);
  std::vector<std::string> errors(static_cast<std::size_t>(size));
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(size));
  for (int r = 0; r < size; ++r) {
    threads.emplace_back([&, r] {
      InprocBootstrap bootstrap(hub, r);
      try {
        body(bootstrap);
      } catch (const std::exception& e) {
        errors[static_cast<std::size_t>(r)] = e.what();
        bootstrap.abort(e.what());
      } catch (...) {
        errors[static_cast<std::size_t>(r)] = "unknown exception";
        bootstrap.abort("unknown exception");
      }
    });
  }
  for (auto& t : threads) t.join();
  return errors;
}

}  // namespace fabricbench::testkit
