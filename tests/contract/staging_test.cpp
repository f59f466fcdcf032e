// The staging layer (transports/api/staging.hpp) over real TCP loopback, with the GPU stand-in
// (memory_standin.hpp): the logic is the one GPU memory takes, cudaMemcpy replaced by memcpy.
// Checks that data reaches the receiver's "device" buffer, that every copy is counted with its
// bytes and its time (a fake clock, so the figures are exact), and what staging refuses.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <memory>
#include <string>

#include "tests/contract/memory_standin.hpp"
#include "tests/contract/transport_testkit.hpp"
#include "transports/api/staging.hpp"
#include "transports/tcp/tcp_transport.hpp"

namespace fabricbench::testkit {
namespace {

using transport::StagingTransport;

constexpr std::size_t kMessage = 3000;
constexpr int kMessages = 5;
constexpr std::uint64_t kTick = 7;  // ns per clock reading

std::unique_ptr<transport::Transport> loopback_tcp() {
  transport::tcp::Options o;
  o.family = "ipv4";
  o.address = "127.0.0.1";
  o.completion = transport::CompletionMode::blocking;
  o.connect_timeout_ns = 20'000'000'000ULL;
  return transport::tcp::make_tcp_transport(o);
}

struct Ranks {
  std::array<StagingTransport*, 2> staging{};
  std::array<transport::StagingCounters, 2> counters{};
  std::array<std::shared_ptr<StandInCounts>, 2> standin{std::make_shared<StandInCounts>(),
                                                        std::make_shared<StandInCounts>()};
};

TEST(Staging, CarriesStandInDeviceMemoryOverTcpAndCountsEveryCopy) {
  Ranks ranks;
  run_pair(
      [&](int rank) {
        auto clock = [t = std::make_shared<std::atomic<std::uint64_t>>(0)] {
          return t->fetch_add(kTick) + kTick;
        };
        auto s = std::make_unique<StagingTransport>(loopback_tcp(), clock);
        ranks.staging[static_cast<std::size_t>(rank)] = s.get();
        return s;
      },
      1,
      [&](RankSide& side) {
        const auto r = static_cast<std::size_t>(side.rank);
        StandInDeviceMemory device(ranks.standin[r]);
        transport::OwnedBuffer buffer(device, kMessage * kMessages);
        transport::MemoryRegion region = side.transport.register_memory(buffer.get());
        EXPECT_EQ(region.buffer.addr, buffer.get().addr) << "the caller keeps its own buffer";
        EXPECT_EQ(region.registration, "staged through host (host memory)");
        transport::Endpoint& ep = *side.endpoints[0];
        Drain drain(ep);
        if (side.rank == 1) {
          for (int i = 0; i < kMessages; ++i) {
            transport::WorkRequest w;
            w.op = transport::Op::recv;
            w.wr_id = 100 + static_cast<std::uint64_t>(i);
            w.local = &region;
            w.offset = static_cast<std::size_t>(i) * kMessage;
            w.length = kMessage;
            ASSERT_TRUE(ep.post(w));
          }
        }
        side.bootstrap.barrier();
        if (side.rank == 0) {
          auto* bytes = StandInDeviceMemory::bytes(buffer.get());
          for (int i = 0; i < kMessages; ++i) {
            fill_pattern(bytes + static_cast<std::size_t>(i) * kMessage, kMessage,
                         static_cast<std::uint32_t>(i + 1));
            transport::WorkRequest w;
            w.op = transport::Op::send;
            w.wr_id = 1 + static_cast<std::uint64_t>(i);
            w.local = &region;
            w.offset = static_cast<std::size_t>(i) * kMessage;
            w.length = kMessage;
            ASSERT_TRUE(ep.post(w));
          }
          drain.until(kMessages, 0);
        } else {
          drain.until(0, kMessages);
          const auto* bytes = StandInDeviceMemory::bytes(buffer.get());
          for (int i = 0; i < kMessages; ++i) {
            EXPECT_EQ(pattern_mismatch(bytes + static_cast<std::size_t>(i) * kMessage, kMessage,
                                       static_cast<std::uint32_t>(i + 1)),
                      kMessage)
                << "message " << i << " did not reach the device buffer";
          }
        }
        side.bootstrap.barrier();
        ranks.counters[r] = ranks.staging[r]->counters();
        side.transport.deregister_memory(region);
      });
  const auto& sender = ranks.counters[0];
  const auto& receiver = ranks.counters[1];
  EXPECT_EQ(sender.to_host.copies, static_cast<std::uint64_t>(kMessages));
  EXPECT_EQ(sender.to_host.bytes, kMessage * kMessages);
  EXPECT_EQ(sender.to_host.ns, kTick * kMessages) << "one clock tick per timed copy";
  EXPECT_EQ(sender.to_device.copies, 0u);
  EXPECT_EQ(receiver.to_device.copies, static_cast<std::uint64_t>(kMessages));
  EXPECT_EQ(receiver.to_device.bytes, kMessage * kMessages);
  EXPECT_EQ(receiver.to_device.ns, kTick * kMessages);
  EXPECT_EQ(receiver.to_host.copies, 0u);
  EXPECT_EQ(ranks.standin[0]->reads, kMessages);
  EXPECT_EQ(ranks.standin[1]->writes, kMessages);
  EXPECT_EQ(ranks.standin[0]->staging_made, 1);
  const auto j = transport::to_json(sender);
  EXPECT_EQ(j["to_host"]["bytes"], kMessage * kMessages);
}

TEST(Staging, HostMemoryPassesStraightThroughAndOneSidedOpsAreRefused) {
  run_pair(
      [](int) {
        return std::make_unique<StagingTransport>(loopback_tcp(), [] { return std::uint64_t{0}; });
      },
      1,
      [&](RankSide& side) {
        auto& staging = dynamic_cast<StagingTransport&>(side.transport);
        EXPECT_FALSE(staging.capabilities().write);
        EXPECT_FALSE(staging.capabilities().read);
        EXPECT_TRUE(staging.capabilities().send_recv);
        RegisteredBuffer host(side.transport, 64);
        EXPECT_EQ(host.region()->registration, "none (sockets read host memory)");
        StandInDeviceMemory device;
        transport::OwnedBuffer buffer(device, 64);
        transport::MemoryRegion region = side.transport.register_memory(buffer.get());
        transport::WorkRequest w;
        w.op = transport::Op::write;
        w.local = &region;
        w.length = 8;
        EXPECT_THROW(side.endpoints[0]->post(w), core::Error);
        side.transport.deregister_memory(region);
        const auto c = staging.counters();
        EXPECT_EQ(c.to_host.copies + c.to_device.copies, 0u);
      });
}

TEST(Staging, NeedsStagingFollowsTheTraits) {
  transport::Buffer b;
  EXPECT_FALSE(transport::needs_staging(b));
  b.traits.cpu_addressable = false;
  EXPECT_TRUE(transport::needs_staging(b));
}

}  // namespace
}  // namespace fabricbench::testkit
