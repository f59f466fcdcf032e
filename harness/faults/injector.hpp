#pragma once
// Fault injection (docs/CONFIG.md "Faults", METHODOLOGY.md "Faults and recovery"): backends that
// really cause a fault on a link, a watchdog process that restores whatever is still injected if
// fabricbench dies (kill -9 included), the netns fabric (two namespaces joined by a veth), and
// the timeline of one repetition. Every command run is recorded with timestamps and its output
// as evidence. Depends on core only.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace fabricbench::faults {

enum class Kind { link_down, flap, blackhole, loss, delay, rate_limit };
// "link_down" | "flap" | ...; throws std::invalid_argument otherwise.
Kind parse_kind(std::string_view text);
const char* to_string(Kind kind) noexcept;

// What one occurrence causes.
struct Fault {
  Kind kind = Kind::link_down;
  double loss = 0;             // loss: fraction 0..1
  std::uint64_t delay_ns = 0;  // delay
  double rate_bits_per_s = 0;  // rate_limit
};

// One command that was run, as evidence.
struct ActionRecord {
  std::string what;               // "inject link_down on fbd0", "clear link_down on fbd0", ...
  std::vector<std::string> argv;  // the command as executed
  std::uint64_t wall_start_ns = 0;
  std::uint64_t wall_end_ns = 0;
  std::uint64_t mono_start_ns = 0;  // core::now_ns()
  std::uint64_t mono_end_ns = 0;
  int exit_code = -1;  // -1: could not start; 124: timed out (killed)
  std::string output;  // stdout + stderr, at most 4 KiB
  bool ok() const noexcept { return exit_code == 0; }
};

// Runs argv (no shell unless argv is {"/bin/sh", "-c", ...}) with a timeout; never throws for
// a failing command (the record says what happened).
// Details: argv[0] is looked up in $PATH unless it holds a '/'. The command gets stdin from
// /dev/null, one pipe as stdout and stderr, no other descriptor, default signal dispositions, an
// empty signal mask, and its own process group. At the deadline (timeout_ns after the start; 0:
// no deadline) the whole process group is sent SIGKILL and exit_code is 124. A command killed by
// signal S otherwise gives 128 + S. Output beyond 4 KiB is read and dropped. When the command
// exits but something it left in the background keeps the pipe open, reading stops 200 ms later.
// The command runs in the calling thread's network namespace.
ActionRecord run_command(std::string what, const std::vector<std::string>& argv,
                         std::uint64_t timeout_ns);

// A command of an Injector failed: core::Error(runtime) naming the command and its output, with
// the records of everything run for that inject/clear (the failed command included).
class CommandFailed : public core::Error {
 public:
  CommandFailed(const std::string& message, std::vector<ActionRecord> records);
  const std::vector<ActionRecord>& records() const noexcept { return records_; }

 private:
  std::vector<ActionRecord> records_;
};

// A separate process (double-forked, own session, so killing fabricbench's process group does
// not take it) that watches the process that started it (pidfd). When that process exits for any
// reason, the watchdog runs every restore command still registered, then every cleanup command,
// and exits. Restores run at most once (remove_restore after a normal clear).
//
// Precisely:
// - start() forks; the child calls setsid() and forks the watchdog, which keeps only its command
//   socket, a pidfd of the starter and /dev/null as stdin/stdout/stderr (every other inherited
//   descriptor is closed: it holds no socket, terminal or file of the starter), chdirs to /,
//   re-executes the running binary (/proc/self/exe, shown as "fb-watchdog"; a constructor
//   function in this library takes over before main(); should that exec fail, the forked process
//   runs the watchdog itself), and reports its pid. start() returns once it has (bounded: 10 s).
//   Starting it before other threads exist is best but not required.
// - Commands travel over an AF_UNIX SOCK_SEQPACKET socket pair, one datagram per command, each
//   field followed by a NUL: "restore" KEY ARGV..., "unrestore" KEY, "cleanup" ARGV...,
//   "finish". Sends use MSG_NOSIGNAL; a watchdog that is gone gives core::Error(runtime). A send
//   returns once the datagram is queued: a restore sent just before the starter dies still runs
//   (the watchdog drains the queue before acting).
// - Only the starting process talks to it: the write end is close-on-exec, and in a forked child
//   (a rank) the methods throw core::Error(runtime) and the destructor only closes the child's
//   copy. Forked children must not write to the socket themselves. The starter's end is detected
//   by its pidfd, not by end of file on the socket (children may hold copies).
// - When the starter exits (any cause, kill -9 included), sends "finish", or the watchdog itself
//   gets SIGTERM (a shutdown, `kill`), it runs the restores still registered, newest first, each
//   with its own timeout, then the cleanups, newest first, with 10 s each (SIGKILL to the
//   command's process group after that), and exits. Commands run with the
//   watchdog's environment and network namespace (the starter's at start()); their output is
//   discarded. add_restore with a key already registered replaces that restore.
// - Normal end: the destructor (in the starter) sends "finish" and waits until the watchdog has
//   exited, at most the registered restores' timeouts plus 10 s per cleanup plus 10 s. So
//   namespaces registered as cleanups are gone when it returns. Destroy it after every Injector and
//   NetnsFabric that uses it (their destructors clear and delete first; the cleanups then find
//   nothing left).
class Watchdog {
 public:
  // Throws core::Error(runtime) when it cannot start.
  static std::unique_ptr<Watchdog> start();
  virtual ~Watchdog() = default;
  // Throw core::Error(runtime) when the watchdog is gone or this is not the starting process,
  // std::invalid_argument for an empty key or command.
  // `timeout_ns`: how long the watchdog lets this restore run (the file's
  // injector.command_timeout) before SIGKILL to its process group.
  virtual void add_restore(const std::string& key, const std::vector<std::string>& argv,
                           std::uint64_t timeout_ns) = 0;
  void add_restore(const std::string& key, const std::vector<std::string>& argv) {
    add_restore(key, argv, kDefaultRestoreTimeoutNs);
  }
  static constexpr std::uint64_t kDefaultRestoreTimeoutNs = 10'000'000'000ULL;
  virtual void remove_restore(const std::string& key) = 0;
  virtual void add_cleanup(const std::vector<std::string>& argv) = 0;
  virtual int pid() const noexcept = 0;
};

// The injecting side of a backend. Backends: "netns" (acts on fbd0 in the caller's own namespace),
// "vm" (acts on `target`, default eth0, inside a guest: netem available), "link" (ip link on an
// allowed `target`), "ibport" (ibportstate LID PORT disable/enable), "command" (user commands).
struct BackendConfig {
  std::string backend;
  std::string target;
  std::vector<std::string> allow;
  bool force = false;
  std::string inject;  // command backend: shell command
  std::string clear;   // command backend: shell command
  std::uint64_t command_timeout_ns = 10'000'000'000;
  // netns: the rate the fabric's veth is shaped to for the whole run (NetnsFabric::create's
  // link_rate; 0: not shaped). A rate_limit fault's clear restores this tbf instead of deleting
  // the root qdisc. Other backends: must be 0 (std::invalid_argument otherwise).
  double link_rate_bits_per_s = 0;
};

// What each backend runs (IF is fbd0 for netns, `target` for vm and link; the tools by absolute
// path):
//   link_down, flap (netns, vm, link): ip link set dev IF down / ip link set dev IF up
//   blackhole (netns, vm): one nft transaction (re)creating table inet fabricbench_fault_blackhole
//     with an output chain `oifname "IF" drop` and an input chain `iifname "IF" drop`; clear:
//     nft delete table inet fabricbench_fault_blackhole. Without nft: iptables -w 5 -I OUTPUT
//     -o IF ... -j DROP and -I INPUT -i IF ... -j DROP (IPv4 only), cleared with -D.
//   loss (netns): egress only, nft table inet fabricbench_fault_loss with an output chain
//     `oifname "IF" numgen random mod 10000 < N drop`, N = round(loss x 10000) (>= 1); clear:
//     delete the table. Without nft: iptables -m statistic --mode random --probability P.
//   loss (vm): tc qdisc replace dev IF root netem loss P% ; clear: tc qdisc del dev IF root
//   delay (vm): tc qdisc replace dev IF root netem delay Dus ; clear: tc qdisc del dev IF root.
//     The netns backend refuses delay (core::Error(config)): this host's kernel has no netem.
//   rate_limit (netns, vm): tc qdisc replace dev IF root tbf rate Rbit burst B latency 50ms,
//     B = max(64 KiB, 1 ms at R) bytes; clear: tc qdisc del dev IF root (netns with a
//     link_rate: tc qdisc replace ... tbf at the link rate, the fabric's shaping).
//     loss/delay (vm) and rate_limit all replace the root qdisc: one of them at a time.
//     Before one of them the interface's qdiscs are read (tc -j -r / -d qdisc show, tc -j filter
//     show; detail::plan_root_qdisc): a configured root qdisc standing alone whose kind and
//     options can be rebuilt is saved, and the clear (and the watchdog's restore) is then
//     tc qdisc replace dev IF root handle H: KIND OPTIONS instead of the delete; one that
//     cannot (a tree, another kind, an option not known) is refused with core::Error(config)
//     before anything changes. The kernel's default root (handle 0:) keeps the delete.
//   ibport: ibportstate LID PORT disable / enable (link_down and flap only).
//   command: /bin/sh -c INJECT / /bin/sh -c CLEAR, any kind (the kind only labels it).
// Every command has the configured timeout (command_timeout_ns; 0: 10 s).
//
// Rules: netns refuses to run in the initial network namespace (the host's) and needs fbd0 in
// the caller's namespace. vm and link refuse an interface that carries a default route unless
// `force`; link needs its target in `allow` (ibport too when `allow` is not empty). Every backend
// except netns needs a watchdog and registers the restore (the clear command) before injecting,
// and removes it after a successful clear; when the injector's namespace has a name under
// /run/netns the restore is wrapped in `ip netns exec NAME` so that the watchdog acts there.
// The commands always run in the network namespace the caller was in at make() (the calling
// thread is moved there for the command when it is elsewhere), so an Injector may be used from
// any thread. In a forked child, the destructor does nothing.
class Injector {
 public:
  // Throws core::Error(config) for a fault the backend cannot cause (with the reason), and
  // core::Error(unavailable) when a tool it needs (ip, tc, nft or iptables, ibportstate) is
  // missing or the target does not exist. `watchdog` (may be null for netns, whose namespaces
  // are removed as a whole) receives the restore of every injected fault before it is injected.
  // Unknown backend, bad target, target not allowed: core::Error(config). A backend other than
  // netns without a watchdog: core::Error(runtime).
  static std::unique_ptr<Injector> make(const BackendConfig& config, Watchdog* watchdog);
  virtual ~Injector() = default;             // clears anything still injected
  virtual std::string describe() const = 0;  // backend and target, as recorded ("netns:fbd0")
  // Throws what inject() would throw before running anything: core::Error(config) for a fault
  // this backend cannot cause or a bad parameter, core::Error(unavailable) for a missing tool.
  // Lets the engine refuse a case before measuring. Default: accepts everything.
  virtual void check(const Fault& fault) const { (void)fault; }
  // Causes / removes one occurrence. A failed command is recorded and also thrown as
  // core::Error(runtime) naming the command and its output (a CommandFailed, which carries the
  // records). A failed inject is undone at once (the clear commands, recorded too). clear() of a
  // kind that is not injected does nothing and returns no record; a failed clear leaves the
  // fault marked as injected (a later clear, the destructor or the watchdog retries).
  virtual std::vector<ActionRecord> inject(const Fault& fault) = 0;
  virtual std::vector<ActionRecord> clear(const Fault& fault) = 0;
};

// Occurrence times of one repetition, relative to the measured phase start: occurrence i starts
// at start + phase + i * period (period 0: 2 x hold) and ends hold later; `phase` is uniform in
// [0, jitter] from a seed derived from (seed, repetition). flap with count N: N occurrences.
// The phase is the first output of std::mt19937_64 seeded with splitmix64(seed ^
// splitmix64(repetition)), taken modulo jitter + 1: the same on every platform. count <= 0: no
// occurrence. count > 1 with a period shorter than hold: std::invalid_argument (overlap).
struct Occurrence {
  std::uint64_t start_ns = 0;
  std::uint64_t end_ns = 0;
};
std::vector<Occurrence> schedule(std::uint64_t start_ns, std::uint64_t hold_ns, int count,
                                 std::uint64_t period_ns, std::uint64_t jitter_ns,
                                 std::uint64_t seed, int repetition);

// Runs a repetition's occurrences on a thread: waits until t0_mono_ns + start, injects, waits
// until t0 + end, clears. stop() (or the destructor) wakes it, clears a fault still injected and
// joins. A failing command ends the timeline (recorded; error() says why).
// stop() is idempotent and may be called from any thread; it returns only after the thread is
// joined, with no fault of this timeline left injected (a clear that fails is retried once; if
// it fails again error() says so and the Injector's destructor / watchdog remain). An inject in
// progress when stop() arrives completes and is cleared at once. Occurrences not yet started
// when stop() arrives are skipped. first_inject_mono_ns is the end of the first successful
// inject's last command (the fault is in effect), last_clear_mono_ns the end of the last
// successful clear's last command.
class Timeline {
 public:
  Timeline(Injector& injector, Fault fault, std::vector<Occurrence> occurrences,
           std::uint64_t t0_mono_ns);
  ~Timeline();
  Timeline(const Timeline&) = delete;
  Timeline& operator=(const Timeline&) = delete;
  void stop();
  const std::vector<ActionRecord>& records() const noexcept;  // valid after stop()
  std::optional<std::string> error() const;                   // after stop()
  // Monotonic times of the first inject and the last clear (after stop(); nullopt if none).
  std::optional<std::uint64_t> first_inject_mono_ns() const;
  std::optional<std::uint64_t> last_clear_mono_ns() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Two network namespaces joined by a veth pair named fbd0 on both sides (198.51.100.1/24 in side
// 0, 198.51.100.2/24 in side 1, loopback up). Deleted by the destructor, and by `watchdog` if this
// process dies first (processes left in them are killed, then the namespaces deleted). Throws
// core::Error(unavailable) with the reason (not root, no `ip`, namespaces not permitted).
// Names are fb<pid>-<n>a / fb<pid>-<n>b (n counts fabrics in this process). The watchdog cleanup
// is registered before the first namespace is created. The destructor (in the creating process
// only; a forked child's copy does nothing) kills processes left in the namespaces except itself,
// then runs `ip netns del`. mtu outside 68..65535: core::Error(config). The watchdog cleanup
// (a /bin/sh script: kill -9 every pid of `ip netns pids NAME`, then `ip netns del NAME`, for
// both) stays registered after a normal destruction and then finds nothing at the watchdog's end.
class NetnsFabric {
 public:
  // link_rate_bits_per_s > 0: both ends of the veth get a root tbf qdisc at that rate (the
  // arguments of detail::tbf_args), so the link has a known capacity below what the CPU can
  // move; below 8 bit/s (and not 0): core::Error(config); tc missing: core::Error(unavailable).
  static std::unique_ptr<NetnsFabric> create(Watchdog& watchdog, int mtu = 1500,
                                             double link_rate_bits_per_s = 0);
  virtual ~NetnsFabric() = default;
  virtual std::string name(int side) const = 0;     // namespace names, unique per run
  virtual std::string address(int side) const = 0;  // 198.51.100.1 / .2
  // Moves the calling process into namespace `side` (setns). Sockets it already has stay in
  // the namespace they were created in. setns moves the calling thread only: call it in a
  // single-threaded process (a rank right after fork) or on the thread that needs it; threads
  // created afterwards by that thread start in the namespace too. std::invalid_argument for a
  // side other than 0 or 1, core::Error(unavailable) when it cannot enter.
  virtual void enter(int side) const = 0;
};

}  // namespace fabricbench::faults
