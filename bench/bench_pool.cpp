// bench_pool — thread_pool overhead: parallel_for of tiny tasks, and the cost of making a pool
// per call (what save/load do when no pool is passed). Items are tasks; the bytes are the task
// indices handed out, so SetBytesProcessed reads as a task rate.
#include <benchmark/benchmark.h>

#include <ndshard/thread_pool.hpp>

#include <atomic>

namespace {

void parallel_for_tiny_tasks(benchmark::State& state) {
    ndshard::thread_pool pool(2);
    const auto tasks = static_cast<std::size_t>(state.range(0));
    std::atomic<std::size_t> sum{0};
    for (auto _ : state) {
        pool.parallel_for(tasks,
                          [&](std::size_t i) { sum.fetch_add(i, std::memory_order_relaxed); });
    }
    benchmark::DoNotOptimize(sum.load());
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * tasks));
    state.SetBytesProcessed(
        static_cast<std::int64_t>(state.iterations() * tasks * sizeof(std::size_t)));
}

/// A pool made and joined per call: the fixed cost every save/load pays without options.pool.
void pool_per_call(benchmark::State& state) {
    std::atomic<std::size_t> sum{0};
    for (auto _ : state) {
        ndshard::detail::with_pool(
            nullptr, 2, 2, [&](std::size_t i) { sum.fetch_add(i, std::memory_order_relaxed); });
    }
    benchmark::DoNotOptimize(sum.load());
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * 2));
    state.SetBytesProcessed(
        static_cast<std::int64_t>(state.iterations() * 2 * sizeof(std::size_t)));
}

}  // namespace

BENCHMARK(parallel_for_tiny_tasks)->Arg(1)->Arg(2)->Arg(64)->Arg(4096)->UseRealTime();
BENCHMARK(pool_per_call)->UseRealTime();

BENCHMARK_MAIN();
