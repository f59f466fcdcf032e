// The pure rules of the envelope's GPU section: PCIe relations from sysfs paths (the legend of
// `nvidia-smi topo -m`), the nearest GPU of a NIC, the degraded-link rule, bus id normalization.
#include <gtest/gtest.h>

#include <string>

#include "core/pci_topology.hpp"

namespace {

using namespace fabricbench::core::pcie;

// A switch below root port 00:01.0: upstream port 01:00.0, downstream ports 02:00.0 / 02:01.0.
const std::string kSwitch = "/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0";
const std::string kGpuA = kSwitch + "/0000:02:00.0/0000:03:00.0";
const std::string kNicA = kSwitch + "/0000:02:01.0/0000:04:00.0";
// A second-level switch below downstream port 02:02.0.
const std::string kDeep = kSwitch + "/0000:02:02.0/0000:05:00.0/0000:06:00.0/0000:07:00.0";
// Another root port of the same host bridge, and another host bridge.
const std::string kOtherPort = "/sys/devices/pci0000:00/0000:00:02.0/0000:08:00.0";
const std::string kOtherBridge = "/sys/devices/pci0000:80/0000:80:01.0/0000:81:00.0";

std::optional<PcieRelation> rel(const std::string& a, std::optional<int> na, const std::string& b,
                                std::optional<int> nb) {
  return classify({a, na}, {b, nb}).relation;
}

TEST(PcieRelation, OneSwitchIsPix) {
  EXPECT_EQ(rel(kGpuA, 0, kNicA, 0), PcieRelation::pix);
  EXPECT_EQ(rel(kNicA, 0, kGpuA, 0), PcieRelation::pix) << "symmetric";
  // Two functions of one device on a root port.
  EXPECT_EQ(rel(kOtherPort, 0, "/sys/devices/pci0000:00/0000:00:02.0/0000:08:00.1", 0),
            PcieRelation::pix);
}

TEST(PcieRelation, SeveralSwitchesArePxb) {
  EXPECT_EQ(rel(kGpuA, 0, kDeep, 0), PcieRelation::pxb);
  EXPECT_EQ(rel(kDeep, 0, kNicA, 0), PcieRelation::pxb);
}

TEST(PcieRelation, SameHostBridgeIsPhb) {
  EXPECT_EQ(rel(kGpuA, 0, kOtherPort, 0), PcieRelation::phb);
  // A device on the host bridge's own bus.
  EXPECT_EQ(rel("/sys/devices/pci0000:00/0000:00:04.0", 0, kGpuA, 0), PcieRelation::phb);
}

TEST(PcieRelation, OtherHostBridgeIsNodeOrSys) {
  EXPECT_EQ(rel(kGpuA, 0, kOtherBridge, 0), PcieRelation::node);
  EXPECT_EQ(rel(kGpuA, 0, kOtherBridge, 1), PcieRelation::sys);
  EXPECT_EQ(rel(kGpuA, std::nullopt, kOtherBridge, std::nullopt), PcieRelation::node)
      << "no NUMA information: one node";
  const Relation r = classify({kGpuA, 0}, {kOtherBridge, std::nullopt});
  EXPECT_FALSE(r.relation);
  EXPECT_NE(r.reason.find(kOtherBridge), std::string::npos) << r.reason;
}

TEST(PcieRelation, NotAPciPathHasAReason) {
  for (const std::string& odd :
       {std::string(), std::string("/sys/devices/virtual/net/lo"),
        std::string("relative/0000:01:00.0"), std::string("/sys/devices/pci0000:00"),
        std::string("/sys/devices/") + std::string(5000, 'x')}) {
    const Relation r = classify({kGpuA, 0}, {odd, 0});
    EXPECT_FALSE(r.relation) << odd;
    EXPECT_NE(r.reason.find("not a PCI device path"), std::string::npos) << r.reason;
  }
}

TEST(PcieRelation, Names) {
  EXPECT_EQ(to_string(PcieRelation::pix), "PIX");
  EXPECT_EQ(to_string(PcieRelation::pxb), "PXB");
  EXPECT_EQ(to_string(PcieRelation::phb), "PHB");
  EXPECT_EQ(to_string(PcieRelation::node), "NODE");
  EXPECT_EQ(to_string(PcieRelation::sys), "SYS");
}

TEST(Nearest, ClosestRelationThenLowestIndex) {
  EXPECT_EQ(nearest({PcieRelation::sys, PcieRelation::phb, PcieRelation::pix}), 2U);
  EXPECT_EQ(nearest({std::nullopt, PcieRelation::node, PcieRelation::node}), 1U);
  EXPECT_EQ(nearest({PcieRelation::pxb, PcieRelation::pix, PcieRelation::pix}), 1U);
  EXPECT_FALSE(nearest({std::nullopt, std::nullopt}));
  EXPECT_FALSE(nearest(std::vector<std::optional<PcieRelation>>{}));
  const RelationMatrix m = {{PcieRelation::pix, PcieRelation::sys},
                            {PcieRelation::sys, PcieRelation::pxb}};
  EXPECT_EQ(nearest(m, 0), 0U);
  EXPECT_EQ(nearest(m, 1), 1U);
  EXPECT_FALSE(nearest(m, 2));
}

TEST(PcieLinkVerdict, FullWidthAndGeneration) {
  const LinkVerdict v = pcie_link_verdict({5, 16, 5, 16});
  EXPECT_EQ(v.state, LinkState::full);
  EXPECT_EQ(v.degraded(), false);
  EXPECT_TRUE(v.reason.empty());
}

TEST(PcieLinkVerdict, WidthBelowIsDegraded) {
  const LinkVerdict v = pcie_link_verdict({4, 8, 4, 16});
  EXPECT_EQ(v.state, LinkState::width_below);
  EXPECT_EQ(v.degraded(), true);
  EXPECT_NE(v.reason.find("link at gen4 x8 of gen4 x16"), std::string::npos) << v.reason;
  // Width wins over generation.
  EXPECT_EQ(pcie_link_verdict({1, 8, 5, 16}).state, LinkState::width_below);
}

TEST(PcieLinkVerdict, GenerationBelowSaysIdle) {
  const LinkVerdict v = pcie_link_verdict({1, 16, 5, 16});
  EXPECT_EQ(v.state, LinkState::generation_below);
  EXPECT_EQ(v.degraded(), true);
  EXPECT_EQ(v.reason,
            "link at gen1 x16 of gen5 x16; GPUs lower the generation when idle, so check under "
            "load");
}

TEST(PcieLinkVerdict, UnknownFigure) {
  for (const PcieLink& link : {PcieLink{std::nullopt, 16, 5, 16}, PcieLink{5, std::nullopt, 5, 16},
                               PcieLink{5, 16, std::nullopt, 16}, PcieLink{5, 16, 5, std::nullopt},
                               PcieLink{5, 0, 5, 16}}) {
    const LinkVerdict v = pcie_link_verdict(link);
    EXPECT_EQ(v.state, LinkState::unknown);
    EXPECT_FALSE(v.degraded());
    EXPECT_FALSE(v.reason.empty());
  }
}

TEST(BusId, Normalized) {
  EXPECT_EQ(normalize_bus_id("00000000:3B:00.0"), "0000:3b:00.0");
  EXPECT_EQ(normalize_bus_id("0000:3b:00.0"), "0000:3b:00.0");
  EXPECT_EQ(normalize_bus_id("00010000:C1:1F.7"), "10000:c1:1f.7");
  for (const char* bad : {"", "3b:00.0", "0000:3b:00", "0000:3g:00.0", "0000:3b:20.0",
                          "0000:3b:00.8", "0000:100:00.0", "000000000:3b:00.0"}) {
    EXPECT_FALSE(normalize_bus_id(bad)) << bad;
  }
}

TEST(GpuTopology, RatedLinkBandwidthFromSysfsText) {
  // gen5 x16: 32 GT/s x 16 x 128/130 / 8 = 63.015 GB/s; gen2 x8: 5 x 8 x 0.8 / 8 = 4.
  EXPECT_NEAR(*pcie_link_gbytes_per_s("32.0 GT/s PCIe", 16), 63.015, 0.001);
  EXPECT_NEAR(*pcie_link_gbytes_per_s("16.0 GT/s PCIe", 16), 31.508, 0.001);
  EXPECT_NEAR(*pcie_link_gbytes_per_s("5.0 GT/s", 8), 4.0, 1e-9);
  EXPECT_NEAR(*pcie_link_gbytes_per_s("64.0 GT/s PCIe", 16), 121.0, 1e-9);
  EXPECT_EQ(pcie_link_gbytes_per_s("Unknown", 16), std::nullopt);
  EXPECT_EQ(pcie_link_gbytes_per_s("32.0 GT/s PCIe", 0), std::nullopt);
  EXPECT_EQ(pcie_link_gbytes_per_s("32.0 Gb/s", 16), std::nullopt);
  EXPECT_EQ(pcie_link_gbytes_per_s("", 16), std::nullopt);
}

TEST(GpuTopology, RanksSharingANicShareOutTheEquallyNearestGpus) {
  using R = PcieRelation;
  const std::vector<std::optional<R>> row = {R::sys, R::pix, R::phb, R::pix, std::nullopt};
  EXPECT_EQ(nearest_shared(row, 0), 1u);
  EXPECT_EQ(nearest_shared(row, 1), 3u);
  EXPECT_EQ(nearest_shared(row, 2), 1u);
  EXPECT_EQ(nearest_shared({std::nullopt, std::nullopt}, 0), std::nullopt);
  EXPECT_EQ(nearest_shared({R::node}, 5), 0u);
}

}  // namespace
