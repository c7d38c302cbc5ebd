// One text file read and written by every core: round trips, accepted oddities, fixtures written
// by numpy and pandas, thread counts, error messages word for word.
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <ndshard/ndshard.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include "text_support.hpp"

namespace {

using text_test::read_file;
using text_test::require_same_bits;
using text_test::temp_dir;
using text_test::write_file;
const auto q = text_test::quoted;

const double nan_ = std::numeric_limits<double>::quiet_NaN();
const double inf_ = std::numeric_limits<double>::infinity();

/// Cuts files into ranges of a byte or two, so that every cut lands inside a line, and releases
/// each range once read (the default tuning keeps files this small mapped between the passes).
const ndshard::detail::text_tuning tiny_ranges{1, 0};

ndshard::text_read_options with_threads(std::size_t threads, char delimiter = 0) {
    ndshard::text_read_options o;
    o.delimiter = delimiter;
    o.threads = threads;
    return o;
}

template <class T>
xt::xtensor<T, 2> random_bits(std::size_t rows, std::size_t cols, std::uint64_t seed) {
    return text_test::random_bits<T>({rows, cols}, seed);
}

/// Writes `a` in blocks of a few values (so rows span blocks and workers) with `threads` threads.
template <class A>
void write_small_blocks(const std::filesystem::path& p, const A& a, std::size_t threads,
                        char delimiter = '\t') {
    ndshard::text_write_options o;
    o.delimiter = delimiter;
    o.threads = threads;
    ndshard::detail::write_text_rows(p, ndshard::detail::make_row_source(a), o, 100);
}

}  // namespace

TEST_CASE("text file: float64 bit patterns round-trip exactly, any thread count",
          "[text][file][property]") {
    temp_dir dir;
    const auto a = random_bits<double>(531, 7, 11);
    for (std::size_t threads : text_test::thread_counts) {
        const auto p = dir / ("a" + std::to_string(threads) + ".tsv");
        write_small_blocks(p, a, threads);
        for (std::size_t rthreads : text_test::thread_counts) {
            require_same_bits(ndshard::read_text<double>(p, with_threads(rthreads)), a);
            require_same_bits(
                ndshard::detail::read_text_file<double>(p, with_threads(rthreads), tiny_ranges), a);
        }
    }
    // every writer thread count wrote the same bytes
    CHECK(read_file(dir / "a1.tsv") == read_file(dir / "a2.tsv"));
    CHECK(read_file(dir / "a1.tsv") == read_file(dir / "a7.tsv"));
    // and the default write too
    ndshard::write_text(dir / "d.tsv", a);
    CHECK(read_file(dir / "d.tsv") == read_file(dir / "a1.tsv"));
}

TEST_CASE("text file: float32 bit patterns round-trip exactly", "[text][file][property]") {
    temp_dir dir;
    const auto a = random_bits<float>(777, 5, 12);
    write_small_blocks(dir / "f.csv", a, 2, ',');
    for (std::size_t threads : text_test::thread_counts)
        require_same_bits(ndshard::detail::read_text_file<float>(
                              dir / "f.csv", with_threads(threads), tiny_ranges),
                          a);
}

TEST_CASE("text file: integers and bools round-trip exactly", "[text][file]") {
    temp_dir dir;
    xt::xtensor<std::int64_t, 2> i = {{std::numeric_limits<std::int64_t>::min(), -1, 0},
                                      {1, 42, std::numeric_limits<std::int64_t>::max()}};
    ndshard::write_text(dir / "i.tsv", i);
    CHECK(read_file(dir / "i.tsv") == "-9223372036854775808\t-1\t0\n1\t42\t9223372036854775807\n");
    require_same_bits(ndshard::read_text<std::int64_t>(dir / "i.tsv"), i);
    xt::xtensor<std::uint8_t, 2> u = {{0, 255}, {7, 128}};
    ndshard::write_text(dir / "u.csv", u, {',', -1, 2});
    require_same_bits(ndshard::read_text<std::uint8_t>(dir / "u.csv"), u);
    xt::xtensor<std::uint64_t, 2> big = {{std::numeric_limits<std::uint64_t>::max()}};
    ndshard::write_text(dir / "big.tsv", big);
    require_same_bits(ndshard::read_text<std::uint64_t>(dir / "big.tsv"), big);
    xt::xtensor<bool, 2> b = {{true, false, true}, {false, false, true}};
    ndshard::write_text(dir / "b.tsv", b);
    CHECK(read_file(dir / "b.tsv") == "1\t0\t1\n0\t0\t1\n");
    require_same_bits(ndshard::read_text<bool>(dir / "b.tsv"), b);
    write_file(dir / "b2.csv", "True,false\nTRUE,0\n");
    const xt::xtensor<bool, 2> b2 = {{true, false}, {true, false}};
    require_same_bits(ndshard::read_text<bool>(dir / "b2.csv"), b2);
}

TEST_CASE("text file: what write_text writes", "[text][file][write]") {
    temp_dir dir;
    const xt::xtensor<double, 2> a = {{1, 2.5, -0.0}, {1e-5, nan_, -inf_}};
    ndshard::write_text(dir / "a.tsv", a);
    CHECK(read_file(dir / "a.tsv") == "1\t2.5\t-0\n1e-05\tnan\t-inf\n");
    ndshard::write_text(dir / "a.csv", a, {',', -1, 1});
    CHECK(read_file(dir / "a.csv") == "1,2.5,-0\n1e-05,nan,-inf\n");
    ndshard::write_text(dir / "a.txt", a, {' ', 3, 2});
    CHECK(read_file(dir / "a.txt") == "1 2.5 -0\n1e-05 nan -inf\n");
    const xt::xtensor<double, 2> pi = {{3.14159265358979, 2.718281828}};
    ndshard::write_text(dir / "p.tsv", pi, {'\t', 4});
    CHECK(read_file(dir / "p.tsv") == "3.142\t2.718\n");
    // overwriting an existing file
    ndshard::write_text(dir / "p.tsv", pi, {';', 2});
    CHECK(read_file(dir / "p.tsv") == "3.1;2.7\n");
}

TEST_CASE("text file: ranks other than 2", "[text][file][write]") {
    temp_dir dir;
    const xt::xarray<double> v = {1.5, 2, 3};
    ndshard::write_text(dir / "v.tsv", v);
    CHECK(read_file(dir / "v.tsv") == "1.5\n2\n3\n");  // one value per line, like numpy.savetxt
    CHECK(ndshard::read_text<double>(dir / "v.tsv").shape()[1] == 1);
    xt::xarray<int> c = xt::arange<int>(12);
    c.reshape({2, 2, 3});
    ndshard::write_text(dir / "c.tsv", c);
    CHECK(read_file(dir / "c.tsv") == "0\t1\t2\t3\t4\t5\n6\t7\t8\t9\t10\t11\n");
    const xt::xarray<double> s = 2.5;
    ndshard::write_text(dir / "s.tsv", s);
    CHECK(read_file(dir / "s.tsv") == "2.5\n");
    // no rows, or rows without columns: an empty file, read back as (0, 0)
    ndshard::write_text(dir / "e1.tsv", xt::xtensor<double, 2>::from_shape({0, 3}));
    ndshard::write_text(dir / "e2.tsv", xt::xtensor<double, 2>::from_shape({3, 0}));
    CHECK(read_file(dir / "e1.tsv").empty());
    CHECK(read_file(dir / "e2.tsv").empty());
    CHECK(ndshard::read_text<double>(dir / "e1.tsv").shape() == std::array<std::size_t, 2>{0, 0});
}

TEST_CASE("text file: expressions that are not contiguous", "[text][file][write]") {
    temp_dir dir;
    const auto a = random_bits<double>(101, 13, 5);
    const xt::xtensor<double, 2> t = xt::transpose(a);
    ndshard::write_text(dir / "t.tsv", xt::transpose(a), {'\t', -1, 2});
    require_same_bits(ndshard::read_text<double>(dir / "t.tsv"), t);
    write_small_blocks(dir / "t2.tsv", xt::transpose(a), 7);
    CHECK(read_file(dir / "t2.tsv") == read_file(dir / "t.tsv"));
    const xt::xtensor<double, 2> sub = xt::view(a, xt::range(3, 90, 2), xt::range(1, 12, 3));
    ndshard::write_text(dir / "v.csv", xt::view(a, xt::range(3, 90, 2), xt::range(1, 12, 3)),
                        {',', -1, 2});
    require_same_bits(ndshard::read_text<double>(dir / "v.csv"), sub);
    const xt::xtensor<double, 2> sum = a * 2.0 + 1.0;
    ndshard::write_text(dir / "sum.tsv", a * 2.0 + 1.0);
    require_same_bits(ndshard::read_text<double>(dir / "sum.tsv"), sum);
}

TEST_CASE("text file: every accepted oddity", "[text][file][oddities]") {
    temp_dir dir;
    const std::string odd =
        "# a comment line\n"
        "+1.5, -2 ,3e2\r\n"
        "\r\n"
        "   \n"
        "\t\n"
        "  # an indented comment\n"
        " nan ,INF,-Infinity # a comment after the values\r\n"
        "\n"
        "4.,.5,+inf\n"
        "NaN,1E-2,-0\n"
        "7,8,9";  // no final newline
    write_file(dir / "odd.csv", odd);
    const xt::xtensor<double, 2> want = {
        {1.5, -2, 300}, {nan_, inf_, -inf_}, {4, 0.5, inf_}, {nan_, 0.01, -0.0}, {7, 8, 9}};
    for (std::size_t threads : text_test::thread_counts) {
        require_same_bits(ndshard::read_text<double>(dir / "odd.csv", with_threads(threads)), want);
        require_same_bits(ndshard::detail::read_text_file<double>(
                              dir / "odd.csv", with_threads(threads), tiny_ranges),
                          want);
    }
    // the same with tabs, and with runs of spaces
    std::string tabs = odd, spaces = odd;
    for (auto& c : tabs)
        if (c == ',') c = '\t';
    for (auto& c : spaces)
        if (c == ',') c = ' ';
    write_file(dir / "odd.tsv", tabs);
    write_file(dir / "odd.txt", spaces);
    require_same_bits(ndshard::read_text<double>(dir / "odd.tsv"), want);
    require_same_bits(ndshard::read_text<double>(dir / "odd.txt"), want);
    require_same_bits(ndshard::read_text<float>(dir / "odd.txt"), xt::xtensor<float, 2>(want));
}

TEST_CASE("text file: delimiters detected or given", "[text][file][delimiter]") {
    temp_dir dir;
    const xt::xtensor<double, 2> want = {{1, 2, 3}, {4, 5, 6}};
    write_file(dir / "tab.txt", "1\t2\t3\n4\t5\t6\n");
    write_file(dir / "comma.txt", "1,2,3\n4,5,6\n");
    write_file(dir / "runs.txt", "  1   2 3\n4\t 5  \t6\n");
    write_file(dir / "semi.txt", "1;2;3\n4 ; 5;6\n");
    write_file(dir / "comment.txt", "1,2,3 # a\tb\n4,5,6\n");  // a tab in a comment is no hint
    require_same_bits(ndshard::read_text<double>(dir / "tab.txt"), want);
    require_same_bits(ndshard::read_text<double>(dir / "comma.txt"), want);
    require_same_bits(ndshard::read_text<double>(dir / "runs.txt"), want);
    require_same_bits(ndshard::read_text<double>(dir / "comment.txt"), want);
    require_same_bits(ndshard::read_text<double>(dir / "semi.txt", with_threads(2, ';')), want);
    require_same_bits(ndshard::read_text<double>(dir / "runs.txt", with_threads(2, ' ')), want);
    ndshard::text_read_options o;
    o.delimiter = '7';
    CHECK_THROWS_WITH(ndshard::read_text<double>(dir / "tab.txt", o),
                      "ndshard: cannot read " + q(dir / "tab.txt") +
                          ": expected a delimiter that cannot appear in a number and is not the "
                          "comment character, found byte 55");
    o.delimiter = '#';
    CHECK_THROWS_AS(ndshard::read_text<double>(dir / "tab.txt", o), ndshard::error);
}

TEST_CASE("text file: skip_rows, comments and no comments", "[text][file]") {
    temp_dir dir;
    write_file(dir / "h.csv", "a,b\nunits,units\n1,2\n#3,4\n5,6\n");
    ndshard::text_read_options o;
    o.skip_rows = 2;
    const xt::xtensor<double, 2> want = {{1, 2}, {5, 6}};
    require_same_bits(ndshard::read_text<double>(dir / "h.csv", o), want);
    o.skip_rows = 100;  // more than the file has: no rows
    CHECK(ndshard::read_text<double>(dir / "h.csv", o).size() == 0);
    write_file(dir / "c.csv", "1;2\n%3;4\n");
    o = {};
    o.comment = '%';
    o.delimiter = ';';
    require_same_bits(ndshard::read_text<double>(dir / "c.csv", o), xt::xtensor<double, 2>{{1, 2}});
    o = {};
    o.comment = 0;  // '#' is then just a bad token
    write_file(dir / "n.csv", "1,2\n#3,4\n");
    CHECK_THROWS_WITH(ndshard::read_text<double>(dir / "n.csv", o),
                      "ndshard: cannot parse " + q(dir / "n.csv") +
                          " line 2, field 1 (byte 1): expected a number, found '#3'");
}

TEST_CASE("text file: one line, no lines, only comments", "[text][file][edge]") {
    temp_dir dir;
    const auto shape = [&](const std::string& text) {
        write_file(dir / "x.txt", text);
        const auto a = ndshard::read_text<double>(dir / "x.txt");
        return std::array<std::size_t, 2>{a.shape()[0], a.shape()[1]};
    };
    using S = std::array<std::size_t, 2>;
    CHECK(shape("") == S{0, 0});
    CHECK(shape("\n") == S{0, 0});
    CHECK(shape("\n\n  \r\n\t\n") == S{0, 0});
    CHECK(shape("# only\n# comments") == S{0, 0});
    CHECK(shape("1.5") == S{1, 1});
    CHECK(shape("1.5\n") == S{1, 1});
    CHECK(shape("1 2 3") == S{1, 3});
    CHECK(shape("# c\n\n1,2,3,4\n# c") == S{1, 4});
    write_file(dir / "one.txt", "-7.25");
    CHECK(ndshard::read_text<double>(dir / "one.txt")(0, 0) == -7.25);
    write_file(dir / "one.i", "  -7  ");
    CHECK(ndshard::read_text<std::int16_t>(dir / "one.i")(0, 0) == -7);
}

TEST_CASE("text file: a file ending exactly at a page boundary without a newline",
          "[text][file][edge]") {
    temp_dir dir;
    for (std::size_t size : {std::size_t{4095}, std::size_t{4096}, std::size_t{4097},
                             std::size_t{8192}, std::size_t{12289}}) {
        for (const std::string last : {"7", "# comment", "   ", "8\t9\t10\t11 "}) {
            std::string text;
            std::size_t rows = 0;
            while (text.size() + 40 < size) {
                text += std::to_string(rows) + ".5\t1\t2\t3\n";
                ++rows;
            }
            std::string line = last;
            if (last == "7") line = "7\t1\t2\t3";
            // pad the last full line with spaces so the file has exactly `size` bytes
            const std::size_t pad = size - text.size() - line.size();
            text.insert(text.size() - 1, std::string(pad, ' '));
            text += line;
            REQUIRE(text.size() == size);
            write_file(dir / "page.tsv", text);
            const auto a = ndshard::read_text<double>(dir / "page.tsv", with_threads(2));
            const bool extra = last == "7" || last.front() == '8';
            CHECK(a.shape()[0] == rows + (extra ? 1 : 0));
            CHECK(a(0, 0) == 0.5);
            if (extra) CHECK(a(rows, 3) == (last == "7" ? 3 : 11));
        }
    }
}

TEST_CASE("text file: sizes that are multiples of nothing, many ranges", "[text][file][property]") {
    temp_dir dir;
    std::mt19937_64 rng(3);
    for (int round = 0; round < 5; ++round) {
        const std::size_t rows = 1 + rng() % 300, cols = 1 + rng() % 9;
        const auto a = random_bits<double>(rows, cols, rng());
        // spaces, CRLF and comment lines sprinkled at random
        std::string text;
        char buf[40];
        for (std::size_t r = 0; r < rows; ++r) {
            if (rng() % 7 == 0) text += "# comment " + std::to_string(r) + "\n";
            if (rng() % 9 == 0) text += "\r\n";
            for (std::size_t c = 0; c < cols; ++c) {
                text += std::string(rng() % 3, ' ');
                char* e = ndshard::detail::format_value(buf, a(r, c), -1);
                text.append(buf, e);
                text += std::string(rng() % 2, ' ');
                if (c + 1 < cols) text += ',';
            }
            text += rng() % 2 ? "\r\n" : "\n";
        }
        if (rng() % 2) text.pop_back();
        write_file(dir / "r.csv", text);
        for (std::size_t threads : text_test::thread_counts)
            require_same_bits(ndshard::detail::read_text_file<double>(
                                  dir / "r.csv", with_threads(threads), {1 + rng() % 50, 1000}),
                              a);
    }
}

TEST_CASE("text file: fixtures written by numpy.savetxt and pandas", "[text][file][fixtures]") {
    using text_test::fixture;
    // numpy.savetxt default '%.18e', space-separated, a '#' header, nan and infinities
    require_same_bits(ndshard::read_text<double>(fixture("numpy_savetxt.txt")),
                      ndshard::read_npy<double>(fixture("numpy_savetxt.npy")));
    // float32 written with '%.9g' and commas, read straight into float
    require_same_bits(ndshard::read_text<float>(fixture("numpy_savetxt_f4.csv")),
                      ndshard::read_npy<float>(fixture("numpy_savetxt_f4.npy")));
    // pandas.DataFrame.to_csv: a header line to skip
    ndshard::text_read_options o;
    o.skip_rows = 1;
    require_same_bits(ndshard::read_text<double>(fixture("pandas.csv"), o),
                      ndshard::read_npy<double>(fixture("pandas.npy")));
    CHECK_THROWS_WITH(ndshard::read_text<double>(fixture("pandas.csv")),
                      "ndshard: cannot parse " + q(fixture("pandas.csv")) +
                          " line 1, field 1 (byte 1): expected a number, found 'c0' (line 1 "
                          "looks like column names: set text_read_options::header to skip it)");
}

TEST_CASE("text file: error messages", "[text][file][errors]") {
    temp_dir dir;
    const auto err = [&](const std::string& name, const std::string& text, auto type,
                         ndshard::text_read_options o = {}) {
        write_file(dir / name, text);
        try {
            (void)ndshard::read_text<decltype(type)>(dir / name, o);
        } catch (const ndshard::parse_error& e) {
            return std::string(e.what()) + " @" + std::to_string(e.line()) + ":" +
                   std::to_string(e.column());
        } catch (const ndshard::error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    const auto f = [&](const std::string& name) { return q(dir / name); };

    CHECK(err("a.tsv", "# header\n1\t2\t3\n\n4\tabc\t6\n", 0.0) ==
          "ndshard: cannot parse " + f("a.tsv") +
              " line 4, field 2 (byte 3): expected a number, found 'abc' @4:3");
    CHECK(err("b.tsv", "1\t2\t3\n4\t5\n", 0.0) ==
          "ndshard: ragged row in " + f("b.tsv") +
              " line 2, field 3 (byte 4): expected 3 values, found 2 @2:4");
    CHECK(err("c.tsv", "1\t2\t3\n4\t5\t6\t7\n", 0.0) ==
          "ndshard: ragged row in " + f("c.tsv") +
              " line 2, field 4 (byte 7): expected 3 values, found 4 @2:7");
    CHECK(err("d.txt", "1 2 3\n4 5\n", 0.0) ==
          "ndshard: ragged row in " + f("d.txt") +
              " line 2, field 3 (byte 4): expected 3 values, found 2 @2:4");
    CHECK(err("e.txt", "1 2 3\n4 5 6   7 8\n", 0.0) ==
          "ndshard: ragged row in " + f("e.txt") +
              " line 2, field 4 (byte 9): expected 3 values, found 5 @2:9");
    ndshard::text_read_options comma;
    comma.delimiter = ',';  // the first line alone would say "runs of spaces"
    CHECK(err("f.csv", "1\n2,3\n", 0.0, comma) ==
          "ndshard: ragged row in " + f("f.csv") +
              " line 2, field 2 (byte 3): expected 1 value, found 2 @2:3");
    // one delimiter at the end of a line starts no value ("1,2,3," is 3 values), two do
    CHECK(err("g.csv", "1,2,3\n1,2,3,,\n", 0.0) ==
          "ndshard: ragged row in " + f("g.csv") +
              " line 2, field 4 (byte 8): expected 3 values, found 4 @2:8");
    // an empty field is a missing value (NaN) unless na_values says otherwise
    ndshard::text_read_options no_na;
    no_na.na_values = {};
    CHECK(err("h.csv", "1,2,3\n1,,3\n", 0.0, no_na) ==
          "ndshard: cannot parse " + f("h.csv") +
              " line 2, field 2 (byte 3): expected a number, found '' @2:3");
    CHECK(err("h.csv", "1,2,3\n1,,3\n", 0) ==
          "ndshard: cannot parse " + f("h.csv") +
              " line 2, field 2 (byte 3): expected an integer from -2147483648 to 2147483647, "
              "found '' (a missing value: int32 has none; read the column as float to get NaN) "
              "@2:3");
    CHECK(err("i.csv", "1,2\n3,1.5x\n", 0.0) ==
          "ndshard: cannot parse " + f("i.csv") +
              " line 2, field 2 (byte 3): expected a number, found '1.5x' @2:3");
    CHECK(err("j.csv", "1,2\n3, 4 5 \n", 0.0) ==
          "ndshard: cannot parse " + f("j.csv") +
              " line 2, field 2 (byte 4): expected a number, found '4 5' @2:4");
    CHECK(err("k.csv", "1,2\n3,300\n", std::int8_t{}) ==
          "ndshard: cannot parse " + f("k.csv") +
              " line 2, field 2 (byte 3): expected an integer from -128 to 127, found '300' @2:3");
    CHECK(
        err("l.csv", "1,-1\n", std::uint32_t{}) ==
        "ndshard: cannot parse " + f("l.csv") +
            " line 1, field 2 (byte 3): expected an integer from 0 to 4294967295, found '-1' @1:3");
    CHECK(
        err("m.csv", "1,2.0\n", std::int32_t{}) ==
        "ndshard: cannot parse " + f("m.csv") +
            " line 1, field 2 (byte 3): expected an integer from -2147483648 to 2147483647, found "
            "'2.0' @1:3");
    CHECK(err("n.csv", "1,yes\n", bool{}) ==
          "ndshard: cannot parse " + f("n.csv") +
              " line 1, field 2 (byte 3): expected 0, 1, true or false, found 'yes' @1:3");
    CHECK(err("o.tsv", "1\t" + std::string(40, 'x') + "\n", 0.0) ==
          "ndshard: cannot parse " + f("o.tsv") +
              " line 1, field 2 (byte 3): expected a number, found '" + std::string(32, 'x') +
              "...' @1:3");
    CHECK(err("p.tsv", "1\t2\n3\tx", 0.0) ==  // in a last line without newline
          "ndshard: cannot parse " + f("p.tsv") +
              " line 2, field 2 (byte 3): expected a number, found 'x' @2:3");
    CHECK(err("q.tsv", "1\t2\r\n\r\n3\t\x01\r\n", 0.0) ==  // control bytes shown as '?'
          "ndshard: cannot parse " + f("q.tsv") +
              " line 3, field 2 (byte 3): expected a number, found '?' @3:3");
    ndshard::text_read_options skip;
    skip.skip_rows = 2;
    CHECK(err("r.csv", "h1,h2\nh3,h4\n1,2\n3,z\n", 0.0, skip) ==
          "ndshard: cannot parse " + f("r.csv") +
              " line 4, field 2 (byte 3): expected a number, found 'z' @4:3");
    CHECK_THROWS_WITH(
        ndshard::read_text<double>(dir / "nope.csv"),
        "ndshard: cannot open for reading " + f("nope.csv") + ": No such file or directory");
}

TEST_CASE("text file: errors far into a file name the right line, any thread count",
          "[text][file][errors]") {
    temp_dir dir;
    std::string text;
    for (int i = 1; i <= 2000; ++i)
        text += i == 1777 ? "1.5,bad,3\n" : (i % 10 == 0 ? "# c\n" : "1.5,2.5,3.5\n");
    write_file(dir / "big.csv", text);
    const std::string want = "ndshard: cannot parse " + q(dir / "big.csv") +
                             " line 1777, field 2 (byte 5): expected a number, found 'bad'";
    for (std::size_t threads : text_test::thread_counts) {
        CHECK_THROWS_WITH(ndshard::read_text<double>(dir / "big.csv", with_threads(threads)), want);
        CHECK_THROWS_WITH(ndshard::detail::read_text_file<double>(
                              dir / "big.csv", with_threads(threads), tiny_ranges),
                          want);
    }
}

TEST_CASE("text file: a failed write leaves nothing behind", "[text][file][errors]") {
    temp_dir dir;
    const xt::xtensor<double, 2> a = {{1, 2}};
    // the error names the file asked for, not the private name it is written under
    CHECK_THROWS_WITH(ndshard::write_text(dir / "missing" / "a.tsv", a),
                      "ndshard: cannot create '" + (dir / "missing" / "a.tsv").string() +
                          "': No such file or directory");
    CHECK_THROWS_AS(ndshard::write_text(dir / "a.tsv", a, {'\t', 0}), ndshard::error);
    CHECK(std::filesystem::is_empty(dir.path()));
}

TEST_CASE("text file: random bytes parse or fail cleanly, alike at any thread count",
          "[text][file][robustness]") {
    temp_dir dir;
    std::mt19937_64 rng(9);
    const std::string alphabet = "0123456789012345678901234567890123456789.e-+\t, \n\n\n\r#naifNE";
    std::size_t parsed = 0, failed = 0;
    for (int round = 0; round < 400; ++round) {
        std::string text;
        if (round % 2 == 0) {  // bytes from number-like characters, now and then any byte
            const std::size_t n = rng() % 300;
            for (std::size_t i = 0; i < n; ++i)
                text += rng() % 50 == 0 ? static_cast<char>(rng() % 256)
                                        : alphabet[rng() % alphabet.size()];
        } else {  // a well-formed file with a few bytes changed (sometimes none)
            const std::size_t rows = rng() % 20, cols = 1 + rng() % 5;
            char buf[64];
            for (std::size_t r = 0; r < rows; ++r)
                for (std::size_t c = 0; c < cols; ++c) {
                    char* e = ndshard::detail::format_value(
                        buf, text_test::random_finite<double>(rng), -1);
                    text.append(buf, e);
                    text += c + 1 < cols ? '\t' : '\n';
                }
            for (std::size_t k = rng() % 3; k > 0 && !text.empty(); --k)
                text[rng() % text.size()] = alphabet[rng() % alphabet.size()];
        }
        write_file(dir / "r.txt", text);
        const auto attempt = [&](std::size_t threads, bool tiny) {
            try {
                const auto a =
                    tiny ? ndshard::detail::read_text_file<double>(
                               dir / "r.txt", with_threads(threads), tiny_ranges)
                         : ndshard::read_text<double>(dir / "r.txt", with_threads(threads));
                return std::make_pair(true, xt::xtensor<double, 2>(a));
            } catch (const ndshard::error&) {
                return std::make_pair(false, xt::xtensor<double, 2>());
            }
        };
        const auto first = attempt(1, false);
        for (std::size_t threads : text_test::thread_counts) {
            const auto other = attempt(threads, true);
            REQUIRE(other.first == first.first);
            if (first.first) require_same_bits(other.second, first.second);
        }
        (first.first ? parsed : failed) += 1;
        try {  // the other types never crash either
            (void)ndshard::read_text<std::int32_t>(dir / "r.txt", with_threads(2));
            (void)ndshard::read_text<bool>(dir / "r.txt", with_threads(2));
        } catch (const ndshard::error&) {
        }
        try {
            (void)ndshard::read_embeddings<float>(dir / "r.txt");
        } catch (const ndshard::error&) {
        }
    }
    CHECK(parsed > 10);
    CHECK(failed > 10);
}
