// Rank 0's address from the hosts' interface addresses, and Slurm's host lists.
#include "harness/bootstrap/addresses.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.hpp"

namespace fabricbench::bootstrap {
namespace {

using Hosts = std::vector<std::vector<InterfaceAddress>>;

TEST(InterfaceAddresses, RoundTripAndBadEntriesSkipped) {
  const std::vector<InterfaceAddress> list{{"198.18.0.1", 24}, {"fd00::2", 64}, {"10.1.2.3", 8}};
  EXPECT_EQ(format_interface_addresses(list), "198.18.0.1/24,fd00::2/64,10.1.2.3/8");
  EXPECT_EQ(parse_interface_addresses(format_interface_addresses(list)), list);
  EXPECT_EQ(parse_interface_addresses(""), std::vector<InterfaceAddress>{});
  // No prefix, a name, a prefix too long for the family, garbage: left out, the rest kept.
  EXPECT_EQ(parse_interface_addresses("1.2.3.4,node1/24,1.2.3.4/33,fd00::1/129,x/y,10.0.0.1/16"),
            (std::vector<InterfaceAddress>{{"10.0.0.1", 16}}));
}

TEST(InterfaceAddresses, InSubnet) {
  EXPECT_TRUE(in_subnet({"198.18.0.1", 24}, "198.18.0.4"));
  EXPECT_FALSE(in_subnet({"198.18.0.1", 24}, "198.18.1.4"));
  EXPECT_TRUE(in_subnet({"198.18.0.1", 15}, "198.19.7.4"));  // RFC 2544's /15
  EXPECT_FALSE(in_subnet({"198.18.0.1", 15}, "198.20.0.1"));
  EXPECT_TRUE(in_subnet({"10.0.0.1", 0}, "192.168.1.1"));
  EXPECT_TRUE(in_subnet({"10.0.0.1", 32}, "10.0.0.1"));
  EXPECT_FALSE(in_subnet({"10.0.0.1", 32}, "10.0.0.2"));
  EXPECT_TRUE(in_subnet({"fd00::2", 64}, "fd00::ffff:1"));
  EXPECT_FALSE(in_subnet({"fd00::2", 64}, "fd00:0:0:1::1"));
  EXPECT_FALSE(in_subnet({"198.18.0.1", 24}, "fd00::1")) << "families differ";
  EXPECT_FALSE(in_subnet({"198.18.0.1", 24}, "node1")) << "not numeric";
  EXPECT_FALSE(in_subnet({"198.18.0.1", 40}, "198.18.0.1")) << "prefix out of range";
}

TEST(ChooseRootAddress, TheAddressWhoseSubnetHoldsEveryOtherHost) {
  // Rank 0 has a management network every node shares and a fabric only some share; and the
  // fabric (listed first) wins only when it reaches everybody.
  const std::vector<InterfaceAddress> root{{"198.18.0.1", 24}, {"10.0.0.1", 16}};
  EXPECT_EQ(choose_root_address(root, Hosts{{{"198.18.0.2", 24}, {"10.0.0.2", 16}},
                                            {{"198.18.0.3", 24}, {"10.0.7.3", 16}}}),
            "198.18.0.1");
  EXPECT_EQ(
      choose_root_address(root, Hosts{{{"198.18.0.2", 24}, {"10.0.0.2", 16}}, {{"10.0.9.3", 16}}}),
      "10.0.0.1")
      << "node 3 has no fabric address: the management network reaches all";
  EXPECT_EQ(choose_root_address(root, Hosts{{{"198.18.0.2", 24}}, {{"172.16.0.3", 12}}}),
            std::nullopt)
      << "no subnet of rank 0's holds host 3";
  EXPECT_EQ(choose_root_address(root, Hosts{{{"198.18.0.2", 24}}, {}}), std::nullopt)
      << "a host that sent no address";
  EXPECT_EQ(choose_root_address(root, Hosts{}), std::nullopt) << "nobody else";
  EXPECT_EQ(choose_root_address({}, Hosts{{{"198.18.0.2", 24}}}), std::nullopt);
  // Rank 0's own prefix decides: a /24 on rank 0 does not hold 198.18.1.2 even if that host
  // believes it is on a /16.
  EXPECT_EQ(choose_root_address({{"198.18.0.1", 24}}, Hosts{{{"198.18.1.2", 16}}}), std::nullopt);
  EXPECT_EQ(choose_root_address({{"fd00::1", 64}, {"198.18.0.1", 24}},
                                Hosts{{{"198.18.0.2", 24}}, {{"198.18.0.3", 24}, {"fd00::3", 64}}}),
            "198.18.0.1");
}

TEST(ChooseRootAddress, ThisHostHasSomeAddresses) {
  // Not the loopback, each with a prefix: what the mpi launcher sends.
  for (const auto& a : local_interface_addresses()) {
    EXPECT_NE(a.address.rfind("127.", 0), 0U) << a.address;
    EXPECT_NE(a.address, "::1");
    EXPECT_GE(a.prefix, 0);
    EXPECT_LE(a.prefix, a.address.find(':') == std::string::npos ? 32 : 128) << a.address;
  }
}

std::string expand_error(const std::string& list) {
  try {
    expand_hostlist(list);
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::usage) << list;
    return e.what();
  }
  return "no error";
}

TEST(Hostlist, Expands) {
  using V = std::vector<std::string>;
  EXPECT_EQ(expand_hostlist("node[1-3,07],gpu-a[01-02]"),
            (V{"node1", "node2", "node3", "node07", "gpu-a01", "gpu-a02"}));
  EXPECT_EQ(expand_hostlist("node1"), V{"node1"});
  EXPECT_EQ(expand_hostlist("a,b,c"), (V{"a", "b", "c"}));
  EXPECT_EQ(expand_hostlist("n[08-10]"), (V{"n08", "n09", "n10"}));
  EXPECT_EQ(expand_hostlist("n[9-11]"), (V{"n9", "n10", "n11"}));
  EXPECT_EQ(expand_hostlist("n[5]"), V{"n5"});
  EXPECT_EQ(expand_hostlist("r[1-2]n[1-2]"), (V{"r1n1", "r1n2", "r2n1", "r2n2"}));
  EXPECT_EQ(expand_hostlist("n[1-2]-ib"), (V{"n1-ib", "n2-ib"}));
  EXPECT_EQ(expand_hostlist("x-1,n[3-4],y"), (V{"x-1", "n3", "n4", "y"}));
  EXPECT_EQ(expand_hostlist(""), V{});
  EXPECT_EQ(expand_hostlist("n[1-65536]").size(), 65536U);
}

TEST(Hostlist, ErrorsNameTheList) {
  EXPECT_NE(expand_error("node[1-3").find("host list 'node[1-3': '[' without ']'"),
            std::string::npos);
  EXPECT_NE(expand_error("node1-3]").find("']' without '['"), std::string::npos);
  EXPECT_NE(expand_error("n[[1]]").find("nested"), std::string::npos);
  EXPECT_NE(expand_error("n[3-1]").find("range '3-1' runs backwards"), std::string::npos);
  EXPECT_NE(expand_error("n[a-b]").find("'a' inside brackets is not a number"), std::string::npos);
  EXPECT_NE(expand_error("n[]").find("not a number"), std::string::npos);
  EXPECT_NE(expand_error("n[1-70000]").find("more than 65536"), std::string::npos);
  EXPECT_NE(expand_error("a[1-300]b[1-300]").find("more than 65536"), std::string::npos);
  EXPECT_NE(expand_error("n[1234567890]").find("too long"), std::string::npos);
}

}  // namespace
}  // namespace fabricbench::bootstrap
