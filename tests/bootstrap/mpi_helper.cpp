// Started by mpirun from mpi_test.cpp: every rank joins through the mpi launcher and checks the
// collectives. Prints "ok rank R of N" and exits 0 when everything matched.
#include <cstdio>
#include <exception>
#include <string>

#include "harness/bootstrap/launchers.hpp"

int main() {
  using namespace fabricbench::bootstrap;
  try {
    auto b = make_mpi_bootstrap(Options{std::chrono::seconds(20)});
    const int rank = b->rank();
    const int size = b->size();
    if (b->launcher() != "mpi") return 3;
    // The side channel's local end (TCP's default data address) reaches through the wrapper:
    // every rank on this host, so the loopback.
    if (size > 1 && b->local_address() != "127.0.0.1") return 6;
    if (size > 1 && b->liveness_fds().empty()) return 7;
    const auto all = b->allgather("mpi-" + std::to_string(rank));
    for (int r = 0; r < size; ++r) {
      if (all.at(static_cast<std::size_t>(r)) != "mpi-" + std::to_string(r)) return 4;
    }
    b->barrier();
    const std::string word = b->broadcast(size - 1, rank == size - 1 ? "last" : "");
    if (word != "last") return 5;
    b->barrier();
    std::printf("ok rank %d of %d\n", rank, size);
    std::fflush(stdout);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mpi helper: %s\n", e.what());
    return 1;
  }
  return 0;
}
