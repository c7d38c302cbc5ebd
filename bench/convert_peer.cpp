// The library calls `ndshard convert` stands for, timed, for bench/convert_bench.sh:
//   convert_peer gen FILE ROWS COLS        the reference array (uniform [0, 1), seed 42) as TSV
//   convert_peer text2npy SRC DIR THREADS  read_text<double> + save (npy shards)
//   convert_peer npy2text DIR DST THREADS  load<double> + write_text (one TSV file)
// Prints "seconds <s>" for the timed part.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include <ndshard/ndshard.hpp>

int main(int argc, char** argv) {
    if (argc != 5) {
        std::fprintf(stderr, "usage: convert_peer gen|text2npy|npy2text A B N\n");
        return 2;
    }
    const std::string mode = argv[1];
    const auto n = static_cast<std::size_t>(std::strtoull(argv[4], nullptr, 10));
    try {
        if (mode == "gen") {
            const auto rows = static_cast<std::size_t>(std::strtoull(argv[3], nullptr, 10));
            xt::xtensor<double, 2> a = xt::xtensor<double, 2>::from_shape({rows, n});
            std::mt19937_64 rng(42);
            std::uniform_real_distribution<double> u(0.0, 1.0);
            for (auto& v : a)
                v = u(rng);
            ndshard::text_write_options o;
            o.sync = false;
            ndshard::write_text(argv[2], a, o);
            return 0;
        }
        const auto t0 = std::chrono::steady_clock::now();
        if (mode == "text2npy") {
            ndshard::text_read_options ro;
            ro.threads = n;
            const auto a = ndshard::read_text<double>(argv[2], ro);
            ndshard::save_options so;
            so.threads = n;
            (void)ndshard::save(argv[3], a, so);
        } else if (mode == "npy2text") {
            ndshard::load_options lo;
            lo.threads = n;
            const auto a = ndshard::load<double>(argv[2], lo);
            ndshard::text_write_options wo;
            wo.threads = n;
            ndshard::write_text(argv[3], a, wo);
        } else {
            std::fprintf(stderr, "convert_peer: unknown mode %s\n", mode.c_str());
            return 2;
        }
        const std::chrono::duration<double> s = std::chrono::steady_clock::now() - t0;
        std::printf("seconds %.4f\n", s.count());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
    return 0;
}
