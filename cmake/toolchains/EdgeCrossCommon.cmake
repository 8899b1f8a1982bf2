# Shared body of the Debian multiarch cross toolchain files. Not a toolchain file
# itself: cmake/toolchains/<triple>.cmake sets EDGE_CROSS_TRIPLE,
# EDGE_CROSS_PROCESSOR and EDGE_CROSS_QEMU, then includes this file.
#
# Layout on a Debian host (bookworm) for triple T:
#   compiler        /usr/bin/T-gcc              (gcc-T)
#   cross libc      /usr/T/{lib,include}        (libc6-dev-<arch>-cross, qemu's -L root)
#   foreign libs    /usr/lib/T, /usr/include/T  (dpkg --add-architecture <arch>; lib*-dev:<arch>)
#   shared headers  /usr/include                (arch-independent parts of -dev packages)
# This file is read several times per configure (once per try_compile): keep it
# free of side effects other than setting variables and the pkg-config environment.

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${EDGE_CROSS_PROCESSOR})

set(CMAKE_C_COMPILER ${EDGE_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${EDGE_CROSS_TRIPLE}-g++)
# Debian's cross gcc already searches /usr/lib/T and /usr/include/T; telling CMake
# the multiarch tuple makes find_library()/find_path() search the same places.
set(CMAKE_LIBRARY_ARCHITECTURE ${EDGE_CROSS_TRIPLE})

# Search roots: the cross libc tree first, then the host root, where multiarch
# puts the foreign libraries (/usr/lib/T). Programs (code generators, pkg-config,
# python) always come from the build machine; libraries, headers and packages
# only from below the roots, so an amd64 library in /usr/lib/x86_64-linux-gnu
# is never picked up (CMAKE_LIBRARY_ARCHITECTURE selects /usr/lib/T).
set(CMAKE_FIND_ROOT_PATH /usr/${EDGE_CROSS_TRIPLE} /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config: only the target architecture's .pc files (plus arch-independent
# ones). PKG_CONFIG_LIBDIR replaces the default search path entirely, and an
# inherited PKG_CONFIG_PATH would leak host paths back in, so clear it.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${EDGE_CROSS_TRIPLE}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
unset(ENV{PKG_CONFIG_SYSROOT_DIR})

# Run target binaries (tests, generators used at build time) through qemu-user;
# binfmt_misc is not available on the CI machines. -L makes qemu resolve the
# ELF interpreter (/lib/ld-linux-*.so.*) and absolute paths inside the cross
# libc tree first, falling back to the host root (/usr/lib/T).
find_program(EDGE_QEMU_${EDGE_CROSS_PROCESSOR} ${EDGE_CROSS_QEMU}
             PATHS /usr/bin /usr/local/bin NO_CMAKE_FIND_ROOT_PATH)
if(EDGE_QEMU_${EDGE_CROSS_PROCESSOR})
  set(CMAKE_CROSSCOMPILING_EMULATOR
      ${EDGE_QEMU_${EDGE_CROSS_PROCESSOR}} -L /usr/${EDGE_CROSS_TRIPLE})
else()
  # Building still works; ctest then cannot run the tests.
  set(CMAKE_CROSSCOMPILING_EMULATOR ${EDGE_CROSS_QEMU} -L /usr/${EDGE_CROSS_TRIPLE})
endif()
