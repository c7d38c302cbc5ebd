// ndshard text_vs_peers: times one write_text or read_text of an array, for the side-by-side
// comparison in run.sh. Not part of the CMake build; build by hand from the repository root:
//   g++ -O2 -std=c++17 -I include -isystem /usr/include/dragonbox-1.1.3 \
//       bench/text_vs_peers/text_bench.cpp -o text_bench -pthread
// Usage: text_bench write|read <array.npy> <file.tsv> <threads>
// Prints "ndshard <op> <wall seconds> <cpu seconds> <extra MiB>": CPU is user + system time of
// all threads; the extra memory is the peak of resident anonymous memory (heap, stacks: not the
// page cache of the mapped file) during the operation, beyond what was resident before it and,
// for a read, beyond the result array itself.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include <ndshard/ndshard.hpp>

namespace {

double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

/// User + system CPU seconds of every thread of this process so far.
double cpu() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

/// RssAnon of this process in bytes.
long rss_anon() {
    std::ifstream in("/proc/self/status");
    std::string key;
    long kb = 0;
    while (in >> key) {
        if (key == "RssAnon:") {
            in >> kb;
            return kb * 1024;
        }
        in.ignore(1 << 20, '\n');
    }
    return 0;
}

/// Samples RssAnon every millisecond while alive; `peak()` is the largest value seen.
class peak_sampler {
  public:
    peak_sampler()
        : peak_(rss_anon()), thread_([this] {
              while (!stop_.load()) {
                  const long r = rss_anon();
                  if (r > peak_.load()) peak_.store(r);
                  std::this_thread::sleep_for(std::chrono::milliseconds(1));
              }
          }) {}
    ~peak_sampler() { finish(); }
    long finish() {
        if (thread_.joinable()) {
            stop_.store(true);
            thread_.join();
            const long r = rss_anon();
            if (r > peak_.load()) peak_.store(r);
        }
        return peak_.load();
    }

  private:
    std::atomic<bool> stop_{false};
    std::atomic<long> peak_;
    std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
    if (argc != 5) {
        std::fprintf(stderr, "usage: %s write|read array.npy file.tsv threads\n", argv[0]);
        return 2;
    }
    const std::string op = argv[1], npy = argv[2], tsv = argv[3];
    const auto threads = static_cast<std::size_t>(std::atol(argv[4]));
    const xt::xarray<double> a = ndshard::read_npy<double>(npy, threads);
    const double mib = 1024.0 * 1024.0;
    const long before = rss_anon();
    if (op == "write") {
        peak_sampler sampler;
        const double c0 = cpu(), t0 = now();
        ndshard::write_text(tsv, a, {'\t', -1, threads});
        const double t = now() - t0, c = cpu() - c0;
        std::printf("ndshard write_text %.4f %.4f %.1f\n", t, c,
                    double(sampler.finish() - before) / mib);
    } else {
        peak_sampler sampler;
        const double c0 = cpu(), t0 = now();
        const auto b = ndshard::read_text<double>(tsv, {0, 0, '#', threads});
        const double t = now() - t0, c = cpu() - c0;
        const long peak = sampler.finish();
        const double extra = double(peak - before) - double(b.size() * sizeof(double));
        if (!(b == a)) {
            std::fprintf(stderr, "read_text: the array read differs from the one written\n");
            return 1;
        }
        std::printf("ndshard read_text %.4f %.4f %.1f\n", t, c, extra / mib);
    }
}
