// ndshard/zarr.hpp — zarr v2 array stores, the chunked format of zarr-python, Dask, xarray and
// TensorStore: written and read by every core, compressed with zstd or blosc, replaced atomically.
//
//   ndshard::zarr::save("emb.zarr", a, {.compressor = ndshard::zarr::codec::zstd});
//   auto b = ndshard::zarr::load<float>("emb.zarr");           // any store zarr-python wrote
//   auto r = ndshard::zarr::load_rows<float>("emb.zarr", 1000, 2000);
//
// Uncompressed stores need nothing more. Compressed ones need the codec libraries: link the CMake
// target ndshard::zarr (find_package(ndshard COMPONENTS zarr)), which defines NDSHARD_ZARR_CODECS
// and links libzstd, libblosc and zlib; without it a compressed store is an error that says so.
#pragma once

#include <cstddef>
#include <filesystem>
#include <limits>
#include <new>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xexpression.hpp>

#include "ndshard/dataset.hpp"
#include "ndshard/detail/zarr_meta.hpp"
#include "ndshard/detail/zarr_store.hpp"
#include "ndshard/thread_pool.hpp"
#include "ndshard/xtensor.hpp"

namespace ndshard::zarr {

/// How chunks are compressed. The blosc codecs shuffle bytes (typesize = the element size), as
/// numcodecs' Blosc does by default.
enum class codec { none, zstd, blosc_lz4, blosc_zstd };

struct save_options {
    /// Rows per chunk (chunks span whole rows); 0: about 16 MiB of rows.
    std::size_t chunk_rows = 0;
    codec compressor = codec::none;
    /// 0: the codec's default as numcodecs has it (zstd 1, blosc 5); zstd takes -131072 to 22,
    /// blosc 1 to 9.
    int level = 0;
    std::size_t threads = 0;  ///< 0: every core
    bool sync = true;         ///< fsync chunks and directories before the store takes its place
    thread_pool* pool = nullptr;
    /// Called with the bytes done and in all, a few times a second; false cancels the call,
    /// which throws ndshard::cancelled and leaves its target as it was (ndshard/progress.hpp).
    progress_fn progress{};
};

/// What .zarray says.
struct store_info {
    std::string dtype;  ///< numpy descr, as written: "<f8", ">i4", "|b1"
    std::vector<std::size_t> shape, chunks;
    std::string compressor;  ///< "null" or the codec's JSON, compact with sorted keys
};

namespace detail {

[[nodiscard]] inline store_info info_of(const ndshard::detail::zarr_meta& m) {
    return {m.descr, m.shape, m.chunks, m.compressor};
}

/// The store's path as the save names it: "a/b/" is "a/b".
[[nodiscard]] inline std::filesystem::path store_path(const std::filesystem::path& dir) {
    std::filesystem::path p = dir.lexically_normal();
    if (p.filename().empty()) p = p.parent_path();
    const std::string name = p.filename().string();
    if (p.empty() || name == "." || name == "..")
        ndshard::detail::fail("cannot save zarr store", dir,
                              "expected a path that names the store's directory");
    return p;
}

/// What save writes for elements of `type` and `shape`.
[[nodiscard]] inline ndshard::detail::zarr_plan plan_for(const std::filesystem::path& dir,
                                                         const dtype& type,
                                                         const std::vector<std::size_t>& shape,
                                                         const save_options& o) {
    using ndshard::detail::codec_id;
    ndshard::detail::zarr_plan plan;
    auto& m = plan.meta;
    m.shape = shape;
    m.descr = type.descr();
    (void)parse_descr(m.descr, m.type);
    std::size_t row_bytes = type.size;
    for (std::size_t d = 1; d < shape.size(); ++d)
        row_bytes *= shape[d];
    if (!shape.empty()) {
        std::size_t rows = o.chunk_rows;
        if (rows == 0) {
            rows = std::max<std::size_t>(
                1, (std::size_t{16} << 20) / std::max<std::size_t>(1, row_bytes));
            rows = std::max<std::size_t>(1, std::min(rows, shape[0]));
        }
        m.chunks.push_back(rows);
        for (std::size_t d = 1; d < shape.size(); ++d)
            m.chunks.push_back(std::max<std::size_t>(1, shape[d]));
    }
    std::uint64_t chunk = type.size;
    for (std::size_t d = 0; d < shape.size(); ++d) {
        if (!ndshard::detail::checked_mul(chunk, m.chunks[d], chunk))
            ndshard::detail::fail("cannot save zarr store", dir,
                                  "expected chunks whose bytes fit in 63 bits, found " +
                                      std::to_string(m.chunks[0]) + " rows of " +
                                      std::to_string(row_bytes) + " bytes");
        m.grid.push_back(shape[d] / m.chunks[d] + (shape[d] % m.chunks[d] != 0));
    }
    m.chunk_bytes = static_cast<std::size_t>(chunk);
    m.chunk_elements = m.chunk_bytes / type.size;

    auto& e = plan.encode;
    e.typesize = type.size;
    switch (o.compressor) {
        case codec::none:
            e.id = codec_id::none;
            break;
        case codec::zstd:
            e.id = codec_id::zstd;
            e.level = o.level == 0 ? 1 : o.level;
            if (e.level < -131072 || e.level > 22)
                ndshard::detail::fail(
                    "cannot save zarr store", dir,
                    "expected a zstd level from -131072 to 22, found " + std::to_string(o.level));
            m.compressor = R"({"id":"zstd","level":)" + std::to_string(e.level) + "}";
            break;
        case codec::blosc_lz4:
        case codec::blosc_zstd:
            e.id = codec_id::blosc;
            e.cname = o.compressor == codec::blosc_lz4 ? "lz4" : "zstd";
            e.level = o.level == 0 ? 5 : o.level;
            e.shuffle = 1;
            if (e.level < 1 || e.level > 9)
                ndshard::detail::fail(
                    "cannot save zarr store", dir,
                    "expected a blosc level from 1 to 9, found " + std::to_string(o.level));
            m.compressor = R"({"blocksize":0,"clevel":)" + std::to_string(e.level) +
                           R"(,"cname":")" + e.cname + R"(","id":"blosc","shuffle":1})";
            break;
    }
    m.codec = e.id;
    return plan;
}

/// A fresh array of `shape` for a store's elements; a shape too large for memory is an error
/// naming the store (a store may legitimately be mostly missing chunks, so its shape is not
/// bounded by its files).
template <class T>
[[nodiscard]] xt::xarray<T> allocate_for(const std::filesystem::path& dir,
                                         const std::vector<std::size_t>& shape) {
    try {
        return ndshard::detail::allocate_array<T>(shape);
    } catch (const std::bad_alloc&) {
        ndshard::detail::fail("cannot load", dir,
                              "cannot allocate an array of shape " +
                                  ndshard::detail::zarr_shape_text(shape) + " of " +
                                  dtype_name(dtype_of<T>()));
    } catch (const std::length_error&) {
        ndshard::detail::fail("cannot load", dir,
                              "cannot allocate an array of shape " +
                                  ndshard::detail::zarr_shape_text(shape) + " of " +
                                  dtype_name(dtype_of<T>()));
    }
}

}  // namespace detail

/// Writes `a` as the zarr v2 array store `dir` (chunks of whole rows, C order, fill_value NaN for
/// floats and 0 otherwise), replacing the store there atomically. `dir` must be a zarr array
/// store or not exist. Returns what .zarray says.
template <class E>
store_info save(const std::filesystem::path& dir, const xt::xexpression<E>& a,
                const save_options& options = {}) {
    using T = ndshard::detail::element_t<E>;
    const std::filesystem::path target = detail::store_path(dir);
    const auto src = ndshard::detail::make_row_source(a.derived_cast());
    const auto plan = detail::plan_for(target, dtype_of<T>(), src.shape, options);
    const std::size_t tasks = plan.meta.rank() ? plan.meta.grid[0] : 1;
    const ndshard::detail::call_pool pool(options.pool, options.threads, tasks);
    ndshard::detail::progress_meter meter(options.progress,
                                          std::uint64_t{src.rows()} * src.row_size() * sizeof(T),
                                          "save to " + ndshard::detail::quoted(target));
    ndshard::detail::write_zarr_store(target, src, plan, options.sync, pool.get());
    meter.finish();
    return detail::info_of(plan.meta);
}

/// What the store's .zarray says (checked as load checks it).
inline store_info inspect(const std::filesystem::path& dir) {
    const ndshard::detail::zarr_reader r(dir);
    return detail::info_of(r.meta());
}

/// Rows [first, last) of the store (along its first dimension), each chunk read and decompressed
/// by the pool straight into the result. Reads any store zarr-python writes: any chunk grid,
/// nested keys, C or Fortran order, either byte order, compressors null, zstd, blosc, zlib and
/// gzip; missing chunks are the fill value (zeros when it is null). `options.convert` converts
/// elements of another type; `options.verify` has nothing to check (zarr keeps no checksums).
template <class T>
xt::xarray<T> load_rows(const std::filesystem::path& dir, std::size_t first, std::size_t last,
                        const load_options& options = {}) {
    const ndshard::detail::zarr_reader r(dir);
    const auto& m = r.meta();
    if (m.rank() == 0)
        ndshard::detail::fail("cannot load rows of", dir,
                              "expected an array of rank 1 or more, found rank 0 (load reads it)");
    if (first > last || last > m.shape[0])
        ndshard::detail::fail("cannot load rows of", dir,
                              "expected a row range [first, last) with first <= last <= " +
                                  std::to_string(m.shape[0]) + " (the rows there are), found [" +
                                  std::to_string(first) + ", " + std::to_string(last) + ")");
    r.check_type<T>(options.convert);
    std::vector<std::size_t> shape = m.shape;
    shape[0] = last - first;
    xt::xarray<T> out = detail::allocate_for<T>(dir, shape);
    const std::size_t per = m.chunks[0];
    const std::size_t chunks = first == last ? 0 : (last - 1) / per - first / per + 1;
    std::size_t inner = 1;
    for (std::size_t d = 1; d < m.rank(); ++d)
        inner *= m.grid[d];
    const ndshard::detail::call_pool pool(options.pool, options.threads, chunks * inner);
    ndshard::detail::progress_meter meter(options.progress, out.size() * sizeof(T),
                                          "load of " + ndshard::detail::quoted(dir));
    r.read_rows(first, last, out.data(), pool.get());
    meter.finish();
    return out;
}

/// The whole store (see load_rows).
template <class T>
xt::xarray<T> load(const std::filesystem::path& dir, const load_options& options = {}) {
    const ndshard::detail::zarr_reader r(dir);
    const auto& m = r.meta();
    r.check_type<T>(options.convert);
    xt::xarray<T> out = detail::allocate_for<T>(dir, m.shape);
    std::size_t chunks = 1;
    for (const std::size_t g : m.grid)
        chunks *= g;
    const ndshard::detail::call_pool pool(options.pool, options.threads, chunks);
    ndshard::detail::progress_meter meter(options.progress, out.size() * sizeof(T),
                                          "load of " + ndshard::detail::quoted(dir));
    r.read_rows(0, m.rows(), out.data(), pool.get());
    meter.finish();
    return out;
}

}  // namespace ndshard::zarr

#if defined(NDSHARD_ZARR_CODECS)
#include "ndshard/zarr_codecs.hpp"
#endif
