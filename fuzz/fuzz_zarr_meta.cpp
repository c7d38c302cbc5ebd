// libFuzzer target: the zarr v2 metadata parser (detail::parse_zarray). Any exception but
// ndshard::error (std::bad_alloc included), any crash or sanitizer report, any .zarray that
// parses but breaks what parse_zarray promises (the chunk grid and sizes it derives), or does not
// survive being written (zarray_text) and parsed again, and any allocation beyond max(1 MiB, 64 x
// the input's size) (alloc_limit.hpp: shapes and chunks are size claims) is a finding.
//
// zarray_text writes the fill value as zarr-python's writer does for ndshard's saves (NaN, 0,
// false), not the parsed one: the first round trip checks it wrote exactly that, and a second one,
// with the parsed fill value written back as zarr-python spells it ("NaN", "Infinity", numbers,
// true/false), checks the fill value's bytes survive.
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <ndshard/zarr.hpp>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "alloc_limit.hpp"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

namespace nd = ndshard::detail;

/// Everything parse_zarray derives from .zarray but the fill value.
void check_same(const nd::zarr_meta& a, const nd::zarr_meta& b) {
    check(a.shape == b.shape && a.chunks == b.chunks && a.grid == b.grid);
    check(a.descr == b.descr && a.type.type == b.type.type && a.type.swap == b.type.swap);
    check(a.codec == b.codec && a.compressor == b.compressor);
    check(a.fortran == b.fortran && a.separator == b.separator);
    check(a.chunk_elements == b.chunk_elements && a.chunk_bytes == b.chunk_bytes);
}

/// The fill value of `m` as zarr-python writes it in .zarray.
nlohmann::json fill_json(const nd::zarr_meta& m) {
    nlohmann::json out;
    const bool known = nd::visit_dtype(m.type.type, [&](auto tag) {
        using S = typename decltype(tag)::type;
        S s;
        std::memcpy(&s, m.fill.data(), sizeof s);
        if constexpr (std::is_same_v<S, bool>) {
            out = s;
        } else if constexpr (std::is_floating_point_v<S>) {
            if (std::isnan(s))
                out = "NaN";
            else if (std::isinf(s))
                out = s > 0 ? "Infinity" : "-Infinity";
            else
                out = static_cast<double>(s);
        } else {
            out = s;
        }
    });
    check(known);
    return out;
}

/// The fill value bytes zarray_text's "NaN" / false / 0 stand for.
std::array<unsigned char, 8> written_fill(const nd::zarr_meta& m) {
    std::array<unsigned char, 8> out{};
    (void)nd::visit_dtype(m.type.type, [&](auto tag) {
        using S = typename decltype(tag)::type;
        if constexpr (std::is_floating_point_v<S>) {
            const S nan = std::numeric_limits<S>::quiet_NaN();
            std::memcpy(out.data(), &nan, sizeof nan);
        }
    });
    return out;
}

/// The fill value against .zarray's own value: an integer fill is that integer exactly, a boolean
/// one is 0 or 1, a float one is NaN or infinite only when spelled so, and the bytes past the
/// element are zeros.
void check_fill_meaning(const nd::zarr_meta& m, const nlohmann::json& v) {
    for (std::size_t i = m.type.type.size; i < m.fill.size(); ++i)
        check(m.fill[i] == 0);
    (void)nd::visit_dtype(m.type.type, [&](auto tag) {
        using S = typename decltype(tag)::type;
        S s;
        std::memcpy(&s, m.fill.data(), sizeof s);
        if (v.is_null()) {
            for (const unsigned char b : m.fill)
                check(b == 0);
            return;
        }
        if constexpr (std::is_same_v<S, bool>) {
            check(m.fill[0] <= 1);
            if (v.is_boolean())
                check(s == v.get<bool>());
            else
                check(v.is_number_integer() && s == (v.get<std::int64_t>() == 1));
        } else if constexpr (std::is_integral_v<S>) {
            check(v.is_number());
            if (v.is_number_unsigned()) {
                check(!(s < S{0}) && static_cast<std::uint64_t>(s) == v.get<std::uint64_t>());
            } else if (v.is_number_integer()) {
                check(static_cast<std::int64_t>(s) == v.get<std::int64_t>());
            } else {
                // a float that is an integer: s is exactly it (both bounds of S are powers of 2)
                const double d = v.get<double>();
                check(std::trunc(d) == d && static_cast<double>(s) == d);
            }
        } else {
            check(v.is_number() || v.is_string());
            if (v.is_string()) check(std::isnan(s) || std::isinf(s));
            if (v.is_number()) check(!std::isnan(s) && s == static_cast<S>(v.get<double>()));
        }
    });
}

/// parse_zarray on what this program wrote: an ndshard::error there is a finding.
nd::zarr_meta reparse(const std::string& text, const char* what) {
    try {
        return nd::parse_zarray(text, what);
    } catch (const ndshard::error& e) {
        std::fprintf(stderr, "==fuzz== parse_zarray refuses %s: %s\n%s", what, e.what(),
                     text.c_str());
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz_alloc::install();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const fuzz_alloc::scope limit(size);
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    nd::zarr_meta m;
    try {
        m = nd::parse_zarray(text, ".zarray");
    } catch (const ndshard::error&) {
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "==fuzz== parse_zarray threw %s\n", e.what());
        std::abort();
    }

    // what parses is what ndshard can read: its sizes cannot overflow
    check(m.rank() <= nd::zarr_max_rank && m.chunks.size() == m.rank() &&
          m.grid.size() == m.rank());
    check(m.type.type.size >= 1 && m.type.type.size <= 8);
    std::uint64_t bytes = m.type.type.size, chunk = m.type.type.size;
    for (std::size_t d = 0; d < m.rank(); ++d) {
        check(m.chunks[d] >= 1);
        check(nd::checked_mul(bytes, m.shape[d], bytes) &&
              nd::checked_mul(chunk, m.chunks[d], chunk));
        check(m.grid[d] == (m.shape[d] + m.chunks[d] - 1) / m.chunks[d]);
    }
    check(bytes <= std::uint64_t{INT64_MAX} && chunk <= std::uint64_t{INT64_MAX});
    check(m.chunk_bytes == chunk && m.chunk_elements * m.type.type.size == m.chunk_bytes);
    check(m.separator == '.' || m.separator == '/');
    check((m.codec == nd::codec_id::none) == (m.compressor == "null"));

    // the last chunk's key names it again
    bool empty = false;
    std::vector<std::size_t> last(m.rank());
    for (std::size_t d = 0; d < m.rank(); ++d) {
        empty = empty || m.grid[d] == 0;
        if (m.grid[d]) last[d] = m.grid[d] - 1;
    }
    if (!empty) {
        const std::string key = m.key(last);
        std::vector<std::string_view> parts;
        std::size_t start = 0;
        for (;;) {
            const std::size_t at = key.find(m.separator, start);
            parts.push_back(std::string_view(key).substr(start, at - start));
            if (at == std::string::npos) break;
            start = at + 1;
        }
        std::vector<std::size_t> back;
        check(nd::parse_chunk_key(parts, m.rank(), back));
        check(back == (m.rank() ? last : std::vector<std::size_t>{0}));
    }

    // the input is JSON (it parsed): its fill value means what the parsed bytes say
    const auto j = nlohmann::json::parse(text.begin(), text.end());
    check_fill_meaning(m, j.at("fill_value"));

    // written and parsed again: the same array, with the fill value zarray_text writes
    const std::string again_text = nd::zarray_text(m);
    const nd::zarr_meta again = reparse(again_text, "zarray_text's .zarray");
    check_same(m, again);
    check(again.fill == written_fill(m));
    check(nd::zarray_text(again) == again_text);

    // and with the parsed fill value written back: the same fill value too
    auto k = nlohmann::json::parse(again_text);
    k["fill_value"] = fill_json(m);
    const nd::zarr_meta filled = reparse(k.dump(4), "zarray_text's .zarray with the fill value");
    check_same(m, filled);
    check(filled.fill == m.fill);
    return 0;
}
