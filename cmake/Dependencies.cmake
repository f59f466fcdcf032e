# Required libraries (Debian packages installed by ci/install-deps.sh).
find_package(Threads REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(fmt REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(PkgConfig REQUIRED)

# Optional parts: switched on when found. `fabricbench list` reports what was built.
set(FABRICBENCH_HAVE_MPI OFF)
if(FABRICBENCH_WITH_MPI)
  find_package(MPI COMPONENTS C QUIET)
  if(MPI_C_FOUND)
    set(FABRICBENCH_HAVE_MPI ON)
  endif()
endif()

set(FABRICBENCH_HAVE_VERBS OFF)
if(FABRICBENCH_WITH_VERBS)
  pkg_check_modules(IBVERBS QUIET IMPORTED_TARGET libibverbs)
  pkg_check_modules(RDMACM QUIET IMPORTED_TARGET librdmacm)
  if(IBVERBS_FOUND AND RDMACM_FOUND)
    set(FABRICBENCH_HAVE_VERBS ON)
  endif()
endif()

message(STATUS "fabricbench: MPI launcher ${FABRICBENCH_HAVE_MPI}, verbs transport ${FABRICBENCH_HAVE_VERBS}")
