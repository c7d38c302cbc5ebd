// ndshard/detail/text_format.hpp — numbers to text: shortest round-trip floats, exact integers,
// blocks of rows. No locale, no iostreams, no printf.
//
// Shortest floats take their digits from Dragonbox (jkj::dragonbox::to_decimal, the reference
// implementation of the algorithm behind fmt and std::format, with its full table of powers of
// ten) and print them here. Per double on the reference data: `std::to_chars` and fmt's own
// printing ~31 ns; fmt's internal copy of Dragonbox (compact table) ~11.7 ns; this one ~8.0 ns;
// the printing below ~5 ns.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include <dragonbox/dragonbox.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "ndshard/detail/row_source.hpp"
#include "ndshard/detail/text_lines.hpp"
#include "ndshard/error.hpp"

namespace ndshard::detail {

/// Largest precision `text_write_options::precision` takes: 767 significant digits print any
/// double exactly, more only add zeros.
inline constexpr int max_text_precision = 767;

/// Bytes one formatted value takes at most (without its separator).
template <class T>
[[nodiscard]] constexpr std::size_t max_value_chars(int precision) noexcept {
    if constexpr (std::is_same_v<T, bool>) {
        return 1;
    } else if constexpr (std::is_floating_point_v<T>) {
        // shortest: "-2.2250738585072014e-308" (24); %.pg: sign, point, "e-308" and up to four
        // zeros after "0." besides the p digits
        return precision < 0 ? 24 : static_cast<std::size_t>(precision) + 12;
    } else {
        return 20;  // "-9223372036854775808", "18446744073709551615"
    }
}

/// "00" "01" … "99": two digits per table lookup.
inline constexpr char digit_pairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/// 10^0 … 10^19.
inline constexpr std::uint64_t powers_of_ten[] = {1ULL,
                                                  10ULL,
                                                  100ULL,
                                                  1000ULL,
                                                  10000ULL,
                                                  100000ULL,
                                                  1000000ULL,
                                                  10000000ULL,
                                                  100000000ULL,
                                                  1000000000ULL,
                                                  10000000000ULL,
                                                  100000000000ULL,
                                                  1000000000000ULL,
                                                  10000000000000ULL,
                                                  100000000000000ULL,
                                                  1000000000000000ULL,
                                                  10000000000000000ULL,
                                                  100000000000000000ULL,
                                                  1000000000000000000ULL,
                                                  10000000000000000000ULL};

/// The number of decimal digits of `v` (v > 0; 0 gives 0).
[[nodiscard]] inline int count_digits(std::uint64_t v) noexcept {
    // bits * log10(2) approximates the digit count to within one; the table settles it
    const int bits = 64 - __builtin_clzll(v | 1);
    const int t = (bits * 1233) >> 12;
    return t + (v >= powers_of_ten[t] ? 1 : 0);
}

/// Bytes past the end of the text that formatting may scribble on (it stores digits 16 at a
/// time): buffers given to format_values need this much room beyond their worst case.
inline constexpr std::size_t format_slack = 32;

/// The eight decimal digits of `x` (< 10^8, zero-padded) as eight ASCII bytes in memory order,
/// computed for all eight lanes at once (Lemire, "Converting integers to fixed-digit
/// representations quickly", 2021): two independent multiply chains instead of eight divisions.
[[nodiscard]] inline std::uint64_t eight_digits(std::uint32_t x) noexcept {
    const std::uint64_t merged = (x / 10000) | (std::uint64_t{x % 10000} << 32);
    const std::uint64_t top = ((merged * 10486) >> 20) & ((std::uint64_t{0x7F} << 32) | 0x7F);
    const std::uint64_t hundreds = ((merged - 100 * top) << 16) + top;
    std::uint64_t tens = (hundreds * 103) >> 10;
    tens &=
        (std::uint64_t{0xF} << 48) | (std::uint64_t{0xF} << 32) | (std::uint64_t{0xF} << 16) | 0xF;
    tens += (hundreds - 10 * tens) << 8;
    return tens + 0x3030303030303030ULL;
}

/// Stores the 16 digits of `v` (< 10^16, zero-padded) at out[0, 16).
inline void store_sixteen_digits(char* out, std::uint64_t v) noexcept {
    const auto hi = static_cast<std::uint32_t>(v / 100000000);
    const auto lo = static_cast<std::uint32_t>(v % 100000000);
#if defined(__SSE2__)
    // Muła's SSE2 conversion (as in Milo Yip's itoa-benchmark), checked against snprintf for all
    // 10^8 inputs: each 8-digit half becomes eight 16-bit digit lanes without a division
    const auto lanes = [](std::uint32_t x) {
        const __m128i v8 = _mm_cvtsi32_si128(static_cast<int>(x));
        const __m128i abcd =
            _mm_srli_epi64(_mm_mul_epu32(v8, _mm_set1_epi32(static_cast<int>(0xd1b71759))), 45);
        const __m128i efgh = _mm_sub_epi32(v8, _mm_mul_epu32(abcd, _mm_set1_epi32(10000)));
        const __m128i v1 = _mm_slli_epi64(_mm_unpacklo_epi16(abcd, efgh), 2);
        const __m128i v2a = _mm_unpacklo_epi16(v1, v1);
        const __m128i v2 = _mm_unpacklo_epi32(v2a, v2a);
        const __m128i v3 =
            _mm_mulhi_epu16(v2, _mm_setr_epi16(8389, 5243, 13108, static_cast<short>(32768), 8389,
                                               5243, 13108, static_cast<short>(32768)));
        const __m128i v4 = _mm_mulhi_epu16(
            v3, _mm_setr_epi16(1 << 7, 1 << 11, 1 << 13, static_cast<short>(1 << 15), 1 << 7,
                               1 << 11, 1 << 13, static_cast<short>(1 << 15)));
        const __m128i v5 = _mm_slli_epi64(_mm_mullo_epi16(v4, _mm_set1_epi16(10)), 16);
        return _mm_sub_epi16(v4, v5);
    };
    const __m128i digits = _mm_add_epi8(_mm_packus_epi16(lanes(hi), lanes(lo)), _mm_set1_epi8('0'));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), digits);
#else
    const std::uint64_t a = eight_digits(hi), b = eight_digits(lo);
    std::memcpy(out, &a, 8);
    std::memcpy(out + 8, &b, 8);
#endif
}

/// Prints `sig * 10^exp10` (0 < sig < 10^17) like Python's repr without a trailing ".0":
/// positional notation when the leading digit's power of ten lies in [-4, 16), else
/// "d.ddde±XX". May write up to `format_slack` bytes past the returned end.
///
/// The digits are scaled to exactly 17 (zeros appended) so that they land where they belong with
/// plain stores: no byte shuffling, and no reload of freshly stored bytes.
inline char* print_decimal(char* out, std::uint64_t sig, int exp10) noexcept {
    const int n = count_digits(sig);
    int e = exp10 + n - 1;  // power of ten of the leading digit
    const std::uint64_t d = sig * powers_of_ten[17 - n];
    const auto first = static_cast<char>('0' + d / powers_of_ten[16]);
    const std::uint64_t rest = d % powers_of_ten[16];
    if (e >= -4 && e < 16) {
        if (e < 0) {  // "0.000ddd"
            const int zeros = -e - 1;
            std::memcpy(out, "0.000", 5);
            out[2 + zeros] = first;
            store_sixteen_digits(out + 3 + zeros, rest);
            return out + 2 + zeros + n;
        }
        out[0] = first;
        store_sixteen_digits(out + 1, rest);  // an integer's digits, its zeros included
        if (exp10 >= 0) return out + e + 1;
        // the point falls among the digits: the e + 1 before it are in place; the others are
        // the remainder below 10^(16 - e), scaled up to lead
        out[e + 1] = '.';
        store_sixteen_digits(out + e + 2, rest % powers_of_ten[16 - e] * powers_of_ten[e]);
        return out + n + 1;
    }
    out[0] = first;
    if (n > 1) {
        out[1] = '.';
        store_sixteen_digits(out + 2, rest);
        out += n + 1;
    } else {
        out += 1;
    }
    *out++ = 'e';
    if (e < 0) {
        *out++ = '-';
        e = -e;
    } else {
        *out++ = '+';
    }
    if (e >= 100) {
        *out++ = static_cast<char>('0' + e / 100);
        e %= 100;
    }
    std::memcpy(out, digit_pairs + e * 2, 2);
    return out + 2;
}

/// The shortest decimal digits of a finite, positive float or double (Dragonbox).
template <class F>
[[nodiscard]] inline auto shortest_decimal(F v) noexcept {
    return jkj::dragonbox::to_decimal(v, jkj::dragonbox::policy::sign::ignore,
                                      jkj::dragonbox::policy::trailing_zero::remove,
                                      jkj::dragonbox::policy::cache::full);
}

/// numpy's spelling of the values without digits: "nan" (any sign, any payload), "inf", "-inf".
/// Returns nullptr for finite values.
template <class F>
[[nodiscard]] inline char* print_special(char* out, F v) noexcept {
    if (std::isnan(v)) {
        std::memcpy(out, "nan", 3);
        return out + 3;
    }
    if (std::isinf(v)) {
        if (v < 0) *out++ = '-';
        std::memcpy(out, "inf", 3);
        return out + 3;
    }
    return nullptr;
}

/// The shortest text that reads back as exactly `v` (float or double): "0.1", "-0", "1e-05",
/// "1.7976931348623157e+308", "5e-324", "nan", "inf", "-inf".
template <class F>
inline char* format_shortest(char* out, F v) noexcept {
    if (char* s = print_special(out, v)) return s;
    if (std::signbit(v)) {
        *out++ = '-';
        v = -v;
    }
    if (v == 0) {
        *out = '0';
        return out + 1;
    }
    const auto d = shortest_decimal(v);
    return print_decimal(out, d.significand, d.exponent);
}

/// `v` with `precision` significant digits, like printf's "%.<precision>g" (trailing zeros
/// dropped), correctly rounded.
template <class F>
inline char* format_precision(char* out, F v, int precision) noexcept {
    if (char* s = print_special(out, v)) return s;
    const auto r = std::to_chars(out, out + max_value_chars<F>(precision), v,
                                 std::chars_format::general, precision);
    return r.ptr;
}

/// One value of any supported type: floats shortest (precision < 0) or with `precision`
/// significant digits; integers exact; bools as 1 and 0 (what numpy.loadtxt reads as bool).
template <class T>
inline char* format_value(char* out, T v, int precision) noexcept {
    if constexpr (std::is_same_v<T, bool>) {
        *out = v ? '1' : '0';
        return out + 1;
    } else if constexpr (std::is_floating_point_v<T>) {
        return precision < 0 ? format_shortest(out, v) : format_precision(out, v, precision);
    } else {
        return std::to_chars(out, out + 20, v).ptr;
    }
}

/// Formats `n` values as rows of text: each value is followed by `delimiter`, or by '\n' when it
/// ends its row. `column` is the position of v[0] in its row, `row_size` the values per row.
/// `out` must have room for n * (max_value_chars<T>(precision) + 1) + format_slack bytes.
template <class T>
char* format_values(char* out, const T* v, std::size_t n, std::size_t column, std::size_t row_size,
                    char delimiter, int precision) {
    const auto run = [&](auto&& one) {
        std::size_t c = column;
        for (std::size_t i = 0; i < n; ++i) {
            out = one(out, v[i]);
            if (++c == row_size) {
                *out++ = '\n';
                c = 0;
            } else {
                *out++ = delimiter;
            }
        }
    };
    if constexpr (std::is_floating_point_v<T>) {
        // the common case gets a loop of its own, free of the precision test
        if (precision < 0) {
            run([](char* o, T x) { return format_shortest(o, x); });
            return out;
        }
    }
    run([precision](char* o, T x) { return format_value(o, x, precision); });
    return out;
}

/// Checks a write's options: `precision` is -1 (shortest) or 1..767; the delimiter is one byte
/// that cannot occur inside a number or end a line.
inline void check_write_options(const std::filesystem::path& file, char delimiter, int precision) {
    if (precision != -1 && (precision < 1 || precision > max_text_precision))
        fail("cannot write", file,
             "expected precision -1 (shortest round-trip) or 1 to " +
                 std::to_string(max_text_precision) + ", found " + std::to_string(precision));
    if (!can_delimit(delimiter))
        fail("cannot write", file,
             "expected a delimiter that cannot appear in a number (such as tab, ',', ' ' or "
             "';'), found byte " +
                 std::to_string(static_cast<unsigned char>(delimiter)));
}

/// Formats rows [first_row, last_row) of a row source as text, one block of at most
/// `budget_bytes` (text plus evaluated values) at a time. Blocks are fixed ranges of values, so
/// any worker can format any block; a row longer than a block spans several blocks. Sources
/// that are not contiguous are evaluated one block at a time through `fill_flat`, so a row of
/// any width is never evaluated whole; only a source without it is evaluated whole rows at a
/// time.
template <class T>
class block_formatter {
  public:
    block_formatter(const row_source<T>& src, std::size_t first_row, std::size_t last_row,
                    char delimiter, int precision, std::size_t budget_bytes)
        : src_(src),
          row_size_(src.row_size()),
          begin_(first_row * row_size_),
          end_(last_row * row_size_),
          delimiter_(delimiter),
          precision_(precision) {
        const std::size_t chars = max_value_chars<T>(precision) + 1;
        const std::size_t per_value = chars + (src.contiguous ? 0 : sizeof(T));
        block_values_ = std::max<std::size_t>(1, budget_bytes / per_value);
        if (!src.contiguous && !src.fill_flat && row_size_ > 0)  // only whole rows evaluate
            block_values_ = std::max<std::size_t>(1, block_values_ / row_size_) * row_size_;
        buffer_bytes_ = block_values_ * chars + format_slack;
    }

    /// The number of blocks (0 when there is nothing to write).
    [[nodiscard]] std::size_t blocks() const noexcept {
        return (end_ - begin_ + block_values_ - 1) / block_values_;
    }

    /// The text of block `b`, valid until the next call.
    [[nodiscard]] std::string_view format(std::size_t b) {
        const std::size_t v0 = begin_ + b * block_values_;
        const std::size_t v1 = std::min(end_, v0 + block_values_);
        if (!text_) text_.reset(new char[buffer_bytes_]);
        const T* values;
        if (src_.contiguous) {
            values = src_.contiguous + v0;
        } else if (src_.fill_flat) {
            T* s = values_.get(v1 - v0);
            src_.fill_flat(v0, v1 - v0, s);
            values = s;
        } else {
            T* s = values_.get(v1 - v0);
            src_.fill(v0 / row_size_, v1 / row_size_, s);
            values = s;
        }
        const char* e = format_values(text_.get(), values, v1 - v0, v0 % row_size_, row_size_,
                                      delimiter_, precision_);
        return {text_.get(), static_cast<std::size_t>(e - text_.get())};
    }

  private:
    const row_source<T>& src_;
    std::size_t row_size_, begin_, end_;
    char delimiter_;
    int precision_;
    std::size_t block_values_ = 1, buffer_bytes_ = 0;
    std::unique_ptr<char[]> text_;
    scratch<T> values_;
};

}  // namespace ndshard::detail
