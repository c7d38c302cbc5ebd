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
#include <utility>
#include <vector>

#include "ndshard/detail/text_error.hpp"
#include "ndshard/detail/text_lines.hpp"
#include "ndshard/error.hpp"

namespace ndshard::detail {

/// One field of a line as scan_fields finds it.
struct text_field {
    const char* at;       ///< where it starts (after spaces): its byte column and raw token
    const char* begin;    ///< its content: inside the quotes when quoted, else the token
    const char* end;      ///< (spaces at either end of an unquoted token excluded)
    const char* raw_end;  ///< the end of the raw token (after its closing quote)
    bool quoted;
};

/// Visits the fields of the data line at `ls` (which ends in '\n', before `end`), quote-aware,
/// left to right, storing none: visit(field, index, trailing_empty) for each. A field that starts
/// with `quote` (0: none) runs to the next lone quote, delimiters, spaces and the comment
/// character included, and may be followed only by spaces and a separator. A line that ends in
/// a delimiter gets an empty last field with `trailing_empty` set. Fields from index `strict` on
/// are only counted: a quote problem there ends or widens the field instead of failing (the row
/// has too many fields anyway, and the first problem is reported left to right). Returns where
/// the line's data ends (its '\n' or comment character); `count` is the number of fields.
template <class Visit>
const char* scan_fields(const text_layout& l, char quote, const char* ls, const char* end,
                        std::size_t line, std::size_t strict, Visit&& visit, std::size_t& count) {
    using L = text_layout;
    count = 0;
    const unsigned char stop = l.runs() ? L::c_space | L::c_end : L::c_delim | L::c_end;
    const char* q = ls;
    for (;;) {
        while (l.is(*q, L::c_space))
            ++q;
        text_field f{q, q, q, q, false};
        const bool lenient = count >= strict;
        if (quote != 0 && *q == quote) {
            const char* c = q + 1;
            for (; *c != '\n'; ++c) {
                if (*c == quote) {
                    if (c[1] != quote) break;
                    ++c;  // a doubled quote is one quote
                }
            }
            if (*c == '\n') {
                if (!lenient)
                    fail_parse(l.file(), line, count + 1, static_cast<std::size_t>(q - ls) + 1,
                               "a closing quote on the same line (a quoted field cannot span "
                               "lines)",
                               std::string_view(q, static_cast<std::size_t>(c - q)));
                visit(text_field{q, q + 1, c, c, true}, count++, false);
                return c;
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
                if (!lenient)
                    fail_parse(l.file(), line, count + 1, static_cast<std::size_t>(q - ls) + 1,
                               "a delimiter after the closing quote",
                               std::string_view(q, static_cast<std::size_t>(e - q)));
                q = f.raw_end = e;
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
        visit(f, count++, false);
        if (l.runs()) continue;
        if (!l.is(*q, L::c_delim)) return q;
        const bool trailing = l.ends_after_delimiter(q, end);
        ++q;
        if (trailing) {
            while (l.is(*q, L::c_space))
                ++q;
            visit(text_field{q, q, q, q, false}, count++, true);
            return q;
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
            if (s[i] == quote) ++i;  // scan_fields lets only doubled quotes through
        }
        s.resize(out);
    }
    return s;
}

/// The pandas-compatible rules of one text read (text_read_options: quote, na_values, usecols).
struct csv_rules {
    char quote = 0;
    std::vector<std::string> na;       ///< missing-value spellings (NaN in floats)
    std::vector<std::size_t> usecols;  ///< the file's field of each column read; empty: all
    /// (field, column) of every column read, by field: a row's fields are visited in order
    std::vector<std::pair<std::size_t, std::size_t>> picks;
    std::size_t file_columns = 0;  ///< the fields of every data line
    bool empty_is_na = false;      ///< "" is among `na`

    [[nodiscard]] bool is_na(std::string_view s) const noexcept {
        return std::find(na.begin(), na.end(), s) != na.end();
    }
    /// Whether every row is scanned field by field (columns are chosen) rather than only rows
    /// the plain parse cannot read.
    [[nodiscard]] bool every_row() const noexcept { return !usecols.empty(); }
    /// Bytes a field takes at least, its separator or line end included.
    [[nodiscard]] std::size_t least_field_bytes() const noexcept { return empty_is_na ? 1 : 2; }
};

/// The text a column name is written as: quoted when it is empty, holds the delimiter, a quote,
/// '#', a tab or a comma (which a reader may take for the delimiter), spaces at either end or, with
/// runs of spaces as the delimiter, any space (so that a read gives it back whole); a quote inside
/// doubled.
[[nodiscard]] inline std::string header_field(const std::filesystem::path& file,
                                              std::string_view name, char delimiter) {
    if (name.find_first_of("\n\r") != std::string_view::npos)
        fail("cannot write", file,
             "expected column names without line ends, found '" + shorten(name) + "'");
    const bool quote =
        name.empty() ||
        name.find_first_of(std::string{delimiter, '"', '#', '\t', ','}) != std::string_view::npos ||
        (delimiter == ' ' && name.find(' ') != std::string_view::npos) || name.front() == ' ' ||
        name.back() == ' ';
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
