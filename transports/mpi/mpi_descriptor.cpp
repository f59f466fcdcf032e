// The mpi backend's keys and traits.
#include "transports/mpi/mpi_descriptor.hpp"

#ifdef FABRICBENCH_HAVE_MPI_BACKEND
#include "transports/mpi/mpi_communicator.hpp"
#endif

namespace fabricbench::transport::mpi {

CollectiveDescriptor descriptor() {
  CollectiveDescriptor d;
  d.name = "mpi";
  d.description = "MPI's collectives over MPI_COMM_WORLD on host memory (mpi launcher)";
  d.memory = "host";
  d.keys = {core::choice_key(
      "calls", {"blocking", "nonblocking"}, "blocking",
      "blocking: MPI_Allreduce and friends (what IMB and OSU time); nonblocking: MPI_Iallreduce "
      "and friends, polled.")};
  d.example = "{calls: nonblocking}";
#ifdef FABRICBENCH_HAVE_MPI_BACKEND
  d.unavailable_reason = []() -> std::optional<std::string> { return std::nullopt; };
  d.make = [](const core::Settings& own, const CommunicatorParams& common, Exchange& exchange) {
    MpiOptions options;
    options.timeout_ns = common.timeout_ns;
    options.blocking = own.text("calls") == "blocking";
    return make_mpi_communicator(options, exchange);
  };
#else
  d.unavailable_reason = []() -> std::optional<std::string> {
    return std::string("built without MPI (install libopenmpi-dev and rebuild)");
  };
#endif
  d.launcher_refusal = [](const std::string& launcher) -> std::optional<std::string> {
    if (launcher == "mpi") return std::nullopt;
    return "the mpi backend's communicator is MPI_COMM_WORLD: start the run with mpirun or srun "
           "(this run's launcher is " +
           launcher + ")";
  };
  return d;
}

}  // namespace fabricbench::transport::mpi
