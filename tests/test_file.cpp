// The file layer: full pread/pwrite loops, end of file, fsync, atomic rename, directory sync,
// memory maps, locks, and the messages of their failures (the file and the system's reason).
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <ndshard/file.hpp>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"

using ndshard_test::error_of;

TEST_CASE("file: pwrite_full and pread_full move every byte at their offsets", "[file]") {
    ndshard_test::temp_dir tmp;
    const auto p = tmp / "data";
    // larger than one kernel call usually moves at once, with an odd size and offset
    std::vector<unsigned char> out((std::size_t{3} << 20) + 7);
    for (std::size_t i = 0; i < out.size(); ++i)
        out[i] = static_cast<unsigned char>(i * 31 + 7);
    {
        auto f = ndshard::file::create(p);
        REQUIRE(f.is_open());
        REQUIRE(f.path() == p);
        f.pwrite_full(out.data(), out.size(), 13);
        f.pwrite_full("head", 4, 0);
        f.pwrite_full(nullptr, 0, 5);  // nothing to write: no call, no error
        f.sync();
        f.close();
        REQUIRE(!f.is_open());
        f.close();  // closing twice is harmless
    }
    const auto f = ndshard::file::open_read(p);
    REQUIRE(f.size() == 13 + out.size());
    std::vector<unsigned char> in(out.size());
    f.pread_full(in.data(), in.size(), 13);
    REQUIRE(in == out);
    char head[13];
    f.pread_full(head, sizeof head, 0);
    REQUIRE(std::string(head, 4) == "head");
    REQUIRE(std::string(head + 4, 9) == std::string(9, '\0'));  // the hole reads as zeros
}

TEST_CASE("file: a short file ends a read early", "[file]") {
    ndshard_test::temp_dir tmp;
    const auto p = tmp / "short";
    ndshard_test::write_file(p, "0123456789");
    const auto f = ndshard::file::open_read(p);
    char buf[100];
    REQUIRE(f.pread_some(buf, sizeof buf, 0) == 10);
    REQUIRE(f.pread_some(buf, sizeof buf, 4) == 6);
    REQUIRE(f.pread_some(buf, sizeof buf, 50) == 0);
    REQUIRE(error_of([&] { f.pread_full(buf, sizeof buf, 0); }) ==
            "ndshard: unexpected end of file '" + p.string() +
                "': expected 100 bytes at offset 0, found 10");
    REQUIRE(error_of([&] { f.pread_full(buf, 8, 6); }) ==
            "ndshard: unexpected end of file '" + p.string() +
                "': expected 8 bytes at offset 6, found 4");
    f.pread_full(buf, 4, 6);
    REQUIRE(std::string(buf, 4) == "6789");
}

TEST_CASE("file: pwrite_full continues after a short write", "[file]") {
    ndshard_test::temp_dir tmp;
    const auto p = tmp / "limited";
    const std::string bytes(600, 'x');
    std::string m;
    {
        // the kernel writes the 500 bytes below the limit and returns short; the loop's next
        // write, at the limit, fails with EFBIG
        const ndshard_test::file_size_limit limit(1000);
        const auto f = ndshard::file::create(p);
        m = error_of([&] { f.pwrite_full(bytes.data(), bytes.size(), 500); });
    }
    REQUIRE(m == "ndshard: cannot write '" + p.string() + "': File too large");
    REQUIRE(std::filesystem::file_size(p) == 1000);
    REQUIRE(ndshard_test::read_file(p).substr(500) == std::string(500, 'x'));
}

TEST_CASE("file: a pipe cannot be read at an offset", "[file]") {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const std::string p = "/proc/self/fd/" + std::to_string(fds[0]);
    const auto f = ndshard::file::open_read(p);
    char buf[4];
    REQUIRE(error_of([&] { f.pread_full(buf, 4, 0); }) ==
            "ndshard: cannot read '" + p + "': Illegal seek");
    REQUIRE(error_of([&] { (void)f.size(); }) ==
            "ndshard: cannot read '" + p + "': not a regular file");
    ::close(fds[0]);
    ::close(fds[1]);
}

TEST_CASE("file: open, create and sync failures name the file and the reason", "[file]") {
    ndshard_test::temp_dir tmp;
    const auto missing = tmp / "no" / "such";
    REQUIRE(error_of([&] { (void)ndshard::file::open_read(missing); }) ==
            "ndshard: cannot open for reading '" + missing.string() +
                "': No such file or directory");
    REQUIRE(error_of([&] { (void)ndshard::file::create(missing); }) ==
            "ndshard: cannot create '" + missing.string() + "': No such file or directory");
    ndshard_test::write_file(tmp / "x", "x");
    REQUIRE(error_of([&] { (void)ndshard::file::create_new(tmp / "x"); }) ==
            "ndshard: cannot create '" + (tmp / "x").string() + "': File exists");
    const auto under_file = tmp / "x" / "y";
    REQUIRE(error_of([&] { (void)ndshard::file::open_read(under_file); }) ==
            "ndshard: cannot open for reading '" + under_file.string() + "': Not a directory");
    const auto null = ndshard::file::open_read("/dev/null");
    REQUIRE(error_of([&] { null.sync(); }) == "ndshard: cannot sync '/dev/null': Invalid argument");
    REQUIRE(error_of([&] { (void)ndshard::file::open_read(tmp.path()).size(); }) ==
            "ndshard: cannot read '" + tmp.path().string() + "': Is a directory");
}

TEST_CASE("file: create truncates, truncate resizes, moves keep the descriptor", "[file]") {
    ndshard_test::temp_dir tmp;
    const auto p = tmp / "t";
    ndshard_test::write_file(p, "old contents");
    auto f = ndshard::file::create(p);
    REQUIRE(f.size() == 0);
    f.truncate(100);
    REQUIRE(f.size() == 100);
    f.truncate(3);
    REQUIRE(f.size() == 3);
    const int fd = f.fd();
    ndshard::file g = std::move(f);
    REQUIRE(g.fd() == fd);
    REQUIRE(!f.is_open());  // NOLINT(bugprone-use-after-move): moved-from is closed by contract
    ndshard::file h;
    h = std::move(g);
    REQUIRE(h.fd() == fd);
    REQUIRE(h.path() == p);
    REQUIRE(std::filesystem::file_size(p) == 3);
}

TEST_CASE("file: atomic_rename replaces the target whole", "[file]") {
    ndshard_test::temp_dir tmp;
    ndshard_test::write_file(tmp / "target", "old");
    ndshard_test::write_file(tmp / "new", "new contents");
    ndshard::atomic_rename(tmp / "new", tmp / "target");
    REQUIRE(ndshard_test::read_file(tmp / "target") == "new contents");
    REQUIRE(!std::filesystem::exists(tmp / "new"));
    REQUIRE(error_of([&] { ndshard::atomic_rename(tmp / "new", tmp / "target"); }) ==
            "ndshard: cannot rename '" + (tmp / "new").string() + "' to '" +
                (tmp / "target").string() + "': No such file or directory");
    std::filesystem::create_directory(tmp / "dir");
    std::filesystem::create_directory(tmp / "dir" / "full");
    REQUIRE(error_of([&] { ndshard::atomic_rename(tmp / "target", tmp / "dir"); }) ==
            "ndshard: cannot rename '" + (tmp / "target").string() + "' to '" +
                (tmp / "dir").string() + "': Is a directory");
    REQUIRE(ndshard_test::read_file(tmp / "target") == "new contents");
}

TEST_CASE("file: sync_directory", "[file]") {
    ndshard_test::temp_dir tmp;
    ndshard::sync_directory(tmp.path());
    REQUIRE(error_of([&] { ndshard::sync_directory(tmp / "none"); }) ==
            "ndshard: cannot open directory '" + (tmp / "none").string() +
                "': No such file or directory");
    ndshard_test::write_file(tmp / "f", "");
    REQUIRE(error_of([&] { ndshard::sync_directory(tmp / "f"); }) ==
            "ndshard: cannot open directory '" + (tmp / "f").string() + "': Not a directory");
}

TEST_CASE("file: mapped_file maps the whole file", "[file]") {
    ndshard_test::temp_dir tmp;
    ndshard_test::write_file(tmp / "m", "mapped bytes\n");
    ndshard::mapped_file m(tmp / "m");
    REQUIRE(m.size() == 13);
    REQUIRE(std::string(m.data(), m.size()) == "mapped bytes\n");
    REQUIRE(m.path() == tmp / "m");
    m.advise_sequential();
    ndshard::mapped_file moved = std::move(m);
    REQUIRE(moved.size() == 13);
    REQUIRE(moved.data()[0] == 'm');

    ndshard_test::write_file(tmp / "empty", "");
    ndshard::mapped_file e(tmp / "empty");
    REQUIRE(e.size() == 0);
    REQUIRE(e.data() == nullptr);
    REQUIRE(error_of([&] { ndshard::mapped_file none(tmp / "none"); }) ==
            "ndshard: cannot open for reading '" + (tmp / "none").string() +
                "': No such file or directory");
}

TEST_CASE("file: file_lock makes a second locker wait", "[file]") {
    ndshard_test::temp_dir tmp;
    const auto p = tmp / "lock";
    std::atomic<bool> acquired{false};
    std::thread other;
    {
        ndshard::file_lock first(p);
        other = std::thread([&] {
            ndshard::file_lock second(p);  // its own open file: flock excludes it
            acquired = true;
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        CHECK(!acquired);  // (CHECK: the thread must be joined) holds whatever the timing: the
                           // first lock is still held
    }
    other.join();
    REQUIRE(acquired);
    REQUIRE(error_of([&] { ndshard::file_lock l(tmp / "no" / "lock"); }) ==
            "ndshard: cannot open lock file '" + (tmp / "no" / "lock").string() +
                "': No such file or directory");
}

TEST_CASE("file: temporary names are unique and removal is quiet", "[file]") {
    const auto a = ndshard::detail::temp_path_for("/x/target.npy");
    const auto b = ndshard::detail::temp_path_for("/x/target.npy");
    REQUIRE(a != b);
    REQUIRE(a.string().rfind("/x/target.npy.tmp-" + std::to_string(::getpid()) + "-", 0) == 0);
    ndshard::detail::remove_quietly("/nonexistent/ndshard/file");
}
