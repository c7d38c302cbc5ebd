// The second translation unit including the umbrella header (with odr_a.cpp): the same templates
// instantiated and the same inline functions used in both must link into one program, and an
// inline function's static (the temporary-name counter) must be one object, not one per unit.
#include <catch2/catch.hpp>
#include <ndshard/ndshard.hpp>

#include "odr.hpp"
#include "support.hpp"

std::string ndshard_odr_b(const std::filesystem::path& dir) {
    const xt::xarray<double> a = {{1.0, 2.0}, {3.0, 4.0}};
    (void)ndshard::save(dir / "b", a, {ndshard::shard_format::npy, 2, 2});
    ndshard::write_npy(dir / "b.npy", a, 2);
    const bool same = ndshard::load<double>(dir / "b") == ndshard::read_npy<double>(dir / "b.npy");
    return (same ? "ok " : "differ ") + ndshard::detail::temp_path_for("t").string();
}

TEST_CASE("odr: two translation units include the umbrella header and link together", "[odr]") {
    ndshard_test::temp_dir tmp;
    const std::string a = ndshard_odr_a(tmp.path());
    const std::string b = ndshard_odr_b(tmp.path());
    REQUIRE(a.rfind("ok ", 0) == 0);
    REQUIRE(b.rfind("ok ", 0) == 0);
    REQUIRE(a != b);  // one counter shared by both units: the names differ
}
