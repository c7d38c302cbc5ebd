# The codec libraries of ndshard::zarr (zarr stores compressed with zstd, blosc, zlib/gzip), from
# Debian's libzstd-dev, libblosc-dev and zlib1g-dev. Neither ships a CMake package Debian's cmake
# can rely on, so their headers and libraries are found directly. Sets NDSHARD_ZARR_CODECS_FOUND;
# never fails: the core target needs none of them.
set(NDSHARD_ZARR_CODECS_FOUND FALSE)
# ndshard::<name>: an imported library from <header> and lib<name>, when both are found
function(_ndshard_find_codec name header)
  if(TARGET ndshard::${name})
    return()
  endif()
  string(TOUPPER "${name}" upper)
  find_path(NDSHARD_${upper}_INCLUDE_DIR ${header})
  find_library(NDSHARD_${upper}_LIBRARY ${name})
  if(NDSHARD_${upper}_INCLUDE_DIR AND NDSHARD_${upper}_LIBRARY)
    add_library(ndshard::${name} UNKNOWN IMPORTED)
    set_target_properties(ndshard::${name} PROPERTIES
      IMPORTED_LOCATION "${NDSHARD_${upper}_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${NDSHARD_${upper}_INCLUDE_DIR}")
  endif()
endfunction()
_ndshard_find_codec(zstd zstd.h)
_ndshard_find_codec(blosc blosc.h)
find_package(ZLIB QUIET)
if(TARGET ndshard::zstd AND TARGET ndshard::blosc AND TARGET ZLIB::ZLIB)
  set(NDSHARD_ZARR_CODECS_FOUND TRUE)
else()
  set(_missing "")
  if(NOT TARGET ndshard::zstd)
    list(APPEND _missing libzstd-dev)
  endif()
  if(NOT TARGET ndshard::blosc)
    list(APPEND _missing libblosc-dev)
  endif()
  if(NOT TARGET ZLIB::ZLIB)
    list(APPEND _missing zlib1g-dev)
  endif()
  string(REPLACE ";" " " _missing "${_missing}")
  set(NDSHARD_ZARR_CODECS_MISSING "${_missing}")
endif()
