// The transport contract suite for the test-only loop transport, made through its descriptor
// from resolved settings, as the engine makes every transport.
#include <gtest/gtest.h>

#include "tests/contract/transport_contract.hpp"
#include "tests/registry/loop_transport.hpp"

namespace fabricbench::testkit {
namespace {

std::unique_ptr<transport::Transport> make_loop(const std::string& variant) {
  const transport::Descriptor d = loop::descriptor();
  core::Settings own(d.keys);
  transport::OpenParams common;
  common.completion = variant == "blocking" ? transport::CompletionMode::blocking
                                            : transport::CompletionMode::busy_poll;
  return d.make(own, common);
}

INSTANTIATE_TEST_SUITE_P(Loop, TransportContract,
                         ::testing::Values(ContractVariant{"busy_poll", &make_loop},
                                           ContractVariant{"blocking", &make_loop}),
                         contract_variant_name);

}  // namespace
}  // namespace fabricbench::testkit
