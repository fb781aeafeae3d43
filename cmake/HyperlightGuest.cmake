# HyperlightGuest.cmake - hyperlight_add_guest(): build a hyperlight guest with hyperlight-cc from any CMake project.
#
#   include(HyperlightGuest)   # from <prefix>/lib/cmake/hyperlight, or this tree's cmake/
#   hyperlight_add_guest(myguest
#       SOURCES main.c util.c          # C sources (relative to the current source dir)
#       [CAPI]                         # written against Hyperlight's C guest API
#       [COMPILE_OPTIONS -O2 -DX=1]    # passed to every compilation
#       [INCLUDE_DIRECTORIES dir...]
#       [LINK_OPTIONS -lm]
#       [DEPENDS file-or-target...])   # what must exist before compiling
#
# Builds ${CMAKE_CURRENT_BINARY_DIR}/guests/myguest (target myguest, built by ALL; its property
# HYPERLIGHT_GUEST_FILE holds that path) with
# HYPERLIGHT_CC: a cache variable, found on PATH and beside this file's prefix when unset.
# Each source is compiled on its own with dependency tracking (-MD), then linked.

function(hyperlight_add_guest name)
  cmake_parse_arguments(G "CAPI" "" "SOURCES;COMPILE_OPTIONS;INCLUDE_DIRECTORIES;LINK_OPTIONS;DEPENDS" ${ARGN})
  if(NOT G_SOURCES)
    message(FATAL_ERROR "hyperlight_add_guest(${name}): no SOURCES")
  endif()
  if(NOT HYPERLIGHT_CC)
    get_filename_component(_hl_prefix "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/../../.." ABSOLUTE)
    get_filename_component(_hl_prefix2 "${_hl_prefix}/.." ABSOLUTE) # lib/<multiarch>/cmake/hyperlight
    find_program(HYPERLIGHT_CC hyperlight-cc HINTS "${_hl_prefix}/bin" "${_hl_prefix2}/bin" REQUIRED)
  endif()
  set(flags ${G_COMPILE_OPTIONS})
  if(G_CAPI)
    list(PREPEND flags --hyperlight-capi)
  endif()
  foreach(dir ${G_INCLUDE_DIRECTORIES})
    get_filename_component(dir "${dir}" ABSOLUTE)
    list(APPEND flags "-I${dir}")
  endforeach()
  set(objdir ${CMAKE_CURRENT_BINARY_DIR}/${name}.dir)
  file(MAKE_DIRECTORY ${objdir})
  set(objs "")
  foreach(src ${G_SOURCES})
    get_filename_component(abs "${src}" ABSOLUTE)
    string(MAKE_C_IDENTIFIER "${src}" stem)
    set(obj ${objdir}/${stem}.o)
    add_custom_command(OUTPUT ${obj}
      COMMAND ${HYPERLIGHT_CC} ${flags} -MD -MF ${obj}.d -c ${abs} -o ${obj}
      DEPENDS ${abs} ${G_DEPENDS}
      DEPFILE ${obj}.d
      COMMENT "hyperlight-cc: compiling ${src} for guest ${name}"
      VERBATIM)
    list(APPEND objs ${obj})
  endforeach()
  set(link "")
  if(G_CAPI)
    set(link --hyperlight-capi)
  endif()
  set(out ${CMAKE_CURRENT_BINARY_DIR}/guests/${name})
  file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/guests)
  add_custom_command(OUTPUT ${out}
    COMMAND ${HYPERLIGHT_CC} ${link} ${objs} ${G_LINK_OPTIONS} -o ${out}
    DEPENDS ${objs} ${G_DEPENDS}
    COMMENT "hyperlight-cc: linking guest ${name}"
    VERBATIM)
  add_custom_target(${name} ALL DEPENDS ${out})
  set_target_properties(${name} PROPERTIES HYPERLIGHT_GUEST_FILE ${out})
endfunction()
