#include "transports/api/pairing.hpp"

#include <algorithm>
#include <cstddef>
#include <sstream>

namespace fabricbench::transport {

using core::Error;
using core::ErrorKind;

void check_peers(const char* transport, int me, int size, const std::vector<int>& peers,
                 int connections_per_peer) {
  const std::string name(transport);
  if (connections_per_peer < 1) {
    throw Error(ErrorKind::config, name + ": connections_per_peer must be at least 1, got " +
                                       std::to_string(connections_per_peer));
  }
  for (std::size_t i = 0; i < peers.size(); ++i) {
    const int p = peers[i];
    if (p < 0 || p >= size || p == me) {
      throw Error(ErrorKind::config, name + ": rank " + std::to_string(me) + " was given peer " +
                                         std::to_string(p) + " (valid: 0.." +
                                         std::to_string(size - 1) + " except itself)");
    }
    if (std::find(peers.begin(), peers.begin() + static_cast<std::ptrdiff_t>(i), p) !=
        peers.begin() + static_cast<std::ptrdiff_t>(i)) {
      throw Error(ErrorKind::config, name + ": peer " + std::to_string(p) + " is listed twice");
    }
  }
}

std::string join_peers(const std::vector<int>& peers) {
  if (peers.empty()) return "-";
  std::string out;
  for (std::size_t i = 0; i < peers.size(); ++i) {
    if (i != 0) out += ',';
    out += std::to_string(peers[i]);
  }
  return out;
}

std::vector<int> parse_peers(const std::string& text) {
  std::vector<int> out;
  if (text == "-") return out;
  std::istringstream list(text);
  std::string item;
  while (std::getline(list, item, ',')) out.push_back(std::stoi(item));
  return out;
}

std::string format_error_record(const char* version, ErrorKind kind, const std::string& message) {
  return std::string(version) + " error " + std::to_string(static_cast<int>(kind)) + " " + message;
}

void check_pairing(const char* transport, int me, int rank, const std::vector<int>& peers,
                   int connections_per_peer, const std::vector<int>& their_peers,
                   int their_connections_per_peer) {
  const bool related = std::find(peers.begin(), peers.end(), rank) != peers.end();
  const bool lists_me = std::find(their_peers.begin(), their_peers.end(), me) != their_peers.end();
  if (related != lists_me) {
    const int a = related ? me : rank;
    const int b = related ? rank : me;
    throw Error(ErrorKind::config,
                std::string(transport) + ": peer lists are not symmetric: rank " +
                    std::to_string(a) + " lists rank " + std::to_string(b) + " but rank " +
                    std::to_string(b) + " does not list rank " + std::to_string(a));
  }
  if (related && their_connections_per_peer != connections_per_peer) {
    throw Error(ErrorKind::config,
                std::string(transport) + ": connections_per_peer differs: rank " +
                    std::to_string(me) + " uses " + std::to_string(connections_per_peer) +
                    ", rank " + std::to_string(rank) + " uses " +
                    std::to_string(their_connections_per_peer));
  }
}

Error unrecognised_record(const char* transport, int rank, const std::string& text) {
  return Error(ErrorKind::runtime, std::string(transport) + ": rank " + std::to_string(rank) +
                                       " published an unrecognised endpoint record '" + text +
                                       "' (a different fabricbench version?)");
}

Error peer_failed(const char* transport, int rank, const std::string& step, ErrorKind kind,
                  const std::string& message) {
  return Error(kind == ErrorKind::config ? ErrorKind::config : ErrorKind::runtime,
               std::string(transport) + ": peer rank " + std::to_string(rank) + " failed to " +
                   step + ": " + message);
}

}  // namespace fabricbench::transport
