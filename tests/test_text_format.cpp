// Formatting numbers as text: shortest round-trip floats, precision, integers, bools, specials.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include <fast_float/fast_float.h>
#include <catch2/catch.hpp>
#include <ndshard/detail/text_format.hpp>
#include <ndshard/ndshard.hpp>

#include "text_support.hpp"

namespace {

using ndshard::detail::format_slack;

template <class T>
std::string text_of(T v, int precision = -1) {
    char buf[ndshard::detail::max_value_chars<T>(800) + format_slack];
    return std::string(buf, ndshard::detail::format_value(buf, v, precision));
}

/// The significant digits of a number's text (no sign, point, leading zeros or exponent).
std::string digits_of(const std::string& s) {
    std::string d;
    for (char c : s) {
        if (c == 'e') break;
        if (c >= '0' && c <= '9' && !(d.empty() && c == '0')) d += c;
    }
    while (!d.empty() && d.back() == '0')
        d.pop_back();
    return d;
}

template <class F>
void check_shortest_round_trip(std::uint64_t seed, int n) {
    std::mt19937_64 rng(seed);
    for (int i = 0; i < n; ++i) {
        const F v = text_test::random_finite<F>(rng);
        const std::string s = text_of(v);
        F back{};
        const auto r = fast_float::from_chars(s.data(), s.data() + s.size(), back);
        INFO(s);
        REQUIRE(r.ec == std::errc());
        REQUIRE(r.ptr == s.data() + s.size());
        REQUIRE(text_test::bits_of(back) == text_test::bits_of(v));
        // as short as std::to_chars's shortest form: same significant digits
        char ref[64];
        const auto e = std::to_chars(ref, ref + sizeof ref, v, std::chars_format::scientific);
        REQUIRE(digits_of(s) == digits_of(std::string(ref, e.ptr)));
        // and no zeros trail a fraction
        const std::string mantissa = s.substr(0, s.find('e'));
        if (mantissa.find('.') != std::string::npos) REQUIRE(mantissa.back() != '0');
    }
}

/// Values of every magnitude around the positional range, where most of the layouts live.
template <class F>
void check_positional_round_trip(std::uint64_t seed, int n) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> exponent(-7, 19);
    for (int i = 0; i < n; ++i) {
        const auto v = static_cast<F>(std::pow(10.0, exponent(rng)) * (rng() % 2 ? 1 : -1));
        const std::string s = text_of(v);
        F back{};
        fast_float::from_chars(s.data(), s.data() + s.size(), back);
        INFO(s);
        REQUIRE(text_test::bits_of(back) == text_test::bits_of(v));
        char ref[64];
        const auto e = std::to_chars(ref, ref + sizeof ref, v, std::chars_format::scientific);
        REQUIRE(digits_of(s) == digits_of(std::string(ref, e.ptr)));
    }
}

}  // namespace

TEST_CASE("text format: shortest round-trip spellings", "[text][format]") {
    CHECK(text_of(0.0) == "0");
    CHECK(text_of(-0.0) == "-0");
    CHECK(text_of(0.1) == "0.1");
    CHECK(text_of(-0.25) == "-0.25");
    CHECK(text_of(1.0) == "1");
    CHECK(text_of(100.0) == "100");
    CHECK(text_of(123.456) == "123.456");
    CHECK(text_of(0.0001) == "0.0001");
    CHECK(text_of(0.00012345) == "0.00012345");
    CHECK(text_of(1e-5) == "1e-05");
    CHECK(text_of(1.5e-7) == "1.5e-07");
    CHECK(text_of(1e15) == "1000000000000000");
    CHECK(text_of(1234567890123456.8) == "1234567890123456.8");
    CHECK(text_of(1e16) == "1e+16");
    CHECK(text_of(1.2345678901234567e17) == "1.2345678901234566e+17");  // nearest: ...664
    CHECK(text_of(1e100) == "1e+100");
    CHECK(text_of(0.7739560485559633) == "0.7739560485559633");
    CHECK(text_of(std::numeric_limits<double>::max()) == "1.7976931348623157e+308");
    CHECK(text_of(std::numeric_limits<double>::lowest()) == "-1.7976931348623157e+308");
    CHECK(text_of(std::numeric_limits<double>::min()) == "2.2250738585072014e-308");
    CHECK(text_of(std::numeric_limits<double>::denorm_min()) == "5e-324");
    CHECK(text_of(-std::numeric_limits<double>::denorm_min()) == "-5e-324");
    CHECK(text_of(0.1f) == "0.1");
    CHECK(text_of(16777216.0f) == "16777216");
    CHECK(text_of(3.4028235e38f) == "3.4028235e+38");
    CHECK(text_of(std::numeric_limits<float>::denorm_min()) == "1e-45");
    CHECK(text_of(std::numeric_limits<float>::min()) == "1.1754944e-38");
    CHECK(text_of(-0.0f) == "-0");
}

TEST_CASE("text format: nan and infinities as numpy spells them", "[text][format]") {
    CHECK(text_of(std::numeric_limits<double>::quiet_NaN()) == "nan");
    CHECK(text_of(-std::numeric_limits<double>::quiet_NaN()) == "nan");
    CHECK(text_of(std::numeric_limits<double>::signaling_NaN()) == "nan");
    CHECK(text_of(std::numeric_limits<double>::infinity()) == "inf");
    CHECK(text_of(-std::numeric_limits<double>::infinity()) == "-inf");
    CHECK(text_of(std::numeric_limits<float>::quiet_NaN()) == "nan");
    CHECK(text_of(-std::numeric_limits<float>::infinity()) == "-inf");
    CHECK(text_of(std::numeric_limits<double>::infinity(), 3) == "inf");
    CHECK(text_of(-std::numeric_limits<double>::quiet_NaN(), 5) == "nan");
}

TEST_CASE("text format: precision gives significant digits like %.<p>g", "[text][format]") {
    CHECK(text_of(3.14159265358979, 3) == "3.14");
    CHECK(text_of(2.5, 1) == "2");  // round half to even, as printf
    CHECK(text_of(0.000123456, 2) == "0.00012");
    CHECK(text_of(123456.0, 3) == "1.23e+05");
    CHECK(text_of(1.0, 6) == "1");
    CHECK(text_of(-0.0, 4) == "-0");
    CHECK(text_of(0.1, 17) == "0.10000000000000001");
    CHECK(text_of(1.5f, 2) == "1.5");
    CHECK(text_of(0.1f, 9) == "0.100000001");
    CHECK(text_of(5e-324, 767).size() > 700);  // every digit of the exact value
}

TEST_CASE("text format: integers exact, bools as 1 and 0", "[text][format]") {
    CHECK(text_of(std::int8_t{-128}) == "-128");
    CHECK(text_of(std::uint8_t{255}) == "255");
    CHECK(text_of(std::int16_t{-32768}) == "-32768");
    CHECK(text_of(std::int32_t{2147483647}) == "2147483647");
    CHECK(text_of(std::numeric_limits<std::int64_t>::min()) == "-9223372036854775808");
    CHECK(text_of(std::numeric_limits<std::uint64_t>::max()) == "18446744073709551615");
    CHECK(text_of(std::int64_t{0}, 3) == "0");  // precision does not apply to integers
    CHECK(text_of(true) == "1");
    CHECK(text_of(false) == "0");
}

TEST_CASE("text format: every float64 bit pattern round-trips, shortest",
          "[text][format][property]") {
    check_shortest_round_trip<double>(1, 200000);
}

TEST_CASE("text format: every float32 bit pattern round-trips, shortest",
          "[text][format][property]") {
    check_shortest_round_trip<float>(2, 200000);
}

TEST_CASE("text format: magnitudes around the positional range round-trip",
          "[text][format][property]") {
    check_positional_round_trip<double>(4, 200000);
    check_positional_round_trip<float>(5, 100000);
}

TEST_CASE("text format: rows of values with separators", "[text][format]") {
    const double v[] = {1, 2.5, -3, 4, 5, 6e-20};
    char buf[6 * 25 + format_slack];
    char* e = ndshard::detail::format_values(buf, v, 6, 0, 3, ',', -1);
    CHECK(std::string(buf, e) == "1,2.5,-3\n4,5,6e-20\n");
    // a block that starts inside a row
    e = ndshard::detail::format_values(buf, v + 1, 4, 1, 3, '\t', -1);
    CHECK(std::string(buf, e) == "2.5\t-3\n4\t5\t");
    const std::int32_t w[] = {7, -8};
    e = ndshard::detail::format_values(buf, w, 2, 0, 1, ' ', -1);
    CHECK(std::string(buf, e) == "7\n-8\n");
}

TEST_CASE("text format: options are checked", "[text][format][errors]") {
    using ndshard::detail::check_write_options;
    CHECK_NOTHROW(check_write_options("f.txt", '\t', -1));
    CHECK_NOTHROW(check_write_options("f.txt", ';', 767));
    CHECK_THROWS_WITH(check_write_options("f.txt", '\t', 0),
                      "ndshard: cannot write 'f.txt': expected precision -1 (shortest "
                      "round-trip) or 1 to 767, found 0");
    CHECK_THROWS_WITH(check_write_options("f.txt", '\t', 768),
                      "ndshard: cannot write 'f.txt': expected precision -1 (shortest "
                      "round-trip) or 1 to 767, found 768");
    CHECK_THROWS_WITH(check_write_options("f.txt", 'e', -1),
                      "ndshard: cannot write 'f.txt': expected a delimiter that cannot appear in "
                      "a number (such as tab, ',', ' ' or ';'), found byte 101");
    CHECK_THROWS_AS(check_write_options("f.txt", '\n', -1), ndshard::error);
    CHECK_THROWS_AS(check_write_options("f.txt", '-', -1), ndshard::error);
    CHECK_THROWS_AS(check_write_options("f.txt", '\0', -1), ndshard::error);
}

TEST_CASE("text format: digit conversions", "[text][format]") {
    std::mt19937_64 rng(3);
    char got[32], want[32];
    for (int i = 0; i < 1000000; ++i) {
        const std::uint64_t v = i < 1000 ? static_cast<std::uint64_t>(i) * 99999999999999ULL / 1000
                                         : rng() % 10000000000000000ULL;
        ndshard::detail::store_sixteen_digits(got, v);
        std::snprintf(want, sizeof want, "%016llu", static_cast<unsigned long long>(v));
        REQUIRE(std::string(got, 16) == std::string(want, 16));
        // the portable eight-digit conversion, used where SSE2 is not
        const auto x = static_cast<std::uint32_t>(v % 100000000);
        const std::uint64_t e = ndshard::detail::eight_digits(x);
        std::memcpy(got, &e, 8);
        std::snprintf(want, sizeof want, "%08u", static_cast<unsigned>(x));
        REQUIRE(std::string(got, 8) == std::string(want, 8));
    }
    for (std::uint64_t v :
         {0ULL, 1ULL, 9999999999999999ULL, 1000000000000000ULL, 99999999ULL, 100000000ULL}) {
        ndshard::detail::store_sixteen_digits(got, v);
        std::snprintf(want, sizeof want, "%016llu", static_cast<unsigned long long>(v));
        CHECK(std::string(got, 16) == std::string(want, 16));
    }
    for (std::uint64_t v = 1; v < 10000000000000000000ULL; v *= 10) {
        CHECK(ndshard::detail::count_digits(v) == static_cast<int>(std::to_string(v).size()));
        CHECK(ndshard::detail::count_digits(v - 1 + (v == 1)) ==
              static_cast<int>(std::to_string(v - 1 + (v == 1)).size()));
    }
    // the top of the table: 10^19 - 1, 10^19 and the largest value
    CHECK(ndshard::detail::count_digits(9999999999999999999ULL) == 19);
    CHECK(ndshard::detail::count_digits(10000000000000000000ULL) == 20);
    CHECK(ndshard::detail::count_digits(std::numeric_limits<std::uint64_t>::max()) == 20);
}
