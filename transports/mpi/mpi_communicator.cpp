#include "transports/mpi/mpi_communicator.hpp"

// The C API only (see harness/bootstrap/mpi_bootstrap.cpp).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <array>
#include <cstring>
#include <limits>
#include <vector>

#include <fmt/format.h>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace fabricbench::transport::mpi {
namespace {

using core::Error;
using core::ErrorKind;

std::string error_text(int rc) {
  std::array<char, MPI_MAX_ERROR_STRING> text{};
  int len = 0;
  MPI_Error_string(rc, text.data(), &len);
  return std::string(text.data(), static_cast<std::size_t>(len));
}

void check(int rc, const char* call) {
  if (rc != MPI_SUCCESS) {
    throw Error(ErrorKind::runtime, fmt::format("mpi: {} failed: {}", call, error_text(rc)));
  }
}

MPI_Datatype mpi_type(DataType t) {
  switch (t) {
    case DataType::int8:
      return MPI_INT8_T;
    case DataType::uint8:
      return MPI_UINT8_T;
    case DataType::int32:
      return MPI_INT32_T;
    case DataType::uint32:
      return MPI_UINT32_T;
    case DataType::int64:
      return MPI_INT64_T;
    case DataType::uint64:
      return MPI_UINT64_T;
    case DataType::float32:
      return MPI_FLOAT;
    case DataType::float64:
      return MPI_DOUBLE;
    default:
      return MPI_DATATYPE_NULL;
  }
}

MPI_Op mpi_op(RedOp op) {
  switch (op) {
    case RedOp::sum:
      return MPI_SUM;
    case RedOp::prod:
      return MPI_PROD;
    case RedOp::min:
      return MPI_MIN;
    case RedOp::max:
      return MPI_MAX;
    case RedOp::avg:
      return MPI_OP_NULL;
  }
  return MPI_OP_NULL;
}

// Open MPI's coll components as MCA reports them, where the library is Open MPI.
nlohmann::json environment() {
  nlohmann::json env = nlohmann::json::object();
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry(*e);
    if (entry.rfind("OMPI_MCA_", 0) != 0 && entry.rfind("MPICH_", 0) != 0) continue;
    const auto eq = entry.find('=');
    env[entry.substr(0, eq)] = eq == std::string::npos ? "" : entry.substr(eq + 1);
  }
  return env;
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(MPI_Comm comm, int rank, int size, bool blocking)
      : comm_(comm), rank_(rank), size_(size), blocking_(blocking) {}
  ~MpiCommunicator() override {
    // A communicator with collectives still pending (after a failure) is left to the process
    // exit: freeing it would wait for them.
    if (!aborted_ && requests_.empty()) MPI_Comm_free(&comm_);
  }
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  std::string name() const override { return "mpi"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  std::optional<std::string> unsupported(Collective c, DataType t, RedOp op) const override {
    if (mpi_type(t) == MPI_DATATYPE_NULL) {
      return fmt::format("MPI has no {} type", to_string(t));
    }
    if (reduces(c) && op == RedOp::avg) return std::string("MPI has no average reduction (avg)");
    return std::nullopt;
  }

  void start(const CollectiveCall& call) override {
    if (call.count > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
      throw Error(ErrorKind::config,
                  fmt::format("mpi: a count of {} elements exceeds MPI's int count", call.count));
    }
    if (blocking_) {
      start_blocking(call);
      return;
    }
    const int count = static_cast<int>(call.count);
    const MPI_Datatype type = mpi_type(call.type);
    const MPI_Op op = mpi_op(call.op);
    const bool in_place = call.in_place;
    const auto elt = static_cast<std::size_t>(size_of(call.type));
    void* recv = call.recv;
    const void* send = call.send;
    MPI_Request r = MPI_REQUEST_NULL;
    switch (call.collective) {
      case Collective::all_reduce:
        check(MPI_Iallreduce(in_place ? MPI_IN_PLACE : send, recv, count, type, op, comm_, &r),
              "MPI_Iallreduce");
        break;
      case Collective::all_gather:
        check(MPI_Iallgather(in_place ? MPI_IN_PLACE : send, count, type, recv, count, type, comm_,
                             &r),
              "MPI_Iallgather");
        break;
      case Collective::reduce_scatter: {
        // MPI's in-place result lands at the start of the buffer; nccl-tests' layout wants it at
        // this rank's part, moved there when the call completes.
        void* base = in_place ? const_cast<void*>(send) : recv;
        check(MPI_Ireduce_scatter_block(in_place ? MPI_IN_PLACE : send, base, count, type, op,
                                        comm_, &r),
              "MPI_Ireduce_scatter_block");
        if (in_place && base != recv) moves_.push_back({recv, base, call.count * elt});
        break;
      }
      case Collective::broadcast: {
        // One buffer in MPI: the root's source is its send buffer, copied first when distinct.
        if (rank_ == call.root && send != recv) std::memcpy(recv, send, call.count * elt);
        check(MPI_Ibcast(recv, count, type, call.root, comm_, &r), "MPI_Ibcast");
        break;
      }
      case Collective::reduce:
        check(MPI_Ireduce(in_place && rank_ == call.root ? MPI_IN_PLACE : send, recv, count, type,
                          op, call.root, comm_, &r),
              "MPI_Ireduce");
        break;
      case Collective::alltoall:
        check(MPI_Ialltoall(in_place ? MPI_IN_PLACE : send, count, type, recv, count, type, comm_,
                            &r),
              "MPI_Ialltoall");
        break;
      case Collective::gather:
        check(MPI_Igather(in_place && rank_ == call.root ? MPI_IN_PLACE : send, count, type, recv,
                          count, type, call.root, comm_, &r),
              "MPI_Igather");
        break;
      case Collective::scatter:
        check(MPI_Iscatter(send, count, type, in_place && rank_ == call.root ? MPI_IN_PLACE : recv,
                           count, type, call.root, comm_, &r),
              "MPI_Iscatter");
        break;
      case Collective::sendrecv:
        start_sendrecv(call, count, type, in_place, elt);
        return;
    }
    requests_.push_back(r);
  }

  bool test() override {
    if (requests_.empty()) return true;
    int done = 0;
    check(MPI_Testall(static_cast<int>(requests_.size()), requests_.data(), &done,
                      MPI_STATUSES_IGNORE),
          "MPI_Testall");
    if (done == 0) return false;
    requests_.clear();
    for (const auto& m : moves_) std::memmove(m.to, m.from, m.bytes);
    moves_.clear();
    return true;
  }

  void start_barrier() override {
    if (blocking_) {
      check(MPI_Barrier(comm_), "MPI_Barrier");
      return;
    }
    MPI_Request r = MPI_REQUEST_NULL;
    check(MPI_Ibarrier(comm_, &r), "MPI_Ibarrier");
    requests_.push_back(r);
  }

  void abort() noexcept override { aborted_ = true; }

  void to_device(void* device, const void* host, std::size_t bytes) override {
    std::memcpy(device, host, bytes);
  }
  void from_device(void* host, const void* device, std::size_t bytes) override {
    std::memcpy(host, device, bytes);
  }

  nlohmann::json facts() const override {
    return {{"library", library_version()},
            {"calls",
             blocking_ ? "blocking (MPI_Allreduce, ...)" : "non-blocking (MPI_Iallreduce, ...)"},
            {"environment", environment()}};
  }

 private:
  struct Move {
    void* to;
    void* from;
    std::size_t bytes;
  };

  // The same calls, blocking: they return once complete (Open MPI's tuned component).
  void start_blocking(const CollectiveCall& call) {
    const int count = static_cast<int>(call.count);
    const MPI_Datatype type = mpi_type(call.type);
    const MPI_Op op = mpi_op(call.op);
    const bool in_place = call.in_place;
    const bool root = rank_ == call.root;
    const auto bytes = call.count * size_of(call.type);
    void* recv = call.recv;
    const void* send = call.send;
    switch (call.collective) {
      case Collective::all_reduce:
        return check(MPI_Allreduce(in_place ? MPI_IN_PLACE : send, recv, count, type, op, comm_),
                     "MPI_Allreduce");
      case Collective::all_gather:
        return check(
            MPI_Allgather(in_place ? MPI_IN_PLACE : send, count, type, recv, count, type, comm_),
            "MPI_Allgather");
      case Collective::reduce_scatter: {
        void* base = in_place ? const_cast<void*>(send) : recv;
        check(
            MPI_Reduce_scatter_block(in_place ? MPI_IN_PLACE : send, base, count, type, op, comm_),
            "MPI_Reduce_scatter_block");
        if (base != recv) std::memmove(recv, base, bytes);
        return;
      }
      case Collective::broadcast:
        if (root && send != recv) std::memcpy(recv, send, bytes);
        return check(MPI_Bcast(recv, count, type, call.root, comm_), "MPI_Bcast");
      case Collective::reduce:
        return check(MPI_Reduce(in_place && root ? MPI_IN_PLACE : send, recv, count, type, op,
                                call.root, comm_),
                     "MPI_Reduce");
      case Collective::alltoall:
        return check(
            MPI_Alltoall(in_place ? MPI_IN_PLACE : send, count, type, recv, count, type, comm_),
            "MPI_Alltoall");
      case Collective::gather:
        return check(MPI_Gather(in_place && root ? MPI_IN_PLACE : send, count, type, recv, count,
                                type, call.root, comm_),
                     "MPI_Gather");
      case Collective::scatter:
        return check(MPI_Scatter(send, count, type, in_place && root ? MPI_IN_PLACE : recv, count,
                                 type, call.root, comm_),
                     "MPI_Scatter");
      case Collective::sendrecv: {
        const int next = (rank_ + 1) % size_;
        const int prev = (rank_ + size_ - 1) % size_;
        if (in_place) {
          return check(MPI_Sendrecv_replace(recv, count, type, next, kSendRecvTag, prev,
                                            kSendRecvTag, comm_, MPI_STATUS_IGNORE),
                       "MPI_Sendrecv_replace");
        }
        return check(MPI_Sendrecv(send, count, type, next, kSendRecvTag, recv, count, type, prev,
                                  kSendRecvTag, comm_, MPI_STATUS_IGNORE),
                     "MPI_Sendrecv");
      }
    }
  }

  void start_sendrecv(const CollectiveCall& call, int count, MPI_Datatype type, bool in_place,
                      std::size_t elt) {
    const int next = (rank_ + 1) % size_;
    const int prev = (rank_ + size_ - 1) % size_;
    const void* source = call.send;
    if (in_place) {
      // MPI may not send from and receive into one buffer at once: send a copy.
      scratch_.assign(static_cast<const std::byte*>(call.send),
                      static_cast<const std::byte*>(call.send) + call.count * elt);
      source = scratch_.data();
    }
    MPI_Request r[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
    check(MPI_Irecv(call.recv, count, type, prev, kSendRecvTag, comm_, &r[0]), "MPI_Irecv");
    check(MPI_Isend(source, count, type, next, kSendRecvTag, comm_, &r[1]), "MPI_Isend");
    requests_.push_back(r[0]);
    requests_.push_back(r[1]);
  }

  static constexpr int kSendRecvTag = 7;
  MPI_Comm comm_;
  int rank_;
  int size_;
  std::vector<MPI_Request> requests_;
  std::vector<Move> moves_;
  std::vector<std::byte> scratch_;
  bool blocking_;
  bool aborted_ = false;
};

}  // namespace

std::string library_version() {
  std::array<char, MPI_MAX_LIBRARY_VERSION_STRING> text{};
  int len = 0;
  MPI_Get_library_version(text.data(), &len);
  std::string out(text.data(), static_cast<std::size_t>(len));
  while (!out.empty() && (out.back() == '\n' || out.back() == '\0')) out.pop_back();
  return out;
}

std::unique_ptr<Communicator> make_mpi_communicator(const MpiOptions& options, Exchange& exchange) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized == 0) {
    throw Error(ErrorKind::unavailable,
                "mpi: MPI is not initialized (the mpi backend runs under the mpi launcher)");
  }
  int rank = 0;
  int size = 0;
  check(MPI_Comm_rank(MPI_COMM_WORLD, &rank), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &size), "MPI_Comm_size");
  if (rank != exchange.rank() || size != exchange.size()) {
    throw Error(ErrorKind::config,
                fmt::format("mpi: MPI_COMM_WORLD has rank {} of {}, the run rank {} of {}", rank,
                            size, exchange.rank(), exchange.size()));
  }
  // Every rank is here before MPI is asked to build anything (bounded, names a missing rank).
  exchange.allgather("mpi");
  MPI_Comm comm = MPI_COMM_NULL;
  MPI_Request r = MPI_REQUEST_NULL;
  check(MPI_Comm_idup(MPI_COMM_WORLD, &comm, &r), "MPI_Comm_idup");
  const std::uint64_t deadline = core::now_ns() + options.timeout_ns;
  for (int done = 0; done == 0;) {
    check(MPI_Test(&r, &done, MPI_STATUS_IGNORE), "MPI_Test(MPI_Comm_idup)");
    if (done == 0 && core::now_ns() > deadline) {
      throw Error(ErrorKind::timeout,
                  "mpi: MPI_Comm_idup did not complete within the peer timeout");
    }
  }
  check(MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  return std::make_unique<MpiCommunicator>(comm, rank, size, options.blocking);
}

}  // namespace fabricbench::transport::mpi
