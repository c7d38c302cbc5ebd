// Helpers of the text tests: random bit patterns, bitwise comparison of arrays; the temporary
// directory, whole-file reads and writes and error_of are support.hpp's.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include <catch2/catch.hpp>
#include <ndshard/error.hpp>
#include <xtensor/xarray.hpp>

#include "support.hpp"

namespace text_test {

/// The thread counts every parallel path is checked with: one, as many as the machine's two
/// cores, and more than there are.
inline constexpr std::size_t thread_counts[] = {1, 2, 7};

/// A fresh directory in /dev/shm (or the temporary directory), removed at the end.
using ndshard_test::temp_dir;

/// Whole-file reads and writes.
using ndshard_test::read_file;
using ndshard_test::write_file;

inline std::filesystem::path fixture(const std::string& name) {
    return std::filesystem::path(NDSHARD_FIXTURES) / "text" / name;
}

/// A random finite float or double from uniformly random bits (so subnormals, extremes and both
/// zeros all occur), with a few hand-picked extremes mixed in.
template <class F>
F random_finite(std::mt19937_64& rng) {
    using U = std::conditional_t<sizeof(F) == 8, std::uint64_t, std::uint32_t>;
    switch (rng() % 16) {
        case 0:
            return std::numeric_limits<F>::denorm_min() * (rng() % 2 ? 1 : -1);
        case 1:
            return std::numeric_limits<F>::max() * (rng() % 2 ? 1 : -1);
        case 2:
            return std::numeric_limits<F>::min() * (rng() % 2 ? 1 : -1);
        case 3:
            return rng() % 2 ? F(0) : -F(0);
        default:
            break;
    }
    for (;;) {
        const auto bits = static_cast<U>(rng());
        F f;
        std::memcpy(&f, &bits, sizeof f);
        if (std::isfinite(f)) return f;
    }
}

/// The bits of a value, for exact comparison (tells -0.0 from 0.0).
template <class F>
auto bits_of(F f) {
    using U = std::conditional_t<
        sizeof(F) == 8, std::uint64_t,
        std::conditional_t<sizeof(F) == 4, std::uint32_t,
                           std::conditional_t<sizeof(F) == 2, std::uint16_t, std::uint8_t>>>;
    U u{};
    std::memcpy(&u, &f, sizeof f);
    return u;
}

/// "'path'", as messages quote files.
inline std::string quoted(const std::filesystem::path& p) {
    return "'" + p.string() + "'";
}

/// The message of the ndshard::error that `fn` throws, or "" when it throws none.
using ndshard_test::error_of;

/// An array of `shape` filled by random_finite.
template <class T>
xt::xarray<T> random_bits(const std::vector<std::size_t>& shape, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    xt::xarray<T> a = xt::xarray<T>::from_shape(shape);
    for (auto& x : a)
        x = random_finite<T>(rng);
    return a;
}

/// Two arrays hold the same bits in the same shape (any nan equals any nan).
template <class A, class B>
void require_same_bits(const A& a, const B& b) {
    REQUIRE(a.shape().size() == b.shape().size());
    for (std::size_t i = 0; i < a.shape().size(); ++i)
        REQUIRE(a.shape()[i] == b.shape()[i]);
    REQUIRE(a.size() == b.size());
    std::size_t mismatches = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto x = a.data()[i];
        const auto y = b.data()[i];
        bool same = bits_of(x) == bits_of(y);
        if constexpr (std::is_floating_point_v<std::decay_t<decltype(x)>>)
            same = same || (std::isnan(x) && std::isnan(y));
        if (!same && mismatches++ < 5) {
            std::ostringstream m;
            m.precision(17);
            m << "element " << i << ": " << +x << " != " << +y;
            FAIL_CHECK(m.str());
        }
    }
    REQUIRE(mismatches == 0);
}

}  // namespace text_test
