// block_reader: every source kind, block sizes 1 / prime / larger than the source, read-ahead on
// and off, row windows, and the errors a stream meets.
#include <cstddef>
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xview.hpp>

#include "ndshard/ndshard.hpp"
#include "support.hpp"

namespace {

using ndshard_test::temp_dir;

/// Streams `source` and checks every block against rows of `expected`: in order, each block
/// of `block_rows` rows (the last may be shorter), starting at the window's first row.
template <class T>
std::size_t stream_and_check(const std::filesystem::path& source, const xt::xarray<T>& expected,
                             ndshard::stream_options o) {
    ndshard::block_reader<T> r(source, o);
    REQUIRE(r.shape() ==
            std::vector<std::size_t>(expected.shape().begin(), expected.shape().end()));
    const std::size_t rows = expected.shape()[0];
    const std::size_t end = std::min(o.last_row, rows);
    std::size_t at = std::min(o.first_row, end), blocks = 0;
    while (r.next()) {
        REQUIRE(r.first_row() == at);
        const std::size_t n = r.rows().shape()[0];
        REQUIRE(n >= 1);
        if (o.block_rows != 0) REQUIRE(n == std::min(o.block_rows, end - at));
        const xt::xarray<T> want = xt::view(expected, xt::range(at, at + n));
        REQUIRE(ndshard_test::same_bits(r.rows(), want));
        at += n;
        ++blocks;
    }
    REQUIRE(at == end);
    REQUIRE_FALSE(r.next());  // stays at the end
    return blocks;
}

xt::xarray<double> sample(std::size_t rows, std::size_t cols) {
    xt::xarray<double> a = xt::xarray<double>::from_shape({rows, cols});
    for (std::size_t i = 0; i < a.size(); ++i)
        a.data()[i] = static_cast<double>(i) / 7.0 - 3.5;
    return a;
}

void write_file(const std::filesystem::path& p, const std::string& text) {
    std::ofstream(p, std::ios::binary) << text;
}

}  // namespace

TEST_CASE("block_reader streams every source kind in row order", "[stream]") {
    temp_dir tmp;
    const auto a = sample(1009, 6);
    ndshard::save(tmp / "npy.nds", a, {ndshard::shard_format::npy, 7});
    ndshard::save(tmp / "tsv.nds", a, {ndshard::shard_format::tsv, 5});
    ndshard::save(tmp / "csv.nds", a, {ndshard::shard_format::csv, 3});
    ndshard::write_npy(tmp / "a.npy", a);
    ndshard::write_text(tmp / "a.tsv", a);
    const char* sources[] = {"npy.nds", "tsv.nds", "csv.nds", "a.npy", "a.tsv"};
    for (const char* source : sources) {
        for (const std::size_t block_rows : {std::size_t{1}, std::size_t{97}, std::size_t{5000}}) {
            for (const std::size_t prefetch : {std::size_t{0}, std::size_t{1}, std::size_t{3}}) {
                CAPTURE(source, block_rows, prefetch);
                ndshard::stream_options o;
                o.block_rows = block_rows;
                o.prefetch = prefetch;
                o.threads = 2;
                const std::size_t blocks = stream_and_check(tmp / source, a, o);
                REQUIRE(blocks == (1009 + block_rows - 1) / block_rows);
                o.first_row = 200;
                o.last_row = 611;
                stream_and_check(tmp / source, a, o);
            }
        }
    }
}

TEST_CASE("block_reader clips its row window to the rows there are", "[stream]") {
    temp_dir tmp;
    const auto a = sample(50, 3);
    ndshard::save(tmp / "d", a, {ndshard::shard_format::npy, 4});
    ndshard::stream_options o;
    o.block_rows = 8;
    o.first_row = 45;
    REQUIRE(stream_and_check(tmp / "d", a, o) == 1);  // rows 45..49
    o.first_row = 50;
    REQUIRE(stream_and_check(tmp / "d", a, o) == 0);
    o.first_row = 1000;
    REQUIRE(stream_and_check(tmp / "d", a, o) == 0);
    o.first_row = 30;
    o.last_row = 20;  // first > last: nothing
    ndshard::block_reader<double> r(tmp / "d", o);
    REQUIRE_FALSE(r.next());
    o.first_row = 0;
    o.last_row = 1;
    REQUIRE(stream_and_check(tmp / "d", a, o) == 1);
}

TEST_CASE("block_reader handles zero rows, rank 1 and rank 3", "[stream]") {
    temp_dir tmp;
    const xt::xarray<float> empty = xt::xarray<float>::from_shape({0, 4});
    ndshard::save(tmp / "empty", empty);
    ndshard::block_reader<float> r(tmp / "empty");
    REQUIRE(r.shape() == std::vector<std::size_t>{0, 4});
    REQUIRE_FALSE(r.next());

    xt::xarray<std::int32_t> v = xt::arange<std::int32_t>(0, 101);
    ndshard::save(tmp / "v", v, {ndshard::shard_format::csv, 3});
    ndshard::write_npy(tmp / "v.npy", v);
    ndshard::stream_options o;
    o.block_rows = 10;
    stream_and_check(tmp / "v", v, o);
    stream_and_check(tmp / "v.npy", v, o);

    xt::xarray<std::uint8_t> c = xt::xarray<std::uint8_t>::from_shape({13, 3, 5});
    for (std::size_t i = 0; i < c.size(); ++i)
        c.data()[i] = static_cast<std::uint8_t>(i * 31);
    ndshard::save(tmp / "c", c, {ndshard::shard_format::tsv, 4});
    ndshard::save(tmp / "cn", c, {ndshard::shard_format::npy, 4});
    o.block_rows = 3;
    stream_and_check(tmp / "c", c, o);
    stream_and_check(tmp / "cn", c, o);
}

TEST_CASE("block_reader reads text files as read_text does", "[stream]") {
    temp_dir tmp;
    write_file(tmp / "a.csv", "# a comment\nx,y\n1,2\n\n3 , 4 # trailing\n5,6\r\n7,8");
    ndshard::stream_options o;
    o.text.skip_rows = 2;
    o.block_rows = 3;
    const xt::xarray<double> want = {{1, 2}, {3, 4}, {5, 6}, {7, 8}};
    stream_and_check(tmp / "a.csv", want, o);

    write_file(tmp / "s.txt", "1 2 3\n4  5\t6\n");
    o = {};
    const xt::xarray<std::int64_t> ints = {{1, 2, 3}, {4, 5, 6}};
    stream_and_check(tmp / "s.txt", ints, o);

    write_file(tmp / "none.csv", "# nothing\n\n");
    ndshard::block_reader<double> r(tmp / "none.csv");
    REQUIRE(r.shape() == std::vector<std::size_t>{0, 0});
    REQUIRE_FALSE(r.next());
}

TEST_CASE("block_reader over a long text file parses it window by window", "[stream]") {
    temp_dir tmp;
    // more than one 4 MiB window, so rows cross windows
    const auto a = sample(200000, 4);
    ndshard::write_text(tmp / "big.tsv", a);
    ndshard::stream_options o;
    o.block_rows = 65537;
    stream_and_check(tmp / "big.tsv", a, o);
    o.first_row = 150001;  // the windows before it are counted, not parsed
    o.block_rows = 7;
    o.last_row = 150100;
    stream_and_check(tmp / "big.tsv", a, o);
}

TEST_CASE("block_reader reports bad sources and bad rows", "[stream]") {
    temp_dir tmp;
    const auto dir = tmp.path().string();
    REQUIRE_THROWS_WITH(
        ndshard::block_reader<double>(tmp / "missing.npy"),
        "ndshard: cannot open for reading '" + dir + "/missing.npy': No such file or directory");

    ndshard::save(tmp / "scalar", xt::xarray<double>(2.5));
    REQUIRE_THROWS_WITH(ndshard::block_reader<double>(tmp / "scalar"),
                        "ndshard: cannot stream '" + dir +
                            "/scalar': expected an array of rank 1 or more (rows to stream), "
                            "found rank 0");

    ndshard::save(tmp / "f4", xt::xarray<float>{{1, 2}});
    REQUIRE_THROWS_WITH(ndshard::block_reader<double>(tmp / "f4"),
                        "ndshard: cannot load '" + dir +
                            "/f4/manifest.json': expected dtype <f8 (float64), found <f4 "
                            "(float32)");  // no hint at load_options: block_reader takes none
    ndshard::write_npy(tmp / "f4.npy", xt::xarray<float>{{1, 2}});
    REQUIRE_THROWS_WITH(ndshard::block_reader<double>(tmp / "f4.npy"),
                        "ndshard: cannot read '" + dir +
                            "/f4.npy': expected dtype <f8 (float64), found <f4 (float32)");

    // a bad number is thrown by next() for the block it is in, with its line, field and byte
    write_file(tmp / "bad.csv", "1,2\n3,4\n5,x\n");
    ndshard::stream_options o;
    o.block_rows = 1;
    ndshard::block_reader<double> r(tmp / "bad.csv", o);
    REQUIRE_THROWS_WITH(
        [&] {
            while (r.next()) {
            }
        }(),
        "ndshard: cannot parse '" + dir +
            "/bad.csv' line 3, field 2 (byte 3): expected a number, found 'x'");
}

TEST_CASE("block_reader verifies the bytes it returns", "[stream]") {
    temp_dir tmp;
    const auto a = sample(300000, 4);  // 9.6 MB in 2 shards: several checksum blocks each
    const auto info = ndshard::save(tmp / "d", a, {ndshard::shard_format::npy, 2});
    const auto shard = tmp / "d" / info.shards[1].path;
    {
        // flip one byte 3 MiB into the second shard
        std::fstream f(shard, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(3 << 20);
        const char c = 0x55;
        f.write(&c, 1);
    }
    ndshard::stream_options o;
    o.block_rows = 1000;
    o.prefetch = 1;
    std::size_t good = 0;
    const auto run = [&] {
        ndshard::block_reader<double> r(tmp / "d", o);
        while (r.next())
            good = r.first_row() + r.rows().shape()[0];
    };
    REQUIRE_THROWS_WITH(
        run(), Catch::Matchers::StartsWith("ndshard: checksum mismatch in '" + shard.string() +
                                           "': expected xxh3:") &&
                   Catch::Matchers::Contains(" for bytes [3145728, 4194304) (from the manifest), "
                                             "found xxh3:") &&
                   Catch::Matchers::EndsWith(": the shard is corrupt"));
    // the rows before the corrupt block's 4 MiB read came out; none after it
    REQUIRE(good >= 100000);
    REQUIRE(good < 150000 + (3 << 20) / 32);
    o.verify = false;
    good = 0;
    run();
    REQUIRE(good == 300000);

    // a text shard is hashed whole before its rows are parsed
    const auto t = ndshard::save(tmp / "t", a, {ndshard::shard_format::tsv, 2});
    const auto tshard = tmp / "t" / t.shards[0].path;
    {
        std::fstream f(tshard, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(100);
        f.write("9", 1);
    }
    o.verify = true;
    const auto drain = [&](const std::filesystem::path& source) {
        ndshard::block_reader<double> r(source, o);
        while (r.next()) {
        }
    };
    REQUIRE_THROWS_WITH(drain(tmp / "t"),
                        Catch::Matchers::StartsWith("ndshard: checksum mismatch in '" +
                                                    tshard.string() + "': expected xxh3:"));
}
