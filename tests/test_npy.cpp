// .npy headers and single .npy files against fixtures that numpy wrote (tests/fixtures/README.md
// has the command that made each): format versions 1.0/2.0/3.0, key order, long headers,
// big-endian, Fortran order, every dtype, 0-d, empty; and corrupt files, each refused with its own
// message before anything is allocated.
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <limits>
#include <ndshard/ndshard.hpp>
#include <string>
#include <vector>

#include "support.hpp"

using ndshard_test::error_of;

namespace {

std::filesystem::path fixture(const std::string& name) {
    return std::filesystem::path(NDSHARD_FIXTURES) / name;
}

ndshard::npy_header header_of(const std::string& name) {
    const auto f = ndshard::file::open_read(fixture(name));
    return ndshard::read_npy_header(f);
}

template <class T>
std::vector<T> values_of(const xt::xarray<T>& a) {
    return std::vector<T>(a.begin(), a.end());  // row-major order
}

template <class T>
std::vector<std::size_t> shape_of(const xt::xarray<T>& a) {
    return {a.shape().begin(), a.shape().end()};
}

// The message read_npy gives for fixture `name`: "ndshard: <what> '<path>': <detail>".
std::string read_error(const std::string& name) {
    return error_of([&] { (void)ndshard::read_npy<double>(fixture(name)); });
}

std::string message(const std::string& what, const std::string& name, const std::string& detail) {
    return "ndshard: " + what + " '" + fixture(name).string() + "': " + detail;
}

template <class T, class Bits>
void check_float_bits(const std::string& name, const std::vector<Bits>& bits) {
    for (std::size_t threads : {1u, 4u}) {
        const auto a = ndshard::read_npy<T>(fixture(name), threads);
        REQUIRE(a.size() == bits.size());
        for (std::size_t i = 0; i < bits.size(); ++i) {
            Bits got;
            const T v = a(i);
            std::memcpy(&got, &v, sizeof got);
            INFO(name << " element " << i);
            REQUIRE(got == bits[i]);
        }
    }
}

template <class T>
void check_integer_extremes(const std::string& name) {
    using lim = std::numeric_limits<T>;
    const auto a = ndshard::read_npy<T>(fixture(name), 2);
    REQUIRE(values_of(a) == std::vector<T>{lim::min(), lim::max(), T(0), T(1), T(lim::max() / 3)});
}

}  // namespace

TEST_CASE("npy: format versions 1.0, 2.0 and 3.0", "[npy]") {
    const auto h1 = header_of("v1_f8.npy");
    REQUIRE(h1.major_version == 1);
    REQUIRE(h1.descr == "<f8");
    REQUIRE(h1.shape == std::vector<std::size_t>{3, 4});
    REQUIRE(!h1.fortran_order);
    REQUIRE(h1.data_offset == 128);
    REQUIRE(h1.data_bytes() == 96);
    const auto a = ndshard::read_npy<double>(fixture("v1_f8.npy"), 3);
    REQUIRE(shape_of(a) == std::vector<std::size_t>{3, 4});
    for (std::size_t i = 0; i < 12; ++i)
        REQUIRE(a.data()[i] == static_cast<double>(i) / 4);

    const auto h2 = header_of("v2_i4.npy");
    REQUIRE(h2.major_version == 2);
    REQUIRE(h2.data_offset == 128);
    const auto b = ndshard::read_npy<std::int32_t>(fixture("v2_i4.npy"));
    REQUIRE(shape_of(b) == std::vector<std::size_t>{4, 3});
    for (std::size_t i = 0; i < 12; ++i)
        REQUIRE(b.data()[i] == (static_cast<std::int32_t>(i) - 6) * 1000);

    const auto h3 = header_of("v3_u2.npy");
    REQUIRE(h3.major_version == 3);
    const auto c = ndshard::read_npy<std::uint16_t>(fixture("v3_u2.npy"), 2);
    REQUIRE(shape_of(c) == std::vector<std::size_t>{2, 5});
    for (std::size_t i = 0; i < 10; ++i)
        REQUIRE(c.data()[i] == i * 6553);
}

TEST_CASE("npy: header keys in another order", "[npy]") {
    const auto h = header_of("key_order.npy");
    REQUIRE(h.descr == "<i2");
    REQUIRE(h.shape == std::vector<std::size_t>{2, 3});
    const auto a = ndshard::read_npy<std::int16_t>(fixture("key_order.npy"));
    REQUIRE(values_of(a) == std::vector<std::int16_t>{0, 1, 2, 3, 4, 5});
}

TEST_CASE("npy: a version 1.0 header longer than 32767 bytes (its length is unsigned)", "[npy]") {
    const auto h = header_of("long_header.npy");
    REQUIRE(h.major_version == 1);
    REQUIRE(h.data_offset == 40064);
    const auto a = ndshard::read_npy<double>(fixture("long_header.npy"));
    REQUIRE(values_of(a) == std::vector<double>{1.5, -2.25});
}

TEST_CASE("npy: big-endian files are byte-swapped", "[npy]") {
    const auto h = header_of("big_endian_f8.npy");
    REQUIRE(h.descr == ">f8");
    REQUIRE(h.type.swap);
    const auto a = ndshard::read_npy<double>(fixture("big_endian_f8.npy"), 2);
    REQUIRE(shape_of(a) == std::vector<std::size_t>{2, 3});
    REQUIRE(values_of(a) == std::vector<double>{0.5, 1.5, 2.5, 3.5, 4.5, 5.5});
    const auto b = ndshard::read_npy<std::int32_t>(fixture("big_endian_i4.npy"), 3);
    REQUIRE(values_of(b) == std::vector<std::int32_t>{1, -2, 0x01020304, INT32_MIN});
}

TEST_CASE("npy: Fortran-ordered files give the right values", "[npy]") {
    REQUIRE(header_of("fortran_2d.npy").fortran_order);
    const auto a = ndshard::read_npy<double>(fixture("fortran_2d.npy"), 2);
    REQUIRE(shape_of(a) == std::vector<std::size_t>{3, 4});
    for (std::size_t r = 0; r < 3; ++r)
        for (std::size_t c = 0; c < 4; ++c)
            REQUIRE(a(r, c) == static_cast<double>(r * 4 + c));
    REQUIRE(values_of(a) == std::vector<double>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});

    const auto b = ndshard::read_npy<std::int32_t>(fixture("fortran_3d.npy"), 3);
    REQUIRE(shape_of(b) == std::vector<std::size_t>{2, 3, 4});
    for (std::size_t i = 0; i < 2; ++i)
        for (std::size_t j = 0; j < 3; ++j)
            for (std::size_t k = 0; k < 4; ++k)
                REQUIRE(b(i, j, k) == static_cast<std::int32_t>(i * 12 + j * 4 + k));

    const auto c = ndshard::read_npy<std::int16_t>(fixture("fortran_big_endian.npy"));
    REQUIRE(values_of(c) == std::vector<std::int16_t>{-3, -2, -1, 0, 1, 2});
}

TEST_CASE("npy: every dtype numpy wrote, bit for bit", "[npy]") {
    const auto b = ndshard::read_npy<bool>(fixture("dtype_b1.npy"));
    REQUIRE(values_of(b) == std::vector<bool>{true, false, false, true});
    check_integer_extremes<std::int8_t>("dtype_i1.npy");
    check_integer_extremes<std::int16_t>("dtype_i2.npy");
    check_integer_extremes<std::int32_t>("dtype_i4.npy");
    check_integer_extremes<std::int64_t>("dtype_i8.npy");
    check_integer_extremes<std::uint8_t>("dtype_u1.npy");
    check_integer_extremes<std::uint16_t>("dtype_u2.npy");
    check_integer_extremes<std::uint32_t>("dtype_u4.npy");
    check_integer_extremes<std::uint64_t>("dtype_u8.npy");
    check_float_bits<float>(
        "dtype_f4.npy",
        std::vector<std::uint32_t>{0xff7fffff, 0x7f7fffff, 0x00800000, 0x00000001, 0x80000000,
                                   0x7f800000, 0xff800000, 0x7fc12345, 0x7f812345, 0x3eaaaaab});
    check_float_bits<double>(
        "dtype_f8.npy",
        std::vector<std::uint64_t>{0xffefffffffffffff, 0x7fefffffffffffff, 0x0010000000000000,
                                   0x0000000000000001, 0x8000000000000000, 0x7ff0000000000000,
                                   0xfff0000000000000, 0x7ff8000000000123, 0x7ff0000000000001,
                                   0x3fb999999999999a});
}

TEST_CASE("npy: bool bytes other than 0 and 1 read as true, stored as 1", "[npy]") {
    const auto a = ndshard::read_npy<bool>(fixture("bool_bytes.npy"), 2);
    REQUIRE(a.size() == 4);
    const unsigned char expected[] = {0, 1, 1, 1};
    REQUIRE(std::memcmp(a.data(), expected, 4) == 0);
}

TEST_CASE("npy: 0-d and empty arrays", "[npy]") {
    const auto z = ndshard::read_npy<double>(fixture("zero_d.npy"));
    REQUIRE(z.dimension() == 0);
    REQUIRE(z.size() == 1);
    REQUIRE(z() == -7.25);
    const auto e = ndshard::read_npy<float>(fixture("empty_0x3.npy"), 4);
    REQUIRE(shape_of(e) == std::vector<std::size_t>{0, 3});
    const auto f = ndshard::read_npy<std::int64_t>(fixture("empty_2x0.npy"), 4);
    REQUIRE(shape_of(f) == std::vector<std::size_t>{2, 0});
}

TEST_CASE("npy: corrupt files are refused with a message naming the file", "[npy]") {
    REQUIRE(read_error("bad_magic.npy") ==
            message("not a .npy file:", "bad_magic.npy",
                    "expected the magic string \\x93NUMPY at byte 0"));
    REQUIRE(read_error("bad_version.npy") == message("invalid .npy header in", "bad_version.npy",
                                                     "expected format version 1, 2 or 3, found 4"));
    REQUIRE(read_error("truncated_data.npy") ==
            message("truncated .npy file", "truncated_data.npy",
                    "the header promises 96 bytes of data (file size 224), found file size 219"));
    REQUIRE(read_error("truncated_header.npy") ==
            message("invalid .npy header in", "truncated_header.npy",
                    "expected a 118-byte header, found only 50 bytes"));
    REQUIRE(read_error("garbage_dict.npy") ==
            message("invalid .npy header in", "garbage_dict.npy",
                    "expected '{' at byte 0 of the dict, found 'this is not a di...'"));
    REQUIRE(read_error("missing_key.npy") ==
            message("invalid .npy header in", "missing_key.npy", "missing key 'fortran_order'"));
    REQUIRE(read_error("complex.npy") ==
            message("invalid .npy header in", "complex.npy",
                    "expected a numeric descr such as '<f8', found '<c16'"));
}

TEST_CASE("npy: a huge shape or header length is refused before any allocation", "[npy]") {
    // error_of lets std::bad_alloc escape: a reader that allocated first would fail here
    REQUIRE(read_error("huge_shape.npy") ==
            message("truncated .npy file", "huge_shape.npy",
                    "the header promises 8000000000000000000 bytes of data (file size "
                    "8000000000000000128), found file size 128"));
    REQUIRE(read_error("overflow_shape.npy") == message("invalid .npy header in",
                                                        "overflow_shape.npy",
                                                        "'shape' holds more than 2^63 elements"));
    REQUIRE(read_error("huge_header_length.npy") ==
            message("invalid .npy header in", "huge_header_length.npy",
                    "header length 4294967295 exceeds the limit of 1048576 bytes"));
}

TEST_CASE("npy: the element type must match the file's", "[npy]") {
    REQUIRE(
        error_of([] { (void)ndshard::read_npy<float>(fixture("v1_f8.npy")); }) ==
        message("cannot read", "v1_f8.npy", "expected dtype <f4 (float32), found <f8 (float64)"));
    REQUIRE(error_of([] {
                (void)ndshard::read_npy<std::uint32_t>(fixture("big_endian_i4.npy"));
            }) == message("cannot read", "big_endian_i4.npy",
                          "expected dtype <u4 (uint32), found >i4 (int32)"));
}

TEST_CASE("npy: decode_npy_header refuses malformed dicts", "[npy]") {
    const auto decode = [](const std::string& dict, char major = 1) {
        std::string h = std::string("\x93NUMPY") + major + '\0';
        const std::size_t len = dict.size();
        h += static_cast<char>(len & 0xff);
        h += static_cast<char>(len >> 8);
        if (major != 1) h += std::string(2, '\0');
        return error_of([&] { (void)ndshard::decode_npy_header(h + dict, "f.npy"); });
    };
    const auto bad = [](const std::string& detail) {
        return "ndshard: invalid .npy header in 'f.npy': " + detail;
    };
    const std::string ok_tail = "'fortran_order': False, 'shape': (2,), }";
    REQUIRE(decode("{'descr': '<f8', " + ok_tail).empty());
    REQUIRE(decode("{\"descr\": \"<f8\", " + ok_tail, 2).empty());  // either quote
    REQUIRE(decode("{'descr': '<f8', 'fortran_order': False, 'shape': (2L, 3L)}\n").empty());
    REQUIRE(decode("{'descr': '<f8', 'descr': '<f8', " + ok_tail) ==
            bad("key 'descr' appears twice"));
    REQUIRE(decode("{'descr': '<f8', 'fortran_order': 0, 'shape': (2,), }") ==
            bad("expected True or False for 'fortran_order', found '0, 'shape': (2,)...'"));
    REQUIRE(decode("{'descr': '<f8', 'extra': 1, " + ok_tail) ==
            bad("expected the keys 'descr', 'fortran_order' and 'shape', found 'extra'"));
    REQUIRE(decode("{'descr': '<f8', " + ok_tail + " x") ==
            bad("unexpected text after the header dict"));
    REQUIRE(decode("{'descr': '<f8") == bad("unterminated string in the header dict"));
    REQUIRE(decode("{'descr': '<f8', 'fortran_order': False, 'shape': (-2,), }") ==
            bad("expected a dimension in 'shape', found '-2,), }'"));
    REQUIRE(
        decode("{'descr': '<f8', 'fortran_order': False, 'shape': (18446744073709551616,), }") ==
        bad("a dimension in 'shape' does not fit in 64 bits"));
    std::string many = "{'descr': '<f8', 'fortran_order': False, 'shape': (";
    for (int i = 0; i < 65; ++i)
        many += "1, ";
    REQUIRE(decode(many + "), }") == bad("'shape' has more than 64 dimensions"));
    REQUIRE(decode("{'descr': '<f8', 'fortran_order': False, 'shape': (1152921504606846976,), }") ==
            bad("'shape' describes more than 2^63 bytes"));
    REQUIRE(decode("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 7) ==
            bad("expected format version 1, 2 or 3, found 7"));
    REQUIRE(error_of([] { (void)ndshard::decode_npy_header("\x93NUMPY\x01", "f.npy"); }) ==
            bad("the file ends inside the header"));
    REQUIRE(error_of([] { (void)ndshard::decode_npy_header("", "f.npy"); }) ==
            "ndshard: not a .npy file: 'f.npy': expected the magic string \\x93NUMPY at byte 0");
}

TEST_CASE("npy: encode_npy_header writes what numpy writes and decode reads it back", "[npy]") {
    const std::string h = ndshard::encode_npy_header("<f8", {3, 4});
    REQUIRE(h.size() % 64 == 0);
    REQUIRE(h.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
    const std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }";
    REQUIRE(h.substr(10, dict.size()) == dict);
    REQUIRE(h.find_first_not_of(' ', 10 + dict.size()) == h.size() - 1);  // space padding
    REQUIRE(h.back() == '\n');
    for (const auto& shape :
         std::vector<std::vector<std::size_t>>{{}, {5}, {0}, {2, 0, 3}, {1, 2, 3, 4, 5}}) {
        const auto e = ndshard::encode_npy_header("|u1", shape);
        REQUIRE(e.size() % 64 == 0);
        const auto d = ndshard::decode_npy_header(e, "x.npy");
        REQUIRE(d.shape == shape);
        REQUIRE(d.descr == "|u1");
        REQUIRE(d.data_offset == e.size());
    }
    REQUIRE(ndshard::shape_text({}) == "()");
    REQUIRE(ndshard::shape_text({5}) == "(5,)");
    REQUIRE(ndshard::shape_text({3, 4}) == "(3, 4)");
    // the header of the fixture numpy wrote decodes to the same fields as ours
    const std::string numpy_made = ndshard_test::read_file(fixture("v1_f8.npy")).substr(0, 128);
    const auto n = ndshard::decode_npy_header(numpy_made, "v1_f8.npy");
    const auto o = ndshard::decode_npy_header(h, "ours.npy");
    REQUIRE(n.descr == o.descr);
    REQUIRE(n.shape == o.shape);
    REQUIRE(n.data_offset == o.data_offset);
}

TEST_CASE("npy: write_npy replaces a file whole and leaves no temporary file", "[npy]") {
    ndshard_test::temp_dir tmp;
    const xt::xarray<int> a = {{1, 2}, {3, 4}};
    ndshard::write_npy(tmp / "a.npy", a, 2);
    ndshard::write_npy(tmp / "a.npy", xt::xarray<int>{7}, 2);
    REQUIRE(values_of(ndshard::read_npy<int>(tmp / "a.npy")) == std::vector<int>{7});
    REQUIRE(ndshard_test::list_dir(tmp.path()) == std::set<std::string>{"a.npy"});
    // threads beyond the element count
    ndshard::write_npy(tmp / "b.npy", a, 16);
    REQUIRE((ndshard::read_npy<int>(tmp / "b.npy", 16) == a));
}

TEST_CASE("npy: headers are byte-identical to the ones numpy wrote", "[npy]") {
    // every valid C-order fixture numpy made: our header for the same descr and shape matches
    // numpy's byte for byte (growth-axis spaces, 1-64 bytes of padding, version 1.0)
    for (const char* name : {"v1_f8.npy", "dtype_b1.npy", "dtype_f4.npy", "dtype_i1.npy",
                             "dtype_u8.npy", "empty_0x3.npy", "empty_2x0.npy", "zero_d.npy"}) {
        INFO(name);
        const std::string bytes = ndshard_test::read_file(fixture(name));
        const auto h = ndshard::decode_npy_header(bytes, name);
        REQUIRE(!h.fortran_order);
        REQUIRE(ndshard::encode_npy_header(h.descr, h.shape) ==
                bytes.substr(0, static_cast<std::size_t>(h.data_offset)));
    }
}
