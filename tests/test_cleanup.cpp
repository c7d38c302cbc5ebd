// What a save may remove: only files named exactly as ndshard names shards
// ("part-<generation padded to 6>-<index padded to 5>.<npy|csv|tsv>") that the manifest does not
// list. A user's files that merely look like shards survive every save.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <ndshard/ndshard.hpp>
#include <set>
#include <string>

#include "support.hpp"

namespace {

xt::xtensor<double, 2> values() {
    return {{1.5, 2.5}, {3.5, 4.5}, {5.5, 6.5}};
}

std::uint64_t generation_of(const std::string& name) {
    std::uint64_t g = 0;
    return ndshard::detail::parse_shard_name(name, g) ? g : ~std::uint64_t{0};
}

}  // namespace

TEST_CASE("cleanup: a save keeps a user's files that look like shards", "[cleanup]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    std::filesystem::create_directory(dir);
    const std::set<std::string> user = {"part-2023-01.csv", "part-2023-02.tsv", "part-1-1.npy",
                                        "notes.txt"};
    for (const auto& name : user)
        ndshard_test::write_file(dir / name, "user data: " + name + "\n");

    for (int save = 0; save < 2; ++save) {
        const auto info = ndshard::save(dir, values(), {ndshard::shard_format::npy, 2, 2});
        std::set<std::string> expected = user;
        expected.insert({"manifest.json", ".ndshard.lock"});
        for (const auto& s : info.shards)
            expected.insert(s.path);
        REQUIRE(ndshard_test::list_dir(dir) == expected);
        for (const auto& name : user)
            REQUIRE(ndshard_test::read_file(dir / name) == "user data: " + name + "\n");
        REQUIRE((ndshard::load<double>(dir) == values()));
    }
}

TEST_CASE("cleanup: a leftover named as ndshard names shards is removed", "[cleanup]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    std::filesystem::create_directory(dir);
    // a killed save's shard (no manifest yet); zero padding beyond ndshard's is someone else's
    ndshard_test::write_file(dir / "part-000007-00000.npy", "leftover");
    ndshard_test::write_file(dir / "part-0000007-00000.npy", "not ndshard's");
    ndshard_test::write_file(dir / "part-000007-000000.csv", "not ndshard's");
    const auto info = ndshard::save(dir, values(), {ndshard::shard_format::npy, 1, 1});
    REQUIRE(info.generation == 1);  // the leftover was removed first
    REQUIRE(ndshard_test::list_dir(dir) ==
            std::set<std::string>{".ndshard.lock", "manifest.json", "part-000007-000000.csv",
                                  "part-0000007-00000.npy", "part-000001-00000.npy"});
}

TEST_CASE("cleanup: parse_shard_name takes exactly the names shard_name gives", "[cleanup]") {
    using ndshard::detail::shard_name;
    for (const std::uint64_t g :
         {std::uint64_t{1}, std::uint64_t{999'999}, std::uint64_t{1'000'000},
          std::uint64_t{9'999'999'999'999'999'999u}})
        for (const std::size_t i : {std::size_t{0}, std::size_t{99'999}, std::size_t{123'456}})
            for (const auto f : {ndshard::shard_format::npy, ndshard::shard_format::csv,
                                 ndshard::shard_format::tsv})
                REQUIRE(generation_of(shard_name(g, i, f)) == g);
    const std::uint64_t none = ~std::uint64_t{0};
    for (const char* name :
         {"part-2023-01.csv", "part-1-1.npy", "part-00001-00000.npy", "part-000001-0000.npy",
          "part-0000001-00000.npy", "part-000001-000000.npy", "part-000001-00000.txt",
          "part-000001-00000.npy.bak", "part-000001-00000", "part-000001.npy", "part--00000.npy",
          "part-000001-+0000.npy", "part-00000a-00000.npy", "part-10000000000000000000-00000.npy",
          "part-000001-00000-00000.npy", "part-.npy", "Part-000001-00000.npy",
          "xpart-000001-00000.npy"})
        REQUIRE(generation_of(name) == none);
}

TEST_CASE("cleanup: a save never overwrites another program's manifest.json", "[cleanup]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    std::filesystem::create_directory(dir);
    // a common name: a project's own manifest, valid JSON or not
    for (const std::string text : {"{\"name\": \"my project\", \"files\": []}\n", "name: x\n",
                                   "{\"deps\": {\"ndshard\": \"1.0\"}}"}) {
        ndshard_test::write_file(dir / "manifest.json", text);
        ndshard_test::write_file(dir / "part-000001-00000.npy", "user bytes");
        CHECK(ndshard_test::error_of([&] { (void)ndshard::save(dir, values()); }) ==
              "ndshard: cannot save '" + (dir / "manifest.json").string() +
                  "': expected no file or an ndshard manifest there, found a file another "
                  "program wrote (move it away, or save into another directory)");
        CHECK(ndshard_test::read_file(dir / "manifest.json") == text);
        CHECK(ndshard_test::read_file(dir / "part-000001-00000.npy") == "user bytes");
    }
    // one that cannot be read may be anyone's: the read error stops the save
    ndshard_test::write_file(dir / "manifest.json", "secret");
    REQUIRE(::chmod((dir / "manifest.json").c_str(), 0) == 0);
    if (::access((dir / "manifest.json").c_str(), R_OK) != 0) {  // root reads it anyway
        CHECK(ndshard_test::error_of([&] { (void)ndshard::save(dir, values()); }) ==
              "ndshard: cannot open for reading '" + (dir / "manifest.json").string() +
                  "': Permission denied");
    }
    REQUIRE(::chmod((dir / "manifest.json").c_str(), 0644) == 0);
    CHECK(ndshard_test::read_file(dir / "manifest.json") == "secret");
    // a damaged manifest of ndshard's own is replaced, and the dataset saved again
    std::filesystem::remove_all(dir);
    (void)ndshard::save(dir, values());
    const std::string whole = ndshard_test::read_file(dir / "manifest.json");
    ndshard_test::write_file(dir / "manifest.json", whole.substr(0, whole.size() / 2));
    REQUIRE(whole.substr(0, whole.size() / 2).find("\"ndshard\"") != std::string::npos);
    (void)ndshard::save(dir, values());
    const bool same = ndshard::load<double>(dir) == values();
    CHECK(same);
}
