// ndshard/detail/convert.hpp — element-type conversion while reading (load_options::convert):
// C++ conversion rules, except that a value the target type cannot hold is an error instead of
// undefined behaviour or a silent wrap.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <type_traits>

#include "ndshard/dtype.hpp"

namespace ndshard::detail {

/// Calls `fn(type_tag<T>{})` with the C++ element type of `d` (one of the eleven ndshard reads);
/// returns false for a dtype ndshard does not know.
template <class T>
struct type_tag {
    using type = T;
};

template <class F>
bool visit_dtype(const dtype& d, F&& fn) {
    switch (d.kind) {
        case 'b':
            if (d.size == 1) return fn(type_tag<bool>{}), true;
            return false;
        case 'f':
            if (d.size == 4) return fn(type_tag<float>{}), true;
            if (d.size == 8) return fn(type_tag<double>{}), true;
            return false;
        case 'i':
            if (d.size == 1) return fn(type_tag<std::int8_t>{}), true;
            if (d.size == 2) return fn(type_tag<std::int16_t>{}), true;
            if (d.size == 4) return fn(type_tag<std::int32_t>{}), true;
            if (d.size == 8) return fn(type_tag<std::int64_t>{}), true;
            return false;
        case 'u':
            if (d.size == 1) return fn(type_tag<std::uint8_t>{}), true;
            if (d.size == 2) return fn(type_tag<std::uint16_t>{}), true;
            if (d.size == 4) return fn(type_tag<std::uint32_t>{}), true;
            if (d.size == 8) return fn(type_tag<std::uint64_t>{}), true;
            return false;
        default:
            return false;
    }
}

/// Converts `v` to `To` into `out`; false when `To` cannot hold it. Integers must fit exactly;
/// floating-point values become integers by truncation toward zero (NaN and values out of range
/// fail); anything becomes a float by rounding to nearest (a finite value beyond the float range
/// fails); anything becomes bool as `v != 0`.
template <class To, class From>
[[nodiscard]] bool convert_value(From v, To& out) noexcept {
    if constexpr (std::is_same_v<To, bool>) {
        out = v != 0;
        return true;
    } else if constexpr (std::is_same_v<From, bool>) {
        out = static_cast<To>(v ? 1 : 0);
        return true;
    } else if constexpr (std::is_floating_point_v<To>) {
        out = static_cast<To>(v);  // IEEE-754: rounds to nearest, overflows to infinity
        if constexpr (std::is_floating_point_v<From>) {
            if (std::isinf(out) && std::isfinite(v)) return false;
        }
        return true;
    } else if constexpr (std::is_floating_point_v<From>) {
        // [min, max + 1) of To: both bounds are powers of two, exact in every float type
        constexpr int digits = std::numeric_limits<To>::digits;
        const From hi = std::ldexp(From(1), digits);
        const From lo = std::is_signed_v<To> ? -hi : From(0);
        const From t = std::trunc(v);
        if (!(t >= lo && t < hi)) return false;  // NaN fails here too
        out = static_cast<To>(t);
        return true;
    } else {
        // integer to integer: compare as the widest type that holds both signs correctly
        if constexpr (std::is_signed_v<From>) {
            const auto w = static_cast<std::int64_t>(v);
            if constexpr (std::is_signed_v<To>) {
                if (w < static_cast<std::int64_t>(std::numeric_limits<To>::min()) ||
                    w > static_cast<std::int64_t>(std::numeric_limits<To>::max()))
                    return false;
            } else {
                if (w < 0 ||
                    static_cast<std::uint64_t>(w) > std::uint64_t{std::numeric_limits<To>::max()})
                    return false;
            }
        } else {
            const auto w = static_cast<std::uint64_t>(v);
            if (w > static_cast<std::uint64_t>(std::numeric_limits<To>::max())) return false;
        }
        out = static_cast<To>(v);
        return true;
    }
}

/// A value as it appears in a message: integers exactly, floats with 17 significant digits.
template <class T>
[[nodiscard]] std::string value_text(T v) {
    if constexpr (std::is_same_v<T, bool>) {
        return v ? "true" : "false";
    } else if constexpr (std::is_floating_point_v<T>) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.17g", static_cast<double>(v));
        return buf;
    } else {
        return std::to_string(v);
    }
}

}  // namespace ndshard::detail
