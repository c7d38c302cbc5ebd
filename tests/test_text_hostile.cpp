// Text files that lie about their size or change under the reader: header dimensions and first
// lines that claim more values than the file holds, files truncated while they are read, and the
// line ends and trailing delimiters that spreadsheets and numpy users produce.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <ndshard/ndshard.hpp>

#include "text_support.hpp"

namespace {

using text_test::require_same_bits;
using text_test::temp_dir;
using text_test::write_file;
const auto q = text_test::quoted;

template <class F>
std::string error_of(F&& f) {
    return text_test::error_of(std::forward<F>(f));
}

/// A file of `text`, read as embeddings: the parse_error's message (empty if none).
std::string embeddings_parse_error(const temp_dir& dir, const std::string& text) {
    write_file(dir / "e.vec", text);
    try {
        (void)ndshard::read_embeddings<float>(dir / "e.vec");
    } catch (const ndshard::parse_error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("text hostile: an embedding header's dimension is checked against the file's size",
          "[text][embeddings][hostile]") {
    temp_dir dir;
    const std::string f = q(dir / "e.vec");
    // rows x D wrapped in size_t and the parser wrote past a 2-value buffer; or D alone was
    // allocated: each is now a parse error at the header line, before anything is allocated
    CHECK(embeddings_parse_error(dir, "2 9223372036854775808\na 1\nb 2\n") ==
          "ndshard: cannot parse " + f +
              " line 1, field 2 (byte 3): expected at most 4 values per row (what the 8 bytes "
              "after the "
              "header line can hold), found '9223372036854775808'");
    CHECK(embeddings_parse_error(dir, "3 6148914691236517206\na 1 2 3 4 5 6 7 8\nb 1\nc 1\n") ==
          "ndshard: cannot parse " + f +
              " line 1, field 2 (byte 3): expected at most 13 values per row (what the 26 bytes "
              "after "
              "the header line can hold), found '6148914691236517206'");
    CHECK(embeddings_parse_error(dir, "1 100000000000\na 1\n") ==
          "ndshard: cannot parse " + f +
              " line 1, field 2 (byte 3): expected at most 2 values per row (what the 4 bytes "
              "after the "
              "header line can hold), found '100000000000'");
    // the header's own line is named, after blank lines and with leading spaces
    CHECK(embeddings_parse_error(dir, "\n  7   0099999\nw 1\n") ==
          "ndshard: cannot parse " + f +
              " line 2, field 2 (byte 7): expected at most 2 values per row (what the 4 bytes "
              "after the "
              "header line can hold), found '0099999'");
    // a plausible D that the rows disagree with: the first row is ragged, as before
    CHECK(embeddings_parse_error(dir, "2 2\na 1\nb 2\n") ==
          "ndshard: ragged row in " + f + " line 2, field 3 (byte 4): expected 2 values, found 1");
    // words may be empty (tab-separated): the bound counts no bytes for them
    write_file(dir / "empty_words.tsv", "\t1\t2\n\t3\t4");
    const auto e = ndshard::read_embeddings<double>(dir / "empty_words.tsv");
    CHECK(e.words == std::vector<std::string>{"", ""});
    require_same_bits(e.vectors, xt::xtensor<double, 2>{{1, 2}, {3, 4}});
}

TEST_CASE("text hostile: a wide first line allocates nothing before a ragged row is reported",
          "[text][hostile]") {
    temp_dir dir;
    // 100,000 columns on the first line, then 100,000 lines of one: rows x columns would be
    // 80 GB of doubles, from a 400 KB file
    std::string text;
    for (int i = 0; i < 100000; ++i)
        text += i ? "\t1" : "1";
    text += '\n';
    for (int i = 0; i < 100000; ++i)
        text += "2\n";
    write_file(dir / "wide.tsv", text);
    for (std::size_t threads : text_test::thread_counts) {
        ndshard::text_read_options o;
        o.threads = threads;
        CHECK(error_of([&] { (void)ndshard::read_text<double>(dir / "wide.tsv", o); }) ==
              "ndshard: ragged row in " + q(dir / "wide.tsv") +
                  " line 2, field 2 (byte 2): expected 100000 values, found 1");
    }
    // the first short row is named wherever it is, also when it has the right count of fields
    // but empty ones (",,," holds 4 fields in 3 bytes)
    text = "1,2,3,4\n";
    for (int i = 0; i < 50; ++i)
        text += "5,6,7,8\n";
    text += ",,,\n";
    for (int i = 0; i < 2000; ++i)
        text += ",,,\n";
    write_file(dir / "empty.csv", text);
    ndshard::text_read_options no_na;  // empty fields are errors, not missing values
    no_na.na_values = {};
    CHECK(error_of([&] { (void)ndshard::read_text<float>(dir / "empty.csv", no_na); }) ==
          "ndshard: cannot parse " + q(dir / "empty.csv") +
              " line 52, field 1 (byte 1): expected a number, found ''");
    // empty fields in every row: each line ends in its '\n', so none can hold 2 values in 3
    // bytes; the first is named (it was "the file changed")
    write_file(dir / "gaps.csv", ",5\n,5\n");
    CHECK(error_of([&] { (void)ndshard::read_text<float>(dir / "gaps.csv", no_na); }) ==
          "ndshard: cannot parse " + q(dir / "gaps.csv") +
              " line 1, field 1 (byte 1): expected a number, found ''");
    write_file(dir / "gaps2.csv", "1,,3\n1,,3\n");
    CHECK(error_of([&] { (void)ndshard::read_text<float>(dir / "gaps2.csv", no_na); }) ==
          "ndshard: cannot parse " + q(dir / "gaps2.csv") +
              " line 1, field 2 (byte 3): expected a number, found ''");
    // as missing values (the default) every empty field is a NaN: a field then takes one byte
    // (its separator), and the bound follows
    const auto empty = ndshard::read_text<float>(dir / "empty.csv");
    REQUIRE(empty.shape(0) == 2052);
    CHECK(empty(50, 3) == 8.0f);
    CHECK(std::isnan(empty(51, 0)));
    CHECK(std::isnan(empty(2051, 3)));
    const auto gaps = ndshard::read_text<float>(dir / "gaps.csv");
    REQUIRE(gaps.shape(1) == 2);
    CHECK((std::isnan(gaps(0, 0)) && gaps(0, 1) == 5.0f && std::isnan(gaps(1, 0))));
    // still, no text holds more fields than bytes: ",,,,\n" cannot be 5 rows of 4
    write_file(dir / "short.csv", "1,2,3,4\n,\n,\n");
    CHECK(error_of([&] { (void)ndshard::read_text<float>(dir / "short.csv"); }) ==
          "ndshard: ragged row in " + q(dir / "short.csv") +
              " line 2, field 3 (byte 2): expected 4 values, found 2");
}

TEST_CASE("text hostile: the allocation bound is what the bytes can hold", "[text][hostile]") {
    using ndshard::detail::text_can_hold;
    // "1,2\n3,4" is 7 bytes: 2 rows of 2 values fit, 2 rows of 3 do not
    CHECK(text_can_hold(7, 2, 2));
    CHECK_FALSE(text_can_hold(6, 2, 2));
    CHECK_FALSE(text_can_hold(7, 2, 3));
    CHECK(text_can_hold(0, 0, 5));
    CHECK(text_can_hold(0, 5, 0));
    // no overflow near the top of the range
    CHECK_FALSE(text_can_hold(UINT64_MAX - 1, SIZE_MAX, SIZE_MAX));
    CHECK(text_can_hold(UINT64_MAX - 1, std::size_t{1} << 31, std::size_t{1} << 31));
}

TEST_CASE("text hostile: a text source notices a file that changed", "[text][hostile]") {
    temp_dir dir;
    const auto p = dir / "t.tsv";
    write_file(p, "1\t2\n3\t4\n");
    const ndshard::detail::text_source src(ndshard::file::open_read(p));
    char buf[8];
    src.read(0, 8, buf);
    src.check_unchanged();
    const std::string changed =
        "ndshard: cannot read " + q(p) + ": the file changed while it was read";
    REQUIRE(::truncate(p.c_str(), 3) == 0);
    CHECK(error_of([&] { src.read(0, 8, buf); }) == changed);
    CHECK(error_of([&] { src.check_unchanged(); }) == changed);
    // grown back to its size with other bytes: the times tell
    const ndshard::detail::text_source again(ndshard::file::open_read(p));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    write_file(p, "5\t6\n7\t8\n9\t0\n");
    REQUIRE(::truncate(p.c_str(), 3) == 0);
    CHECK(error_of([&] { again.check_unchanged(); }) == changed);
}

TEST_CASE("text hostile: truncating a file while it is read is an error, never a signal",
          "[text][hostile][race]") {
    temp_dir dir;
    const auto p = dir / "race.tsv";
    xt::xtensor<double, 2> a = text_test::random_bits<double>({60000, 10}, 5);
    ndshard::write_text(p, a);
    const std::string full = text_test::read_file(p);  // ~13 MB: a few ms to read
    const std::string changed =
        "ndshard: cannot read " + q(p) + ": the file changed while it was read";
    std::mt19937 rng(3);
    // both reading strategies: held whole, and read range by range in each pass
    for (const std::size_t keep : {std::size_t{32} << 20, std::size_t{0}}) {
        for (int round = 0; round < 12; ++round) {
            write_file(p, full);
            const auto delay = std::chrono::microseconds(rng() % 6000);
            std::thread cutter([&] {
                std::this_thread::sleep_for(delay);
                // in place, as numpy.savetxt, pandas.to_csv and a shell '>' do
                const int fd = ::open(p.c_str(), O_WRONLY | O_TRUNC);
                if (fd >= 0) ::close(fd);
            });
            ndshard::text_read_options o;
            o.threads = 2;
            try {
                const auto r = ndshard::detail::read_text_file<double>(p, o, {1 << 20, keep});
                // read before the cut (all of it) or after (nothing)
                if (r.shape()[0] == 0) {
                    CHECK(r.size() == 0);
                } else {
                    require_same_bits(r, a);
                }
            } catch (const ndshard::error& e) {
                CHECK(std::string(e.what()) == changed);
            }
            cutter.join();
        }
    }
}

TEST_CASE("text hostile: lines that end in a lone carriage return", "[text][hostile]") {
    temp_dir dir;
    // old spreadsheet CSVs: "\r" alone ends each line
    write_file(dir / "cr.csv", "# x,y\r1,2\r3,4.5\r\r5,6");
    require_same_bits(ndshard::read_text<double>(dir / "cr.csv"),
                      xt::xtensor<double, 2>{{1, 2}, {3, 4.5}, {5, 6}});
    // lines are counted by their '\r' in messages
    write_file(dir / "bad.csv", "1,2\r3,x\r");
    CHECK(error_of([&] { (void)ndshard::read_text<double>(dir / "bad.csv"); }) ==
          "ndshard: cannot parse " + q(dir / "bad.csv") +
              " line 2, field 2 (byte 3): expected a number, found 'x'");
    // space-separated: the lines are not glued into one row
    write_file(dir / "cr.txt", "1 2\r3 4\r");
    require_same_bits(ndshard::read_text<double>(dir / "cr.txt"),
                      xt::xtensor<double, 2>{{1, 2}, {3, 4}});
    // a file with any '\n' is not a lone-CR file: "\r\r\n" (CRLF converted twice) and a stray
    // '\r' keep their line numbers
    write_file(dir / "crcrlf.csv", "1,2\r\r\n3,x\r\r\n");
    CHECK(error_of([&] { (void)ndshard::read_text<double>(dir / "crcrlf.csv"); }) ==
          "ndshard: cannot parse " + q(dir / "crcrlf.csv") +
              " line 2, field 2 (byte 3): expected a number, found 'x'");
    write_file(dir / "stray.txt", "1\r2\n3 4\n");
    require_same_bits(ndshard::read_text<double>(dir / "stray.txt"),
                      xt::xtensor<double, 2>{{1, 2}, {3, 4}});
    // CRLF files are read as before ('\r' before '\n' is a space)
    write_file(dir / "crlf.csv", "1,2\r\n3,4\r\n");
    require_same_bits(ndshard::read_text<double>(dir / "crlf.csv"),
                      xt::xtensor<double, 2>{{1, 2}, {3, 4}});
    // and skipped rows count '\r' lines too
    ndshard::text_read_options skip;
    skip.skip_rows = 1;
    write_file(dir / "head.csv", "a,b\r1,2\r");
    require_same_bits(ndshard::read_text<double>(dir / "head.csv", skip),
                      xt::xtensor<double, 2>{{1, 2}});
    // embeddings too
    write_file(dir / "cr.vec", "2 2\rking 1 2\rqueen 3 4\r");
    const auto e = ndshard::read_embeddings<float>(dir / "cr.vec");
    CHECK(e.words == std::vector<std::string>{"king", "queen"});
    require_same_bits(e.vectors, xt::xtensor<float, 2>{{1, 2}, {3, 4}});
}

TEST_CASE("text hostile: a delimiter at the end of a line is not a column", "[text][hostile]") {
    temp_dir dir;
    // a trailing tab on a space-separated line: still separated by spaces
    write_file(dir / "a.txt", "1 2 3\t\n4 5 6\t\n");
    require_same_bits(ndshard::read_text<double>(dir / "a.txt"),
                      xt::xtensor<double, 2>{{1, 2, 3}, {4, 5, 6}});
    // a TSV whose lines end in a tab (and CRLF), a CSV whose lines end in a comma
    write_file(dir / "b.tsv", "1\t2\t\r\n3\t4\t\r\n");
    require_same_bits(ndshard::read_text<double>(dir / "b.tsv"),
                      xt::xtensor<double, 2>{{1, 2}, {3, 4}});
    write_file(dir / "c.csv", "1,2,\n3,4, \n5,6");
    require_same_bits(ndshard::read_text<double>(dir / "c.csv"),
                      xt::xtensor<double, 2>{{1, 2}, {3, 4}, {5, 6}});
    // only one: ",," at the end leaves an empty last column
    write_file(dir / "d.csv", "1,2\n3,4,,\n");
    CHECK(error_of([&] { (void)ndshard::read_text<double>(dir / "d.csv"); }) ==
          "ndshard: ragged row in " + q(dir / "d.csv") +
              " line 2, field 3 (byte 6): expected 2 values, found 3");
    // a row a value short that ends in a delimiter is ragged, not an empty value
    write_file(dir / "e.csv", "1,2,3\n4,5,\n");
    ndshard::text_read_options no_na;
    no_na.na_values = {};
    CHECK(error_of([&] { (void)ndshard::read_text<double>(dir / "e.csv", no_na); }) ==
          "ndshard: ragged row in " + q(dir / "e.csv") +
              " line 2, field 3 (byte 5): expected 3 values, found 2");
    // an empty value inside a row is still an error
    write_file(dir / "f.csv", "1,2,3\n4,,6\n");
    CHECK(error_of([&] { (void)ndshard::read_text<double>(dir / "f.csv", no_na); }) ==
          "ndshard: cannot parse " + q(dir / "f.csv") +
              " line 2, field 2 (byte 3): expected a number, found ''");
    // as pandas reads them (the default), both are missing values
    const auto e = ndshard::read_text<double>(dir / "e.csv");
    CHECK((e(1, 1) == 5.0 && std::isnan(e(1, 2))));
    const auto f = ndshard::read_text<double>(dir / "f.csv");
    CHECK((f(1, 0) == 4.0 && std::isnan(f(1, 1)) && f(1, 2) == 6.0));
}
