// bench_npy — .npy header coding: encoding on every save shard, decoding on every load shard.
#include <benchmark/benchmark.h>

#include <ndshard/npy.hpp>

#include <string>
#include <vector>

namespace {

const std::vector<std::size_t> shape2{1000000, 10};
const std::vector<std::size_t> shape4{1000, 300, 7, 3};

void encode(benchmark::State& state, const std::vector<std::size_t>& shape) {
    std::size_t bytes = 0;
    for (auto _ : state) {
        std::string h = ndshard::encode_npy_header("<f8", shape);
        bytes += h.size();
        benchmark::DoNotOptimize(h);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}

void decode(benchmark::State& state, const std::vector<std::size_t>& shape) {
    const std::string h = ndshard::encode_npy_header("<f8", shape);
    for (auto _ : state) {
        ndshard::npy_header d = ndshard::decode_npy_header(h, "bench.npy");
        benchmark::DoNotOptimize(d);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * h.size()));
}

/// numpy's own spelling, keys out of ndshard's order and extra spaces: the general path.
void decode_numpy_written(benchmark::State& state) {
    std::string dict = "{'fortran_order': False, 'shape': (1000000, 10), 'descr': '<f8', }";
    dict.append(128 - 10 - dict.size() - 1, ' ');
    dict += '\n';
    std::string h = "\x93NUMPY";
    h += '\x01';
    h += '\x00';
    h += static_cast<char>(dict.size() & 0xff);
    h += static_cast<char>(dict.size() >> 8);
    h += dict;
    for (auto _ : state) {
        ndshard::npy_header d = ndshard::decode_npy_header(h, "bench.npy");
        benchmark::DoNotOptimize(d);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * h.size()));
}

}  // namespace

BENCHMARK_CAPTURE(encode, rank2, shape2);
BENCHMARK_CAPTURE(encode, rank4, shape4);
BENCHMARK_CAPTURE(decode, rank2, shape2);
BENCHMARK_CAPTURE(decode, rank4, shape4);
BENCHMARK(decode_numpy_written);

BENCHMARK_MAIN();
