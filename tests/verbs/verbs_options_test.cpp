// Verbs transport checks that need no RDMA device: option validation (which comes before any
// device is opened, so a bad option is a config error everywhere) and the no-device path.
#include <infiniband/verbs.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string>

#include "core/error.hpp"
#include "transports/verbs/verbs_device.hpp"
#include "transports/verbs/verbs_transport.hpp"

namespace fabricbench::transport::verbs {
namespace {

// The error make_verbs_transport throws for `o` (a test failure when it does not throw).
core::Error error_for(const Options& o) {
  try {
    make_verbs_transport(o);
  } catch (const core::Error& e) {
    return e;
  }
  ADD_FAILURE() << "make_verbs_transport did not throw";
  return core::Error(core::ErrorKind::runtime, "");
}

void expect_config(const std::function<void(Options&)>& change,
                   std::initializer_list<const char*> words) {
  Options o;
  change(o);
  const core::Error e = error_for(o);
  EXPECT_EQ(e.kind(), core::ErrorKind::config) << e.what();
  for (const char* w : words) {
    EXPECT_NE(std::string(e.what()).find(w), std::string::npos) << "'" << w << "' in: " << e.what();
  }
}

TEST(VerbsOptions, BadQpType) {
  expect_config([](Options& o) { o.qp_type = "xrc"; }, {"qp_type", "xrc", "rc, uc or ud"});
}

TEST(VerbsOptions, MtuNotAPowerOfTwoOrTooLarge) {
  expect_config([](Options& o) { o.mtu = 1000; }, {"mtu", "1000", "256, 512, 1024, 2048, 4096"});
  expect_config([](Options& o) { o.mtu = 8192; }, {"mtu", "8192"});
  expect_config([](Options& o) { o.mtu = 128; }, {"mtu", "128"});
}

TEST(VerbsOptions, DeviceAndNetdevAreExclusive) {
  expect_config(
      [](Options& o) {
        o.device = "rxe0";
        o.netdev = "eth0";
      },
      {"device", "netdev", "exclusive"});
}

TEST(VerbsOptions, RangesAreChecked) {
  expect_config([](Options& o) { o.queue_depth = 0; }, {"queue_depth"});
  expect_config([](Options& o) { o.queue_depth = (1u << 20) + 1; }, {"queue_depth"});
  expect_config([](Options& o) { o.cq_moderation = 0; }, {"cq_moderation"});
  expect_config([](Options& o) { o.port = -1; }, {"port", "-1"});
  expect_config([](Options& o) { o.port = 256; }, {"port", "256"});
  expect_config([](Options& o) { o.gid_index = -2; }, {"gid_index", "-2"});
  expect_config([](Options& o) { o.sl = 16; }, {"sl", "16"});
  expect_config([](Options& o) { o.timeout = 32; }, {"timeout", "32"});
  expect_config([](Options& o) { o.retry_count = 8; }, {"retry_count", "8"});
  expect_config([](Options& o) { o.rnr_retry = 8; }, {"rnr_retry", "8"});
  expect_config([](Options& o) { o.connect_timeout_ns = 0; }, {"connect_timeout_ns"});
  expect_config([](Options& o) { o.recv_overflow_bytes = (1u << 30) + 1; },
                {"recv_overflow_bytes"});
}

// READ/atomic depths: 0 takes the device's limits as perftest does (Soft-RoCE 128, ConnectX 16),
// each side against its own limit (initiator: max_qp_init_rd_atom, responder: max_qp_rd_atom).
TEST(VerbsOptions, RdAtomicDepthsDefaultToTheDevicesLimits) {
  const RdAtomicDepths device_max = rd_atomic_depths(0, 128, 64);
  EXPECT_EQ(device_max.initiator, 128);
  EXPECT_EQ(device_max.responder, 64);
  const RdAtomicDepths asked = rd_atomic_depths(16, 128, 8);
  EXPECT_EQ(asked.initiator, 16);
  EXPECT_EQ(asked.responder, 8);
  const RdAtomicDepths wide = rd_atomic_depths(0, 1000, -1);
  EXPECT_EQ(wide.initiator, 255);
  EXPECT_EQ(wide.responder, 0);
  EXPECT_EQ(Options{}.max_rd_atomic, 0u);
}

TEST(VerbsOptions, RdmaCmOnlyForRc) {
  expect_config(
      [](Options& o) {
        o.qp_type = "ud";
        o.use_rdma_cm = true;
      },
      {"use_rdma_cm", "ud"});
}

TEST(VerbsOptions, ReconnectOnlyForRcOverTheBootstrap) {
  expect_config(
      [](Options& o) {
        o.qp_type = "ud";
        o.reconnect = true;
      },
      {"reconnect", "ud"});
  expect_config(
      [](Options& o) {
        o.reconnect = true;
        o.use_rdma_cm = true;
      },
      {"reconnect", "rdma_cm"});
}

TEST(VerbsOptions, ValidOptionsPassValidation) {
  // Valid options reach the device: unavailable here without one, or a transport with one.
  for (const char* qp : {"rc", "uc", "ud"}) {
    Options o;
    o.qp_type = qp;
    o.mtu = 1024;
    try {
      auto t = make_verbs_transport(o);
      EXPECT_EQ(t->name(), "verbs");
    } catch (const core::Error& e) {
      EXPECT_NE(e.kind(), core::ErrorKind::config) << qp << ": " << e.what();
    }
  }
}

TEST(VerbsUnavailable, ReasonNamesTheFailingCall) {
  const auto reason = unavailable_reason();
  int count = 0;
  errno = 0;
  ibv_device** list = ibv_get_device_list(&count);
  const int err = errno;
  if (list != nullptr) ibv_free_device_list(list);
  if (!reason) {
    EXPECT_NE(list, nullptr);
    GTEST_SKIP() << "an RDMA device can be opened here (" << count << " device(s))";
  }
  if (list == nullptr) {
    // This host: no RDMA in the kernel, ENOSYS ("Function not implemented").
    EXPECT_EQ(*reason, std::string("ibv_get_device_list: ") + std::strerror(err));
  } else {
    EXPECT_NE(reason->find("ibv_"), std::string::npos) << *reason;
  }
}

TEST(VerbsUnavailable, MakeWithoutDeviceThrowsUnavailableWithTheReason) {
  const auto reason = unavailable_reason();
  if (!reason) GTEST_SKIP() << "an RDMA device can be opened here";
  const core::Error e = error_for(Options{});
  EXPECT_EQ(e.kind(), core::ErrorKind::unavailable) << e.what();
  EXPECT_NE(std::string(e.what()).find(*reason), std::string::npos)
      << "'" << *reason << "' in: " << e.what();
  // Selecting a device by name fails the same way when there are none.
  Options named;
  named.device = "mlx5_0";
  EXPECT_EQ(error_for(named).kind(), core::ErrorKind::unavailable);
}

}  // namespace
}  // namespace fabricbench::transport::verbs
