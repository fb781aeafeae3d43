# vm-test.cmake - hl_add_vm_test(): CTest tests that run a program inside the emulated KVM VM of scripts/vm-test.sh.
#
#   include(${PROJECT_SOURCE_DIR}/scripts/vm/vm-test.cmake)
#   hl_add_vm_test(NAME vm.foo COMMAND $<TARGET_FILE:foo> [args...]
#                  [NPT 1 0] [TIMEOUT 300] [DIRS host[:guest]...] [ENV NAME=VALUE...])
#
# registers one test per NPT value, named <NAME>.npt1 and <NAME>.npt0, each passing when the
# program exits 0 inside the VM. All of them need the fixture test vm.prepare (scripts/vm/prepare.sh:
# host packages, kernel download), which CTest runs once, first, with its own generous time limit.
include_guard(GLOBAL)

set(HL_VM_TEST_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/../vm-test.sh CACHE INTERNAL "scripts/vm-test.sh")
set(HL_VM_PREPARE_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/prepare.sh CACHE INTERNAL "scripts/vm/prepare.sh")
find_program(HL_BASH bash REQUIRED)

add_test(NAME vm.prepare COMMAND ${HL_BASH} ${HL_VM_PREPARE_SCRIPT})
set_tests_properties(vm.prepare PROPERTIES FIXTURES_SETUP hl_vm_kernel TIMEOUT 1800 LABELS vm)

function(hl_add_vm_test)
  cmake_parse_arguments(PARSE_ARGV 0 A "" "NAME;TIMEOUT" "COMMAND;NPT;DIRS;ENV")
  if(NOT A_NAME OR NOT A_COMMAND)
    message(FATAL_ERROR "hl_add_vm_test: NAME and COMMAND are required")
  endif()
  if(NOT A_NPT)
    set(A_NPT 1 0)
  endif()
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 300)
  endif()
  set(options --timeout ${A_TIMEOUT})
  foreach(d IN LISTS A_DIRS)
    list(APPEND options --dir ${d})
  endforeach()
  foreach(e IN LISTS A_ENV)
    list(APPEND options --env ${e})
  endforeach()
  math(EXPR ctest_timeout "${A_TIMEOUT} + 60")
  foreach(npt IN LISTS A_NPT)
    add_test(NAME ${A_NAME}.npt${npt}
             COMMAND ${HL_BASH} ${HL_VM_TEST_SCRIPT} --npt ${npt} ${options} -- ${A_COMMAND})
    set_tests_properties(${A_NAME}.npt${npt} PROPERTIES
      FIXTURES_REQUIRED hl_vm_kernel TIMEOUT ${ctest_timeout} LABELS vm)
  endforeach()
endfunction()
