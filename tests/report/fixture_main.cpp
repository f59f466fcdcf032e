// report_fixture DIR [RUN_ID]: writes the report tests' synthetic run document (every kind of
// plot: sweeps, interval series, a fault, regimes) as DIR/run.json, for render-test.sh.
#include <cstdio>
#include <exception>
#include <string>

#include "tests/report/synthetic.hpp"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: report_fixture DIR [RUN_ID]\n");
    return 2;
  }
  try {
    const std::string run_id = argc == 3 ? argv[2] : "20261123T120000Z-synthetic-0001";
    fabricbench::results::reporttest::write_run(
        argv[1], fabricbench::results::reporttest::synthetic_run(run_id));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "report_fixture: %s\n", e.what());
    return 1;
  }
  return 0;
}
