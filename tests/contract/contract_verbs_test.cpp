// The transport contract suite for the verbs transport: busy-poll and blocking completion over
// the bootstrap exchange and over rdma_cm. Both in-process ranks open the same device
// (automatic selection, or $FABRICBENCH_VERBS_DEVICE), so on Soft-RoCE they talk through rxe's
// loopback. The rails variants stripe across the devices in $FABRICBENCH_VERBS_RAILS (two or more,
// comma-separated: multi-rail, verbs_rails.hpp). Without an RDMA device every variant skips with
// unavailable_reason().
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>
#include <stdexcept>

#include "tests/contract/transport_contract.hpp"
#include "tests/contract/transport_testkit.hpp"
#include "transports/verbs/verbs_transport.hpp"

namespace fabricbench::testkit {
namespace {

std::unique_ptr<transport::Transport> make_verbs(const std::string& variant) {
  transport::verbs::Options o;
  if (const char* device = std::getenv("FABRICBENCH_VERBS_DEVICE"); device != nullptr) {
    o.device = device;
  }
  if (variant.ends_with("_busy_poll")) {
    o.completion = transport::CompletionMode::busy_poll;
  } else if (variant.ends_with("_blocking")) {
    o.completion = transport::CompletionMode::blocking;
  } else {
    throw std::invalid_argument("unknown verbs contract variant " + variant);
  }
  o.use_rdma_cm = variant.starts_with("rdma_cm_");
  if (variant.starts_with("rails_")) {
    std::istringstream names(std::getenv("FABRICBENCH_VERBS_RAILS"));
    for (std::string name; std::getline(names, name, ',');) o.devices.push_back(name);
    o.device.clear();
  }
  o.connect_timeout_ns = 20'000'000'000ULL;
  return transport::verbs::make_verbs_transport(o);
}

std::string verbs_unavailable(const std::string& variant) {
  if (auto reason = transport::verbs::unavailable_reason()) return *reason;
  const char* rails = std::getenv("FABRICBENCH_VERBS_RAILS");
  if (variant.starts_with("rails_") &&
      (rails == nullptr || std::string(rails).find(',') == std::string::npos)) {
    return "FABRICBENCH_VERBS_RAILS names no two RDMA devices (e.g. rxe0,rxe1)";
  }
  return "";
}

INSTANTIATE_TEST_SUITE_P(
    Verbs, TransportContract,
    ::testing::Values(ContractVariant{"rc_busy_poll", &make_verbs, &verbs_unavailable},
                      ContractVariant{"rc_blocking", &make_verbs, &verbs_unavailable},
                      ContractVariant{"rdma_cm_busy_poll", &make_verbs, &verbs_unavailable},
                      ContractVariant{"rdma_cm_blocking", &make_verbs, &verbs_unavailable},
                      ContractVariant{"rails_busy_poll", &make_verbs, &verbs_unavailable},
                      ContractVariant{"rails_blocking", &make_verbs, &verbs_unavailable}),
    contract_variant_name);

}  // namespace
}  // namespace fabricbench::testkit
