# Debian's libxxhash-dev ships no CMake config: find the header. ndshard uses xxhash header-only
# (XXH_INLINE_ALL), so there is no library to link.
if(NOT TARGET ndshard::xxhash)
  find_path(NDSHARD_XXHASH_INCLUDE_DIR xxhash.h)
  if(NOT NDSHARD_XXHASH_INCLUDE_DIR)
    message(FATAL_ERROR "ndshard: xxhash.h not found (Debian: apt-get install libxxhash-dev)")
  endif()
  add_library(ndshard::xxhash INTERFACE IMPORTED)
  set_target_properties(ndshard::xxhash PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${NDSHARD_XXHASH_INCLUDE_DIR}")
endif()
