// ndshard/detail/zarr_meta.hpp — a zarr v2 array's metadata (.zarray): parsed and checked, written
// as zarr-python 2.13 writes it, and the chunk grid it implies. Knows nothing of files or threads.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ndshard/detail/codec.hpp"
#include "ndshard/detail/convert.hpp"
#include "ndshard/detail/json_depth.hpp"
#include "ndshard/dtype.hpp"
#include "ndshard/error.hpp"

namespace ndshard::detail {

inline constexpr const char* zarray_name = ".zarray";
/// The largest .zarray read (zarr-python's are a few hundred bytes).
inline constexpr std::size_t zarray_max_bytes = std::size_t{1} << 20;
/// The most dimensions a store may have (numpy's limit).
inline constexpr std::size_t zarr_max_rank = 32;

struct zarr_meta {
    std::vector<std::size_t> shape, chunks;
    std::vector<std::size_t> grid;  ///< chunks along each dimension: ceil(shape / chunks)
    std::string descr;              ///< as written: "<f8", ">i4", "|b1"
    parsed_descr type;
    codec_id codec = codec_id::none;
    std::string compressor = "null";  ///< the compressor's JSON, compact, keys sorted
    bool fortran = false;
    char separator = '.';
    /// The fill value as one element of the stored type, in this machine's byte order (zeros
    /// when .zarray says null).
    std::array<unsigned char, 8> fill{};
    std::size_t chunk_elements = 1;
    std::size_t chunk_bytes = 0;

    [[nodiscard]] std::size_t rank() const noexcept { return shape.size(); }
    [[nodiscard]] std::size_t rows() const noexcept { return shape.empty() ? 1 : shape[0]; }
    /// Whether each chunk holds whole rows (every dimension but the first unsplit).
    [[nodiscard]] bool whole_rows() const noexcept {
        for (std::size_t d = 1; d < shape.size(); ++d)
            if (chunks[d] != shape[d]) return false;
        return true;
    }
    /// The key of the chunk at grid position `index`: "3.0.1" (or "3/0/1"); "0" at rank 0.
    [[nodiscard]] std::string key(const std::vector<std::size_t>& index) const {
        if (index.empty()) return "0";
        std::string k;
        for (std::size_t d = 0; d < index.size(); ++d) {
            if (d) k += separator;
            k += std::to_string(index[d]);
        }
        return k;
    }
};

[[noreturn]] inline void zarray_fail(const std::filesystem::path& file, const std::string& why) {
    fail("cannot read zarr metadata", file, why);
}

/// A JSON value as it appears in a message: short, and safe for a terminal.
[[nodiscard]] inline std::string zarr_excerpt(const nlohmann::json& v) {
    return shorten(v.dump(), 40);
}

/// Fills `m.fill` from .zarray's fill_value for the stored type: null, a number, true/false, or
/// "NaN", "Infinity", "-Infinity" for floats (zarr v2's spelling).
inline void parse_fill_value(const nlohmann::json& v, zarr_meta& m,
                             const std::filesystem::path& file) {
    m.fill.fill(0);
    if (v.is_null()) return;
    const auto bad = [&] {
        zarray_fail(file, "expected a 'fill_value' of type " + dtype_name(m.type.type) +
                              ", found " + zarr_excerpt(v));
    };
    const bool ok = visit_dtype(m.type.type, [&](auto tag) {
        using S = typename decltype(tag)::type;
        S s{};
        if constexpr (std::is_same_v<S, bool>) {
            if (v.is_boolean()) {
                s = v.get<bool>();
            } else if (v.is_number_integer() &&
                       (v.get<std::int64_t>() == 0 || v.get<std::int64_t>() == 1)) {
                s = v.get<std::int64_t>() == 1;
            } else {
                bad();
            }
        } else if constexpr (std::is_floating_point_v<S>) {
            if (v.is_string()) {
                const auto& t = v.get_ref<const std::string&>();
                if (t == "NaN")
                    s = std::numeric_limits<S>::quiet_NaN();
                else if (t == "Infinity")
                    s = std::numeric_limits<S>::infinity();
                else if (t == "-Infinity")
                    s = -std::numeric_limits<S>::infinity();
                else
                    bad();
            } else if (v.is_number()) {
                s = static_cast<S>(v.get<double>());
            } else {
                bad();
            }
        } else {
            if (v.is_number_unsigned()) {
                if (!convert_value(v.get<std::uint64_t>(), s)) bad();
            } else if (v.is_number_integer()) {
                if (!convert_value(v.get<std::int64_t>(), s)) bad();
            } else if (v.is_number_float()) {
                const double d = v.get<double>();
                // 0.0 for an integer array: zarr-python writes what numpy's scalar gave it
                if (!(std::trunc(d) == d) || !convert_value(d, s)) bad();
            } else {
                bad();
            }
        }
        std::memcpy(m.fill.data(), &s, sizeof s);
    });
    if (!ok) bad();
}

/// A list of sizes in .zarray: "shape" (each >= 0) or "chunks" (each >= 1).
inline std::vector<std::size_t> zarr_sizes(const nlohmann::json& j, const char* field,
                                           std::size_t min, const std::filesystem::path& file) {
    const auto it = j.find(field);
    if (it == j.end())
        zarray_fail(file, std::string("expected a field '") + field + "', found none");
    if (!it->is_array())
        zarray_fail(file, std::string("expected '") + field + "' to be a list of integers, found " +
                              zarr_excerpt(*it));
    if (it->size() > zarr_max_rank)
        zarray_fail(file, std::string("expected '") + field + "' of at most " +
                              std::to_string(zarr_max_rank) + " dimensions, found " +
                              std::to_string(it->size()));
    std::vector<std::size_t> out;
    for (const auto& v : *it) {
        if (!v.is_number_integer() ||
            (v.is_number_integer() && !v.is_number_unsigned() && v.get<std::int64_t>() < 0) ||
            v.get<std::uint64_t>() < min || v.get<std::uint64_t>() > std::uint64_t{INT64_MAX})
            zarray_fail(file, std::string("expected '") + field +
                                  "' to hold integers of at least " + std::to_string(min) +
                                  ", found " + zarr_excerpt(v));
        out.push_back(static_cast<std::size_t>(v.get<std::uint64_t>()));
    }
    return out;
}

/// Parses and checks .zarray. Everything ndshard cannot read correctly is refused here, naming
/// the field: other zarr formats, filters, dtypes ndshard does not know, unknown compressors.
[[nodiscard]] inline zarr_meta parse_zarray(std::string_view text,
                                            const std::filesystem::path& file) {
    if (json_depth_exceeds(text, 8)) zarray_fail(file, "values nested deeper than a .zarray's");
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::exception& e) {
        zarray_fail(file, std::string("not valid JSON: ") + e.what());
    }
    if (!j.is_object()) zarray_fail(file, "expected a JSON object, found " + zarr_excerpt(j));
    zarr_meta m;

    const auto fmt = j.find("zarr_format");
    if (fmt == j.end() || !fmt->is_number_integer() || fmt->get<std::int64_t>() != 2)
        zarray_fail(file, "expected 'zarr_format' 2, found " +
                              (fmt == j.end() ? std::string("none") : zarr_excerpt(*fmt)));

    m.shape = zarr_sizes(j, "shape", 0, file);
    m.chunks = zarr_sizes(j, "chunks", 1, file);
    if (m.chunks.size() != m.shape.size())
        zarray_fail(file, "expected 'chunks' of " + std::to_string(m.shape.size()) +
                              " dimensions (as 'shape'), found " + std::to_string(m.chunks.size()));

    const auto dt = j.find("dtype");
    if (dt == j.end()) zarray_fail(file, "expected a field 'dtype', found none");
    if (!dt->is_string() || !parse_descr(dt->get_ref<const std::string&>(), m.type))
        zarray_fail(file,
                    "expected a 'dtype' ndshard reads (bool, int8-64, uint8-64, float32, "
                    "float64, either byte order), found " +
                        zarr_excerpt(*dt));
    m.descr = dt->get<std::string>();

    const auto order = j.find("order");
    if (order == j.end() || !order->is_string() ||
        (order->get_ref<const std::string&>() != "C" &&
         order->get_ref<const std::string&>() != "F"))
        zarray_fail(file, "expected 'order' \"C\" or \"F\", found " +
                              (order == j.end() ? std::string("none") : zarr_excerpt(*order)));
    m.fortran = order->get_ref<const std::string&>() == "F";

    const auto filters = j.find("filters");
    if (filters != j.end() && !filters->is_null() && !(filters->is_array() && filters->empty()))
        zarray_fail(file, "expected 'filters' null, found " + zarr_excerpt(*filters) +
                              " (ndshard reads no zarr filters)");

    const auto sep = j.find("dimension_separator");
    if (sep != j.end() && !sep->is_null()) {
        if (!sep->is_string() || (sep->get_ref<const std::string&>() != "." &&
                                  sep->get_ref<const std::string&>() != "/"))
            zarray_fail(
                file, "expected 'dimension_separator' \".\" or \"/\", found " + zarr_excerpt(*sep));
        m.separator = sep->get_ref<const std::string&>()[0];
    }

    const auto comp = j.find("compressor");
    if (comp == j.end()) zarray_fail(file, "expected a field 'compressor', found none");
    if (!comp->is_null()) {
        const auto id = comp->is_object() ? comp->find("id") : comp->end();
        if (!comp->is_object() || id == comp->end() || !id->is_string())
            zarray_fail(file, "expected 'compressor' null or an object with an 'id', found " +
                                  zarr_excerpt(*comp));
        const auto& name = id->get_ref<const std::string&>();
        if (name == "zstd")
            m.codec = codec_id::zstd;
        else if (name == "blosc")
            m.codec = codec_id::blosc;
        else if (name == "zlib")
            m.codec = codec_id::zlib;
        else if (name == "gzip")
            m.codec = codec_id::gzip;
        else
            zarray_fail(file,
                        "expected a 'compressor' ndshard reads (zstd, blosc, zlib, gzip), "
                        "found '" +
                            shorten(name) + "'");
        m.compressor = comp->dump();
    }

    const auto fill = j.find("fill_value");
    if (fill == j.end()) zarray_fail(file, "expected a field 'fill_value', found none");
    parse_fill_value(*fill, m, file);

    // sizes: the array's and one chunk's bytes must fit in 63 bits
    std::uint64_t total = m.type.type.size, chunk = m.type.type.size;
    for (std::size_t d = 0; d < m.shape.size(); ++d) {
        if (!checked_mul(total, m.shape[d], total))
            zarray_fail(file, "expected a 'shape' whose bytes fit in 63 bits, found " +
                                  zarr_excerpt(j["shape"]));
        if (!checked_mul(chunk, m.chunks[d], chunk))
            zarray_fail(file, "expected 'chunks' whose bytes fit in 63 bits, found " +
                                  zarr_excerpt(j["chunks"]));
        m.grid.push_back(m.shape[d] / m.chunks[d] + (m.shape[d] % m.chunks[d] != 0));
    }
    m.chunk_bytes = static_cast<std::size_t>(chunk);
    m.chunk_elements = m.chunk_bytes / m.type.type.size;
    return m;
}

/// .zarray as zarr-python writes it: keys sorted, four spaces of indent.
[[nodiscard]] inline std::string zarray_text(const zarr_meta& m) {
    nlohmann::json j;
    j["zarr_format"] = 2;
    j["shape"] = m.shape;
    j["chunks"] = m.chunks;
    j["dtype"] = m.descr;
    j["compressor"] =
        m.compressor == "null" ? nlohmann::json(nullptr) : nlohmann::json::parse(m.compressor);
    if (m.type.type.kind == 'f')
        j["fill_value"] = "NaN";
    else if (m.type.type.kind == 'b')
        j["fill_value"] = false;
    else
        j["fill_value"] = 0;
    j["order"] = m.fortran ? "F" : "C";
    j["filters"] = nullptr;
    j["dimension_separator"] = std::string(1, m.separator);
    return j.dump(4) + "\n";
}

/// The grid position of chunk number `n` (row-major over the grid).
[[nodiscard]] inline std::vector<std::size_t> chunk_index(const zarr_meta& m, std::size_t n) {
    std::vector<std::size_t> idx(m.rank());
    for (std::size_t d = m.rank(); d-- > 0;) {
        idx[d] = n % m.grid[d];
        n /= m.grid[d];
    }
    return idx;
}

/// Parses a chunk key ("3.0.1", or the parts of "3/0/1") into its grid position; false when `k`
/// is no chunk key of an array of this rank (.zattrs, a stray file).
[[nodiscard]] inline bool parse_chunk_key(const std::vector<std::string_view>& parts,
                                          std::size_t rank, std::vector<std::size_t>& out) {
    if (parts.size() != std::max<std::size_t>(rank, 1)) return false;
    out.clear();
    for (const auto p : parts) {
        if (p.empty() || p.size() > 19) return false;
        std::size_t v = 0;
        for (const char c : p) {
            if (c < '0' || c > '9') return false;
            v = v * 10 + static_cast<std::size_t>(c - '0');
        }
        out.push_back(v);
    }
    return true;
}

}  // namespace ndshard::detail
