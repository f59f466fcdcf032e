// memlock_refusal: buffers a transport pins (verbs) against RLIMIT_MEMLOCK, decided before
// anything is mapped.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <string>

#include "core/units.hpp"
#include "harness/engine/case_setup.hpp"

namespace fabricbench::engine {
namespace {

constexpr std::size_t kKiB = 1024;

TEST(Memlock, PinnedBuffersBeyondTheLimitAreRefusedNamingTheFigureTheLimitAndTheHint) {
  const std::size_t bytes = 3 * 1024 * kKiB;  // 3 MiB
  const std::uint64_t limit = 64 * kKiB;      // a common distribution default
  const auto why = memlock_refusal(bytes, limit, false);
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("need " + core::format_size(bytes)), std::string::npos) << *why;
  EXPECT_NE(why->find("RLIMIT_MEMLOCK) of " + core::format_size(limit)), std::string::npos) << *why;
  EXPECT_NE(why->find("ulimit -l unlimited"), std::string::npos) << *why;
  EXPECT_NE(why->find("memlock entry in /etc/security/limits.conf"), std::string::npos) << *why;
}

TEST(Memlock, WithinTheLimitUnlimitedOrCapIpcLockPass) {
  EXPECT_FALSE(memlock_refusal(64 * kKiB, 64 * kKiB, false).has_value());  // exactly the limit
  EXPECT_TRUE(memlock_refusal(64 * kKiB + 1, 64 * kKiB, false).has_value());
  EXPECT_FALSE(memlock_refusal(std::size_t{1} << 40, RLIM_INFINITY, false).has_value());
  // CAP_IPC_LOCK (root, normally) pins past the limit.
  EXPECT_FALSE(memlock_refusal(std::size_t{1} << 40, 64 * kKiB, true).has_value());
}

}  // namespace
}  // namespace fabricbench::engine
