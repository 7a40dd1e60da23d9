# GoroInstall.cmake — install goro and export it as a CMake package.
#
# Included from the top-level CMakeLists.txt when GORO_INSTALL is on. After
#   cmake --install <build> --prefix <prefix>
# another project finds goro with
#   find_package(goro REQUIRED)          # CMAKE_PREFIX_PATH=<prefix>
#   target_link_libraries(app PRIVATE goro::goro)
# and may ask for parts: find_package(goro REQUIRED COMPONENTS core net http).
#
# What gets installed:
#   include/goro/…                      the public headers of core, net and http
#   lib/libgoro_*.a                     the static libraries
#   lib/cmake/goro/goroConfig.cmake     finds goro's own dependencies, then the targets
#   lib/cmake/goro/goroConfigVersion.cmake   SameMajorVersion compatibility
#   lib/cmake/goro/goroTargets*.cmake   goro::core, goro::net, goro::http, goro::goro
#
# The build tree is exported too (goro_DIR=<build> works without installing).
#
# Adding a library: a new target that an exported goro target links (even PRIVATE, since
# the libraries are static) must be listed in GORO_EXPORTED_TARGETS below, and any new
# third-party package it links must be found again by the config (see
# GORO_CONFIG_DEPENDENCIES).

include(CMakePackageConfigHelpers)

set(GORO_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/goro CACHE STRING
  "Where goro's CMake package files are installed, relative to the prefix")
set(GORO_EXPORTED_TARGETS goro_core goro_net goro_http goro_goro)
set(GORO_TARGETS_EXPORT_NAME goroTargets)

# ---- headers -----------------------------------------------------------------------------
# Each component keeps its public headers under <component>/include/goro/; net and http
# only have them once they carry code of their own.
foreach(component core net http)
  if(EXISTS ${PROJECT_SOURCE_DIR}/${component}/include)
    install(DIRECTORY ${PROJECT_SOURCE_DIR}/${component}/include/
      DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
      COMPONENT goro_development
      FILES_MATCHING PATTERN "*.hpp" PATTERN "*.h")
  endif()
endforeach()

# ---- sanitizer builds --------------------------------------------------------------------
# A static library compiled with -fsanitize needs the sanitizer's runtime in whatever links
# it: carry the link flag to consumers of an installed sanitizer build. (Inside this build
# GoroSanitizers.cmake already adds it to every link.)
if(GORO_SANITIZE STREQUAL "address")
  set_property(TARGET goro_core APPEND PROPERTY INTERFACE_LINK_OPTIONS
    $<INSTALL_INTERFACE:-fsanitize=address,undefined>)
elseif(GORO_SANITIZE STREQUAL "thread")
  set_property(TARGET goro_core APPEND PROPERTY INTERFACE_LINK_OPTIONS
    $<INSTALL_INTERFACE:-fsanitize=thread>)
endif()

# ---- libraries and their export ----------------------------------------------------------
install(TARGETS ${GORO_EXPORTED_TARGETS}
  EXPORT ${GORO_TARGETS_EXPORT_NAME}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT goro_development
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT goro_runtime
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT goro_runtime
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

install(EXPORT ${GORO_TARGETS_EXPORT_NAME}
  NAMESPACE goro::
  DESTINATION ${GORO_CMAKE_DIR}
  COMPONENT goro_development)

# The same targets, pointing into this build tree.
export(EXPORT ${GORO_TARGETS_EXPORT_NAME}
  NAMESPACE goro::
  FILE ${PROJECT_BINARY_DIR}/${GORO_TARGETS_EXPORT_NAME}.cmake)

# ---- config and version files ------------------------------------------------------------
# Packages the static libraries need at link time, found again by goroConfig.cmake.
# Threads always; the others when a goro library actually links them.
set(GORO_CONFIG_DEPENDENCIES "find_dependency(Threads)")
set(goro_link_deps "")
foreach(target ${GORO_EXPORTED_TARGETS})
  foreach(property LINK_LIBRARIES INTERFACE_LINK_LIBRARIES)
    get_target_property(libs ${target} ${property})
    if(libs)
      list(APPEND goro_link_deps ${libs})
    endif()
  endforeach()
endforeach()
if(goro_link_deps MATCHES "OpenSSL::")
  string(APPEND GORO_CONFIG_DEPENDENCIES "\nfind_dependency(OpenSSL)")
endif()
unset(goro_link_deps)

set(GORO_PROJECT_CONFIG ${PROJECT_BINARY_DIR}/goroConfig.cmake)
set(GORO_VERSION_CONFIG ${PROJECT_BINARY_DIR}/goroConfigVersion.cmake)

configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/goroConfig.cmake.in
  ${GORO_PROJECT_CONFIG}
  INSTALL_DESTINATION ${GORO_CMAKE_DIR})

write_basic_package_version_file(${GORO_VERSION_CONFIG}
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMajorVersion)

install(FILES ${GORO_PROJECT_CONFIG} ${GORO_VERSION_CONFIG}
  DESTINATION ${GORO_CMAKE_DIR}
  COMPONENT goro_development)
