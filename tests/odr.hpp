// tests/odr.hpp — the two functions of the ODR test, one in each translation unit.
#pragma once

#include <filesystem>
#include <string>

/// Saves, loads, writes and reads a small array; returns "ok <a temporary name>" when the loaded
/// arrays agree.
std::string ndshard_odr_a(const std::filesystem::path& dir);
std::string ndshard_odr_b(const std::filesystem::path& dir);
