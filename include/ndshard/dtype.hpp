// ndshard/dtype.hpp — element types and their numpy descr strings ("<f8", "<i4", "|u1", "|b1").
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace ndshard {

/// The numpy kind letter of an element type: 'f' float, 'i' signed, 'u' unsigned, 'b' bool.
struct dtype {
    char kind = 0;
    std::size_t size = 0;

    /// numpy's descr on a little-endian machine: "<f8", "<i4", "|u1", "|b1".
    [[nodiscard]] std::string descr() const {
        std::string s;
        s += size == 1 ? '|' : '<';
        s += kind;
        s += std::to_string(size);
        return s;
    }
    friend bool operator==(const dtype& a, const dtype& b) {
        return a.kind == b.kind && a.size == b.size;
    }
    friend bool operator!=(const dtype& a, const dtype& b) { return !(a == b); }
};

/// True for the element types ndshard reads and writes.
template <class T>
inline constexpr bool is_supported_v =
    std::is_same_v<T, bool> || std::is_same_v<T, float> || std::is_same_v<T, double> ||
    std::is_same_v<T, std::int8_t> || std::is_same_v<T, std::int16_t> ||
    std::is_same_v<T, std::int32_t> || std::is_same_v<T, std::int64_t> ||
    std::is_same_v<T, std::uint8_t> || std::is_same_v<T, std::uint16_t> ||
    std::is_same_v<T, std::uint32_t> || std::is_same_v<T, std::uint64_t> ||
    // long / long long are the same width on LP64 but distinct types
    ((std::is_same_v<T, long long> || std::is_same_v<T, unsigned long long> ||
      std::is_same_v<T, long> || std::is_same_v<T, unsigned long>)&&sizeof(T) == 8);

/// The dtype of a C++ element type.
template <class T>
[[nodiscard]] constexpr dtype dtype_of() {
    static_assert(is_supported_v<T>,
                  "ndshard: element type must be bool, float, double or a fixed-width integer");
    static_assert(sizeof(double) == 8 && sizeof(float) == 4, "ndshard: IEEE-754 binary32/64 only");
    if constexpr (std::is_same_v<T, bool>) {
        return {'b', 1};
    } else if constexpr (std::is_floating_point_v<T>) {
        return {'f', sizeof(T)};
    } else if constexpr (std::is_signed_v<T>) {
        return {'i', sizeof(T)};
    } else {
        return {'u', sizeof(T)};
    }
}

/// "<f8" for double and so on.
template <class T>
[[nodiscard]] std::string descr_of() {
    return dtype_of<T>().descr();
}

/// A human name for messages: "float64", "int32", "bool".
[[nodiscard]] inline std::string dtype_name(const dtype& d) {
    switch (d.kind) {
        case 'b':
            return "bool";
        case 'f':
            return "float" + std::to_string(d.size * 8);
        case 'i':
            return "int" + std::to_string(d.size * 8);
        case 'u':
            return "uint" + std::to_string(d.size * 8);
        default:
            return "unknown";
    }
}

/// A parsed numpy descr. `swap` is true when the data is big-endian ('>') and must be byte-swapped
/// on this (little-endian) machine.
struct parsed_descr {
    dtype type;
    bool swap = false;
};

/// Parses "<f8", ">i4", "|u1", "=f4", "|b1" (and "<u1"/"<b1", which numpy also accepts).
/// Returns false for anything ndshard does not read (complex, strings, records, objects).
[[nodiscard]] inline bool parse_descr(std::string_view s, parsed_descr& out) {
    if (s.size() != 3) return false;
    const char order = s[0], kind = s[1], width = s[2];
    if (order != '<' && order != '>' && order != '|' && order != '=') return false;
    if (width < '1' || width > '8') return false;
    const auto size = static_cast<std::size_t>(width - '0');
    bool ok = false;
    switch (kind) {
        case 'b':
            ok = size == 1;
            break;
        case 'f':
            ok = size == 4 || size == 8;
            break;
        case 'i':
        case 'u':
            ok = size == 1 || size == 2 || size == 4 || size == 8;
            break;
        default:
            ok = false;
    }
    if (!ok) return false;
    // '|' means "byte order not applicable": numpy uses it for one-byte types only
    if (order == '|' && size != 1) return false;
    out.type = {kind, size};
    out.swap = order == '>' && size > 1;
    return true;
}

namespace detail {

/// Maps every byte of a freshly read bool array to 0 or 1: a byte other than 0/1 in a file must not
/// become a bool with an invalid object representation.
inline void normalize_bools(bool* data, std::size_t n) noexcept {
    auto* p = reinterpret_cast<unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i)
        p[i] = p[i] != 0;
}

}  // namespace detail
}  // namespace ndshard
