// mapped_npy: .npy files used in place through a shared read-only map. Exact values for every
// dtype and ranks 0 to 3 (numpy's fixtures, tests/fixtures/README.md), zero copy, empty arrays,
// row views; files that cannot be used in place refused with their own message; a mapping that
// outlives write_npy replacing its file.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <ndshard/ndshard.hpp>
#include <sstream>
#include <string>
#include <vector>
#include <xtensor/xarray.hpp>

#include "support.hpp"

namespace {

std::filesystem::path fixture(const std::string& name) {
    return std::filesystem::path(NDSHARD_FIXTURES) / name;
}

std::string message(const std::string& what, const std::filesystem::path& file,
                    const std::string& detail) {
    return "ndshard: " + what + " '" + file.string() + "': " + detail;
}

template <class E>
std::vector<typename E::value_type> values_of(const E& a) {
    return std::vector<typename E::value_type>(a.begin(), a.end());  // row-major order
}

template <class E>
std::vector<std::size_t> shape_of(const E& a) {
    return {a.shape().begin(), a.shape().end()};
}

/// The line of /proc/self/maps whose range holds `p`, or "".
std::string mapping_of(const void* p) {
    std::ifstream maps("/proc/self/maps");
    const auto addr = reinterpret_cast<std::uintptr_t>(p);
    for (std::string line; std::getline(maps, line);) {
        std::istringstream in(line);
        std::uintptr_t lo = 0, hi = 0;
        char dash = 0;
        in >> std::hex >> lo >> dash >> hi;
        if (lo <= addr && addr < hi) return line;
    }
    return "";
}

/// A .npy file of `header` (encoded as given) followed by `data`.
void write_raw_npy(const std::filesystem::path& p, const std::string& header,
                   const std::string& data) {
    ndshard_test::write_file(p, header + data);
}

/// Maps fixture `name` and checks it holds the very bytes and shape read_npy gives (whose values
/// test_npy.cpp checks bit for bit against numpy's).
template <class T>
void check_same_as_read_npy(const std::string& name) {
    INFO(name);
    const ndshard::mapped_npy<T> m(fixture(name));
    const auto a = ndshard::read_npy<T>(fixture(name));
    REQUIRE(m.shape() == shape_of(a));
    REQUIRE(m.size() == a.size());
    REQUIRE(std::memcmp(m.data(), a.data(), a.size() * sizeof(T)) == 0);
}

/// The message for a file `name` that cannot be used in place without `copy`.
std::string refusal(const std::string& name, const std::string& detail, const std::string& copy) {
    return message(
        "cannot map", fixture(name),
        detail + ", which cannot be used in place without " + copy + " (read_npy makes one)");
}

}  // namespace

TEST_CASE("mapped_npy: exact values of numpy's files, ranks 0 to 2", "[mapped]") {
    const ndshard::mapped_npy<double> f8(fixture("v1_f8.npy"));
    REQUIRE(f8.shape() == std::vector<std::size_t>{3, 4});
    REQUIRE(f8.size() == 12);
    REQUIRE(f8.rows() == 3);
    REQUIRE(f8.path() == fixture("v1_f8.npy"));
    const auto a = f8.array();
    REQUIRE(shape_of(a) == std::vector<std::size_t>{3, 4});
    REQUIRE(a(1, 2) == 1.5);
    REQUIRE(values_of(a) ==
            std::vector<double>{0, .25, .5, .75, 1, 1.25, 1.5, 1.75, 2, 2.25, 2.5, 2.75});

    const ndshard::mapped_npy<std::int32_t> i4(fixture("v2_i4.npy"));  // format 2.0
    REQUIRE(i4.shape() == std::vector<std::size_t>{4, 3});
    REQUIRE(i4.array()(3, 2) == 5000);
    REQUIRE(i4.data()[0] == -6000);

    const ndshard::mapped_npy<std::uint16_t> u2(fixture("v3_u2.npy"));  // format 3.0
    REQUIRE(values_of(u2.array()) == std::vector<std::uint16_t>{0, 6553, 13106, 19659, 26212, 32765,
                                                                39318, 45871, 52424, 58977});

    const ndshard::mapped_npy<std::int16_t> keys(fixture("key_order.npy"));
    REQUIRE(values_of(keys.array()) == std::vector<std::int16_t>{0, 1, 2, 3, 4, 5});
    const ndshard::mapped_npy<double> long_header(fixture("long_header.npy"));  // offset 40064
    REQUIRE(values_of(long_header.array()) == std::vector<double>{1.5, -2.25});

    const ndshard::mapped_npy<double> z(fixture("zero_d.npy"));
    REQUIRE(z.shape().empty());
    REQUIRE(z.size() == 1);
    REQUIRE(z.rows() == 1);
    REQUIRE(z.array().dimension() == 0);
    REQUIRE(z.array()() == -7.25);
}

TEST_CASE("mapped_npy: every dtype numpy wrote, bit for bit", "[mapped]") {
    const ndshard::mapped_npy<bool> b(fixture("dtype_b1.npy"));
    REQUIRE(values_of(b.array()) == std::vector<bool>{true, false, false, true});
    const ndshard::mapped_npy<std::int8_t> i1(fixture("dtype_i1.npy"));
    REQUIRE(values_of(i1.array()) == std::vector<std::int8_t>{-128, 127, 0, 1, 42});
    const ndshard::mapped_npy<std::uint64_t> u8(fixture("dtype_u8.npy"));
    REQUIRE(u8.data()[1] == UINT64_MAX);
    check_same_as_read_npy<bool>("dtype_b1.npy");
    check_same_as_read_npy<std::int8_t>("dtype_i1.npy");
    check_same_as_read_npy<std::int16_t>("dtype_i2.npy");
    check_same_as_read_npy<std::int32_t>("dtype_i4.npy");
    check_same_as_read_npy<std::int64_t>("dtype_i8.npy");
    check_same_as_read_npy<std::uint8_t>("dtype_u1.npy");
    check_same_as_read_npy<std::uint16_t>("dtype_u2.npy");
    check_same_as_read_npy<std::uint32_t>("dtype_u4.npy");
    check_same_as_read_npy<std::uint64_t>("dtype_u8.npy");
    check_same_as_read_npy<float>("dtype_f4.npy");  // NaN payloads, subnormals, -0
    check_same_as_read_npy<double>("dtype_f8.npy");
    const ndshard::mapped_npy<double> f8(fixture("dtype_f8.npy"));
    std::uint64_t bits = 0;
    std::memcpy(&bits, f8.data() + 7, sizeof bits);
    REQUIRE(bits == 0x7ff8000000000123);  // a NaN's payload, as numpy wrote it
}

TEST_CASE("mapped_npy: rank 3 written by write_npy, and row views", "[mapped]") {
    ndshard_test::temp_dir tmp;
    xt::xarray<std::int64_t> x = xt::xarray<std::int64_t>::from_shape({2, 3, 4});
    for (std::size_t i = 0; i < x.size(); ++i)
        x.data()[i] = static_cast<std::int64_t>(i * i) - 100;
    ndshard::write_npy(tmp / "x.npy", x, 2);

    const ndshard::mapped_npy<std::int64_t> m(tmp / "x.npy");
    REQUIRE(m.shape() == std::vector<std::size_t>{2, 3, 4});
    REQUIRE(m.rows() == 2);
    REQUIRE((m.array() == x));
    for (std::size_t i = 0; i < 2; ++i)
        for (std::size_t j = 0; j < 3; ++j)
            for (std::size_t k = 0; k < 4; ++k)
                REQUIRE(m.array()(i, j, k) == x(i, j, k));

    const auto r1 = m.row(1);
    REQUIRE(shape_of(r1) == std::vector<std::size_t>{3, 4});
    REQUIRE(r1.data() == m.data() + 12);
    REQUIRE(r1(2, 3) == x(1, 2, 3));
    const auto r = m.rows(1, 2);
    REQUIRE(shape_of(r) == std::vector<std::size_t>{1, 3, 4});
    REQUIRE(r(0, 1, 1) == x(1, 1, 1));
    REQUIRE(shape_of(m.rows(2, 2)) == std::vector<std::size_t>{0, 3, 4});
    REQUIRE((m.rows(0, 2) == x));

    // a mapping is an xtensor expression like any other: it saves without a copy
    ndshard::write_npy(tmp / "copy.npy", m.rows(1, 2));
    REQUIRE((ndshard::read_npy<std::int64_t>(tmp / "copy.npy") == xt::view(x, xt::range(1, 2))));

    const auto p = tmp / "x.npy";
    REQUIRE_THROWS_WITH(m.row(2),
                        message("cannot take a row of", p, "expected a row below 2, found row 2"));
    REQUIRE_THROWS_WITH(m.rows(1, 3), message("cannot take rows of", p,
                                              "expected a row range within [0, 2), found [1, 3)"));
    REQUIRE_THROWS_WITH(m.rows(2, 1), message("cannot take rows of", p,
                                              "expected a row range within [0, 2), found [2, 1)"));
    const ndshard::mapped_npy<double> z(fixture("zero_d.npy"));
    REQUIRE_THROWS_WITH(z.row(0),
                        message("cannot take rows of", fixture("zero_d.npy"),
                                "expected an array of rank 1 or more, found a 0-d array"));
}

TEST_CASE("mapped_npy: zero copy, a shared read-only map of the file", "[mapped]") {
    const ndshard::mapped_npy<double> m(fixture("v1_f8.npy"));
    const auto a = m.array();
    REQUIRE(a.data() == m.data());
    REQUIRE(&a(2, 3) == m.data() + 11);
    // the data sits at its file offset (128) within a page of a mapping of that very file
    REQUIRE(reinterpret_cast<std::uintptr_t>(m.data()) % 4096 == 128);
    const std::string line = mapping_of(m.data());
    INFO(line);
    REQUIRE(line.find(" r--s ") != std::string::npos);  // readable only, shared
    REQUIRE(line.size() >= fixture("v1_f8.npy").string().size());
    REQUIRE(line.compare(line.size() - fixture("v1_f8.npy").string().size(), std::string::npos,
                         fixture("v1_f8.npy").string()) == 0);
}

TEST_CASE("mapped_npy: two mappings of one file in one process", "[mapped]") {
    const ndshard::mapped_npy<double> a(fixture("v1_f8.npy"));
    const ndshard::mapped_npy<double> b(fixture("v1_f8.npy"));
    REQUIRE(a.data() != b.data());
    REQUIRE((a.array() == b.array()));
    REQUIRE(std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

TEST_CASE("mapped_npy: moves hand the mapping over", "[mapped]") {
    ndshard::mapped_npy<double> a(fixture("v1_f8.npy"));
    const double* p = a.data();
    ndshard::mapped_npy<double> b(std::move(a));
    REQUIRE(b.data() == p);
    REQUIRE(b.shape() == std::vector<std::size_t>{3, 4});
    REQUIRE(a.size() == 0);  // NOLINT(bugprone-use-after-move): a moved-from mapping is empty
    ndshard::mapped_npy<double> c(fixture("dtype_f8.npy"));
    c = std::move(b);
    REQUIRE(c.data() == p);
    REQUIRE(c.array()(2, 3) == 2.75);
    REQUIRE(c.path() == fixture("v1_f8.npy"));
}

TEST_CASE("mapped_npy: empty arrays map nothing and keep their shape", "[mapped]") {
    const ndshard::mapped_npy<float> e(fixture("empty_0x3.npy"));
    REQUIRE(e.shape() == std::vector<std::size_t>{0, 3});
    REQUIRE(e.size() == 0);
    REQUIRE(e.rows() == 0);
    REQUIRE(e.data() != nullptr);
    const auto a = e.array();
    REQUIRE(shape_of(a) == std::vector<std::size_t>{0, 3});
    REQUIRE(a.size() == 0);
    REQUIRE(a.begin() == a.end());
    REQUIRE(shape_of(e.rows(0, 0)) == std::vector<std::size_t>{0, 3});

    const ndshard::mapped_npy<std::int64_t> f(fixture("empty_2x0.npy"));
    REQUIRE(shape_of(f.array()) == std::vector<std::size_t>{2, 0});
    REQUIRE(shape_of(f.row(1)) == std::vector<std::size_t>{0});

    ndshard_test::temp_dir tmp;
    ndshard::write_npy(tmp / "e.npy", f.array());  // an empty mapping saves as any empty array
    REQUIRE(shape_of(ndshard::read_npy<std::int64_t>(tmp / "e.npy")) ==
            std::vector<std::size_t>{2, 0});
}

TEST_CASE("mapped_npy: Fortran order is accepted where it is C order too", "[mapped]") {
    ndshard_test::temp_dir tmp;
    const double v[] = {1.5, 2.5, 3.5};
    const std::string data(reinterpret_cast<const char*>(v), sizeof v);
    write_raw_npy(tmp / "row.npy", ndshard::encode_npy_header("<f8", {1, 3}, true), data);
    write_raw_npy(tmp / "vec.npy", ndshard::encode_npy_header("<f8", {3}, true), data);
    write_raw_npy(tmp / "empty.npy", ndshard::encode_npy_header("<f8", {0, 4}, true), "");
    REQUIRE(values_of(ndshard::mapped_npy<double>(tmp / "row.npy").array()) ==
            std::vector<double>{1.5, 2.5, 3.5});
    REQUIRE(values_of(ndshard::mapped_npy<double>(tmp / "vec.npy").array()) ==
            std::vector<double>{1.5, 2.5, 3.5});
    REQUIRE(ndshard::mapped_npy<double>(tmp / "empty.npy").shape() ==
            std::vector<std::size_t>{0, 4});
}

TEST_CASE("mapped_npy: files that cannot be used in place are refused", "[mapped]") {
    REQUIRE_THROWS_WITH(ndshard::mapped_npy<float>(fixture("v1_f8.npy")),
                        message("cannot map", fixture("v1_f8.npy"),
                                "expected dtype <f4 (float32), found <f8 (float64)"));
    REQUIRE_THROWS_WITH(ndshard::mapped_npy<std::uint32_t>(fixture("big_endian_i4.npy")),
                        message("cannot map", fixture("big_endian_i4.npy"),
                                "expected dtype <u4 (uint32), found >i4 (int32)"));
    REQUIRE_THROWS_WITH(
        ndshard::mapped_npy<double>(fixture("big_endian_f8.npy")),
        refusal("big_endian_f8.npy", "expected dtype <f8 (float64), found >f8 (big-endian float64)",
                "a byte-swapped copy"));
    REQUIRE_THROWS_WITH(
        ndshard::mapped_npy<std::int16_t>(fixture("fortran_big_endian.npy")),
        refusal("fortran_big_endian.npy",
                "expected dtype <i2 (int16), found >i2 (big-endian int16)", "a byte-swapped copy"));
    REQUIRE_THROWS_WITH(
        ndshard::mapped_npy<double>(fixture("fortran_2d.npy")),
        refusal("fortran_2d.npy", "expected C order, found Fortran order for shape (3, 4)",
                "a transposed copy"));
    REQUIRE_THROWS_WITH(
        ndshard::mapped_npy<std::int32_t>(fixture("fortran_3d.npy")),
        refusal("fortran_3d.npy", "expected C order, found Fortran order for shape (2, 3, 4)",
                "a transposed copy"));
    // numpy reads the bytes 0, 1, 2, 255 as False, True, True, True; a C++ bool holding 2 is
    // undefined behaviour
    REQUIRE_THROWS_WITH(
        ndshard::mapped_npy<bool>(fixture("bool_bytes.npy")),
        refusal("bool_bytes.npy", "expected bool bytes 0 or 1, found 2 at element 2",
                "a copy that stores it as 1"));
}

TEST_CASE("mapped_npy: a bool byte past 1 is found anywhere in a large file", "[mapped]") {
    ndshard_test::temp_dir tmp;
    const std::size_t n = 3 * 4096 + 77;
    std::string data(n, '\1');
    for (std::size_t i = 0; i < n; i += 3)
        data[i] = '\0';
    write_raw_npy(tmp / "ok.npy", ndshard::encode_npy_header("|b1", {n}), data);
    const ndshard::mapped_npy<bool> ok(tmp / "ok.npy");
    REQUIRE(ok.data()[n - 1] == ((n - 1) % 3 != 0));
    data[n - 5] = '\x80';
    write_raw_npy(tmp / "bad.npy", ndshard::encode_npy_header("|b1", {n}), data);
    REQUIRE_THROWS_WITH(ndshard::mapped_npy<bool>(tmp / "bad.npy"),
                        message("cannot map", tmp / "bad.npy",
                                "expected bool bytes 0 or 1, found 128 at element 12360, which "
                                "cannot be used in place without a copy that stores it as 1 "
                                "(read_npy makes one)"));
}

TEST_CASE("mapped_npy: data not aligned for the element type is refused", "[mapped]") {
    ndshard_test::temp_dir tmp;
    // hand-made headers of 125 bytes in all: numpy's are padded to a multiple of 64
    const auto odd_header = [](const std::string& descr) {
        std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (2,), }";
        dict.resize(125 - 10 - 1, ' ');
        return std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(dict.size() + 1) + '\0' +
               dict + '\n';
    };
    const double v[] = {1.0, 2.0};
    write_raw_npy(tmp / "odd.npy", odd_header("<f8"),
                  std::string(reinterpret_cast<const char*>(v), sizeof v));
    REQUIRE((ndshard::read_npy<double>(tmp / "odd.npy") == xt::xarray<double>{1.0, 2.0}));
    REQUIRE_THROWS_WITH(ndshard::mapped_npy<double>(tmp / "odd.npy"),
                        message("cannot map", tmp / "odd.npy",
                                "expected the data at an offset that is a multiple of 8 (the "
                                "alignment of float64), found offset 125, which cannot be used "
                                "in place without a copy (read_npy makes one)"));
    // one byte per element: any offset will do
    write_raw_npy(tmp / "odd_u1.npy", odd_header("|u1"), "\x07\x09");
    REQUIRE(values_of(ndshard::mapped_npy<std::uint8_t>(tmp / "odd_u1.npy").array()) ==
            std::vector<std::uint8_t>{7, 9});
}

TEST_CASE("mapped_npy: missing, truncated and corrupt files", "[mapped]") {
    ndshard_test::temp_dir tmp;
    REQUIRE_THROWS_WITH(
        ndshard::mapped_npy<double>(tmp / "none.npy"),
        message("cannot open for reading", tmp / "none.npy", "No such file or directory"));
    REQUIRE_THROWS_WITH(ndshard::mapped_npy<double>(tmp.path()),
                        message("cannot read", tmp.path(), "Is a directory"));
    REQUIRE_THROWS_WITH(
        ndshard::mapped_npy<double>(fixture("truncated_data.npy")),
        message("truncated .npy file", fixture("truncated_data.npy"),
                "the header promises 96 bytes of data (file size 224), found file size 219"));
    REQUIRE_THROWS_WITH(ndshard::mapped_npy<double>(fixture("truncated_header.npy")),
                        message("invalid .npy header in", fixture("truncated_header.npy"),
                                "expected a 118-byte header, found only 50 bytes"));
    REQUIRE_THROWS_WITH(ndshard::mapped_npy<double>(fixture("bad_magic.npy")),
                        message("not a .npy file:", fixture("bad_magic.npy"),
                                "expected the magic string \\x93NUMPY at byte 0"));
    REQUIRE_THROWS_WITH(ndshard::mapped_npy<double>(fixture("huge_shape.npy")),
                        message("truncated .npy file", fixture("huge_shape.npy"),
                                "the header promises 8000000000000000000 bytes of data (file "
                                "size 8000000000000000128), found file size 128"));
}

TEST_CASE("mapped_npy: a mapping keeps the old file when write_npy replaces it", "[mapped]") {
    ndshard_test::temp_dir tmp;
    const auto p = tmp / "a.npy";
    const xt::xarray<double> before = {{1.0, 2.0}, {3.0, 4.0}};
    const xt::xarray<double> after = {{-1.0, -2.0, -3.0}};
    ndshard::write_npy(p, before);
    const ndshard::mapped_npy<double> old(p);
    ndshard::write_npy(p, after);  // a new file renamed over the old one, never rewritten
    REQUIRE((old.array() == before));
    const ndshard::mapped_npy<double> fresh(p);
    REQUIRE((fresh.array() == after));
    std::filesystem::remove(p);  // the pages live as long as the mapping
    REQUIRE((old.array() == before));
    REQUIRE((fresh.array() == after));
}
