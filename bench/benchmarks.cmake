# benchmarks.cmake - the TOML parser benchmark programs (ours and toml++); run them with bench/run-toml-bench.sh.
# Included by bench/CMakeLists.txt in the full build and by bench/standalone/CMakeLists.txt.
# Not CTest tests: benchmarks are measurements, never timed assertions.

get_filename_component(HL_BENCH_DIR ${CMAKE_CURRENT_LIST_DIR} ABSOLUTE)
get_filename_component(HL_BENCH_ROOT ${HL_BENCH_DIR}/.. ABSOLUTE)

# The parser alone, built from src/toml with the project's flags, so the benchmarks depend on
# nothing else in the tree (other modules may be mid-work).
file(GLOB HL_BENCH_TOML_SOURCES CONFIGURE_DEPENDS ${HL_BENCH_ROOT}/src/toml/*.c)
add_library(hl_bench_toml STATIC ${HL_BENCH_TOML_SOURCES})
target_include_directories(hl_bench_toml PUBLIC ${HL_BENCH_ROOT}/include
                                         PRIVATE ${HL_BENCH_ROOT}/src)
target_link_libraries(hl_bench_toml PUBLIC m)

add_executable(bench-toml-hl ${HL_BENCH_DIR}/toml_bench_hl.c)
target_include_directories(bench-toml-hl PRIVATE ${HL_BENCH_DIR})
target_link_libraries(bench-toml-hl PRIVATE hl_bench_toml)

# toml++ (Debian's libtomlplusplus-dev, header-only): only when its header is there.
find_path(HL_TOMLPP_INCLUDE_DIR NAMES toml++/toml.h)
if(HL_TOMLPP_INCLUDE_DIR)
  enable_language(CXX)
  add_executable(bench-toml-tomlpp ${HL_BENCH_DIR}/toml_bench_tomlpp.cpp)
  set_target_properties(bench-toml-tomlpp PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON
                                                     CXX_EXTENSIONS OFF)
  target_include_directories(bench-toml-tomlpp PRIVATE ${HL_BENCH_DIR})
  target_include_directories(bench-toml-tomlpp SYSTEM PRIVATE ${HL_TOMLPP_INCLUDE_DIR})
  # -Wstrict-prototypes is C-only (g++ warns about it); the project adds it to every language.
  get_target_property(HL_BENCH_CXX_OPTIONS bench-toml-tomlpp COMPILE_OPTIONS)
  if(HL_BENCH_CXX_OPTIONS)
    list(REMOVE_ITEM HL_BENCH_CXX_OPTIONS -Wstrict-prototypes)
    set_target_properties(bench-toml-tomlpp PROPERTIES COMPILE_OPTIONS "${HL_BENCH_CXX_OPTIONS}")
  endif()
else()
  message(STATUS "toml++ header not found: bench-toml-tomlpp is not built")
endif()

# `cmake --build DIR --target bench-toml` builds every benchmark program there is.
add_custom_target(bench-toml)
add_dependencies(bench-toml bench-toml-hl)
if(TARGET bench-toml-tomlpp)
  add_dependencies(bench-toml bench-toml-tomlpp)
endif()

# The sandbox benchmarks: they need the whole library and the test guests, so only in the full
# build, not in bench/standalone. hl_add_sandbox_bench(NAME SOURCES... GUESTS guest...): a
# program linked against the static library that builds after the guests it runs.
function(hl_add_sandbox_bench name)
  cmake_parse_arguments(B "" "" "GUESTS" ${ARGN})
  add_executable(${name} ${B_UNPARSED_ARGUMENTS})
  target_include_directories(${name} PRIVATE ${HL_BENCH_DIR})
  target_link_libraries(${name} PRIVATE hyperlight_static)
  foreach(guest ${B_GUESTS})
    if(TARGET ${guest})
      add_dependencies(${name} ${guest})
    endif()
  endforeach()
endfunction()

if(TARGET hyperlight_static)
  # every operation against the bare KVM baselines (bench/run-sandbox-bench.sh)
  hl_add_sandbox_bench(bench_sandbox ${HL_BENCH_DIR}/bench_sandbox.c ${HL_BENCH_DIR}/bench_kvm_bare.c
                       GUESTS simpleguest callbackguest)
  # two builds' libhyperlight.so in one process, calls interleaved (bench/compare-ab.sh)
  add_executable(bench_ab ${HL_BENCH_DIR}/bench_ab.c ${HL_BENCH_DIR}/bench_kvm_bare.c)
  target_include_directories(bench_ab PRIVATE ${HL_BENCH_DIR} ${HL_BENCH_ROOT}/include)
  target_link_libraries(bench_ab PRIVATE ${CMAKE_DL_LIBS})
  # one kind of call in a loop, for a profiler (bench/profile-kvm-call.sh)
  hl_add_sandbox_bench(bench_callloop ${HL_BENCH_DIR}/bench_callloop.c GUESTS simpleguest callbackguest)
  # host memory per sandbox (bench/run-density-bench.sh)
  hl_add_sandbox_bench(bench_density ${HL_BENCH_DIR}/bench_density.c GUESTS simpleguest)
  # what the gdb stub costs a call (KVM only; the emulated VM will do)
  hl_add_sandbox_bench(bench_gdb ${HL_BENCH_DIR}/bench_gdb.c GUESTS gdbguest)
endif()
