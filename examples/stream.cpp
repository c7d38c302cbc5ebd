// stream: an array larger than you want in memory, end to end. A "model" writes its outputs
// batch by batch with dataset_writer, a later run appends more, a "training loop" streams the
// rows back block by block with block_reader, a "job" reads only its slice with load_rows, and
// worker processes would share one read-only mapping of an .npy file with mapped_npy.
//
//   stream [directory]     (default: a fresh directory under the system's temp directory,
//                           removed at the end)
#include <ndshard/ndshard.hpp>

#include <unistd.h>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>

#include <xtensor/xarray.hpp>
#include <xtensor/xview.hpp>

namespace {
/// The batch a model produces at step `step`: `rows` rows of 16 values, row r of the dataset
/// holding r + c / 16 in column c.
xt::xarray<float> batch(std::size_t first, std::size_t rows) {
    xt::xarray<float> b = xt::xarray<float>::from_shape({rows, std::size_t{16}});
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < 16; ++c)
            b(r, c) = static_cast<float>(first + r) + static_cast<float>(c) / 16.0f;
    return b;
}
}  // namespace

int main(int argc, char** argv) {
    namespace fs = std::filesystem;
    const bool temporary = argc < 2;
    const fs::path base =
        temporary ? fs::temp_directory_path() / ("ndshard_stream_" + std::to_string(::getpid()))
                  : fs::path(argv[1]);
    const fs::path dir = base / "outputs.nds";
    try {
        // 1. write 200,000 rows in batches of 1,000: memory holds a few shards, never the
        //    whole dataset, and nothing at `dir` changes until commit()
        ndshard::writer_options wo;
        wo.shard_rows = 50000;  // 0 would mean about 64 MiB of rows per shard
        ndshard::dataset_writer<float> writer(dir, {16}, wo);
        for (std::size_t first = 0; first < 200000; first += 1000)
            writer.write(batch(first, 1000));
        const ndshard::dataset_info written = writer.commit();
        std::cout << "wrote " << written.shape[0] << " rows in " << written.shards.size()
                  << " shards\n";

        // 2. a later run appends 5,000 rows: new shards, the old ones untouched
        const ndshard::dataset_info grown = ndshard::append(dir, batch(200000, 5000));
        std::cout << "appended: now " << grown.shape[0] << " rows\n";

        // 3. a training loop: blocks of 32,768 rows, the next two read in the background
        ndshard::stream_options so;
        so.block_rows = 32768;
        ndshard::block_reader<float> reader(dir, so);
        double sum = 0;
        std::size_t blocks = 0;
        while (reader.next()) {
            const xt::xarray<float>& rows = reader.rows();
            for (const float v : rows)
                sum += v;
            ++blocks;
        }
        std::cout << "streamed " << blocks << " blocks, sum " << sum << "\n";

        // 4. a job that needs rows 123,456 to 123,460 reads only their bytes (and the 1 MiB
        //    checksum blocks that hold them)
        const xt::xarray<float> slice = ndshard::load_rows<float>(dir, 123456, 123460);
        std::cout << "row 123456 starts with " << slice(0, 0) << ", " << slice(0, 1) << "\n";

        // 5. a read-only table that several processes map (one copy in memory for all)
        ndshard::write_npy(base / "table.npy", ndshard::load_rows<float>(dir, 0, 1000));
        const ndshard::mapped_npy<float> table(base / "table.npy");
        std::cout << "mapped " << table.shape()[0] << " x " << table.shape()[1]
                  << ", row 999 ends with " << table.array()(999, 15) << "\n";

        const bool ok = slice(0, 1) == 123456.0625f && table.array()(999, 15) == 999.9375f &&
                        grown.shape[0] == 205000 && blocks == 7;
        if (temporary) fs::remove_all(base);
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        if (temporary) fs::remove_all(base);
        return 1;
    }
}
