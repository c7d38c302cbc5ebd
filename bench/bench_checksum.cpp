// bench_checksum — xxh3_stream throughput: every byte a save writes and a load reads is hashed,
// so this bounds how close save/load can come to raw pwrite/pread.
#include <benchmark/benchmark.h>

#include <ndshard/detail/checksum.hpp>

#include <cstring>
#include <vector>

namespace {

/// Hashes a buffer of range(0) bytes (hot in cache when small, streamed from memory when large)
/// in pieces of range(1) bytes, as save and load feed it chunk by chunk.
void xxh3_update(benchmark::State& state) {
    const auto total = static_cast<std::size_t>(state.range(0));
    const auto piece = static_cast<std::size_t>(state.range(1));
    std::vector<unsigned char> buf(total);
    for (std::size_t i = 0; i < total; ++i)
        buf[i] = static_cast<unsigned char>(i * 131 + 7);
    for (auto _ : state) {
        ndshard::detail::xxh3_stream h;
        for (std::size_t off = 0; off < total; off += piece)
            h.update(buf.data() + off, std::min(piece, total - off));
        benchmark::DoNotOptimize(h.digest());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * total));
}

/// memcpy of the same sizes: the cost of touching the bytes once, for scale.
void memcpy_reference(benchmark::State& state) {
    const auto total = static_cast<std::size_t>(state.range(0));
    std::vector<unsigned char> src(total, 1), dst(total, 2);
    for (auto _ : state) {
        std::memcpy(dst.data(), src.data(), total);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * total));
}

}  // namespace

// 256 KiB stays in L2, 4 MiB in L3, 64 MiB comes from memory
BENCHMARK(xxh3_update)
    ->Args({256 << 10, 256 << 10})
    ->Args({4 << 20, 4 << 20})
    ->Args({64 << 20, 64 << 10})
    ->Args({64 << 20, 4 << 20});
BENCHMARK(memcpy_reference)->Arg(256 << 10)->Arg(4 << 20)->Arg(64 << 20);

BENCHMARK_MAIN();
