// The thread pool: every task runs once, the first exception reaches the caller and the remaining
// tasks are skipped, nested calls run inline, one pool serves many calls, and save/load accept a
// caller's pool.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <ndshard/ndshard.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"

namespace {

struct task_failed : std::runtime_error {
    explicit task_failed(std::size_t i)
        : std::runtime_error("task " + std::to_string(i)), index(i) {}
    std::size_t index;
};

}  // namespace

TEST_CASE("thread_pool: every task runs exactly once", "[thread_pool]") {
    REQUIRE(ndshard::default_threads() >= 1);
    REQUIRE(ndshard::thread_pool(0).size() == ndshard::default_threads());
    for (std::size_t workers : {1u, 2u, 4u, 7u}) {
        ndshard::thread_pool pool(workers);
        REQUIRE(pool.size() == workers);
        for (std::size_t n : {0u, 1u, 3u, 1000u}) {
            std::vector<std::atomic<int>> runs(n);
            std::vector<std::size_t> out(n, 0);
            pool.parallel_for(n, [&](std::size_t i) {
                ++runs[i];
                out[i] = i * i;
            });
            for (std::size_t i = 0; i < n; ++i) {
                REQUIRE(runs[i] == 1);
                REQUIRE(out[i] == i * i);
            }
        }
    }
}

TEST_CASE("thread_pool: the first exception is rethrown and the remaining tasks are skipped",
          "[thread_pool]") {
    SECTION("one worker: tasks run in order, so exactly the tasks up to the first throw run") {
        ndshard::thread_pool pool(1);
        std::atomic<std::size_t> ran{0};
        try {
            pool.parallel_for(100, [&](std::size_t i) {
                ++ran;
                if (i == 3 || i == 5) throw task_failed(i);
            });
            FAIL("parallel_for did not throw");
        } catch (const task_failed& e) {
            REQUIRE(e.index == 3);
            REQUIRE(std::string(e.what()) == "task 3");
        }
        REQUIRE(ran == 4);
    }
    SECTION("several workers: the caller gets one task's exception, most tasks never start") {
        ndshard::thread_pool pool(4);
        std::atomic<std::size_t> ran{0};
        const std::size_t n = 2000;
        try {
            pool.parallel_for(n, [&](std::size_t i) {
                ++ran;
                if (i == 0) throw task_failed(i);
                // slow enough that the other workers cannot finish the rest before the failure
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            });
            FAIL("parallel_for did not throw");
        } catch (const task_failed& e) {
            REQUIRE(e.index == 0);
        }
        INFO("tasks that ran: " << ran);
        REQUIRE(ran >= 1);
        REQUIRE(ran < n / 2);
    }
    SECTION("every task throws: one of their exceptions arrives") {
        ndshard::thread_pool pool(3);
        REQUIRE_THROWS_AS(pool.parallel_for(50, [](std::size_t i) { throw task_failed(i); }),
                          task_failed);
    }
    SECTION("the pool works normally after a failed call") {
        ndshard::thread_pool pool(2);
        REQUIRE_THROWS_AS(pool.parallel_for(10, [](std::size_t) { throw std::logic_error("x"); }),
                          std::logic_error);
        std::atomic<std::size_t> sum{0};
        pool.parallel_for(100, [&](std::size_t i) { sum += i; });
        REQUIRE(sum == 4950);
    }
    SECTION("a single thread without a pool runs inline with the same contract") {
        std::size_t ran = 0;
        REQUIRE_THROWS_WITH(ndshard::detail::with_pool(nullptr, 1, 10,
                                                       [&](std::size_t i) {
                                                           ++ran;
                                                           if (i == 2) throw task_failed(i);
                                                       }),
                            "task 2");
        REQUIRE(ran == 3);
    }
}

TEST_CASE("thread_pool: nested parallel_for does not deadlock", "[thread_pool]") {
    ndshard::thread_pool pool(2);
    ndshard::thread_pool other(2);
    std::atomic<std::size_t> inner{0};
    pool.parallel_for(8, [&](std::size_t) {
        pool.parallel_for(5, [&](std::size_t) { ++inner; });   // the same pool: runs inline
        other.parallel_for(3, [&](std::size_t) { ++inner; });  // another pool from a worker
    });
    REQUIRE(inner == 8 * (5 + 3));
    // an exception thrown in a nested call reaches the outer caller
    REQUIRE_THROWS_WITH(pool.parallel_for(4,
                                          [&](std::size_t) {
                                              pool.parallel_for(2, [](std::size_t j) {
                                                  if (j == 1) throw task_failed(j);
                                              });
                                          }),
                        "task 1");
}

TEST_CASE("thread_pool: one pool serves many calls, also from several threads", "[thread_pool]") {
    ndshard::thread_pool pool(3);
    for (std::size_t call = 0; call < 300; ++call) {
        std::atomic<std::size_t> sum{0};
        const std::size_t n = call % 17;
        pool.parallel_for(n, [&](std::size_t i) { sum += i + 1; });
        REQUIRE(sum == n * (n + 1) / 2);
    }
    // two callers share the pool: their calls take turns
    std::atomic<std::size_t> total{0};
    auto caller = [&] {
        for (int k = 0; k < 50; ++k)
            pool.parallel_for(10, [&](std::size_t) { ++total; });
    };
    std::thread t1(caller), t2(caller);
    t1.join();
    t2.join();
    REQUIRE(total == 2 * 50 * 10);
}

TEST_CASE("thread_pool: save and load run on a caller's pool", "[thread_pool]") {
    ndshard::thread_pool pool(3);
    ndshard_test::temp_dir tmp;
    xt::xarray<double> a = xt::arange<double>(0.0, 70.0);
    a.reshape({14, 5});
    for (int round = 0; round < 3; ++round) {
        ndshard::save_options so;
        so.pool = &pool;  // shards = 0: one per worker of that pool
        const auto info = ndshard::save(tmp / "ds", a + round, so);
        REQUIRE(info.shards.size() == 3);
        ndshard::load_options lo;
        lo.pool = &pool;
        REQUIRE((ndshard::load<double>(tmp / "ds", lo) == a + round));
        xt::xarray<double> into;
        ndshard::load_into(tmp / "ds", into, lo);
        REQUIRE((into == a + round));
    }
    ndshard::save_options so;
    so.pool = &pool;
    so.shards = 7;
    REQUIRE(ndshard::save(tmp / "ds", a, so).shards.size() == 7);
    ndshard::load_options lo;
    lo.pool = &pool;
    REQUIRE((ndshard::load<double>(tmp / "ds", lo) == a));
}
