// ndshard/detail/text_csv.hpp — what pandas-written CSV needs beyond plain numbers: quoted fields,
// missing values, a header line of column names and a choice of columns.
//
// The parse of a row stays the plain one (text_parse.hpp): only a row that it cannot read, and
// every row when columns are chosen, is split into fields here, so plain files pay nothing.
#pragma once

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "ndshard/detail/text_error.hpp"
#include "ndshard/detail/text_lines.hpp"
#include "ndshard/error.hpp"

namespace ndshard::detail {

/// One field of a line as split_fields finds it.
struct text_field {
    const char* at;       ///< where it starts (after spaces): its byte column and raw token
    const char* begin;    ///< its content: inside the quotes when quoted, else the token
    const char* end;      ///< (spaces at either end of an unquoted token excluded)
    const char* raw_end;  ///< the end of the raw token (after its closing quote)
    bool quoted;
};

/// The fields of the data line at `ls` (which ends in '\n', before `end`), quote-aware: a field
/// that starts with `quote` (0: none) runs to the next lone quote, delimiters, spaces and the
/// comment character included, and may be followed only by spaces and a separator. Returns where
/// the line's data ends (its '\n' or comment character); `trailing` tells whether the line ended in
/// a delimiter, which left an empty last field. `first_field` is the 1-based field number of the
/// first field, for messages (2 after an embedding's word).
inline const char* split_fields(const text_layout& l, char quote, const char* ls, const char* end,
                                std::size_t line, std::vector<text_field>& fields, bool& trailing,
                                std::size_t first_field = 1) {
    using L = text_layout;
    fields.clear();
    trailing = false;
    const unsigned char stop = l.runs() ? L::c_space | L::c_end : L::c_delim | L::c_end;
    const char* q = ls;
    for (;;) {
        while (l.is(*q, L::c_space))
            ++q;
        text_field f{q, q, q, q, false};
        const std::size_t field = first_field + fields.size();
        if (quote != 0 && *q == quote) {
            const char* c = q + 1;
            for (;; ++c) {
                if (*c == '\n')
                    fail_parse(l.file(), line, field, static_cast<std::size_t>(q - ls) + 1,
                               "a closing quote on the same line (a quoted field cannot span "
                               "lines)",
                               std::string_view(q, static_cast<std::size_t>(c - q)));
                if (*c == quote) {
                    if (c[1] != quote) break;
                    ++c;  // a doubled quote is one quote
                }
            }
            f = {q, q + 1, c, c + 1, true};
            q = c + 1;
            if (!l.runs()) {  // with runs of spaces, the spaces after it are the separator
                while (l.is(*q, L::c_space))
                    ++q;
            }
            if (!l.is(*q, stop)) {
                const char* e = q;
                while (!l.is(*e, stop))
                    ++e;
                fail_parse(l.file(), line, field, static_cast<std::size_t>(q - ls) + 1,
                           "a delimiter after the closing quote",
                           std::string_view(q, static_cast<std::size_t>(e - q)));
            }
        } else {
            while (!l.is(*q, stop))
                ++q;
            const char* e = q;
            while (e > f.at && l.is(e[-1], L::c_space))
                --e;
            if (l.runs() && e == f.at) return q;  // the end of the line: no more fields
            f.end = f.raw_end = e;
        }
        fields.push_back(f);
        if (!l.runs()) {
            if (!l.is(*q, L::c_delim)) return q;
            trailing = l.ends_after_delimiter(q, end);
            ++q;
            if (trailing) {
                while (l.is(*q, L::c_space))
                    ++q;
                fields.push_back({q, q, q, q, false});
                return q;
            }
        }
    }
}

/// A field's content with doubled quotes made single.
[[nodiscard]] inline std::string unquoted(const text_field& f, char quote) {
    std::string s(f.begin, f.end);
    if (f.quoted) {
        std::size_t out = 0;
        for (std::size_t i = 0; i < s.size(); ++i, ++out) {
            s[out] = s[i];
            if (s[i] == quote) ++i;  // split_fields let only doubled quotes through
        }
        s.resize(out);
    }
    return s;
}

/// The number of fields of a line split_fields split: a delimiter at the end of a line starts
/// none (as text_layout::count_fields counts).
[[nodiscard]] inline std::size_t field_count(const std::vector<text_field>& fields,
                                             bool trailing) noexcept {
    return fields.size() - (trailing ? 1 : 0);
}

/// The pandas-compatible rules of one text read (text_read_options: quote, na_values, usecols).
struct csv_rules {
    char quote = 0;
    std::vector<std::string> na;       ///< missing-value spellings (floats only)
    std::vector<std::size_t> usecols;  ///< the file's field of each column read; empty: all
    std::size_t file_columns = 0;      ///< the fields of every data line
    bool empty_is_na = false;          ///< "" is among `na`

    [[nodiscard]] bool is_na(std::string_view s) const noexcept {
        return std::find(na.begin(), na.end(), s) != na.end();
    }
    /// Whether every row is split into fields (columns are chosen) rather than only rows the
    /// plain parse cannot read.
    [[nodiscard]] bool every_row() const noexcept { return !usecols.empty(); }
    /// Bytes a field takes at least, its separator or line end included.
    [[nodiscard]] std::size_t least_field_bytes() const noexcept { return empty_is_na ? 1 : 2; }
};

/// The text a column name is written as: quoted when it holds the delimiter, a quote, '#' or
/// spaces at either end (so that a read gives it back whole), a quote inside doubled.
[[nodiscard]] inline std::string header_field(const std::filesystem::path& file,
                                              std::string_view name, char delimiter) {
    if (name.find_first_of("\n\r") != std::string_view::npos)
        fail("cannot write", file,
             "expected column names without line ends, found '" + shorten(name) + "'");
    const bool quote =
        name.find_first_of(std::string{delimiter, '"', '#'}) != std::string_view::npos ||
        (!name.empty() && (name.front() == ' ' || name.front() == '\t' || name.back() == ' ' ||
                           name.back() == '\t'));
    if (!quote) return std::string(name);
    std::string s = "\"";
    for (const char c : name) {
        if (c == '"') s += '"';
        s += c;
    }
    return s + '"';
}

/// The header line of a write: the names joined by the delimiter, then '\n'; empty without
/// names. There must be one per column.
[[nodiscard]] inline std::string header_line(const std::filesystem::path& file,
                                             const std::vector<std::string>& names,
                                             std::size_t columns, char delimiter) {
    if (names.empty()) return {};
    if (names.size() != columns)
        fail("cannot write", file,
             "expected " + std::to_string(columns) + " column names (one per column), found " +
                 std::to_string(names.size()));
    std::string line;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i > 0) line += delimiter;
        line += header_field(file, names[i], delimiter);
    }
    return line + '\n';
}

}  // namespace ndshard::detail
