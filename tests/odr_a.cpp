// One of two translation units that include the umbrella header: a non-inline function in a
// header would be defined in both, and the test program would fail to link (see odr_b.cpp).
#include <ndshard/ndshard.hpp>

#include "odr.hpp"

std::string ndshard_odr_a(const std::filesystem::path& dir) {
    const xt::xarray<double> a = {{1.0, 2.0}, {3.0, 4.0}};
    (void)ndshard::save(dir / "a", a, {ndshard::shard_format::npy, 2, 2});
    ndshard::write_npy(dir / "a.npy", a, 2);
    const bool same = ndshard::load<double>(dir / "a") == ndshard::read_npy<double>(dir / "a.npy");
    return (same ? "ok " : "differ ") + ndshard::detail::temp_path_for("t").string();
}
