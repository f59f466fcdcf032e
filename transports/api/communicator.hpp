#pragma once
// Collective backends: a Communicator spans every rank of the run (NCCL, MPI), where a Transport
// pairs them. The rules every backend keeps (tests/contract/communicator_contract_test.cpp holds
// each one to them):
//  1. connect() is collective over the Exchange and bounded by CommunicatorParams::timeout_ns:
//     a rank that never arrives is an error naming it, never a hang. NCCL's unique id travels in
//     the Exchange; MPI uses MPI_COMM_WORLD (and so needs the mpi launcher).
//  2. start() issues one collective; test() polls, never blocks, and is true once everything
//     started has completed. A blocking backend (MPI's blocking calls, mpi.calls: blocking)
//     completes the collective inside start(); one stuck there because a rank was lost is ended
//     by the engine's progress watch (harness/engine/progress_watch.hpp), not by the backend.
//     A backend that cannot run a (collective, type, op) says so in unsupported() before any
//     start(), never at run time.
//  3. Asynchronous errors (NCCL's ncclCommGetAsyncError, an MPI error code) surface as
//     core::Error from test(), naming the call that failed.
//  4. abort() never blocks and may be called at any time, also from a failed state; afterwards
//     the communicator is not used again (NCCL: ncclCommAbort; MPI cannot abort a collective, so
//     the rank ends the run itself: docs/METHODOLOGY.md "Collectives: no hangs").
//  5. Buffers come from the memory provider the backend names (memory()); to_device/from_device
//     copy between host memory and such a buffer (a plain memcpy for host memory).
//  6. facts() says what actually ran where the backend can read it (library version, algorithm,
//     protocol, channels, the environment variables that steer it), as a JSON object; {} when
//     it knows nothing.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/settings.hpp"
#include "transports/api/exchange.hpp"
#include "transports/api/memory.hpp"

namespace fabricbench::transport {

// The collectives of nccl-tests; sendrecv sends to rank+1 and receives from rank-1 (a ring).
enum class Collective {
  all_reduce,
  all_gather,
  reduce_scatter,
  broadcast,
  reduce,
  alltoall,
  gather,
  scatter,
  sendrecv
};
enum class DataType {
  int8,
  uint8,
  int32,
  uint32,
  int64,
  uint64,
  float16,
  bfloat16,
  float32,
  float64,
  fp8_e4m3,
  fp8_e5m2
};
enum class RedOp { sum, prod, min, max, avg };

const std::vector<Collective>& all_collectives();
const std::vector<DataType>& all_data_types();
const std::vector<RedOp>& all_red_ops();
std::string_view to_string(Collective c) noexcept;
std::string_view to_string(DataType t) noexcept;
std::string_view to_string(RedOp op) noexcept;
std::optional<Collective> parse_collective(std::string_view name) noexcept;
std::optional<DataType> parse_data_type(std::string_view name) noexcept;
std::optional<RedOp> parse_red_op(std::string_view name) noexcept;
std::size_t size_of(DataType t) noexcept;  // bytes per element
bool reduces(Collective c) noexcept;       // all_reduce, reduce_scatter, reduce take an op
bool rooted(Collective c) noexcept;        // broadcast, reduce, gather, scatter take a root

// One collective call. `count` is nccl-tests' parameter count: the elements each rank
// contributes (all_gather, gather, alltoall per peer), receives (reduce_scatter, scatter) or
// holds (all_reduce, broadcast, reduce, sendrecv). Buffer sizes: suites/collective/sizes.hpp.
struct CollectiveCall {
  Collective collective = Collective::all_reduce;
  DataType type = DataType::float32;
  RedOp op = RedOp::sum;
  int root = 0;
  const void* send = nullptr;
  void* recv = nullptr;
  std::size_t count = 0;
  // In place: send and recv lie in one buffer as nccl-tests places them (the same pointer, or
  // one at this rank's offset inside the other: suites/collective/layout.hpp).
  bool in_place = false;
  // Exactly one collective, without the backend's aggregation or graph replay (the correctness
  // check); otherwise one start() may issue ops_per_start() of them.
  bool once = false;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual std::string name() const = 0;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Why (collective, type, op) cannot run on this backend (e.g. "MPI has no bfloat16"), or
  // nullopt.
  virtual std::optional<std::string> unsupported(Collective c, DataType t, RedOp op) const = 0;
  virtual void start(const CollectiveCall& call) = 0;
  // Several start()s between group_start and group_end are issued as one (NCCL's group: nccl-tests'
  // -m aggregation). Default: nothing.
  virtual void group_start() {}
  virtual void group_end() {}
  virtual bool test() = 0;
  // True when start() may be called again before test() is true, the calls running in order (a
  // GPU stream: nccl-tests enqueues its timed loop, then waits once). False: one at a time.
  virtual bool pipelines() const { return false; }
  // Collectives one start() issues (NCCL: `aggregate` per group times `graph` replays); the
  // suite divides its times by it, as nccl-tests divides by agg_iters and graph launches.
  virtual int ops_per_start() const { return 1; }
  // A barrier over the backend itself (start and poll with test()), for the floor regime.
  virtual void start_barrier() = 0;
  virtual void abort() noexcept = 0;
  virtual void to_device(void* device, const void* host, std::size_t bytes) = 0;
  virtual void from_device(void* host, const void* device, std::size_t bytes) = 0;
  virtual nlohmann::json facts() const { return nlohmann::json::object(); }
};

// What the engine passes to every collective backend besides its own settings.
struct CommunicatorParams {
  std::uint64_t timeout_ns = 30'000'000'000;  // the experiment's peer timeout
  std::string launcher;                       // local | mpi | env
};

// One entry of the registry's collective table: a backend's keys (its `mpi: {...}` section),
// checks, where its buffers live, why it cannot run here, and its factory.
struct CollectiveDescriptor {
  std::string name;         // the `transport:` value of a collective case
  std::string description;  // one line for `fabricbench list`
  std::vector<core::KeyDecl> keys;
  core::KeyCheck check;  // optional
  std::string example;   // e.g. "{algorithm: auto}"
  std::string memory;    // the memory provider its buffers come from ("host", "cuda_device")
  // Why it cannot run on this host (no GPU, built without its library), or nullopt.
  std::function<std::optional<std::string>()> unavailable_reason;
  // Why it cannot run under this launcher (MPI's communicator exists only under mpirun/srun).
  std::function<std::optional<std::string>(const std::string& launcher)> launcher_refusal;
  // Collective over `exchange` (every rank calls it). Empty when not built into this binary.
  std::function<std::unique_ptr<Communicator>(const core::Settings& own,
                                              const CommunicatorParams& common, Exchange& exchange)>
      make;
};

}  // namespace fabricbench::transport
