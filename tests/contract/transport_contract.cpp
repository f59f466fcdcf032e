// The shared transport contract suite. Each test states the rule of transports/api/transport.hpp
// it checks. Receives are always posted before a barrier that precedes the matching send, so the
// suite also holds for transports that need a posted receive (verbs RNR).
#include "tests/contract/transport_contract.hpp"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstring>
#include <set>
#include <thread>

#include "tests/contract/transport_testkit.hpp"

namespace fabricbench::testkit {
namespace {

using transport::Completion;
using transport::Endpoint;
using transport::Op;
using transport::Transport;
using transport::WorkRequest;

TransportMaker maker(const ContractVariant& v) {
  return [v](int) { return v.make(v.name); };
}

constexpr std::byte kGuard{0xEE};
constexpr std::size_t kConnections = 3;

// The end of a timeout test: rank 1 sends 3 bytes (wr_id 6, tag 7) to the receive rank 0 has
// posted and waited on in vain; on rank 0, `*received` is that receive's completion.
void send_three_bytes_to_rank0(RankSide& s, Endpoint& ep, const RegisteredBuffer& buf,
                               Completion* received) {
  s.bootstrap.barrier();
  Drain d(ep);
  if (s.rank == 1) {
    ASSERT_TRUE(ep.post(send_request(buf, 0, 3, 6, 7)));
    d.until(1, 0);
  } else {
    d.until(0, 1);
    *received = d.recvs[0];
  }
}

// Rule: send/recv carries the bytes and the tag intact, for empty, tiny, odd and large sizes;
// the receive reports the message length and writes nothing past it.
TEST_P(TransportContract, SendRecvSizesIntact) {
  run_pair(maker(GetParam()), 1, [](RankSide& s) {
    Endpoint& ep = *s.endpoints[0];
    const std::array<std::size_t, 5> sizes = {0, 1, 63, 64 * 1024, 4 * 1024 * 1024};
    RegisteredBuffer out(s.transport, sizes.back());
    RegisteredBuffer in(s.transport, sizes.back() + 64);
    for (std::size_t k = 0; k < sizes.size(); ++k) {
      const std::size_t size = sizes[k];
      const auto my_seed = static_cast<std::uint32_t>(s.rank * 1000 + k);
      const auto peer_seed = static_cast<std::uint32_t>(s.peer * 1000 + k);
      fill_pattern(out.data(), size, my_seed);
      std::memset(in.data(), 0xEE, size + 64);
      ASSERT_TRUE(ep.post(recv_request(in, 0, size + 64, 100 + k)));
      s.bootstrap.barrier();
      ASSERT_TRUE(ep.post(send_request(
          out, 0, size, 200 + k,
          0xA5000000u | static_cast<std::uint32_t>(s.rank << 8) | static_cast<std::uint32_t>(k))));
      Drain d(ep);
      d.until(1, 1);
      ASSERT_EQ(d.sends.size(), 1u);
      ASSERT_EQ(d.recvs.size(), 1u);
      EXPECT_EQ(d.sends[0].wr_id, 200 + k);
      EXPECT_EQ(d.recvs[0].wr_id, 100 + k);
      EXPECT_EQ(d.recvs[0].bytes, size) << "size " << size;
      EXPECT_EQ(d.recvs[0].imm, 0xA5000000u | static_cast<std::uint32_t>(s.peer << 8) |
                                    static_cast<std::uint32_t>(k));
      EXPECT_EQ(pattern_mismatch(in.data(), size, peer_seed), size) << "size " << size;
      for (std::size_t i = size; i < size + 64; ++i) {
        ASSERT_EQ(in.data()[i], kGuard) << "byte " << i << " past a " << size << "-byte message";
      }
    }
  });
}

// Rule: receives complete in posting order; many messages in flight both ways at once (window
// 64) arrive ordered and intact.
TEST_P(TransportContract, ManyMessagesInFlightOrderedAndIntact) {
  run_pair(maker(GetParam()), 1, [](RankSide& s) {
    Endpoint& ep = *s.endpoints[0];
    constexpr std::size_t kWindow = 64;
    constexpr std::size_t kCount = 2000;
    constexpr std::size_t kSlot = 4096;
    ASSERT_GE(ep.queue_depth(), kWindow);
    auto size_of = [](std::size_t seq) { return (seq * 7919) % (kSlot + 1); };
    auto seed_of = [](int rank, std::size_t seq) {
      return static_cast<std::uint32_t>(rank * 1'000'003 + seq);
    };
    RegisteredBuffer out(s.transport, kWindow * kSlot);
    RegisteredBuffer in(s.transport, kWindow * kSlot);
    for (std::size_t seq = 0; seq < kWindow; ++seq) {
      ASSERT_TRUE(ep.post(recv_request(in, (seq % kWindow) * kSlot, kSlot, seq)));
    }
    s.bootstrap.barrier();

    std::size_t next_send = 0, sends_done = 0, next_recv = 0;
    const std::uint64_t deadline = core::now_ns() + 60'000'000'000ULL;
    Completion cq[32];
    while (sends_done < kCount || next_recv < kCount) {
      while (next_send < kCount && next_send - sends_done < kWindow) {
        const std::size_t offset = (next_send % kWindow) * kSlot;
        fill_pattern(out.data() + offset, size_of(next_send), seed_of(s.rank, next_send));
        ASSERT_TRUE(ep.post(send_request(out, offset, size_of(next_send), next_send,
                                         static_cast<std::uint32_t>(next_send))));
        ++next_send;
      }
      const std::size_t n = ep.wait(std::span<Completion>(cq), 50'000'000);
      for (std::size_t i = 0; i < n; ++i) {
        if (cq[i].op == Op::send) {
          ASSERT_EQ(cq[i].wr_id, sends_done) << "send completions out of order";
          ++sends_done;
          continue;
        }
        const std::size_t seq = next_recv++;
        ASSERT_EQ(cq[i].wr_id, seq) << "receives completed out of posting order";
        ASSERT_EQ(cq[i].imm, seq) << "messages delivered out of order";
        ASSERT_EQ(cq[i].bytes, size_of(seq));
        const std::byte* p = in.data() + (seq % kWindow) * kSlot;
        ASSERT_EQ(pattern_mismatch(p, size_of(seq), seed_of(s.peer, seq)), size_of(seq))
            << "message " << seq << " corrupted";
        if (seq + kWindow < kCount) {
          ASSERT_TRUE(ep.post(recv_request(in, (seq % kWindow) * kSlot, kSlot, seq + kWindow)));
        }
      }
      ASSERT_LT(core::now_ns(), deadline) << "sent " << sends_done << ", received " << next_recv;
    }
  });
}

// Rule: the 32-bit tag given with a send is delivered with the receive, in order, including the
// extreme values and on empty messages.
TEST_P(TransportContract, TagDelivered) {
  run_pair(maker(GetParam()), 1, [](RankSide& s) {
    Endpoint& ep = *s.endpoints[0];
    const std::array<std::uint32_t, 6> tags = {0,          1,          0x7FFFFFFF,
                                               0x80000000, 0xFFFFFFFF, 0xDEADBEEF};
    RegisteredBuffer buf(s.transport, 4096);
    if (s.rank == 1) {
      for (std::size_t i = 0; i < tags.size(); ++i) {
        ASSERT_TRUE(ep.post(recv_request(buf, i * 8, 8, i)));
      }
    }
    s.bootstrap.barrier();
    Drain d(ep);
    if (s.rank == 0) {
      for (std::size_t i = 0; i < tags.size(); ++i) {
        ASSERT_TRUE(ep.post(send_request(buf, 0, i % 2 == 0 ? 0 : 8, i, tags[i])));
      }
      d.until(tags.size(), 0);
    } else {
      d.until(0, tags.size());
      for (std::size_t i = 0; i < tags.size(); ++i) {
        EXPECT_EQ(d.recvs[i].imm, tags[i]) << "message " << i;
        EXPECT_EQ(d.recvs[i].bytes, i % 2 == 0 ? 0u : 8u);
      }
    }
  });
}

// Rule: the endpoints of one peer are independent connections: each delivers only its own
// messages, and an unreceived message on one does not hold up another.
TEST_P(TransportContract, ConnectionsPerPeerAreIndependent) {
  run_pair(maker(GetParam()), static_cast<int>(kConnections), [](RankSide& s) {
    std::set<std::string> descriptions;
    for (const auto& ep : s.endpoints) {
      EXPECT_EQ(ep->peer(), s.peer);
      descriptions.insert(ep->describe());
    }
    EXPECT_EQ(descriptions.size(), kConnections) << "describe() should tell the connections apart";
    RegisteredBuffer buf(s.transport, kConnections * 8192);
    auto size_of = [](std::size_t k) { return 1000 + 997 * k; };
    if (s.rank == 1) {
      // Nothing posted on connection 0 yet.
      for (std::size_t k = 1; k < kConnections; ++k) {
        ASSERT_TRUE(s.endpoints[k]->post(recv_request(buf, k * 8192, 8192, k)));
      }
    }
    s.bootstrap.barrier();
    if (s.rank == 0) {
      for (std::size_t k = 0; k < kConnections; ++k) {
        fill_pattern(buf.data() + k * 8192, size_of(k), static_cast<std::uint32_t>(77 + k));
        ASSERT_TRUE(s.endpoints[k]->post(
            send_request(buf, k * 8192, size_of(k), k, static_cast<std::uint32_t>(k))));
      }
      for (std::size_t k = 0; k < kConnections; ++k) {
        Drain d(*s.endpoints[k]);
        d.until(1, 0);
        EXPECT_EQ(d.sends[0].wr_id, k);
      }
      return;
    }
    for (std::size_t k = kConnections - 1; k >= 1; --k) {
      Drain d(*s.endpoints[k]);
      d.until(0, 1);
      EXPECT_EQ(d.recvs[0].imm, k) << "connection " << k << " got another connection's message";
      EXPECT_EQ(d.recvs[0].bytes, size_of(k));
      EXPECT_EQ(
          pattern_mismatch(buf.data() + k * 8192, size_of(k), static_cast<std::uint32_t>(77 + k)),
          size_of(k));
    }
    ASSERT_TRUE(s.endpoints[0]->post(recv_request(buf, 0, 8192, 0)));
    Drain d(*s.endpoints[0]);
    d.until(0, 1);
    EXPECT_EQ(d.recvs[0].imm, 0u);
    EXPECT_EQ(d.recvs[0].bytes, size_of(0));
    EXPECT_EQ(pattern_mismatch(buf.data(), size_of(0), 77u), size_of(0));
  });
}

// Rule: a message goes into the oldest posted receive, which must be large enough, else error
// (naming both sizes).
TEST_P(TransportContract, RecvBufferTooSmallIsAnError) {
  run_pair(maker(GetParam()), 1, [](RankSide& s) {
    Endpoint& ep = *s.endpoints[0];
    RegisteredBuffer buf(s.transport, 4096);
    if (s.rank == 1) {
      ASSERT_TRUE(ep.post(recv_request(buf, 0, 1024, 1)));
    }
    s.bootstrap.barrier();
    if (s.rank == 0) {
      ASSERT_TRUE(ep.post(send_request(buf, 0, 4096, 1)));
      try {
        Drain(ep).until(1, 0);
      } catch (const core::Error&) {
        // A transport may also report the failure at the sender (verbs: remote op error).
      }
      return;
    }
    const core::Error e = expect_error_from_wait(ep);
    const std::string what = e.what();
    EXPECT_NE(what.find("4096"), std::string::npos) << what;
    EXPECT_NE(what.find("1024"), std::string::npos) << what;
  });
}

// Rule: a broken connection is an error naming the peer rank, never a hang: the receiving side
// of a peer that went away.
TEST_P(TransportContract, PeerCloseDetectedByReceiver) {
  run_pair(maker(GetParam()), 1, [](RankSide& s) {
    RegisteredBuffer buf(s.transport, 4096);
    if (s.rank == 1) {
      ASSERT_TRUE(s.endpoints[0]->post(recv_request(buf, 0, 4096, 1)));
    }
    s.bootstrap.barrier();
    if (s.rank == 0) {
      s.endpoints.clear();
      return;
    }
    const core::Error e = expect_error_from_wait(*s.endpoints[0]);
    EXPECT_EQ(e.kind(), core::ErrorKind::peer_lost) << e.what();
    EXPECT_NE(std::string(e.what()).find("rank 0"), std::string::npos) << e.what();
    // And it stays broken: later calls fail the same way instead of hanging.
    Completion out[4];
    EXPECT_THROW(s.endpoints[0]->poll(std::span<Completion>(out)), core::Error);
  });
}

// Rule: the same for the sending side: sends to a peer that went away end in an error naming
// the rank (from post or from poll).
TEST_P(TransportContract, PeerCloseDetectedBySender) {
  run_pair(maker(GetParam()), 1, [](RankSide& s) {
    if (s.rank == 0) {
      s.endpoints.clear();
      s.bootstrap.barrier();
      return;
    }
    s.bootstrap.barrier();
    Endpoint& ep = *s.endpoints[0];
    RegisteredBuffer buf(s.transport, 64 * 1024);
    const std::uint64_t deadline =
        core::now_ns() + static_cast<std::uint64_t>(kWaitLimit.count()) * 1'000'000ULL;
    Completion out[32];
    std::uint64_t id = 0;
    while (true) {
      try {
        ep.post(send_request(buf, 0, buf.size(), id++));
        ep.wait(std::span<Completion>(out), 10'000'000);
      } catch (const core::Error& e) {
        EXPECT_EQ(e.kind(), core::ErrorKind::peer_lost) << e.what();
        EXPECT_NE(std::string(e.what()).find("rank 0"), std::string::npos) << e.what();
        return;
      }
      ASSERT_LT(core::now_ns(), deadline) << "sending to a closed peer never failed";
    }
  });
}

// Rule: post() never blocks: with queue_depth() requests outstanding it returns false, in each
// direction, and accepts again once completions were polled.
TEST_P(TransportContract, PostBeyondQueueDepthReturnsFalse) {
  run_pair(maker(GetParam()), 1, [](RankSide& s) {
    Endpoint& ep = *s.endpoints[0];
    const std::size_t depth = ep.queue_depth();
    ASSERT_GE(depth, 1u);
    ASSERT_LE(depth, 1u << 16) << "test sized for depths up to 65536";
    RegisteredBuffer buf(s.transport, (depth + 1) * 8);
    if (s.rank == 1) {
      for (std::size_t i = 0; i < depth; ++i) {
        ASSERT_TRUE(ep.post(recv_request(buf, i * 8, 8, i))) << "recv " << i << " of " << depth;
      }
      EXPECT_FALSE(ep.post(recv_request(buf, depth * 8, 8, depth)));
    }
    s.bootstrap.barrier();
    Drain d(ep);
    if (s.rank == 0) {
      for (std::size_t i = 0; i < depth; ++i) {
        ASSERT_TRUE(ep.post(send_request(buf, 0, 8, i, static_cast<std::uint32_t>(i))))
            << "send " << i << " of " << depth;
      }
      EXPECT_FALSE(ep.post(send_request(buf, 0, 8, depth, 0)));
      d.until(depth, 0);
    } else {
      d.until(0, depth);
      for (std::size_t i = 0; i < depth; ++i) ASSERT_EQ(d.recvs[i].imm, i);
    }
    // Completions polled: room again.
    if (s.rank == 1) {
      EXPECT_TRUE(ep.post(recv_request(buf, 0, 8, depth)));
    }
    s.bootstrap.barrier();
    if (s.rank == 0) {
      EXPECT_TRUE(ep.post(send_request(buf, 0, 8, depth, 4242)));
      d.until(depth + 1, 0);
    } else {
      d.until(0, depth + 1);
      EXPECT_EQ(d.recvs.back().imm, 4242u);
    }
  });
}

// Rule: an operation the transport does not support is refused with core::Error(unavailable)
// naming the operation, and the endpoint keeps working.
TEST_P(TransportContract, UnsupportedOpThrowsUnavailable) {
  run_pair(maker(GetParam()), 1, [](RankSide& s) {
    Endpoint& ep = *s.endpoints[0];
    const transport::Capabilities caps = s.transport.capabilities();
    RegisteredBuffer buf(s.transport, 64);
    struct Case {
      Op op;
      bool supported;
    };
    const Case cases[] = {{Op::write, caps.write},
                          {Op::write_imm, caps.write_imm},
                          {Op::read, caps.read},
                          {Op::fetch_add, caps.atomics},
                          {Op::compare_swap, caps.atomics}};
    if (s.rank == 0) {
      for (const Case& c : cases) {
        if (c.supported) continue;
        WorkRequest r = send_request(buf, 0, 8, 1);
        r.op = c.op;
        r.remote = transport::RemoteRegion{0x1000, 1, 64};
        try {
          ep.post(r);
          ADD_FAILURE() << "post(" << transport::op_name(c.op) << ") did not throw";
        } catch (const core::Error& e) {
          EXPECT_EQ(e.kind(), core::ErrorKind::unavailable) << e.what();
          EXPECT_NE(std::string(e.what()).find(transport::op_name(c.op)), std::string::npos)
              << e.what();
        }
      }
    }
    if (s.rank == 1) {
      ASSERT_TRUE(ep.post(recv_request(buf, 0, 64, 9)));
    }
    s.bootstrap.barrier();
    Drain d(ep);
    if (s.rank == 0) {
      ASSERT_TRUE(ep.post(send_request(buf, 0, 8, 9, 99)));
      d.until(1, 0);
    } else {
      d.until(0, 1);
      EXPECT_EQ(d.recvs[0].imm, 99u);
    }
  });
}

// Rule: capabilities describe what works: this suite exercises send/recv up to 4 MiB, so a
// transport claiming send_recv must allow at least that; a completion mode is supported; memory
// registration hands back the buffer.
TEST_P(TransportContract, CapabilitiesConsistent) {
  run_pair(maker(GetParam()), 1, [](RankSide& s) {
    const transport::Capabilities caps = s.transport.capabilities();
    EXPECT_FALSE(s.transport.name().empty());
    EXPECT_TRUE(caps.send_recv) << "the contract suite needs send/recv";
    EXPECT_GE(caps.max_message_size, 4u * 1024 * 1024);
    EXPECT_TRUE(caps.busy_poll || caps.blocking);
    EXPECT_TRUE(caps.write || !caps.write_imm) << "write_imm without write";
    RegisteredBuffer buf(s.transport, 4096);
    EXPECT_EQ(buf.region()->buffer.addr, buf.data());
    EXPECT_EQ(buf.region()->buffer.length, buf.size());
    EXPECT_GE(s.endpoints[0]->queue_depth(), 1u);
    EXPECT_FALSE(s.endpoints[0]->describe().empty());
  });
}

// Rule: wait() returns 0 on timeout: with nothing posted, and with a receive posted that no
// message arrives for; the posted receive still completes afterwards.
TEST_P(TransportContract, WaitReturnsZeroOnTimeout) {
  run_pair(maker(GetParam()), 1, [](RankSide& s) {
    Endpoint& ep = *s.endpoints[0];
    RegisteredBuffer buf(s.transport, 64);
    Completion out[4];
    if (s.rank == 0) {
      EXPECT_EQ(ep.wait(std::span<Completion>(out), 20'000'000), 0u);
      ASSERT_TRUE(ep.post(recv_request(buf, 0, 64, 5)));
      EXPECT_EQ(ep.wait(std::span<Completion>(out), 20'000'000), 0u);
      EXPECT_EQ(ep.poll(std::span<Completion>(out)), 0u);
    }
    Completion received{};
    send_three_bytes_to_rank0(s, ep, buf, &received);
    if (s.rank == 0) {
      EXPECT_EQ(received.wr_id, 5u);
      EXPECT_EQ(received.bytes, 3u);
    }
  });
}

// Rule: wait() returns 0 only on timeout, not before it, even when the timeout is long enough for
// a transport to sleep in its receive call (tcp: from 20 ms). The upper bound only catches a
// wait that overruns by far (a hang), not a slow one.
TEST_P(TransportContract, LongWaitReturnsZeroNotBeforeItsTimeout) {
  run_pair(maker(GetParam()), 1, [](RankSide& s) {
    Endpoint& ep = *s.endpoints[0];
    RegisteredBuffer buf(s.transport, 64);
    Completion out[4];
    if (s.rank == 0) {
      ASSERT_TRUE(ep.post(recv_request(buf, 0, 64, 5)));
      constexpr std::uint64_t kTimeoutNs = 70'000'000;
      const std::uint64_t start = core::now_ns();
      EXPECT_EQ(ep.wait(std::span<Completion>(out), kTimeoutNs), 0u);
      const std::uint64_t waited = core::now_ns() - start;
      EXPECT_GE(waited, kTimeoutNs);
      EXPECT_LT(waited, kTimeoutNs + 5'000'000'000ULL) << "wait() overran its timeout by seconds";
    }
    Completion received{};
    send_three_bytes_to_rank0(s, ep, buf, &received);
    if (s.rank == 0) {
      EXPECT_EQ(received.wr_id, 5u);
    }
  });
}

// Rule: a message that arrives while wait() sleeps ends the wait with its completion, bytes and
// tag intact (also when the transport sleeps in its receive call and the message is larger than
// one read).
TEST_P(TransportContract, LongWaitEndsWithAMessageThatArrivesMeanwhile) {
  run_pair(maker(GetParam()), 1, [](RankSide& s) {
    Endpoint& ep = *s.endpoints[0];
    constexpr std::size_t kBytes = 256 * 1024;
    RegisteredBuffer buf(s.transport, kBytes);
    for (const std::size_t size : {std::size_t{64}, kBytes}) {
      if (s.rank == 0) {
        std::memset(buf.data(), 0, kBytes);
        ASSERT_TRUE(ep.post(recv_request(buf, 0, kBytes, 11)));
      }
      s.bootstrap.barrier();
      if (s.rank == 0) {
        std::vector<Completion> got;
        Completion out[4];
        const std::uint64_t give_up = core::now_ns() + 10'000'000'000ULL;
        while (got.empty() && core::now_ns() < give_up) {
          const std::size_t n = ep.wait(std::span<Completion>(out), 2'000'000'000ULL);
          got.insert(got.end(), out, out + n);
        }
        ASSERT_EQ(got.size(), 1u) << size << "-byte message";
        EXPECT_EQ(got[0].op, Op::recv);
        EXPECT_EQ(got[0].wr_id, 11u);
        EXPECT_EQ(got[0].bytes, size);
        EXPECT_EQ(got[0].imm, 0x5EEDu);
        EXPECT_EQ(pattern_mismatch(buf.data(), size, 77), size);
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(30));  // rank 0 is asleep by now
        fill_pattern(buf.data(), size, 77);
        ASSERT_TRUE(ep.post(send_request(buf, 0, size, 12, 0x5EEDu)));
        Drain d(ep);
        d.until(1, 0);
      }
      s.bootstrap.barrier();
    }
  });
}

}  // namespace
}  // namespace fabricbench::testkit
