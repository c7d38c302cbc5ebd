// ndshard/detail/text_lines.hpp — lines of a text file: which are data, how many values they
// hold, where a byte range may be cut, how many rows each piece holds.
#pragma once

#include <array>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <vector>

namespace ndshard::detail {

/// Whether `c` can separate values: a byte that cannot occur inside a number (or nan, inf,
/// true, false) and does not end a line; ASCII, so it cannot be part of a UTF-8 sequence.
[[nodiscard]] inline bool can_delimit(char c) noexcept {
    const auto u = static_cast<unsigned char>(c);
    return u != 0 && u != '\n' && u != '\r' && u < 0x80 && !(u >= '0' && u <= '9') &&
           !(u >= 'a' && u <= 'z') && !(u >= 'A' && u <= 'Z') && u != '+' && u != '-' && u != '.';
}

/// How the lines of one text file split into values.
///
/// A line is a data line when, after spaces, tabs and '\r', something other than the end of the
/// line or the comment character follows; other lines (blank lines, comment lines) are skipped.
/// With `delimiter == ' '` values are separated by runs of spaces and tabs; otherwise by exactly
/// one delimiter, with spaces (and tabs, unless the delimiter is a tab) around values ignored.
/// The comment character ends the data of any line.
class text_layout {
  public:
    enum : unsigned char {
        c_space = 1,    ///< ignored around values (' ', '\r', '\t' unless it is the delimiter)
        c_end = 2,      ///< ends a line's data: '\n' and the comment character
        c_delim = 4,    ///< the delimiter (never set when values are separated by runs of spaces)
        c_special = 8,  ///< may begin a line that is not data: ' ', '\t', '\r', '\n', comment
    };

    text_layout(std::filesystem::path file, char delimiter, char comment)
        : file_(std::move(file)), delimiter_(delimiter), comment_(comment) {
        cls_.fill(0);
        set(' ', c_space | c_special);
        set('\r', c_space | c_special);
        set('\t', c_special | (delimiter == '\t' ? c_delim : c_space));
        set('\n', c_end | c_special);
        if (comment != 0) set(comment, c_end | c_special);
        if (delimiter != ' ' && delimiter != '\t') set(delimiter, c_delim);
    }

    [[nodiscard]] const std::filesystem::path& file() const noexcept { return file_; }
    [[nodiscard]] char delimiter() const noexcept { return delimiter_; }
    [[nodiscard]] char comment() const noexcept { return comment_; }
    /// Values are separated by runs of spaces and tabs.
    [[nodiscard]] bool runs() const noexcept { return delimiter_ == ' '; }
    [[nodiscard]] unsigned char cls(char c) const noexcept {
        return cls_[static_cast<unsigned char>(c)];
    }
    [[nodiscard]] bool is(char c, unsigned char bits) const noexcept {
        return (cls(c) & bits) != 0;
    }

    /// Whether the line starting at `p` holds data (see above); reads no further than `end`.
    [[nodiscard]] bool is_data_line(const char* p, const char* end) const noexcept {
        // most lines begin with a digit or a sign: no need to look further
        if (p < end && !is(*p, c_special)) return true;
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
            ++p;
        return p < end && !is(*p, c_end);
    }

    /// Whether the delimiter at `d` is the last thing on its line but spaces: "1\t2\t" and
    /// "1,2,\r\n" end in a delimiter, which starts no field (numpy reads them so). Reads no
    /// further than `end`.
    [[nodiscard]] bool ends_after_delimiter(const char* d, const char* end) const noexcept {
        do {
            ++d;
        } while (d < end && is(*d, c_space));
        return d == end || is(*d, c_end);
    }

    /// The number of fields on the data line starting at `p` (a word counts as one); a
    /// delimiter at the end of the line starts none.
    [[nodiscard]] std::size_t count_fields(const char* p, const char* end) const noexcept {
        std::size_t n = 0;
        if (runs()) {
            for (;;) {
                while (p < end && is(*p, c_space))
                    ++p;
                if (p == end || is(*p, c_end)) return n;
                ++n;
                while (p < end && !is(*p, c_space | c_end))
                    ++p;
            }
        }
        n = 1;
        const char* last = nullptr;  // the last delimiter
        for (; p < end && !is(*p, c_end); ++p) {
            if (is(*p, c_delim)) {
                ++n;
                last = p;
            }
        }
        return n - (last && ends_after_delimiter(last, end) ? 1 : 0);
    }

    /// Where the line after the one containing `p` starts (`end` when there is none).
    [[nodiscard]] static const char* next_line(const char* p, const char* end) noexcept {
        const auto* nl =
            static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
        return nl ? nl + 1 : end;
    }

    /// Line feeds and data lines in [begin, end), which starts at the start of a line.
    struct line_counts {
        std::size_t lines = 0;  ///< '\n' bytes: the next piece starts this many lines further
        std::size_t rows = 0;   ///< data lines
    };

    [[nodiscard]] line_counts count_lines(const char* begin, const char* end) const noexcept {
        line_counts n;
        for (const char* p = begin; p < end;) {
            if (is_data_line(p, end)) ++n.rows;
            const auto* nl =
                static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
            if (!nl) break;
            ++n.lines;
            p = nl + 1;
        }
        return n;
    }

  private:
    void set(char c, unsigned char bits) noexcept { cls_[static_cast<unsigned char>(c)] = bits; }

    std::filesystem::path file_;
    char delimiter_;
    char comment_;
    std::array<unsigned char, 256> cls_{};
};

/// Cuts [begin, end) into at most `pieces` consecutive ranges that each start at the start of a
/// line: returns the boundaries (first `begin`, last `end`). A cut that falls inside a line moves
/// forward to the start of the next one; ranges that end up empty are dropped.
[[nodiscard]] inline std::vector<const char*> split_at_lines(const char* begin, const char* end,
                                                             std::size_t pieces) {
    std::vector<const char*> cuts{begin};
    const auto size = static_cast<std::size_t>(end - begin);
    if (pieces == 0) pieces = 1;
    for (std::size_t k = 1; k < pieces; ++k) {
        const char* c = begin + size / pieces * k + size % pieces * k / pieces;
        if (c <= cuts.back()) continue;
        if (c[-1] != '\n') c = text_layout::next_line(c, end);
        if (c > cuts.back() && c < end) cuts.push_back(c);
    }
    if (end > begin) cuts.push_back(end);
    return cuts;
}

}  // namespace ndshard::detail
