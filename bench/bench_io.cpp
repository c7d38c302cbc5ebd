// bench_io — pwrite / pread chunk sizes into the page cache (/dev/shm when present), to choose
// detail::chunk_bytes: the piece a worker writes, reads and hashes at once. A save hashes each
// chunk right after writing it, so a chunk that stays in cache makes the hash cheap; a chunk too
// small makes system calls dominate.
#include <benchmark/benchmark.h>

#include <ndshard/detail/checksum.hpp>
#include <ndshard/file.hpp>

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "bench_util.hpp"

namespace {

constexpr std::size_t total = std::size_t{64} << 20;

std::vector<char> make_data() {
    std::vector<char> v(total);
    for (std::size_t i = 0; i < total; ++i)
        v[i] = static_cast<char>(i * 131 + 7);
    return v;
}

/// Writes 64 MiB in chunks of range(0) bytes; range(1) = 1 hashes each chunk after writing it.
void pwrite_chunks(benchmark::State& state) {
    const auto chunk = static_cast<std::size_t>(state.range(0));
    const bool hash = state.range(1) != 0;
    ndshard_bench::scratch_dir dir;
    const auto data = make_data();
    for (auto _ : state) {
        auto f = ndshard::file::create(dir.path() / "w.bin");
        ndshard::detail::xxh3_stream h;
        for (std::size_t off = 0; off < total; off += chunk) {
            const std::size_t n = std::min(chunk, total - off);
            f.pwrite_full(data.data() + off, n, off);
            if (hash) h.update(data.data() + off, n);
        }
        benchmark::DoNotOptimize(h.digest());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * total));
}

/// Reads 64 MiB in chunks of range(0) bytes into memory that is already touched (range(1) = 0)
/// or fresh for every pass (range(1) = 1: page faults included), hashing each chunk.
void pread_chunks(benchmark::State& state) {
    const auto chunk = static_cast<std::size_t>(state.range(0));
    const bool fresh = state.range(1) != 0;
    ndshard_bench::scratch_dir dir;
    {
        const auto data = make_data();
        ndshard::file::create(dir.path() / "r.bin").pwrite_full(data.data(), total, 0);
    }
    const auto f = ndshard::file::open_read(dir.path() / "r.bin");
    std::unique_ptr<char[]> warm(new char[total]);
    std::memset(warm.get(), 0, total);
    for (auto _ : state) {
        std::unique_ptr<char[]> buf;
        char* dst = warm.get();
        if (fresh) {
            state.PauseTiming();
            buf.reset(static_cast<char*>(::operator new[](total)));
            dst = buf.get();
            state.ResumeTiming();
        }
        ndshard::detail::xxh3_stream h;
        for (std::size_t off = 0; off < total; off += chunk) {
            const std::size_t n = std::min(chunk, total - off);
            f.pread_full(dst + off, n, off);
            h.update(dst + off, n);
        }
        benchmark::DoNotOptimize(h.digest());
        if (fresh) {
            state.PauseTiming();
            buf.reset();
            state.ResumeTiming();
        }
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * total));
}

}  // namespace

BENCHMARK(pwrite_chunks)
    ->ArgsProduct({{64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20}, {0, 1}})
    ->UseRealTime();
BENCHMARK(pread_chunks)
    ->ArgsProduct({{64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20}, {0, 1}})
    ->UseRealTime();

BENCHMARK_MAIN();
