# Cross toolchain: 64-bit ARM (Raspberry Pi 3/4/5, Zero 2 W on a 64-bit OS,
# generic aarch64 gateways) on a Debian bookworm build machine.
#
#   apt-get install gcc-aarch64-linux-gnu qemu-user   # or scripts/install-deps.sh --cross
#   dpkg --add-architecture arm64 && apt-get update
#   apt-get install libmosquitto-dev:arm64 libmbedtls-dev:arm64 ...   # see install-deps.sh
#   cmake -S . -B build-aarch64 \
#         -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake
#
# Tests run through qemu-aarch64 (CMAKE_CROSSCOMPILING_EMULATOR); see docs/build.md.
set(EDGE_CROSS_TRIPLE aarch64-linux-gnu)
set(EDGE_CROSS_PROCESSOR aarch64)
set(EDGE_CROSS_QEMU qemu-aarch64)
set(EDGE_CROSS_DEB_ARCH arm64)
include(${CMAKE_CURRENT_LIST_DIR}/EdgeCrossCommon.cmake)
