// Progress callbacks and cancellation: what each call reports, from which thread, and that a
// cancelled call throws ndshard::cancelled and leaves its target as it was.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <ndshard/ndshard.hpp>
#include <xtensor/xarray.hpp>

#include "support.hpp"

using ndshard_test::list_dir;
using ndshard_test::read_file;
using ndshard_test::same_bits;
using ndshard_test::temp_dir;

namespace {

/// Every chance to call back is taken while a test runs (the default waits 200 ms between calls).
struct every_chance {
    std::chrono::milliseconds saved = ndshard::detail::progress_interval();
    every_chance() { ndshard::detail::progress_interval() = std::chrono::milliseconds(0); }
    ~every_chance() { ndshard::detail::progress_interval() = saved; }
};

/// Records every call; returns false from call number `stop_at` (0: never).
struct recorder {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> calls;
    std::vector<std::thread::id> threads;
    std::size_t stop_at = 0;
    ndshard::progress_fn fn() {
        return [this](std::uint64_t done, std::uint64_t total) {
            calls.emplace_back(done, total);
            threads.push_back(std::this_thread::get_id());
            return stop_at == 0 || calls.size() < stop_at;
        };
    }
    /// done never goes back, never passes total; the last call is (total, total); every call
    /// came from this thread.
    void check_complete(std::uint64_t total) const {
        REQUIRE(!calls.empty());
        CHECK(calls.back() == std::make_pair(total, total));
        for (std::size_t i = 0; i < calls.size(); ++i) {
            CHECK(calls[i].second == total);
            CHECK(calls[i].first <= total);
            if (i > 0) CHECK(calls[i].first >= calls[i - 1].first);
            CHECK(threads[i] == std::this_thread::get_id());
        }
    }
};

xt::xarray<double> numbers(std::size_t rows, std::size_t cols, double base) {
    xt::xarray<double> a = xt::xarray<double>::from_shape({rows, cols});
    for (std::size_t i = 0; i < a.size(); ++i)
        a.data()[i] = base + static_cast<double>(i) * 0.25;
    return a;
}

std::string cancelled_text(const std::string& what) {
    return "ndshard: " + what + " cancelled by its progress callback";
}

}  // namespace

TEST_CASE("progress: save and load report the array's bytes, ending with (total, total)",
          "[progress]") {
    const every_chance often;
    temp_dir tmp;
    const auto a = numbers(3000, 7, 1.5);
    const std::uint64_t bytes = a.size() * sizeof(double);
    for (const auto format : {ndshard::shard_format::npy, ndshard::shard_format::csv}) {
        for (const std::size_t threads : {std::size_t{1}, std::size_t{3}}) {
            recorder saving;
            ndshard::save_options so;
            so.format = format;
            so.threads = threads;
            so.shards = 4;
            so.sync = false;
            so.progress = saving.fn();
            (void)ndshard::save(tmp / "d", a, so);
            saving.check_complete(bytes);

            recorder loading;
            ndshard::load_options lo;
            lo.threads = threads;
            lo.progress = loading.fn();
            CHECK(same_bits(ndshard::load<double>(tmp / "d", lo), a));
            // a load counts the bytes it reads: the shards' rows (npy), the whole files (text)
            std::uint64_t read = 0;
            for (const auto& s : ndshard::inspect(tmp / "d").shards)
                read += format == ndshard::shard_format::npy ? (s.last_row - s.first_row) * 7 * 8
                                                             : s.bytes;
            loading.check_complete(read);
        }
    }
}

TEST_CASE("progress: a cancelled save throws ndshard::cancelled and leaves the dataset as it was",
          "[progress]") {
    const every_chance often;
    temp_dir tmp;
    const auto old = numbers(100, 3, -7.0);
    ndshard::save_options plain;
    plain.sync = false;
    (void)ndshard::save(tmp / "d", old, plain);
    const auto files = list_dir(tmp / "d");
    // with a pool the first call comes as the work starts (it cannot stop a later call
    // deterministically: the work may end first); inline, every piece of work calls back
    const std::pair<std::size_t, std::size_t> cases[] = {{1, 1}, {1, 2}, {2, 1}};
    for (const auto& [threads, stop_at] : cases) {
        {
            recorder r;
            r.stop_at = stop_at;
            ndshard::save_options so = plain;
            so.threads = threads;
            so.shards = 8;
            so.progress = r.fn();
            CHECK_THROWS_MATCHES(
                ndshard::save(tmp / "d", numbers(5000, 3, 1.0), so), ndshard::cancelled,
                Catch::Message(cancelled_text("save to " + ndshard::detail::quoted(tmp / "d"))));
            CHECK(r.calls.size() == stop_at);  // no call after the one that said stop
            CHECK(list_dir(tmp / "d") == files);
            CHECK(same_bits(ndshard::load<double>(tmp / "d"), old));
            CHECK(ndshard::inspect(tmp / "d").generation == 1);
        }
    }
    // an append too
    recorder r;
    r.stop_at = 1;
    ndshard::save_options so = plain;
    so.progress = r.fn();
    CHECK_THROWS_AS(ndshard::append(tmp / "d", numbers(50, 3, 2.0), so), ndshard::cancelled);
    CHECK(list_dir(tmp / "d") == files);
    CHECK(same_bits(ndshard::load<double>(tmp / "d"), old));
}

TEST_CASE("progress: verify reports the bytes it hashes; cancelled, it throws", "[progress]") {
    const every_chance often;
    temp_dir tmp;
    ndshard::save_options plain;
    plain.sync = false;
    plain.shards = 3;
    (void)ndshard::save(tmp / "d", numbers(3000, 5, 0.5), plain);
    std::uint64_t bytes = 0;
    for (const auto& s : ndshard::inspect(tmp / "d").shards)
        bytes += s.bytes;
    for (const std::size_t threads : {std::size_t{1}, std::size_t{2}}) {
        recorder r;
        ndshard::verify_options vo;
        vo.threads = threads;
        vo.progress = r.fn();
        CHECK(ndshard::verify(tmp / "d", vo).ok());
        r.check_complete(bytes);
        recorder c;
        c.stop_at = 1;
        vo.progress = c.fn();
        CHECK_THROWS_MATCHES(
            ndshard::verify(tmp / "d", vo), ndshard::cancelled,
            Catch::Message(cancelled_text("verify of " + ndshard::detail::quoted(tmp / "d"))));
    }
}

TEST_CASE("progress: a cancelled load throws; a callback that throws cancels, saying so",
          "[progress]") {
    const every_chance often;
    temp_dir tmp;
    ndshard::save_options plain;
    plain.sync = false;
    plain.shards = 4;
    (void)ndshard::save(tmp / "d", numbers(4000, 5, 0.5), plain);
    const std::string what = "load of " + ndshard::detail::quoted(tmp / "d");
    for (const std::size_t threads : {std::size_t{1}, std::size_t{2}}) {
        recorder r;
        r.stop_at = 1;
        ndshard::load_options lo;
        lo.threads = threads;
        lo.progress = r.fn();
        CHECK_THROWS_MATCHES(ndshard::load<double>(tmp / "d", lo), ndshard::cancelled,
                             Catch::Message(cancelled_text(what)));
        CHECK_THROWS_AS(ndshard::load_rows<double>(tmp / "d", 10, 3000, lo), ndshard::cancelled);
    }
    ndshard::load_options lo;
    lo.progress = [](std::uint64_t, std::uint64_t) -> bool { throw std::runtime_error("boom"); };
    CHECK_THROWS_MATCHES(ndshard::load<double>(tmp / "d", lo), ndshard::cancelled,
                         Catch::Message(cancelled_text(what) + " (it threw: boom)"));
    // cancelled is an ndshard::error: code that catches those catches it
    CHECK_THROWS_AS(ndshard::load<double>(tmp / "d", lo), ndshard::error);
}

TEST_CASE("progress: write_text and read_text; a cancelled write keeps the old file",
          "[progress]") {
    const every_chance often;
    temp_dir tmp;
    const auto a = numbers(20000, 4, 3.0);
    const auto file = tmp / "a.tsv";
    recorder w;
    ndshard::text_write_options wo;
    wo.sync = false;
    wo.threads = 2;
    wo.progress = w.fn();
    ndshard::write_text(file, a, wo);
    w.check_complete(a.size() * sizeof(double));

    recorder r;
    ndshard::text_read_options ro;
    ro.threads = 2;
    ro.progress = r.fn();
    CHECK(same_bits(ndshard::read_text<double>(file, ro), a));
    r.check_complete(std::filesystem::file_size(file));  // a read of text counts the file's bytes

    const std::string before = read_file(file);
    const auto files = list_dir(tmp.path());
    for (const std::size_t threads : {std::size_t{1}, std::size_t{2}}) {
        recorder c;
        c.stop_at = 1;
        wo.threads = threads;
        wo.progress = c.fn();
        CHECK_THROWS_MATCHES(
            ndshard::write_text(file, numbers(30000, 4, 9.0), wo), ndshard::cancelled,
            Catch::Message(cancelled_text("write of " + ndshard::detail::quoted(file))));
        CHECK(read_file(file) == before);
        CHECK(list_dir(tmp.path()) == files);  // no temporary file left
        ro.threads = threads;
        ro.progress = c.fn();  // its count is past stop_at: it says stop at once
        CHECK_THROWS_MATCHES(
            ndshard::read_text<double>(file, ro), ndshard::cancelled,
            Catch::Message(cancelled_text("read of " + ndshard::detail::quoted(file))));
    }
}

TEST_CASE("progress: block_reader reports the rows it returns; cancelled, next() throws",
          "[progress]") {
    temp_dir tmp;
    const auto a = numbers(1000, 6, 1.0);
    ndshard::save_options plain;
    plain.sync = false;
    (void)ndshard::save(tmp / "d", a, plain);
    const every_chance often;
    recorder r;
    ndshard::stream_options so;
    so.block_rows = 100;
    so.first_row = 50;
    so.last_row = 950;
    so.progress = r.fn();
    {
        ndshard::block_reader<double> reader(tmp / "d", so);
        std::size_t blocks = 0;
        while (reader.next())
            ++blocks;
        CHECK(blocks == 9);
    }
    REQUIRE(r.calls.size() == 10);  // one per block (every chance is taken), then the last
    for (std::size_t i = 0; i < 9; ++i)
        CHECK(r.calls[i] ==
              std::make_pair(std::uint64_t{(i + 1) * 100 * 6 * 8}, std::uint64_t{900 * 6 * 8}));
    r.check_complete(900 * 6 * 8);

    recorder c;
    c.stop_at = 3;
    so.progress = c.fn();
    ndshard::block_reader<double> reader(tmp / "d", so);
    CHECK(reader.next());
    CHECK(reader.next());
    const std::string message = cancelled_text("stream of " + ndshard::detail::quoted(tmp / "d"));
    CHECK_THROWS_MATCHES(reader.next(), ndshard::cancelled, Catch::Message(message));
    CHECK_THROWS_MATCHES(reader.next(), ndshard::cancelled, Catch::Message(message));
    CHECK(c.calls.size() == 3);
}

TEST_CASE("progress: a dataset_writer cancelled in write() leaves the dataset as it was",
          "[progress]") {
    temp_dir tmp;
    const auto old = numbers(10, 4, 5.0);
    ndshard::save_options plain;
    plain.sync = false;
    (void)ndshard::save(tmp / "d", old, plain);
    const auto files = list_dir(tmp / "d");
    const every_chance often;
    recorder r;
    r.stop_at = 3;
    ndshard::writer_options wo;
    wo.sync = false;
    wo.shard_rows = 64;
    wo.progress = r.fn();
    {
        ndshard::dataset_writer<double> w(tmp / "d", {4}, wo);
        w.write(numbers(100, 4, 0.0));
        w.write(numbers(100, 4, 0.0));
        CHECK(r.calls ==
              std::vector<std::pair<std::uint64_t, std::uint64_t>>{{3200, 0}, {6400, 0}});
        const std::string message =
            cancelled_text("write to " + ndshard::detail::quoted(tmp / "d"));
        CHECK_THROWS_MATCHES(w.write(numbers(100, 4, 0.0)), ndshard::cancelled,
                             Catch::Message(message));
        // its files are gone at once, and it stays cancelled
        CHECK(list_dir(tmp / "d") == files);
        CHECK_THROWS_MATCHES(w.commit(), ndshard::cancelled, Catch::Message(message));
    }
    CHECK(list_dir(tmp / "d") == files);
    CHECK(same_bits(ndshard::load<double>(tmp / "d"), old));

    // uncancelled: the last call comes with commit(), total = done = the bytes written
    recorder all;
    wo.progress = all.fn();
    {
        ndshard::dataset_writer<double> w(tmp / "d", {4}, wo);
        w.write(numbers(100, 4, 0.0));
        (void)w.commit();
    }
    CHECK(all.calls.back() == std::make_pair(std::uint64_t{3200}, std::uint64_t{3200}));
}

TEST_CASE("progress: zarr save and load; a cancelled save keeps the old store", "[progress]") {
    const every_chance often;
    temp_dir tmp;
    const auto old = numbers(300, 5, -1.0);
    ndshard::zarr::save_options plain;
    plain.sync = false;
    plain.chunk_rows = 64;
    (void)ndshard::zarr::save(tmp / "z", old, plain);
    const auto files = list_dir(tmp.path());
    const auto a = numbers(1000, 5, 2.0);
    for (const std::size_t threads : {std::size_t{1}, std::size_t{2}}) {
        recorder r;
        ndshard::zarr::save_options so = plain;
        so.threads = threads;
        so.progress = r.fn();
        (void)ndshard::zarr::save(tmp / "y", a, so);
        r.check_complete(a.size() * 8);
        recorder l;
        ndshard::load_options lo;
        lo.threads = threads;
        lo.progress = l.fn();
        CHECK(same_bits(ndshard::zarr::load<double>(tmp / "y", lo), a));
        l.check_complete(a.size() * 8);
        std::filesystem::remove_all(tmp / "y");

        recorder c;
        c.stop_at = 1;
        so.progress = c.fn();
        CHECK_THROWS_MATCHES(
            ndshard::zarr::save(tmp / "z", a, so), ndshard::cancelled,
            Catch::Message(cancelled_text("save to " + ndshard::detail::quoted(tmp / "z"))));
        CHECK(list_dir(tmp.path()) == files);  // no hidden store left beside it
        CHECK(same_bits(ndshard::zarr::load<double>(tmp / "z"), old));
        lo.progress = c.fn();
        CHECK_THROWS_AS(ndshard::zarr::load<double>(tmp / "z", lo), ndshard::cancelled);
    }
}

TEST_CASE("progress: with the default interval, a quick call is called back at its end",
          "[progress]") {
    temp_dir tmp;
    recorder r;
    ndshard::save_options so;
    so.sync = false;
    so.progress = r.fn();
    const auto a = numbers(10, 2, 0.0);
    (void)ndshard::save(tmp / "d", a, so);
    REQUIRE(!r.calls.empty());  // (more than one only on a machine slower than 200 ms here)
    CHECK(r.calls.back() == std::make_pair(std::uint64_t{160}, std::uint64_t{160}));
}

TEST_CASE("progress: a cancelled save into a new directory leaves no directory", "[progress]") {
    const every_chance often;
    temp_dir tmp;
    for (const std::size_t threads : {std::size_t{1}, std::size_t{2}}) {
        recorder r;
        r.stop_at = 1;
        ndshard::save_options so;
        so.sync = false;
        so.threads = threads;
        so.progress = r.fn();
        CHECK_THROWS_AS(ndshard::save(tmp / "new.nds", numbers(1000, 3, 0.0), so),
                        ndshard::cancelled);
        CHECK(!std::filesystem::exists(tmp / "new.nds"));
    }
}

TEST_CASE("progress: ndshard calls inside a callback count into no meter, nor call it back",
          "[progress]") {
    const every_chance often;
    temp_dir tmp;
    ndshard::save_options plain;
    plain.sync = false;
    const auto a = numbers(2000, 4, 1.0);
    (void)ndshard::save(tmp / "d", a, plain);
    int depth = 0, deepest = 0, calls = 0;
    ndshard::load_options lo;
    lo.threads = 2;
    lo.progress = [&](std::uint64_t, std::uint64_t) {
        ++calls;
        deepest = std::max(deepest, ++depth);
        ndshard::load_options inner;  // no callback, its own pool
        inner.threads = 2;
        const bool same = same_bits(ndshard::load<double>(tmp / "d", inner), a);
        --depth;
        return same;
    };
    CHECK(same_bits(ndshard::load<double>(tmp / "d", lo), a));
    CHECK(calls >= 1);
    CHECK(deepest == 1);
}
