// Text shards in datasets: csv and tsv save/load/load_into, rank > 2, exactness, checks against
// the manifest.
#include <cstdint>
#include <random>
#include <string>

#include <catch2/catch.hpp>
#include <ndshard/ndshard.hpp>
#include <xtensor/xtensor.hpp>

#include "text_support.hpp"

namespace {

using text_test::random_bits;
using text_test::read_file;
using text_test::require_same_bits;
using text_test::temp_dir;
using text_test::write_file;
const auto q = text_test::quoted;

ndshard::save_options text_save(ndshard::shard_format f, std::size_t shards, std::size_t threads) {
    ndshard::save_options o;
    o.format = f;
    o.shards = shards;
    o.threads = threads;
    o.sync = false;
    return o;
}

}  // namespace

TEST_CASE("text dataset: float64 and float32 bit patterns round-trip through csv and tsv",
          "[text][dataset][property]") {
    temp_dir dir;
    const auto a = random_bits<double>({1001, 6}, 21);
    const auto f = random_bits<float>({333, 4}, 22);
    for (auto format : {ndshard::shard_format::csv, ndshard::shard_format::tsv}) {
        for (std::size_t shards : {std::size_t{1}, std::size_t{3}, std::size_t{7}}) {
            const auto info = ndshard::save(dir / "a.nds", a, text_save(format, shards, 2));
            REQUIRE(info.shards.size() == shards);
            CHECK(info.format == format);
            for (std::size_t threads : text_test::thread_counts) {
                ndshard::load_options lo;
                lo.threads = threads;
                require_same_bits(ndshard::load<double>(dir / "a.nds", lo), a);
            }
            ndshard::save(dir / "f.nds", f, text_save(format, shards, 7));
            require_same_bits(ndshard::load<float>(dir / "f.nds"), f);
        }
    }
}

TEST_CASE("text dataset: shard files are plain csv / tsv with one row per line",
          "[text][dataset]") {
    temp_dir dir;
    const xt::xtensor<double, 2> a = {{1, 2.5}, {-0.0, 1e-5}, {3, 4}};
    auto info = ndshard::save(dir / "c.nds", a, text_save(ndshard::shard_format::csv, 2, 2));
    REQUIRE(info.shards.size() == 2);
    CHECK(info.shards[0].path.substr(info.shards[0].path.size() - 4) == ".csv");
    CHECK(read_file(dir / "c.nds" / info.shards[0].path) == "1,2.5\n-0,1e-05\n");
    CHECK(read_file(dir / "c.nds" / info.shards[1].path) == "3,4\n");
    CHECK(info.shards[0].bytes == 15);
    info = ndshard::save(dir / "t.nds", a, text_save(ndshard::shard_format::tsv, 1, 1));
    CHECK(read_file(dir / "t.nds" / info.shards[0].path) == "1\t2.5\n-0\t1e-05\n3\t4\n");
    // the checksum covers the bytes of the file
    const std::string bytes = read_file(dir / "t.nds" / info.shards[0].path);
    CHECK(info.shards[0].checksum ==
          ndshard::detail::xxh3_stream::checksum_text(XXH3_64bits(bytes.data(), bytes.size())));
}

TEST_CASE("text dataset: rank > 2 flattens into columns and comes back in shape",
          "[text][dataset]") {
    temp_dir dir;
    const auto a = random_bits<double>({50, 3, 4, 2}, 23);
    const auto info = ndshard::save(dir / "r.nds", a, text_save(ndshard::shard_format::tsv, 4, 2));
    const std::string first = read_file(dir / "r.nds" / info.shards[0].path);
    CHECK(std::count(first.begin(), first.end(), '\n') == 13);  // 50 rows over 4 shards
    CHECK(std::count(first.begin(), first.begin() + static_cast<std::ptrdiff_t>(first.find('\n')),
                     '\t') == 23);
    const auto b = ndshard::load<double>(dir / "r.nds");
    require_same_bits(b, a);
    xt::xtensor<double, 4> into;
    ndshard::load_into(dir / "r.nds", into);
    require_same_bits(into, a);
    // rank 1 and rank 0
    const xt::xarray<double> v = {1.5, -2, 3};
    ndshard::save(dir / "v.nds", v, text_save(ndshard::shard_format::csv, 2, 2));
    require_same_bits(ndshard::load<double>(dir / "v.nds"), v);
    const xt::xarray<double> s = 0.1;
    ndshard::save(dir / "s.nds", s, text_save(ndshard::shard_format::csv, 0, 2));
    require_same_bits(ndshard::load<double>(dir / "s.nds"), s);
}

TEST_CASE("text dataset: integers, bools, empty arrays", "[text][dataset]") {
    temp_dir dir;
    xt::xtensor<std::int64_t, 2> i = {{INT64_MIN, -1}, {0, INT64_MAX}, {5, 6}};
    ndshard::save(dir / "i.nds", i, text_save(ndshard::shard_format::csv, 2, 2));
    require_same_bits(ndshard::load<std::int64_t>(dir / "i.nds"), i);
    xt::xtensor<std::uint16_t, 2> u = {{0, 65535}};
    ndshard::save(dir / "u.nds", u, text_save(ndshard::shard_format::tsv, 1, 1));
    require_same_bits(ndshard::load<std::uint16_t>(dir / "u.nds"), u);
    xt::xtensor<bool, 3> b = {{{true, false}}, {{false, true}}};
    ndshard::save(dir / "b.nds", b, text_save(ndshard::shard_format::tsv, 2, 2));
    require_same_bits(ndshard::load<bool>(dir / "b.nds"), b);
    for (auto shape : {std::vector<std::size_t>{0, 3}, std::vector<std::size_t>{4, 0},
                       std::vector<std::size_t>{2, 0, 5}}) {
        const xt::xarray<double> e = xt::xarray<double>::from_shape(shape);
        ndshard::save(dir / "e.nds", e, text_save(ndshard::shard_format::csv, 2, 2));
        const auto back = ndshard::load<double>(dir / "e.nds");
        CHECK(std::vector<std::size_t>(back.shape().begin(), back.shape().end()) == shape);
    }
}

TEST_CASE("text dataset: shards that disagree with the manifest", "[text][dataset][errors]") {
    temp_dir dir;
    const xt::xtensor<double, 2> a = {{1, 2}, {3, 4}, {5, 6}, {7, 8}};
    const auto info = ndshard::save(dir / "d.nds", a, text_save(ndshard::shard_format::csv, 2, 1));
    const auto shard = dir / "d.nds" / info.shards[1].path;
    const std::string good = read_file(shard);
    REQUIRE(good == "5,6\n7,8\n");
    ndshard::load_options no_verify;
    no_verify.verify = false;
    no_verify.threads = 1;

    // same size, one digit changed: the checksum catches it
    write_file(shard, "5,6\n7,9\n");
    CHECK_THROWS_WITH(
        ndshard::load<double>(dir / "d.nds"),
        Catch::StartsWith("ndshard: checksum mismatch in " + q(shard) + ": expected " +
                          info.shards[1].checksum + " (from the manifest), found xxh3:"));
    // unverified, the changed value is read as written
    CHECK(ndshard::load<double>(dir / "d.nds", no_verify)(3, 1) == 9);
    const auto fails = [&](const std::string& text, const ndshard::load_options& o) {
        write_file(shard, text);
        return text_test::error_of([&] { (void)ndshard::load<double>(dir / "d.nds", o); });
    };
    const std::string disagrees = "ndshard: shard disagrees with the manifest: " + q(shard);
    // same size, a ragged row or a bad value: a parse error with line, field and byte
    CHECK(fails("5\n6,7,8\n", no_verify) ==
          "ndshard: ragged row in " + q(shard) +
              " line 1, field 2 (byte 2): expected 2 values, found 1");
    CHECK(fails("5,6\n7,x\n", no_verify) ==
          "ndshard: cannot parse " + q(shard) +
              " line 2, field 2 (byte 3): expected a number, found 'x'");
    // same size, fewer or more rows
    CHECK(fails("5,6\n\n\n\n\n", no_verify) == disagrees + ": expected 2 rows, found 1");
    CHECK(fails("5\n6\n7\n8\n", no_verify) == disagrees + ": expected 2 rows, found 4");
    // another size: caught before anything is read
    CHECK(fails("5,6\n7,8", {}) == disagrees + ": expected 8 bytes, found 7");
    write_file(shard, good);
    require_same_bits(ndshard::load<double>(dir / "d.nds"), a);
}
