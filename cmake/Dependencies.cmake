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

# hwloc (rank placement, harness/placement): libhwloc-dev; without it `placement: none` runs and
# auto/explicit say "built without hwloc".
set(FABRICBENCH_HAVE_HWLOC OFF)
if(FABRICBENCH_WITH_HWLOC)
  pkg_check_modules(HWLOC QUIET IMPORTED_TARGET hwloc>=2.0)
  if(HWLOC_FOUND)
    set(FABRICBENCH_HAVE_HWLOC ON)
  endif()
endif()

# CUDA (the `cuda` memory provider) and NCCL (the `nccl` collective backend): plain C++ against
# the CUDA runtime API and NCCL, no .cu files. /usr/local/cuda is tried when CMake's own search
# (nvcc on PATH, CUDA_PATH, CUDAToolkit_ROOT) finds nothing; NCCL is looked for in NCCL_HOME
# (variable or environment) and in the toolkit's directories (CUDA 13 images ship nccl.h there).
set(FABRICBENCH_HAVE_CUDA OFF)
set(FABRICBENCH_HAVE_NCCL OFF)
if(FABRICBENCH_WITH_CUDA)
  find_package(CUDAToolkit QUIET)
  if(NOT CUDAToolkit_FOUND AND EXISTS /usr/local/cuda)
    set(CUDAToolkit_ROOT /usr/local/cuda)
    find_package(CUDAToolkit QUIET)
  endif()
  if(CUDAToolkit_FOUND AND TARGET CUDA::cudart)
    set(FABRICBENCH_HAVE_CUDA ON)
  endif()
endif()
if(FABRICBENCH_HAVE_CUDA AND FABRICBENCH_WITH_NCCL)
  set(_nccl_hints ${NCCL_HOME} $ENV{NCCL_HOME} ${CUDAToolkit_LIBRARY_ROOT})
  find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${_nccl_hints} ${CUDAToolkit_INCLUDE_DIRS}
            PATH_SUFFIXES include)
  find_library(NCCL_LIBRARY NAMES nccl libnccl.so.2 HINTS ${_nccl_hints} ${CUDAToolkit_LIBRARY_DIR}
               PATH_SUFFIXES lib lib64)
  if(NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
    set(FABRICBENCH_HAVE_NCCL ON)
    add_library(fabricbench_nccl UNKNOWN IMPORTED)
    set_target_properties(fabricbench_nccl PROPERTIES IMPORTED_LOCATION ${NCCL_LIBRARY}
                                                      INTERFACE_INCLUDE_DIRECTORIES ${NCCL_INCLUDE_DIR})
  endif()
endif()

message(STATUS "fabricbench: MPI launcher ${FABRICBENCH_HAVE_MPI}, verbs transport ${FABRICBENCH_HAVE_VERBS}, "
               "hwloc ${FABRICBENCH_HAVE_HWLOC}, "
               "CUDA ${FABRICBENCH_HAVE_CUDA}, NCCL ${FABRICBENCH_HAVE_NCCL} ${NCCL_LIBRARY}")
