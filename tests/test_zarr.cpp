// zarr v2 stores: round trips of every element type and rank through every codec, the files and
// .zarray a save writes, row ranges and streaming, atomic replacement, and stores that lie.
// (Interop with zarr-python and Dask: tests/zarr/interop.py.)
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <ndshard/ndshard.hpp>
#include <numeric>
#include <random>
#include <thread>
#include <xtensor/xview.hpp>

#include "child_process.hpp"
#include "generation.hpp"
#include "support.hpp"

namespace {

namespace z = ndshard::zarr;
using ndshard_test::same_bits;
using ndshard_test::temp_dir;

/// Every codec this program has (all four when it links ndshard::zarr).
std::vector<z::codec> codecs_here() {
#ifdef NDSHARD_ZARR_CODECS
    return {z::codec::none, z::codec::zstd, z::codec::blosc_lz4, z::codec::blosc_zstd};
#else
    return {z::codec::none};
#endif
}

/// Values of T that a byte-exact round trip must keep: extremes, NaN, -0, subnormals.
template <class T>
xt::xarray<T> sample(const std::vector<std::size_t>& shape) {
    auto a = xt::xarray<T>::from_shape(shape);
    std::mt19937_64 rng(42);
    std::size_t i = 0;
    for (auto& v : a) {
        const std::uint64_t bits = rng();
        if constexpr (std::is_same_v<T, bool>) {
            v = (bits & 1) != 0;
        } else if constexpr (std::is_floating_point_v<T>) {
            const T special[] = {
                std::numeric_limits<T>::quiet_NaN(), -std::numeric_limits<T>::infinity(),
                std::numeric_limits<T>::denorm_min(), T(-0.0), std::numeric_limits<T>::max()};
            v = i % 7 < 5 ? special[i % 7] : static_cast<T>(static_cast<double>(bits) * 1e-9);
        } else {
            const T special[] = {std::numeric_limits<T>::min(), std::numeric_limits<T>::max()};
            v = i % 5 < 2 ? special[i % 5] : static_cast<T>(bits);
        }
        ++i;
    }
    return a;
}

void write_file(const std::filesystem::path& p, const std::string& bytes) {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_file(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

template <class T>
std::string bytes_of(const std::vector<T>& v) {
    return {reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T)};
}

/// A .zarray as zarr-python writes one, with `extra` fields replacing its own.
std::string zarray(const std::string& shape, const std::string& chunks, const std::string& dtype,
                   const std::string& more = "") {
    return R"({"zarr_format": 2, "shape": )" + shape + R"(, "chunks": )" + chunks +
           R"(, "dtype": ")" + dtype +
           R"(", "compressor": null, "fill_value": 0, "order": "C", )"
           R"("filters": null)" +
           more + "}";
}

std::string what_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const ndshard::error& e) {
        return e.what();
    }
    return "(no error)";
}

template <class T>
void round_trip_every_codec(const std::vector<std::size_t>& shape, std::size_t chunk_rows) {
    const temp_dir tmp;
    const auto a = sample<T>(shape);
    for (const auto c : codecs_here()) {
        INFO("dtype " << ndshard::descr_of<T>() << " rank " << shape.size() << " codec "
                      << static_cast<int>(c) << " chunk_rows " << chunk_rows);
        const auto store = tmp / "s.zarr";
        z::save_options o;
        o.chunk_rows = chunk_rows;
        o.compressor = c;
        o.threads = 2;
        o.sync = false;
        const auto info = z::save(store, a, o);
        CHECK(info.dtype == ndshard::descr_of<T>());
        CHECK(info.shape == shape);
        const auto b = z::load<T>(store);
        REQUIRE(b.shape() == a.shape());
        CHECK(same_bits(a, b));
        if (!shape.empty() && shape[0] > 2) {
            const auto r = z::load_rows<T>(store, 1, shape[0] - 1);
            CHECK(same_bits(xt::xarray<T>(xt::view(a, xt::range(1, shape[0] - 1))), r));
        }
    }
}

}  // namespace

TEST_CASE("zarr: every element type and rank 0-3 round-trips bit for bit through every codec",
          "[zarr]") {
    for (const std::size_t cr : {std::size_t{0}, std::size_t{7}}) {
        round_trip_every_codec<bool>({100, 3}, cr);
        round_trip_every_codec<std::int8_t>({100, 3}, cr);
        round_trip_every_codec<std::uint8_t>({100}, cr);
        round_trip_every_codec<std::int16_t>({50, 2, 3}, cr);
        round_trip_every_codec<std::uint16_t>({100, 3}, cr);
        round_trip_every_codec<std::int32_t>({100, 3}, cr);
        round_trip_every_codec<std::uint32_t>({100, 3}, cr);
        round_trip_every_codec<std::int64_t>({33, 5, 3}, cr);
        round_trip_every_codec<std::uint64_t>({100, 3}, cr);
        round_trip_every_codec<float>({257, 7}, cr);
        round_trip_every_codec<double>({257, 7}, cr);
    }
    round_trip_every_codec<double>({}, 0);
    round_trip_every_codec<float>({0, 4}, 0);
    round_trip_every_codec<float>({4, 0}, 0);
}

TEST_CASE("zarr: save writes .zarray as zarr-python does and pads the edge chunk", "[zarr]") {
    const temp_dir tmp;
    const auto store = tmp / "a.zarr";
    xt::xarray<double> a = xt::xarray<double>::from_shape({10, 3});
    std::iota(a.begin(), a.end(), 0.5);
    z::save_options o;
    o.chunk_rows = 4;
    const auto info = z::save(store, a, o);
    CHECK(info.chunks == std::vector<std::size_t>{4, 3});
    CHECK(info.compressor == "null");
    CHECK(read_file(store / ".zarray") == R"({
    "chunks": [
        4,
        3
    ],
    "compressor": null,
    "dimension_separator": ".",
    "dtype": "<f8",
    "fill_value": "NaN",
    "filters": null,
    "order": "C",
    "shape": [
        10,
        3
    ],
    "zarr_format": 2
}
)");
    CHECK(ndshard_test::list_dir(store) == std::set<std::string>{".zarray", "0.0", "1.0", "2.0"});
    // every chunk is the full chunk shape: the last one's two missing rows are zeros
    const std::string last = read_file(store / "2.0");
    REQUIRE(last.size() == 4 * 3 * sizeof(double));
    std::vector<double> v(12);
    std::memcpy(v.data(), last.data(), last.size());
    CHECK(v == std::vector<double>{24.5, 25.5, 26.5, 27.5, 28.5, 29.5, 0, 0, 0, 0, 0, 0});
    // and nothing is left beside the store
    CHECK(ndshard_test::list_dir(tmp.path()) == std::set<std::string>{"a.zarr"});

    const auto seen = z::inspect(store);
    CHECK(seen.dtype == "<f8");
    CHECK(seen.shape == std::vector<std::size_t>{10, 3});
    CHECK(seen.chunks == std::vector<std::size_t>{4, 3});

    xt::xarray<std::int32_t> ints = {{1, 2}, {3, 4}};
    z::save(tmp / "i.zarr", ints);
    CHECK(read_file(tmp / "i.zarr" / ".zarray").find(R"("fill_value": 0,)") != std::string::npos);
    xt::xarray<bool> flags = {true, false};
    z::save(tmp / "b.zarr", flags);
    CHECK(read_file(tmp / "b.zarr" / ".zarray").find(R"("fill_value": false,)") !=
          std::string::npos);
    CHECK(z::inspect(tmp / "b.zarr").dtype == "|b1");
}

#ifdef NDSHARD_ZARR_CODECS
TEST_CASE("zarr: compressed stores name their codec as numcodecs does", "[zarr]") {
    const temp_dir tmp;
    const xt::xarray<float> a = sample<float>({100, 4});
    z::save_options o;
    o.compressor = z::codec::zstd;
    CHECK(z::save(tmp / "z", a, o).compressor == R"({"id":"zstd","level":1})");
    o.level = 7;
    CHECK(z::save(tmp / "z", a, o).compressor == R"({"id":"zstd","level":7})");
    o.compressor = z::codec::blosc_lz4;
    o.level = 0;
    CHECK(z::save(tmp / "b", a, o).compressor ==
          R"({"blocksize":0,"clevel":5,"cname":"lz4","id":"blosc","shuffle":1})");
    o.compressor = z::codec::blosc_zstd;
    o.level = 9;
    CHECK(z::save(tmp / "b", a, o).compressor ==
          R"({"blocksize":0,"clevel":9,"cname":"zstd","id":"blosc","shuffle":1})");
    CHECK(z::inspect(tmp / "b").compressor ==
          R"({"blocksize":0,"clevel":9,"cname":"zstd","id":"blosc","shuffle":1})");
    o.level = 10;
    CHECK(what_of([&] { z::save(tmp / "b", a, o); }) ==
          "ndshard: cannot save zarr store '" + (tmp / "b").string() +
              "': expected a blosc level from 1 to 9, found 10");
    o.compressor = z::codec::zstd;
    o.level = 23;
    CHECK(what_of([&] { z::save(tmp / "b", a, o); }) ==
          "ndshard: cannot save zarr store '" + (tmp / "b").string() +
              "': expected a zstd level from -131072 to 22, found 23");
    // compressible data compresses
    xt::xarray<std::int64_t> small = xt::xarray<std::int64_t>::from_shape({100000});
    for (std::size_t i = 0; i < small.size(); ++i)
        small(i) = static_cast<std::int64_t>(i % 100);
    o.level = 0;
    for (const auto c : {z::codec::zstd, z::codec::blosc_lz4, z::codec::blosc_zstd}) {
        o.compressor = c;
        z::save(tmp / "c", small, o);
        CHECK(std::filesystem::file_size(tmp / "c" / "0") < small.size() * 8 / 4);
        CHECK((z::load<std::int64_t>(tmp / "c") == small));
    }
}

TEST_CASE("zarr: a program without the codecs says which target to link", "[zarr]") {
    const temp_dir tmp;
    const xt::xarray<float> a = sample<float>({10, 4});
    z::save_options o;
    o.compressor = z::codec::zstd;
    z::save(tmp / "z", a, o);
    const ndshard::detail::codec_table saved = ndshard::detail::codecs();
    ndshard::detail::codecs() = {};
    const auto load_error = what_of([&] { (void)z::load<float>(tmp / "z"); });
    const auto save_error = what_of([&] { z::save(tmp / "y", a, o); });
    ndshard::detail::codecs() = saved;
    const std::string missing =
        "the zstd codec is not in this program: link the CMake target ndshard::zarr (Debian: "
        "libzstd-dev, libblosc-dev, zlib1g-dev), or include <ndshard/zarr_codecs.hpp> and link "
        "-lzstd -lblosc -lz";
    CHECK(load_error == "ndshard: cannot load '" + (tmp / "z").string() + "': " + missing);
    CHECK(save_error ==
          "ndshard: cannot save zarr store '" + (tmp / "y").string() + "': " + missing);
    CHECK_FALSE(std::filesystem::exists(tmp / "y"));
}
#endif

TEST_CASE("zarr: load_rows reads only the rows asked for; block_reader streams a store", "[zarr]") {
    const temp_dir tmp;
    const auto store = tmp / "s";
    const auto a = sample<std::int32_t>({1000, 3});
    for (const auto c : codecs_here()) {
        z::save_options o;
        o.chunk_rows = 64;
        o.compressor = c;
        z::save(store, a, o);
        for (const auto& [first, last] : std::vector<std::pair<std::size_t, std::size_t>>{
                 {0, 0}, {5, 5}, {0, 1000}, {63, 65}, {64, 128}, {999, 1000}, {10, 900}}) {
            INFO(first << " " << last);
            const auto r = z::load_rows<std::int32_t>(store, first, last);
            CHECK(r.shape() == std::vector<std::size_t>{last - first, 3});
            CHECK((r == xt::view(a, xt::range(first, last))));
        }
        ndshard::stream_options so;
        so.block_rows = 100;  // blocks that straddle chunks
        so.first_row = 30;
        so.last_row = 950;
        ndshard::block_reader<std::int32_t> br(store, so);
        CHECK(br.shape() == std::vector<std::size_t>{1000, 3});
        std::size_t next = 30;
        while (br.next()) {
            REQUIRE(br.first_row() == next);
            const std::size_t n = br.rows().shape()[0];
            CHECK((br.rows() == xt::view(a, xt::range(next, next + n))));
            next += n;
        }
        CHECK(next == 950);
    }
    CHECK(what_of([&] { (void)z::load_rows<std::int32_t>(store, 5, 3); }) ==
          "ndshard: cannot load rows of '" + store.string() +
              "': expected a row range [first, last) with first <= last <= 1000 (the rows there "
              "are), found [5, 3)");
    CHECK(what_of([&] { (void)z::load_rows<std::int32_t>(store, 0, 1001); }) ==
          "ndshard: cannot load rows of '" + store.string() +
              "': expected a row range [first, last) with first <= last <= 1000 (the rows there "
              "are), found [0, 1001)");
    CHECK(what_of([&] { ndshard::block_reader<float> br(store); }) ==
          "ndshard: cannot load '" + (store / ".zarray").string() +
              "': expected dtype <f4 (float32), found <i4 (int32): set load_options::convert to "
              "convert while reading");
}

TEST_CASE("zarr: another element type is an error, or converted when asked", "[zarr]") {
    const temp_dir tmp;
    const auto store = tmp / "s";
    xt::xarray<double> a = {{1.5, -2.0}, {1e10, 3.0}};
    z::save(store, a);
    CHECK(what_of([&] { (void)z::load<float>(store); }) ==
          "ndshard: cannot load '" + (store / ".zarray").string() +
              "': expected dtype <f4 (float32), found <f8 (float64): set load_options::convert "
              "to convert while reading");
    ndshard::load_options o;
    o.convert = true;
    CHECK((z::load<float>(store, o) == xt::xarray<float>{{1.5f, -2.0f}, {1e10f, 3.0f}}));
    CHECK(what_of([&] { (void)z::load<std::int32_t>(store, o); }) ==
          "ndshard: cannot load '" + (store / "0.0").string() +
              "': element (1, 0) holds 10000000000 (float64), which int32 cannot hold");
}

TEST_CASE("zarr: a non-contiguous expression is written without a copy of the whole", "[zarr]") {
    const temp_dir tmp;
    // values that arithmetic cannot overflow (sample's extremes would: undefined for int64)
    xt::xarray<std::int64_t> a = xt::xarray<std::int64_t>::from_shape({40, 30});
    std::iota(a.begin(), a.end(), std::int64_t{-600});
    const auto t = xt::transpose(a);
    for (const auto c : codecs_here()) {
        z::save_options o;
        o.chunk_rows = 7;
        o.compressor = c;
        z::save(tmp / "t", t, o);
        CHECK((z::load<std::int64_t>(tmp / "t") == t));
        z::save(tmp / "v", xt::view(a, xt::range(3, 33, 2), xt::range(1, 29)) * 2, o);
        CHECK((z::load<std::int64_t>(tmp / "v") ==
               xt::view(a, xt::range(3, 33, 2), xt::range(1, 29)) * 2));
    }
}

TEST_CASE("zarr: stores zarr-python can write are read (grids, nesting, order, byte order, fill)",
          "[zarr]") {
    const temp_dir tmp;
    const auto store = tmp / "s";
    std::filesystem::create_directories(store);
    // a 5 x 5 int16 array in chunks of 2 x 3, C order; chunk (2, 1) missing: the fill value 7
    write_file(store / ".zarray",
               zarray("[5, 5]", "[2, 3]", "<i2")
                   .replace(zarray("[5, 5]", "[2, 3]", "<i2").find("\"fill_value\": 0"), 15,
                            "\"fill_value\": 7"));
    auto expect = xt::xarray<std::int16_t>::from_shape({5, 5});
    for (std::size_t i = 0; i < 5; ++i)
        for (std::size_t j = 0; j < 5; ++j)
            expect(i, j) = static_cast<std::int16_t>(i * 10 + j);
    for (std::size_t ci = 0; ci < 3; ++ci)
        for (std::size_t cj = 0; cj < 2; ++cj) {
            if (ci == 2 && cj == 1) continue;
            std::vector<std::int16_t> chunk(6, -1);  // padding outside the array: never read
            for (std::size_t i = 0; i < 2; ++i)
                for (std::size_t j = 0; j < 3; ++j)
                    if (ci * 2 + i < 5 && cj * 3 + j < 5)
                        chunk[i * 3 + j] = expect(ci * 2 + i, cj * 3 + j);
            write_file(store / (std::to_string(ci) + "." + std::to_string(cj)), bytes_of(chunk));
        }
    expect(4, 3) = 7;
    expect(4, 4) = 7;
    CHECK((z::load<std::int16_t>(store) == expect));
    CHECK((z::load_rows<std::int16_t>(store, 1, 5) == xt::view(expect, xt::range(1, 5))));

    // the same as Fortran-ordered chunks with nested keys, big-endian
    const auto f = tmp / "f";
    std::filesystem::create_directories(f);
    write_file(f / ".zarray",
               zarray("[5, 5]", "[2, 3]", ">i2", R"(, "dimension_separator": "/")")
                   .replace(zarray("[5, 5]", "[2, 3]", ">i2").find("\"order\": \"C\""), 12,
                            "\"order\": \"F\""));
    for (std::size_t ci = 0; ci < 3; ++ci)
        for (std::size_t cj = 0; cj < 2; ++cj) {
            std::vector<std::int16_t> chunk(6, -1);
            for (std::size_t i = 0; i < 2; ++i)
                for (std::size_t j = 0; j < 3; ++j)
                    if (ci * 2 + i < 5 && cj * 3 + j < 5) {
                        const auto v = static_cast<std::uint16_t>(expect(ci * 2 + i, cj * 3 + j));
                        chunk[j * 2 + i] = static_cast<std::int16_t>(
                            static_cast<std::uint16_t>((v >> 8) | (v << 8)));
                    }
            std::filesystem::create_directories(f / std::to_string(ci));
            write_file(f / std::to_string(ci) / std::to_string(cj), bytes_of(chunk));
        }
    CHECK((z::load<std::int16_t>(f) == expect));
    CHECK(z::inspect(f).dtype == ">i2");

    // a float store with every chunk missing: NaN, its fill value
    const auto e = tmp / "e";
    std::filesystem::create_directories(e);
    write_file(e / ".zarray", zarray("[3]", "[2]", "<f4")
                                  .replace(zarray("[3]", "[2]", "<f4").find("\"fill_value\": 0"),
                                           15, "\"fill_value\": \"NaN\""));
    const auto nan = z::load<float>(e);
    CHECK(nan.size() == 3);
    CHECK(std::isnan(nan(0)));
    CHECK(std::isnan(nan(2)));
    ndshard::load_options conv;
    conv.convert = true;
    // rows of one chunk: with two missing chunks, either may be the one reported
    CHECK(what_of([&] { (void)z::load_rows<std::int32_t>(e, 0, 2, conv); }) ==
          "ndshard: cannot load '" + (e / "0").string() +
              "': the chunk is missing, and its fill_value nan (float32) is not a value int32 "
              "can hold");
}

TEST_CASE("zarr: saving replaces a store atomically and only a store", "[zarr]") {
    const temp_dir tmp;
    const auto store = tmp / "s.zarr";
    z::save(store, sample<float>({100, 3}));
    const auto b = sample<std::int64_t>({7});
    z::save(store, b);
    CHECK(ndshard_test::list_dir(tmp.path()) == std::set<std::string>{"s.zarr"});
    CHECK(ndshard_test::list_dir(store) == std::set<std::string>{".zarray", "0"});
    CHECK((z::load<std::int64_t>(store) == b));
    // trailing separators name the same store
    z::save(store.string() + "/", b);
    CHECK(ndshard_test::list_dir(tmp.path()) == std::set<std::string>{"s.zarr"});

    // not a store: refused, untouched
    const auto other = tmp / "mine";
    std::filesystem::create_directories(other);
    write_file(other / "notes.txt", "keep me");
    CHECK(what_of([&] { z::save(other, b); }) ==
          "ndshard: cannot save zarr store '" + other.string() +
              "': expected a zarr array store (a directory holding .zarray) or nothing, found a "
              "directory without .zarray: ndshard replaces only zarr arrays");
    CHECK(read_file(other / "notes.txt") == "keep me");
    write_file(tmp / "file", "x");
    CHECK(what_of([&] { z::save(tmp / "file", b); }) ==
          "ndshard: cannot save zarr store '" + (tmp / "file").string() +
              "': expected a zarr array store or nothing, found a file");
    // missing directories above the store are made
    z::save(tmp / "x" / "y" / "s.zarr", b);
    CHECK((z::load<std::int64_t>(tmp / "x" / "y" / "s.zarr") == b));
    // an empty directory is taken
    std::filesystem::create_directories(tmp / "empty");
    z::save(tmp / "empty", b);
    CHECK((z::load<std::int64_t>(tmp / "empty") == b));
}

TEST_CASE("zarr: a reader keeps the store it opened while a save replaces it", "[zarr]") {
    const temp_dir tmp;
    const auto store = tmp / "s";
    xt::xarray<std::int64_t> a = xt::xarray<std::int64_t>::from_shape({1000, 4});
    std::iota(a.begin(), a.end(), std::int64_t{-2000});
    z::save_options o;
    o.chunk_rows = 10;
    z::save(store, a, o);
    const auto b = xt::xarray<std::int64_t>(a * 3);
    {
        ndshard::stream_options so;
        so.block_rows = 100;
        so.prefetch = 0;
        ndshard::block_reader<std::int64_t> r(store, so);
        REQUIRE(r.next());
        z::save(store, b, o);  // the old store stays (held by the reader) under a hidden name
        std::size_t rows = 0;
        do {
            CHECK((r.rows() == xt::view(a, xt::range(r.first_row(), r.first_row() + 100))));
            rows += r.rows().shape()[0];
        } while (r.next());
        CHECK(rows == 1000);
    }
    CHECK((z::load<std::int64_t>(store) == b));
    CHECK(ndshard_test::list_dir(tmp.path()).size() == 2);
    // once nobody holds it, the next save removes it
    z::save(store, a, o);
    CHECK(ndshard_test::list_dir(tmp.path()) == std::set<std::string>{"s"});
}

TEST_CASE("zarr: a save killed at any instant leaves the old store or the new one, whole",
          "[zarr][crash]") {
    const temp_dir tmp;
    const auto store = tmp / "s";
    z::save_options quick;
    quick.sync = false;
    z::save(store, ndshard_test::generation_array(1), quick);
    const auto seed = std::random_device{}();
    INFO("seed " << seed);
    std::mt19937 rng(seed);
    // kills go on, with longer delays, until one lands inside a save (TSan's saves are slow)
    int interrupted = 0, k = 1;
    const int kills = 30;
    for (; ndshard_test::more_kills(k, kills, interrupted); ++k) {
        INFO("kill " << k);
        const std::uint64_t first = std::uint64_t(k) * 1000;
        ndshard_test::run_then_kill("zarr", store, first,
                                    ndshard_test::kill_delay(rng, 4000, k, kills));
        const auto a = z::load<std::int64_t>(store);
        std::uint64_t tag = 0;
        std::string why;
        INFO(why);
        REQUIRE(ndshard_test::generation_of(a, tag, why));
        REQUIRE(tag >= first);
        REQUIRE(tag < first + 999);
        interrupted += ndshard_test::list_dir(tmp.path()).size() > 1;
        z::save(store, ndshard_test::generation_array(first + 999), quick);
        REQUIRE(ndshard_test::list_dir(tmp.path()) == std::set<std::string>{"s"});
    }
    WARN(interrupted << " of " << k - 1 << " kills left a save's directory behind");
    CHECK(interrupted > 0);
}

TEST_CASE("zarr: stores that lie get an error naming the store and the field", "[zarr][hostile]") {
    const temp_dir tmp;
    const auto s = tmp / "s";
    std::filesystem::create_directories(s);
    const std::string meta = (s / ".zarray").string();
    const auto meta_error = [&](const std::string& text) {
        write_file(s / ".zarray", text);
        return what_of([&] { (void)z::load<double>(s); });
    };
    CHECK(what_of([&] { (void)z::load<double>(tmp / "none"); }) ==
          "ndshard: cannot open zarr store '" + (tmp / "none").string() + "': no such directory");
    CHECK(what_of([&] { (void)z::load<double>(s); }) ==
          "ndshard: cannot open zarr store '" + s.string() +
              "': expected a zarr array store (a directory holding .zarray), found a directory "
              "without .zarray");
    write_file(s / ".zgroup", R"({"zarr_format": 2})");
    CHECK(what_of([&] { (void)z::load<double>(s); }) ==
          "ndshard: cannot open zarr store '" + s.string() +
              "': expected a zarr array (a directory holding .zarray), found a zarr group "
              "(.zgroup): open one of its arrays");
    std::filesystem::remove(s / ".zgroup");
    CHECK(meta_error("{").find("ndshard: cannot read zarr metadata '" + meta +
                               "': not valid JSON") == 0);
    CHECK(meta_error(R"({"zarr_format": 3})") ==
          "ndshard: cannot read zarr metadata '" + meta + "': expected 'zarr_format' 2, found 3");
    CHECK(meta_error(zarray("[4]", "[0]", "<f8")) ==
          "ndshard: cannot read zarr metadata '" + meta +
              "': expected 'chunks' to hold integers of at least 1, found 0");
    CHECK(meta_error(zarray("[-4]", "[2]", "<f8")) ==
          "ndshard: cannot read zarr metadata '" + meta +
              "': expected 'shape' to hold integers of at least 0, found -4");
    CHECK(meta_error(zarray("[4, 4]", "[2]", "<f8")) ==
          "ndshard: cannot read zarr metadata '" + meta +
              "': expected 'chunks' of 2 dimensions (as 'shape'), found 1");
    CHECK(meta_error(zarray("[4294967296, 4294967296]", "[1, 1]", "<f8")) ==
          "ndshard: cannot read zarr metadata '" + meta +
              "': expected a 'shape' whose bytes fit in 63 bits, found [4294967296,4294967296]");
    CHECK(meta_error(zarray("[4]", "[2]", "<U4")) ==
          "ndshard: cannot read zarr metadata '" + meta +
              "': expected a 'dtype' ndshard reads (bool, int8-64, uint8-64, float32, float64, "
              "either byte order), found \"<U4\"");
    CHECK(meta_error(
              zarray("[4]", "[2]", "<f8", R"(, "filters": [{"id": "delta", "dtype": "<f8"}])")) ==
          "ndshard: cannot read zarr metadata '" + meta +
              "': expected 'filters' null, found [{\"dtype\":\"<f8\",\"id\":\"delta\"}] (ndshard "
              "reads no zarr filters)");
    CHECK(meta_error(zarray("[4]", "[2]", "<f8", R"(, "compressor": {"id": "lzma"})")) ==
          "ndshard: cannot read zarr metadata '" + meta +
              "': expected a 'compressor' ndshard reads (zstd, blosc, zlib, gzip), found 'lzma'");
    CHECK(meta_error(zarray("[4]", "[2]", "<f8", R"(, "order": "X")")) ==
          "ndshard: cannot read zarr metadata '" + meta +
              "': expected 'order' \"C\" or \"F\", found \"X\"");
    CHECK(meta_error(zarray("[4]", "[2]", "<i4", R"(, "fill_value": "NaN")")) ==
          "ndshard: cannot read zarr metadata '" + meta +
              "': expected a 'fill_value' of type int32, found \"NaN\"");

    // chunk files that do not match .zarray
    write_file(s / ".zarray", zarray("[4]", "[2]", "<f8"));
    write_file(s / "0", std::string(8, '\0'));
    CHECK(what_of([&] { (void)z::load<double>(s); }) ==
          "ndshard: cannot read zarr chunk '" + (s / "0").string() +
              "': expected 16 bytes (a chunk of shape (2,) of float64), found 8");
    write_file(s / "0", std::string(16, '\0'));
    write_file(s / "2", std::string(16, '\0'));
    CHECK(what_of([&] { (void)z::load<double>(s); }) ==
          "ndshard: cannot open zarr store '" + s.string() +
              "': found chunk '2' outside the grid of (2,) chunks that 'shape' (4,) and 'chunks' "
              "(2,) give: .zarray does not describe the data it sits beside");
    std::filesystem::remove(s / "2");
    std::filesystem::create_symlink("/etc/passwd", s / "1");
    CHECK(what_of([&] { (void)z::load<double>(s); }) ==
          "ndshard: cannot open for reading '" + (s / "1").string() +
              "': it is a symbolic link, and ndshard does not follow links inside a dataset "
              "directory");
    std::filesystem::remove(s / "1");
    CHECK(z::load<double>(s).size() == 4);

#ifdef NDSHARD_ZARR_CODECS
    // compressed chunks cut short, corrupted, or of another size
    const auto c = tmp / "c";
    z::save_options o;
    const auto a = sample<double>({1000});
    for (const auto codec : {z::codec::zstd, z::codec::blosc_lz4}) {
        o.compressor = codec;
        z::save(c, a, o);
        const std::string chunk = read_file(c / "0");
        const std::string shown = (c / "0").string();
        write_file(c / "0", chunk.substr(0, chunk.size() / 2));
        const std::string cut = what_of([&] { (void)z::load<double>(c); });
        CHECK(cut.find("ndshard: cannot decode zarr chunk '" + shown + "': ") == 0);
        CHECK(cut.find(": the chunk is corrupt") != std::string::npos);
        std::string flipped = chunk;
        for (std::size_t i = 40; i < flipped.size(); i += 97)
            flipped[i] = static_cast<char>(flipped[i] ^ 0x5a);
        write_file(c / "0", flipped);
        const std::string bad = what_of([&] { (void)z::load<double>(c); });
        CHECK(bad.find("ndshard: cannot decode zarr chunk '" + shown + "': ") == 0);
        // a chunk of another array's size
        z::save(c, sample<double>({10}), o);
        const std::string small = read_file(c / "0");
        z::save(c, a, o);
        write_file(c / "0", small);
        const std::string other = what_of([&] { (void)z::load<double>(c); });
        CHECK(other.find("expected 8000 bytes of elements, found a ") != std::string::npos);
    }
#endif
}
