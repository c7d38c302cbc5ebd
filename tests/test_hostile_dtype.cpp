// Element types: a dataset loaded as another type is an error naming both types, unless
// load_options::convert asks for a conversion, which then refuses values the requested type
// cannot hold instead of wrapping them or invoking undefined behaviour.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <ndshard/ndshard.hpp>
#include <xtensor/xtensor.hpp>

#include "hostile.hpp"

using ndshard_test::error_of;

namespace {

ndshard::load_options converting() {
    ndshard::load_options o;
    o.convert = true;
    o.threads = 2;
    return o;
}

template <class E>
void save_quick(const std::filesystem::path& dir, const E& a, std::size_t shards = 2) {
    ndshard::save_options o;
    o.shards = shards;
    o.threads = 2;
    o.sync = false;
    (void)ndshard::save(dir, a, o);
}

}  // namespace

TEST_CASE("dtype: loading as another type names both types", "[hostile][dtype]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    save_quick(dir, xt::xarray<double>{{1.5, 2.5}, {3.5, 4.5}});
    const std::string expected = "ndshard: cannot load '" + (dir / "manifest.json").string() +
                                 "': expected dtype <f4 (float32), found <f8 (float64): set "
                                 "load_options::convert to convert while reading";
    CHECK(error_of([&] { (void)ndshard::load<float>(dir); }) == expected);
    xt::xtensor<float, 2> into;
    CHECK(error_of([&] { ndshard::load_into(dir, into); }) == expected);
    CHECK(error_of([&] { (void)ndshard::load<std::int64_t>(dir); }) ==
          "ndshard: cannot load '" + (dir / "manifest.json").string() +
              "': expected dtype <i8 (int64), found <f8 (float64): set load_options::convert to "
              "convert while reading");

    ndshard::write_npy(tmp / "x.npy", xt::xarray<double>{1.0, 2.0});
    CHECK(error_of([&] { (void)ndshard::read_npy<float>(tmp / "x.npy"); }) ==
          "ndshard: cannot read '" + (tmp / "x.npy").string() +
              "': expected dtype <f4 (float32), found <f8 (float64)");
}

TEST_CASE("dtype: convert follows C++ rules for values that fit", "[dtype]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    const xt::xarray<double> d = {{0.1, -2.75}, {3.5, 1e30}, {-0.0, 255.9}};
    save_quick(dir, d);
    const auto f = ndshard::load<float>(dir, converting());
    for (std::size_t i = 0; i < d.size(); ++i)
        CHECK(f.data()[i] == static_cast<float>(d.data()[i]));
    const auto b = ndshard::load<bool>(dir, converting());
    CHECK((b == xt::xarray<bool>{{true, true}, {true, true}, {false, true}}));

    const xt::xarray<double> small = {{0.1, -2.75}, {3.5, 127.9}};
    save_quick(dir, small);
    CHECK((ndshard::load<std::int8_t>(dir, converting()) ==
           xt::xarray<std::int8_t>{{0, -2}, {3, 127}}));
    xt::xtensor<std::int32_t, 2> into;
    ndshard::load_into(dir, into, converting());
    CHECK((into == xt::xtensor<std::int32_t, 2>{{0, -2}, {3, 127}}));

    const xt::xarray<std::int64_t> big = {std::numeric_limits<std::int64_t>::min(), -1, 0,
                                          std::numeric_limits<std::int64_t>::max()};
    save_quick(dir, big);
    const auto as_double = ndshard::load<double>(dir, converting());
    CHECK(as_double(0) == -9223372036854775808.0);
    CHECK(as_double(3) == 9223372036854775808.0);  // rounded to nearest, as static_cast does

    const xt::xarray<bool> flags = {true, false, true};
    save_quick(dir, flags);
    CHECK((ndshard::load<std::uint16_t>(dir, converting()) == xt::xarray<std::uint16_t>{1, 0, 1}));
}

TEST_CASE("dtype: convert refuses values the requested type cannot hold", "[hostile][dtype]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    const auto shard1 = [&] { return (dir / ndshard::inspect(dir).shards[1].path).string(); };

    save_quick(dir, xt::xarray<double>{1.0, 2.0, 3.0, std::nan("")});
    CHECK(error_of([&] { (void)ndshard::load<std::int32_t>(dir, converting()); }) ==
          "ndshard: cannot convert '" + shard1() +
              "': element 3 holds nan (float64), which int32 cannot hold");

    save_quick(dir, xt::xarray<double>{1.0, 2.0, 3.0, 2147483648.0});
    CHECK(error_of([&] { (void)ndshard::load<std::int32_t>(dir, converting()); }) ==
          "ndshard: cannot convert '" + shard1() +
              "': element 3 holds 2147483648 (float64), which int32 cannot hold");
    save_quick(dir, xt::xarray<double>{1.0, 2.0, 3.0, -2147483648.9});  // truncates to INT32_MIN
    CHECK(ndshard::load<std::int32_t>(dir, converting())(3) ==
          std::numeric_limits<std::int32_t>::min());

    save_quick(dir, xt::xarray<double>{0.0, 1.0, 2.0, 1e300});
    CHECK(error_of([&] { (void)ndshard::load<float>(dir, converting()); }) ==
          "ndshard: cannot convert '" + shard1() +
              "': element 3 holds 1.0000000000000001e+300 (float64), which float32 cannot hold");
    save_quick(dir, xt::xarray<double>{0.0, 1.0, 2.0, INFINITY});  // infinity stays infinity
    CHECK(std::isinf(ndshard::load<float>(dir, converting())(3)));

    save_quick(dir, xt::xarray<std::int16_t>{5, 6, 7, -1});
    CHECK(error_of([&] { (void)ndshard::load<std::uint8_t>(dir, converting()); }) ==
          "ndshard: cannot convert '" + shard1() +
              "': element 3 holds -1 (int16), which uint8 cannot hold");
    save_quick(dir, xt::xarray<std::uint64_t>{5, 6, 7, std::uint64_t{1} << 63});
    CHECK(error_of([&] { (void)ndshard::load<std::int64_t>(dir, converting()); }) ==
          "ndshard: cannot convert '" + shard1() +
              "': element 3 holds 9223372036854775808 (uint64), which int64 cannot hold");

    // a corrupt shard is named as corrupt, even when the damage also makes a value unfit
    save_quick(dir, xt::xarray<double>{1.0, 2.0, 3.0, 1.0});
    ndshard_test::flip_byte(shard1(), 128 + 15);  // sign and exponent of element 3: 1 -> -65536
    CHECK(error_of([&] {
              (void)ndshard::load<std::int8_t>(dir, converting());
          }).rfind("ndshard: checksum mismatch in '" + shard1() + "'", 0) == 0);
    auto unchecked = converting();
    unchecked.verify = false;
    CHECK(error_of([&] { (void)ndshard::load<std::int8_t>(dir, unchecked); }) ==
          "ndshard: cannot convert '" + shard1() +
              "': element 3 holds -65536 (float64), which int8 cannot hold");
}

TEST_CASE("dtype: convert streams through a bounded buffer across many chunks", "[dtype]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    // 3 shards of ~1.4 M doubles: several 4 MiB chunks each, with a partial last chunk
    const std::size_t n = 4'200'001;
    xt::xarray<double> a = xt::xarray<double>::from_shape({n});
    for (std::size_t i = 0; i < n; ++i)
        a(i) = static_cast<double>(i % 65536) - 0.5;
    save_quick(dir, a, 3);
    const auto b = ndshard::load<std::int32_t>(dir, converting());
    REQUIRE(b.size() == n);
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < n; ++i)
        wrong += b(i) != static_cast<std::int32_t>(a(i));
    CHECK(wrong == 0);
}
