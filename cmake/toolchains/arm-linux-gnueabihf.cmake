# Cross toolchain: 32-bit ARM hard-float (Raspberry Pi OS 32-bit, ARMv7 gateways)
# on a Debian bookworm build machine.
#
# Only the cross compiler and its libc are available: armhf multiarch is broken on
# our mirror (adding the architecture makes every `apt-get update` fail, see
# DESIGN section 4), so there are no armhf -dev packages. Build what needs no
# foreign library:
#
#   apt-get install gcc-arm-linux-gnueabihf qemu-user
#   cmake -S . -B build-armhf -DEDGE_HAL_ONLY=ON \
#         -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/arm-linux-gnueabihf.cmake
#
# Tests run through qemu-arm (CMAKE_CROSSCOMPILING_EMULATOR); see docs/build.md.
set(EDGE_CROSS_TRIPLE arm-linux-gnueabihf)
set(EDGE_CROSS_PROCESSOR arm)
set(EDGE_CROSS_QEMU qemu-arm)
set(EDGE_CROSS_DEB_ARCH armhf)
include(${CMAKE_CURRENT_LIST_DIR}/EdgeCrossCommon.cmake)
