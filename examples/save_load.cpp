// save_load: save an array as a dataset of .npy shards, inspect its manifest, load it back.
//
//   save_load [directory]     (default: a fresh directory under the system's temp directory,
//                              removed at the end)
#include <ndshard/ndshard.hpp>

#include <unistd.h>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>
#include <xtensor/xio.hpp>
#include <xtensor/xview.hpp>

int main(int argc, char** argv) {
    namespace fs = std::filesystem;
    const bool temporary = argc < 2;
    const fs::path dir =
        temporary ? fs::temp_directory_path() / ("ndshard_save_load_" + std::to_string(::getpid()))
                  : fs::path(argv[1]);
    try {
        // 100,000 x 8 float64: row r holds r + c / 8 in column c
        const std::size_t rows = 100000, cols = 8;
        xt::xarray<double> x = xt::arange<double>(0.0, double(rows * cols)) / double(cols);
        x.reshape({rows, cols});

        ndshard::save_options options;
        options.shards = 4;  // 0 would mean one per thread
        const ndshard::dataset_info saved = ndshard::save(dir, x, options);
        std::printf("saved %s: generation %llu, %zu shards\n", dir.c_str(),
                    static_cast<unsigned long long>(saved.generation), saved.shards.size());

        const ndshard::dataset_info info = ndshard::inspect(dir);
        std::printf("dtype %s, shape %s, format %s\n", info.dtype.c_str(),
                    ndshard::shape_text(info.shape).c_str(), ndshard::to_string(info.format));
        for (const auto& s : info.shards)
            std::printf("  %s  rows [%zu, %zu)  %llu bytes  %s\n", s.path.c_str(), s.first_row,
                        s.last_row, static_cast<unsigned long long>(s.bytes), s.checksum.c_str());

        const xt::xarray<double> y = ndshard::load<double>(dir);  // checksums verified
        std::printf("loaded, first rows:\n");
        std::cout << xt::view(y, xt::range(0, 3)) << '\n';
        const bool same = y == x;
        std::printf("loaded %s the saved array\n", same ? "equals" : "DIFFERS FROM");
        if (temporary) fs::remove_all(dir);
        return same ? 0 : 1;
    } catch (const std::exception& e) {  // ndshard::error says which file and why
        std::fprintf(stderr, "%s\n", e.what());
        if (temporary) fs::remove_all(dir);
        return 1;
    }
}
