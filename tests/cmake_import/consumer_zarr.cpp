// An outside project's program that links ndshard::zarr (find_package(ndshard COMPONENTS zarr)):
// round-trips an array through a zstd- and a blosc-compressed zarr store in the directory given as
// argv[1]; exits non-zero on any difference.
#include <ndshard/ndshard.hpp>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <numeric>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: consumer_zarr <directory>\n");
        return 2;
    }
    const std::filesystem::path dir = argv[1];
    try {
        std::filesystem::remove_all(dir);
        std::filesystem::create_directories(dir);
        xt::xarray<float> a = xt::xarray<float>::from_shape({1000, 7});
        std::iota(a.begin(), a.end(), -0.25f);
        bool ok = true;
        for (const auto c : {ndshard::zarr::codec::zstd, ndshard::zarr::codec::blosc_lz4}) {
            ndshard::zarr::save_options o;
            o.compressor = c;
            o.chunk_rows = 300;
            (void)ndshard::zarr::save(dir / "a.zarr", a, o);
            ok = ok && ndshard::zarr::load<float>(dir / "a.zarr") == a;
        }
        std::printf("ndshard zarr: %s\n", ok ? "round trips" : "MISMATCH");
        std::filesystem::remove_all(dir);
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}
