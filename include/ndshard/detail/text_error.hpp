// ndshard/detail/text_error.hpp — the messages of text parsing errors, one spelling each:
//
//   ndshard: cannot parse 'data.tsv' line 3, field 2 (byte 7): expected a number, found 'abc'
//   ndshard: ragged row in 'data.tsv' line 4, field 10 (byte 52): expected 10 values, found 9
//
// Lines, fields and bytes count from 1: a field counts the values of its line (an embedding's
// word is field 1), a byte column counts bytes from the start of its line.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "ndshard/error.hpp"

namespace ndshard::detail {

/// "'file' line L, field F (byte C)"
inline std::string text_position(const std::filesystem::path& file, std::size_t line,
                                 std::size_t field, std::size_t column) {
    return quoted(file) + " line " + std::to_string(line) + ", field " + std::to_string(field) +
           " (byte " + std::to_string(column) + ")";
}

/// A token that is not what the field holds: "ndshard: cannot parse 'f' line L, field F (byte
/// C): expected <expected>, found '<token>'" (the token shortened), then " (<hint>)" if any.
[[noreturn]] inline void fail_parse(const std::filesystem::path& file, std::size_t line,
                                    std::size_t field, std::size_t column,
                                    std::string_view expected, std::string_view token,
                                    std::string_view hint = {}) {
    std::string m = "ndshard: cannot parse " + text_position(file, line, field, column) +
                    ": expected " + std::string(expected) + ", found '" + shorten(token) + "'";
    if (!hint.empty()) m += " (" + std::string(hint) + ")";
    throw parse_error(m, line, column, field);
}

/// "3 values", "1 value"
inline std::string count_of_values(std::size_t n) {
    return std::to_string(n) + (n == 1 ? " value" : " values");
}

/// A row with too few or too many values: "ndshard: ragged row in 'f' line L, field F (byte C):
/// expected N values, found M". The field and byte are where the missing value was expected, or
/// where the first extra value begins.
[[noreturn]] inline void fail_ragged(const std::filesystem::path& file, std::size_t line,
                                     std::size_t field, std::size_t column, std::size_t expected,
                                     std::size_t found) {
    throw parse_error("ndshard: ragged row in " + text_position(file, line, field, column) +
                          ": expected " + count_of_values(expected) + ", found " +
                          std::to_string(found),
                      line, column, field);
}

}  // namespace ndshard::detail
