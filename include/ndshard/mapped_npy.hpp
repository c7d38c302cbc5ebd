// ndshard/mapped_npy.hpp — a .npy file used in place, through a read-only shared memory map.
//
// mapped_npy<T> maps a whole .npy file (mmap, PROT_READ, MAP_SHARED) and hands out its data as
// `const T*` and as an xtensor adaptor, without copying: an array larger than memory is paged in
// as it is read, and every process that maps the same file shares the same page-cache pages (N
// readers cost one copy of the file in memory, not N).
//
// Only files whose bytes are already valid `T`s in C order can be used in place, so opening
// refuses, naming the file: another dtype; big-endian data; a Fortran-ordered array of rank > 1
// (one with at most one dimension above 1, or no elements, is the same in both orders and is
// accepted); a bool file holding a byte other than 0 or 1 (a C++ bool holding 2 is undefined
// behaviour; the bytes are checked once, at open, which reads every page of a bool file); data
// not aligned for T (numpy aligns it to 64 bytes). read_npy reads all of those into a copy.
//
// A mapped file must not be truncated or rewritten in place by anyone while it is mapped: reading
// a page past a truncated end raises SIGBUS, and bytes rewritten in place change under the
// reader. ndshard itself never rewrites a file in place: write_npy and save write a new file
// beside the old one and rename it over it, so a mapping made before keeps seeing the old file
// whole (its pages live until the last mapping of it goes), and a new mapped_npy sees the new one.
#pragma once

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <xtensor/xadapt.hpp>

#include "ndshard/dtype.hpp"
#include "ndshard/error.hpp"
#include "ndshard/file.hpp"
#include "ndshard/npy.hpp"

namespace ndshard {

/// A read-only, zero-copy mapping of one .npy file. Processes that map the same file share its
/// pages. Movable, not copyable; pointers and adaptors it hands out stay valid while it lives
/// (a moved-from mapping holds nothing: size() 0, only to be assigned or destroyed). Nothing in
/// it changes after construction, so any number of threads may read it at once.
template <class T>
class mapped_npy {
  public:
    /// Maps `file`; throws ndshard::error naming it when it is missing, malformed, truncated or
    /// cannot be used in place (see the top of this header).
    explicit mapped_npy(const std::filesystem::path& file);

    mapped_npy(const mapped_npy&) = delete;
    mapped_npy& operator=(const mapped_npy&) = delete;
    mapped_npy(mapped_npy&& o) noexcept;
    mapped_npy& operator=(mapped_npy&& o) noexcept;
    ~mapped_npy() { unmap(); }

    /// The first element, in the mapping. With no elements, a valid pointer to nothing in the file.
    [[nodiscard]] const T* data() const noexcept { return data_; }
    /// The array's shape (empty for a 0-d array).
    [[nodiscard]] const std::vector<std::size_t>& shape() const noexcept { return shape_; }
    /// The number of elements.
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    /// shape()[0], or 1 for a 0-d array (ndshard's convention for rows).
    [[nodiscard]] std::size_t rows() const noexcept { return shape_.empty() ? 1 : shape_[0]; }
    /// The file as it was named to the constructor.
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

    /// An xtensor adaptor over the mapping, no copy: const, row-major, with shape().
    [[nodiscard]] auto array() const { return view_of(data_, size_, shape_); }
    /// Rows [first, last) as an adaptor over the mapping (shape {last - first, shape()[1:]...}).
    /// Throws ndshard::error for a 0-d array, or unless first <= last <= rows().
    [[nodiscard]] auto rows(std::size_t first, std::size_t last) const {
        check_rows(first, last);
        std::vector<std::size_t> s = shape_;
        s[0] = last - first;
        const std::size_t rs = row_size();
        return view_of(data_ + first * rs, (last - first) * rs, std::move(s));
    }
    /// Row `i` as an adaptor over the mapping (shape {shape()[1:]...}); i < rows(), rank >= 1.
    [[nodiscard]] auto row(std::size_t i) const {
        check_row(i);
        const std::size_t rs = row_size();
        return view_of(data_ + i * rs, rs,
                       std::vector<std::size_t>(shape_.begin() + 1, shape_.end()));
    }

  private:
    static auto view_of(const T* p, std::size_t n, std::vector<std::size_t> s) {
        // an rvalue pointer: from an lvalue, xt::adapt would keep a reference to `p`
        return xt::adapt(static_cast<const T*>(p), n, xt::no_ownership(), std::move(s));
    }
    /// What data() points at when there is nothing mapped: xtensor may form pointers from it.
    static const T* nothing() noexcept {
        static const T none{};
        return &none;
    }
    [[nodiscard]] std::size_t row_size() const noexcept {
        std::size_t n = 1;
        for (std::size_t d = 1; d < shape_.size(); ++d)
            n *= shape_[d];
        return n;
    }
    void check_rows(std::size_t first, std::size_t last) const;
    void check_row(std::size_t i) const;
    void check_rank() const;
    void unmap() noexcept {
        if (map_) ::munmap(map_, map_bytes_);
        map_ = nullptr;
        map_bytes_ = 0;
    }

    std::filesystem::path path_;
    std::vector<std::size_t> shape_;
    std::size_t size_ = 0;
    const T* data_ = nothing();
    void* map_ = nullptr;  ///< the whole file, header included (mmap offsets must be page-aligned)
    std::size_t map_bytes_ = 0;
};

// ---------------------------------------------------------------------------------------------

namespace detail {

/// The index of the first byte in [p, p + n) that is neither 0 nor 1, or n.
inline std::size_t first_non_bool(const unsigned char* p, std::size_t n) noexcept {
    constexpr std::size_t block = 4096;
    for (std::size_t start = 0; start < n; start += block) {
        const std::size_t end = std::min(n, start + block);
        unsigned char any = 0;  // a branch-free OR over a block vectorises; the rare hit is found
        for (std::size_t i = start; i < end; ++i)
            any |= p[i];
        if (any > 1)
            for (std::size_t i = start; i < end; ++i)
                if (p[i] > 1) return i;
    }
    return n;
}

/// Whether data in Fortran order lies in memory as the same shape in C order: true when at most
/// one dimension is above 1, or there are no elements.
inline bool fortran_is_c_order(const std::vector<std::size_t>& shape) noexcept {
    std::size_t above_one = 0;
    for (auto d : shape) {
        if (d == 0) return true;
        above_one += d > 1;
    }
    return above_one <= 1;
}

/// "(read_npy makes one)": where to go when a file cannot be used in place.
inline std::string needs_copy(const std::string& what) {
    return ", which cannot be used in place without " + what + " (read_npy makes one)";
}

}  // namespace detail

template <class T>
mapped_npy<T>::mapped_npy(const std::filesystem::path& path) : path_(path) {
    constexpr dtype want = dtype_of<T>();
    const file f = file::open_read(path);
    const npy_header h = [&] {
        try {
            return read_npy_header(f);  // also checks the file size against the shape
        } catch (const error&) {
            detail::explain_not_npy(path, "cannot map");  // a dataset or zarr store: what reads it
            throw;
        }
    }();
    const std::string found = detail::shorten(h.descr);
    if (h.type.type != want)
        detail::fail("cannot map", path,
                     "expected dtype " + want.descr() + " (" + dtype_name(want) + "), found " +
                         found + " (" + dtype_name(h.type.type) + ")");
    if (h.type.swap)
        detail::fail("cannot map", path,
                     "expected dtype " + want.descr() + " (" + dtype_name(want) + "), found " +
                         found + " (big-endian " + dtype_name(h.type.type) + ")" +
                         detail::needs_copy("a byte-swapped copy"));
    if (h.fortran_order && !detail::fortran_is_c_order(h.shape))
        detail::fail("cannot map", path,
                     "expected C order, found Fortran order for shape " + shape_text(h.shape) +
                         detail::needs_copy("a transposed copy"));
    shape_ = h.shape;
    size_ = static_cast<std::size_t>(h.elements());
    if (size_ == 0) return;  // mmap refuses a length of 0; nothing to check either
    if (h.data_offset % alignof(T) != 0)
        detail::fail("cannot map", path,
                     "expected the data at an offset that is a multiple of " +
                         std::to_string(alignof(T)) + " (the alignment of " + dtype_name(want) +
                         "), found offset " + std::to_string(h.data_offset) +
                         detail::needs_copy("a copy"));
    map_bytes_ = static_cast<std::size_t>(h.data_offset + h.data_bytes());  // the file's size
    void* m = ::mmap(nullptr, map_bytes_, PROT_READ, MAP_SHARED, f.fd(), 0);
    if (m == MAP_FAILED) {
        map_bytes_ = 0;
        detail::fail_system("map", path, errno);
    }
    map_ = m;
    const auto* bytes = static_cast<const unsigned char*>(m) + h.data_offset;
    if constexpr (std::is_same_v<T, bool>) {
        const std::size_t bad = detail::first_non_bool(bytes, size_);
        if (bad != size_) {
            const unsigned value = bytes[bad];
            unmap();
            detail::fail("cannot map", path,
                         "expected bool bytes 0 or 1, found " + std::to_string(value) +
                             " at element " + std::to_string(bad) +
                             detail::needs_copy("a copy that stores it as 1"));
        }
    }
    data_ = reinterpret_cast<const T*>(bytes);
    // the descriptor closes here: the mapping keeps the file's pages without it
}

template <class T>
mapped_npy<T>::mapped_npy(mapped_npy&& o) noexcept
    : path_(std::move(o.path_)),
      shape_(std::move(o.shape_)),
      size_(std::exchange(o.size_, 0)),
      data_(std::exchange(o.data_, nothing())),
      map_(std::exchange(o.map_, nullptr)),
      map_bytes_(std::exchange(o.map_bytes_, 0)) {
    o.shape_.clear();
}

template <class T>
mapped_npy<T>& mapped_npy<T>::operator=(mapped_npy&& o) noexcept {
    if (this != &o) {
        unmap();
        path_ = std::move(o.path_);
        shape_ = std::move(o.shape_);
        o.shape_.clear();
        size_ = std::exchange(o.size_, 0);
        data_ = std::exchange(o.data_, nothing());
        map_ = std::exchange(o.map_, nullptr);
        map_bytes_ = std::exchange(o.map_bytes_, 0);
    }
    return *this;
}

template <class T>
void mapped_npy<T>::check_rank() const {
    if (shape_.empty())
        detail::fail("cannot take rows of", path_,
                     "expected an array of rank 1 or more, found a 0-d array");
}

template <class T>
void mapped_npy<T>::check_rows(std::size_t first, std::size_t last) const {
    check_rank();
    if (first > last || last > rows())
        detail::fail("cannot take rows of", path_,
                     "expected a row range within [0, " + std::to_string(rows()) + "), found [" +
                         std::to_string(first) + ", " + std::to_string(last) + ")");
}

template <class T>
void mapped_npy<T>::check_row(std::size_t i) const {
    check_rank();
    if (i >= rows())
        detail::fail(
            "cannot take a row of", path_,
            "expected a row below " + std::to_string(rows()) + ", found row " + std::to_string(i));
}

}  // namespace ndshard
