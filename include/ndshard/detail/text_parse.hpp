// ndshard/detail/text_parse.hpp — text to numbers: correctly rounded floats (fast_float, straight
// into float or double), range-checked integers, bools; rows of a byte range straight into their
// place in the destination.
#pragma once

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>

#include <fast_float/fast_float.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "ndshard/detail/text_csv.hpp"
#include "ndshard/detail/text_error.hpp"
#include "ndshard/detail/text_lines.hpp"
#include "ndshard/dtype.hpp"
#include "ndshard/error.hpp"

namespace ndshard::detail {

#if defined(__SSE2__)
/// The number formed by 16 digit values (bytes 0..9, the first most significant): three rounds
/// of multiply-add on pairs (SSE2 only, so no dispatch is needed on x86-64).
inline std::uint64_t sixteen_digits(__m128i d) noexcept {
    const __m128i zero = _mm_setzero_si128();
    const __m128i tens = _mm_set_epi16(1, 10, 1, 10, 1, 10, 1, 10);
    const __m128i lo = _mm_madd_epi16(_mm_unpacklo_epi8(d, zero), tens);  // 4 pairs
    const __m128i hi = _mm_madd_epi16(_mm_unpackhi_epi8(d, zero), tens);  // 4 pairs
    __m128i x =
        _mm_madd_epi16(_mm_packs_epi32(lo, hi), _mm_set_epi16(1, 100, 1, 100, 1, 100, 1, 100));
    x = _mm_packs_epi32(x, x);  // 4 groups of 4 digits, each < 10^4
    x = _mm_madd_epi16(x, _mm_set_epi16(1, 10000, 1, 10000, 1, 10000, 1, 10000));
    const auto a = static_cast<std::uint32_t>(_mm_cvtsi128_si32(x));
    const auto b = static_cast<std::uint32_t>(_mm_cvtsi128_si32(_mm_srli_si128(x, 4)));
    return std::uint64_t{a} * 100000000 + b;
}
#endif

/// The spelling shortest round-trip and numpy's %.18e produce — [-]d.ddd[e±x], one digit before
/// the point, at most 18 after — parsed with SIMD digit conversion and Eisel-Lemire
/// (fast_float::compute_float), correctly rounded; returns nullptr for anything else, which
/// fast_float's general parser then takes. Reads up to 21 bytes from `p` (all before `end`).
/// Measured on the reference data (17-digit values): 10.9 ns per value against fast_float's
/// 12.9 (thread CPU time).
template <class F>
inline const char* parse_float_common(const char* p, const char* end, F& out) noexcept {
#if defined(__SSE2__)
    const bool negative = *p == '-';
    p += negative ? 1 : 0;
    if (end - p < 21 || static_cast<unsigned>(p[0] - '0') >= 10 || p[1] != '.') return nullptr;
    const char* f = p + 2;
    const __m128i x =
        _mm_sub_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(f)), _mm_set1_epi8('0'));
    const __m128i not_digit =
        _mm_or_si128(_mm_cmplt_epi8(x, _mm_setzero_si128()), _mm_cmpgt_epi8(x, _mm_set1_epi8(9)));
    auto n = static_cast<unsigned>(
        __builtin_ctz(static_cast<unsigned>(_mm_movemask_epi8(not_digit)) | 0x10000u));
    if (n == 0) return nullptr;
    // the 17th and 18th fraction digits, without branches: how many digits there are varies
    // from value to value and would be mispredicted
    const auto d16 = static_cast<unsigned>(f[16] - '0'), d17 = static_cast<unsigned>(f[17] - '0');
    const unsigned t16 = static_cast<unsigned>(n == 16) & static_cast<unsigned>(d16 < 10);
    const unsigned t17 = t16 & static_cast<unsigned>(d17 < 10);
    const std::uint64_t tail = t16 * d16 * 10 + t17 * d17;
    n += t16 + t17;
    if (t17 && static_cast<unsigned>(f[18] - '0') < 10) return nullptr;  // 19 or more
    const __m128i index = _mm_set_epi8(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m128i keep = _mm_cmplt_epi8(index, _mm_set1_epi8(static_cast<char>(n)));
    // the digits, zero-padded to 19: w * 10^-18 is the mantissa's value
    const std::uint64_t w = static_cast<std::uint64_t>(p[0] - '0') * 1000000000000000000ULL +
                            sixteen_digits(_mm_and_si128(x, keep)) * 100 + tail;
    std::int64_t exponent = -18;
    const char* e = f + n;
    if ((*e | 0x20) == 'e') {
        const char* t = e + 1;
        const bool minus = t < end && *t == '-';
        t += (t < end && (*t == '-' || *t == '+')) ? 1 : 0;
        if (t >= end || static_cast<unsigned>(*t - '0') >= 10) return nullptr;
        std::int64_t v = 0;
        for (; t < end && static_cast<unsigned>(*t - '0') < 10; ++t)
            if (v < 100000) v = v * 10 + (*t - '0');  // far beyond any finite result
        exponent += minus ? -v : v;
        e = t;
    }
    const fast_float::adjusted_mantissa am =
        fast_float::compute_float<fast_float::binary_format<F>>(exponent, w);
    if (am.power2 < 0) return nullptr;  // too close to call: fast_float settles it
    fast_float::to_float(negative, am, out);
    return e;
#else
    (void)p;
    (void)end;
    (void)out;
    return nullptr;
#endif
}

/// Parses one value at `p` (no leading spaces) into `out`; returns the first byte after it, or
/// nullptr when no value of type T starts there or it is out of T's range. Reads no further than
/// `end`. Floats accept a leading '+', exponents, and nan / inf / infinity in any case (rounded
/// correctly, overflowing to ±inf as IEEE-754 rounding does); integers accept a leading '+';
/// bools are 0, 1, true or false (any case).
template <class T>
[[nodiscard]] inline const char* parse_value(const char* p, const char* end, T& out) noexcept {
    if (p >= end) return nullptr;
    if constexpr (std::is_same_v<T, bool>) {
        if (*p == '0' || *p == '1') {
            out = *p == '1';
            return p + 1;
        }
        const auto word = [&](const char* w, std::size_t n) {
            if (static_cast<std::size_t>(end - p) < n) return false;
            for (std::size_t i = 0; i < n; ++i)
                if ((p[i] | 0x20) != w[i]) return false;
            return true;
        };
        if (word("true", 4)) {
            out = true;
            return p + 4;
        }
        if (word("false", 5)) {
            out = false;
            return p + 5;
        }
        return nullptr;
    } else {
        // '+' is allowed once, before a digit, a point or a name ("+-1" stays an error)
        if (*p == '+' && end - p > 1 && p[1] != '-' && p[1] != '+') ++p;
        if constexpr (std::is_floating_point_v<T>) {
            if (const char* e = parse_float_common(p, end, out)) return e;
            const auto r = fast_float::from_chars(p, end, out);
            return r.ec == std::errc() ? r.ptr : nullptr;
        } else {
            const auto r = std::from_chars(p, end, out);
            return r.ec == std::errc() ? r.ptr : nullptr;
        }
    }
}

/// What a column of T holds, for messages: "a number", "an integer from -128 to 127",
/// "0, 1, true or false".
template <class T>
[[nodiscard]] std::string expected_value() {
    if constexpr (std::is_same_v<T, bool>) {
        return "0, 1, true or false";
    } else if constexpr (std::is_floating_point_v<T>) {
        return "a number";
    } else {
        return "an integer from " + std::to_string(std::numeric_limits<T>::min()) + " to " +
               std::to_string(std::numeric_limits<T>::max());
    }
}

/// What a float parse does with a finite value beyond the type's range ("1e300" as float32),
/// which IEEE-754 rounding makes infinite: an error (the default), the same error with a hint at
/// text_read_options::overflow_to_infinity (where the caller can set it), or the infinity.
enum class float_overflow { fail, fail_with_hint, to_infinity };

/// The float_overflow of a read with text_read_options::overflow_to_infinity = `to_infinity`.
[[nodiscard]] inline float_overflow overflow_rule(bool to_infinity) noexcept {
    return to_infinity ? float_overflow::to_infinity : float_overflow::fail_with_hint;
}

/// Parses the data lines of byte ranges of one file straight into their rows.
///
/// Within a range every line but the file's last ends with '\n', so the scanning loops need no
/// bounds checks: '\n' stops them. A last line without '\n' is copied and given one.
template <class T>
class row_parser {
  public:
    /// `columns` values per row; with `words`, a word (any bytes but separators) precedes them.
    /// With `rules` (never with words), rows are read as pandas reads CSV (text_csv.hpp).
    row_parser(const text_layout& layout, std::size_t columns, bool words,
               float_overflow overflow = float_overflow::fail, const csv_rules* rules = nullptr)
        : l_(layout), columns_(columns), words_(words), overflow_(overflow), rules_(rules) {}

    /// Parses the `rows` data lines of [begin, end) (a range that starts at a line start and ends
    /// at a line end or at the end of the file) into out[0, rows * columns), and the words into
    /// words[0, rows) when the layout has words. `first_line` is the 1-based number of the line
    /// at `begin`.
    void parse_range(const char* begin, const char* end, std::size_t first_line, std::size_t rows,
                     T* out, std::string* words) const {
        if (rows == 0) return;
        const char* tail = end;  // start of a last line that lacks its '\n', if any
        if (end[-1] != '\n') {
            tail = begin;
            for (const char* p = end; p > begin; --p)
                if (p[-1] == '\n') {
                    tail = p;
                    break;
                }
        }
        const bool tail_row = tail < end && l_.is_data_line(tail, end);
        const std::size_t main_rows = rows - (tail_row ? 1 : 0);
        std::size_t line = first_line;
        const char* p = parse_lines(begin, tail, line, main_rows, out, words);
        if (!tail_row) return;
        while (p < tail) {  // blank and comment lines before the last line
            p = text_layout::next_line(p, tail);
            ++line;
        }
        std::string last(tail, end);
        last += '\n';
        parse_lines(last.data(), last.data() + last.size(), line, 1, out + main_rows * columns_,
                    words ? words + main_rows : nullptr);
    }

  private:
    /// Parses `rows` data lines from `p`, every line of [p, end) ending in '\n'; returns where the
    /// line after the last row starts. `line` follows along.
    const char* parse_lines(const char* p, const char* end, std::size_t& line, std::size_t rows,
                            T* out, std::string* words) const {
        for (std::size_t r = 0; r < rows; ++r) {
            for (;;) {  // skip blank and comment lines
                // the rows were counted by the same rule: running out means the file changed
                if (p >= end) fail("cannot read", l_.file(), "the file changed while it was read");
                if (l_.is_data_line(p, end)) break;
                p = text_layout::next_line(p, end);
                ++line;
            }
            p = parse_row(p, end, line, out + r * columns_, words ? words + r : nullptr);
            ++line;
        }
        return p;
    }

    /// One data line at `ls` into out[0, columns); returns the start of the next line.
    const char* parse_row(const char* ls, const char* end, std::size_t line, T* out,
                          std::string* word) const {
        if (rules_ && rules_->every_row()) return parse_fields(ls, end, line, out);
        return parse_plain(ls, end, line, out, word, rules_ != nullptr);
    }

    /// The row at `ls` by the CSV rules: its fields scanned (quotes), the chosen ones parsed,
    /// missing values as NaN; returns the start of the next line. Used for a row the plain
    /// parse cannot read, and for every row when columns are chosen. A problem is reported at
    /// the first field it concerns, left to right, as the plain parse reports it; nothing is
    /// stored per field, so a line of any length costs no memory.
    const char* parse_fields(const char* ls, const char* end, std::size_t line, T* out) const {
        const std::size_t want = rules_->file_columns;
        const bool chosen = rules_->every_row();
        const auto& picks = rules_->picks;
        std::size_t n = 0;          // the values of the row (an empty last field: when it is one)
        std::size_t pick = 0;       // the next of `picks`
        const char* last_end = ls;  // the end of field `want`
        bool trailing = false;
        std::size_t count = 0;
        const char* q = scan_fields(
            l_, rules_->quote, ls, end, line, want,
            [&](const text_field& t, std::size_t i, bool trailing_empty) {
                // "1,2,3," holds 3 values; "1,2," holds 3 when an empty field is a missing value
                trailing = trailing_empty;
                if (trailing_empty && (i == want || !rules_->empty_is_na)) return;
                n = i + 1;
                if (i >= want) return;
                if (i + 1 == want) last_end = t.raw_end;
                if (!chosen) {
                    read_field(t, ls, line, i, out[i]);
                    return;
                }
                if (pick == picks.size() || picks[pick].first != i) return;
                T& v = out[picks[pick].second];
                read_field(t, ls, line, i, v);
                while (++pick < picks.size() && picks[pick].first == i)  // a column read twice
                    out[picks[pick].second] = v;
            },
            count);
        if (n < want)
            fail_ragged(l_.file(), line, n + 1, static_cast<std::size_t>(q - ls) + 1, want, n);
        if (n > want) {  // at the first extra value
            const char* x = last_end;
            while (l_.is(*x, text_layout::c_space | text_layout::c_delim))
                ++x;
            fail_ragged(l_.file(), line, want + 1, static_cast<std::size_t>(x - ls) + 1, want,
                        count - (trailing ? 1 : 0));
        }
        if (*q == '\n') return q + 1;
        return text_layout::next_line(q, end);  // a comment after the values
    }

    /// One field by the CSV rules into `v`: a number (spaces inside quotes allowed), or a
    /// missing value (NaN; an error for types without one).
    void read_field(const text_field& t, const char* ls, std::size_t line, std::size_t f,
                    T& v) const {
        const char* b = t.begin;
        const char* e = t.end;
        if (t.quoted) {  // spaces inside quotes, around a number
            while (b < e && l_.is(*b, text_layout::c_space))
                ++b;
            while (e > b && l_.is(e[-1], text_layout::c_space))
                --e;
        }
        const std::size_t byte = static_cast<std::size_t>(t.at - ls) + 1;
        const std::string_view raw(t.at, static_cast<std::size_t>(t.raw_end - t.at));
        if (b < e && parse_value(b, e, v) == e) {
            if constexpr (std::is_floating_point_v<T>) {
                if (__builtin_expect(std::isinf(v), 0)) check_range(b, line, f + 1, byte, raw);
            }
            return;
        }
        if (rules_->is_na(std::string_view(t.begin, static_cast<std::size_t>(t.end - t.begin)))) {
            if constexpr (std::is_floating_point_v<T>) {
                v = std::numeric_limits<T>::quiet_NaN();
                return;
            } else {
                fail_parse(l_.file(), line, f + 1, byte, expected_value<T>(), raw,
                           "a missing value: " + dtype_name(dtype_of<T>()) +
                               " has none; read the column as float to get NaN");
            }
        }
        fail_parse(l_.file(), line, f + 1, byte, expected_value<T>(), raw);
    }

    /// The row at `ls`, plain: values and separators only, one pass. With `lenient`, a row it
    /// cannot read is retried by the CSV rules.
    const char* parse_plain(const char* ls, const char* end, std::size_t line, T* out,
                            std::string* word, bool lenient) const {
        using L = text_layout;
        const char* q = ls;
        if (word) {
            q = parse_word(q, *word);
            if (!l_.runs() && columns_ > 0) {
                if (!l_.is(*q, L::c_delim)) ragged(ls, q, line, 0);
                ++q;
            }
        }
        if (l_.runs()) {
            for (std::size_t c = 0; c < columns_; ++c) {
                while (l_.is(*q, L::c_space))
                    ++q;
                if (l_.is(*q, L::c_end)) {
                    if (lenient) return parse_fields(ls, end, line, out);
                    ragged(ls, q, line, c);
                }
                const char* tok = q;
                q = parse_value(q, end, out[c]);
                if (!q || !l_.is(*q, L::c_space | L::c_end)) {
                    if (lenient) return parse_fields(ls, end, line, out);
                    bad_token(ls, tok, line, c);
                }
                check_finite(out[c], ls, tok, line, c);
            }
        } else {
            for (std::size_t c = 0; c < columns_;) {
                while (l_.is(*q, L::c_space))
                    ++q;
                const char* tok = q;
                q = parse_value(q, end, out[c]);
                if (!q) {
                    if (lenient) return parse_fields(ls, end, line, out);
                    // "1,2," of three columns: the line ended after a delimiter, a value short
                    if (c > 0 && l_.is(*tok, L::c_end)) ragged(ls, tok, line, c);
                    bad_token(ls, tok, line, c);
                }
                while (l_.is(*q, L::c_space))
                    ++q;
                if (++c == columns_) {
                    if (!l_.is(*q, L::c_end | L::c_delim)) {
                        if (lenient) return parse_fields(ls, end, line, out);
                        bad_token(ls, tok, line, c - 1);
                    }
                    check_finite(out[c - 1], ls, tok, line, c - 1);
                    break;
                }
                if (!l_.is(*q, L::c_delim)) {
                    if (lenient) return parse_fields(ls, end, line, out);
                    if (l_.is(*q, L::c_end)) ragged(ls, q, line, c);
                    bad_token(ls, tok, line, c - 1);
                }
                check_finite(out[c - 1], ls, tok, line, c - 1);
                ++q;
            }
        }
        // a delimiter that ends the line starts no value ("1\t2\t")
        if (l_.is(*q, L::c_delim) && l_.ends_after_delimiter(q, end)) ++q;
        while (l_.is(*q, L::c_space))
            ++q;
        if (*q == '\n') return q + 1;
        if (!l_.is(*q, L::c_end)) {  // more values than columns
            if (lenient) return parse_fields(ls, end, line, out);
            ragged(ls, q, line, columns_);
        }
        return L::next_line(q, end);  // a comment after the values
    }

    /// The word that begins an embedding row: every byte up to the first separator (with a
    /// delimiter, spaces inside the word are kept; around it they are not).
    const char* parse_word(const char* q, std::string& word) const {
        while (l_.is(*q, text_layout::c_space))
            ++q;
        const std::string_view w = token_at(q);
        word.assign(w.data(), w.size());
        q = w.data() + w.size();
        while (l_.is(*q, text_layout::c_space))  // up to the separator after the word
            ++q;
        return q;
    }

    /// The token at `tok` (up to the next separator), for messages.
    std::string_view token_at(const char* tok) const noexcept {
        const char* e = tok;
        // in delimited files a token runs to the delimiter (spaces inside included)
        const unsigned char stop = l_.runs() ? text_layout::c_space | text_layout::c_end
                                             : text_layout::c_delim | text_layout::c_end;
        while (!l_.is(*e, stop))
            ++e;
        while (e > tok && l_.is(e[-1], text_layout::c_space))
            --e;
        return {tok, static_cast<std::size_t>(e - tok)};
    }

    /// The 1-based field of value `c` of a row: the field count of everything before it (the
    /// word, then `c` values), as the delimiters (or runs of spaces) of its line separate them.
    [[nodiscard]] std::size_t field_of(std::size_t c) const noexcept {
        return c + 1 + (words_ ? 1 : 0);
    }

    [[noreturn]] void bad_token(const char* ls, const char* tok, std::size_t line,
                                std::size_t c) const {
        fail_parse(l_.file(), line, field_of(c), static_cast<std::size_t>(tok - ls) + 1,
                   expected_value<T>(), token_at(tok));
    }

    /// A float parsed from a finite spelling that came out infinite lies beyond T's range: an
    /// error unless overflow_ says otherwise. One predictable branch per value; the rest runs
    /// only for infinities.
    void check_finite(T v, const char* ls, const char* tok, std::size_t line, std::size_t c) const {
        if constexpr (std::is_floating_point_v<T>) {
            if (__builtin_expect(std::isinf(v), 0)) overflowed(ls, tok, line, c);
        } else {
            (void)v, (void)ls, (void)tok, (void)line, (void)c;
        }
    }

    [[gnu::noinline]] void overflowed(const char* ls, const char* tok, std::size_t line,
                                      std::size_t c) const {
        check_range(tok, line, field_of(c), static_cast<std::size_t>(tok - ls) + 1, token_at(tok));
    }

    /// An infinity parsed from the number at `p`: an error unless it was spelled out ("inf") or
    /// overflow_ lets it be.
    [[gnu::noinline]] void check_range(const char* p, std::size_t line, std::size_t field,
                                       std::size_t byte, std::string_view token) const {
        p += (*p == '+' || *p == '-') ? 1 : 0;
        if ((*p | 0x20) == 'i' || overflow_ == float_overflow::to_infinity) return;  // "inf"
        fail_parse(l_.file(), line, field, byte,
                   "a number " + dtype_name(dtype_of<T>()) + " can hold", token,
                   overflow_ == float_overflow::fail_with_hint
                       ? "set text_read_options::overflow_to_infinity to read it as inf"
                       : "");
    }

    /// A row that ends after `found_before` values (at `q`), or that has values past the last
    /// column (`q` at the first extra one, found_before == columns): counts what the row has.
    [[noreturn]] void ragged(const char* ls, const char* q, std::size_t line,
                             std::size_t found_before) const {
        const char* end = ls;
        while (*end != '\n')
            ++end;
        std::size_t fields = l_.count_fields(ls, end);
        if (words_ && fields > 0) --fields;
        if (found_before == columns_) {
            while (l_.is(*q, text_layout::c_space | text_layout::c_delim))
                ++q;
        }
        fail_ragged(l_.file(), line, field_of(found_before), static_cast<std::size_t>(q - ls) + 1,
                    columns_, found_before == columns_ ? fields : found_before);
    }

    const text_layout& l_;
    std::size_t columns_;
    bool words_;
    float_overflow overflow_;
    const csv_rules* rules_;
};

}  // namespace ndshard::detail
