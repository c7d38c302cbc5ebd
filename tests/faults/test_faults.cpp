// I/O faults a test cannot provoke for real: EINTR on every kind of call, short reads and
// writes, a disk that fills up (ENOSPC, or a write that makes no progress), EIO from fsync and
// pread, a failing rename or open. Injected by tests/faults/inject.cpp (symbol interposition in
// this program only). Round trips stay exact; every error names the file and the system's
// reason; the previous dataset stays loadable; nothing of the failed save remains.
#include <catch2/catch.hpp>
#include <cerrno>
#include <ndshard/ndshard.hpp>

#include "../hostile.hpp"
#include "inject.hpp"

using Catch::Matchers::EndsWith;
using Catch::Matchers::StartsWith;
using ndshard_test::error_of;

namespace {

xt::xarray<double> sample(std::size_t rows = 300) {
    auto a = xt::xarray<double>::from_shape({rows, 7});
    for (std::size_t i = 0; i < a.size(); ++i)
        a.data()[i] = static_cast<double>(i) * 0.25 - 100.0;
    return a;
}

/// One thread and two shards, fsync on: every save makes the same calls in the same order.
ndshard::save_options ordered() {
    ndshard::save_options o;
    o.shards = 2;
    o.threads = 1;
    return o;
}

/// Saves `a` into `dir` and checks the failure, then that the old dataset (small_array) is
/// intact and alone.
std::string failed_save(const std::filesystem::path& dir, const ndshard::dataset_info& old) {
    const std::string e = error_of([&] { (void)ndshard::save(dir, sample(), ordered()); });
    fault::reset();
    CHECK(ndshard_test::strays(dir, old).empty());
    CHECK((ndshard::load<std::int32_t>(dir) == ndshard_test::small_array()));
    return e;
}

}  // namespace

TEST_CASE("faults: EINTR and short transfers on every call change nothing", "[faults]") {
    ndshard_test::temp_dir tmp;
    const fault::scope faults;
    const auto a = sample(2000);
    for (const std::size_t cap : {std::size_t{0}, std::size_t{7}, std::size_t{4093}}) {
        INFO("transfers of at most " << cap << " bytes");
        fault::reset();
        fault::interrupt_every(2);
        fault::short_io(cap);
        ndshard::save_options so;
        so.shards = 3;
        so.threads = 2;
        (void)ndshard::save(tmp / "ds", a, so);
        ndshard::load_options lo;
        lo.threads = 2;
        CHECK((ndshard::load<double>(tmp / "ds", lo) == a));
        CHECK(ndshard::verify(tmp / "ds").ok());
        ndshard::write_npy(tmp / "x.npy", a, 2);
        CHECK((ndshard::read_npy<double>(tmp / "x.npy", 2) == a));
        CHECK(fault::injected() > 10);
        CHECK(fault::calls(fault::op::pwrite) > 4);
    }
}

TEST_CASE("faults: a full disk while writing a shard", "[faults]") {
    ndshard_test::temp_dir tmp;
    const fault::scope faults;
    const auto dir = tmp / "ds";
    const auto old = ndshard_test::save_small(dir);
    const auto shard = (dir / "part-000002-00001.npy").string();

    fault::fail(fault::op::pwrite, "part-000002-00001", ENOSPC, 1);  // the header passes
    CHECK(failed_save(dir, old) ==
          "ndshard: cannot write '" + shard + "': No space left on device");

    fault::zero_writes("part-000002-00000");  // a write that makes no progress
    CHECK(failed_save(dir, old) == "ndshard: cannot write '" +
                                       (dir / "part-000002-00000.npy").string() +
                                       "': No space left on device");

    fault::fail(fault::op::pwrite, "manifest.json.tmp-", ENOSPC);
    CHECK_THAT(failed_save(dir, old),
               StartsWith("ndshard: cannot write '" + (dir / "manifest.json.tmp-").string()) &&
                   EndsWith("': No space left on device"));

    // a single .npy file: the old one stays, no temporary file remains
    ndshard::write_npy(tmp / "x.npy", ndshard_test::small_array());
    fault::fail(fault::op::pwrite, "x.npy.tmp-", ENOSPC, 1);
    CHECK(error_of([&] { ndshard::write_npy(tmp / "x.npy", sample(), 2); }) ==
          "ndshard: cannot write '" + (tmp / "x.npy").string() + "': No space left on device");
    fault::reset();
    CHECK(ndshard_test::list_dir(tmp.path()) == std::set<std::string>{"ds", "x.npy"});
    CHECK((ndshard::read_npy<std::int32_t>(tmp / "x.npy") == ndshard_test::small_array()));
}

TEST_CASE("faults: fsync, open and rename failures before the commit", "[faults]") {
    ndshard_test::temp_dir tmp;
    const fault::scope faults;
    const auto dir = tmp / "ds";
    const auto old = ndshard_test::save_small(dir);

    fault::fail(fault::op::fsync, "part-000002-00000", EIO);
    CHECK(failed_save(dir, old) == "ndshard: cannot sync '" +
                                       (dir / "part-000002-00000.npy").string() +
                                       "': Input/output error");

    fault::fail(fault::op::fsync, "manifest.json.tmp-", EIO);
    CHECK_THAT(failed_save(dir, old),
               StartsWith("ndshard: cannot sync '" + (dir / "manifest.json.tmp-").string()) &&
                   EndsWith("': Input/output error"));

    // the directory sync before the commit: fsyncs of shard 0, shard 1, then the directory
    fault::fail(fault::op::fsync, dir.string(), EIO, 2);
    CHECK(failed_save(dir, old) ==
          "ndshard: cannot sync directory '" + dir.string() + "': Input/output error");

    fault::fail(fault::op::open, "part-000002-00001", EACCES);
    CHECK(failed_save(dir, old) == "ndshard: cannot create '" +
                                       (dir / "part-000002-00001.npy").string() +
                                       "': Permission denied");

    fault::fail(fault::op::open, ".ndshard.lock", EMFILE);
    CHECK(failed_save(dir, old) == "ndshard: cannot open lock file '" +
                                       (dir / ".ndshard.lock").string() + "': Too many open files");

    fault::fail(fault::op::rename, "manifest.json.tmp-", EIO);
    CHECK(failed_save(dir, old) == "ndshard: cannot write '" + (dir / "manifest.json").string() +
                                       "': Input/output error");  // the target, not the temporary
}

TEST_CASE("faults: a failure after the commit reports it and keeps the new dataset", "[faults]") {
    ndshard_test::temp_dir tmp;
    const fault::scope faults;
    const auto dir = tmp / "ds";
    (void)ndshard_test::save_small(dir);
    // fsyncs: shard 0, shard 1, the directory, the manifest, then the directory after the rename
    fault::fail(fault::op::fsync, dir.string(), EIO, 4);
    CHECK(error_of([&] { (void)ndshard::save(dir, sample(), ordered()); }) ==
          "ndshard: cannot sync directory '" + dir.string() + "': Input/output error");
    fault::reset();
    // committed: the new dataset is what loads, whole (its shards were not removed)
    CHECK((ndshard::load<double>(dir) == sample()));
    CHECK(ndshard::verify(dir).ok());
    // the old generation it could not clean up goes with the next save
    const auto next = ndshard::save(dir, sample(), ordered());
    CHECK(ndshard_test::strays(dir, next).empty());
}

TEST_CASE("faults: read errors name the shard", "[faults]") {
    ndshard_test::temp_dir tmp;
    const fault::scope faults;
    const auto dir = tmp / "ds";
    const auto info = ndshard_test::save_small(dir);
    const auto shard = (dir / info.shards[1].path).string();

    fault::fail(fault::op::pread, "part-000001-00001", EIO, 2);  // past the header
    CHECK(error_of([&] { (void)ndshard::load<std::int32_t>(dir); }) ==
          "ndshard: cannot read '" + shard + "': Input/output error");
    fault::fail(fault::op::pread, "part-000001-00001", EIO, 0, 1000);
    const auto r = ndshard::verify(dir);
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].message == "ndshard: cannot read '" + shard + "': Input/output error");
    fault::fail(fault::op::open, "manifest.json", EMFILE);
    CHECK(error_of([&] { (void)ndshard::load<std::int32_t>(dir); }) ==
          "ndshard: cannot open for reading '" + (dir / "manifest.json").string() +
              "': Too many open files");
    fault::reset();
    CHECK((ndshard::load<std::int32_t>(dir) == ndshard_test::small_array()));
}

TEST_CASE("faults: write_text fsyncs before the rename, and a failed fsync keeps the old file",
          "[faults][text]") {
    ndshard_test::temp_dir tmp;
    const fault::scope faults;
    const xt::xtensor<double, 2> a = {{1.5, 2}, {3, 4}};
    ndshard::write_text(tmp / "x.tsv", a);
    const std::string before = ndshard_test::read_file(tmp / "x.tsv");
    fault::fail(fault::op::fsync, "x.tsv.tmp-", EIO);
    CHECK(error_of([&] { ndshard::write_text(tmp / "x.tsv", a * 2.0); }) ==
          "ndshard: cannot sync '" + (tmp / "x.tsv").string() + "': Input/output error");
    fault::reset();
    CHECK(ndshard_test::list_dir(tmp.path()) == std::set<std::string>{"x.tsv"});
    CHECK(ndshard_test::read_file(tmp / "x.tsv") == before);
    // sync = false: no fsync is asked for, so the same fault never fires
    fault::fail(fault::op::fsync, "x.tsv.tmp-", EIO);
    ndshard::text_write_options no_sync;
    no_sync.sync = false;
    ndshard::write_text(tmp / "x.tsv", a * 2.0, no_sync);
    fault::reset();
    CHECK(ndshard_test::read_file(tmp / "x.tsv") == "3\t4\n6\t8\n");
}
