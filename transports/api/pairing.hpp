#pragma once
// What the point-to-point transports share while pairing ranks in connect() (internal to
// transports/). Each rank checks its own arguments, publishes one record through the exchange (an
// error record when it failed, so the others fail at once instead of timing out), then checks
// what the others published against what it expects. Every message starts with the transport's
// name ("tcp: ...", "verbs: ...").
#include <string>
#include <vector>

#include "core/error.hpp"

namespace fabricbench::transport {

// Throws core::Error(config) when connections_per_peer is below 1, or a peer is outside
// 0..size-1, is this rank itself, or is listed twice.
void check_peers(const char* transport, int me, int size, const std::vector<int>& peers,
                 int connections_per_peer);

// A peer list as published: "-" when empty, else "3,1,2" (in the given order).
std::string join_peers(const std::vector<int>& peers);
// join_peers' text back. Throws std::invalid_argument or std::out_of_range when it does not parse.
std::vector<int> parse_peers(const std::string& text);

// "<version> error <kind number> <message>": the record of a rank that failed.
std::string format_error_record(const char* version, core::ErrorKind kind,
                                const std::string& message);

// Rank `rank`'s record against this rank's arguments. Throws core::Error(config) when exactly one
// of the two lists the other ("peer lists are not symmetric"), or when both do but their
// connections per peer differ.
void check_pairing(const char* transport, int me, int rank, const std::vector<int>& peers,
                   int connections_per_peer, const std::vector<int>& their_peers,
                   int their_connections_per_peer);

// The error for a record that does not parse (runtime): "<transport>: rank <rank> published an
// unrecognised endpoint record '<text>' (a different fabricbench version?)".
core::Error unrecognised_record(const char* transport, int rank, const std::string& text);

// The error for a peer that published an error record: config when its error was one, else
// runtime; "<transport>: peer rank <rank> failed to <step>: <message>".
core::Error peer_failed(const char* transport, int rank, const std::string& step,
                        core::ErrorKind kind, const std::string& message);

}  // namespace fabricbench::transport
