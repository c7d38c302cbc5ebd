// ndshard_mpi_bench — ndshard::mpi against the single-process threaded path, on the reference
// array (float64 uniform in [0, 1), --rows x --cols; default 1,000,000 x 10, 80 MB) split over
// the ranks of the job. bench/mpi_bench.sh runs it for several ranks x threads layouts and file
// systems and prints the ratios.
//
//   mpirun -np R ndshard_mpi_bench --dir DIR [--rows N] [--cols N] [--threads T] [--reps N]
//   ndshard_mpi_bench --single --dir DIR ...      the baseline: save/load/write_npy/read_npy
//                                                 of one process with T threads (-np 1)
//
// Each round runs every operation once, in a new order each round; an operation is timed on
// rank 0 from a barrier before it to a barrier after it (the job's wall time). Saves and npy
// writes fsync (the libraries' default). Before the clock, every rank's load and read_npy are
// compared with the rows it must get. Prints "RESULT <op> <median s> <min s> <max s> <MB/s>".
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <xtensor/xarray.hpp>

#include <ndshard/mpi.hpp>
#include <ndshard/ndshard.hpp>

namespace {

/// Element `k` of the reference array: uniform in [0, 1), the same whatever the ranks.
double element(std::uint64_t k) {
    std::uint64_t z = k + 0x9e3779b97f4a7c15u;  // splitmix64
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) * 0x1.0p-53;
}

xt::xarray<double> reference_rows(std::size_t first, std::size_t rows, std::size_t cols) {
    xt::xarray<double> a = xt::xarray<double>::from_shape({rows, cols});
    for (std::size_t k = 0; k < a.size(); ++k)
        a.data()[k] = element(first * cols + k);
    return a;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    int rank = 0, ranks = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    std::size_t rows = 1000000, cols = 10, threads = 0, reps = 5;
    bool single = false;
    std::filesystem::path dir;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "--rows")
            rows = std::stoul(next());
        else if (a == "--cols")
            cols = std::stoul(next());
        else if (a == "--threads")
            threads = std::stoul(next());
        else if (a == "--reps")
            reps = std::stoul(next());
        else if (a == "--dir")
            dir = next();
        else if (a == "--single")
            single = true;
        else {
            if (rank == 0)
                std::fprintf(stderr, "ndshard_mpi_bench: unknown option %s\n", a.c_str());
            MPI_Abort(MPI_COMM_WORLD, 2);
        }
    }
    if (dir.empty() || (single && ranks != 1)) {
        if (rank == 0)
            std::fprintf(stderr,
                         "usage: [mpirun -np R] ndshard_mpi_bench --dir DIR [--single "
                         "(one rank)] [--rows N] [--cols N] [--threads T] [--reps N]\n");
        MPI_Finalize();
        return 2;
    }
    const MPI_Comm comm = MPI_COMM_WORLD;
    // this rank's part: the even split every rank also reads back
    const ndshard::row_range mine = ndshard::mpi::rows_of_rank(comm, rows);
    const xt::xarray<double> local = reference_rows(mine.first_row, mine.rows(), cols);
    const std::filesystem::path data = dir / "data.nds", npy = dir / "data.npy";
    if (rank == 0) {
        std::filesystem::remove_all(dir);
        std::filesystem::create_directories(dir);
    }
    MPI_Barrier(comm);

    ndshard::save_options so;
    so.threads = threads;
    ndshard::load_options lo;
    lo.threads = threads;
    ndshard::mpi::npy_options collective;
    collective.collective = true;
    std::vector<std::pair<std::string, std::function<void()>>> ops;
    if (single) {
        ops = {{"save", [&] { (void)ndshard::save(data, local, so); }},
               {"load", [&] { (void)ndshard::load<double>(data, lo); }},
               {"write_npy", [&] { ndshard::write_npy(npy, local, threads); }},
               {"read_npy", [&] { (void)ndshard::read_npy<double>(npy, threads); }}};
    } else {
        ops = {{"save", [&] { (void)ndshard::mpi::save(comm, data, local, so); }},
               {"load", [&] { (void)ndshard::mpi::load<double>(comm, data, lo); }},
               {"write_npy", [&] { ndshard::mpi::write_npy(comm, npy, local); }},
               {"write_npy_collective",
                [&] { ndshard::mpi::write_npy(comm, npy, local, collective); }},
               {"read_npy", [&] { (void)ndshard::mpi::read_npy<double>(comm, npy); }},
               {"read_npy_collective",
                [&] { (void)ndshard::mpi::read_npy<double>(comm, npy, collective); }}};
    }

    // untimed: what every rank reads back is exactly its rows
    int wrong = 0;
    ops[0].second();
    ops[2].second();
    if (single) {
        wrong = !(ndshard::load<double>(data) == local && ndshard::read_npy<double>(npy) == local);
    } else {
        wrong = !(ndshard::mpi::load<double>(comm, data) == local &&
                  ndshard::mpi::read_npy<double>(comm, npy) == local);
    }
    int any = 0;
    MPI_Allreduce(&wrong, &any, 1, MPI_INT, MPI_MAX, comm);
    if (any) {
        if (rank == 0) std::fprintf(stderr, "ndshard_mpi_bench: a rank read wrong data\n");
        MPI_Finalize();
        return 1;
    }

    std::vector<std::vector<double>> times(ops.size());
    std::mt19937 shuffle(12345);
    std::vector<std::size_t> order(ops.size());
    for (std::size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    for (std::size_t round = 0; round < reps; ++round) {
        std::shuffle(order.begin(), order.end(), shuffle);  // same seed: the same on every rank
        for (const std::size_t i : order) {
            MPI_Barrier(comm);
            const auto t0 = std::chrono::steady_clock::now();
            ops[i].second();
            MPI_Barrier(comm);
            times[i].push_back(seconds_since(t0));
        }
    }
    if (rank == 0) {
        const double mb = static_cast<double>(rows * cols * sizeof(double)) / 1e6;
        std::printf("# %s: %zu x %zu float64 (%.1f MB), %d rank(s) x %s thread(s), %zu rounds\n",
                    single ? "single process" : "ndshard::mpi", rows, cols, mb, ranks,
                    threads == 0 ? "all" : std::to_string(threads).c_str(), reps);
        for (std::size_t i = 0; i < ops.size(); ++i) {
            std::vector<double> t = times[i];
            std::sort(t.begin(), t.end());
            const double median = t[t.size() / 2];
            std::printf("RESULT %s %.4f %.4f %.4f %.0f\n", ops[i].first.c_str(), median, t.front(),
                        t.back(), mb / median);
        }
    }
    MPI_Barrier(comm);
    if (rank == 0) std::filesystem::remove_all(dir);
    MPI_Finalize();
    return 0;
}
