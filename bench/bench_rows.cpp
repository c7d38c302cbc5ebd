// bench_rows — row splitting: balanced row ranges, and the row chunks a save streams, zero-copy
// for contiguous arrays and evaluated into a bounded buffer for anything else.
#include <benchmark/benchmark.h>

#include <ndshard/detail/row_source.hpp>
#include <ndshard/tensor_ref.hpp>
#include <ndshard/xtensor.hpp>

#include <xtensor/xarray.hpp>
#include <xtensor/xmanipulation.hpp>

namespace {

void split_rows(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    for (auto _ : state) {
        auto r = ndshard::split_rows(std::size_t{1000000007}, n);
        benchmark::DoNotOptimize(r.data());
    }
    state.SetBytesProcessed(
        static_cast<std::int64_t>(state.iterations() * n * sizeof(ndshard::row_range)));
}

xt::xarray<double> make_array(std::size_t rows, std::size_t cols) {
    xt::xarray<double> a = xt::xarray<double>::from_shape({rows, cols});
    for (std::size_t i = 0; i < a.size(); ++i)
        a.data()[i] = static_cast<double>(i);
    return a;
}

/// Streams every row chunk of `e` as a save would, touching the first byte of each chunk.
template <class E>
void stream_chunks(benchmark::State& state, const E& e) {
    const auto src = ndshard::detail::make_row_source(e);
    ndshard::detail::scratch<double> buffer;
    double sink = 0;
    for (auto _ : state) {
        ndshard::detail::for_each_chunk(
            src, 0, src.rows(), buffer,
            [&](const double* p, std::size_t, std::size_t) { sink += *p; });
    }
    benchmark::DoNotOptimize(sink);
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * src.rows() *
                                                      src.row_size() * sizeof(double)));
}

void chunks_contiguous(benchmark::State& state) {
    const auto a = make_array(1000000, 10);
    stream_chunks(state, a);
}
void chunks_transposed(benchmark::State& state) {
    const auto a = make_array(10, 1000000);
    stream_chunks(state, xt::transpose(a));
}
void chunks_lazy(benchmark::State& state) {
    const auto a = make_array(1000000, 10);
    stream_chunks(state, a * 2.0);
}

}  // namespace

BENCHMARK(split_rows)->Arg(2)->Arg(64)->Arg(4096);
BENCHMARK(chunks_contiguous);
BENCHMARK(chunks_transposed);
BENCHMARK(chunks_lazy);

BENCHMARK_MAIN();
