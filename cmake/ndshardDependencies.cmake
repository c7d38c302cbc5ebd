# The dependencies of ndshard's public headers, used by the installed package's config file.
# (The source tree finds the same packages with REQUIRED in CMakeLists.txt.)
include(CMakeFindDependencyMacro)
set(THREADS_PREFER_PTHREAD_FLAG ON)
find_dependency(Threads)
find_dependency(xtensor)
find_dependency(FastFloat)
find_dependency(nlohmann_json 3)
include("${CMAKE_CURRENT_LIST_DIR}/ndshardXxhash.cmake")
