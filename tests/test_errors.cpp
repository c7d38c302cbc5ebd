// Failures: a bad path, an unreadable file and a full disk each give an ndshard::error naming the
// file and the system's reason, leave the previous dataset loadable with its old values, and
// leave no file of the failed save behind. A dtype mismatch names both types.
#include <catch2/catch.hpp>
#include <ndshard/ndshard.hpp>
#include <numeric>
#include <string>

#include "support.hpp"

using Catch::Matchers::Matches;
using Catch::Matchers::StartsWith;
using ndshard_test::error_of;

namespace {

xt::xarray<double> numbered(std::size_t rows, std::size_t cols, double start) {
    xt::xarray<double> a = xt::xarray<double>::from_shape({rows, cols});
    std::iota(a.begin(), a.end(), start);
    return a;
}

// A dataset saved before each failure: after it, the same files must be there and load the same.
struct previous_dataset {
    explicit previous_dataset(const std::filesystem::path& d)
        : dir(d), values(numbered(100, 10, 0.5)) {
        (void)ndshard::save(dir, values, {ndshard::shard_format::npy, 3, 2});
        files = ndshard_test::list_dir(dir);
    }
    void check_intact() const {
        REQUIRE(ndshard_test::list_dir(dir) == files);  // nothing added, nothing removed
        REQUIRE(ndshard::inspect(dir).generation == 1);
        const auto back = ndshard::load<double>(dir, {2});
        REQUIRE((back == values));
    }
    std::filesystem::path dir;
    xt::xarray<double> values;
    std::set<std::string> files;
};

}  // namespace

TEST_CASE("errors: a bad path names the file and the system's reason", "[errors]") {
    ndshard_test::temp_dir tmp;
    const previous_dataset prev(tmp / "ds");
    const auto missing = tmp / "missing";

    REQUIRE(error_of([&] { (void)ndshard::load<double>(missing); }) ==
            "ndshard: cannot read '" + missing.string() + "': no such directory");
    REQUIRE(error_of([&] { (void)ndshard::inspect(missing); }) ==
            "ndshard: cannot read '" + missing.string() + "': no such directory");
    REQUIRE(error_of([&] { (void)ndshard::read_npy<double>(missing / "a.npy"); }) ==
            "ndshard: cannot open for reading '" + (missing / "a.npy").string() +
                "': No such file or directory");

    // writing into a directory that does not exist: the message names the file the caller gave,
    // not the temporary name it is written under
    REQUIRE(error_of([&] { ndshard::write_npy(missing / "a.npy", prev.values); }) ==
            "ndshard: cannot create '" + (missing / "a.npy").string() +
                "': No such file or directory");
    REQUIRE(!std::filesystem::exists(missing));

    // a dataset under a regular file, and a dataset path that is a regular file
    const auto manifest = prev.dir / "manifest.json";
    REQUIRE(error_of([&] { (void)ndshard::save(manifest / "sub", prev.values); }) ==
            "ndshard: cannot create dataset directory '" + (manifest / "sub").string() +
                "': Not a directory");
    REQUIRE(error_of([&] { (void)ndshard::save(manifest, prev.values); }) ==
            "ndshard: cannot create dataset directory '" + manifest.string() +
                "': Not a directory");
    REQUIRE(error_of([&] { (void)ndshard::load<double>(manifest); }) ==
            "ndshard: cannot read '" + manifest.string() +
                "': expected a dataset (a directory holding manifest.json), found a manifest "
                "(give its directory, the dataset)");
    REQUIRE(error_of([&] { (void)ndshard::read_npy<double>(manifest / "a.npy"); }) ==
            "ndshard: cannot open for reading '" + (manifest / "a.npy").string() +
                "': Not a directory");
    prev.check_intact();
}

TEST_CASE("errors: an unreadable file names the file and the system's reason", "[errors]") {
    // root reads any file whatever its mode: a directory where a file should be is unreadable
    ndshard_test::temp_dir tmp;
    const previous_dataset prev(tmp / "ds");

    SECTION("a directory in place of a shard") {
        const auto shard = prev.dir / ndshard::inspect(prev.dir).shards[1].path;
        std::filesystem::rename(shard, tmp / "saved");
        std::filesystem::create_directory(shard);
        REQUIRE(error_of([&] { (void)ndshard::load<double>(prev.dir); }) ==
                "ndshard: cannot open shard '" + shard.string() + "': Is a directory");
        xt::xarray<double> into;
        REQUIRE(error_of([&] { ndshard::load_into(prev.dir, into); }) ==
                "ndshard: cannot open shard '" + shard.string() + "': Is a directory");
        std::filesystem::remove(shard);
        std::filesystem::rename(tmp / "saved", shard);
        prev.check_intact();  // the failed loads changed nothing
    }
    SECTION("a directory in place of a .npy file") {
        std::filesystem::create_directory(tmp / "d.npy");
        REQUIRE(error_of([&] { (void)ndshard::read_npy<double>(tmp / "d.npy"); }) ==
                "ndshard: cannot read '" + (tmp / "d.npy").string() + "': Is a directory");
        // and writing over a directory: refused before anything is written, naming the target
        std::filesystem::create_directory(tmp / "d.npy" / "inside");
        REQUIRE(error_of([&] { ndshard::write_npy(tmp / "d.npy", prev.values); }) ==
                "ndshard: cannot write '" + (tmp / "d.npy").string() + "': Is a directory");
        REQUIRE(ndshard_test::list_dir(tmp.path()) == std::set<std::string>{"d.npy", "ds"});
    }
    SECTION("a directory in place of the new manifest's temporary file") {
        // the next temporary name is predictable: temp_path_for counts up from the probe's
        const std::string probe =
            ndshard::detail::temp_path_for(prev.dir / "manifest.json").string();
        const auto dash = probe.rfind('-');
        const auto next =
            probe.substr(0, dash + 1) + std::to_string(std::stoul(probe.substr(dash + 1)) + 1);
        std::filesystem::create_directories(std::filesystem::path(next) /
                                            "inside");  // survives cleanup
        const auto files = ndshard_test::list_dir(prev.dir);
        REQUIRE(error_of([&] {
                    (void)ndshard::save(prev.dir, numbered(50, 10, 7.0),
                                        {ndshard::shard_format::npy, 2, 2});
                }) == "ndshard: cannot create '" + next + "': File exists");
        // the new shards were written, then removed when the commit failed
        REQUIRE(ndshard_test::list_dir(prev.dir) == files);
        std::filesystem::remove_all(next);
        prev.check_intact();
    }
    SECTION("a directory in place of the manifest") {
        const auto ds = tmp / "blocked";
        std::filesystem::create_directories(ds / "manifest.json" / "inside");
        REQUIRE(error_of([&] { (void)ndshard::save(ds, prev.values); }) ==
                "ndshard: cannot write '" + (ds / "manifest.json").string() + "': Is a directory");
        // only the lock file remains of the failed save
        REQUIRE(ndshard_test::list_dir(ds) ==
                std::set<std::string>{".ndshard.lock", "manifest.json"});
        prev.check_intact();
    }
}

TEST_CASE("errors: a full disk names the file and the system's reason", "[errors]") {
    ndshard_test::temp_dir tmp;
    const previous_dataset prev(tmp / "ds");
    ndshard::write_npy(tmp / "one.npy", prev.values);
    const auto bigger = numbered(2000, 10, -1.0);  // two shards of 80,128 bytes each

    SECTION("save, one thread: the first shard fails") {
        {
            const ndshard_test::file_size_limit limit(64 * 1024);
            REQUIRE(error_of([&] {
                        (void)ndshard::save(prev.dir, bigger, {ndshard::shard_format::npy, 2, 1});
                    }) == "ndshard: cannot write '" +
                              (prev.dir / "part-000002-00000.npy").string() + "': File too large");
        }
        prev.check_intact();
    }
    SECTION("save, two threads: either shard's failure arrives, nothing of it remains") {
        {
            const ndshard_test::file_size_limit limit(64 * 1024);
            REQUIRE_THAT(
                error_of([&] {
                    (void)ndshard::save(prev.dir, bigger, {ndshard::shard_format::npy, 2, 2});
                }),
                Matches("ndshard: cannot write '" + prev.dir.string() +
                        "/part-000002-0000[01]\\.npy': File too large"));
        }
        prev.check_intact();
    }
    SECTION("save without sync, from a non-contiguous source") {
        {
            const ndshard_test::file_size_limit limit(64 * 1024);
            ndshard::save_options o{ndshard::shard_format::npy, 1, 1};
            o.sync = false;
            REQUIRE(error_of([&] { (void)ndshard::save(prev.dir, xt::transpose(bigger), o); }) ==
                    "ndshard: cannot write '" + (prev.dir / "part-000002-00000.npy").string() +
                        "': File too large");
        }
        prev.check_intact();
    }
    SECTION("write_npy: the old file stays, the temporary one goes") {
        {
            const ndshard_test::file_size_limit limit(64 * 1024);
            REQUIRE(error_of([&] { ndshard::write_npy(tmp / "one.npy", bigger, 2); }) ==
                    "ndshard: cannot write '" + (tmp / "one.npy").string() + "': File too large");
        }
        REQUIRE(ndshard_test::list_dir(tmp.path()) == std::set<std::string>{"ds", "one.npy"});
        REQUIRE((ndshard::read_npy<double>(tmp / "one.npy") == prev.values));
    }
    // the limit is gone: the same saves succeed
    REQUIRE(ndshard::save(prev.dir, bigger, {ndshard::shard_format::npy, 2, 2}).generation == 2);
    REQUIRE((ndshard::load<double>(prev.dir) == bigger));
    ndshard::write_npy(tmp / "one.npy", bigger);
    REQUIRE((ndshard::read_npy<double>(tmp / "one.npy") == bigger));
}

TEST_CASE("errors: loading with the wrong element type names both types", "[errors]") {
    ndshard_test::temp_dir tmp;
    (void)ndshard::save(tmp / "ds", numbered(4, 2, 0.0));
    const std::string manifest = (tmp / "ds" / "manifest.json").string();
    REQUIRE(error_of([&] { (void)ndshard::load<float>(tmp / "ds"); }) ==
            "ndshard: cannot load '" + manifest +
                "': expected dtype <f4 (float32), found <f8 (float64): set load_options::convert "
                "to convert while reading");
    xt::xarray<std::int64_t> into;
    REQUIRE(error_of([&] { ndshard::load_into(tmp / "ds", into); }) ==
            "ndshard: cannot load '" + manifest +
                "': expected dtype <i8 (int64), found <f8 (float64): set load_options::convert "
                "to convert while reading");
    (void)ndshard::save(tmp / "b", xt::xarray<bool>{true});
    REQUIRE(error_of([&] { (void)ndshard::load<std::uint8_t>(tmp / "b"); }) ==
            "ndshard: cannot load '" + (tmp / "b" / "manifest.json").string() +
                "': expected dtype |u1 (uint8), found |b1 (bool): set load_options::convert to "
                "convert while reading");
}

TEST_CASE("errors: a worker's exception during a save reaches the caller", "[errors]") {
    // a lazy expression that throws while a worker evaluates its rows
    ndshard_test::temp_dir tmp;
    const previous_dataset prev(tmp / "ds");
    auto src = ndshard::detail::make_row_source(prev.values);
    src.contiguous = nullptr;
    src.fill = [](std::size_t first, std::size_t, double*) {
        if (first >= 50)
            throw ndshard::error("ndshard: test source failed at row " + std::to_string(first));
    };
    REQUIRE_THAT(
        error_of([&] {
            (void)ndshard::detail::save_rows(prev.dir, src, {ndshard::shard_format::npy, 4, 2});
        }),
        StartsWith("ndshard: test source failed at row "));
    prev.check_intact();
}
