// ndshard/version.hpp — the library's version.
#pragma once

#define NDSHARD_VERSION_MAJOR 0
#define NDSHARD_VERSION_MINOR 1
#define NDSHARD_VERSION_PATCH 0

namespace ndshard {
inline constexpr const char* version = "0.1.0";
}  // namespace ndshard
