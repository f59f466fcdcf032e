# Git revision baked into the binary (`fabricbench --version`).
execute_process(COMMAND git rev-parse --short=12 HEAD WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
                OUTPUT_VARIABLE FABRICBENCH_GIT_REVISION OUTPUT_STRIP_TRAILING_WHITESPACE
                ERROR_QUIET RESULT_VARIABLE _git_rc)
if(NOT _git_rc EQUAL 0 OR FABRICBENCH_GIT_REVISION STREQUAL "")
  set(FABRICBENCH_GIT_REVISION "unknown")
else()
  execute_process(COMMAND git status --porcelain --untracked-files=no WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
                  OUTPUT_VARIABLE _git_dirty OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(NOT _git_dirty STREQUAL "")
    string(APPEND FABRICBENCH_GIT_REVISION "-dirty")
  endif()
endif()
configure_file(${PROJECT_SOURCE_DIR}/core/version.hpp.in
               ${PROJECT_BINARY_DIR}/generated/core/version.hpp @ONLY)
