// Large data: byte offsets and element counts are 64-bit everywhere. One array of more than 2^31
// elements goes through save and load (2 GiB of memory, written to /tmp without fsync); one
// .npy shard of more than 4 GiB, sparse so that it costs no memory or disk, goes through the
// header checks, inspect and verify, with a flipped byte past 4 GiB caught and named.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <ndshard/ndshard.hpp>
#include <vector>

#include "hostile.hpp"

namespace {

/// Bytes 0, 1, ..., 250, 0, 1, ...: a period prime to every power of two, so data read from or
/// written to an offset off by 2^31 or 2^32 cannot look right.
constexpr std::size_t period = 251;

std::vector<std::uint8_t> pattern_block() {
    std::vector<std::uint8_t> b(period * 4096);
    for (std::size_t i = 0; i < b.size(); ++i)
        b[i] = static_cast<std::uint8_t>(i % period);
    return b;
}

/// Elements of `p[0..n)` that differ from the pattern.
std::size_t pattern_errors(const std::uint8_t* p, std::size_t n) {
    const auto block = pattern_block();
    std::size_t bad = 0;
    for (std::size_t done = 0; done < n; done += block.size()) {
        const std::size_t k = std::min(block.size(), n - done);
        if (std::memcmp(p + done, block.data(), k) != 0) {
            for (std::size_t i = 0; i < k; ++i)
                bad += p[done + i] != block[i];
        }
    }
    return bad;
}

}  // namespace

TEST_CASE("large: an array of more than 2^31 elements saves and loads exactly", "[large]") {
    // on disk, not in /dev/shm: the 2 GiB shard lives in the page cache, which can be reclaimed
    ndshard_test::temp_dir tmp(std::filesystem::temp_directory_path());
    const auto dir = tmp / "ds";
    const std::size_t n = (std::size_t{1} << 31) + 4099;
    auto a = xt::xarray<std::uint8_t>::from_shape({n});
    const auto block = pattern_block();
    for (std::size_t done = 0; done < n; done += block.size())
        std::memcpy(a.data() + done, block.data(), std::min(block.size(), n - done));

    ndshard::save_options o;
    o.shards = 1;  // one shard: in-file offsets pass 2^31 too
    o.threads = 2;
    o.sync = false;
    const auto info = ndshard::save(dir, a, o);
    REQUIRE(info.shards.size() == 1);
    CHECK(info.shards[0].bytes == n + 128);
    CHECK(info.shards[0].last_row == n);

    std::memset(a.data(), 0, n);
    ndshard::load_into(dir, a);  // the same memory, read again (checksum verified)
    REQUIRE(a.size() == n);
    CHECK(pattern_errors(a.data(), n) == 0);
    CHECK(a(n - 1) == (n - 1) % period);
    CHECK(a(std::size_t{1} << 31) == (std::size_t{1} << 31) % period);
}

TEST_CASE("large: a shard past 4 GiB is checked and verified to its last byte", "[large]") {
    ndshard_test::temp_dir tmp;  // /dev/shm: on tmpfs, holes read as zero pages and cost nothing
    const auto dir = tmp / "ds";
    std::filesystem::create_directories(dir);
    const std::uint64_t n = (std::uint64_t{4} << 30) + 4099;  // uint8 elements
    const auto shard = dir / "part-000001-00000.npy";
    const std::string header = ndshard::encode_npy_header("|u1", {n});
    REQUIRE(header.size() == 128);
    {
        auto f = ndshard::file::create(shard);
        f.pwrite_full(header.data(), header.size(), 0);
        f.truncate(header.size() + n);  // sparse: the data is zeros that take no space
        const unsigned char marks[3] = {0xab, 0xcd, 0xef};
        f.pwrite_full(&marks[0], 1, 128 + (std::uint64_t{1} << 32) - 1);
        f.pwrite_full(&marks[1], 1, 128 + (std::uint64_t{1} << 32));
        f.pwrite_full(&marks[2], 1, 128 + n - 1);
    }
    const auto f = ndshard::file::open_read(shard);
    const auto h = ndshard::read_npy_header(f);
    CHECK(h.data_bytes() == n);
    CHECK(h.data_offset == 128);
    unsigned char got[2] = {0, 0};
    f.pread_full(got, 2, 128 + (std::uint64_t{1} << 32) - 1);
    CHECK(got[0] == 0xab);
    CHECK(got[1] == 0xcd);

    // the dataset around it, with the checksum of its bytes
    ndshard::detail::xxh3_stream hash;
    std::vector<char> buf(std::size_t{8} << 20);
    for (std::uint64_t done = 0; done < 128 + n; done += buf.size()) {
        const auto k =
            static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), 128 + n - done));
        f.pread_full(buf.data(), k, done);
        hash.update(buf.data(), k);
    }
    nlohmann::json j = {{"ndshard", 1},
                        {"dtype", "|u1"},
                        {"shape", {n}},
                        {"format", "npy"},
                        {"generation", 1},
                        {"shards",
                         {{{"path", shard.filename().string()},
                           {"rows", {0, n}},
                           {"bytes", 128 + n},
                           {"checksum", hash.text()}}}}};
    ndshard_test::write_file(dir / "manifest.json", j.dump());
    const auto info = ndshard::inspect(dir);
    CHECK(info.shape == std::vector<std::size_t>{n});
    const auto r = ndshard::verify(dir);
    CHECK(r.ok());
    CHECK(r.bytes == 128 + n);

    // one byte past 4 GiB changes
    {
        const int fd = ::open(shard.c_str(), O_WRONLY | O_CLOEXEC);
        REQUIRE(fd >= 0);
        const unsigned char x = 0x32;
        REQUIRE(::pwrite(fd, &x, 1, static_cast<off_t>(128 + (std::uint64_t{1} << 32) + 1)) == 1);
        ::close(fd);
    }
    const auto bad = ndshard::verify(dir);
    REQUIRE(bad.problems.size() == 1);
    CHECK_THAT(bad.problems[0].message,
               Catch::Matchers::StartsWith("ndshard: checksum mismatch in '" + shard.string() +
                                           "': expected " + hash.text()));
}
