// An outside project's program: round-trips arrays bit-exactly through save/load and
// write_npy/read_npy in the directory given as argv[1]; exits non-zero on any difference.
#include <ndshard/ndshard.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <limits>
#include <numeric>

namespace {

template <class A, class B>
bool same_bits(const A& a, const B& b) {
    using T = typename A::value_type;
    return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: consumer <directory>\n");
        return 2;
    }
    const std::filesystem::path dir = argv[1];
    try {
        std::filesystem::remove_all(dir);
        xt::xarray<double> a = xt::xarray<double>::from_shape({1000, 7});
        std::iota(a.begin(), a.end(), -0.1);
        const std::uint64_t nan_bits = 0x7ff8000000c0ffeeULL;  // a NaN payload must survive too
        std::memcpy(&a(3, 4), &nan_bits, sizeof nan_bits);
        a(999, 6) = std::numeric_limits<double>::denorm_min();
        xt::xarray<std::int32_t> b = xt::xarray<std::int32_t>::from_shape({5, 4, 3});
        std::iota(b.begin(), b.end(), std::numeric_limits<std::int32_t>::min());

        (void)ndshard::save(dir / "a.nds", a, {ndshard::shard_format::npy, 3, 2});
        (void)ndshard::save(dir / "b.nds", b);
        ndshard::write_npy(dir / "a.npy", a, 2);
        ndshard::write_npy(dir / "b.npy", b);
        const bool ok = same_bits(a, ndshard::load<double>(dir / "a.nds")) &&
                        same_bits(b, ndshard::load<std::int32_t>(dir / "b.nds")) &&
                        same_bits(a, ndshard::read_npy<double>(dir / "a.npy", 2)) &&
                        same_bits(b, ndshard::read_npy<std::int32_t>(dir / "b.npy"));
        std::printf("ndshard %s: %s\n", ndshard::version,
                    ok ? "bit-exact round trips" : "MISMATCH");
        std::filesystem::remove_all(dir);
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}
