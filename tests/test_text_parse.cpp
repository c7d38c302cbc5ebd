// Parsing text: single values of every type, the oddities accepted, line classification, cutting
// a byte range at line ends, counting rows.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <fast_float/fast_float.h>
#include <catch2/catch.hpp>
#include <ndshard/detail/text_parse.hpp>
#include <ndshard/ndshard.hpp>

#include "text_support.hpp"

namespace {

using ndshard::detail::text_layout;

/// Parses `s` as one T; returns whether it was accepted entirely.
template <class T>
bool parse_all(const std::string& s, T& out) {
    const char* e = ndshard::detail::parse_value(s.data(), s.data() + s.size(), out);
    return e == s.data() + s.size();
}

template <class T>
T parsed(const std::string& s) {
    T v{};
    INFO(s);
    REQUIRE(parse_all(s, v));
    return v;
}

template <class T>
bool rejects(const std::string& s) {
    T v{};
    return !parse_all(s, v);
}

}  // namespace

TEST_CASE("text parse: floats, correctly rounded, with the accepted spellings", "[text][parse]") {
    CHECK(parsed<double>("0.1") == 0.1);
    CHECK(parsed<double>("+0.1") == 0.1);
    CHECK(parsed<double>("-0.1") == -0.1);
    CHECK(parsed<double>("1e5") == 1e5);
    CHECK(parsed<double>("1E+05") == 1e5);
    CHECK(parsed<double>("-2.5e-3") == -2.5e-3);
    CHECK(parsed<double>(".5") == 0.5);
    CHECK(parsed<double>("5.") == 5.0);
    CHECK(parsed<double>("4.940656458412465442e-324") == 5e-324);
    CHECK(parsed<double>("1.797693134862315708e+308") == std::numeric_limits<double>::max());
    CHECK(parsed<double>("1e400") == std::numeric_limits<double>::infinity());  // IEEE overflow
    CHECK(parsed<double>("-1e400") == -std::numeric_limits<double>::infinity());
    CHECK(parsed<double>("1e-400") == 0.0);
    CHECK(std::signbit(parsed<double>("-0")));
    CHECK(std::signbit(parsed<double>("-0.0e10")));
    for (const char* s : {"nan", "NaN", "NAN", "+nan", "-nan", "nAn"})
        CHECK(std::isnan(parsed<double>(s)));
    for (const char* s : {"inf", "Inf", "INF", "+inf", "infinity", "Infinity", "+INFINITY"})
        CHECK(parsed<double>(s) == std::numeric_limits<double>::infinity());
    CHECK(parsed<double>("-inf") == -std::numeric_limits<double>::infinity());
    CHECK(parsed<double>("-Infinity") == -std::numeric_limits<double>::infinity());
    for (const char* s : {"", "+", "-", ".", "e5", "abc", "0x10", "+-1", "++1", "--1", "1e", "1.5x",
                          "1,5", " 1", "nana"})
        CHECK(rejects<double>(s));
}

TEST_CASE("text parse: float32 is rounded once, straight from the text", "[text][parse]") {
    // 1.00000005960464477539062500000001 lies just above the midpoint of 1 and the next float:
    // rounding to double first gives exactly the midpoint, which then rounds to even (1.0)
    const std::string s = "1.00000005960464477539062500000001";
    CHECK(parsed<float>(s) == std::nextafter(1.0f, 2.0f));
    CHECK(static_cast<float>(parsed<double>(s)) == 1.0f);
    CHECK(parsed<float>("3.4028235e38") == std::numeric_limits<float>::max());
    CHECK(parsed<float>("3.5e38") == std::numeric_limits<float>::infinity());
    CHECK(parsed<float>("1.4e-45") == std::numeric_limits<float>::denorm_min());
    CHECK(parsed<float>("-0") == 0.0f);
    CHECK(std::signbit(parsed<float>("-0")));
    CHECK(std::isnan(parsed<float>("NaN")));
}

TEST_CASE("text parse: integers exact and range-checked", "[text][parse]") {
    CHECK(parsed<std::int8_t>("-128") == -128);
    CHECK(parsed<std::int8_t>("127") == 127);
    CHECK(parsed<std::int8_t>("+5") == 5);
    CHECK(rejects<std::int8_t>("128"));
    CHECK(rejects<std::int8_t>("-129"));
    CHECK(parsed<std::uint8_t>("255") == 255);
    CHECK(rejects<std::uint8_t>("256"));
    CHECK(rejects<std::uint8_t>("-1"));
    CHECK(rejects<std::uint8_t>("-0"));
    CHECK(parsed<std::int64_t>("-9223372036854775808") == std::numeric_limits<std::int64_t>::min());
    CHECK(rejects<std::int64_t>("9223372036854775808"));
    CHECK(parsed<std::uint64_t>("18446744073709551615") ==
          std::numeric_limits<std::uint64_t>::max());
    CHECK(rejects<std::uint64_t>("18446744073709551616"));
    CHECK(parsed<std::int32_t>("007") == 7);
    for (const char* s : {"1.0", "1e3", "0x10", "", "+", "-", "+-1", "nan", "inf", "1 "})
        CHECK(rejects<std::int32_t>(s));
}

TEST_CASE("text parse: bools are 0, 1, true or false", "[text][parse]") {
    CHECK(parsed<bool>("1") == true);
    CHECK(parsed<bool>("0") == false);
    CHECK(parsed<bool>("True") == true);
    CHECK(parsed<bool>("FALSE") == false);
    CHECK(parsed<bool>("true") == true);
    for (const char* s : {"2", "-1", "yes", "t", "", "truth", "1.0", "+1"})
        CHECK(rejects<bool>(s));
}

TEST_CASE("text parse: expected values as messages name them", "[text][parse]") {
    using ndshard::detail::expected_value;
    CHECK(expected_value<double>() == "a number");
    CHECK(expected_value<float>() == "a number");
    CHECK(expected_value<std::int8_t>() == "an integer from -128 to 127");
    CHECK(expected_value<std::uint16_t>() == "an integer from 0 to 65535");
    CHECK(expected_value<std::int64_t>() ==
          "an integer from -9223372036854775808 to 9223372036854775807");
    CHECK(expected_value<bool>() == "0, 1, true or false");
}

TEST_CASE("text parse: which lines hold data, and how many fields", "[text][parse]") {
    const text_layout tab("f", '\t', '#');
    const auto data = [&](const text_layout& l, const std::string& s) {
        return l.is_data_line(s.data(), s.data() + s.size());
    };
    CHECK(data(tab, "1\t2\n"));
    CHECK(data(tab, "  1\n"));
    CHECK(data(tab, "\t1\n"));  // an empty first field: data (and an error when parsed)
    CHECK(data(tab, "x"));
    CHECK_FALSE(data(tab, "\n"));
    CHECK_FALSE(data(tab, "\r\n"));
    CHECK_FALSE(data(tab, " \t \r\n"));
    CHECK_FALSE(data(tab, "# comment\n"));
    CHECK_FALSE(data(tab, "   # indented comment\n"));
    CHECK_FALSE(data(tab, ""));
    CHECK_FALSE(data(tab, "   "));
    const text_layout none("f", '\t', 0);
    CHECK(data(none, "# not a comment\n"));

    const auto fields = [](const text_layout& l, const std::string& s) {
        return l.count_fields(s.data(), s.data() + s.size());
    };
    CHECK(fields(tab, "1\t2\t3\n") == 3);
    CHECK(fields(tab, "1 \t 2\t3 # c\t4\n") == 3);
    CHECK(fields(tab, "1\t2\t") == 2);  // a trailing delimiter starts no field
    CHECK(fields(tab, "1\t2\t\t") == 3);
    const text_layout comma("f", ',', '#');
    CHECK(fields(comma, "1,2,,4\r\n") == 4);
    CHECK(fields(comma, "1\t2,3") == 2);
    const text_layout runs("f", ' ', '#');
    CHECK(fields(runs, "  1   2\t\t3  \r\n") == 3);
    CHECK(fields(runs, "1 2#3 4\n") == 2);
    CHECK(fields(runs, "word 1 2") == 3);
}

TEST_CASE("text parse: cuts fall on line starts, also when they land inside a line",
          "[text][parse][lines]") {
    const std::string s = "1,2\n333,444\n\n5,6\n# c\n77,8";  // no final newline
    const char* b = s.data();
    const char* e = b + s.size();
    for (std::size_t pieces = 1; pieces <= s.size() + 3; ++pieces) {
        const auto cuts = ndshard::detail::split_at_lines(b, e, pieces);
        REQUIRE(cuts.front() == b);
        REQUIRE(cuts.back() == e);
        REQUIRE(cuts.size() - 1 <= pieces);
        for (std::size_t i = 1; i + 1 < cuts.size(); ++i) {
            REQUIRE(cuts[i] > cuts[i - 1]);
            REQUIRE(cuts[i][-1] == '\n');
        }
        // the ranges together hold every row once
        const text_layout l("f", ',', '#');
        std::size_t rows = 0, lines = 0;
        for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
            const auto n = l.count_lines(cuts[i], cuts[i + 1]);
            rows += n.rows;
            lines += n.lines;
        }
        CHECK(rows == 4);
        CHECK(lines == 5);
    }
    // a cut inside a line moves to the next line's start
    const auto cuts = ndshard::detail::split_at_lines(b, e, 4);
    REQUIRE(cuts.size() == 4);
    CHECK(cuts[1] == b + 12);  // the cut at byte 6 lands in "333,444": moved to byte 12
    CHECK(cuts[2] == b + 21);  // the cut at byte 12 is taken; the one at 18 lands in "# c"
    const std::string none;
    CHECK(ndshard::detail::split_at_lines(none.data(), none.data(), 3).size() == 1);
}

TEST_CASE("text parse: rows and line feeds per range", "[text][parse][lines]") {
    const text_layout l("f", '\t', '#');
    const auto count = [&](const std::string& s) {
        return l.count_lines(s.data(), s.data() + s.size());
    };
    CHECK(count("").rows == 0);
    CHECK(count("1\n").rows == 1);
    CHECK(count("1").rows == 1);
    CHECK(count("1").lines == 0);
    CHECK(count("\n\n\n").rows == 0);
    CHECK(count("\n\n\n").lines == 3);
    CHECK(count("# a\n#b\n  # c").rows == 0);
    CHECK(count("1\r\n\r\n 2\r\n#x\n3 # y\n  ").rows == 3);
}

TEST_CASE("text parse: the fast path agrees with fast_float on every spelling",
          "[text][parse][property]") {
    std::mt19937_64 rng(7);
    const std::string ends = "\t, \nx.e-+E";
    std::size_t fast = 0;
    for (int i = 0; i < 300000; ++i) {
        std::string s = rng() % 2 ? "-" : "";
        s += static_cast<char>('0' + rng() % 10);
        if (rng() % 8 != 0) s += '.';
        const std::size_t digits = rng() % 23;
        const int kind = static_cast<int>(rng() % 4);  // random, zeros, nines, trailing zeros
        for (std::size_t d = 0; d < digits; ++d)
            s += kind == 1                     ? '0'
                 : kind == 2                   ? '9'
                 : kind == 3 && d > digits / 2 ? '0'
                                               : static_cast<char>('0' + rng() % 10);
        if (rng() % 3 == 0) {
            s += rng() % 2 ? 'e' : 'E';
            const int sign = static_cast<int>(rng() % 3);
            if (sign) s += sign == 1 ? '-' : '+';
            s += std::to_string(rng() % (rng() % 4 == 0 ? 100000 : 400));
        }
        if (rng() % 4 != 0) s += ends[rng() % ends.size()];  // or the text ends with the token
        s += std::string(rng() % 30, '7');  // sometimes room for the fast path, sometimes not
        double a = 0, b = 0;
        float fa = 0, fb = 0;
        // an allocation of exactly the text's size: a sanitizer build catches any read past it
        const std::vector<char> exact(s.begin(), s.end());
        const char* begin = exact.data();
        const char* end = begin + exact.size();
        const auto ra = fast_float::from_chars(begin, end, a);
        const auto rf = fast_float::from_chars(begin, end, fa);
        const char* pb = ndshard::detail::parse_value(begin, end, b);
        const char* pf = ndshard::detail::parse_value(begin, end, fb);
        INFO(s);
        REQUIRE((ra.ec == std::errc() ? ra.ptr : nullptr) == pb);
        REQUIRE((rf.ec == std::errc() ? rf.ptr : nullptr) == pf);
        REQUIRE(text_test::bits_of(a) == text_test::bits_of(b));
        REQUIRE(text_test::bits_of(fa) == text_test::bits_of(fb));
        double c = 0;
        if (ndshard::detail::parse_float_common(begin, end, c)) ++fast;
    }
#if defined(__SSE2__)
    CHECK(fast > 50000);  // the fast path was exercised
#endif
}

TEST_CASE("text parse: the fast path on the values of the reference workload",
          "[text][parse][property]") {
    std::mt19937_64 rng(8);
    std::uniform_real_distribution<double> u(0, 1);
    char buf[64];
    for (int i = 0; i < 200000; ++i) {
        const double v = i % 2 ? u(rng) : text_test::random_finite<double>(rng);
        char* e = ndshard::detail::format_value(buf, v, i % 3 == 0 ? 18 : -1);
        std::memcpy(e, "\t0.25\t0.5\t0.75\t1\n", 18);
        double back = 0;
        REQUIRE(ndshard::detail::parse_value(buf, e + 18, back) == e);
        INFO(std::string(buf, e));
        if (i % 3 != 0) REQUIRE(text_test::bits_of(back) == text_test::bits_of(v));
        double ref = 0;
        fast_float::from_chars(buf, e, ref);
        REQUIRE(text_test::bits_of(back) == text_test::bits_of(ref));
    }
}
