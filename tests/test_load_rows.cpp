// Row ranges: load_rows, load_rows_into and read_npy_rows give exactly the rows asked for, at
// every edge (empty ranges, shard boundaries, the last row, zero-row datasets), in every format;
// partial reads check the checksums of the 1 MiB blocks they touch (and of whole shards for
// datasets written before block checksums), and manifests with malformed block checksums are
// refused with their own messages.
#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <ndshard/ndshard.hpp>
#include <numeric>
#include <string>
#include <vector>
#include <xtensor/xadapt.hpp>
#include <xtensor/xview.hpp>

#include "hostile.hpp"
#include "rows_support.hpp"

using ndshard_test::edit_manifest;
using ndshard_test::error_of;
using ndshard_test::numbered;
using ndshard_test::quarters;
using ndshard_test::quick;
using ndshard_test::shape_of;
using json = nlohmann::json;

namespace {

/// Rows [first, last) of `a`, as a new array.
template <class T>
xt::xarray<T> rows_of(const xt::xarray<T>& a, std::size_t first, std::size_t last) {
    return xt::xarray<T>(xt::view(a, xt::range(first, last)));
}

/// Every range [first, last) of rows of the dataset in `dir` (which holds `a`) loads exactly.
template <class T>
void check_every_range(const std::filesystem::path& dir, const xt::xarray<T>& a,
                       const ndshard::load_options& o = {}) {
    const std::size_t rows = a.shape()[0];
    for (std::size_t first = 0; first <= rows; ++first) {
        for (std::size_t last = first; last <= rows; ++last) {
            INFO("rows [" << first << ", " << last << ")");
            const auto got = ndshard::load_rows<T>(dir, first, last, o);
            const auto want = rows_of(a, first, last);
            REQUIRE(shape_of(got) == shape_of(want));
            REQUIRE(ndshard_test::same_bits(got, want));
        }
    }
}

std::string range_error(const std::filesystem::path& where, const std::string& verb,
                        std::size_t rows, std::size_t first, std::size_t last) {
    return "ndshard: " + verb + " '" + where.string() +
           "': expected a row range [first, last) with first <= last <= " + std::to_string(rows) +
           " (the rows there are), found [" + std::to_string(first) + ", " + std::to_string(last) +
           ")";
}

std::filesystem::path fixture(const std::string& name) {
    return std::filesystem::path(NDSHARD_FIXTURES) / name;
}

std::string hash_text(const std::string& bytes, std::size_t from, std::size_t to) {
    ndshard::detail::xxh3_stream h;
    h.update(bytes.data() + from, to - from);
    return h.text();
}

std::string block_text(std::uint64_t h) {
    return ndshard::detail::xxh3_stream::checksum_text(h);
}

std::uint64_t data_offset(const std::filesystem::path& npy) {
    return ndshard::read_npy_header(ndshard::file::open_read(npy)).data_offset;
}

}  // namespace

TEST_CASE("load_rows: every range of a small sharded dataset, rank 1, 2 and 3", "[load_rows]") {
    ndshard_test::temp_dir tmp;
    // 10 rows in 3 shards: [0, 4), [4, 7), [7, 10) (or as split_rows splits them)
    for (const auto& shape : std::vector<std::vector<std::size_t>>{{10}, {10, 3}, {10, 2, 3}}) {
        INFO("rank " << shape.size());
        const auto dir = tmp / ("rank" + std::to_string(shape.size()));
        const auto a = quarters(shape);
        const auto info = ndshard::save(dir, a, quick(3));
        REQUIRE(info.shards.size() == 3);
        check_every_range(dir, a);
    }
}

TEST_CASE("load_rows: named edges against the shard boundaries", "[load_rows]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    const auto a = quarters({12, 4});
    const auto info = ndshard::save(dir, a, quick(3));
    REQUIRE(info.shards.size() == 3);
    const auto& s = info.shards;
    const std::size_t b1 = s[1].first_row, b2 = s[2].first_row;
    REQUIRE(b1 == 4);
    REQUIRE(b2 == 8);
    const auto check = [&](std::size_t first, std::size_t last) {
        INFO("rows [" << first << ", " << last << ")");
        const auto got = ndshard::load_rows<double>(dir, first, last);
        REQUIRE(shape_of(got) == std::vector<std::size_t>{last - first, 4});
        REQUIRE(ndshard_test::same_bits(got, rows_of(a, first, last)));
    };
    check(0, 0);            // empty, at the start
    check(5, 5);            // empty, inside a shard
    check(b1, b1);          // empty, on a boundary
    check(12, 12);          // empty, at the end
    check(0, 1);            // the first row
    check(11, 12);          // the last row
    check(b1 - 1, b1 + 1);  // across a boundary
    check(1, 11);           // across both boundaries, starting and ending inside shards
    check(b1, b2);          // exactly one shard
    check(b2, 12);          // the last shard
    check(0, 12);           // the whole dataset
    CHECK((ndshard::load_rows<double>(dir, 0, 12) == ndshard::load<double>(dir)));
}

TEST_CASE("load_rows: an empty range reads no shard, even a corrupt or missing one",
          "[load_rows]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    const auto a = quarters({12, 4});
    const auto info = ndshard::save(dir, a, quick(3));
    // shard 1 holds rows [4, 8): corrupt its data, then remove it
    ndshard_test::flip_byte(dir / info.shards[1].path, data_offset(dir / info.shards[1].path) + 3);
    for (int round = 0; round < 2; ++round) {
        INFO("round " << round);
        for (const std::size_t r :
             {std::size_t{4}, std::size_t{5}, std::size_t{6}, std::size_t{7}, std::size_t{8}}) {
            const auto got = ndshard::load_rows<double>(dir, r, r);
            CHECK(shape_of(got) == std::vector<std::size_t>{0, 4});
        }
        CHECK((ndshard::load_rows<double>(dir, 0, 4) == rows_of(a, 0, 4)));
        CHECK((ndshard::load_rows<double>(dir, 8, 12) == rows_of(a, 8, 12)));
        std::filesystem::remove(dir / info.shards[1].path);
    }
}

TEST_CASE("load_rows: a zero-row dataset and rows of no values", "[load_rows]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    (void)ndshard::save(dir, xt::xarray<double>::from_shape({0, 3}), quick(2));
    const auto got = ndshard::load_rows<double>(dir, 0, 0);
    CHECK(shape_of(got) == std::vector<std::size_t>{0, 3});
    CHECK(error_of([&] { (void)ndshard::load_rows<double>(dir, 0, 1); }) ==
          range_error(dir, "cannot load rows of", 0, 0, 1));

    // (5, 0): five rows, each empty
    const auto empty_rows = tmp / "empty_rows";
    (void)ndshard::save(empty_rows, xt::xarray<std::int32_t>::from_shape({5, 0}), quick(2));
    CHECK(shape_of(ndshard::load_rows<std::int32_t>(empty_rows, 1, 4)) ==
          std::vector<std::size_t>{3, 0});
    CHECK(shape_of(ndshard::load_rows<std::int32_t>(empty_rows, 0, 5)) ==
          std::vector<std::size_t>{5, 0});
}

TEST_CASE("load_rows: csv and tsv datasets", "[load_rows]") {
    ndshard_test::temp_dir tmp;
    for (const auto f : {ndshard::shard_format::csv, ndshard::shard_format::tsv}) {
        INFO(ndshard::to_string(f));
        const auto dir = tmp / ndshard::to_string(f);
        const auto a = quarters({9, 3});
        (void)ndshard::save(dir, a, quick(3, f));
        check_every_range(dir, a);
        const auto ints = numbered<std::int64_t>(
            {7}, [](std::size_t i) { return static_cast<std::int64_t>(i * i) - 20; });
        const auto idir = tmp / (std::string("ints_") + ndshard::to_string(f));
        (void)ndshard::save(idir, ints, quick(2, f));
        check_every_range(idir, ints);
    }
}

TEST_CASE("load_rows: bool and integer dtypes", "[load_rows]") {
    ndshard_test::temp_dir tmp;
    const auto flags = numbered<bool>({11, 2}, [](std::size_t i) { return i % 3 == 1; });
    (void)ndshard::save(tmp / "bool", flags, quick(4));
    check_every_range(tmp / "bool", flags);

    const auto i8 = numbered<std::int8_t>({9, 2}, [](std::size_t i) {
        return static_cast<std::int8_t>(static_cast<int>(i * 15) - 128);
    });
    (void)ndshard::save(tmp / "i8", i8, quick(3));
    check_every_range(tmp / "i8", i8);

    const auto u64 = numbered<std::uint64_t>(
        {6}, [](std::size_t i) { return std::numeric_limits<std::uint64_t>::max() - i; });
    (void)ndshard::save(tmp / "u64", u64, quick(2));
    check_every_range(tmp / "u64", u64);
}

TEST_CASE("load_rows: convert f8 to f4 for part of a dataset", "[load_rows]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    auto a = quarters({6, 2});
    (void)ndshard::save(dir, a, quick(2));  // shards [0, 3), [3, 6)
    ndshard::load_options conv;
    conv.convert = true;
    const auto got = ndshard::load_rows<float>(dir, 2, 5, conv);
    CHECK(shape_of(got) == std::vector<std::size_t>{3, 2});
    // rows 2..4: elements 4..9, i * 0.25 - 3, all exact in float
    CHECK((got == xt::xarray<float>{{-2.0f, -1.75f}, {-1.5f, -1.25f}, {-1.0f, -0.75f}}));
    // without convert: the dtype names both
    CHECK(error_of([&] { (void)ndshard::load_rows<float>(dir, 2, 5); }) ==
          "ndshard: cannot load '" + (dir / "manifest.json").string() +
              "': expected dtype <f4 (float32), found <f8 (float64): set load_options::convert "
              "to convert while reading");

    // element 9 (row 4) does not fit a float: named with its index in the whole dataset
    a(4, 1) = 1e300;
    const auto info = ndshard::save(dir, a, quick(2));
    const std::string shard1 = (dir / info.shards[1].path).string();
    const std::string unfit = "ndshard: cannot convert '" + shard1 +
                              "': element 9 holds 1.0000000000000001e+300 (float64), which "
                              "float32 cannot hold";
    CHECK(error_of([&] { (void)ndshard::load_rows<float>(dir, 4, 5, conv); }) == unfit);
    CHECK(error_of([&] { (void)ndshard::load_rows<float>(dir, 2, 6, conv); }) == unfit);
    // ranges without it convert
    CHECK((ndshard::load_rows<float>(dir, 3, 4, conv) == xt::xarray<float>{{-1.5f, -1.25f}}));
    CHECK((ndshard::load_rows<float>(dir, 5, 6, conv) == xt::xarray<float>{{-0.5f, -0.25f}}));
    CHECK(shape_of(ndshard::load_rows<float>(dir, 0, 4, conv)) == std::vector<std::size_t>{4, 2});
}

TEST_CASE("load_rows_into: a resizable tensor, and adaptors of the right and wrong shape",
          "[load_rows]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    const auto a = quarters({7, 4});
    (void)ndshard::save(dir, a, quick(3));

    xt::xtensor<double, 2> t = xt::zeros<double>({1, 1});
    ndshard::load_rows_into(dir, 2, 6, t);
    CHECK(t.shape()[0] == 4);
    CHECK(t.shape()[1] == 4);
    CHECK((t == rows_of(a, 2, 6)));
    ndshard::load_rows_into(dir, 3, 3, t);
    CHECK(t.size() == 0);

    std::vector<double> buffer(8, -1.0);
    auto right = xt::adapt(buffer.data(), buffer.size(), xt::no_ownership(),
                           std::array<std::size_t, 2>{2, 4});
    ndshard::load_rows_into(dir, 5, 7, right);
    const auto want = rows_of(a, 5, 7);
    CHECK(std::vector<double>(want.begin(), want.end()) == buffer);

    std::vector<double> other(12, -1.0);
    auto wrong =
        xt::adapt(other.data(), other.size(), xt::no_ownership(), std::array<std::size_t, 2>{3, 4});
    CHECK(error_of([&] { ndshard::load_rows_into(dir, 5, 7, wrong); }) ==
          "ndshard: cannot load '" + (dir / "manifest.json").string() +
              "': expected a destination of shape (2, 4), found (3, 4)");
    CHECK(other == std::vector<double>(12, -1.0));
    // a range error comes first, and leaves the destination alone
    CHECK(error_of([&] { ndshard::load_rows_into(dir, 6, 8, right); }) ==
          range_error(dir, "cannot load rows of", 7, 6, 8));
    CHECK(std::vector<double>(want.begin(), want.end()) == buffer);
}

TEST_CASE("load_rows: ranges that are not ranges of the rows, and rank 0", "[load_rows]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    (void)ndshard::save(dir, quarters({6, 2}), quick(2));
    CHECK(error_of([&] { (void)ndshard::load_rows<double>(dir, 4, 3); }) ==
          range_error(dir, "cannot load rows of", 6, 4, 3));
    CHECK(error_of([&] { (void)ndshard::load_rows<double>(dir, 0, 7); }) ==
          range_error(dir, "cannot load rows of", 6, 0, 7));
    CHECK(error_of([&] { (void)ndshard::load_rows<double>(dir, 7, 7); }) ==
          range_error(dir, "cannot load rows of", 6, 7, 7));
    CHECK(error_of([&] {
              (void)ndshard::load_rows<double>(dir, 0, std::numeric_limits<std::size_t>::max());
          }) ==
          range_error(dir, "cannot load rows of", 6, 0, std::numeric_limits<std::size_t>::max()));

    const auto scalar = tmp / "scalar";
    (void)ndshard::save(scalar, xt::xarray<double>(2.5), quick(1));
    CHECK(error_of([&] { (void)ndshard::load_rows<double>(scalar, 0, 0); }) ==
          "ndshard: cannot load rows of '" + scalar.string() +
              "': expected an array of rank 1 or more for a row range, found rank 0");
}

TEST_CASE("read_npy_rows: every range, big-endian, and the files it refuses", "[load_rows][npy]") {
    ndshard_test::temp_dir tmp;
    for (const auto& shape : std::vector<std::vector<std::size_t>>{{9}, {9, 3}, {9, 2, 2}}) {
        INFO("rank " << shape.size());
        const auto file = tmp / ("rank" + std::to_string(shape.size()) + ".npy");
        const auto a = quarters(shape);
        ndshard::write_npy(file, a);
        for (std::size_t first = 0; first <= 9; ++first) {
            for (std::size_t last = first; last <= 9; ++last) {
                INFO("rows [" << first << ", " << last << ")");
                const auto got = ndshard::read_npy_rows<double>(file, first, last, 2);
                REQUIRE(shape_of(got) == shape_of(rows_of(a, first, last)));
                REQUIRE(ndshard_test::same_bits(got, rows_of(a, first, last)));
            }
        }
        CHECK(error_of([&] { (void)ndshard::read_npy_rows<double>(file, 5, 4); }) ==
              range_error(file, "cannot read rows of", 9, 5, 4));
        CHECK(error_of([&] { (void)ndshard::read_npy_rows<double>(file, 0, 10); }) ==
              range_error(file, "cannot read rows of", 9, 0, 10));
    }
    // big-endian: (2, 3) of k + 0.5
    CHECK((ndshard::read_npy_rows<double>(fixture("big_endian_f8.npy"), 1, 2) ==
           xt::xarray<double>{{3.5, 4.5, 5.5}}));
    CHECK((ndshard::read_npy_rows<double>(fixture("big_endian_f8.npy"), 0, 2) ==
           xt::xarray<double>{{0.5, 1.5, 2.5}, {3.5, 4.5, 5.5}}));
    CHECK((ndshard::read_npy_rows<std::int32_t>(fixture("big_endian_i4.npy"), 1, 4) ==
           xt::xarray<std::int32_t>{-2, 0x01020304, INT32_MIN}));
    CHECK(ndshard::read_npy_rows<double>(fixture("big_endian_f8.npy"), 2, 2).size() == 0);
    // empty files: (0, 3) and (2, 0)
    CHECK(shape_of(ndshard::read_npy_rows<float>(fixture("empty_0x3.npy"), 0, 0)) ==
          std::vector<std::size_t>{0, 3});
    CHECK(shape_of(ndshard::read_npy_rows<std::int64_t>(fixture("empty_2x0.npy"), 1, 2)) ==
          std::vector<std::size_t>{1, 0});

    const auto fortran = fixture("fortran_2d.npy");
    CHECK(error_of([&] { (void)ndshard::read_npy_rows<double>(fortran, 0, 1); }) ==
          "ndshard: cannot read rows of '" + fortran.string() +
              "': expected a C-ordered file, found Fortran order (its rows are not contiguous: "
              "read_npy reads it whole)");
    const auto zero_d = fixture("zero_d.npy");
    CHECK(error_of([&] { (void)ndshard::read_npy_rows<double>(zero_d, 0, 0); }) ==
          "ndshard: cannot read rows of '" + zero_d.string() +
              "': expected an array of rank 1 or more for a row range, found rank 0");
    const auto v1 = fixture("v1_f8.npy");
    CHECK(error_of([&] { (void)ndshard::read_npy_rows<float>(v1, 0, 1); }) ==
          "ndshard: cannot read '" + v1.string() +
              "': expected dtype <f4 (float32), found <f8 (float64)");
}

// ---------------------------------------------------------------------------------------------
// block checksums

namespace {

/// 400 rows of 1024 float64 in one .npy shard: 3,276,928 bytes with its 128-byte header, so four
/// 1 MiB blocks, the last one short.
struct big_dataset {
    std::filesystem::path dir;
    xt::xarray<double> a = quarters({400, 1024});
    ndshard::dataset_info info;
    std::filesystem::path shard;
    std::uint64_t offset = 0;  // where the data starts
    static constexpr std::uint64_t row_bytes = 8192, mib = 1 << 20;

    explicit big_dataset(std::filesystem::path d) : dir(std::move(d)) {
        info = ndshard::save(dir, a, quick(1));
        shard = dir / info.shards[0].path;
        offset = data_offset(shard);
    }
    [[nodiscard]] std::size_t row_at(std::uint64_t byte) const {
        return static_cast<std::size_t>((byte - offset) / row_bytes);
    }
    /// The message of a partial read that hashed block `k`, [from, to), of the corrupt file.
    [[nodiscard]] std::string block_error(std::size_t k) const {
        const std::string bytes = ndshard_test::read_file(shard);
        const std::size_t from = k * mib, to = std::min<std::size_t>(bytes.size(), from + mib);
        return "ndshard: checksum mismatch in '" + shard.string() + "': expected " +
               block_text(info.shards[0].block_checksums[k]) + " for bytes [" +
               std::to_string(from) + ", " + std::to_string(to) + ") (from the manifest), found " +
               hash_text(bytes, from, to) + ": the shard is corrupt";
    }
    /// The message of a read that hashed the whole corrupt file.
    [[nodiscard]] std::string whole_error() const {
        const std::string bytes = ndshard_test::read_file(shard);
        return "ndshard: checksum mismatch in '" + shard.string() + "': expected " +
               info.shards[0].checksum + " (from the manifest), found " +
               hash_text(bytes, 0, bytes.size()) + ": the shard is corrupt";
    }
};

}  // namespace

TEST_CASE("load_rows: block checksums catch a corrupt block, and only reads that touch it",
          "[load_rows][checksum]") {
    ndshard_test::temp_dir tmp;
    big_dataset d(tmp / "ds");
    const auto& s = d.info.shards[0];
    REQUIRE(s.bytes == 128 + 400 * 8192);
    REQUIRE(d.offset == 128);
    REQUIRE(s.block_bytes == big_dataset::mib);
    REQUIRE(s.block_checksums.size() == 4);
    // the manifest's block checksums are those of the file's bytes
    const std::string clean = ndshard_test::read_file(d.shard);
    for (std::size_t k = 0; k < 4; ++k)
        CHECK(block_text(s.block_checksums[k]) ==
              hash_text(clean, k * big_dataset::mib,
                        std::min<std::size_t>(clean.size(), (k + 1) * big_dataset::mib)));
    CHECK(ndshard::inspect(d.dir).shards[0].block_checksums == s.block_checksums);

    // one byte in block 2, [2 MiB, 3 MiB), inside row 319
    const std::uint64_t bad = 2 * big_dataset::mib + big_dataset::mib / 2;
    const std::size_t r = d.row_at(bad);
    REQUIRE(r == 319);
    ndshard_test::flip_byte(d.shard, bad);
    const std::size_t first_in_2 = d.row_at(2 * big_dataset::mib);  // straddles blocks 1 and 2
    const std::size_t last_in_2 = d.row_at(3 * big_dataset::mib - 1);

    // (a) reads that touch block 2 fail, naming the block and its byte range
    for (const auto& fl : std::vector<std::pair<std::size_t, std::size_t>>{
             {r, r + 1}, {first_in_2, first_in_2 + 1}, {100, 300}, {last_in_2, 400}, {1, 399}}) {
        const std::size_t f = fl.first, l = fl.second;
        INFO("rows [" << f << ", " << l << ")");
        CHECK(error_of([&] { (void)ndshard::load_rows<double>(d.dir, f, l); }) == d.block_error(2));
    }
    // a read of the whole shard checks the whole file's checksum
    CHECK(error_of([&] { (void)ndshard::load_rows<double>(d.dir, 0, 400); }) == d.whole_error());
    CHECK(error_of([&] { (void)ndshard::load<double>(d.dir); }) == d.whole_error());

    // (b) reads that stay in blocks 0, 1 and 3 succeed
    for (const auto& fl : std::vector<std::pair<std::size_t, std::size_t>>{
             {0, 1}, {0, 10}, {100, first_in_2}, {last_in_2 + 1, 400}, {399, 400}, {r, r}}) {
        const std::size_t f = fl.first, l = fl.second;
        INFO("rows [" << f << ", " << l << ")");
        CHECK((ndshard::load_rows<double>(d.dir, f, l) == rows_of(d.a, f, l)));
    }

    // (c) without verify the corrupt row is returned as it is on disk
    ndshard::load_options unchecked;
    unchecked.verify = false;
    const auto got = ndshard::load_rows<double>(d.dir, r, r + 1, unchecked);
    CHECK_FALSE(ndshard_test::same_bits(got, rows_of(d.a, r, r + 1)));
    CHECK(ndshard::load<double>(d.dir, unchecked).size() == 400 * 1024);

    // (d) verify reports the shard
    const auto v = ndshard::verify(d.dir);
    REQUIRE(v.problems.size() == 1);
    CHECK(v.problems[0].shard == 0);
    CHECK(v.problems[0].path == s.path);
    CHECK(v.problems[0].message == d.whole_error());
}

TEST_CASE("load_rows: a corrupt byte in the last, short block", "[load_rows][checksum]") {
    ndshard_test::temp_dir tmp;
    big_dataset d(tmp / "ds");
    const std::uint64_t bad = d.info.shards[0].bytes - 1;  // the very last byte
    ndshard_test::flip_byte(d.shard, bad);
    CHECK(error_of([&] { (void)ndshard::load_rows<double>(d.dir, 399, 400); }) == d.block_error(3));
    CHECK(error_of([&] {
              (void)ndshard::load_rows<double>(d.dir, d.row_at(3 * big_dataset::mib),
                                               d.row_at(3 * big_dataset::mib) + 1);
          }) == d.block_error(3));
    CHECK((ndshard::load_rows<double>(d.dir, 0, 380) == rows_of(d.a, 0, 380)));
    // and in block 0, in the first row's data: the header is parsed, the block still checked
    big_dataset e(tmp / "ds2");
    ndshard_test::flip_byte(e.shard, e.offset + 5);
    CHECK(error_of([&] { (void)ndshard::load_rows<double>(e.dir, 0, 1); }) == e.block_error(0));
    CHECK((ndshard::load_rows<double>(e.dir, 200, 201) == rows_of(e.a, 200, 201)));
}

TEST_CASE("load_rows: a converting partial read checks the blocks it reads",
          "[load_rows][checksum]") {
    ndshard_test::temp_dir tmp;
    big_dataset d(tmp / "ds");
    ndshard_test::flip_byte(d.shard, 2 * big_dataset::mib + 7);
    ndshard::load_options conv;
    conv.convert = true;
    CHECK(error_of([&] { (void)ndshard::load_rows<float>(d.dir, 300, 301, conv); }) ==
          d.block_error(2));
    const auto ok = ndshard::load_rows<float>(d.dir, 10, 12, conv);
    CHECK((ok == xt::xarray<float>(xt::cast<float>(rows_of(d.a, 10, 12)))));
}

TEST_CASE("load_rows: datasets without block checksums hash whole shards",
          "[load_rows][checksum]") {
    ndshard_test::temp_dir tmp;
    big_dataset d(tmp / "ds");
    edit_manifest(d.dir, [](json& j) {
        for (auto& s : j["shards"]) {
            s.erase("block_bytes");
            s.erase("block_xxh3");
        }
    });
    const auto info = ndshard::inspect(d.dir);
    CHECK(info.shards[0].block_bytes == 0);
    CHECK(info.shards[0].block_checksums.empty());
    CHECK((ndshard::load_rows<double>(d.dir, 5, 7) == rows_of(d.a, 5, 7)));
    CHECK(ndshard::verify(d.dir).ok());

    // corruption anywhere in the shard fails every verified read of it, however small
    ndshard_test::flip_byte(d.shard, 3 * big_dataset::mib + 11);
    for (const auto& fl :
         std::vector<std::pair<std::size_t, std::size_t>>{{0, 1}, {5, 7}, {200, 201}, {0, 400}}) {
        const std::size_t f = fl.first, l = fl.second;
        INFO("rows [" << f << ", " << l << ")");
        CHECK(error_of([&] { (void)ndshard::load_rows<double>(d.dir, f, l); }) == d.whole_error());
    }
    ndshard::load_options unchecked;
    unchecked.verify = false;
    CHECK((ndshard::load_rows<double>(d.dir, 5, 7, unchecked) == rows_of(d.a, 5, 7)));
    const auto v = ndshard::verify(d.dir);
    REQUIRE(v.problems.size() == 1);
    CHECK(v.problems[0].message == d.whole_error());
}

TEST_CASE("load_rows: small blocks a manifest may list, checked block by block",
          "[load_rows][checksum]") {
    // block_bytes is the manifest's to choose (1 to 2^30): 16-byte blocks over a small shard
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    const auto a = numbered<std::int32_t>(
        {20, 3}, [](std::size_t i) { return static_cast<std::int32_t>(i * 7); });
    const auto info = ndshard::save(dir, a, quick(1));
    const auto shard = dir / info.shards[0].path;
    const std::string bytes = ndshard_test::read_file(shard);
    const std::size_t bb = 16;
    edit_manifest(dir, [&](json& j) {
        std::string hex;
        for (std::size_t k = 0; k < bytes.size(); k += bb)
            hex += hash_text(bytes, k, std::min(bytes.size(), k + bb)).substr(5);
        j["shards"][0]["block_bytes"] = bb;
        j["shards"][0]["block_xxh3"] = hex;
    });
    REQUIRE(ndshard::inspect(dir).shards[0].block_checksums.size() == (bytes.size() + 15) / 16);
    check_every_range(dir, a);

    // a byte in row 10 (12 bytes a row from offset 128): bytes [248, 260), blocks 15 and 16
    const std::uint64_t offset = data_offset(shard);
    REQUIRE(offset == 128);
    const std::uint64_t bad = offset + 10 * 12 + 1;  // 249: block 15, [240, 256)
    ndshard_test::flip_byte(shard, bad);
    const std::string corrupt = ndshard_test::read_file(shard);
    const auto expected = "ndshard: checksum mismatch in '" + shard.string() + "': expected " +
                          hash_text(bytes, 240, 256) +
                          " for bytes [240, 256) (from the manifest), "
                          "found " +
                          hash_text(corrupt, 240, 256) + ": the shard is corrupt";
    for (std::size_t first = 0; first <= 20; ++first) {
        for (std::size_t last = first; last <= 20; ++last) {
            INFO("rows [" << first << ", " << last << ")");
            const std::uint64_t from = offset + first * 12, to = offset + last * 12;
            const bool whole = first == 0 && last == 20;
            // the blocks of [from, to) reach block 15 when from < 256 and to > 240
            const bool touches = first < last && from < 256 && to > 240;
            const std::string e =
                error_of([&] { (void)ndshard::load_rows<std::int32_t>(dir, first, last); });
            if (whole) {
                CHECK(e.rfind("ndshard: checksum mismatch in '" + shard.string() + "': expected " +
                                  info.shards[0].checksum + " (from the manifest), found ",
                              0) == 0);
            } else if (touches) {
                CHECK(e == expected);
            } else {
                CHECK(e == "");
            }
        }
    }
}

TEST_CASE("hostile manifest: malformed block checksums", "[load_rows][hostile]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    const auto manifest = (dir / "manifest.json").string();
    struct block_case {
        const char* name;
        std::function<void(json&)> edit;
        std::string detail;
    };
    // save_small: two shards of 3 rows of 2 int32, 152 bytes each: one 1 MiB block
    const std::string prefix =
        "expected 'block_xxh3' of shard 1 to hold 1 checksums of 16 hex digits "
        "(152 bytes in blocks of 1048576), found ";
    const std::vector<block_case> cases = {
        {"no checksum", [](json& j) { j["shards"][1]["block_xxh3"] = ""; }, prefix + "\"\""},
        {"two checksums",
         [](json& j) {
             const std::string h = j["shards"][1]["block_xxh3"];
             j["shards"][1]["block_xxh3"] = h + h;
         },
         ""},  // filled in below: the excerpt is cut
        {"15 digits", [](json& j) { j["shards"][1]["block_xxh3"] = "0123456789abcde"; },
         prefix + "\"0123456789abcde\""},
        {"not hex", [](json& j) { j["shards"][1]["block_xxh3"] = "0123456789abcdeg"; },
         prefix + "\"0123456789abcdeg\""},
        {"upper case", [](json& j) { j["shards"][1]["block_xxh3"] = "0123456789ABCDEF"; },
         prefix + "\"0123456789ABCDEF\""},
        {"a number", [](json& j) { j["shards"][1]["block_xxh3"] = 7; }, prefix + "7"},
        {"an array",
         [](json& j) { j["shards"][1]["block_xxh3"] = json::array({"0123456789abcdef"}); },
         prefix + "[\"0123456789abcdef\"]"},
        {"block_bytes 0", [](json& j) { j["shards"][1]["block_bytes"] = 0; },
         "expected 'block_bytes' of shard 1 from 1 to 2^30, found 0"},
        {"block_bytes past 2^30",
         [](json& j) { j["shards"][1]["block_bytes"] = (std::uint64_t{1} << 30) + 1; },
         "expected 'block_bytes' of shard 1 from 1 to 2^30, found 1073741825"},
        {"block_bytes negative", [](json& j) { j["shards"][1]["block_bytes"] = -1; },
         "expected a non-negative integer for 'block_bytes', found -1"},
        {"block_bytes as text", [](json& j) { j["shards"][1]["block_bytes"] = "1048576"; },
         "expected a non-negative integer for 'block_bytes', found \"1048576\""},
        {"only block_bytes", [](json& j) { j["shards"][1].erase("block_xxh3"); },
         "expected both 'block_bytes' and 'block_xxh3' in shard 1, found only 'block_bytes'"},
        {"only block_xxh3", [](json& j) { j["shards"][0].erase("block_bytes"); },
         "expected both 'block_bytes' and 'block_xxh3' in shard 0, found only 'block_xxh3'"},
        {"smaller blocks, too few checksums", [](json& j) { j["shards"][1]["block_bytes"] = 100; },
         "expected 'block_xxh3' of shard 1 to hold 2 checksums of 16 hex digits (152 bytes in "
         "blocks of 100), found \"" +
             std::string(16, '?') + "\""},  // filled in below
    };
    for (const auto& c : cases) {
        INFO(c.name);
        ndshard_test::fresh_small(dir);
        const std::string h =
            ndshard_test::read_json(dir / "manifest.json")["shards"][1]["block_xxh3"];
        edit_manifest(dir, c.edit);
        std::string detail = c.detail;
        if (std::string(c.name) == "two checksums")
            detail = prefix + ndshard::detail::shorten("\"" + h + h + "\"");
        if (std::string(c.name) == "smaller blocks, too few checksums")
            detail =
                "expected 'block_xxh3' of shard 1 to hold 2 checksums of 16 hex digits (152 "
                "bytes in blocks of 100), found \"" +
                h + "\"";
        const std::string expected = "ndshard: invalid manifest '" + manifest + "': " + detail;
        CHECK(error_of([&] { (void)ndshard::inspect(dir); }) == expected);
        CHECK(error_of([&] { (void)ndshard::load_rows<std::int32_t>(dir, 0, 1); }) == expected);
        CHECK(error_of([&] { (void)ndshard::verify(dir); }) == expected);
    }
    // a file of no bytes has no blocks: "" is its only valid list
    const auto empty = tmp / "empty";
    (void)ndshard::save(empty, xt::xarray<std::int32_t>::from_shape({0, 2}),
                        quick(1, ndshard::shard_format::csv));
    const auto s = ndshard::inspect(empty).shards[0];
    CHECK(s.bytes == 0);
    CHECK(s.block_bytes == 1048576);
    CHECK(s.block_checksums.empty());
    CHECK(ndshard_test::read_json(empty / "manifest.json")["shards"][0]["block_xxh3"] == "");
    CHECK(ndshard::load_rows<std::int32_t>(empty, 0, 0).size() == 0);
    CHECK(ndshard::verify(empty).ok());
}
