# Debian packages of edge-agent through CPack (DEB generator).
#
# Included last by the top-level CMakeLists (not in EDGE_HAL_ONLY builds): the
# install rules of the subdirectories (binaries from edge_executable(), board
# files from boards/) are in place; this adds the deployment files and the
# Debian metadata. Build with scripts/package.sh [amd64|arm64], or by hand:
#
#   cmake -S . -B build-pkg -DCMAKE_INSTALL_PREFIX=/usr -DEDGE_TESTS=OFF
#   cmake --build build-pkg -j2 && (cd build-pkg && cpack -G DEB)
#
# Layout of the package (prefix /usr):
#   /usr/bin/edge-*, /usr/bin/edgectl          binaries present in this build
#   /usr/share/edge-agent/boards/*.json        board descriptors
#   /lib/systemd/system/edge-agent.service     deploy/systemd/edge-agent.service
#   /etc/edge-agent/edge-agent.json            deploy/edge-agent.json (conffile)
#   /usr/share/doc/edge-agent/                 README.md, docs/*.md
#   postinst: system user/group edge-agent (member of the unit's
#   SupplementaryGroups, created if missing), /var/lib/edge-agent (0750)
#   postrm purge: removes /var/lib/edge-agent, /etc/edge-agent and the user.

if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  message(STATUS "EdgePackaging: CMAKE_INSTALL_PREFIX is ${CMAKE_INSTALL_PREFIX}; "
                 "Debian packages need -DCMAKE_INSTALL_PREFIX=/usr (scripts/package.sh does it)")
endif()

set(EDGE_PKG_USER edge-agent CACHE STRING "System user the packaged daemon runs as")
set(EDGE_PKG_STATE_DIR /var/lib/edge-agent CACHE PATH "State directory created by the package")
# Groups the daemon's user joins; created when missing (see postinst.in). The
# unit's SupplementaryGroups= are added automatically.
set(EDGE_PKG_DEVICE_GROUPS i2c gpio dialout)
# GNUInstallDirs maps prefix /usr to /etc; another prefix P gets P/etc.
set(EDGE_INSTALL_CONFDIR ${CMAKE_INSTALL_FULL_SYSCONFDIR}/edge-agent)
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  # bookworm's dh_installsystemd location (/lib is /usr/lib on merged-/usr)
  set(_unitdir_default /lib/systemd/system)
else()
  set(_unitdir_default ${CMAKE_INSTALL_PREFIX}/lib/systemd/system)
endif()
set(EDGE_INSTALL_UNITDIR ${_unitdir_default} CACHE PATH "Where the systemd unit is installed")

# --- deployment files (written by the agent's authors in deploy/) ----------
set(EDGE_PKG_UNIT ${CMAKE_SOURCE_DIR}/deploy/systemd/edge-agent.service)
set(EDGE_PKG_CONFIG ${CMAKE_SOURCE_DIR}/deploy/edge-agent.json)
set(EDGE_PKG_MISSING "")
if(EXISTS ${EDGE_PKG_UNIT})
  install(FILES ${EDGE_PKG_UNIT} DESTINATION ${EDGE_INSTALL_UNITDIR})
  file(STRINGS ${EDGE_PKG_UNIT} _groups REGEX "^SupplementaryGroups=")
  foreach(_line IN LISTS _groups)
    string(REGEX REPLACE "^SupplementaryGroups=" "" _line "${_line}")
    separate_arguments(_line UNIX_COMMAND "${_line}")
    list(APPEND EDGE_PKG_DEVICE_GROUPS ${_line})
  endforeach()
  list(REMOVE_DUPLICATES EDGE_PKG_DEVICE_GROUPS)
else()
  list(APPEND EDGE_PKG_MISSING deploy/systemd/edge-agent.service)
endif()
set(_conffiles "")
if(EXISTS ${EDGE_PKG_CONFIG})
  install(FILES ${EDGE_PKG_CONFIG} DESTINATION ${EDGE_INSTALL_CONFDIR})
  string(APPEND _conffiles "${EDGE_INSTALL_CONFDIR}/edge-agent.json\n")
else()
  list(APPEND EDGE_PKG_MISSING deploy/edge-agent.json)
endif()
if(EDGE_PKG_MISSING)
  message(WARNING "EdgePackaging: not in the source tree yet, the package will lack: "
                  "${EDGE_PKG_MISSING}")
endif()
# Read by scripts/package.sh and scripts/package-check.sh.
file(WRITE ${CMAKE_BINARY_DIR}/edge-package-missing.txt "${EDGE_PKG_MISSING}\n")

# The units' Documentation= point here (README.md, provisioning.md, ...).
file(GLOB _docs ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/docs/*.md)
if(_docs)
  install(FILES ${_docs} DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/edge-agent)
endif()

# --- maintainer scripts ---------------------------------------------------
list(JOIN EDGE_PKG_DEVICE_GROUPS " " EDGE_PKG_DEVICE_GROUPS)
set(_pkgdir ${CMAKE_BINARY_DIR}/debian-control)
file(MAKE_DIRECTORY ${_pkgdir})
foreach(script postinst prerm postrm)
  configure_file(${CMAKE_CURRENT_LIST_DIR}/packaging/${script}.in ${_pkgdir}/${script}
                 @ONLY NEWLINE_STYLE UNIX
                 FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE
                                  GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
endforeach()
set(_control_extra ${_pkgdir}/postinst ${_pkgdir}/prerm ${_pkgdir}/postrm)
if(_conffiles)
  file(WRITE ${_pkgdir}/conffiles "${_conffiles}")
  list(APPEND _control_extra ${_pkgdir}/conffiles)
else()
  file(REMOVE ${_pkgdir}/conffiles)
endif()

# --- Debian architecture ----------------------------------------------------
if(CMAKE_CROSSCOMPILING)
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
    set(EDGE_DEB_ARCH arm64)
    set(EDGE_DEB_TRIPLE aarch64-linux-gnu)
  elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^arm")
    set(EDGE_DEB_ARCH armhf)
    set(EDGE_DEB_TRIPLE arm-linux-gnueabihf)
  else()
    message(FATAL_ERROR "EdgePackaging: no Debian architecture for ${CMAKE_SYSTEM_PROCESSOR}")
  endif()
else()
  execute_process(COMMAND dpkg --print-architecture OUTPUT_VARIABLE EDGE_DEB_ARCH
                  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(NOT EDGE_DEB_ARCH)
    set(EDGE_DEB_ARCH amd64)
  endif()
  set(EDGE_DEB_TRIPLE "")
endif()

# --- CPack ------------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME edge-agent)
set(CPACK_PACKAGE_VENDOR "edge-agent project")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "health-monitoring IoT edge agent for Linux gateways")
set(CPACK_PACKAGE_DESCRIPTION
"Collects vital-sign readings from I2C/UART/BLE sensors and CoAP nodes, stores
them in a local SQLite outbox and publishes them over MQTT with TLS
(at-least-once). Includes edgectl (local control), edge-factory (device
identity), edge-provisiond (provisioning API), edge-ota-sign (OTA manifests)
and edge-fleet-exporter (Prometheus metrics), as far as built.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/packages)

set(CPACK_DEBIAN_PACKAGE_MAINTAINER "edge-agent maintainers <edge-agent@example.org>")
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${EDGE_DEB_ARCH})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)            # edge-agent_<ver>_<arch>.deb
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
# Shared-library dependencies come from dpkg-shlibdeps (also for arm64: the
# project config below points it at the target architecture). The user
# management tools used by postinst are listed by hand.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser | passwd")
# No program links libsystemd (sd_notify is common/notify.c): the BlueZ cuff
# backend dlopen()s libsystemd.so.0, which dpkg-shlibdeps cannot see, and only
# a board with a cuff needs it. Every systemd-based Debian has libsystemd0;
# Recommends records it without forcing it onto minimal images.
get_property(_edge_have_sdbus GLOBAL PROPERTY EDGE_HAVE_SDBUS)
if(_edge_have_sdbus)
  set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libsystemd0")
endif()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${_control_extra})
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

# Evaluated by cpack itself (not by cmake): set the environment dpkg-shlibdeps
# needs to resolve foreign-architecture libraries (multiarch /usr/lib/<triple>,
# <triple>-objdump, the :arm64 packages' symbols files).
set(CPACK_PROJECT_CONFIG_FILE ${CMAKE_BINARY_DIR}/EdgeCPackConfig.cmake)
file(WRITE ${CPACK_PROJECT_CONFIG_FILE}
"# Generated by cmake/EdgePackaging.cmake
if(\"${EDGE_DEB_TRIPLE}\" STREQUAL \"\")
  return()
endif()
set(ENV{DEB_HOST_ARCH} ${EDGE_DEB_ARCH})
set(ENV{DEB_HOST_GNU_TYPE} ${EDGE_DEB_TRIPLE})
set(ENV{DEB_HOST_MULTIARCH} ${EDGE_DEB_TRIPLE})
set(ENV{CC} ${EDGE_DEB_TRIPLE}-gcc)
")

include(CPack)
