// The NCCL communicator (nccl_communicator.hpp). What NCCL chose for each call is read from its
// debug output (nccl_log.hpp): fabricbench sets NCCL_DEBUG=INFO, NCCL_DEBUG_SUBSYS=TUNING and
// NCCL_DEBUG_FILE to a file of its own when the user set none of the three (NCCL 2.28 could also
// take a profiler plugin from this binary, NCCL_PROFILER_PLUGIN=STATIC_PLUGIN; not done yet).
#include "transports/nccl/nccl_communicator.hpp"

#include <cuda_runtime_api.h>
#include <fcntl.h>
#include <nccl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <tuple>

#include "core/error.hpp"
#include "transports/cuda/cuda_memory.hpp"
#include "transports/nccl/nccl_log.hpp"

extern char** environ;  // NOLINT: POSIX

namespace fabricbench::transport::nccl {
namespace {

using core::Error;
using core::ErrorKind;
using Clock = std::chrono::steady_clock;

std::string cuda_text(cudaError_t err) {
  return std::string(cudaGetErrorString(err)) + " (" + cudaGetErrorName(err) + ")";
}

void cuda_check(cudaError_t err, const std::string& what) {
  if (err != cudaSuccess) throw Error(ErrorKind::runtime, "nccl: " + what + ": " + cuda_text(err));
}

std::string hex_encode(const void* data, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  const auto* p = static_cast<const unsigned char*>(data);
  std::string out;
  out.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(digits[p[i] >> 4]);
    out.push_back(digits[p[i] & 0xf]);
  }
  return out;
}

bool hex_decode(std::string_view text, void* out, std::size_t n) {
  if (text.size() != 2 * n) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  auto* p = static_cast<unsigned char*>(out);
  for (std::size_t i = 0; i < n; ++i) {
    const int hi = nibble(text[2 * i]);
    const int lo = nibble(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    p[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return true;
}

bool env_set(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0';
}

// NCCL's debug output, once per process: a file of ours when the user asked for none. NCCL opens
// it once and keeps it; we keep a descriptor of our own and unlink the name after the first
// communicator is up, so nothing stays behind in /tmp.
struct DebugLog {
  int fd = -1;
  std::string path;
  std::string why_not;  // when NCCL's choices cannot be read
  std::vector<std::string> set;
};

DebugLog& debug_log() {
  static DebugLog log = [] {
    DebugLog l;
    if (env_set("NCCL_DEBUG") || env_set("NCCL_DEBUG_SUBSYS") || env_set("NCCL_DEBUG_FILE")) {
      l.why_not =
          "NCCL_DEBUG, NCCL_DEBUG_SUBSYS or NCCL_DEBUG_FILE is set by the user; fabricbench "
          "reads NCCL's choices only from a debug file of its own";
      return l;
    }
    l.path = "/tmp/fabricbench-nccl-" + std::to_string(::getpid()) + ".log";
    l.fd = ::open(l.path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (l.fd < 0) {
      l.why_not = "cannot create " + l.path + ": " + std::strerror(errno);
      return l;
    }
    ::setenv("NCCL_DEBUG", "INFO", 0);
    ::setenv("NCCL_DEBUG_SUBSYS", "TUNING", 0);
    ::setenv("NCCL_DEBUG_FILE", l.path.c_str(), 0);
    l.set = {"NCCL_DEBUG", "NCCL_DEBUG_SUBSYS", "NCCL_DEBUG_FILE"};
    return l;
  }();
  return log;
}

std::uint64_t log_size(const DebugLog& log) {
  if (log.fd < 0) return 0;
  const off_t end = ::lseek(log.fd, 0, SEEK_END);
  return end < 0 ? 0 : static_cast<std::uint64_t>(end);
}

std::string read_log(const DebugLog& log, std::uint64_t from) {
  std::string out;
  if (log.fd < 0) return out;
  char chunk[65536];
  auto at = static_cast<off_t>(from);
  for (;;) {
    const ssize_t n = ::pread(log.fd, chunk, sizeof chunk, at);
    if (n <= 0) break;
    out.append(chunk, static_cast<std::size_t>(n));
    at += n;
  }
  return out;
}

nlohmann::json nccl_env() {
  nlohmann::json env = nlohmann::json::object();
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const auto eq = entry.find('=');
    if (entry.rfind("NCCL_", 0) != 0 || eq == std::string_view::npos) continue;
    env[std::string(entry.substr(0, eq))] = std::string(entry.substr(eq + 1));
  }
  return env;
}

std::string hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "?";
  return name;
}

std::optional<ncclDataType_t> nccl_type(DataType t) {
  switch (t) {
    case DataType::int8:
      return ncclInt8;
    case DataType::uint8:
      return ncclUint8;
    case DataType::int32:
      return ncclInt32;
    case DataType::uint32:
      return ncclUint32;
    case DataType::int64:
      return ncclInt64;
    case DataType::uint64:
      return ncclUint64;
    case DataType::float16:
      return ncclFloat16;
    case DataType::float32:
      return ncclFloat32;
    case DataType::float64:
      return ncclFloat64;
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 10, 0)
    case DataType::bfloat16:
      return ncclBfloat16;
#endif
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 24, 0)
    case DataType::fp8_e4m3:
      return ncclFloat8e4m3;
    case DataType::fp8_e5m2:
      return ncclFloat8e5m2;
#endif
    default:
      return std::nullopt;
  }
}

std::optional<ncclRedOp_t> nccl_op(RedOp op) {
  switch (op) {
    case RedOp::sum:
      return ncclSum;
    case RedOp::prod:
      return ncclProd;
    case RedOp::min:
      return ncclMin;
    case RedOp::max:
      return ncclMax;
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 10, 0)
    case RedOp::avg:
      return ncclAvg;
#endif
    default:
      return std::nullopt;
  }
}

std::string version_text(int code) {
  // NCCL_VERSION: X*1000+Y*100+Z up to 2.8, X*10000+Y*100+Z after.
  const int major = code >= 10000 ? code / 10000 : code / 1000;
  const int minor = code >= 10000 ? code / 100 % 100 : code / 100 % 10;
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(code % 100);
}

std::string cuda_version_text(int v) {
  return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10);
}

// The topology NCCL detected: the XML it dumped (NCCL_TOPO_DUMP_FILE), with a count of its main
// elements; the XML is cut at 256 KiB.
nlohmann::json topology_from(const std::string& path) {
  std::ifstream in(path);
  if (!in) return nullptr;
  std::ostringstream text;
  text << in.rdbuf();
  const std::string xml = text.str();
  nlohmann::json counts = nlohmann::json::object();
  for (const char* tag : {"cpu", "pci", "gpu", "nvlink", "nic", "net", "c2c"}) {
    std::size_t n = 0;
    const std::string open = std::string("<") + tag + " ";
    for (auto at = xml.find(open); at != std::string::npos; at = xml.find(open, at + 1)) ++n;
    counts[tag] = n;
  }
  constexpr std::size_t kMax = 256 * 1024;
  return {{"file", path},
          {"elements", counts},
          {"xml", xml.substr(0, kMax)},
          {"truncated", xml.size() > kMax}};
}

std::size_t elements_sent(Collective c, std::size_t count, int n) {
  const auto ranks = static_cast<std::size_t>(n);
  switch (c) {
    case Collective::reduce_scatter:
    case Collective::alltoall:
    case Collective::scatter:
      return count * ranks;
    default:
      return count;
  }
}

std::size_t elements_received(Collective c, std::size_t count, int n) {
  const auto ranks = static_cast<std::size_t>(n);
  switch (c) {
    case Collective::all_gather:
    case Collective::alltoall:
    case Collective::gather:
      return count * ranks;
    default:
      return count;
  }
}

}  // namespace

namespace {

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(const Options& options, Exchange& exchange)
      : o_(options), rank_(exchange.rank()), size_(exchange.size()) {
    try {
      connect(exchange);
    } catch (...) {
      release();
      throw;
    }
  }
  ~NcclCommunicator() override { release(); }
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  std::string name() const override { return "nccl"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  std::optional<std::string> unsupported(Collective c, DataType t, RedOp op) const override {
    const std::string version = version_text(NCCL_VERSION_CODE);
    if (!nccl_type(t)) {
      return "NCCL " + version + " (the headers built against) has no " + std::string(to_string(t));
    }
    if ((t == DataType::fp8_e4m3 || t == DataType::fp8_e5m2) && cc_major_ < 9) {
      return "NCCL's fp8 types need a GPU of compute capability 9.0 (Hopper) or newer; GPU " +
             std::to_string(device_) + " is sm_" + std::to_string(cc_major_) +
             std::to_string(cc_minor_);
    }
    if (reduces(c) && !nccl_op(op)) {
      return "NCCL " + version + " has no reduction " + std::string(to_string(op));
    }
    return std::nullopt;
  }

  void start(const CollectiveCall& call) override {
    alive("start");
    wait_ready("the previous call's enqueue");
    if (o_.register_mode == "local") register_buffers(call);
    last_call_ = std::string(to_string(call.collective)) + " of " + std::to_string(call.count) +
                 " " + std::string(to_string(call.type));
    if (call.once) {
      issue_aggregate(call, 1);
    } else if (o_.graph > 0) {
      start_graph(call);
    } else {
      issue_aggregate(call, o_.aggregate);
    }
  }

  void group_start() override {
    alive("group_start");
    check(ncclGroupStart(), "ncclGroupStart");
  }
  void group_end() override {
    alive("group_end");
    check(ncclGroupEnd(), "ncclGroupEnd");
  }

  bool test() override {
    alive("test");
    ncclResult_t state = ncclSuccess;
    check(ncclCommGetAsyncError(comm_, &state), "ncclCommGetAsyncError");
    if (state == ncclInProgress) return false;
    if (state != ncclSuccess) throw failure(state, last_call_ + " (asynchronous error)");
    const cudaError_t err = cudaStreamQuery(stream_);
    if (err == cudaSuccess) return true;
    if (err == cudaErrorNotReady) return false;
    throw Error(ErrorKind::runtime,
                "nccl: cudaStreamQuery after " + last_call_ + ": " + cuda_text(err));
  }

  // One stream: start()s queue in order, as nccl-tests enqueues its timed loop.
  bool pipelines() const override { return true; }
  int ops_per_start() const override { return o_.aggregate * (o_.graph > 0 ? o_.graph : 1); }

  void start_barrier() override {
    alive("start_barrier");
    wait_ready("the previous call's enqueue");
    last_call_ = "barrier (all_reduce of one int32)";
    check(ncclAllReduce(barrier_, barrier_, 1, ncclInt32, ncclSum, comm_, stream_),
          "ncclAllReduce (barrier)");
  }

  void abort() noexcept override {
    if (comm_ != nullptr) ncclCommAbort(comm_);
    comm_ = nullptr;
    registered_.clear();
  }

  void to_device(void* device, const void* host, std::size_t bytes) override {
    cuda_check(cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, stream_),
               "cudaMemcpyAsync to the GPU");
    cuda_check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize after a copy to the GPU");
  }
  void from_device(void* host, const void* device, std::size_t bytes) override {
    cuda_check(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, stream_),
               "cudaMemcpyAsync from the GPU");
    cuda_check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize after a copy from the GPU");
  }

  nlohmann::json facts() const override {
    nlohmann::json f = facts_;
    const DebugLog& log = debug_log();
    f["env"] = nccl_env();
    f["env_set_by_fabricbench"] = log.set;
    if (!log.why_not.empty()) {
      f["calls_unavailable"] = log.why_not;
    } else if (rank_ != 0) {
      f["calls_unavailable"] = "NCCL logs its choices on rank 0 only";
    } else {
      const std::string text = read_log(log, log_offset_);
      f["calls"] = summarize_tuning(text);
      f["warnings"] = warnings_in(text);
    }
    return f;
  }

 private:
  void connect(Exchange& exchange);
  void init_communicator(const ncclUniqueId& id);
  void collect_facts(const std::string& topo_file, bool topo_ours);
  void release() noexcept;
  void issue(const CollectiveCall& c, ncclDataType_t type, ncclRedOp_t op);
  void issue_aggregate(const CollectiveCall& c, int count);
  void start_graph(const CollectiveCall& c);
  void register_buffers(const CollectiveCall& c);
  void register_one(const void* p, std::size_t bytes);
  // Waits (bounded by the timeout) until the communicator has no call in progress.
  void wait_ready(const std::string& what);

  void alive(const char* what) const {
    if (comm_ == nullptr) {
      throw Error(ErrorKind::runtime,
                  std::string("nccl: ") + what + " on a communicator that was aborted");
    }
  }
  Error failure(ncclResult_t r, const std::string& what) const {
    const char* last = comm_ != nullptr ? ncclGetLastError(comm_) : nullptr;
    return Error(
        ErrorKind::runtime,
        "nccl: " + what + " failed: " + ncclGetErrorString(r) +
            (last != nullptr && *last != '\0' ? std::string(" (") + last + ")" : std::string()));
  }
  void check(ncclResult_t r, const std::string& what) const {
    if (r != ncclSuccess && r != ncclInProgress) throw failure(r, what);
  }

  Options o_;
  int rank_ = 0;
  int size_ = 1;
  int device_ = -1;
  int cc_major_ = 0;
  int cc_minor_ = 0;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  int* barrier_ = nullptr;
  std::string last_call_ = "init";
  std::map<std::pair<const void*, std::size_t>, void*> registered_;
  using GraphKey = std::tuple<int, int, int, int, const void*, void*, std::size_t>;
  std::map<GraphKey, cudaGraphExec_t> graphs_;
  std::uint64_t log_offset_ = 0;
  nlohmann::json facts_ = nlohmann::json::object();
};

void NcclCommunicator::connect(Exchange& exchange) {
  DebugLog& log = debug_log();  // before NCCL reads its environment
  const bool topo_ours = !env_set("NCCL_TOPO_DUMP_FILE");
  const std::string topo_file =
      topo_ours ? "/tmp/fabricbench-nccl-topo-" + std::to_string(::getpid()) + ".xml"
                : std::getenv("NCCL_TOPO_DUMP_FILE");
  if (topo_ours) ::setenv("NCCL_TOPO_DUMP_FILE", topo_file.c_str(), 1);

  ncclUniqueId id{};
  std::string mine = hostname() + "\n";
  if (rank_ == 0) {
    check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    mine += hex_encode(&id, sizeof id);
  }
  const std::vector<std::string> all = exchange.allgather(mine);
  const auto nl = all.at(0).find('\n');
  if (nl == std::string::npos ||
      !hex_decode(std::string_view(all[0]).substr(nl + 1), &id, sizeof id)) {
    throw Error(ErrorKind::runtime, "nccl: rank 0's ncclUniqueId did not arrive intact");
  }
  // The local rank where the launcher's environment names none: the ranks before this one on
  // the same host.
  int same_host = 0;
  for (int r = 0; r < rank_; ++r) {
    if (all.at(static_cast<std::size_t>(r))
            .substr(0, all[static_cast<std::size_t>(r)].find('\n')) ==
        mine.substr(0, mine.find('\n'))) {
      ++same_host;
    }
  }
  const bool from_env = cuda::local_rank_from_env().has_value();
  if (!from_env) cuda::set_local_rank(same_host);

  device_ = cuda::select_device();
  cuda_check(cudaDeviceGetAttribute(&cc_major_, cudaDevAttrComputeCapabilityMajor, device_),
             "cudaDeviceGetAttribute");
  cuda_check(cudaDeviceGetAttribute(&cc_minor_, cudaDevAttrComputeCapabilityMinor, device_),
             "cudaDeviceGetAttribute");
  cuda_check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  cuda_check(cudaMalloc(reinterpret_cast<void**>(&barrier_), sizeof(int)), "cudaMalloc (barrier)");
  cuda_check(cudaMemset(barrier_, 0, sizeof(int)), "cudaMemset (barrier)");
  cuda_check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");

  log_offset_ = log_size(log);
  init_communicator(id);
  if (topo_ours) ::unsetenv("NCCL_TOPO_DUMP_FILE");
  if (!log.path.empty()) {
    ::unlink(log.path.c_str());  // NCCL has it open by now; our descriptor stays
    log.path.clear();
  }
  collect_facts(topo_file, topo_ours);
  facts_["local_rank"] = {{"value", cuda::local_rank()},
                          {"from", from_env ? "environment" : "host names over the exchange"}};
}

void NcclCommunicator::init_communicator(const ncclUniqueId& id) {
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = o_.blocking ? 1 : 0;
  config.commName = "fabricbench";
  if (o_.min_ctas > 0) config.minCTAs = o_.min_ctas;
  if (o_.max_ctas > 0) config.maxCTAs = o_.max_ctas;
#ifdef NCCL_CTA_POLICY_DEFAULT
  if (o_.cta_policy == "efficiency") config.CTAPolicy = NCCL_CTA_POLICY_EFFICIENCY;
  if (o_.cta_policy == "zero") config.CTAPolicy = NCCL_CTA_POLICY_ZERO;
#else
  if (o_.cta_policy != "default") {
    throw Error(ErrorKind::unavailable, "nccl.cta_policy needs NCCL 2.27 or newer");
  }
#endif
  const ncclResult_t r = ncclCommInitRankConfig(&comm_, size_, id, rank_, &config);
  if (r != ncclSuccess && r != ncclInProgress) {
    const Error e = failure(r, "ncclCommInitRankConfig (rank " + std::to_string(rank_) + " of " +
                                   std::to_string(size_) + ")");
    abort();
    throw e;
  }
  const auto deadline = Clock::now() + std::chrono::nanoseconds(o_.timeout_ns);
  for (;;) {
    ncclResult_t state = ncclSuccess;
    const ncclResult_t q = ncclCommGetAsyncError(comm_, &state);
    if (q == ncclSuccess && state == ncclSuccess) break;
    if (q != ncclSuccess || state != ncclInProgress) {
      const Error e = failure(q != ncclSuccess ? q : state, "ncclCommInitRankConfig");
      abort();
      throw e;
    }
    if (Clock::now() > deadline) {
      abort();
      throw Error(ErrorKind::timeout,
                  "nccl: ncclCommInitRankConfig (rank " + std::to_string(rank_) + " of " +
                      std::to_string(size_) + ", GPU " + std::to_string(device_) +
                      ") did not finish within " + std::to_string(o_.timeout_ns / 1'000'000) +
                      " ms: every rank joining rank 0's NCCL bootstrap and connecting was waited "
                      "for; communicator aborted");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

void NcclCommunicator::collect_facts(const std::string& topo_file, bool topo_ours) {
  int nccl_version = 0;
  ncclGetVersion(&nccl_version);
  int runtime = 0;
  int driver = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);
  char bus_id[64] = {};
  cudaDeviceGetPCIBusId(bus_id, sizeof bus_id - 1, device_);
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, device_);
  facts_["nccl_version"] = version_text(nccl_version);
  facts_["nccl_version_code"] = nccl_version;
  facts_["nccl_header_version"] = version_text(NCCL_VERSION_CODE);
  facts_["cuda_runtime"] = cuda_version_text(runtime);
  facts_["cuda_driver"] = cuda_version_text(driver);
  facts_["device"] = {
      {"index", device_},
      {"name", prop.name},
      {"pci_bus_id", bus_id},
      {"compute_capability", std::to_string(cc_major_) + "." + std::to_string(cc_minor_)},
      {"memory_bytes", prop.totalGlobalMem},
      {"multiprocessors", prop.multiProcessorCount}};
  facts_["config"] = {{"blocking", o_.blocking},     {"cta_policy", o_.cta_policy},
                      {"min_ctas", o_.min_ctas},     {"max_ctas", o_.max_ctas},
                      {"aggregate", o_.aggregate},   {"graph", o_.graph},
                      {"register", o_.register_mode}};
  facts_["ops_per_start"] = o_.aggregate * (o_.graph > 0 ? o_.graph : 1);
  facts_["topology"] = topology_from(topo_file);
  if (topo_ours) ::unlink(topo_file.c_str());
}

void NcclCommunicator::release() noexcept {
  for (auto& [key, exec] : graphs_) cudaGraphExecDestroy(exec);
  graphs_.clear();
  if (comm_ != nullptr) {
    try {
      for (auto& [key, handle] : registered_) ncclCommDeregister(comm_, handle);
      registered_.clear();
      // Finalize flushes what is in flight; bounded, then abort.
      ncclResult_t r = ncclCommFinalize(comm_);
      const auto deadline = Clock::now() + std::chrono::nanoseconds(o_.timeout_ns);
      ncclResult_t state = r;
      while (r == ncclSuccess || r == ncclInProgress) {
        r = ncclCommGetAsyncError(comm_, &state);
        if (r != ncclSuccess || state != ncclInProgress || Clock::now() > deadline) break;
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
      if (r == ncclSuccess && state == ncclSuccess) {
        ncclCommDestroy(comm_);
      } else {
        ncclCommAbort(comm_);
      }
    } catch (...) {
      ncclCommAbort(comm_);
    }
    comm_ = nullptr;
  }
  if (barrier_ != nullptr) cudaFree(barrier_);
  barrier_ = nullptr;
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
  stream_ = nullptr;
}

void NcclCommunicator::wait_ready(const std::string& what) {
  const auto deadline = Clock::now() + std::chrono::nanoseconds(o_.timeout_ns);
  for (;;) {
    ncclResult_t state = ncclSuccess;
    check(ncclCommGetAsyncError(comm_, &state), "ncclCommGetAsyncError");
    if (state == ncclSuccess) return;
    if (state != ncclInProgress) throw failure(state, last_call_ + " (asynchronous error)");
    if (Clock::now() > deadline) {
      throw Error(ErrorKind::timeout, "nccl: " + what + " did not finish within " +
                                          std::to_string(o_.timeout_ns / 1'000'000) + " ms");
    }
    std::this_thread::yield();
  }
}

void NcclCommunicator::issue(const CollectiveCall& c, ncclDataType_t type, ncclRedOp_t op) {
  const std::size_t n = c.count;
  void* recv = c.recv;
  const void* send = c.send;
  switch (c.collective) {
    case Collective::all_reduce:
      return check(ncclAllReduce(send, recv, n, type, op, comm_, stream_), "ncclAllReduce");
    case Collective::all_gather:
      return check(ncclAllGather(send, recv, n, type, comm_, stream_), "ncclAllGather");
    case Collective::reduce_scatter:
      return check(ncclReduceScatter(send, recv, n, type, op, comm_, stream_), "ncclReduceScatter");
    case Collective::broadcast:
      return check(ncclBroadcast(send, recv, n, type, c.root, comm_, stream_), "ncclBroadcast");
    case Collective::reduce:
      return check(ncclReduce(send, recv, n, type, op, c.root, comm_, stream_), "ncclReduce");
    case Collective::alltoall:
      return check(ncclAlltoAll(send, recv, n, type, comm_, stream_), "ncclAlltoAll");
    case Collective::gather:
      return check(ncclGather(send, recv, n, type, c.root, comm_, stream_), "ncclGather");
    case Collective::scatter:
      return check(ncclScatter(send, recv, n, type, c.root, comm_, stream_), "ncclScatter");
    case Collective::sendrecv: {
      // A ring, as nccl-tests' sendrecv: to rank+1, from rank-1.
      check(ncclGroupStart(), "ncclGroupStart (sendrecv)");
      check(ncclSend(send, n, type, (rank_ + 1) % size_, comm_, stream_), "ncclSend");
      check(ncclRecv(recv, n, type, (rank_ - 1 + size_) % size_, comm_, stream_), "ncclRecv");
      return check(ncclGroupEnd(), "ncclGroupEnd (sendrecv)");
    }
  }
}

void NcclCommunicator::issue_aggregate(const CollectiveCall& c, int count) {
  const auto type = nccl_type(c.type);
  const auto op = reduces(c.collective) ? nccl_op(c.op) : std::optional<ncclRedOp_t>(ncclSum);
  if (!type || !op) {
    throw Error(ErrorKind::runtime, "nccl: " + last_call_ + " is unsupported (ask unsupported())");
  }
  if (count <= 1) return issue(c, *type, *op);
  check(ncclGroupStart(), "ncclGroupStart (aggregate)");
  for (int i = 0; i < count; ++i) issue(c, *type, *op);
  check(ncclGroupEnd(), "ncclGroupEnd (aggregate)");
}

// nccl-tests -G: the aggregate captured once into a CUDA graph, launched `graph` times a start.
void NcclCommunicator::start_graph(const CollectiveCall& c) {
  const GraphKey key{static_cast<int>(c.collective),
                     static_cast<int>(c.type),
                     static_cast<int>(c.op),
                     c.root,
                     c.send,
                     c.recv,
                     c.count};
  auto it = graphs_.find(key);
  if (it == graphs_.end()) {
    cuda_check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal),
               "cudaStreamBeginCapture");
    cudaGraph_t graph = nullptr;
    try {
      issue_aggregate(c, o_.aggregate);
      wait_ready("enqueueing " + last_call_ + " into a CUDA graph");
    } catch (...) {
      cudaStreamEndCapture(stream_, &graph);
      if (graph != nullptr) cudaGraphDestroy(graph);
      throw;
    }
    cuda_check(cudaStreamEndCapture(stream_, &graph), "cudaStreamEndCapture");
    cudaGraphExec_t exec = nullptr;
    const cudaError_t err = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    cuda_check(err, "cudaGraphInstantiate");
    it = graphs_.emplace(key, exec).first;
  }
  for (int i = 0; i < o_.graph; ++i)
    cuda_check(cudaGraphLaunch(it->second, stream_), "cudaGraphLaunch");
}

void NcclCommunicator::register_buffers(const CollectiveCall& c) {
  const std::size_t elem = size_of(c.type);
  const std::size_t sent = elements_sent(c.collective, c.count, size_) * elem;
  const std::size_t received = elements_received(c.collective, c.count, size_) * elem;
  if (!c.in_place) {
    register_one(c.send, sent);
    register_one(c.recv, received);
  } else if (received > sent) {
    register_one(c.recv, received);  // all_gather, gather: send lies inside recv
  } else {
    register_one(c.send, sent);  // reduce_scatter, scatter: recv lies inside send
  }
}

void NcclCommunicator::register_one(const void* p, std::size_t bytes) {
  if (p == nullptr || bytes == 0) return;
  const auto key = std::make_pair(p, bytes);
  if (registered_.count(key) != 0) return;
  void* handle = nullptr;
  // NCCL takes a non-const pointer; it does not write through it.
  check(ncclCommRegister(comm_, const_cast<void*>(p), bytes, &handle), "ncclCommRegister");
  wait_ready("ncclCommRegister");
  registered_.emplace(key, handle);
}

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(const Options& options, Exchange& exchange) {
  return std::make_unique<NcclCommunicator>(options, exchange);
}

}  // namespace fabricbench::transport::nccl
