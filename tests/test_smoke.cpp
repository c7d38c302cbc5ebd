#include <catch2/catch.hpp>
#include <ndshard/ndshard.hpp>
#include <xtensor/xrandom.hpp>

TEST_CASE("smoke: dataset and npy round trip", "[smoke]") {
    const auto dir = std::filesystem::temp_directory_path() / "ndshard_smoke";
    std::filesystem::remove_all(dir);
    xt::xarray<double> a = xt::random::rand<double>({1001, 7});
    auto info = ndshard::save(dir / "ds", a, {ndshard::shard_format::npy, 3, 2});
    REQUIRE(info.shards.size() == 3);
    auto b = ndshard::load<double>(dir / "ds");
    REQUIRE((b == a));
    xt::xarray<float> c = xt::cast<float>(a) * 2.0f;
    ndshard::write_npy(dir / "x.npy", xt::transpose(c), 2);
    auto d = ndshard::read_npy<float>(dir / "x.npy", 2);
    REQUIRE((d == xt::transpose(c)));
    std::filesystem::remove_all(dir);
}
