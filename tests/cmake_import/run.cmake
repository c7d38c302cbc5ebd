# Builds and runs one consumer project of tests/cmake_import (run by ctest):
#   cmake -DMODE=find_package|add_subdirectory -DSOURCE_DIR=<ndshard source> -DBUILD_DIR=<its build>
#         -DWORK_DIR=<scratch> -DGENERATOR=<generator> -DCXX=<compiler> -DCXX_FLAGS=<flags>
#         -DBUILD_TYPE=<type> [-DWITH_MPI=ON] -P run.cmake
# find_package: installs BUILD_DIR into WORK_DIR/prefix first, and the consumer must find it there.
cmake_minimum_required(VERSION 3.21)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " command "${ARGN}")
    message(FATAL_ERROR "failed (${rc}): ${command}")
  endif()
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
set(args -G "${GENERATOR}" "-DCMAKE_CXX_COMPILER=${CXX}" "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
    "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}" "-DWITH_MPI=${WITH_MPI}")
if(MODE STREQUAL "find_package")
  run("${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${WORK_DIR}/prefix")
  list(APPEND args "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix" "-DEXPECTED_PREFIX=${WORK_DIR}/prefix")
elseif(MODE STREQUAL "add_subdirectory")
  list(APPEND args "-DNDSHARD_SOURCE_DIR=${SOURCE_DIR}")
else()
  message(FATAL_ERROR "MODE must be find_package or add_subdirectory, found '${MODE}'")
endif()
run("${CMAKE_COMMAND}" -S "${CMAKE_CURRENT_LIST_DIR}/${MODE}" -B "${WORK_DIR}/build" ${args})
run("${CMAKE_COMMAND}" --build "${WORK_DIR}/build" -j2)
run("${WORK_DIR}/build/consumer" "${WORK_DIR}/data")
run("${WORK_DIR}/build/consumer_zarr" "${WORK_DIR}/zarr")
if(WITH_MPI)
  run("${WORK_DIR}/build/consumer_mpi" "${WORK_DIR}/mpi")
endif()
