# install.cmake - the install layout (GNUInstallDirs): library, headers, CLI, pkg-config, CMake package, man pages, share/.
#
#   cmake --install build --prefix P        (or: make install PREFIX=P DESTDIR=...)
#
#   P/include/hyperlight/*.h                       public headers                      (dev)
#   P/<libdir>/libhyperlight.so.N[.M.m]            shared library                      (runtime)
#   P/<libdir>/libhyperlight.so, libhyperlight.a   link-time files                     (dev)
#   P/<libdir>/pkgconfig/hyperlight.pc, hyperlight-guest.pc                            (dev)
#   P/<libdir>/cmake/hyperlight/                   hyperlightConfig*.cmake, targets    (dev)
#   P/bin/hyperlight, P/bin/hyperlight-vm          the CLI and the emulated-KVM runner (tools)
#   P/share/man/man1, man5                         hyperlight(1) hyperlight-cc(1)
#                                                  hyperlight-vm(1) hyperfile(5)       (tools)
#   P/share/bash-completion/completions/hyperlight                                     (tools)
#   P/share/hyperlight/                            hyperfile.schema.json, examples/,
#                                                  vm/ (what hyperlight-vm runs)       (tools)
#   P/bin/hyperlight-cc, P/<libdir>/hyperlight/, P/include/hyperlight-guest/           (guest-sdk,
#                                                  guest/CMakeLists.txt, tools/CMakeLists.txt)
# Components in parentheses, for packaging. Nothing installed names the build tree: the pkg-config
# files and the CMake package find the prefix relative to themselves.
include_guard(GLOBAL)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
include(${CMAKE_CURRENT_LIST_DIR}/docgen.cmake)

set(HL_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/hyperlight)
set(HL_DATA_DIR ${CMAKE_INSTALL_DATADIR}/hyperlight)

# The debug information of what is installed names the sources (for debuggers) but not the build
# tree, whose path would otherwise be each object's compilation directory.
foreach(t hl_objects hyperlight hyperlight_guest hyperlight_guest_capi)
  target_compile_options(${t} PRIVATE "-fdebug-prefix-map=${CMAKE_BINARY_DIR}=.")
endforeach()

# --- the library ---------------------------------------------------------------------------------
# Users of the installed targets get P/include; this tree's targets keep include/ (src/ sets it).
foreach(t hyperlight_shared hyperlight_static)
  set_property(TARGET ${t} PROPERTY INTERFACE_INCLUDE_DIRECTORIES
               "$<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>;$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>")
endforeach()
set_target_properties(hyperlight_shared PROPERTIES EXPORT_NAME hyperlight)
set_target_properties(hyperlight_static PROPERTIES EXPORT_NAME hyperlight_static)

install(TARGETS hyperlight_shared hyperlight_static EXPORT hyperlightTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT dev
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
# every public header, by glob: a header added to include/hyperlight/ is installed without an edit here
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/hyperlight/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/hyperlight
        COMPONENT dev FILES_MATCHING PATTERN "*.h")

# --- CMake package: hyperlight::hyperlight, hyperlight::hyperlight_static, hyperlight_add_guest()
install(EXPORT hyperlightTargets NAMESPACE hyperlight:: FILE hyperlightTargets.cmake
        DESTINATION ${HL_CMAKE_DIR} COMPONENT dev)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/hyperlightConfig.cmake.in
  ${CMAKE_BINARY_DIR}/install/hyperlightConfig.cmake
  INSTALL_DESTINATION ${HL_CMAKE_DIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_BINDIR)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/install/hyperlightConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/install/hyperlightConfig.cmake ${CMAKE_BINARY_DIR}/install/hyperlightConfigVersion.cmake
        DESTINATION ${HL_CMAKE_DIR} COMPONENT dev)

# --- pkg-config: the prefix relative to the .pc file (${pcfiledir}), so a moved prefix still works
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(HL_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH HL_PC_UP /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
  string(REGEX REPLACE "/$" "" HL_PC_UP "${HL_PC_UP}")
  set(HL_PC_PREFIX "\${pcfiledir}/${HL_PC_UP}")
endif()
foreach(pc hyperlight hyperlight-guest)
  configure_file(${CMAKE_CURRENT_LIST_DIR}/${pc}.pc.in ${CMAKE_BINARY_DIR}/install/${pc}.pc @ONLY)
endforeach()
install(FILES ${CMAKE_BINARY_DIR}/install/hyperlight.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)
install(FILES ${CMAKE_BINARY_DIR}/install/hyperlight-guest.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
        COMPONENT guest-sdk)

# --- the programs, their man pages and completion ------------------------------------------------
install(TARGETS hyperlight RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tools)
install(FILES ${HL_SHARE_BUILD_DIR}/man/man1/hyperlight.1 ${HL_SHARE_BUILD_DIR}/man/man1/hyperlight-vm.1
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT tools)
install(FILES ${HL_SHARE_BUILD_DIR}/man/man1/hyperlight-cc.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
        COMPONENT guest-sdk)
install(FILES ${HL_SHARE_BUILD_DIR}/man/man5/hyperfile.5 DESTINATION ${CMAKE_INSTALL_MANDIR}/man5 COMPONENT tools)
install(FILES ${HL_SHARE_BUILD_DIR}/completions/hyperlight
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions COMPONENT tools)

# --- share/hyperlight: the schema, the examples -------------------------------------------------
install(FILES ${HL_SHARE_BUILD_DIR}/hyperfile.schema.json DESTINATION ${HL_DATA_DIR} COMPONENT tools)
file(GLOB HL_EXAMPLE_HYPERFILES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/examples/*.toml)
install(FILES ${HL_EXAMPLE_HYPERFILES} DESTINATION ${HL_DATA_DIR}/examples COMPONENT tools)
foreach(dir guest host)
  if(IS_DIRECTORY ${PROJECT_SOURCE_DIR}/examples/${dir})
    install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/${dir} DESTINATION ${HL_DATA_DIR}/examples COMPONENT tools)
  endif()
endforeach()

# --- hyperlight-vm: scripts/vm-test.sh and its pieces, run by a wrapper in bin/ --------------------
set(HL_VM_DATADIR ${HL_DATA_DIR}/vm)
file(RELATIVE_PATH HL_VM_FROM_BINDIR /p/${CMAKE_INSTALL_BINDIR} /p/${HL_VM_DATADIR})
configure_file(${PROJECT_SOURCE_DIR}/scripts/hyperlight-vm.in ${CMAKE_BINARY_DIR}/install/hyperlight-vm @ONLY)
install(PROGRAMS ${CMAKE_BINARY_DIR}/install/hyperlight-vm DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tools)
install(PROGRAMS ${PROJECT_SOURCE_DIR}/scripts/vm-test.sh ${PROJECT_SOURCE_DIR}/scripts/vm/prepare.sh
        DESTINATION ${HL_VM_DATADIR} COMPONENT tools)
install(FILES ${PROJECT_SOURCE_DIR}/scripts/vm/init DESTINATION ${HL_VM_DATADIR} COMPONENT tools)
