// bench_dataset — ndshard::save / load of small arrays, where the fixed costs show: the lock file,
// manifest write and parse, directory scans, fsync, and a pool made per call.
#include <benchmark/benchmark.h>

#include <ndshard/ndshard.hpp>

#include <xtensor/xarray.hpp>

#include "bench_util.hpp"

namespace {

xt::xarray<double> make_array(std::size_t rows) {
    xt::xarray<double> a = xt::xarray<double>::from_shape({rows, std::size_t{10}});
    for (std::size_t i = 0; i < a.size(); ++i)
        a.data()[i] = static_cast<double>(i) * 0.5;
    return a;
}

/// What each benchmark starts from: range(0) rows x 10 doubles, a scratch directory, a pool that
/// range(2) = 1 passes to every call (else each call makes its own).
struct setup {
    ndshard_bench::scratch_dir dir;
    xt::xarray<double> a;
    ndshard::thread_pool pool{2};
    ndshard::thread_pool* shared = nullptr;
    explicit setup(const benchmark::State& state)
        : a(make_array(static_cast<std::size_t>(state.range(0)))),
          shared(state.range(2) != 0 ? &pool : nullptr) {}
    [[nodiscard]] std::int64_t bytes(const benchmark::State& state) const {
        return static_cast<std::int64_t>(state.iterations() * a.size() * sizeof(double));
    }
};

/// range(1) = 1 fsyncs (the default).
void save_small(benchmark::State& state) {
    setup s(state);
    ndshard::save_options o;
    o.threads = 2;
    o.sync = state.range(1) != 0;
    o.pool = s.shared;
    for (auto _ : state)
        benchmark::DoNotOptimize(ndshard::save(s.dir.path() / "ds", s.a, o));
    state.SetBytesProcessed(s.bytes(state));
}

/// range(1) = 1 verifies checksums (the default).
void load_small(benchmark::State& state) {
    setup s(state);
    ndshard::save_options so;
    so.threads = 2;
    so.sync = false;
    (void)ndshard::save(s.dir.path() / "ds", s.a, so);
    ndshard::load_options o;
    o.threads = 2;
    o.verify = state.range(1) != 0;
    o.pool = s.shared;
    for (auto _ : state)
        benchmark::DoNotOptimize(ndshard::load<double>(s.dir.path() / "ds", o));
    state.SetBytesProcessed(s.bytes(state));
}

void write_read_npy_small(benchmark::State& state) {
    ndshard_bench::scratch_dir dir;
    const auto a = make_array(static_cast<std::size_t>(state.range(0)));
    for (auto _ : state) {
        ndshard::write_npy(dir.path() / "a.npy", a, 2);
        benchmark::DoNotOptimize(ndshard::read_npy<double>(dir.path() / "a.npy", 2));
    }
    state.SetBytesProcessed(
        static_cast<std::int64_t>(state.iterations() * 2 * a.size() * sizeof(double)));
}

}  // namespace

BENCHMARK(save_small)->ArgsProduct({{100, 10000}, {0, 1}, {0, 1}})->UseRealTime();
BENCHMARK(load_small)->ArgsProduct({{100, 10000}, {0, 1}, {0, 1}})->UseRealTime();
BENCHMARK(write_read_npy_small)->Arg(100)->Arg(10000)->UseRealTime();

BENCHMARK_MAIN();
