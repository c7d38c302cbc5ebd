// What writing over a path does to what was there: write_npy, write_text and a save's manifest keep
// the permission bits (and, for root, the owner) of the file they replace; a new file gets
// 0666 & ~umask, as any program's; the new file is private (0600) while it is written; a
// symbolic link is replaced, never written through; a directory is refused before any writing.
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <ndshard/ndshard.hpp>
#include <string>

#include "support.hpp"

using ndshard_test::error_of;

namespace {

/// Sets the umask, and restores it when the test ends.
class scoped_umask {
  public:
    explicit scoped_umask(mode_t m) : saved_(::umask(m)) {}
    scoped_umask(const scoped_umask&) = delete;
    scoped_umask& operator=(const scoped_umask&) = delete;
    ~scoped_umask() { ::umask(saved_); }

  private:
    mode_t saved_;
};

struct stat stat_of(const std::filesystem::path& p) {
    struct stat st {};
    REQUIRE(::lstat(p.c_str(), &st) == 0);
    return st;
}

mode_t mode_of(const std::filesystem::path& p) {
    return stat_of(p).st_mode & 07777;
}

xt::xtensor<double, 2> values() {
    return {{1.5, 2.5}, {3.5, 4.5}};
}

// Each way of replacing a file, by the path it writes.
void write_npy(const std::filesystem::path& p) {
    ndshard::write_npy(p, values(), 2);
}
void write_text(const std::filesystem::path& p) {
    ndshard::write_text(p, values());
}

}  // namespace

TEST_CASE("permissions: write_npy and write_text keep the mode of the file they replace",
          "[permissions]") {
    const scoped_umask umask(022);
    ndshard_test::temp_dir tmp;
    for (const auto write : {&write_npy, &write_text}) {
        for (const mode_t mode : {mode_t{0600}, mode_t{0640}, mode_t{0604}, mode_t{0777}}) {
            const auto p = tmp / "secret";
            ndshard_test::write_file(p, "old");
            REQUIRE(::chmod(p.c_str(), mode) == 0);
            write(p);
            CHECK(mode_of(p) == mode);
            REQUIRE(ndshard_test::read_file(p) != "old");
            std::filesystem::remove(p);
        }
    }
    // set-user-ID and set-group-ID are not carried over to new contents
    const auto p = tmp / "x.npy";
    ndshard_test::write_file(p, "old");
    REQUIRE(::chmod(p.c_str(), 06750) == 0);
    write_npy(p);
    CHECK(mode_of(p) == 0750);
}

TEST_CASE("permissions: a new file gets 0666 & ~umask", "[permissions]") {
    ndshard_test::temp_dir tmp;
    for (const mode_t mask : {mode_t{022}, mode_t{027}, mode_t{077}, mode_t{0}, mode_t{002}}) {
        const scoped_umask umask(mask);
        write_npy(tmp / "a.npy");
        write_text(tmp / "a.tsv");
        CHECK(mode_of(tmp / "a.npy") == (0666 & ~mask));
        CHECK(mode_of(tmp / "a.tsv") == (0666 & ~mask));
        std::filesystem::remove(tmp / "a.npy");
        std::filesystem::remove(tmp / "a.tsv");
    }
}

TEST_CASE("permissions: the new file is private while it is written", "[permissions]") {
    const scoped_umask umask(0);  // a normal create would make it 0666
    ndshard_test::temp_dir tmp;
    ndshard_test::write_file(tmp / "t", "old");
    REQUIRE(::chmod((tmp / "t").c_str(), 0644) == 0);
    std::size_t seen = 0;
    ndshard::detail::write_atomically(tmp / "t", false, true, [&](const ndshard::file& f) {
        f.pwrite_full("new", 3, 0);
        for (const auto& name : ndshard_test::list_dir(tmp.path())) {
            if (name == "t") continue;
            REQUIRE(name.rfind("t.tmp-", 0) == 0);
            CHECK(mode_of(tmp / name) == 0600);
            ++seen;
        }
    });
    REQUIRE(seen == 1);
    CHECK(mode_of(tmp / "t") == 0644);  // then it takes the mode of the file it replaces
    CHECK(ndshard_test::read_file(tmp / "t") == "new");
    CHECK(ndshard_test::list_dir(tmp.path()) == std::set<std::string>{"t"});
}

TEST_CASE("permissions: a dataset keeps its manifest's mode, and its new shards take it",
          "[permissions]") {
    const scoped_umask umask(022);
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    auto info = ndshard::save(dir, values(), {ndshard::shard_format::npy, 2, 2});
    CHECK(mode_of(dir / "manifest.json") == 0644);
    for (const auto& s : info.shards)
        CHECK(mode_of(dir / s.path) == 0644);
    CHECK(mode_of(dir / ".ndshard.lock") == 0644);

    for (const mode_t mode : {mode_t{0600}, mode_t{0640}}) {
        REQUIRE(::chmod((dir / "manifest.json").c_str(), mode) == 0);
        for (const auto format : {ndshard::shard_format::npy, ndshard::shard_format::csv}) {
            info = ndshard::save(dir, values(), {format, 2, 2});
            CHECK(mode_of(dir / "manifest.json") == mode);
            for (const auto& s : info.shards)
                CHECK(mode_of(dir / s.path) == mode);
            REQUIRE((ndshard::load<double>(dir) == values()));
        }
    }
}

TEST_CASE("permissions: root keeps the owner and group of the file it replaces", "[permissions]") {
    if (::geteuid() != 0) return;  // only root can give a file away
    const scoped_umask umask(022);
    ndshard_test::temp_dir tmp;
    const uid_t uid = 4321;
    const gid_t gid = 8765;
    const auto p = tmp / "user.npy";
    ndshard_test::write_file(p, "old");
    REQUIRE(::chown(p.c_str(), uid, gid) == 0);
    REQUIRE(::chmod(p.c_str(), 0600) == 0);
    write_npy(p);
    CHECK(stat_of(p).st_uid == uid);
    CHECK(stat_of(p).st_gid == gid);
    CHECK(mode_of(p) == 0600);

    // a dataset of another user stays theirs, new shards included: they can still load it
    const auto dir = tmp / "ds";
    (void)ndshard::save(dir, values());
    REQUIRE(::chown((dir / "manifest.json").c_str(), uid, gid) == 0);
    const auto info = ndshard::save(dir, values(), {ndshard::shard_format::npy, 2, 2});
    CHECK(stat_of(dir / "manifest.json").st_uid == uid);
    for (const auto& s : info.shards) {
        CHECK(stat_of(dir / s.path).st_uid == uid);
        CHECK(stat_of(dir / s.path).st_gid == gid);
    }

    // a new file is root's, as any file root creates
    write_npy(tmp / "new.npy");
    CHECK(stat_of(tmp / "new.npy").st_uid == 0);
}

TEST_CASE("permissions: a symbolic link is replaced, the file it points to is left alone",
          "[permissions]") {
    const scoped_umask umask(027);
    ndshard_test::temp_dir tmp;
    for (const auto write : {&write_npy, &write_text}) {
        ndshard_test::write_file(tmp / "real", "old");
        REQUIRE(::chmod((tmp / "real").c_str(), 0600) == 0);
        std::filesystem::create_symlink("real", tmp / "link");
        write(tmp / "link");
        CHECK(!std::filesystem::is_symlink(tmp / "link"));
        CHECK(mode_of(tmp / "link") == 0640);  // a new file's: a link's own mode means nothing
        CHECK(ndshard_test::read_file(tmp / "real") == "old");
        CHECK(mode_of(tmp / "real") == 0600);
        std::filesystem::remove(tmp / "link");
        // a dangling link: the same
        std::filesystem::create_symlink("nowhere", tmp / "link");
        write(tmp / "link");
        CHECK(!std::filesystem::is_symlink(tmp / "link"));
        CHECK(!std::filesystem::exists(tmp / "nowhere"));
        CHECK(ndshard_test::list_dir(tmp.path()) == std::set<std::string>{"link", "real"});
        std::filesystem::remove(tmp / "link");
    }
}

TEST_CASE("permissions: writing over a directory names the target, and writes nothing",
          "[permissions][errors]") {
    ndshard_test::temp_dir tmp;
    std::filesystem::create_directories(tmp / "d" / "inside");
    std::filesystem::create_directory(tmp / "empty");
    for (const auto write : {&write_npy, &write_text}) {
        for (const char* name : {"d", "empty"}) {
            CHECK(error_of([&] { write(tmp / name); }) ==
                  "ndshard: cannot write '" + (tmp / name).string() + "': Is a directory");
        }
    }
    CHECK(ndshard_test::list_dir(tmp.path()) == std::set<std::string>{"d", "empty"});
}

TEST_CASE("permissions: a file whose group cannot be kept gives that group no more than others",
          "[permissions]") {
    using ndshard::detail::mode_for_another_group;
    CHECK(mode_for_another_group(0640) == 0600);
    CHECK(mode_for_another_group(0664) == 0644);
    CHECK(mode_for_another_group(0666) == 0666);
    CHECK(mode_for_another_group(0604) == 0604);
    CHECK(mode_for_another_group(0751) == 0711);
}

namespace {

/// A POSIX access ACL as the kernel stores it (system.posix_acl_access): the owner rw, user
/// 65534 rw, the owning group nothing, mask rw, others nothing ("chmod 600; setfacl -m
/// u:65534:rw").
std::string acl_blob() {
    const auto put = [](std::string& s, std::uint32_t v, int bytes) {
        for (int i = 0; i < bytes; ++i)
            s += static_cast<char>((v >> (8 * i)) & 0xff);
    };
    std::string s;
    put(s, 2, 4);  // version
    const std::uint32_t entries[][3] = {{0x01, 6, 0xffffffff},
                                        {0x02, 6, 65534},
                                        {0x04, 0, 0xffffffff},
                                        {0x10, 6, 0xffffffff},
                                        {0x20, 0, 0xffffffff}};
    for (const auto& e : entries) {
        put(s, e[0], 2);
        put(s, e[1], 2);
        put(s, e[2], 4);
    }
    return s;
}

std::string acl_of(const std::filesystem::path& p) {
    std::string s(256, '\0');
    const ssize_t n = ::lgetxattr(p.c_str(), "system.posix_acl_access", s.data(), s.size());
    s.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
    return s;
}

}  // namespace

TEST_CASE("permissions: an access ACL is copied, so its mask never becomes the group's rights",
          "[permissions]") {
    ndshard_test::temp_dir tmp;
    const auto p = tmp / "x.npy";
    write_npy(p);
    REQUIRE(::chmod(p.c_str(), 0600) == 0);
    const std::string acl = acl_blob();
    if (::setxattr(p.c_str(), "system.posix_acl_access", acl.data(), acl.size(), 0) != 0) {
        WARN("no POSIX ACLs on " << tmp.path() << ": " << std::strerror(errno));
        return;
    }
    REQUIRE(mode_of(p) == 0660);  // the group bits show the ACL's mask
    write_npy(p);
    CHECK(acl_of(p) == acl);  // the owning group still has nothing, user 65534 rw
    CHECK(mode_of(p) == 0660);
    write_text(p);
    CHECK(acl_of(p) == acl);
}
