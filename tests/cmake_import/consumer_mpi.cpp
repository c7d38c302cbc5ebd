// An outside project's program that links ndshard::mpi (find_package(ndshard COMPONENTS mpi)):
// saves an array with ndshard::mpi::save and reads it back with ndshard::mpi::load and the plain
// ndshard::load, in the directory given as argv[1]; exits non-zero on any difference. Runs as a
// one-rank MPI job without mpirun (MPI's singleton start).
#include <mpi.h>

#include <cstdio>
#include <filesystem>
#include <numeric>

#include <ndshard/mpi.hpp>
#include <ndshard/ndshard.hpp>

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    int status = 2;
    if (argc != 2) {
        std::fprintf(stderr, "usage: consumer_mpi <directory>\n");
    } else {
        try {
            const std::filesystem::path dir = argv[1];
            xt::xarray<double> a = xt::xarray<double>::from_shape({500, 3});
            std::iota(a.begin(), a.end(), 0.5);
            (void)ndshard::mpi::save(MPI_COMM_WORLD, dir, a);
            const bool ok = ndshard::mpi::load<double>(MPI_COMM_WORLD, dir) == a &&
                            ndshard::load<double>(dir) == a;
            std::printf("ndshard mpi: %s\n", ok ? "round trips" : "MISMATCH");
            status = ok ? 0 : 1;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "consumer_mpi: %s\n", e.what());
            status = 1;
        }
    }
    MPI_Finalize();
    return status;
}
