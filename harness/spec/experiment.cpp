#include "harness/spec/experiment.hpp"

namespace fabricbench::spec {

const char* to_string(Mode mode) noexcept {
  return mode == Mode::duration ? "duration" : "iterations";
}

nlohmann::json to_json(const TcpSettings& tcp) {
  return nlohmann::json{
      {"address", tcp.address},         {"interface", tcp.interface}, {"family", tcp.family},
      {"nodelay", tcp.nodelay},         {"sndbuf_bytes", tcp.sndbuf}, {"rcvbuf_bytes", tcp.rcvbuf},
      {"connections", tcp.connections},
  };
}

nlohmann::json to_json(const Case& c) {
  nlohmann::json varied = nlohmann::json::array();
  for (const auto& [key, value] : c.varied) {
    varied.push_back(nlohmann::json{{"key", key}, {"value", value}});
  }
  return nlohmann::json{
      {"id", c.id},
      {"group", c.group},
      {"suite", c.suite},
      {"transport", c.transport},
      {"message_size_bytes", c.message_size},
      {"mode", to_string(c.mode)},
      {"iterations", c.iterations},
      {"duration_ns", c.duration_ns},
      {"warmup_iterations", c.warmup_iterations},
      {"warmup_ns", c.warmup_ns},
      {"repetitions", c.repetitions},
      {"completion", c.completion},
      {"direction", c.direction},
      {"window", c.window},
      {"interval_ns", c.interval_ns},
      {"memory", c.memory},
      {"verify", c.verify},
      {"tcp", to_json(c.tcp)},
      {"varied", varied},
  };
}

}  // namespace fabricbench::spec
