// load_into destinations that cannot be resized: xt::adapt over a buffer the caller owns and
// xt::xtensor_fixed. They load when their shape is the stored one, and are otherwise an
// ndshard::error naming the manifest, the stored shape and theirs (never xtensor's own exception).
#include <catch2/catch.hpp>
#include <ndshard/ndshard.hpp>
#include <numeric>
#include <string>
#include <vector>
#include <xtensor/xadapt.hpp>
#include <xtensor/xfixed.hpp>

#include "support.hpp"

using ndshard_test::error_of;

namespace {

xt::xtensor<double, 2> numbered(std::size_t rows, std::size_t cols) {
    xt::xtensor<double, 2> a = xt::xtensor<double, 2>::from_shape({rows, cols});
    std::iota(a.begin(), a.end(), 0.25);
    return a;
}

std::string shape_error(const std::filesystem::path& dir, const std::string& found) {
    return "ndshard: cannot load '" + (dir / "manifest.json").string() +
           "': expected a destination of shape (3, 4), found " + found;
}

const ndshard::shard_format formats[] = {ndshard::shard_format::npy, ndshard::shard_format::csv};

}  // namespace

TEST_CASE("load_into: an adaptor over the caller's buffer", "[load_into]") {
    ndshard_test::temp_dir tmp;
    const auto a = numbered(3, 4);
    for (const auto format : formats) {
        const auto dir = tmp / ndshard::to_string(format);
        (void)ndshard::save(dir, a, {format, 2, 2});

        std::vector<double> buffer(12, -1.0);
        auto right = xt::adapt(buffer.data(), buffer.size(), xt::no_ownership(),
                               std::array<std::size_t, 2>{3, 4});
        ndshard::load_into(dir, right, {2});
        REQUIRE(ndshard_test::same_bits(buffer, a));

        std::vector<double> small(8, -1.0);
        auto wrong = xt::adapt(small.data(), small.size(), xt::no_ownership(),
                               std::array<std::size_t, 2>{2, 4});
        REQUIRE(error_of([&] { ndshard::load_into(dir, wrong); }) == shape_error(dir, "(2, 4)"));
        REQUIRE(small == std::vector<double>(8, -1.0));  // refused before anything was read

        // as many elements, another shape: refused too, the caller's view is never reshaped
        std::vector<double> same_size(12, -1.0);
        auto reshaped = xt::adapt(same_size.data(), same_size.size(), xt::no_ownership(),
                                  std::vector<std::size_t>{4, 3});
        REQUIRE(error_of([&] { ndshard::load_into(dir, reshaped); }) == shape_error(dir, "(4, 3)"));

        // another rank: the same message, with both shapes
        std::vector<double> flat(12, -1.0);
        auto rank1 =
            xt::adapt(flat.data(), flat.size(), xt::no_ownership(), std::array<std::size_t, 1>{12});
        REQUIRE(error_of([&] { ndshard::load_into(dir, rank1); }) == shape_error(dir, "(12,)"));
    }
}

TEST_CASE("load_into: an adaptor that owns its buffer still resizes", "[load_into]") {
    ndshard_test::temp_dir tmp;
    const auto a = numbered(3, 4);
    (void)ndshard::save(tmp / "ds", a, {ndshard::shard_format::npy, 2, 2});
    std::vector<double> v(2, 0.0);
    auto over_vector = xt::adapt(v, std::vector<std::size_t>{2});  // resizes the vector
    ndshard::load_into(tmp / "ds", over_vector);
    REQUIRE(v.size() == 12);
    REQUIRE(ndshard_test::same_bits(v, a));
}

TEST_CASE("load_into: xtensor_fixed", "[load_into]") {
    ndshard_test::temp_dir tmp;
    const auto a = numbered(3, 4);
    for (const auto format : formats) {
        const auto dir = tmp / ndshard::to_string(format);
        (void)ndshard::save(dir, a, {format, 3, 2});

        xt::xtensor_fixed<double, xt::xshape<3, 4>> right;
        ndshard::load_into(dir, right, {2});
        REQUIRE(ndshard_test::same_bits(right, a));

        xt::xtensor_fixed<double, xt::xshape<2, 4>> wrong;
        REQUIRE(error_of([&] { ndshard::load_into(dir, wrong); }) == shape_error(dir, "(2, 4)"));
        xt::xtensor_fixed<double, xt::xshape<12>> flat;
        REQUIRE(error_of([&] { ndshard::load_into(dir, flat); }) == shape_error(dir, "(12,)"));
    }
}
