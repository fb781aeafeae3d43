# package.cmake - CPack's DEB generator: one Debian package per install component (make package; docs/packages.md).
#
#   component   package                       contents (cmake/install.cmake says where each file goes)
#   runtime     libhyperlight<SOVERSION>      libhyperlight.so.N.M.m and its soname link libhyperlight.so.N
#   dev         libhyperlight-dev             headers, libhyperlight.a, the libhyperlight.so link,
#                                             hyperlight.pc, the CMake package
#   guest-sdk   hyperlight-guest-sdk          hyperlight-cc, the guest libraries and headers,
#                                             hyperlight-guest.pc, HyperlightGuest.cmake, hyperlight-cc(1)
#   tools       hyperlight-tools              the hyperlight CLI, hyperlight-vm, man pages, completion,
#                                             share/hyperlight (schema, examples, the VM's scripts)
#
# Debian's layout needs CMAKE_INSTALL_PREFIX=/usr at configure time (GNUInstallDirs then picks the
# multiarch libdir, lib/x86_64-linux-gnu); scripts/package.sh configures such a build and runs
# cpack in it. Versions come from include/hyperlight/version.h (PROJECT_VERSION), the Debian
# revision from HL_PACKAGE_RELEASE. (cpack in a build with another prefix packages that prefix.)
# Depends: dpkg-shlibdeps (dpkg-dev) computes the shared-library dependencies of the ELF programs
# and libraries; the rest is written here.
include_guard(GLOBAL)
include(GNUInstallDirs)

set(HL_PACKAGE_MAINTAINER "hyperlight-c maintainers <maintainers@users.noreply.r-seed-cd7f8dc0.example>"
    CACHE STRING "the Maintainer field of the Debian packages")
set(HL_PACKAGE_RELEASE 1 CACHE STRING "the Debian revision of the packages (VERSION-RELEASE)")

# The soname's number, as src/ sets it on the shared library: Debian names the runtime package after it.
get_target_property(HL_PACKAGE_SOVERSION hyperlight_shared SOVERSION)
if(NOT HL_PACKAGE_SOVERSION MATCHES "^[0-9]+$")
  message(FATAL_ERROR "package.cmake: hyperlight_shared has no numeric SOVERSION (${HL_PACKAGE_SOVERSION})")
endif()
set(HL_PACKAGE_RUNTIME libhyperlight${HL_PACKAGE_SOVERSION})
set(HL_PACKAGE_FULL_VERSION ${PROJECT_VERSION}-${HL_PACKAGE_RELEASE})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME hyperlight)
set(CPACK_PACKAGE_VENDOR "hyperlight-c")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${HL_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR})
# the packages install exactly what `cmake --install` would, under the configured prefix
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev guest-sdk tools)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${HL_PACKAGE_RELEASE})
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE amd64)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
# A DEBIAN/shlibs file for the package that holds a shared library (only the runtime one), so that
# dpkg-shlibdeps maps libhyperlight.so.N to it for programs built against it. CPack also adds the
# ldconfig postinst/postrm to that package. (CMake 3.25 has no Multi-Arch field.)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")

# --- runtime: libhyperlight0 ----------------------------------------------------------------------
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME ${HL_PACKAGE_RUNTIME})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION "run guest functions in KVM micro-VMs (shared library)
hyperlight-c runs small statically linked guest programs in KVM micro-VMs and
calls their functions, in the spirit of Microsoft's Hyperlight. Sandboxes are
configured from code or from a hyperfile.toml, with a host policy that bounds
what a configuration may ask for.

This package contains the shared library libhyperlight.so.${HL_PACKAGE_SOVERSION}.")

# --- dev: libhyperlight-dev -------------------------------------------------------------------------
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libhyperlight-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "${HL_PACKAGE_RUNTIME} (= ${HL_PACKAGE_FULL_VERSION})")
set(CPACK_DEBIAN_DEV_PACKAGE_RECOMMENDS "pkg-config, hyperlight-guest-sdk (= ${HL_PACKAGE_FULL_VERSION})")
set(CPACK_DEBIAN_DEV_PACKAGE_SUGGESTS "cmake, hyperlight-tools")
set(CPACK_DEBIAN_DEV_DESCRIPTION "run guest functions in KVM micro-VMs (development files)
hyperlight-c runs small statically linked guest programs in KVM micro-VMs and
calls their functions, in the spirit of Microsoft's Hyperlight.

This package contains what a host program needs to build against the library:
the headers, the static library, the libhyperlight.so link, the pkg-config
file hyperlight.pc and the CMake package (find_package(hyperlight)).")

# --- guest-sdk: hyperlight-guest-sdk -------------------------------------------------------------
# hyperlight-cc runs the system C compiler (cc, or HL_CC) over musl's headers and libc.a
set(CPACK_DEBIAN_GUEST-SDK_PACKAGE_NAME hyperlight-guest-sdk)
set(CPACK_DEBIAN_GUEST-SDK_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_GUEST-SDK_PACKAGE_DEPENDS "musl-dev, gcc | c-compiler")
set(CPACK_DEBIAN_GUEST-SDK_PACKAGE_SUGGESTS "hyperlight-tools, libhyperlight-dev")
set(CPACK_DEBIAN_GUEST-SDK_DESCRIPTION "build guests for hyperlight KVM micro-VMs
hyperlight-c runs small statically linked guest programs in KVM micro-VMs and
calls their functions, in the spirit of Microsoft's Hyperlight.

This package contains the guest SDK: hyperlight-cc, a compiler driver that
builds guests with the system C compiler and musl, the guest libraries and
headers (including Hyperlight's C guest API), the pkg-config file
hyperlight-guest.pc and hyperlight_add_guest() for CMake projects.")

# --- tools: hyperlight-tools ---------------------------------------------------------------------
# The CLI links the static library (tools/CMakeLists.txt): no dependency on the runtime package;
# dpkg-shlibdeps adds libc6. hyperlight-vm runs the KVM tests in a QEMU-emulated VM.
set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME hyperlight-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_TOOLS_PACKAGE_RECOMMENDS "hyperlight-guest-sdk (= ${HL_PACKAGE_FULL_VERSION})")
set(CPACK_DEBIAN_TOOLS_PACKAGE_SUGGESTS "qemu-system-x86, busybox-static, cpio, xz-utils")
set(CPACK_DEBIAN_TOOLS_DESCRIPTION "run guest functions in KVM micro-VMs (command-line tools)
hyperlight-c runs small statically linked guest programs in KVM micro-VMs and
calls their functions, in the spirit of Microsoft's Hyperlight.

This package contains the hyperlight command (run a guest function; check a
hyperfile.toml and print its diagnostics or effective configuration; init,
schema, reference), hyperlight-vm (runs a command inside a QEMU-emulated VM with KVM, for
hosts without /dev/kvm), the man pages, bash completion, the hyperfile JSON
Schema and example hyperfiles.")

include(CPack)
