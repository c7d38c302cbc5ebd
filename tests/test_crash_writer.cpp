// Crash consistency of dataset_writer and append: a process building generations with a
// dataset_writer, or appending batch after batch, is killed (SIGKILL) at random instants; after
// every kill the dataset loads whole as the old or the new one, and the next save or append
// removes whatever the killed one left behind.
#include <catch2/catch.hpp>
#include <chrono>
#include <ndshard/ndshard.hpp>
#include <ndshard/writer.hpp>
#include <random>
#include <thread>

#include "child_process.hpp"
#include "generation.hpp"
#include "hostile.hpp"

TEST_CASE("crash: a dataset_writer killed at any instant leaves one whole generation",
          "[crash][writer]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    ndshard::save_options quick;
    quick.sync = false;
    (void)ndshard::save(dir, ndshard_test::generation_array(1), quick);

    const auto seed = std::random_device{}();
    INFO("seed " << seed);
    std::mt19937 rng(seed);
    int interrupted = 0, k = 1;
    const int kills = 40;
    for (; ndshard_test::more_kills(k, kills, interrupted); ++k) {
        INFO("kill " << k);
        const std::uint64_t first = std::uint64_t(k) * 1000;
        ndshard_test::run_then_kill("writer", dir, first,
                                    ndshard_test::kill_delay(rng, 4000, k, kills));
        const auto a = ndshard::load<std::int64_t>(dir);
        std::uint64_t tag = 0;
        std::string why;
        INFO(why);
        REQUIRE(ndshard_test::generation_of(a, tag, why));
        REQUIRE(tag >= first);
        REQUIRE(tag < first + 999);
        // the attributes committed with those rows: old attributes with old data, new with new
        REQUIRE(ndshard::inspect(dir).attributes == nlohmann::json{{"tag", tag}});
        REQUIRE(ndshard::verify(dir).ok());
        interrupted += !ndshard_test::strays(dir, ndshard::inspect(dir)).empty();

        // the next save cleans up: nothing but its own shards remain
        ndshard::save_options o = quick;
        o.shards = ndshard_test::generation_shards(first + 999);
        const auto info = ndshard::save(dir, ndshard_test::generation_array(first + 999), o);
        REQUIRE(ndshard_test::strays(dir, info).empty());
    }
    WARN(interrupted << " of " << k - 1 << " kills left a writer's files behind");
    CHECK(interrupted > 0);
}

TEST_CASE("crash: an append killed at any instant leaves whole batches, none lost",
          "[crash][writer]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    ndshard::save_options quick;
    quick.sync = false;
    quick.shards = 1;
    (void)ndshard::append(dir, ndshard_test::batch_array(0), quick);

    const auto seed = std::random_device{}();
    INFO("seed " << seed);
    std::mt19937 rng(seed);
    std::uint64_t next = 1;  // the batch after the last one in the dataset
    int interrupted = 0, k = 1;
    const int kills = 60;
    for (; ndshard_test::more_kills(k, kills, interrupted); ++k) {
        INFO("kill " << k << ", next batch " << next);
        ndshard_test::run_then_kill("append", dir, next,
                                    ndshard_test::kill_delay(rng, 3000, k, kills));
        // whole batches 0, 1, 2, ..., at least one more than before
        std::vector<std::uint64_t> batches;
        std::string why;
        INFO(why);
        REQUIRE(ndshard_test::batches_of(ndshard::load<std::int64_t>(dir), batches, why));
        REQUIRE(batches.size() >= next + 1);
        for (std::size_t i = 0; i < batches.size(); ++i)
            REQUIRE(batches[i] == i);
        REQUIRE(ndshard::verify(dir).ok());
        interrupted += !ndshard_test::strays(dir, ndshard::inspect(dir)).empty();

        // the next append cleans up: nothing but listed shards remain
        const auto info = ndshard::append(dir, ndshard_test::batch_array(batches.size()), quick);
        REQUIRE(ndshard_test::strays(dir, info).empty());
        next = batches.size() + 1;
    }
    WARN(interrupted << " of " << k - 1 << " kills left an append's files behind");
    CHECK(interrupted > 0);
}
