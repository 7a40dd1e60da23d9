# consumer_test.cmake — run by ctest as `cmake -P`: install goro, build a project against it.
#
#   GORO_BUILD_DIR       the goro build tree to install (already built)
#   GORO_CONFIG          its configuration (multi-config generators), may be empty
#   GORO_VERSION         the version the installed package must report
#   CONSUMER_SOURCE_DIR  the consumer project
#   WORK_DIR             scratch directory: prefix/ and build/ are made here, afresh
#   CONSUMER_GENERATOR, CONSUMER_CXX_COMPILER   as for goro's own build
cmake_minimum_required(VERSION 3.22)

foreach(var GORO_BUILD_DIR GORO_VERSION CONSUMER_SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "consumer_test.cmake: -D${var}=... is required")
  endif()
endforeach()

# Runs a command; on failure prints its output and stops the test.
function(run_step what)
  execute_process(COMMAND ${ARGN}
    RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "install/consumer: ${what} failed (${result}):\n${out}")
  endif()
  message(STATUS "install/consumer: ${what}: ok")
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

set(prefix ${WORK_DIR}/prefix)
set(build ${WORK_DIR}/build)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

# 1. Install.
set(config_args "")
if(GORO_CONFIG)
  set(config_args --config ${GORO_CONFIG})
endif()
run_step("install into ${prefix}"
  ${CMAKE_COMMAND} --install ${GORO_BUILD_DIR} --prefix ${prefix} ${config_args})

# 2. The installed tree has what find_package and #include need.
file(GLOB_RECURSE config_files ${prefix}/*/goroConfig.cmake)
file(GLOB_RECURSE version_files ${prefix}/*/goroConfigVersion.cmake)
if(NOT config_files OR NOT version_files)
  message(FATAL_ERROR "install/consumer: no goroConfig.cmake / goroConfigVersion.cmake under ${prefix}")
endif()
if(NOT EXISTS ${prefix}/include/goro/goro.hpp)
  message(FATAL_ERROR "install/consumer: ${prefix}/include/goro/goro.hpp was not installed")
endif()

# 3. Configure the consumer against the prefix only: no package registry, no system goro.
set(configure_args
  -S ${CONSUMER_SOURCE_DIR} -B ${build}
  -DCMAKE_PREFIX_PATH=${prefix}
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
  -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF
  -DGORO_EXPECTED_VERSION=${GORO_VERSION})
if(CONSUMER_GENERATOR)
  list(APPEND configure_args -G ${CONSUMER_GENERATOR})
endif()
if(CONSUMER_CXX_COMPILER)
  list(APPEND configure_args -DCMAKE_CXX_COMPILER=${CONSUMER_CXX_COMPILER})
endif()
if(GORO_CONFIG)
  list(APPEND configure_args -DCMAKE_BUILD_TYPE=${GORO_CONFIG})
endif()
run_step("configure the consumer" ${CMAKE_COMMAND} ${configure_args})
string(FIND "${step_output}" "goro_DIR=${prefix}/" at)
if(at EQUAL -1)
  message(FATAL_ERROR "install/consumer: goro was not found in ${prefix}:\n${step_output}")
endif()

# 4. Build it.
run_step("build the consumer" ${CMAKE_COMMAND} --build ${build} ${config_args})

# 5. Run it: it prints "consumer: ok" when its goroutines did their work.
if(GORO_CONFIG AND EXISTS ${build}/${GORO_CONFIG}/consumer)
  set(exe ${build}/${GORO_CONFIG}/consumer)
else()
  set(exe ${build}/consumer)
endif()
run_step("run the consumer" ${exe})
message(STATUS "${step_output}")
if(NOT step_output MATCHES "consumer: ok" OR NOT step_output MATCHES "goro ${GORO_VERSION}")
  message(FATAL_ERROR "install/consumer: unexpected output:\n${step_output}")
endif()
