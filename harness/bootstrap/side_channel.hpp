#pragma once
// The TCP side channel every launcher ends up on: a star with rank 0 as the hub.
// Peers authenticate with a per-job secret (HMAC-SHA256 challenge/response, OpenSSL); a
// connection that fails the handshake is closed and logged as refused, never admitted.
// Authentication is mutual: rank 0 also proves it knows the secret before a peer trusts it.
// Every frame after the handshake carries a MAC under a per-connection session key and an
// implicit per-direction sequence number (wire.hpp), so nobody on the path can forge, alter,
// replay, reorder or drop results, aborts, ready frames or rkeys unnoticed.
//
// Handshake slots. At most 64 connections handshake at once, each for at most
// min(timeout, 10 s), holding at most one handshake frame (4 KiB) of input. The slots are fair
// per source address: while some are free anyone may take them (the ranks of one host connect
// from one address at once), but when all are taken, a connection from a source holding fewer
// than the source holding the most evicts that source's oldest pending connection (closed
// without a word: a real rank evicted retries); a connection from a source that holds the most
// itself is refused instead. So idle or garbage connections from some addresses cannot keep a
// rank from another address out. Refused connections are listed (refused_connections(),
// on_refused) up to 1000, then only counted; nothing else is kept of them.
//
// Failure semantics. Every collective gathers at rank 0 and rank 0 answers everyone, so rank 0
// sees every rank's liveness: a closed connection is "rank N (host, pid P) lost: connection
// closed during barrier" (peer_lost), a rank that sends nothing for `timeout` is "rank N (...)
// did not answer within T ms during barrier" (timeout). Rank 0 then sends that verdict (an
// abort frame) to every other rank, which fails with the same message at once. A peer waits for
// rank 0 up to timeout plus a grace (timeout/4, clamped to 1..10 s) so that rank 0's verdict,
// naming the real culprit, normally arrives first; a peer that loses rank 0 reports "rank 0 (...)
// lost". abort() on any rank reaches every rank the same way. A frame that fails
// authentication is treated like a broken connection from its sender: "rank N (host, pid P):
// side-channel frame failed authentication (forged, replayed or corrupted) during barrier"
// (peer_lost) on rank 0, which tells every rank; a peer that gets such a frame from rank 0 fails
// naming rank 0 and tells rank 0, which tells the others. Wire format: wire.hpp.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "harness/bootstrap/bootstrap.hpp"

namespace fabricbench::bootstrap {

// A connection rank 0 closed during the join phase without admitting it.
struct RefusedConnection {
  std::string peer;    // the remote "addr:port"
  std::string reason;  // e.g. "authentication failed (wrong secret)"
};

struct SideChannelConfig {
  int rank = 0;
  int size = 1;
  std::string launcher = "env";
  std::string root_address;  // "host:port", "[v6]:port"; rank 0 listens there unless listen_fd
  int listen_fd = -1;        // rank 0 only: an already-bound listening socket (local launcher);
                             // the side channel owns it from then on (closes it, also on error)
  std::string secret;        // per-job secret shared by all ranks; must not be empty
  Options options;
  // rank 0: told about each refused connection as it happens (the CLI may log it), the first
  // 1000 of them; once the ranks have joined, one more call {"", "and N more refused"} if there
  // were more. Must not throw.
  std::function<void(const RefusedConnection&)> on_refused;
};

// What connect_side_channel returns, with what tests and diagnostics may ask beyond Bootstrap.
// Not for concurrent collectives; abort() may be called from another thread (it wakes a
// collective blocked on this rank and makes it fail with the abort).
// Once a collective fails (peer lost, timeout, abort, mismatch) the channel stays failed: every
// later collective throws the same error at once.
class SideChannel : public Bootstrap {
 public:
  // rank 0: every connection refused while the ranks joined (wrong secret, garbage, a rank out
  // of range or already taken, a different size, evicted from a full handshake table), the
  // first 1000 of them, then one entry {"", "and N more refused"} if there were more. Empty on
  // other ranks.
  virtual std::vector<RefusedConnection> refused_connections() const = 0;
  // True once a collective failed or abort() ran.
  virtual bool failed() const noexcept = 0;
};

// Rank 0 accepts size-1 authenticated peers; other ranks connect (retrying until timeout).
// Throws core::Error naming the rank(s) that never arrived.
// Throws core::Error(usage) for a bad config (rank outside 0..size-1, empty secret, bad address,
// timeout <= 0), core::Error(runtime) when a peer is refused (its message says "authentication
// failed" for a wrong secret) or rank 0 fails to prove it knows the secret.
std::unique_ptr<Bootstrap> connect_side_channel(const SideChannelConfig& config);
// The same, typed.
std::unique_ptr<SideChannel> open_side_channel(const SideChannelConfig& config);

// A fresh random secret (hex, 32 bytes of entropy).
std::string generate_secret();

}  // namespace fabricbench::bootstrap
