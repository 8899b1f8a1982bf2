# Project-wide warning, hardening and sanitizer flags (applied to project code only).
set(EDGE_WARNING_FLAGS
  -Wall -Wextra -Wshadow -Wconversion -Wno-sign-conversion -Wformat=2
  -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith -Wcast-qual
  -Wundef -Wvla -Wnull-dereference -Wdouble-promotion)
if(EDGE_WERROR)
  list(APPEND EDGE_WARNING_FLAGS -Werror)
endif()

set(EDGE_HARDEN_FLAGS -fstack-protector-strong -fno-strict-aliasing)
if(NOT EDGE_SANITIZE AND NOT CMAKE_BUILD_TYPE STREQUAL "Debug")
  list(APPEND EDGE_HARDEN_FLAGS -D_FORTIFY_SOURCE=2)
endif()
add_compile_options(-fPIE)
add_link_options(-pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack)

if(EDGE_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# libFuzzer: instrument every library for coverage, not just the fuzz
# executables (static libraries would be invisible to the fuzzer otherwise).
if(EDGE_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
