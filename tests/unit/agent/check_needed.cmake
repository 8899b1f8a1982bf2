# cmake -DREADELF=readelf -DFILES="a;b" -DFORBIDDEN="libsystemd" -P check_needed.cmake
# Fails when one of FILES has a DT_NEEDED entry matching a FORBIDDEN regex:
# edge-agent must not link libsystemd (sd_notify is common/notify.c, sd-bus is
# dlopen()ed by the BlueZ cuff backend), which would map ~1 MiB of libsystemd,
# libgcrypt, liblzma, libzstd, liblz4 and libcap into every agent.
if(NOT READELF)
  set(READELF readelf)
endif()
set(bad "")
foreach(f IN LISTS FILES)
  execute_process(COMMAND ${READELF} -d ${f} OUTPUT_VARIABLE out ERROR_VARIABLE err
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${READELF} -d ${f} failed (${rc}): ${err}")
  endif()
  string(REGEX MATCHALL "\\(NEEDED\\)[^\n]*\\[[^]\n]*\\]" lines "${out}")
  set(needed "")
  foreach(l IN LISTS lines)
    string(REGEX REPLACE ".*\\[([^]]*)\\].*" "\\1" lib "${l}")
    list(APPEND needed ${lib})
  endforeach()
  # libc at least: an empty list means the output was not understood
  if(NOT needed MATCHES "libc\\.so")
    message(FATAL_ERROR "${f}: no NEEDED libc.so.* in `${READELF} -d` output:\n${out}")
  endif()
  message(STATUS "${f}: NEEDED ${needed}")
  foreach(lib IN LISTS needed)
    foreach(re IN LISTS FORBIDDEN)
      if(lib MATCHES "${re}")
        list(APPEND bad "${f}: ${lib}")
      endif()
    endforeach()
  endforeach()
endforeach()
if(bad)
  list(JOIN bad "\n  " bad)
  message(FATAL_ERROR "linked against a forbidden library:\n  ${bad}")
endif()
