// Errors that point the way (issue #14): text errors give the field as well as the byte, a
// dtype mismatch says how to convert, a path of the wrong kind names the function that reads it,
// a missing dataset is told from a directory without a manifest. And no silent accepts: a line
// without a vector in an embedding file, a finite value beyond a float's range, and what a save
// removes from a directory it did not make.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <set>
#include <string>

#include <catch2/catch.hpp>
#include <ndshard/ndshard.hpp>
#include <ndshard/stream.hpp>

#include "support.hpp"

namespace {

using ndshard_test::error_of;
using ndshard_test::parse_error_of;
using ndshard_test::temp_dir;
using ndshard_test::write_file;

std::string q(const std::filesystem::path& p) {
    return "'" + p.string() + "'";
}

template <class T>
void stream_all(const std::filesystem::path& source, const ndshard::stream_options& o = {}) {
    ndshard::block_reader<T> r(source, o);
    while (r.next()) {
    }
}

const std::string not_dataset = "expected a dataset (a directory holding manifest.json), found ";

}  // namespace

TEST_CASE("pointing errors: a text parse error gives the field and the byte", "[pointing][text]") {
    temp_dir tmp;
    const auto f = tmp / "f";
    write_file(f, "id,score\n1,2,3\n4,alice,6\n");
    ndshard::text_read_options skip;
    skip.skip_rows = 1;
    CHECK(parse_error_of<double>(f, skip) ==
          "ndshard: cannot parse " + q(f) +
              " line 3, field 2 (byte 3): expected a number, found 'alice' @3:2:3");
    // the header itself, unskipped
    CHECK(parse_error_of<double>(f) == "ndshard: cannot parse " + q(f) +
                                           " line 1, field 1 (byte 1): expected a number, found "
                                           "'id' (line 1 looks like column names: set "
                                           "text_read_options::header to skip it) @1:1:1");
    // tabs, spaces around values: the field counts delimiters, the byte counts bytes
    write_file(f, "1\t2\t3\n4\t 5 \t x\n");
    CHECK(parse_error_of<double>(f) ==
          "ndshard: cannot parse " + q(f) +
              " line 2, field 3 (byte 8): expected a number, found 'x' @2:3:8");
    // runs of spaces: a run is one separator, leading spaces start no field
    write_file(f, "1  2   3\n  4   5  y\n");
    CHECK(parse_error_of<double>(f) ==
          "ndshard: cannot parse " + q(f) +
              " line 2, field 3 (byte 10): expected a number, found 'y' @2:3:10");
    // the last field, followed by a bad byte
    write_file(f, "1,2\n3,4x\n");
    CHECK(parse_error_of<std::int32_t>(f) ==
          "ndshard: cannot parse " + q(f) +
              " line 2, field 2 (byte 3): expected an integer from -2147483648 to 2147483647, "
              "found '4x' @2:2:3");
    // ragged rows: the field of the missing value, or of the first extra one
    write_file(f, "1,2,3\n4,5\n");
    CHECK(parse_error_of<double>(f) == "ndshard: ragged row in " + q(f) +
                                           " line 2, field 3 (byte 4): expected 3 values, found "
                                           "2 @2:3:4");
    write_file(f, "1,2\n3,4,5,6\n");
    CHECK(parse_error_of<double>(f) == "ndshard: ragged row in " + q(f) +
                                           " line 2, field 3 (byte 5): expected 2 values, found "
                                           "4 @2:3:5");
    write_file(f, "1 2 3\n4  5\n");
    CHECK(parse_error_of<double>(f) == "ndshard: ragged row in " + q(f) +
                                           " line 2, field 3 (byte 5): expected 3 values, found "
                                           "2 @2:3:5");
    // embeddings: the word is field 1
    write_file(f, "a 1 2\nb 1 x\n");
    CHECK_THROWS_WITH(ndshard::read_embeddings<float>(f),
                      "ndshard: cannot parse " + q(f) +
                          " line 2, field 3 (byte 5): expected a number, found 'x'");
    write_file(f, "a\t1\t2\nb c\t1\n");
    CHECK_THROWS_WITH(
        ndshard::read_embeddings<float>(f),
        "ndshard: ragged row in " + q(f) + " line 2, field 3 (byte 6): expected 2 values, found 1");
    // an embedding header's D is field 2
    write_file(f, "1 99999\nw 1\n");
    CHECK_THROWS_WITH(ndshard::read_embeddings<float>(f),
                      "ndshard: cannot parse " + q(f) +
                          " line 1, field 2 (byte 3): expected at most 2 values per row (what the "
                          "4 bytes after the header line can hold), found '99999'");
}

TEST_CASE("pointing errors: the field is what counting the delimiters before the byte gives",
          "[pointing][text]") {
    // every value of a 6-column line in turn made bad, with spaces around values: the field
    // parse_error reports is 1 + the delimiters before its byte, as count_fields splits the line
    temp_dir tmp;
    const auto f = tmp / "f.csv";
    for (char delimiter : {',', '\t', ';'}) {
        for (std::size_t bad = 0; bad < 6; ++bad) {
            std::string line;
            for (std::size_t c = 0; c < 6; ++c) {
                if (c > 0) line += delimiter;
                line += std::string(c % 3, ' ') + (c == bad ? "z" : std::to_string(c)) + " ";
            }
            write_file(f, "0,1,2,3,4,5\n" + line + "\n");
            ndshard::text_read_options o;
            o.delimiter = delimiter;
            o.skip_rows = 1;
            try {
                (void)ndshard::read_text<double>(f, o);
                FAIL("no error");
            } catch (const ndshard::parse_error& e) {
                const std::string before = line.substr(0, e.column() - 1);
                const auto delimiters =
                    static_cast<std::size_t>(std::count(before.begin(), before.end(), delimiter));
                CHECK(e.line() == 2);
                CHECK(e.field() == bad + 1);
                CHECK(e.field() == delimiters + 1);
                CHECK(line[e.column() - 1] == 'z');
            }
        }
    }
}

TEST_CASE("pointing errors: a dtype mismatch says how to convert", "[pointing][dtype]") {
    temp_dir tmp;
    const auto dir = tmp / "ds";
    ndshard::save(dir, xt::xarray<double>{{1.5, 2.5}, {3.5, 4.5}});
    const std::string m = "ndshard: cannot load " + q(dir / "manifest.json") +
                          ": expected dtype <f4 (float32), found <f8 (float64): set "
                          "load_options::convert to convert while reading";
    CHECK_THROWS_WITH(ndshard::load<float>(dir), m);
    CHECK_THROWS_WITH(ndshard::load_rows<float>(dir, 0, 1), m);
    xt::xarray<std::int64_t> into;
    CHECK_THROWS_WITH(ndshard::load_into(dir, into),
                      "ndshard: cannot load " + q(dir / "manifest.json") +
                          ": expected dtype <i8 (int64), found <f8 (float64): set "
                          "load_options::convert to convert while reading");
    // and with it set, the load converts
    ndshard::load_options o;
    o.convert = true;
    CHECK((ndshard::load<float>(dir, o) == xt::xarray<float>{{1.5f, 2.5f}, {3.5f, 4.5f}}));
    // block_reader takes no load_options: no hint at one
    CHECK_THROWS_WITH(stream_all<float>(dir),
                      "ndshard: cannot load " + q(dir / "manifest.json") +
                          ": expected dtype <f4 (float32), found <f8 (float64)");
}

TEST_CASE("pointing errors: a path of the wrong kind names the function that reads it",
          "[pointing][paths]") {
    temp_dir tmp;
    const xt::xarray<double> a = {{1.0, 2.0}, {3.0, 4.0}};
    const auto npy = tmp / "a.npy";
    ndshard::write_npy(npy, a);
    const std::string npy_message = "ndshard: cannot read " + q(npy) + ": " + not_dataset +
                                    "a .npy file (read it with ndshard::read_npy)";
    CHECK_THROWS_WITH(ndshard::load<double>(npy), npy_message);
    CHECK_THROWS_WITH(ndshard::inspect(npy), npy_message);
    CHECK_THROWS_WITH(ndshard::verify(npy), npy_message);
    CHECK_THROWS_WITH(ndshard::load_rows<double>(npy, 0, 1), npy_message);
    // a .npy file under another name is known by its magic
    std::filesystem::copy_file(npy, tmp / "array.bin");
    CHECK_THROWS_WITH(ndshard::load<double>(tmp / "array.bin"),
                      "ndshard: cannot read " + q(tmp / "array.bin") + ": " + not_dataset +
                          "a .npy file (read it with ndshard::read_npy)");
    // block_reader reads .npy files itself
    stream_all<double>(npy);

    write_file(tmp / "a.csv", "1,2\n3,4\n");
    CHECK_THROWS_WITH(ndshard::load<double>(tmp / "a.csv"),
                      "ndshard: cannot read " + q(tmp / "a.csv") + ": " + not_dataset +
                          "a text file (read it with ndshard::read_text)");
    write_file(tmp / "blob", "not an array");
    CHECK_THROWS_WITH(ndshard::inspect(tmp / "blob"),
                      "ndshard: cannot read " + q(tmp / "blob") + ": " + not_dataset + "a file");

    // a dataset directory given to the .npy readers
    const auto ds = tmp / "ds";
    ndshard::save(ds, a);
    const std::string ds_message =
        q(ds) + ": expected a .npy file, found a dataset directory (read it with ndshard::load)";
    CHECK_THROWS_WITH(ndshard::read_npy<double>(ds), "ndshard: cannot read " + ds_message);
    CHECK_THROWS_WITH(ndshard::read_npy_rows<double>(ds, 0, 1),
                      "ndshard: cannot read " + ds_message);
    CHECK_THROWS_WITH(ndshard::mapped_npy<double>(ds), "ndshard: cannot map " + ds_message);
    // a dataset's manifest given for the dataset
    CHECK_THROWS_WITH(ndshard::load<double>(ds / "manifest.json"),
                      "ndshard: cannot read " + q(ds / "manifest.json") + ": " + not_dataset +
                          "a manifest (give its directory, the dataset)");
    // a plain directory keeps the system's words
    std::filesystem::create_directory(tmp / "plain");
    CHECK_THROWS_WITH(ndshard::read_npy<double>(tmp / "plain"),
                      "ndshard: cannot read " + q(tmp / "plain") + ": Is a directory");

    // a zarr store given to load, and to read_npy
    const auto zs = tmp / "store.zarr";
    std::filesystem::create_directory(zs);
    write_file(zs / ".zarray", "{}");
    CHECK_THROWS_WITH(ndshard::load<double>(zs),
                      "ndshard: cannot read " + q(zs) + ": " + not_dataset +
                          "a zarr store (read it with ndshard::zarr::load)");
    CHECK_THROWS_WITH(ndshard::read_npy<double>(zs),
                      "ndshard: cannot read " + q(zs) +
                          ": expected a .npy file, found a zarr store (read it with "
                          "ndshard::zarr::load)");
    const auto group = tmp / "group.zarr";
    std::filesystem::create_directory(group);
    write_file(group / ".zgroup", "{\"zarr_format\": 2}");
    CHECK_THROWS_WITH(ndshard::inspect(group),
                      "ndshard: cannot read " + q(group) + ": " + not_dataset +
                          "a zarr store (read it with ndshard::zarr::load)");
}

TEST_CASE("pointing errors: no such directory, an empty one, one without a manifest",
          "[pointing][paths]") {
    temp_dir tmp;
    const auto none = tmp / "none";
    const std::string missing = "ndshard: cannot read " + q(none) + ": no such directory";
    CHECK_THROWS_WITH(ndshard::load<double>(none), missing);
    CHECK_THROWS_WITH(ndshard::inspect(none), missing);
    CHECK_THROWS_WITH(ndshard::verify(none), missing);
    CHECK_THROWS_WITH(ndshard::load_rows<double>(none, 0, 1), missing);
    CHECK_THROWS_WITH(ndshard::load<double>(none / "deeper"),
                      "ndshard: cannot read " + q(none / "deeper") + ": no such directory");

    const auto empty = tmp / "empty";
    std::filesystem::create_directory(empty);
    const std::string empty_message =
        "ndshard: cannot read " + q(empty) + ": " + not_dataset + "an empty directory";
    CHECK_THROWS_WITH(ndshard::load<double>(empty), empty_message);
    CHECK_THROWS_WITH(ndshard::verify(empty), empty_message);
    CHECK_THROWS_WITH(stream_all<double>(empty), empty_message);

    const auto other = tmp / "other";
    std::filesystem::create_directory(other);
    write_file(other / "notes.txt", "hello\n");
    const std::string other_message = "ndshard: cannot read " + q(other) + ": " + not_dataset +
                                      "a directory without manifest.json";
    CHECK_THROWS_WITH(ndshard::load<double>(other), other_message);
    CHECK_THROWS_WITH(ndshard::inspect(other), other_message);
    CHECK_THROWS_WITH(stream_all<double>(other), other_message);

    // a manifest that is there but cannot be read keeps its own error
    std::filesystem::create_directory(other / "manifest.json");
    CHECK(error_of([&] {
              (void)ndshard::inspect(other);
          }).rfind("ndshard: cannot read " + q(other / "manifest.json") + ": ", 0) == 0);
}

TEST_CASE("pointing errors: an embedding file without vectors is an error",
          "[pointing][embeddings]") {
    temp_dir tmp;
    const auto f = tmp / "e.csv";
    // a CSV file: commas never separate an embedding's values, so each line is one word
    write_file(f, "w,1,2\nx,3,4\n");
    CHECK_THROWS_WITH(ndshard::read_embeddings<float>(f),
                      "ndshard: cannot parse " + q(f) +
                          " line 1, field 2 (byte 6): expected a vector after the word 'w,1,2' "
                          "(values separated by spaces or tabs), found the end of the line");
    try {
        (void)ndshard::read_embeddings<double>(f);
        FAIL("no error");
    } catch (const ndshard::parse_error& e) {
        CHECK(e.line() == 1);
        CHECK(e.field() == 2);
        CHECK(e.column() == 6);
    }
    // a word list, after blank lines, with CRLF and trailing spaces
    write_file(f, "\n\napple  \r\nbanana\r\n");
    CHECK_THROWS_WITH(ndshard::read_embeddings<float>(f),
                      "ndshard: cannot parse " + q(f) +
                          " line 3, field 2 (byte 6): expected a vector after the word 'apple' "
                          "(values separated by spaces or tabs), found the end of the line");
    // tab-separated, a tab after the word and spaces before it
    write_file(f, "  apple\t\nbanana\t\n");
    CHECK_THROWS_WITH(ndshard::read_embeddings<float>(f),
                      "ndshard: cannot parse " + q(f) +
                          " line 1, field 2 (byte 8): expected a vector after the word 'apple' "
                          "(values separated by spaces or tabs), found the end of the line");
    // after a header line that is not one (skipped by skip_rows)
    ndshard::text_read_options o;
    o.skip_rows = 1;
    write_file(f, "words\nw\n");
    CHECK_THROWS_WITH(ndshard::read_embeddings<float>(f, o),
                      "ndshard: cannot parse " + q(f) +
                          " line 2, field 2 (byte 2): expected a vector after the word 'w' "
                          "(values separated by spaces or tabs), found the end of the line");
    // a detected header, then a word alone: a ragged row of the header's D
    write_file(f, "2 3\napple\nbanana 1 2 3\n");
    CHECK_THROWS_WITH(
        ndshard::read_embeddings<float>(f),
        "ndshard: ragged row in " + q(f) + " line 2, field 2 (byte 6): expected 3 values, found 0");
    // a header that says D is 0 asks for words alone
    write_file(f, "2 0\napple\nbanana\n");
    const auto e = ndshard::read_embeddings<float>(f);
    CHECK(e.words == std::vector<std::string>{"apple", "banana"});
    CHECK(e.vectors.shape(0) == 2);
    CHECK(e.vectors.shape(1) == 0);
    // an empty file is no words, as before
    write_file(f, "");
    CHECK(ndshard::read_embeddings<float>(f).words.empty());
}

TEST_CASE("pointing errors: a finite value beyond a float's range is an error",
          "[pointing][text][overflow]") {
    temp_dir tmp;
    const auto f = tmp / "f.csv";
    const std::string hint = " (set text_read_options::overflow_to_infinity to read it as inf)";
    write_file(f, "1,2\n3,1e300\n");
    CHECK(parse_error_of<float>(f) ==
          "ndshard: cannot parse " + q(f) +
              " line 2, field 2 (byte 3): expected a number float32 can hold, found '1e300'" +
              hint + " @2:2:3");
    write_file(f, "-3.5e38,2\n");
    CHECK(parse_error_of<float>(f) ==
          "ndshard: cannot parse " + q(f) +
              " line 1, field 1 (byte 1): expected a number float32 can hold, found '-3.5e38'" +
              hint + " @1:1:1");
    // the SIMD path (d.ddd…e±x of 21 bytes or more) and runs of spaces
    write_file(f, "1 2\n3  +3.4028237000000000e+38\n");
    CHECK(parse_error_of<float>(f) == "ndshard: cannot parse " + q(f) +
                                          " line 2, field 2 (byte 4): expected a number float32 "
                                          "can hold, found '+3.4028237000000000e+38'" +
                                          hint + " @2:2:4");
    // the last field of a tab-separated line, and double's range
    write_file(f, "1\t2\n3\t-1e400\n");
    CHECK(parse_error_of<double>(f) ==
          "ndshard: cannot parse " + q(f) +
              " line 2, field 2 (byte 3): expected a number float64 can hold, found '-1e400'" +
              hint + " @2:2:3");

    // values that round to the largest float, infinities and nan spelled out: as before
    write_file(f,
               "3.4028235e38,-3.40282356e38,3.4028235677973366e+38\ninf,-Infinity,nan\n+INF,"
               "1e-50,-0\n");
    const auto v = ndshard::read_text<float>(f);
    const float max = std::numeric_limits<float>::max(),
                inf = std::numeric_limits<float>::infinity();
    CHECK(v(0, 0) == max);
    CHECK(v(0, 1) == -max);
    CHECK(v(0, 2) == max);
    CHECK(v(1, 0) == inf);
    CHECK(v(1, 1) == -inf);
    CHECK(std::isnan(v(1, 2)));
    CHECK(v(2, 0) == inf);
    CHECK(v(2, 1) == 0.0f);

    // asked for: beyond the range is infinity, as IEEE-754 rounding gives
    ndshard::text_read_options o;
    o.overflow_to_infinity = true;
    write_file(f, "1e300,-3.5e38\n+3.4028237000000000e+38,2\n");
    const auto w = ndshard::read_text<float>(f, o);
    CHECK(w(0, 0) == inf);
    CHECK(w(0, 1) == -inf);
    CHECK(w(1, 0) == inf);
    CHECK(w(1, 1) == 2.0f);

    // embeddings, and block_reader over a text file
    const auto g = tmp / "g.txt";
    write_file(g, "w 1e300 2\n");
    CHECK_THROWS_WITH(ndshard::read_embeddings<float>(g),
                      "ndshard: cannot parse " + q(g) +
                          " line 1, field 2 (byte 3): expected a number float32 can hold, found "
                          "'1e300'" +
                          hint);
    CHECK(ndshard::read_embeddings<float>(g, o).vectors(0, 0) == inf);
    write_file(f, "1,2\n3,4\n5,-1e39\n");
    CHECK_THROWS_WITH(stream_all<float>(f),
                      "ndshard: cannot parse " + q(f) +
                          " line 3, field 2 (byte 3): expected a number float32 can hold, found "
                          "'-1e39'" +
                          hint);
    ndshard::stream_options so;
    so.text.overflow_to_infinity = true;
    ndshard::block_reader<float> r(f, so);
    REQUIRE(r.next());
    CHECK(r.rows()(2, 1) == -inf);
    CHECK(ndshard::read_text<double>(f)(2, 1) == -1e39);
}

TEST_CASE("pointing errors: a text shard of float64 loaded as float32 refuses what it cannot hold",
          "[pointing][text][overflow]") {
    temp_dir tmp;
    const auto dir = tmp / "ds";
    ndshard::save_options so;
    so.format = ndshard::shard_format::csv;
    so.shards = 1;
    ndshard::save(dir, xt::xarray<double>{{1.0, 2.0}, {3.0, 1e300}}, so);
    const auto shard = dir / ndshard::inspect(dir).shards[0].path;
    ndshard::load_options o;
    o.convert = true;
    const std::string m = "ndshard: cannot parse " + q(shard) +
                          " line 2, field 2 (byte 3): expected a number float32 can hold, found "
                          "'1e+300'";
    CHECK_THROWS_WITH(ndshard::load<float>(dir, o), m);
    CHECK_THROWS_WITH(ndshard::load_rows<float>(dir, 1, 2, o), m);
    CHECK((ndshard::load<double>(dir) == xt::xarray<double>{{1.0, 2.0}, {3.0, 1e300}}));
}

TEST_CASE("pointing errors: a save removes only what ndshard saves wrote", "[pointing][cleanup]") {
    temp_dir tmp;
    const auto dir = tmp / "ds";
    const xt::xarray<double> a = {{1.5, 2.5}, {3.5, 4.5}, {5.5, 6.5}};
    ndshard::save_options so;
    so.shards = 1;
    ndshard::save(dir, a, so);
    // a hand-built dataset: its one shard renamed, the manifest edited to match
    const std::string first = ndshard::inspect(dir).shards[0].path;
    std::filesystem::rename(dir / first, dir / "mine.npy");
    std::string manifest = ndshard_test::read_file(dir / "manifest.json");
    manifest.replace(manifest.find(first), first.size(), "mine.npy");
    write_file(dir / "manifest.json", manifest);
    REQUIRE((ndshard::load<double>(dir) == a));
    // and a user's files: a note, a name like a shard's, a subdirectory, an empty one
    write_file(dir / "notes.txt", "notes\n");
    write_file(dir / "part-foo.npy", "mine\n");
    std::filesystem::create_directories(dir / "archive" / "2023");
    write_file(dir / "archive" / "old.npy", "old\n");
    std::filesystem::create_directory(dir / "scratch");

    for (int save = 0; save < 2; ++save) {
        const auto info = ndshard::save(dir, a * 2, so);
        std::set<std::string> expected = {".ndshard.lock", "manifest.json", "mine.npy", "notes.txt",
                                          "part-foo.npy",  "archive",       "scratch"};
        for (const auto& s : info.shards)
            expected.insert(s.path);
        CHECK(ndshard_test::list_dir(dir) == expected);
        CHECK(ndshard_test::read_file(dir / "notes.txt") == "notes\n");
        CHECK(ndshard_test::read_file(dir / "part-foo.npy") == "mine\n");
        CHECK(ndshard_test::read_file(dir / "archive" / "old.npy") == "old\n");
        CHECK(std::filesystem::is_directory(dir / "archive" / "2023"));
        CHECK((ndshard::load<double>(dir) == a * 2));
    }
    // what a save does remove: unlisted files named as ndshard names shards, and its temporary
    // manifests
    write_file(dir / "part-000090-00000.npy", "a killed save's shard");
    write_file(dir / "manifest.json.tmp-12345", "a killed save's manifest");
    ndshard::save(dir, a, so);
    CHECK(!std::filesystem::exists(dir / "part-000090-00000.npy"));
    CHECK(!std::filesystem::exists(dir / "manifest.json.tmp-12345"));
    CHECK(std::filesystem::exists(dir / "mine.npy"));
}
