// ndshard/detail/row_source.hpp — where the rows of an array to be saved come from.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "ndshard/tensor_ref.hpp"

namespace ndshard::detail {

/// Rows of a row-major array to be written. Either `contiguous` points at all of it (zero copy),
/// or `fill(first, last, out)` evaluates rows [first, last) into `out` (a bounded buffer), for
/// column-major, strided and lazy sources. Knows nothing of xtensor or files.
template <class T>
struct row_source {
    std::vector<std::size_t> shape;
    const T* contiguous = nullptr;
    std::function<void(std::size_t first, std::size_t last, T* out)> fill;
    /// Evaluates `n` elements starting at flat (row-major) element `first`: used instead of
    /// `fill` when one row is larger than a chunk, and for every text block (which may start
    /// and end inside a row), so a worker's buffer stays bounded whatever the shape.
    std::function<void(std::size_t first, std::size_t n, T* out)> fill_flat;

    [[nodiscard]] std::size_t rows() const noexcept { return shape.empty() ? 1 : shape[0]; }
    [[nodiscard]] std::size_t row_size() const noexcept { return row_size_of(shape); }
};

/// A reusable scratch buffer of T that is never zero-filled (and works for bool, unlike
/// std::vector<bool>). Grows, never shrinks.
template <class T>
class scratch {
  public:
    T* get(std::size_t n) {
        if (n > capacity_) {
            data_.reset(new T[n]);
            capacity_ = n;
        }
        return data_.get();
    }

  private:
    std::unique_ptr<T[]> data_;
    std::size_t capacity_ = 0;
};

/// Bytes a worker handles at once: small enough to stay in cache while it is hashed or
/// formatted, large enough that system calls cost nothing.
inline constexpr std::size_t chunk_bytes = std::size_t{4} << 20;

/// Calls `fn(const T* rows, first, last)` for consecutive pieces of rows [first, last) of `src`,
/// each at most `chunk_bytes` (or one row, when a row is larger). Contiguous sources hand out
/// pointers into the array; others are evaluated into `buffer`, which is reused.
template <class T, class F>
void for_each_chunk(const row_source<T>& src, std::size_t first, std::size_t last,
                    scratch<T>& buffer, F&& fn) {
    const std::size_t rs = src.row_size();
    const std::size_t step =
        std::max<std::size_t>(1, chunk_bytes / std::max<std::size_t>(1, rs * sizeof(T)));
    for (std::size_t r = first; r < last; r += std::min(step, last - r)) {
        const std::size_t e = r + std::min(step, last - r);
        if (src.contiguous) {
            fn(src.contiguous + r * rs, r, e);
        } else {
            T* out = buffer.get((e - r) * rs);
            src.fill(r, e, out);
            fn(static_cast<const T*>(out), r, e);
        }
    }
}

/// Calls `fn(const T* p, std::size_t n)` for consecutive pieces of the elements of rows
/// [first, last), each at most `chunk_bytes`, splitting rows when one row is larger than that
/// (binary writers need bytes, not rows). Contiguous sources hand out pointers into the array.
template <class T, class F>
void for_each_piece(const row_source<T>& src, std::size_t first, std::size_t last,
                    scratch<T>& buffer, F&& fn) {
    const std::size_t rs = src.row_size();
    const std::size_t per_chunk = std::max<std::size_t>(1, chunk_bytes / sizeof(T));
    if (src.contiguous || !src.fill_flat || rs <= per_chunk) {
        for_each_chunk(src, first, last, buffer,
                       [&](const T* p, std::size_t r0, std::size_t r1) { fn(p, (r1 - r0) * rs); });
        return;
    }
    const std::size_t end = last * rs;
    for (std::size_t e = first * rs; e < end;) {
        const std::size_t n = std::min(per_chunk, end - e);
        T* out = buffer.get(n);
        src.fill_flat(e, n, out);
        fn(static_cast<const T*>(out), n);
        e += n;
    }
}

}  // namespace ndshard::detail
