// Every rank of an MPI job saves its rows into one dataset, then reads back its share; then the
// same through one .npy file written with MPI-IO. Built when MPI is found (target ndshard::mpi).
//
//   mpirun -np 4 ./mpi_save_load [DIR]
#include <mpi.h>

#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <string>

#include <xtensor/xarray.hpp>

#include <ndshard/mpi.hpp>

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    int rank = 0, ranks = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    const std::filesystem::path dir = argc > 1 ? argv[1] : "mpi_example.nds";
    const auto value = [](std::size_t row, std::size_t col) {
        return static_cast<float>(row) + static_cast<float>(col) / 16.0f;
    };
    int status = 0;
    try {
        // this rank's rows: 1000 + 100 * rank of them, after those of the ranks before it
        const auto r = static_cast<std::size_t>(rank);
        const std::size_t rows = 1000 + 100 * r, first = 1000 * r + 50 * r * (r - 1);
        xt::xarray<float> local = xt::xarray<float>::from_shape({rows, 16});
        for (std::size_t i = 0; i < rows; ++i)
            for (std::size_t j = 0; j < 16; ++j)
                local(i, j) = value(first + i, j);

        // collective: every rank writes its own shards, rank 0 commits the manifest
        const ndshard::dataset_info info = ndshard::mpi::save(MPI_COMM_WORLD, dir, local);

        // collective: every rank reads an even share, opening only the shards it lies in
        const xt::xarray<float> mine = ndshard::mpi::load<float>(MPI_COMM_WORLD, dir);
        const ndshard::row_range share = ndshard::mpi::rows_of_rank(MPI_COMM_WORLD, info.shape[0]);
        std::size_t wrong = 0;
        for (std::size_t i = 0; i < share.rows(); ++i)
            for (std::size_t j = 0; j < 16; ++j)
                wrong += mine(i, j) != value(share.first_row + i, j);

        // one .npy file of every rank's rows (numpy.load reads it), and each rank's share of it
        const std::filesystem::path npy = dir.string() + ".npy";
        ndshard::mpi::write_npy(MPI_COMM_WORLD, npy, local);
        wrong += ndshard::mpi::read_npy<float>(MPI_COMM_WORLD, npy) != mine;

        std::printf("rank %d of %d: wrote rows [%zu, %zu), read rows [%zu, %zu): %s\n", rank, ranks,
                    first, first + rows, share.first_row, share.last_row,
                    wrong == 0 ? "exact" : "WRONG");
        if (rank == 0)
            std::printf("%s: %zu rows x 16 float32 in %zu shards; %s\n", dir.c_str(), info.shape[0],
                        info.shards.size(), npy.c_str());
        status = wrong == 0 ? 0 : 1;
    } catch (const ndshard::error& e) {
        // every rank gets the same error, naming the rank that failed
        std::fprintf(stderr, "rank %d: %s\n", rank, e.what());
        status = 1;
    }
    MPI_Finalize();
    return status;
}
