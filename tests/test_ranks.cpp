// Ranks 0 (numpy's 0-d arrays) to 4, shapes with a zero dimension and zero rows, through both
// paths: datasets (save/load/load_into) and single .npy files (write_npy/read_npy).
#include <catch2/catch.hpp>
#include <ndshard/ndshard.hpp>
#include <numeric>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "support.hpp"

namespace {

xt::xarray<double> iota_array(const std::vector<std::size_t>& shape) {
    using shape_type = xt::xarray<double>::shape_type;
    xt::xarray<double> a = xt::xarray<double>::from_shape(shape_type(shape.begin(), shape.end()));
    std::iota(a.begin(), a.end(), 0.5);
    return a;
}

// Saves and loads `a` both ways with several shard and thread counts; checks shape and values.
void check_both_paths(const xt::xarray<double>& a) {
    const std::vector<std::size_t> shape(a.shape().begin(), a.shape().end());
    INFO("shape " << ndshard::shape_text(shape));
    ndshard_test::temp_dir tmp;
    for (std::size_t shards : {0u, 1u, 3u, 8u}) {
        INFO("shards " << shards);
        const auto info = ndshard::save(tmp / "ds", a, {ndshard::shard_format::npy, shards, 2});
        REQUIRE(info.shape == shape);
        const std::size_t rows = shape.empty() ? 1 : shape[0];
        const std::size_t expected_shards =
            shape.empty() || rows == 0 ? 1 : std::min(shards == 0 ? 2 : shards, rows);
        REQUIRE(info.shards.size() == expected_shards);
        REQUIRE(info.shards.back().last_row == rows);
        const auto b = ndshard::load<double>(tmp / "ds", {2});
        REQUIRE(b.dimension() == shape.size());
        REQUIRE(std::vector<std::size_t>(b.shape().begin(), b.shape().end()) == shape);
        REQUIRE((b == a));
    }
    for (std::size_t threads : {1u, 3u}) {
        ndshard::write_npy(tmp / "a.npy", a, threads);
        const auto c = ndshard::read_npy<double>(tmp / "a.npy", threads);
        REQUIRE(std::vector<std::size_t>(c.shape().begin(), c.shape().end()) == shape);
        REQUIRE((c == a));
    }
}

}  // namespace

TEST_CASE("ranks: 0-d array", "[ranks]") {
    xt::xarray<double> a = xt::xarray<double>::from_shape({});
    a() = 2.75;
    REQUIRE(a.dimension() == 0);
    check_both_paths(a);

    ndshard_test::temp_dir tmp;
    ndshard::write_npy(tmp / "s.npy", a, 1);
    const std::string bytes = ndshard_test::read_file(tmp / "s.npy");
    REQUIRE(bytes.find("'shape': ()") != std::string::npos);
    REQUIRE(bytes.size() == 128 + 8);  // numpy's 0-d layout: header, then one element
    const auto b = ndshard::read_npy<double>(tmp / "s.npy");
    REQUIRE(b.dimension() == 0);
    REQUIRE(b() == 2.75);
}

TEST_CASE("ranks: 1 to 4", "[ranks]") {
    check_both_paths(iota_array({17}));
    check_both_paths(iota_array({9, 5}));
    check_both_paths(iota_array({7, 3, 4}));
    check_both_paths(iota_array({5, 2, 3, 2}));
    check_both_paths(iota_array({1, 1, 1, 1}));
    check_both_paths(iota_array({1}));
}

TEST_CASE("ranks: a zero dimension and zero rows", "[ranks]") {
    check_both_paths(iota_array({0}));
    check_both_paths(iota_array({0, 4}));
    check_both_paths(iota_array({0, 0, 2}));
    check_both_paths(iota_array({3, 0}));
    check_both_paths(iota_array({4, 2, 0}));
    check_both_paths(iota_array({2, 0, 3, 1}));
}

TEST_CASE("ranks: load_into a fixed-rank xtensor and a reused xarray", "[ranks]") {
    ndshard_test::temp_dir tmp;
    const auto a = iota_array({6, 2, 3});
    (void)ndshard::save(tmp / "ds", a, {ndshard::shard_format::npy, 4, 2});

    xt::xtensor<double, 3> t;
    ndshard::load_into(tmp / "ds", t, {2});
    REQUIRE(t.shape() == std::array<std::size_t, 3>{6, 2, 3});
    REQUIRE((t == a));

    xt::xarray<double> x = xt::zeros<double>({100});  // larger: its memory is reused
    ndshard::load_into(tmp / "ds", x, {1});
    REQUIRE((x == a));

    xt::xtensor<double, 2> wrong_rank;
    const std::string m =
        ndshard_test::error_of([&] { ndshard::load_into(tmp / "ds", wrong_rank); });
    REQUIRE(m == "ndshard: cannot load '" + (tmp / "ds" / "manifest.json").string() +
                     "': expected a destination of rank 3, found one of fixed rank 2");
}
