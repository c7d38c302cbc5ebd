// Real system errors, provoked without root's privileges getting in the way: a file-size limit
// (EFBIG, as a full disk would give ENOSPC), permission denied through a thread's file-system
// uid (root ignores file modes, an unprivileged fsuid does not), and running out of
// descriptors. Each error names the file and the system's reason; the dataset that was there
// stays loadable; no temporary file stays behind.
#include <signal.h>
#include <sys/fsuid.h>
#include <sys/resource.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <exception>
#include <ndshard/ndshard.hpp>
#include <thread>

#include "hostile.hpp"

using Catch::Matchers::EndsWith;
using Catch::Matchers::StartsWith;
using ndshard_test::error_of;

namespace {

/// Sets a soft resource limit for the scope (and ignores SIGXFSZ, so that writing past
/// RLIMIT_FSIZE fails with EFBIG instead of killing the process).
class scoped_limit {
  public:
    scoped_limit(int resource, rlim_t soft) : resource_(resource) {
        REQUIRE(::getrlimit(resource, &old_) == 0);
        old_handler_ = ::signal(SIGXFSZ, SIG_IGN);
        rlimit l = old_;
        l.rlim_cur = soft;
        REQUIRE(::setrlimit(resource, &l) == 0);
    }
    scoped_limit(const scoped_limit&) = delete;
    scoped_limit& operator=(const scoped_limit&) = delete;
    ~scoped_limit() {
        ::setrlimit(resource_, &old_);
        ::signal(SIGXFSZ, old_handler_);
    }

  private:
    int resource_;
    rlimit old_{};
    void (*old_handler_)(int) = nullptr;
};

/// Runs `fn` on a thread whose file-system uid is `nobody`: file modes apply to it even when
/// the test runs as root (Linux drops the file capabilities with a non-zero fsuid).
template <class F>
void as_nobody(F&& fn) {
    std::thread t([&] {
        ::setfsuid(65534);
        if (::setfsuid(65534) != 65534) {  // returns the current fsuid
            WARN("cannot change the file-system uid here; skipped");
            return;
        }
        fn();
        ::setfsuid(0);
    });
    t.join();
}

xt::xarray<double> big_array() {
    return xt::xarray<double>::from_shape({4096, 64});  // 2 MiB
}

/// The error of saving `shards` shards of zeros (`rows` x `cols` int32) into `dir` while no
/// file may grow past `limit` bytes.
std::string save_with_file_size_limit(const std::filesystem::path& dir, std::size_t rows,
                                      std::size_t cols, std::size_t shards, rlim_t limit) {
    ndshard::save_options o;
    o.shards = shards;
    o.threads = 1;  // shards in order: the first one fails
    const xt::xarray<std::int32_t> zeros = xt::zeros<std::int32_t>({rows, cols});
    const scoped_limit fsize(RLIMIT_FSIZE, limit);
    return error_of([&] { (void)ndshard::save(dir, zeros, o); });
}

}  // namespace

TEST_CASE("io errors: a full disk while writing shards keeps the old dataset", "[io]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    const auto old = ndshard_test::save_small(dir);
    std::string e = save_with_file_size_limit(dir, 65536, 4, 2, 64 * 1024);
    CHECK(e == "ndshard: cannot write '" + (dir / "part-000002-00000.npy").string() +
                   "': File too large");
    CHECK(ndshard_test::strays(dir, old).empty());
    CHECK((ndshard::load<std::int32_t>(dir) == ndshard_test::small_array()));

    // write_npy over an existing file: the file stays as it was, no temporary file remains
    ndshard::write_npy(tmp / "x.npy", ndshard_test::small_array());
    {
        const scoped_limit fsize(RLIMIT_FSIZE, 64 * 1024);
        e = error_of([&] { ndshard::write_npy(tmp / "x.npy", big_array(), 2); });
    }
    CHECK(e == "ndshard: cannot write '" + (tmp / "x.npy").string() + "': File too large");
    CHECK(ndshard_test::list_dir(tmp.path()) == std::set<std::string>{"ds", "x.npy"});
    CHECK((ndshard::read_npy<std::int32_t>(tmp / "x.npy") == ndshard_test::small_array()));
}

TEST_CASE("io errors: a full disk while writing the manifest keeps the old dataset", "[io]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    const auto old = ndshard_test::save_small(dir);
    // 40 one-row shards of 136 bytes fit the limit; their 40-entry manifest does not
    const std::string e = save_with_file_size_limit(dir, 40, 2, 40, 1024);
    const std::string prefix = "ndshard: cannot write '" + (dir / "manifest.json.tmp-").string();
    CHECK_THAT(e, StartsWith(prefix) && EndsWith("': File too large"));
    CHECK(ndshard_test::strays(dir, old).empty());
    CHECK((ndshard::load<std::int32_t>(dir) == ndshard_test::small_array()));
}

TEST_CASE("io errors: permission denied names the file, for root too", "[io]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    const auto info = ndshard_test::save_small(dir);
    const auto shard = dir / info.shards[1].path;
    std::filesystem::permissions(shard, std::filesystem::perms::none);
    std::string load_error, save_error, create_error;
    std::optional<ndshard::verify_result> checked;
    bool ran = false;
    as_nobody([&] {
        ran = true;
        ndshard::load_options one;
        one.threads = 1;
        load_error = error_of([&] { (void)ndshard::load<std::int32_t>(dir, one); });
        checked = ndshard::verify(dir);
        save_error = error_of([&] { (void)ndshard_test::save_small(dir); });
        create_error = error_of([&] { (void)ndshard_test::save_small(dir / "sub"); });
    });
    if (!ran) return;
    CHECK(load_error == "ndshard: cannot open shard '" + shard.string() + "': Permission denied");
    REQUIRE(checked->problems.size() == 1);
    CHECK(checked->problems[0].message == load_error);
    CHECK(save_error == "ndshard: cannot open lock file '" + (dir / ".ndshard.lock").string() +
                            "': Permission denied");
    CHECK(create_error == "ndshard: cannot create dataset directory '" + (dir / "sub").string() +
                              "': Permission denied");
    std::filesystem::permissions(shard, std::filesystem::perms::owner_read);
    CHECK((ndshard::load<std::int32_t>(dir) == ndshard_test::small_array()));
    CHECK(ndshard_test::strays(dir, info).empty());
}

TEST_CASE("io errors: running out of file descriptors", "[io]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    const auto info = ndshard_test::save_small(dir);
    // the lowest free descriptor: with the limit just above it, the load's directory lock gets
    // it and the manifest cannot be opened
    const int lowest = ::dup(0);
    REQUIRE(lowest >= 0);
    ::close(lowest);
    std::exception_ptr failure;
    {
        const scoped_limit files(RLIMIT_NOFILE, static_cast<rlim_t>(lowest) + 1);
        try {
            (void)ndshard::load<std::int32_t>(dir);
        } catch (...) {
            failure = std::current_exception();  // what() after the limit: UBSan needs a pipe
        }
    }
    const std::string e = error_of([&] {
        if (failure) std::rethrow_exception(failure);
    });
    CHECK(e == "ndshard: cannot open for reading '" + (dir / "manifest.json").string() +
                   "': Too many open files");
    CHECK((ndshard::load<std::int32_t>(dir) == ndshard_test::small_array()));
}
