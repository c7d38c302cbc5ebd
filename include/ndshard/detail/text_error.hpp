// ndshard/detail/text_error.hpp — the messages of text parsing errors, one spelling each:
//
//   ndshard: cannot parse 'data.tsv' line 3, column 7: expected a number, found 'abc'
//   ndshard: ragged row in 'data.tsv' line 4, column 52: expected 10 values, found 9
//
// Lines and columns count from 1; a column counts bytes from the start of its line.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "ndshard/error.hpp"

namespace ndshard::detail {

/// "'file' line L, column C"
inline std::string text_position(const std::filesystem::path& file, std::size_t line,
                                 std::size_t column) {
    return quoted(file) + " line " + std::to_string(line) + ", column " + std::to_string(column);
}

/// A token that is not what the column holds: "ndshard: cannot parse 'f' line L, column C:
/// expected <expected>, found '<token>'" (the token shortened).
[[noreturn]] inline void fail_parse(const std::filesystem::path& file, std::size_t line,
                                    std::size_t column, std::string_view expected,
                                    std::string_view token) {
    throw parse_error("ndshard: cannot parse " + text_position(file, line, column) + ": expected " +
                          std::string(expected) + ", found '" + shorten(token) + "'",
                      line, column);
}

/// "3 values", "1 value"
inline std::string count_of_values(std::size_t n) {
    return std::to_string(n) + (n == 1 ? " value" : " values");
}

/// A row with too few or too many values: "ndshard: ragged row in 'f' line L, column C: expected
/// N values, found M". The column is where the missing value was expected, or where the first
/// extra value begins.
[[noreturn]] inline void fail_ragged(const std::filesystem::path& file, std::size_t line,
                                     std::size_t column, std::size_t expected, std::size_t found) {
    throw parse_error("ndshard: ragged row in " + text_position(file, line, column) +
                          ": expected " + count_of_values(expected) + ", found " +
                          std::to_string(found),
                      line, column);
}

}  // namespace ndshard::detail
