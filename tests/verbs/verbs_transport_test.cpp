// Verbs-specific behaviour on a real RDMA device (Soft-RoCE in ci/vm): one-sided operations,
// write with immediate, atomics, unsignaled requests, UC/UD queue pairs, errors that list what
// exists, and completions in error that name the status and the QP instead of hanging. The
// generic rules are in tests/contract. Without a device every test skips with the reason.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <regex>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "tests/contract/transport_testkit.hpp"
#include "transports/verbs/verbs_transport.hpp"

namespace fabricbench::testkit {
namespace {

using transport::Completion;
using transport::CompletionMode;
using transport::Endpoint;
using transport::Op;
using transport::RemoteRegion;
using transport::WorkRequest;
using transport::verbs::make_verbs_transport;
using transport::verbs::Options;

#define SKIP_WITHOUT_DEVICE()                                      \
  do {                                                             \
    if (const auto why = transport::verbs::unavailable_reason()) { \
      GTEST_SKIP() << "no RDMA device here: " << *why;             \
    }                                                              \
  } while (0)

Options base(CompletionMode mode = CompletionMode::busy_poll) {
  Options o;
  if (const char* device = std::getenv("FABRICBENCH_VERBS_DEVICE"); device != nullptr) {
    o.device = device;
  }
  o.completion = mode;
  o.connect_timeout_ns = 20'000'000'000ULL;
  return o;
}

TransportMaker with(const Options& o) {
  return [o](int) { return make_verbs_transport(o); };
}

std::string field(const std::string& text, const std::string& key) {
  const std::regex re("(^| )" + key + "=([^ ]*)");
  std::smatch m;
  return std::regex_search(text, m, re) ? m[2].str() : std::string();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Both ranks publish a region; returns the peer's.
RemoteRegion exchange(RankSide& s, const RegisteredBuffer& b) {
  const auto* r = b.region();
  const std::vector<std::string> all =
      s.bootstrap.allgather(std::to_string(reinterpret_cast<std::uintptr_t>(r->buffer.addr)) + " " +
                            std::to_string(r->remote_key) + " " + std::to_string(r->buffer.length));
  std::istringstream in(all[static_cast<std::size_t>(s.peer)]);
  RemoteRegion remote;
  in >> remote.addr >> remote.key >> remote.length;
  return remote;
}

WorkRequest one_sided(Op op, const RegisteredBuffer& local, std::size_t offset, std::size_t length,
                      const RemoteRegion& remote, std::uint64_t remote_offset,
                      std::uint64_t wr_id) {
  WorkRequest w;
  w.op = op;
  w.wr_id = wr_id;
  w.local = local.region();
  w.offset = offset;
  w.length = length;
  w.remote = remote;
  w.remote_offset = remote_offset;
  return w;
}

core::Error error_for(const Options& o) {
  try {
    make_verbs_transport(o);
  } catch (const core::Error& e) {
    return e;
  }
  ADD_FAILURE() << "make_verbs_transport did not throw";
  return core::Error(core::ErrorKind::runtime, "");
}

// RDMA WRITE a pattern into the peer's region (at an offset, nothing around it touched), then
// RDMA READ it back; both completion modes.
TEST(VerbsTransport, WriteThenReadBackPattern) {
  SKIP_WITHOUT_DEVICE();
  for (const CompletionMode mode : {CompletionMode::busy_poll, CompletionMode::blocking}) {
    SCOPED_TRACE(mode == CompletionMode::busy_poll ? "busy_poll" : "blocking");
    run_pair(with(base(mode)), 1, [](RankSide& s) {
      Endpoint& ep = *s.endpoints[0];
      constexpr std::size_t kBytes = 256 * 1024 + 13;
      constexpr std::size_t kAt = 100;
      RegisteredBuffer local(s.transport, kBytes);
      RegisteredBuffer target(s.transport, kBytes + 4096);
      RegisteredBuffer back(s.transport, kBytes);
      const RemoteRegion peer_target = exchange(s, target);
      const auto seed = [](int rank) { return static_cast<std::uint32_t>(500 + rank); };
      fill_pattern(local.data(), kBytes, seed(s.rank));

      Drain d(ep);
      ASSERT_TRUE(ep.post(one_sided(Op::write, local, 0, kBytes, peer_target, kAt, 1)));
      d.until(1, 0);
      EXPECT_EQ(d.sends[0].wr_id, 1u);
      EXPECT_EQ(d.sends[0].op, Op::write);
      EXPECT_EQ(d.sends[0].bytes, kBytes);
      s.bootstrap.barrier();
      EXPECT_EQ(pattern_mismatch(target.data() + kAt, kBytes, seed(s.peer)), kBytes);
      for (std::size_t i = 0; i < kAt; ++i) ASSERT_EQ(target.data()[i], std::byte{0}) << i;
      for (std::size_t i = kAt + kBytes; i < target.size(); ++i) {
        ASSERT_EQ(target.data()[i], std::byte{0}) << i;
      }

      ASSERT_TRUE(ep.post(one_sided(Op::read, back, 0, kBytes, peer_target, kAt, 2)));
      d.until(2, 0);
      EXPECT_EQ(d.sends[1].wr_id, 2u);
      EXPECT_EQ(d.sends[1].op, Op::read);
      EXPECT_EQ(d.sends[1].bytes, kBytes);
      EXPECT_EQ(pattern_mismatch(back.data(), kBytes, seed(s.rank)), kBytes);
      s.bootstrap.barrier();  // the peer's read of my target is done before it goes
    });
  }
}

// write_imm consumes a posted receive at the target: op recv, the immediate, the write's length;
// the data lands in the target region, the receive buffer stays untouched.
TEST(VerbsTransport, WriteImmDeliversImmToPostedRecv) {
  SKIP_WITHOUT_DEVICE();
  run_pair(with(base()), 1, [](RankSide& s) {
    Endpoint& ep = *s.endpoints[0];
    RegisteredBuffer target(s.transport, 8192);
    RegisteredBuffer recv_buf(s.transport, 64);
    RegisteredBuffer source(s.transport, 3000);
    std::memset(recv_buf.data(), 0xEE, recv_buf.size());
    const RemoteRegion peer_target = exchange(s, target);
    if (s.rank == 1) {
      ASSERT_TRUE(ep.post(recv_request(recv_buf, 0, 16, 77)));
      ASSERT_TRUE(ep.post(recv_request(recv_buf, 16, 16, 78)));
    }
    s.bootstrap.barrier();
    Drain d(ep);
    if (s.rank == 0) {
      fill_pattern(source.data(), 3000, 9);
      WorkRequest w = one_sided(Op::write_imm, source, 0, 3000, peer_target, 512, 5);
      w.imm = 0xCAFEBABE;
      ASSERT_TRUE(ep.post(w));
      WorkRequest empty = one_sided(Op::write_imm, source, 0, 0, peer_target, 0, 6);
      empty.imm = 0xFFFFFFFF;
      ASSERT_TRUE(ep.post(empty));
      d.until(2, 0);
      EXPECT_EQ(d.sends[0].op, Op::write_imm);
      EXPECT_EQ(d.sends[0].bytes, 3000u);
    } else {
      d.until(0, 2);
      EXPECT_EQ(d.recvs[0].wr_id, 77u);
      EXPECT_EQ(d.recvs[0].op, Op::recv);
      EXPECT_EQ(d.recvs[0].imm, 0xCAFEBABEu);
      EXPECT_EQ(d.recvs[0].bytes, 3000u);
      EXPECT_EQ(d.recvs[1].wr_id, 78u);
      EXPECT_EQ(d.recvs[1].imm, 0xFFFFFFFFu);
      EXPECT_EQ(d.recvs[1].bytes, 0u);
      EXPECT_EQ(pattern_mismatch(target.data() + 512, 3000, 9), 3000u);
      for (std::size_t i = 0; i < recv_buf.size(); ++i) {
        ASSERT_EQ(recv_buf.data()[i], std::byte{0xEE}) << "receive buffer byte " << i;
      }
    }
    s.bootstrap.barrier();
  });
}

// fetch_add and compare_swap return the old value into the local buffer and change remote
// memory; a misaligned atomic is refused before it is posted.
TEST(VerbsTransport, AtomicsReturnOldValueAndChangeRemote) {
  SKIP_WITHOUT_DEVICE();
  if (!make_verbs_transport(base())->capabilities().atomics) {
    GTEST_SKIP() << "the device has no atomics (atomic_cap NONE)";
  }
  run_pair(with(base()), 1, [](RankSide& s) {
    Endpoint& ep = *s.endpoints[0];
    RegisteredBuffer target(s.transport, 64);
    RegisteredBuffer local(s.transport, 64);
    std::uint64_t initial = 10;
    std::memcpy(target.data() + 8, &initial, 8);
    const RemoteRegion peer_target = exchange(s, target);
    if (s.rank == 0) {
      Drain d(ep);
      WorkRequest add = one_sided(Op::fetch_add, local, 0, 8, peer_target, 8, 1);
      add.compare_add = 5;
      ASSERT_TRUE(ep.post(add));
      d.until(1, 0);
      std::uint64_t old = 0;
      std::memcpy(&old, local.data(), 8);
      EXPECT_EQ(old, 10u);
      EXPECT_EQ(d.sends[0].op, Op::fetch_add);
      EXPECT_EQ(d.sends[0].bytes, 8u);

      WorkRequest cas = one_sided(Op::compare_swap, local, 8, 8, peer_target, 8, 2);
      cas.compare_add = 15;
      cas.swap = 99;
      ASSERT_TRUE(ep.post(cas));
      d.until(2, 0);
      std::memcpy(&old, local.data() + 8, 8);
      EXPECT_EQ(old, 15u) << "compare_swap returns the old value";

      WorkRequest miss = one_sided(Op::compare_swap, local, 16, 8, peer_target, 8, 3);
      miss.compare_add = 1;
      miss.swap = 7;
      ASSERT_TRUE(ep.post(miss));
      d.until(3, 0);
      std::memcpy(&old, local.data() + 16, 8);
      EXPECT_EQ(old, 99u) << "a failed compare returns the current value";

      WorkRequest misaligned = one_sided(Op::fetch_add, local, 0, 8, peer_target, 4, 4);
      try {
        ep.post(misaligned);
        ADD_FAILURE() << "a misaligned atomic was accepted";
      } catch (const core::Error& e) {
        EXPECT_TRUE(contains(e.what(), "aligned")) << e.what();
      }
    }
    s.bootstrap.barrier();
    if (s.rank == 1) {
      std::uint64_t now = 0;
      std::memcpy(&now, target.data() + 8, 8);
      EXPECT_EQ(now, 99u) << "10 + 5, then swapped to 99, then a failed compare";
    }
  });
}

// Unsignaled requests: the transport signals at least every cq_moderation-th one and the one that
// fills the queue, so posting many never overflows the send queue nor stalls for good; only the
// completions asked for are reported, in order.
TEST(VerbsTransport, UnsignaledRequestsNeverOverflowTheSendQueue) {
  SKIP_WITHOUT_DEVICE();
  for (const std::uint32_t moderation : {1u, 4u, 1000u}) {
    SCOPED_TRACE("cq_moderation " + std::to_string(moderation));
    Options o = base();
    o.queue_depth = 16;
    o.cq_moderation = moderation;
    run_pair(with(o), 1, [](RankSide& s) {
      Endpoint& ep = *s.endpoints[0];
      RegisteredBuffer target(s.transport, 4096);
      RegisteredBuffer source(s.transport, 4096);
      const RemoteRegion peer_target = exchange(s, target);
      if (s.rank == 0) {
        constexpr std::uint64_t kCount = 600;
        std::vector<std::uint64_t> reported;
        const std::uint64_t deadline = core::now_ns() + 60'000'000'000ULL;
        Completion out[16];
        for (std::uint64_t i = 0; i < kCount; ++i) {
          std::memcpy(source.data() + (i % 64) * 8, &i, 8);
          WorkRequest w =
              one_sided(Op::write, source, (i % 64) * 8, 8, peer_target, (i % 64) * 8, i);
          w.signaled = (i % 100 == 99);
          while (!ep.post(w)) {
            const std::size_t n = ep.wait(std::span<Completion>(out), 50'000'000);
            for (std::size_t k = 0; k < n; ++k) reported.push_back(out[k].wr_id);
            ASSERT_LT(core::now_ns(), deadline) << "the send queue never drained at " << i;
          }
        }
        while (reported.size() < kCount / 100) {
          const std::size_t n = ep.wait(std::span<Completion>(out), 50'000'000);
          for (std::size_t k = 0; k < n; ++k) reported.push_back(out[k].wr_id);
          ASSERT_LT(core::now_ns(), deadline);
        }
        ASSERT_EQ(reported.size(), kCount / 100);
        for (std::size_t k = 0; k < reported.size(); ++k) EXPECT_EQ(reported[k], 100 * k + 99);
        EXPECT_EQ(ep.poll(std::span<Completion>(out)), 0u) << "an unsignaled request reported";
      }
      s.bootstrap.barrier();
      if (s.rank == 1) {
        std::uint64_t last = 0;
        std::memcpy(&last, target.data() + (599 % 64) * 8, 8);
        EXPECT_EQ(last, 599u);
      }
    });
  }
}

// describe() records the fabric: link layer, GID, MTU, QPN, and the peer's QPN.
TEST(VerbsTransport, DescribeRecordsTheFabric) {
  SKIP_WITHOUT_DEVICE();
  run_pair(with(base()), 2, [](RankSide& s) {
    std::string mine;
    for (const auto& ep : s.endpoints) mine += field(ep->describe(), "qpn") + ",";
    const auto all = s.bootstrap.allgather(mine);
    const std::string theirs = all[static_cast<std::size_t>(s.peer)];
    std::string remote;
    for (const auto& ep : s.endpoints) {
      const std::string d = ep->describe();
      for (const char* key : {"device", "port", "link_layer", "gid", "gid_index", "mtu", "qpn",
                              "remote_qpn", "qp_type", "completion", "queue_depth"}) {
        EXPECT_FALSE(field(d, key).empty()) << key << " missing in: " << d;
      }
      const std::string link = field(d, "link_layer");
      EXPECT_TRUE(link == "Ethernet" || link == "InfiniBand") << d;
      if (link == "InfiniBand") {
        EXPECT_FALSE(field(d, "lid").empty()) << d;
      }
      remote += field(d, "remote_qpn") + ",";
    }
    EXPECT_EQ(remote, theirs) << "remote_qpn should be the peer's qpn, in connection order";
    if (s.rank == 0) std::cout << "describe: " << s.endpoints[0]->describe() << "\n";
  });
}

// Selection errors list what exists.
TEST(VerbsTransport, BadDeviceNetdevPortGidMtuListWhatExists) {
  SKIP_WITHOUT_DEVICE();
  {
    Options o = base();
    o.device = "fb_no_such_dev0";
    const core::Error e = error_for(o);
    EXPECT_EQ(e.kind(), core::ErrorKind::config) << e.what();
    EXPECT_TRUE(contains(e.what(), "devices here:")) << e.what();
    EXPECT_TRUE(contains(e.what(), "port 1")) << e.what();
    std::cout << "unknown device: " << e.what() << "\n";
  }
  {
    Options o = base();
    o.device.clear();
    o.netdev = "fbnope0";
    const core::Error e = error_for(o);
    EXPECT_EQ(e.kind(), core::ErrorKind::config) << e.what();
    EXPECT_TRUE(contains(e.what(), "fbnope0")) << e.what();
    EXPECT_TRUE(contains(e.what(), " -> ")) << "netdev -> device pairs: " << e.what();
    std::cout << "unknown netdev: " << e.what() << "\n";
  }
  {
    Options o = base();
    o.port = 9;
    const core::Error e = error_for(o);
    EXPECT_TRUE(contains(e.what(), "9")) << e.what();
    std::cout << "bad port: " << e.what() << "\n";
  }
  for (const int index : {700, 65000}) {
    Options o = base();
    o.gid_index = index;
    const core::Error e = error_for(o);
    EXPECT_EQ(e.kind(), core::ErrorKind::config) << e.what();
    EXPECT_TRUE(contains(e.what(), "valid GIDs")) << e.what();
    EXPECT_TRUE(contains(e.what(), "index 0:") || contains(e.what(), "index 1:")) << e.what();
    std::cout << "bad gid_index " << index << ": " << e.what() << "\n";
  }
  {
    Options o = base();
    o.mtu = 4096;
    try {
      make_verbs_transport(o);
      std::cout << "mtu 4096 accepted (the port's active MTU is 4096)\n";
    } catch (const core::Error& e) {
      EXPECT_EQ(e.kind(), core::ErrorKind::config) << e.what();
      EXPECT_TRUE(contains(e.what(), "allowed: 256")) << e.what();
      std::cout << "mtu above the port's: " << e.what() << "\n";
    }
  }
  {
    Options o = base();
    o.inline_size = 1u << 20;
    const core::Error e = error_for(o);
    EXPECT_EQ(e.kind(), core::ErrorKind::config) << e.what();
    EXPECT_TRUE(contains(e.what(), "inline_size")) << e.what();
    std::cout << "inline too large: " << e.what() << "\n";
  }
}

// A completion in error (RDMA WRITE with a wrong rkey) throws with the status string, the QP
// number and the peer rank, promptly, and the endpoint stays failed.
TEST(VerbsTransport, CompletionInErrorNamesStatusAndQp) {
  SKIP_WITHOUT_DEVICE();
  for (const CompletionMode mode : {CompletionMode::busy_poll, CompletionMode::blocking}) {
    SCOPED_TRACE(mode == CompletionMode::busy_poll ? "busy_poll" : "blocking");
    run_pair(with(base(mode)), 1, [](RankSide& s) {
      Endpoint& ep = *s.endpoints[0];
      RegisteredBuffer target(s.transport, 4096);
      RegisteredBuffer source(s.transport, 4096);
      RemoteRegion peer_target = exchange(s, target);
      if (s.rank == 0) {
        peer_target.key ^= 0x5a5a00;  // a key the peer never handed out
        ASSERT_TRUE(ep.post(one_sided(Op::write, source, 0, 512, peer_target, 0, 42)));
        const std::uint64_t start = core::now_ns();
        const core::Error e = expect_error_from_wait(ep);
        const std::string what = e.what();
        std::cout << "wrong rkey after " << (core::now_ns() - start) / 1'000'000 << " ms: " << what
                  << "\n";
        EXPECT_TRUE(contains(what, "remote access error")) << what;
        EXPECT_TRUE(contains(what, "QP " + field(ep.describe(), "qpn"))) << what;
        EXPECT_TRUE(contains(what, "rank 1")) << what;
        EXPECT_TRUE(contains(what, "wr_id 42")) << what;
        Completion out[4];
        EXPECT_THROW(ep.poll(std::span<Completion>(out)), core::Error);
        EXPECT_THROW(ep.post(one_sided(Op::write, source, 0, 8, peer_target, 0, 43)), core::Error);
      }
      s.bootstrap.barrier();
      if (s.rank == 1) {
        auto* events = dynamic_cast<transport::verbs::EventSource*>(&s.transport);
        ASSERT_NE(events, nullptr);
        for (const auto& ev : events->drain_events()) {
          std::cout << "rank 1 async event: " << ev.type << " qp " << ev.qp_num << " port "
                    << ev.port << " mono " << ev.mono_ns << "\n";
        }
      }
    });
  }
}

// Without the overflow area a too-long message is the device's bare length error, still named.
TEST(VerbsTransport, TooLongMessageWithoutOverflowAreaIsALengthError) {
  SKIP_WITHOUT_DEVICE();
  Options o = base();
  o.recv_overflow_bytes = 0;
  run_pair(with(o), 1, [](RankSide& s) {
    Endpoint& ep = *s.endpoints[0];
    RegisteredBuffer buf(s.transport, 4096);
    if (s.rank == 1) {
      ASSERT_TRUE(ep.post(recv_request(buf, 0, 100, 1)));
    }
    s.bootstrap.barrier();
    if (s.rank == 0) {
      ASSERT_TRUE(ep.post(send_request(buf, 0, 2000, 1)));
      try {
        Drain(ep).until(1, 0);
      } catch (const core::Error& e) {
        std::cout << "sender: " << e.what() << "\n";
      }
      return;
    }
    const core::Error e = expect_error_from_wait(ep);
    std::cout << "receiver: " << e.what() << "\n";
    EXPECT_TRUE(contains(e.what(), "100 bytes")) << e.what();
    EXPECT_TRUE(contains(e.what(), "rank 0")) << e.what();
  });
}

// UC: send and write_imm work, read and atomics are refused as unavailable. UD: send/recv with
// the tag up to the MTU, one-sided operations refused.
TEST(VerbsTransport, UcAndUdQueuePairs) {
  SKIP_WITHOUT_DEVICE();
  for (const char* type : {"uc", "ud"}) {
    SCOPED_TRACE(type);
    Options o = base();
    o.qp_type = type;
    run_pair(with(o), 1, [type](RankSide& s) {
      Endpoint& ep = *s.endpoints[0];
      const bool ud = std::string(type) == "ud";
      const transport::Capabilities caps = s.transport.capabilities();
      EXPECT_FALSE(caps.read);
      EXPECT_FALSE(caps.atomics);
      EXPECT_EQ(caps.write, !ud);
      const std::size_t size = ud ? std::min<std::size_t>(caps.max_message_size, 1024) : 20000;
      RegisteredBuffer out(s.transport, size);
      RegisteredBuffer in(s.transport, size + 64);
      RegisteredBuffer target(s.transport, size);
      const RemoteRegion peer_target = exchange(s, target);
      ASSERT_TRUE(ep.post(recv_request(in, 0, size + 64, 7)));
      if (!ud) {
        ASSERT_TRUE(ep.post(recv_request(in, 0, 8, 8)));
      }
      s.bootstrap.barrier();
      fill_pattern(out.data(), size, static_cast<std::uint32_t>(s.rank + 40));
      Drain d(ep);
      ASSERT_TRUE(
          ep.post(send_request(out, 0, size, 1, 0xABCD0000u + static_cast<std::uint32_t>(s.rank))));
      if (!ud) {
        WorkRequest w = one_sided(Op::write_imm, out, 0, size, peer_target, 0, 2);
        w.imm = 1234;
        ASSERT_TRUE(ep.post(w));
      }
      d.until(ud ? 1 : 2, ud ? 1 : 2);
      EXPECT_EQ(d.recvs[0].bytes, size);
      EXPECT_EQ(d.recvs[0].imm, 0xABCD0000u + static_cast<std::uint32_t>(s.peer));
      EXPECT_EQ(pattern_mismatch(in.data(), size, static_cast<std::uint32_t>(s.peer + 40)), size);
      if (!ud) {
        EXPECT_EQ(d.recvs[1].imm, 1234u);
        EXPECT_EQ(d.recvs[1].bytes, size);
      }
      for (const Op op : {Op::read, Op::fetch_add}) {
        try {
          ep.post(one_sided(op, out, 0, 8, peer_target, 0, 9));
          ADD_FAILURE() << transport::op_name(op) << " accepted on " << type;
        } catch (const core::Error& e) {
          EXPECT_EQ(e.kind(), core::ErrorKind::unavailable) << e.what();
          EXPECT_TRUE(contains(e.what(), transport::op_name(op))) << e.what();
        }
      }
      s.bootstrap.barrier();
    });
  }
}

// The tests that take a netdev down run only where asked (ci/vm guests), and bring it up again
// however they end.
constexpr const char* kFaultNetdevSkip =
    "set FABRICBENCH_VERBS_FAULT_NETDEV=<netdev> to take it down (VM only)";
struct LinkUpOnExit {
  std::string up;
  explicit LinkUpOnExit(const std::string& netdev) : up("ip link set " + netdev + " up") {}
  ~LinkUpOnExit() { [[maybe_unused]] const int rc = std::system(up.c_str()); }
  LinkUpOnExit(const LinkUpOnExit&) = delete;
  LinkUpOnExit& operator=(const LinkUpOnExit&) = delete;
};

// A link fault ends waits with a reason, never a hang: taking the netdev down raises
// IBV_EVENT_PORT_ERR, which the event thread records (with both timestamps) and routes to every
// endpoint on that port. Changes the network, so it runs only where asked (ci/vm guests):
// FABRICBENCH_VERBS_FAULT_NETDEV=eth0.
TEST(VerbsTransport, LinkDownEndsWaitsWithAReason) {
  SKIP_WITHOUT_DEVICE();
  const char* netdev = std::getenv("FABRICBENCH_VERBS_FAULT_NETDEV");
  if (netdev == nullptr) GTEST_SKIP() << kFaultNetdevSkip;
  const std::string nd = netdev;
  const LinkUpOnExit restore(nd);
  Options o = base();
  o.device.clear();
  o.netdev = nd;
  run_pair(with(o), 1, [&](RankSide& s) {
    Endpoint& ep = *s.endpoints[0];
    RegisteredBuffer buf(s.transport, 4096);
    ASSERT_TRUE(ep.post(recv_request(buf, 0, 4096, 1)));
    s.bootstrap.barrier();
    const std::uint64_t start = core::now_ns();
    if (s.rank == 0) {
      ASSERT_EQ(std::system(("ip link set " + nd + " down").c_str()), 0);
    }
    const core::Error e = expect_error_from_wait(ep);
    const std::uint64_t took_ms = (core::now_ns() - start) / 1'000'000;
    std::cout << "rank " << s.rank << " after " << took_ms << " ms: " << e.what() << "\n";
    EXPECT_TRUE(contains(e.what(), "went down")) << e.what();
    EXPECT_TRUE(contains(e.what(), "IBV_EVENT_PORT_ERR")) << e.what();
    auto* events = dynamic_cast<transport::verbs::EventSource*>(&s.transport);
    ASSERT_NE(events, nullptr);
    bool port_err = false;
    for (const auto& ev : events->drain_events()) {
      std::cout << "rank " << s.rank << " event " << ev.type << " device " << ev.device << " port "
                << ev.port << " wall_ns " << ev.wall_ns << " mono_ns " << ev.mono_ns << "\n";
      if (ev.type == "IBV_EVENT_PORT_ERR") {
        port_err = true;
        EXPECT_GE(ev.mono_ns, start);
        EXPECT_GT(ev.wall_ns, 0u);
        EXPECT_EQ(ev.port, 1);
      }
    }
    EXPECT_TRUE(port_err);
    s.bootstrap.barrier();
  });
}

// Async events are collected (the engine reads them through EventSource); draining empties them.
TEST(VerbsTransport, EventSourceDrains) {
  SKIP_WITHOUT_DEVICE();
  auto t = make_verbs_transport(base());
  auto* events = dynamic_cast<transport::verbs::EventSource*>(t.get());
  ASSERT_NE(events, nullptr);
  events->drain_events();
  EXPECT_TRUE(events->drain_events().empty());
}

// ---- on_break: reconnect ----

Options reconnecting(CompletionMode mode) {
  Options o = base(mode);
  o.reconnect = true;
  o.reconnect_timeout_ns = 20'000'000'000ULL;
  o.timeout = 12;  // 16.8 ms x 7 attempts: the QP errors well within a 1.5 s outage
  return o;
}

std::vector<transport::ConnectionEvent> connection_events(transport::Transport& t) {
  auto* source = dynamic_cast<transport::ConnectionEventSource*>(&t);
  EXPECT_NE(source, nullptr);
  return source != nullptr ? source->drain_connection_events()
                           : std::vector<transport::ConnectionEvent>{};
}

// A one-way stream through a 1.5 s link outage: the sender's QP exhausts its retries, both sides
// replace their QPs through the control connection, and every message arrives exactly once, in
// order, intact.
TEST(VerbsTransport, ReconnectRidesThroughALinkOutage) {
  SKIP_WITHOUT_DEVICE();
  const char* netdev = std::getenv("FABRICBENCH_VERBS_FAULT_NETDEV");
  if (netdev == nullptr) GTEST_SKIP() << kFaultNetdevSkip;
  const std::string nd = netdev;
  const LinkUpOnExit restore(nd);
  for (const CompletionMode mode : {CompletionMode::blocking, CompletionMode::busy_poll}) {
    SCOPED_TRACE(mode == CompletionMode::busy_poll ? "busy_poll" : "blocking");
    Options o = reconnecting(mode);
    o.device.clear();
    o.netdev = nd;
    constexpr std::size_t kSize = 4096;
    constexpr std::uint64_t kMessages = 200;
    constexpr std::uint64_t kWindow = 8;
    run_pair(with(o), 1, [&](RankSide& s) {
      Endpoint& ep = *s.endpoints[0];
      EXPECT_TRUE(contains(ep.describe(), "on_break=reconnect")) << ep.describe();
      RegisteredBuffer buf(s.transport, kSize * kWindow);
      const std::uint64_t deadline = core::now_ns() + 60'000'000'000ULL;
      Completion out[16];
      if (s.rank == 1) {
        for (std::uint64_t i = 0; i < kWindow; ++i) {
          ASSERT_TRUE(ep.post(recv_request(buf, i * kSize, kSize, i)));
        }
      }
      s.bootstrap.barrier();
      if (s.rank == 0) {
        std::uint64_t posted = 0;
        std::uint64_t done = 0;
        struct Joiner {
          std::thread t;
          ~Joiner() {
            if (t.joinable()) t.join();
          }
        } flap;
        while (done < kMessages) {
          ASSERT_LT(core::now_ns(), deadline) << "stuck at " << done << " of " << kMessages;
          while (posted < kMessages && posted - done < kWindow) {
            const std::size_t slot = posted % kWindow;
            std::memset(buf.data() + slot * kSize, static_cast<int>(posted & 0xff), kSize);
            std::memcpy(buf.data() + slot * kSize, &posted, sizeof posted);
            if (!ep.post(send_request(buf, slot * kSize, kSize, posted))) break;  // reconnecting
            ++posted;
            if (posted == 40) {
              ASSERT_EQ(std::system(("ip link set " + nd + " down").c_str()), 0);
              flap.t = std::thread([&] {
                std::this_thread::sleep_for(std::chrono::milliseconds(1500));
                [[maybe_unused]] const int rc = std::system(restore.up.c_str());
              });
            }
          }
          const std::size_t n = ep.wait(std::span<Completion>(out), 50'000'000);
          for (std::size_t i = 0; i < n; ++i) {
            ASSERT_EQ(out[i].op, Op::send);
            ASSERT_EQ(out[i].wr_id, done) << "send completions out of order or twice";
            ++done;
          }
        }
      } else {
        std::uint64_t got = 0;
        while (got < kMessages) {
          ASSERT_LT(core::now_ns(), deadline) << "stuck at " << got << " of " << kMessages;
          const std::size_t n = ep.wait(std::span<Completion>(out), 50'000'000);
          for (std::size_t i = 0; i < n; ++i) {
            ASSERT_EQ(out[i].op, Op::recv);
            ASSERT_EQ(out[i].bytes, kSize);
            const std::size_t slot = out[i].wr_id % kWindow;
            std::uint64_t seq = 0;
            std::memcpy(&seq, buf.data() + slot * kSize, sizeof seq);
            ASSERT_EQ(seq, got) << "message lost, duplicated or reordered";
            ASSERT_EQ(buf.data()[slot * kSize + kSize - 1], static_cast<std::byte>(got & 0xff));
            ++got;
            ASSERT_TRUE(ep.post(recv_request(buf, slot * kSize, kSize, out[i].wr_id + kWindow)));
          }
        }
      }
      s.bootstrap.barrier();
      bool broken = false;
      bool reconnected = false;
      for (const auto& e : connection_events(s.transport)) {
        std::cout << "rank " << s.rank << " " << e.kind << " role " << e.role << " outage "
                  << e.outage_ns / 1'000'000 << " ms attempts " << e.attempts << " lost "
                  << e.lost_messages << " resent " << e.resent_messages << " cause: " << e.cause
                  << "\n";
        EXPECT_EQ(e.role, s.rank == 0 ? "connector" : "acceptor");
        EXPECT_EQ(e.peer, s.peer);
        broken |= e.kind == "connection.broken";
        if (e.kind == "connection.reconnected") {
          reconnected = true;
          EXPECT_EQ(e.lost_messages, 0u);
          EXPECT_GT(e.outage_ns, 0u);
        }
        EXPECT_NE(e.kind, "connection.reconnect_failed");
      }
      EXPECT_TRUE(broken);
      EXPECT_TRUE(reconnected);
    });
  }
}

// A peer that went away ends in a bounded peer_lost error naming the cause, not a hang.
TEST(VerbsTransport, ReconnectGivesUpWhenThePeerIsGone) {
  SKIP_WITHOUT_DEVICE();
  run_pair(with(reconnecting(CompletionMode::blocking)), 1, [](RankSide& s) {
    RegisteredBuffer buf(s.transport, 4096);
    s.bootstrap.barrier();
    if (s.rank == 1) s.endpoints.clear();  // QP and control connection gone
    s.bootstrap.barrier();
    if (s.rank == 0) {
      Endpoint& ep = *s.endpoints[0];
      ASSERT_TRUE(ep.post(send_request(buf, 0, 64, 7)));
      const std::uint64_t start = core::now_ns();
      const core::Error e = expect_error_from_wait(ep);
      std::cout << "after " << (core::now_ns() - start) / 1'000'000 << " ms: " << e.what() << "\n";
      EXPECT_EQ(e.kind(), core::ErrorKind::peer_lost) << e.what();
      EXPECT_TRUE(contains(e.what(), "rank 1")) << e.what();
      EXPECT_TRUE(contains(e.what(), "reconnect_timeout")) << e.what();
      std::vector<std::string> kinds;
      for (const auto& ev : connection_events(s.transport)) kinds.push_back(ev.kind);
      EXPECT_EQ(kinds,
                (std::vector<std::string>{"connection.broken", "connection.reconnect_failed"}));
    }
  });
}

}  // namespace
}  // namespace fabricbench::testkit
