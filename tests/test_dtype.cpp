// Element types: every supported type round-trips bit-exactly through a dataset and a single .npy
// file (extremes, NaN payloads, signed zeros, subnormals); numpy descr strings parse or are
// refused.
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <limits>
#include <ndshard/ndshard.hpp>
#include <vector>

#include "support.hpp"

namespace {

template <class T, class Bits>
T from_bits(Bits bits) {
    static_assert(sizeof(T) == sizeof(Bits));
    T v;
    std::memcpy(&v, &bits, sizeof(T));
    return v;
}

// Values that exercise every bit of T: extremes, zero, neighbours of zero, and for floats
// infinities, subnormals, signed zero and NaNs with payloads (quiet, signalling, negative).
template <class T>
std::vector<T> interesting_values() {
    using lim = std::numeric_limits<T>;
    if constexpr (std::is_same_v<T, bool>) {
        return {true, false, false, true, true, true};
    } else if constexpr (std::is_same_v<T, float>) {
        return {lim::lowest(),
                lim::max(),
                lim::min(),
                lim::denorm_min(),
                0.0f,
                -0.0f,
                lim::infinity(),
                -lim::infinity(),
                lim::epsilon(),
                1.0f / 3.0f,
                from_bits<float>(std::uint32_t{0x7fc12345}),   // quiet NaN with a payload
                from_bits<float>(std::uint32_t{0x7f812345}),   // signalling NaN
                from_bits<float>(std::uint32_t{0xffc00001})};  // negative NaN
    } else if constexpr (std::is_same_v<T, double>) {
        return {lim::lowest(),
                lim::max(),
                lim::min(),
                lim::denorm_min(),
                0.0,
                -0.0,
                lim::infinity(),
                -lim::infinity(),
                lim::epsilon(),
                0.1,
                from_bits<double>(std::uint64_t{0x7ff8000000000123}),
                from_bits<double>(std::uint64_t{0x7ff0000000000001}),
                from_bits<double>(std::uint64_t{0xfff8dead0000beef})};
    } else {
        std::vector<T> v = {lim::min(),        lim::max(),        T(0),   T(1),
                            T(lim::max() - 1), T(lim::min() + 1), T(0x5a)};
        if constexpr (std::is_signed_v<T>) v.push_back(T(-1));
        return v;
    }
}

// 7 rows of the values above, each row shifted, so that every shard holds a different mix
template <class T>
xt::xarray<T> interesting_array() {
    const auto v = interesting_values<T>();
    const std::size_t rows = 7, cols = v.size();
    xt::xarray<T> a = xt::xarray<T>::from_shape({rows, cols});
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < cols; ++c)
            a(r, c) = v[(r + c) % cols];
    return a;
}

template <class T>
void check_round_trips(const char* descr, const char* name) {
    REQUIRE(ndshard::descr_of<T>() == descr);
    REQUIRE(ndshard::dtype_name(ndshard::dtype_of<T>()) == name);
    ndshard_test::temp_dir tmp;
    const xt::xarray<T> a = interesting_array<T>();

    const auto info = ndshard::save(tmp / "ds", a, {ndshard::shard_format::npy, 3, 2});
    REQUIRE(info.dtype == descr);
    REQUIRE(ndshard::inspect(tmp / "ds").dtype == descr);
    const xt::xarray<T> b = ndshard::load<T>(tmp / "ds", {2});
    REQUIRE(b.shape() == a.shape());
    REQUIRE(ndshard_test::same_bits(a, b));

    ndshard::write_npy(tmp / "a.npy", a, 2);
    const std::string bytes = ndshard_test::read_file(tmp / "a.npy");
    REQUIRE(bytes.find(std::string("'descr': '") + descr + "'") != std::string::npos);
    const xt::xarray<T> c = ndshard::read_npy<T>(tmp / "a.npy", 3);
    REQUIRE(c.shape() == a.shape());
    REQUIRE(ndshard_test::same_bits(a, c));
}

}  // namespace

TEST_CASE("dtype: every element type round-trips bit-exactly", "[dtype]") {
    SECTION("bool") {
        check_round_trips<bool>("|b1", "bool");
    }
    SECTION("float") {
        check_round_trips<float>("<f4", "float32");
    }
    SECTION("double") {
        check_round_trips<double>("<f8", "float64");
    }
    SECTION("int8") {
        check_round_trips<std::int8_t>("|i1", "int8");
    }
    SECTION("int16") {
        check_round_trips<std::int16_t>("<i2", "int16");
    }
    SECTION("int32") {
        check_round_trips<std::int32_t>("<i4", "int32");
    }
    SECTION("int64") {
        check_round_trips<std::int64_t>("<i8", "int64");
    }
    SECTION("uint8") {
        check_round_trips<std::uint8_t>("|u1", "uint8");
    }
    SECTION("uint16") {
        check_round_trips<std::uint16_t>("<u2", "uint16");
    }
    SECTION("uint32") {
        check_round_trips<std::uint32_t>("<u4", "uint32");
    }
    SECTION("uint64") {
        check_round_trips<std::uint64_t>("<u8", "uint64");
    }
}

TEST_CASE("dtype: long long and long share the 8-byte descr", "[dtype]") {
    REQUIRE(ndshard::dtype_of<long long>() == ndshard::dtype_of<std::int64_t>());
    REQUIRE(ndshard::dtype_of<unsigned long long>() == ndshard::dtype_of<std::uint64_t>());
    ndshard_test::temp_dir tmp;
    const xt::xarray<long long> a = {std::numeric_limits<long long>::min(), 0LL, 42LL};
    ndshard::write_npy(tmp / "a.npy", a, 1);
    const auto b = ndshard::read_npy<std::int64_t>(tmp / "a.npy", 1);
    REQUIRE(b.size() == 3);
    REQUIRE(b(0) == std::numeric_limits<std::int64_t>::min());
    REQUIRE(b(2) == 42);
}

TEST_CASE("dtype: parse_descr accepts numpy's numeric descrs", "[dtype]") {
    struct accepted {
        const char* text;
        char kind;
        std::size_t size;
        bool swap;
    };
    const accepted cases[] = {
        {"<f8", 'f', 8, false}, {"<f4", 'f', 4, false}, {">f8", 'f', 8, true},
        {">f4", 'f', 4, true},  {"=f8", 'f', 8, false}, {"|b1", 'b', 1, false},
        {"<b1", 'b', 1, false}, {"|u1", 'u', 1, false}, {"<u1", 'u', 1, false},
        {">u1", 'u', 1, false}, {"|i1", 'i', 1, false}, {"<i2", 'i', 2, false},
        {">i2", 'i', 2, true},  {"<i4", 'i', 4, false}, {">i8", 'i', 8, true},
        {"<u2", 'u', 2, false}, {"<u4", 'u', 4, false}, {"<u8", 'u', 8, false},
    };
    for (const auto& c : cases) {
        INFO(c.text);
        ndshard::parsed_descr d;
        REQUIRE(ndshard::parse_descr(c.text, d));
        REQUIRE(d.type.kind == c.kind);
        REQUIRE(d.type.size == c.size);
        REQUIRE(d.swap == c.swap);
    }
}

TEST_CASE("dtype: parse_descr refuses what ndshard does not read", "[dtype]") {
    const char* refused[] = {"",     "<",   "<f",   "f8",  "<f8 ", " <f8", "<f2",
                             "<f16", "<c8", "<c16", "<U8", "|S1",  "|V8",  "|O",
                             "<M8",  "<m8", "|f8",  "|i4", "|u8",  "<b2",  "<i3",
                             "<i0",  "<i9", "xf8",  "<F8", "<d8",  "<I4",  "<f8\n"};
    for (const char* s : refused) {
        INFO("'" << s << "'");
        ndshard::parsed_descr d;
        REQUIRE_FALSE(ndshard::parse_descr(s, d));
    }
}

TEST_CASE("dtype: descr and names", "[dtype]") {
    REQUIRE(ndshard::dtype{'f', 8}.descr() == "<f8");
    REQUIRE(ndshard::dtype{'u', 1}.descr() == "|u1");
    REQUIRE(ndshard::dtype_name({'x', 3}) == "unknown");
    REQUIRE(ndshard::dtype{'f', 4} != ndshard::dtype{'i', 4});
}
