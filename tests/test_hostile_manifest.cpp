// Hostile manifests: not JSON, missing or mistyped fields, shapes that overflow, rows with gaps
// or overlaps, shard paths that lead out of the directory. Each is an ndshard::error naming the
// manifest, raised before anything is allocated for the array, by load, inspect and verify.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <ndshard/ndshard.hpp>

#include "hostile.hpp"

using ndshard_test::edit_manifest;
using ndshard_test::error_of;
using json = nlohmann::json;

namespace {

struct manifest_case {
    const char* name;
    std::function<void(json&)> edit;
    std::string detail;  // what follows "invalid manifest '<file>': "
};

const std::vector<manifest_case>& manifest_cases() {
    static const std::vector<manifest_case> cases = {
        {"top level is an array",
         [](json& j) {
             j = json::array({1, 2});
         },
         "expected a JSON object, found [1,2]"},
        {"no version", [](json& j) { j.erase("ndshard"); },
         "missing field 'ndshard' in the manifest"},
        {"no dtype", [](json& j) { j.erase("dtype"); }, "missing field 'dtype' in the manifest"},
        {"no shape", [](json& j) { j.erase("shape"); }, "missing field 'shape' in the manifest"},
        {"no format", [](json& j) { j.erase("format"); }, "missing field 'format' in the manifest"},
        {"no shards", [](json& j) { j.erase("shards"); }, "missing field 'shards' in the manifest"},
        {"no shard path", [](json& j) { j["shards"][1].erase("path"); },
         "missing field 'path' in shard 1"},
        {"no shard rows", [](json& j) { j["shards"][0].erase("rows"); },
         "missing field 'rows' in shard 0"},
        {"no shard bytes", [](json& j) { j["shards"][0].erase("bytes"); },
         "missing field 'bytes' in shard 0"},
        {"version 2", [](json& j) { j["ndshard"] = 2; },
         "expected format version 1 in 'ndshard', found 2"},
        {"version as text", [](json& j) { j["ndshard"] = "1"; },
         "expected a non-negative integer for 'ndshard', found \"1\""},
        {"big-endian dtype", [](json& j) { j["dtype"] = ">i4"; },
         "expected a little-endian numeric dtype such as \"<f8\", found \">i4\""},
        {"complex dtype", [](json& j) { j["dtype"] = "<c16"; },
         "expected a little-endian numeric dtype such as \"<f8\", found \"<c16\""},
        {"string dtype", [](json& j) { j["dtype"] = "|S10"; },
         "expected a little-endian numeric dtype such as \"<f8\", found \"|S10\""},
        {"dtype as number", [](json& j) { j["dtype"] = 8; },
         "expected a little-endian numeric dtype such as \"<f8\", found 8"},
        {"shape as text", [](json& j) { j["shape"] = "(6, 2)"; },
         "expected 'shape' to be an array of at most 64 integers, found \"(6, 2)\""},
        {"negative dimension",
         [](json& j) {
             j["shape"] = {6, -2};
         },
         "expected a non-negative integer for a dimension of 'shape', found -2"},
        {"fractional dimension",
         [](json& j) {
             j["shape"] = {6, 2.5};
         },
         "expected a non-negative integer for a dimension of 'shape', found 2.5"},
        {"65 dimensions", [](json& j) { j["shape"] = std::vector<int>(65, 1); },
         "expected 'shape' to be an array of at most 64 integers, found an array of 65 items"},
        {"shape product overflows",
         [](json& j) {
             j["shape"] = {std::uint64_t{1} << 62, std::uint64_t{1} << 62};
         },
         "'shape' describes more than 2^63 bytes"},
        {"shape bytes overflow",
         [](json& j) {
             j["shape"] = {std::uint64_t{1} << 61, 2};
         },
         "'shape' describes more than 2^63 bytes"},
        {"unknown format", [](json& j) { j["format"] = "parquet"; },
         "expected 'format' to be \"npy\", \"csv\" or \"tsv\", found \"parquet\""},
        {"no shard at all", [](json& j) { j["shards"] = json::array(); },
         "expected 'shards' to be a non-empty array, found []"},
        {"shards as object", [](json& j) { j["shards"] = json::object(); },
         "expected 'shards' to be a non-empty array, found {}"},
        {"shard as number", [](json& j) { j["shards"][0] = 7; },
         "expected shard 0 to be an object"},
        {"parent directory", [](json& j) { j["shards"][0]["path"] = "../outside.npy"; },
         "expected the path of shard 0 to be a plain file name inside the dataset, found "
         "\"../outside.npy\""},
        {"absolute path", [](json& j) { j["shards"][0]["path"] = "/etc/passwd"; },
         "expected the path of shard 0 to be a plain file name inside the dataset, found "
         "\"/etc/passwd\""},
        {"slash inside", [](json& j) { j["shards"][1]["path"] = "sub/part.npy"; },
         "expected the path of shard 1 to be a plain file name inside the dataset, found "
         "\"sub/part.npy\""},
        {"dot dot", [](json& j) { j["shards"][0]["path"] = ".."; },
         "expected the path of shard 0 to be a plain file name inside the dataset, found "
         "\"..\""},
        {"dot", [](json& j) { j["shards"][0]["path"] = "."; },
         "expected the path of shard 0 to be a plain file name inside the dataset, found "
         "\".\""},
        {"empty path", [](json& j) { j["shards"][0]["path"] = ""; },
         "expected the path of shard 0 to be a plain file name inside the dataset, found "
         "\"\""},
        {"control byte in path", [](json& j) { j["shards"][0]["path"] = "a\nb.npy"; },
         "expected the path of shard 0 to be a plain file name inside the dataset, found "
         "\"a\\nb.npy\""},
        {"path as number", [](json& j) { j["shards"][0]["path"] = 3; },
         "expected the path of shard 0 to be a plain file name inside the dataset, found 3"},
        {"path listed twice", [](json& j) { j["shards"][1]["path"] = j["shards"][0]["path"]; },
         "the path of shard 1, \"part-000001-00000.npy\", is listed twice"},
        {"rows with one number", [](json& j) { j["shards"][0]["rows"] = {0}; },
         "expected the rows of shard 0 as [first, last], found [0]"},
        {"negative row",
         [](json& j) {
             j["shards"][0]["rows"] = {-1, 3};
         },
         "expected a non-negative integer for a row number, found -1"},
        {"gap between shards",
         [](json& j) {
             j["shards"][1]["rows"] = {4, 6};
         },
         "shard 1 covers rows [4, 6), expected rows from 3 up to at most 6"},
        {"overlapping shards",
         [](json& j) {
             j["shards"][1]["rows"] = {2, 6};
         },
         "shard 1 covers rows [2, 6), expected rows from 3 up to at most 6"},
        {"rows backwards",
         [](json& j) {
             j["shards"][1]["rows"] = {3, 1};
         },
         "shard 1 covers rows [3, 1), expected rows from 3 up to at most 6"},
        {"rows beyond the shape",
         [](json& j) {
             j["shards"][1]["rows"] = {3, 7};
         },
         "shard 1 covers rows [3, 7), expected rows from 3 up to at most 6"},
        {"rows stop short",
         [](json& j) {
             j["shards"][1]["rows"] = {3, 5};
         },
         "the shards cover rows [0, 5), expected [0, 6)"},
        {"more rows than shards cover",
         [](json& j) {
             j["shape"] = {7, 2};
         },
         "the shards cover rows [0, 6), expected [0, 7)"},
        {"negative bytes", [](json& j) { j["shards"][0]["bytes"] = -1; },
         "expected a non-negative integer for 'bytes', found -1"},
        {"md5 checksum", [](json& j) { j["shards"][0]["checksum"] = "md5:0123"; },
         "expected the checksum of shard 0 as \"xxh3:<16 hex digits>\", found \"md5:0123\""},
        {"checksum not hex", [](json& j) { j["shards"][0]["checksum"] = "xxh3:0123456789abcdeg"; },
         "expected the checksum of shard 0 as \"xxh3:<16 hex digits>\", found "
         "\"xxh3:0123456789abcdeg\""},
        {"negative generation", [](json& j) { j["generation"] = -1; },
         "expected a non-negative integer for 'generation', found -1"},
    };
    return cases;
}

}  // namespace

TEST_CASE("hostile manifest: every malformed field is an error naming the manifest", "[hostile]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    const auto manifest = (dir / "manifest.json").string();
    for (const auto& c : manifest_cases()) {
        INFO(c.name);
        std::filesystem::remove_all(dir);
        ndshard_test::save_small(dir);
        edit_manifest(dir, c.edit);
        const std::string expected = "ndshard: invalid manifest '" + manifest + "': " + c.detail;
        CHECK(error_of([&] { (void)ndshard::load<std::int32_t>(dir); }) == expected);
        CHECK(error_of([&] { (void)ndshard::inspect(dir); }) == expected);
        CHECK(error_of([&] { (void)ndshard::verify(dir); }) == expected);
    }
}

TEST_CASE("hostile manifest: text that is not JSON", "[hostile]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    const std::string prefix =
        "ndshard: invalid manifest '" + (dir / "manifest.json").string() + "': not valid JSON: ";
    ndshard_test::save_small(dir);
    const std::vector<std::string> texts = {
        "",
        "not JSON at all",
        "{\"ndshard\": 1, \"dtype\": \"<i4\"",  // cut short
        std::string("{\"ndshard\"\0: 1}", 15),  // a NUL byte
        "\xff\xfe{}",                           // not UTF-8
        "{\"dtype\": \"\xc3\x28\"}",            // invalid UTF-8 inside a string
        "{\"ndshard\": 1e400}",                 // a number beyond a double
    };
    for (const auto& t : texts) {
        INFO(ndshard::detail::shorten(t));
        ndshard_test::write_file(dir / "manifest.json", t);
        const std::string e = error_of([&] { (void)ndshard::load<std::int32_t>(dir); });
        CHECK(e.rfind(prefix, 0) == 0);
    }
    // deep nesting, complete or not, is refused while parsing: printing it for a message would
    // recurse once per level and overflow the stack (2,000,000 levels did)
    for (const auto& t :
         {std::string(2000000, '['), std::string(20000, '[') + std::string(20000, ']')}) {
        ndshard_test::write_file(dir / "manifest.json", t);
        CHECK(error_of([&] { (void)ndshard::inspect(dir); }) ==
              "ndshard: invalid manifest '" + (dir / "manifest.json").string() +
                  "': values nested deeper than a manifest's");
    }
}

TEST_CASE("hostile manifest: a manifest too large to be real is refused before it is read",
          "[hostile]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    ndshard_test::save_small(dir);
    const auto m = dir / "manifest.json";
    std::filesystem::resize_file(m, (std::uint64_t{256} << 20) + 1);  // sparse: costs nothing
    CHECK(error_of([&] { (void)ndshard::load<std::int32_t>(dir); }) ==
          "ndshard: file too large: '" + m.string() +
              "': expected at most 268435456 bytes, found 268435457");
}

TEST_CASE("hostile manifest: links, directories and FIFOs in its place", "[hostile]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    ndshard_test::save_small(dir);
    const auto m = dir / "manifest.json";
    // a valid manifest outside, reached through a link: refused, never followed
    std::filesystem::rename(m, tmp / "elsewhere.json");
    std::filesystem::create_symlink(tmp / "elsewhere.json", m);
    CHECK(error_of([&] { (void)ndshard::load<std::int32_t>(dir); }) ==
          "ndshard: cannot open for reading '" + m.string() +
              "': it is a symbolic link, and ndshard does not follow links inside a dataset "
              "directory");
    std::filesystem::remove(m);
    // a FIFO nobody writes to: an error at once, not a hang
    REQUIRE(::mkfifo(m.c_str(), 0644) == 0);
    CHECK(error_of([&] { (void)ndshard::inspect(dir); }) ==
          "ndshard: cannot read '" + m.string() + "': not a regular file");
    std::filesystem::remove(m);
    std::filesystem::create_directory(m);
    CHECK(error_of([&] {
              (void)ndshard::inspect(dir);
          }).rfind("ndshard: cannot read '" + m.string() + "': ", 0) == 0);
    std::filesystem::remove(m);
    CHECK(error_of([&] { (void)ndshard::inspect(dir); }) ==
          "ndshard: cannot read '" + dir.string() +
              "': expected a dataset (a directory holding manifest.json), found a directory "
              "without manifest.json");
}

TEST_CASE("hostile manifest: verify of no dataset directory, or a file in its place", "[hostile]") {
    // (load and save: test_errors.cpp, "errors: a bad path names the file ...")
    ndshard_test::temp_dir tmp;
    const auto none = tmp / "none";
    CHECK(error_of([&] { (void)ndshard::verify(none); }) ==
          "ndshard: cannot read '" + none.string() + "': no such directory");
    ndshard_test::write_file(tmp / "file", "x");
    CHECK(error_of([&] { (void)ndshard::verify(tmp / "file"); }) ==
          "ndshard: cannot read '" + (tmp / "file").string() +
              "': expected a dataset (a directory holding manifest.json), found a file");
}
