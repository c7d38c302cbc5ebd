// Concurrency: loads during saves see the old or the new dataset, whole, and never fail; saves
// into one dataset take turns. With threads of this process and with separate processes.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <ndshard/ndshard.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "child_process.hpp"
#include "generation.hpp"
#include "hostile.hpp"

namespace {

ndshard::dataset_info save_generation(const std::filesystem::path& dir, std::uint64_t tag) {
    ndshard::save_options o;
    o.shards = ndshard_test::generation_shards(tag);
    o.threads = 2;
    o.sync = false;
    return ndshard::save(dir, ndshard_test::generation_array(tag), o);
}

/// Loads `dir` until `stop`, checking each load is one whole generation, never older than the
/// one before; returns the first problem, or "" (a worker thread must not call REQUIRE).
std::string read_until(const std::filesystem::path& dir, const std::atomic<bool>& stop,
                       std::size_t& loads) {
    std::uint64_t last = 0;
    try {
        while (!stop) {
            ndshard::load_options o;
            o.threads = 2;
            const auto a = ndshard::load<std::int64_t>(dir, o);
            std::uint64_t tag = 0;
            std::string why;
            if (!ndshard_test::generation_of(a, tag, why)) return why;
            if (tag < last) return "generation " + std::to_string(tag) + " after a newer one";
            last = tag;
            ++loads;
            if (loads % 8 == 0 && !ndshard::verify(dir).ok()) return "verify found a problem";
        }
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("concurrency: loads during saves see one whole generation and never fail",
          "[concurrency]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    (void)save_generation(dir, 1);
    std::atomic<bool> stop{false};
    const std::size_t nreaders = 3;
    std::vector<std::string> problems(nreaders);
    std::vector<std::size_t> loads(nreaders, 0);
    std::vector<std::thread> readers;
    for (std::size_t r = 0; r < nreaders; ++r)
        readers.emplace_back([&, r] { problems[r] = read_until(dir, stop, loads[r]); });
    std::string save_problem;
    try {
        for (std::uint64_t tag = 2; tag <= 80; ++tag)
            (void)save_generation(dir, tag);
    } catch (const std::exception& e) {
        save_problem = e.what();
    }
    stop = true;
    for (auto& t : readers)
        t.join();
    REQUIRE(save_problem.empty());
    for (std::size_t r = 0; r < nreaders; ++r) {
        INFO("reader " << r << " after " << loads[r] << " loads");
        CHECK(problems[r] == "");
    }
    // nobody reads any more: the next save removes every older generation
    const auto info = save_generation(dir, 81);
    CHECK(ndshard_test::strays(dir, info).empty());
}

TEST_CASE("concurrency: a save leaves shards a running load may need; a later save removes them",
          "[concurrency]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    const auto first = ndshard_test::save_small(dir);
    std::optional<ndshard::dataset_info> second;
    {
        // what a load holds while it reads
        const ndshard::directory_lock reading(dir, ndshard::directory_lock::kind::shared);
        REQUIRE(reading.held());
        second = ndshard_test::save_small(dir);  // must not wait for the reader
        for (const auto& s : first.shards)
            CHECK(std::filesystem::exists(dir / s.path));
        CHECK((ndshard::load<std::int32_t>(dir) == ndshard_test::small_array()));
    }
    CHECK(ndshard_test::strays(dir, *second).size() == first.shards.size());
    const auto third = ndshard_test::save_small(dir);
    CHECK(ndshard_test::strays(dir, third).empty());
}

TEST_CASE("concurrency: saves from several threads take turns", "[concurrency]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    const std::size_t nwriters = 3, each = 15;
    std::mutex m;
    std::vector<std::uint64_t> generations;
    std::vector<std::string> problems(nwriters);
    std::vector<std::thread> writers;
    for (std::size_t w = 0; w < nwriters; ++w) {
        writers.emplace_back([&, w] {
            try {
                for (std::size_t k = 0; k < each; ++k) {
                    const auto info = save_generation(dir, std::uint64_t(w + 1) * 100 + k);
                    std::lock_guard<std::mutex> lock(m);
                    generations.push_back(info.generation);
                }
            } catch (const std::exception& e) {
                problems[w] = e.what();
            }
        });
    }
    for (auto& t : writers)
        t.join();
    for (const auto& p : problems)
        CHECK(p == "");
    // one save at a time: each saw the one before committed, so generations are 1, 2, 3, ...
    std::sort(generations.begin(), generations.end());
    REQUIRE(generations.size() == nwriters * each);
    for (std::size_t i = 0; i < generations.size(); ++i)
        CHECK(generations[i] == i + 1);
    const auto a = ndshard::load<std::int64_t>(dir);
    std::uint64_t tag = 0;
    std::string why;
    CHECK(ndshard_test::generation_of(a, tag, why));
    CHECK(ndshard_test::strays(dir, ndshard::inspect(dir)).empty());
}

TEST_CASE("concurrency: writer and reader processes", "[concurrency]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    const auto stop = tmp / "stop";
    (void)save_generation(dir, 1);
    // two writer processes (serialised by the lock file) and two reader processes
    ndshard_test::child_process w1({"save", dir.string(), "1000", "40"});
    ndshard_test::child_process w2({"save", dir.string(), "2000", "40"});
    ndshard_test::child_process r1({"load", dir.string(), stop.string()});
    ndshard_test::child_process r2({"load", dir.string(), stop.string()});
    CHECK(w1.wait() == "exit 0");
    CHECK(w2.wait() == "exit 0");
    ndshard_test::write_file(stop, "");
    CHECK(r1.wait() == "exit 0");
    CHECK(r2.wait() == "exit 0");
    const auto info = ndshard::inspect(dir);
    CHECK(info.generation == 81);  // 1 + 40 + 40 saves, one at a time
    const auto a = ndshard::load<std::int64_t>(dir);
    std::uint64_t tag = 0;
    std::string why;
    REQUIRE(ndshard_test::generation_of(a, tag, why));
    CHECK((tag == 1039 || tag == 2039));
}

TEST_CASE("concurrency: a thread that holds a directory with a writer cannot wait for itself",
          "[concurrency][writer]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "d";
    const xt::xarray<double> rows = {{1.0, 2.0}};
    ndshard::dataset_writer<double> w(dir, {2});
    w.write(rows);
    const std::string expected =
        "ndshard: cannot lock '" + (dir / ".ndshard.lock").string() +
        "': expected a lock this thread does not hold, found it held by this thread (a "
        "dataset_writer of the same directory not yet committed or destroyed): waiting would "
        "never end";
    // a save, an append and a second writer in the same thread would wait forever: errors
    REQUIRE_THROWS_WITH(ndshard::save(dir, rows), expected);
    REQUIRE_THROWS_WITH(ndshard::append(dir, rows), expected);
    REQUIRE_THROWS_WITH(ndshard::dataset_writer<double>(dir, {2}), expected);
    // another thread waits for the commit, then lands after it
    std::thread other([&] { ndshard::append(dir, rows * 10.0); });
    w.write(rows * 2.0);
    REQUIRE(w.commit().shape == std::vector<std::size_t>{2, 2});
    other.join();
    const auto back = ndshard::load<double>(dir);
    const xt::xarray<double> want = {{1.0, 2.0}, {2.0, 4.0}, {10.0, 20.0}};
    REQUIRE(back == want);
    // once committed, the lock is free again for this thread
    REQUIRE(ndshard::save(dir, rows).shape == std::vector<std::size_t>{1, 2});
}
