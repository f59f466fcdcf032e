// CPU lists and explicit placement entries (core/cpu_list.hpp).
#include "core/cpu_list.hpp"

#include <gtest/gtest.h>

namespace core = fabricbench::core;

TEST(CpuList, ParsesRangesAndSingles) {
  std::string why;
  const auto cpus = core::parse_cpu_list("0-3, 8,16-17", &why);
  ASSERT_TRUE(cpus) << why;
  EXPECT_EQ(*cpus, (std::vector<unsigned>{0, 1, 2, 3, 8, 16, 17}));
  EXPECT_EQ(core::format_cpu_list(*cpus), "0-3,8,16-17");
}

TEST(CpuList, RefusesWhatIsNotAList) {
  std::string why;
  EXPECT_FALSE(core::parse_cpu_list("", &why));
  EXPECT_EQ(why, "an empty CPU list");
  EXPECT_FALSE(core::parse_cpu_list("7-0", &why));
  EXPECT_EQ(why, "the range '7-0' runs backwards");
  EXPECT_FALSE(core::parse_cpu_list("0-x", &why));
  EXPECT_EQ(why, "'0-x' is not a CPU number or a range such as 0-7");
  EXPECT_FALSE(core::parse_cpu_list("1,,2", &why));
  EXPECT_FALSE(core::parse_cpu_list("70000", &why));
  EXPECT_EQ(why, "CPU 70000 is above 65535");
}

TEST(CpuList, EntryIsCpusOrANumaNode) {
  std::string why;
  const auto node = core::parse_cpu_entry("numa:1", &why);
  ASSERT_TRUE(node) << why;
  EXPECT_TRUE(node->numa);
  EXPECT_EQ(node->numa_node, 1U);
  const auto cpus = core::parse_cpu_entry("0-7,16-23", &why);
  ASSERT_TRUE(cpus) << why;
  EXPECT_FALSE(cpus->numa);
  EXPECT_EQ(cpus->cpus.size(), 16U);
  EXPECT_FALSE(core::parse_cpu_entry("numa:x", &why));
  EXPECT_EQ(why, "'numa:x' is not a NUMA node such as numa:1");
  EXPECT_FALSE(core::parse_cpu_entry("socket0", &why));
  EXPECT_EQ(why,
            "expected CPUs such as 0-7,16-23 or a NUMA node such as numa:1 ('socket0' is not a "
            "CPU number or a range such as 0-7)");
}
