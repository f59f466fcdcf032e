#include "harness/spec/placement_keys.hpp"

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "core/cpu_list.hpp"
#include "core/pci_topology.hpp"

namespace fabricbench::spec {
namespace {

const std::vector<std::string_view> kModes = {"none", "auto", "explicit"};
const std::vector<std::string_view> kKeys = {"mode", "device", "gpu", "local_ranks"};

class PlacementParser {
 public:
  PlacementParser(ValueParser& values, const KeySpec* case_key)
      : values_(values), case_key_(case_key) {}

  void parse(const SNode& n, PlacementSettings& out) {
    if (n.kind == SNode::Kind::null) return;
    if (n.kind == SNode::Kind::scalar) {
      if (!mode(n, "placement", out)) return;
      if (out.mode == "explicit") {
        error(n.origin, "placement",
              "explicit needs one entry per local rank: write placement: {mode: explicit, "
              "local_ranks: [\"0-7\", \"numa:1\"]}");
      }
      return;
    }
    if (n.kind != SNode::Kind::map) {
      error(n.origin, "placement",
            fmt::format("expected auto, none, explicit or a mapping such as {{mode: auto, device: "
                        "mlx5_0}}, got {}",
                        describe(n)));
      return;
    }
    values_.check_unknown_keys(n, "placement", kKeys, " in placement");
    const SNode* m = n.get("mode");
    if (m == nullptr) {
      error(n.origin, "placement", "missing 'mode' (auto, none or explicit)");
    } else if (m->kind != SNode::Kind::scalar) {
      error(m->origin, "placement.mode",
            fmt::format("expected auto, none or explicit, got {}", describe(*m)));
    } else {
      mode(*m, "placement.mode", out);
    }
    if (const SNode* d = n.get("device")) {
      names(*d, "placement.device", "a NIC such as mlx5_0 or eth0", out.devices,
            [](const std::string&) { return std::string(); });
    }
    if (const SNode* g = n.get("gpu")) names(*g, "placement.gpu", "a GPU", out.gpus, gpu_problem);
    const SNode* lr = n.get("local_ranks");
    if (lr != nullptr) local_ranks(*lr, out);
    if (out.mode == "explicit" && lr == nullptr) {
      error(n.origin, "placement",
            "mode explicit needs local_ranks: one entry per local rank, such as [\"0-7,16-23\", "
            "\"numa:1\"]");
    }
    if (lr != nullptr && m != nullptr && out.mode != "explicit" && !out.mode.empty()) {
      const MapEntry* e = n.find("local_ranks");
      error(e->key_origin, "placement.local_ranks",
            fmt::format("local_ranks is read only with mode explicit (mode is {})", out.mode));
    }
  }

 private:
  void error(const Origin& o, const std::string& field, const std::string& message) {
    values_.report().error(o, field, message);
  }

  bool mode(const SNode& n, const std::string& field, PlacementSettings& out) {
    out.mode.clear();  // until it is valid: no further checks depend on a bad one
    if (case_key_ != nullptr && std::find(kModes.begin(), kModes.end(), n.text) == kModes.end() &&
        std::find(case_key_->choices.begin(), case_key_->choices.end(), n.text) !=
            case_key_->choices.end()) {
      error(n.origin, field,
            fmt::format("unknown value '{}'; valid values: none, auto, explicit ('{}' is a value "
                        "of the case key 'placement': put it under 'defaults' or in a case group)",
                        n.text, n.text));
      return false;
    }
    const KeySpec spec{"placement", Type::choice, 0, 0, {"none", "auto", "explicit"}};
    const std::vector<Value> v = values_.parse_value(n, spec, field);
    if (v.empty()) return false;
    out.mode = v.front().text;
    return true;
  }

  static std::string gpu_problem(const std::string& text) {
    if (core::pcie::normalize_bus_id(text)) return "";
    if (text.find(':') != std::string::npos) {
      return fmt::format("'{}' is not a PCI bus id such as 0000:07:00.0", text);
    }
    if (std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return fmt::format(
          "a GPU index ({}) does not say where the GPU is: give its PCI bus id (0000:07:00.0, "
          "`nvidia-smi --query-gpu=pci.bus_id --format=csv`) or hwloc's name (cuda0)",
          text);
    }
    return "";
  }

  // A name or a list of names (one per local rank).
  template <typename Check>
  void names(const SNode& n, const std::string& field, const char* what,
             std::vector<std::string>& out, Check check) {
    const auto one = [&](const SNode& item, const std::string& item_field) {
      if (item.kind != SNode::Kind::scalar || item.text.empty() ||
          item.text.find_first_of(" \t") != std::string::npos) {
        error(item.origin, item_field, fmt::format("expected {}, got {}", what, describe(item)));
        return;
      }
      if (const std::string why = check(item.text); !why.empty()) {
        error(item.origin, item_field, why);
        return;
      }
      out.push_back(item.text);
    };
    if (n.kind == SNode::Kind::sequence) {
      if (n.items.empty())
        error(n.origin, field, fmt::format("expected {} or a list, got []", what));
      for (std::size_t i = 0; i < n.items.size(); ++i) one(n.items[i], index_field(field, i));
    } else {
      one(n, field);
    }
  }

  void local_ranks(const SNode& n, PlacementSettings& out) {
    const std::string field = "placement.local_ranks";
    if (n.kind != SNode::Kind::sequence || n.items.empty()) {
      error(n.origin, field,
            fmt::format("expected a list with one entry per local rank, such as [\"0-7,16-23\", "
                        "\"numa:1\"], got {}",
                        n.kind == SNode::Kind::sequence ? "an empty list" : describe(n)));
      return;
    }
    for (std::size_t i = 0; i < n.items.size(); ++i) {
      const SNode& item = n.items[i];
      const std::string item_field = index_field(field, i);
      std::string why;
      if (item.kind != SNode::Kind::scalar) {
        error(item.origin, item_field,
              fmt::format("expected CPUs such as 0-7,16-23 or numa:N, got {}", describe(item)));
      } else if (!core::parse_cpu_entry(item.text, &why)) {
        error(item.origin, item_field, fmt::format("'{}': {}", item.text, why));
      } else {
        out.local_ranks.push_back(item.text);
        out.local_rank_origins.push_back(values_.report().where(item.origin, item_field));
      }
    }
  }

  ValueParser& values_;
  const KeySpec* case_key_;
};

}  // namespace

void parse_placement(const SNode& n, ValueParser& values, const KeySpec* case_key,
                     PlacementSettings& out) {
  PlacementParser(values, case_key).parse(n, out);
}

}  // namespace fabricbench::spec
