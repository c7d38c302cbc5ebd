// Hostile shard files: missing, links out of the directory, FIFOs, sizes that disagree with the
// manifest, .npy headers that lie, truncated or padded data, flipped bytes. load and verify give
// the same ndshard::error, naming the shard, before anything is allocated for the array.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <ndshard/ndshard.hpp>

#include "hostile.hpp"

using ndshard_test::edit_manifest;
using ndshard_test::error_of;
using ndshard_test::npy_bytes;
using ndshard_test::read_file;
using ndshard_test::write_file;
using json = nlohmann::json;

namespace {

constexpr std::uint64_t tera = 1'000'000'000'000;

/// The 24 data bytes of the second shard of small_array() (rows 3..5).
std::string second_shard_data(const std::filesystem::path& shard) {
    return read_file(shard).substr(128);
}

/// Replaces the second shard by `bytes` and makes the manifest list its new size.
void replace_second_shard(const std::filesystem::path& dir, const std::string& bytes) {
    const auto info = ndshard::inspect(dir);
    write_file(dir / info.shards[1].path, bytes);
    edit_manifest(dir, [&](json& j) { j["shards"][1]["bytes"] = bytes.size(); });
}

/// load's error for the dataset in `dir`; checks that verify reports exactly that error, for the
/// second shard alone.
std::string load_and_verify_error(const std::filesystem::path& dir) {
    const std::string e = error_of([&] { (void)ndshard::load<std::int32_t>(dir); });
    const auto r = ndshard::verify(dir);
    CHECK(!r.ok());
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].shard == 1);
    CHECK(r.problems[0].path == "part-000001-00001.npy");
    CHECK(r.problems[0].message == e);
    return e;
}

}  // namespace

TEST_CASE("hostile shard: missing, a link, a FIFO, a directory", "[hostile]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    const auto shard = dir / "part-000001-00001.npy";
    const std::string prefix = "ndshard: cannot open shard '" + shard.string() + "': ";

    ndshard_test::fresh_small(dir);
    std::filesystem::remove(shard);
    CHECK(load_and_verify_error(dir) == prefix + "No such file or directory");

    // a link to a faithful copy outside the dataset: still refused, never followed
    ndshard_test::fresh_small(dir);
    std::filesystem::rename(shard, tmp / "outside.npy");
    std::filesystem::create_symlink(tmp / "outside.npy", shard);
    const std::string link =
        prefix +
        "it is a symbolic link, and ndshard does not follow links inside a dataset "
        "directory";
    CHECK(load_and_verify_error(dir) == link);
    // a link to a file beside it, inside the dataset: refused the same way (one simple rule)
    std::filesystem::remove(shard);
    std::filesystem::copy_file(tmp / "outside.npy", dir / "copy.npy");
    std::filesystem::create_symlink("copy.npy", shard);
    CHECK(load_and_verify_error(dir) == link);

    std::filesystem::remove(shard);
    REQUIRE(::mkfifo(shard.c_str(), 0644) == 0);  // nobody writes: must not hang
    CHECK(load_and_verify_error(dir) == prefix + "expected a regular file inside the dataset");

    std::filesystem::remove(shard);
    std::filesystem::create_directory(shard);
    CHECK(load_and_verify_error(dir) == prefix + "Is a directory");
}

TEST_CASE("hostile shard: sizes and row counts that disagree with the manifest", "[hostile]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    const auto shard = dir / "part-000001-00001.npy";
    const std::string disagrees =
        "ndshard: shard disagrees with the manifest: '" + shard.string() + "': ";

    ndshard_test::fresh_small(dir);
    write_file(shard, read_file(shard) + "x");  // one byte more than the manifest says
    CHECK(load_and_verify_error(dir) == disagrees + "expected 152 bytes, found 153");

    // a manifest claiming 10^12 rows (8 TB) in a 152-byte shard, its byte count to match: the
    // size check refuses it before the array is allocated (an allocation would throw bad_alloc)
    ndshard_test::fresh_small(dir);
    edit_manifest(dir, [](json& j) {
        j["shape"] = {tera, 2};
        j["shards"][1]["rows"] = {3, tera};
        j["shards"][1]["bytes"] = 128 + (tera - 3) * 8;
        // block checksums would have to match the claimed size: a manifest without them
        j["shards"][1].erase("block_bytes");
        j["shards"][1].erase("block_xxh3");
    });
    CHECK(load_and_verify_error(dir) == disagrees + "expected 8000000000104 bytes, found 152");

    // the same claim with the shard's true byte count: its header says 3 rows
    edit_manifest(dir, [](json& j) { j["shards"][1]["bytes"] = 152; });
    CHECK(load_and_verify_error(dir) ==
          disagrees +
              "expected {'descr': '<i4', 'shape': (999999999997, 2)}, found {'descr': '<i4', "
              "'shape': (3, 2)}");

    // fewer rows than the shard holds
    ndshard_test::fresh_small(dir);
    edit_manifest(dir, [](json& j) {
        j["shape"] = {5, 2};
        j["shards"][1]["rows"] = {3, 5};
    });
    CHECK(load_and_verify_error(dir) ==
          disagrees +
              "expected {'descr': '<i4', 'shape': (2, 2)}, found {'descr': '<i4', 'shape': (3, "
              "2)}");
}

TEST_CASE("hostile shard: .npy headers that lie", "[hostile]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    const auto shard = dir / "part-000001-00001.npy";
    const std::string s = shard.string();
    const std::string disagrees = "ndshard: shard disagrees with the manifest: '" + s + "': ";
    const std::string invalid = "ndshard: invalid .npy header in '" + s + "': ";
    ndshard_test::fresh_small(dir);
    const std::string data = second_shard_data(shard);

    struct header_case {
        const char* name;
        std::string bytes;
        std::string error;
    };
    const std::vector<header_case> cases = {
        {"another dtype of the same size",
         npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", data),
         disagrees + "expected {'descr': '<i4', 'shape': (3, 2)}, found {'descr': '<f4', "
                     "'shape': (3, 2)}"},
        {"big-endian",
         npy_bytes("{'descr': '>i4', 'fortran_order': False, 'shape': (3, 2), }", data),
         disagrees + "expected {'descr': '<i4', 'shape': (3, 2)}, found {'descr': '>i4', "
                     "'shape': (3, 2)}"},
        {"Fortran order",
         npy_bytes("{'descr': '<i4', 'fortran_order': True, 'shape': (3, 2), }", data),
         disagrees + "expected {'descr': '<i4', 'shape': (3, 2)}, found {'descr': '<i4', "
                     "'shape': (3, 2), Fortran order}"},
        {"huge shape, a few bytes of data",
         npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (1000000000000, 2), }", data),
         "ndshard: truncated .npy file '" + s +
             "': the header promises 8000000000000 bytes of data (file size 8000000000128), "
             "found file size 152"},
        {"shape whose product overflows",
         npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (4294967296, "
                   "4294967296), }",
                   data),
         invalid + "'shape' holds more than 2^63 elements"},
        {"garbage dict", npy_bytes("garbage, not a dict", data),
         invalid + "expected '{' at byte 0 of the dict, found 'garbage, not a d...'"},
        {"wrong magic", "\x93NUMPX" + read_file(shard).substr(6),
         "ndshard: not a .npy file: '" + s + "': expected the magic string \\x93NUMPY at byte 0"},
        {"unknown version",
         npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (3, 2), }", data, 4),
         invalid + "expected format version 1, 2 or 3, found 4"},
        {"header longer than the cap",
         std::string("\x93NUMPY\x02\x00\x00\x00\x00\x40", 12) + std::string(140, ' '),
         invalid + "header length 1073741824 exceeds the limit of 1048576 bytes"},
        {"header longer than the file", std::string("\x93NUMPY\x01\x00\xff\xff", 10) + data,
         invalid + "expected a 65535-byte header, found only 24 bytes"},
        {"file ends inside the prefix", std::string("\x93NUMPY\x02\x00\x01", 9),
         invalid + "the file ends inside the header"},
        {"data cut short",
         npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (3, 2), }",
                   data.substr(0, 20)),
         "ndshard: truncated .npy file '" + s +
             "': the header promises 24 bytes of data (file size 152), found file size 148"},
        {"data padded",
         npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (3, 2), }", data + "pad"),
         "ndshard: unexpected trailing bytes in '" + s +
             "': the header promises 24 bytes of data (file size 152), found file size 155"},
        {"key missing", npy_bytes("{'descr': '<i4', 'shape': (3, 2), }", data),
         invalid + "missing key 'fortran_order'"},
        {"key twice",
         npy_bytes("{'descr': '<i4', 'descr': '<i4', 'fortran_order': False, 'shape': (3, 2)}",
                   data),
         invalid + "key 'descr' appears twice"},
        {"unterminated string", npy_bytes("{'descr': '<i4", data),
         invalid + "unterminated string in the header dict"},
        {"object dtype",
         npy_bytes("{'descr': '|O', 'fortran_order': False, 'shape': (3, 2), }", data),
         invalid + "expected a numeric descr such as '<f8', found '|O'"},
        {"negative dimension",
         npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (-3, 2), }", data),
         invalid + "expected a dimension in 'shape', found '-3, 2), }       ...'"},
        {"dimension past 64 bits",
         npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (99999999999999999999, "
                   "2), }",
                   data),
         invalid + "a dimension in 'shape' does not fit in 64 bits"},
    };
    for (const auto& c : cases) {
        INFO(c.name);
        ndshard_test::fresh_small(dir);
        replace_second_shard(dir, c.bytes);
        CHECK(load_and_verify_error(dir) == c.error);
    }
}

TEST_CASE("hostile shard: a flipped byte anywhere is caught and the shard named", "[hostile]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    const auto info = ndshard_test::fresh_small(dir);
    const auto shard = dir / info.shards[1].path;
    const std::string pristine = read_file(shard);
    REQUIRE(pristine.size() == 152);
    for (std::uint64_t at = 0; at < pristine.size(); ++at) {
        INFO("byte " << at);
        ndshard_test::flip_byte(shard, at);
        const std::string e = load_and_verify_error(dir);
        CHECK(e.find("'" + shard.string() + "'") != std::string::npos);
        if (at >= 128) {  // data bytes: only the checksum can tell
            CHECK(e.rfind("ndshard: checksum mismatch in '" + shard.string() + "': expected " +
                              info.shards[1].checksum + " (from the manifest), found xxh3:",
                          0) == 0);
        }
        write_file(shard, pristine);
    }
    REQUIRE((ndshard::load<std::int32_t>(dir) == ndshard_test::small_array()));
    // verify = false skips the checksum, and only it
    ndshard_test::flip_byte(shard, 140);
    ndshard::load_options unchecked;
    unchecked.verify = false;
    CHECK(ndshard::load<std::int32_t>(dir, unchecked)(4, 1) != 9);  // the flipped element
}

TEST_CASE("verify: every bad shard is listed, in order, with load's message", "[hostile]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    auto info = ndshard_test::fresh_small(dir, 4);  // rows 2, 2, 1, 1
    const auto r0 = ndshard::verify(dir);
    CHECK(r0.ok());
    CHECK(r0.shards == 4);
    CHECK(r0.unchecked == 0);
    CHECK(r0.bytes == 144 + 144 + 136 + 136);  // 128-byte headers + 8 bytes per row
    ndshard_test::flip_byte(dir / info.shards[3].path, 131);
    std::filesystem::remove(dir / info.shards[1].path);
    edit_manifest(dir, [](json& j) { j["shards"][2].erase("checksum"); });
    const auto r = ndshard::verify(dir);
    CHECK(!r.ok());
    CHECK(r.shards == 4);
    CHECK(r.unchecked == 1);
    REQUIRE(r.problems.size() == 2);
    CHECK(r.problems[0].shard == 1);
    CHECK(r.problems[0].path == info.shards[1].path);
    CHECK(r.problems[0].message == "ndshard: cannot open shard '" +
                                       (dir / info.shards[1].path).string() +
                                       "': No such file or directory");
    CHECK(r.problems[1].shard == 3);
    CHECK(r.problems[1].message.rfind(
              "ndshard: checksum mismatch in '" + (dir / info.shards[3].path).string() + "'", 0) ==
          0);
    // one thread or many: the same report
    ndshard::verify_options one;
    one.threads = 1;
    const auto r1 = ndshard::verify(dir, one);
    REQUIRE(r1.problems.size() == 2);
    CHECK(r1.problems[1].message == r.problems[1].message);
}

TEST_CASE("verify: text shards are checked by their bytes alone", "[hostile]") {
    // written by hand: a csv dataset's shards are hashed, never parsed, by verify
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    std::filesystem::create_directories(dir);
    const std::string a = "1,2\n3,4\n", b = "5,6\n";
    write_file(dir / "part-000001-00000.csv", a);
    write_file(dir / "part-000001-00001.csv", b);
    auto hash = [](const std::string& s) {
        ndshard::detail::xxh3_stream h;
        h.update(s.data(), s.size());
        return h.text();
    };
    json j = {{"ndshard", 1},
              {"dtype", "<f8"},
              {"shape", {3, 2}},
              {"format", "csv"},
              {"generation", 1},
              {"shards",
               {{{"path", "part-000001-00000.csv"},
                 {"rows", {0, 2}},
                 {"bytes", a.size()},
                 {"checksum", hash(a)}},
                {{"path", "part-000001-00001.csv"},
                 {"rows", {2, 3}},
                 {"bytes", b.size()},
                 {"checksum", hash(b)}}}}};
    write_file(dir / "manifest.json", j.dump());
    CHECK(ndshard::verify(dir).ok());
    ndshard_test::flip_byte(dir / "part-000001-00001.csv", 2);
    const auto r = ndshard::verify(dir);
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].message ==
          "ndshard: checksum mismatch in '" + (dir / "part-000001-00001.csv").string() +
              "': expected " + hash(b) + " (from the manifest), found " +
              hash(read_file(dir / "part-000001-00001.csv")) + ": the shard is corrupt");
    // a text shard too small for the values the manifest assigns it
    j["shape"] = {4, 2};
    j["shards"][1]["rows"] = {2, 4};
    write_file(dir / "manifest.json", j.dump());
    const auto r2 = ndshard::verify(dir);
    REQUIRE(r2.problems.size() == 1);
    CHECK(r2.problems[0].message == "ndshard: shard too small for the manifest: '" +
                                        (dir / "part-000001-00001.csv").string() +
                                        "': rows [2, 4) need at least 7 bytes, found 4");
}
