// ndshard/npy_file.hpp — one .npy file read and written by every core at disjoint offsets.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xexpression.hpp>

#include "ndshard/detail/row_source.hpp"
#include "ndshard/dtype.hpp"
#include "ndshard/error.hpp"
#include "ndshard/file.hpp"
#include "ndshard/npy.hpp"
#include "ndshard/tensor_ref.hpp"
#include "ndshard/thread_pool.hpp"
#include "ndshard/xtensor.hpp"

namespace ndshard {

/// Reads a .npy file (format 1.0, 2.0 or 3.0, as numpy writes it) with `threads` threads (0: all
/// cores), each reading its own byte range straight into the result. `T` must match the file's
/// dtype; big-endian files are byte-swapped; Fortran-ordered files are transposed into C order.
template <class T>
[[nodiscard]] xt::xarray<T> read_npy(const std::filesystem::path& file, std::size_t threads = 0);

/// Reads rows [first, last) of a .npy file into an array of shape (last - first, ...): only those
/// rows' bytes are read, by `threads` threads (0: all cores). first > last, a last past the
/// file's rows, a rank-0 file, or a Fortran-ordered file of rank 2 or more (whose rows are not
/// contiguous: read_npy reads it whole) is an ndshard::error naming the file.
template <class T>
[[nodiscard]] xt::xarray<T> read_npy_rows(const std::filesystem::path& file, std::size_t first,
                                          std::size_t last, std::size_t threads = 0);

struct npy_write_options {
    std::size_t threads = 0;  ///< 0: all cores
    bool sync = true;         ///< fsync the file before the rename and the directory after it
};

/// Writes `a` as one .npy file with `threads` threads (0: all cores) writing disjoint row ranges at
/// their offsets. The file appears whole or not at all: it is written beside the target under a
/// private name, fsynced, and renamed over it (the previous file stays intact until then).
template <class E>
void write_npy(const std::filesystem::path& file, const xt::xexpression<E>& a,
               std::size_t threads = 0);
/// The same, with `sync = false` to skip the fsyncs (faster, but a crash may lose the new file).
template <class E>
void write_npy(const std::filesystem::path& file, const xt::xexpression<E>& a,
               const npy_write_options& options);

// ---------------------------------------------------------------------------------------------

namespace detail {

template <class T>
void byteswap_elements(T* data, std::size_t n) noexcept {
    auto* p = reinterpret_cast<unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i, p += sizeof(T))
        std::reverse(p, p + sizeof(T));
}

/// Reads `total` bytes of data at `offset` into `dest` with one byte range per thread; each range
/// is read by the thread that first touches its pages.
template <class T>
void parallel_read_elements(const file& f, std::uint64_t offset, T* dest, std::size_t n,
                            std::size_t threads, bool swap) {
    const std::size_t nthreads = resolve_threads(threads);
    // a thread per MiB at most: tiny files are not worth a thread each
    const std::size_t tasks = std::min(nthreads, std::max<std::size_t>(1, n * sizeof(T) >> 20));
    const auto ranges = split_rows(n, tasks);
    with_pool(nullptr, tasks, ranges.size(), [&](std::size_t i) {
        const auto& r = ranges[i];
        auto* out = reinterpret_cast<char*>(dest + r.first_row);
        const std::uint64_t total = std::uint64_t{r.rows()} * sizeof(T);
        const std::uint64_t start = offset + std::uint64_t{r.first_row} * sizeof(T);
        for (std::uint64_t done = 0; done < total;) {
            const auto k =
                static_cast<std::size_t>(std::min<std::uint64_t>(chunk_bytes, total - done));
            f.pread_full(out + done, k, start + done);
            done += k;
        }
        if (swap) byteswap_elements(dest + r.first_row, r.rows());
        if constexpr (std::is_same_v<T, bool>) normalize_bools(dest + r.first_row, r.rows());
    });
}

template <class T>
void write_npy_rows(const std::filesystem::path& target, const row_source<T>& src,
                    const npy_write_options& options) {
    const std::string header = encode_npy_header(descr_of<T>(), src.shape);
    const std::uint64_t row_bytes = std::uint64_t{src.row_size()} * sizeof(T);
    const std::size_t nthreads = resolve_threads(options.threads);
    const bool whole = src.shape.empty();
    const auto ranges = split_rows(src.rows(), whole ? 1 : nthreads);
    // written beside the target under a private name; errors name the target the caller gave
    write_atomically(target, options.sync, true, [&](const file& f) {
        f.pwrite_full(header.data(), header.size(), 0);
        with_pool(nullptr, nthreads, ranges.size(), [&](std::size_t i) {
            scratch<T> buffer;
            std::uint64_t offset = header.size() + ranges[i].first_row * row_bytes;
            for_each_piece(src, ranges[i].first_row, ranges[i].last_row, buffer,
                           [&](const T* p, std::size_t elements) {
                               const std::size_t n = elements * sizeof(T);
                               f.pwrite_full(p, n, offset);
                               offset += n;
                           });
        });
    });
    if (options.sync) sync_directory(target.has_parent_path() ? target.parent_path() : ".");
}

}  // namespace detail

namespace detail {

/// Opens a .npy file and reads its header, checking that it holds T elements.
template <class T>
npy_header open_npy_of(const file& f) {
    npy_header h;
    try {
        h = read_npy_header(f);  // also checks the file size against the shape
    } catch (const error&) {
        explain_not_npy(f.path(), "cannot read");  // a dataset or zarr store: what reads it
        throw;
    }
    if (h.type.type != dtype_of<T>())
        fail("cannot read", f.path(),
             "expected dtype " + descr_of<T>() + " (" + dtype_name(dtype_of<T>()) + "), found " +
                 shorten(h.descr) + " (" + dtype_name(h.type.type) + ")");
    return h;
}

/// Checks that rows [first, last) of the .npy file `h` describes can be read in place.
inline void check_npy_rows(const file& f, const npy_header& h, std::size_t first,
                           std::size_t last) {
    if (h.fortran_order && h.shape.size() > 1)
        fail("cannot read rows of", f.path(),
             "expected a C-ordered file, found Fortran order (its rows are not contiguous: "
             "read_npy reads it whole)");
    if (h.shape.empty())
        fail("cannot read rows of", f.path(),
             "expected an array of rank 1 or more for a row range, found rank 0");
    if (first > last || last > h.shape[0])
        fail("cannot read rows of", f.path(),
             "expected a row range [first, last) with first <= last <= " +
                 std::to_string(h.shape[0]) + " (the rows there are), found [" +
                 std::to_string(first) + ", " + std::to_string(last) + ")");
}

}  // namespace detail

template <class T>
xt::xarray<T> read_npy(const std::filesystem::path& path, std::size_t threads) {
    const file f = file::open_read(path);
    const npy_header h = detail::open_npy_of<T>(f);
    const auto n = static_cast<std::size_t>(h.elements());
    if (h.fortran_order && h.shape.size() > 1) {
        // column-major on disk: read it as such, then lay it out in C order (one extra copy)
        using shape_type = typename xt::xarray<T, xt::layout_type::column_major>::shape_type;
        auto f_order = xt::xarray<T, xt::layout_type::column_major>::from_shape(
            shape_type(h.shape.begin(), h.shape.end()));
        detail::parallel_read_elements(f, h.data_offset, f_order.data(), n, threads, h.type.swap);
        xt::xarray<T> out = f_order;
        return out;
    }
    xt::xarray<T> out = detail::allocate_array<T>(h.shape);
    detail::parallel_read_elements(f, h.data_offset, out.data(), n, threads, h.type.swap);
    return out;
}

template <class T>
xt::xarray<T> read_npy_rows(const std::filesystem::path& path, std::size_t first, std::size_t last,
                            std::size_t threads) {
    const file f = file::open_read(path);
    const npy_header h = detail::open_npy_of<T>(f);
    detail::check_npy_rows(f, h, first, last);
    std::vector<std::size_t> shape = h.shape;
    shape[0] = last - first;
    const std::size_t row_size = detail::row_size_of(shape);
    xt::xarray<T> out = detail::allocate_array<T>(shape);
    detail::parallel_read_elements(f, h.data_offset + std::uint64_t{first} * row_size * sizeof(T),
                                   out.data(), (last - first) * row_size, threads, h.type.swap);
    return out;
}

template <class E>
void write_npy(const std::filesystem::path& file, const xt::xexpression<E>& a,
               std::size_t threads) {
    write_npy(file, a, npy_write_options{threads});
}

template <class E>
void write_npy(const std::filesystem::path& file, const xt::xexpression<E>& a,
               const npy_write_options& options) {
    detail::write_npy_rows(file, detail::make_row_source(a.derived_cast()), options);
}

}  // namespace ndshard
