#pragma once
// Multi-rail verbs (Options::devices with two or more devices): a rank drives several RDMA devices
// at once, each a rail, and one stream is striped across them.
//
// Resources. One verbs transport per rail (its own device context, protection domain, queue pairs
// and completion queues; verbs_transport.hpp), opened in the order of `devices`. A region is
// registered on every rail; the MemoryRegion handed out carries rail 0's keys and a handle into
// the rails' own registrations.
//
// Connections. connect() connects every rail in turn (each rail's own exchange, so rail r of one
// rank meets rail r of its peer: list the devices in the same order on every host), then swaps
// the rails' remote keys of every region registered so far in one more allgather. An endpoint to
// a peer holds one endpoint per rail per connection.
//
// Striping (the rules that keep the transport contract):
//  - send and write_imm (they consume the peer's receives) and posted receives go round robin in
//    their own sequences: the k-th message of a connection crosses rail k mod R and the k-th
//    receive is posted on rail k mod R, so every message lands in the receive buffer it would have
//    without rails;
//  - write and read go round robin in a third sequence; a one-sided request names the peer's
//    region by the key the peer published (rail 0's), which the endpoint maps to the chosen rail's;
//  - the atomics always take rail 0 (atomicity holds within one device only).
// Completions of each queue (receives; send-queue requests) are reported in posting order: one
// that arrives on a rail ahead of an earlier request's on another rail is held back. Every request
// is signaled on its rail (the caller's unsignaled ones are dropped when their turn comes), so a
// reported completion still means that everything posted before it has completed, on every rail
// (RC's promise, on which callers reuse buffers); cq_moderation then saves no completions.
// queue_depth() is the rails' depths added up: requests spread round robin fill every rail. A
// request its rail cannot take now returns false (a rail may be full while others have room); the
// caller's retry goes to the same rail.
//
// Figures per rail. The transport implements transport::RailTrafficSource: bytes and requests
// posted on each rail (receives excluded), cumulative, so the engine can split a repetition's
// traffic by rail.
//
// wait() waits on each rail in turn, at most kRailSliceNs at a time, so a completion on one rail
// waits at most that long while another rail is being waited on (blocking mode).
#include <memory>

#include "transports/api/transport.hpp"
#include "transports/verbs/verbs_transport.hpp"

namespace fabricbench::transport::verbs {

constexpr std::uint64_t kRailSliceNs = 1'000'000;

// `options.devices` has at least two devices. Opens and checks each rail like
// make_verbs_transport (the same errors, naming the device).
std::unique_ptr<Transport> make_rails_transport(const Options& options);

}  // namespace fabricbench::transport::verbs
