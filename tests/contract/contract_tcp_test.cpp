// The transport contract suite for the TCP transport: IPv4 and IPv6 loopback, busy-poll and
// blocking completion.
#include <gtest/gtest.h>

#include <stdexcept>

#include "tests/contract/transport_contract.hpp"
#include "tests/contract/transport_testkit.hpp"
#include "transports/tcp/tcp_transport.hpp"

namespace fabricbench::testkit {
namespace {

std::unique_ptr<transport::Transport> make_tcp(const std::string& variant) {
  transport::tcp::Options o;
  if (variant.starts_with("ipv4_")) {
    o.family = "ipv4";
    o.address = "127.0.0.1";
  } else if (variant.starts_with("ipv6_")) {
    o.family = "ipv6";
    o.address = "::1";
  } else {
    throw std::invalid_argument("unknown tcp contract variant " + variant);
  }
  if (variant.ends_with("_busy_poll")) {
    o.completion = transport::CompletionMode::busy_poll;
  } else if (variant.ends_with("_blocking")) {
    o.completion = transport::CompletionMode::blocking;
  } else {
    throw std::invalid_argument("unknown tcp contract variant " + variant);
  }
  o.connect_timeout_ns = 20'000'000'000ULL;
  return transport::tcp::make_tcp_transport(o);
}

std::string tcp_unavailable(const std::string& variant) {
  return variant.starts_with("ipv6_") ? ipv6_loopback_unavailable() : std::string();
}

INSTANTIATE_TEST_SUITE_P(
    Tcp, TransportContract,
    ::testing::Values(ContractVariant{"ipv4_busy_poll", &make_tcp, &tcp_unavailable},
                      ContractVariant{"ipv4_blocking", &make_tcp, &tcp_unavailable},
                      ContractVariant{"ipv6_busy_poll", &make_tcp, &tcp_unavailable},
                      ContractVariant{"ipv6_blocking", &make_tcp, &tcp_unavailable}),
    contract_variant_name);

}  // namespace
}  // namespace fabricbench::testkit
