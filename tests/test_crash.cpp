// Crash consistency: a writer process saving generation after generation is killed (SIGKILL) at
// random instants; after every kill the dataset loads whole as exactly one generation, and the
// next save removes whatever the killed save left behind.
#include <catch2/catch.hpp>
#include <chrono>
#include <ndshard/ndshard.hpp>
#include <random>
#include <thread>

#include "child_process.hpp"
#include "generation.hpp"
#include "hostile.hpp"

TEST_CASE("crash: a save killed at any instant leaves one whole generation", "[crash]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    ndshard::save_options quick;
    quick.sync = false;
    (void)ndshard::save(dir, ndshard_test::generation_array(1), quick);

    const auto seed = std::random_device{}();
    INFO("seed " << seed);
    std::mt19937 rng(seed);
    int interrupted = 0, k = 1;
    const int kills = 100;
    for (; ndshard_test::more_kills(k, kills, interrupted); ++k) {
        INFO("kill " << k);
        const std::uint64_t first = std::uint64_t(k) * 1000;
        {
            ndshard_test::child_process writer({"save", dir.string(), std::to_string(first), "0"},
                                               true);
            REQUIRE(writer.wait_ready());  // its first save is committed: it is in the loop
            // a few saves long
            std::this_thread::sleep_for(ndshard_test::kill_delay(rng, 4000, k, kills));
            writer.kill_now();
            REQUIRE(writer.wait() == "signal 9");
        }
        // one whole generation: one the killed writer committed (its first, at least)
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
        REQUIRE((ndshard::load<std::int64_t>(dir) == ndshard_test::generation_array(first + 999)));
    }
    // most kills land inside a save, between its first shard and its cleanup
    WARN(interrupted << " of " << k - 1 << " kills left a save's files behind");
    CHECK(interrupted > 0);
}
