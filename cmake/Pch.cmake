# Precompiled headers for the sanitizer builds (FABRICBENCH_PCH: on in the asan and tsan presets,
# off elsewhere). The standard library, nlohmann/json and fmt (and, for the tests, GoogleTest)
# are parsed once per build instead of once per translation unit: the largest part of an
# unoptimised compile (docs/RELIABILITY.md, "CI time"). The release build, whose compilation
# database clang-tidy reads, does not use them, so a file that forgets an include still fails
# there. Every first-party executable and static or object library reuses one of two holders,
# compiled with the same flags; a shared library or module (position-independent code) does not.
option(FABRICBENCH_PCH "Precompile the common headers (the asan and tsan presets)" OFF)

set(_fb_pch_common
    <algorithm> <array> <atomic> <chrono> <cmath> <cstddef> <cstdint> <cstring> <filesystem>
    <fstream> <functional> <map> <memory> <mutex> <optional> <set> <sstream> <stdexcept>
    <string> <string_view> <thread> <utility> <vector> <fmt/format.h> <nlohmann/json.hpp>)

if(FABRICBENCH_PCH)
  add_library(fb_pch STATIC ${CMAKE_CURRENT_LIST_DIR}/pch/holder.cpp)
  fabricbench_apply_warnings(fb_pch)
  target_precompile_headers(fb_pch PRIVATE ${_fb_pch_common})
endif()

# The tests' holder, made by tests/CMakeLists.txt once GoogleTest is found: it takes GoogleTest's
# compile definitions too, so that they match those of the tests.
function(fabricbench_test_pch_holder)
  if(FABRICBENCH_PCH)
    add_library(fb_test_pch STATIC ${PROJECT_SOURCE_DIR}/cmake/pch/holder.cpp)
    fabricbench_apply_warnings(fb_test_pch)
    target_link_libraries(fb_test_pch PRIVATE GTest::gtest)
    target_precompile_headers(fb_test_pch PRIVATE ${_fb_pch_common} <gtest/gtest.h>)
  endif()
endfunction()

# fabricbench_use_pch(TARGET [TEST]): TARGET reuses the common holder, or the tests' one.
function(fabricbench_use_pch target)
  if(NOT FABRICBENCH_PCH)
    return()
  endif()
  get_target_property(type ${target} TYPE)
  if(NOT type MATCHES "^(EXECUTABLE|STATIC_LIBRARY|OBJECT_LIBRARY)$")
    return()
  endif()
  if(ARGV1 STREQUAL "TEST")
    target_precompile_headers(${target} REUSE_FROM fb_test_pch)
  else()
    target_precompile_headers(${target} REUSE_FROM fb_pch)
  endif()
endfunction()
