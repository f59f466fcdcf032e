function(fabricbench_apply_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wold-style-cast -Wcast-align -Wimplicit-fallthrough)
  if(FABRICBENCH_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

if(FABRICBENCH_SANITIZE AND FABRICBENCH_TSAN)
  message(FATAL_ERROR "FABRICBENCH_SANITIZE (ASan) and FABRICBENCH_TSAN cannot be combined")
endif()
if(FABRICBENCH_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
endif()
if(FABRICBENCH_TSAN)
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()
# libFuzzer's coverage instrumentation on every target, so a fuzz target (tests/fuzz) is guided
# by the code it calls; the targets themselves link -fsanitize=fuzzer.
if(FABRICBENCH_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "FABRICBENCH_FUZZ needs clang (libFuzzer): configure with "
                        "-DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang (the asan preset does)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
