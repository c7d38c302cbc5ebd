// ndshard/tensor_ref.hpp — a C-contiguous array seen as rows, and its balanced zero-copy row
// blocks.
#pragma once

#include <cstddef>
#include <vector>

namespace ndshard {

namespace detail {
/// Elements in one row of an array of `shape`: the product of every dimension after the first
/// (a manifest's shape is checked not to overflow when it is parsed).
[[nodiscard]] inline std::size_t row_size_of(const std::vector<std::size_t>& shape) noexcept {
    std::size_t n = 1;
    for (std::size_t i = 1; i < shape.size(); ++i)
        n *= shape[i];
    return n;
}
}  // namespace detail

/// A half-open range of rows [first_row, last_row), the `index`-th of a split.
struct row_range {
    std::size_t index = 0;
    std::size_t first_row = 0;
    std::size_t last_row = 0;
    [[nodiscard]] std::size_t rows() const noexcept { return last_row - first_row; }
};

/// Splits `rows` rows into `min(n, rows)` balanced ranges, in order: sizes differ by at most one
/// row, the longer ones first. Zero rows give no ranges; `n == 0` is taken as 1.
[[nodiscard]] inline std::vector<row_range> split_rows(std::size_t rows, std::size_t n) {
    std::vector<row_range> out;
    if (n == 0) n = 1;
    if (rows == 0) return out;
    if (n > rows) n = rows;
    out.reserve(n);
    const std::size_t base = rows / n, extra = rows % n;
    std::size_t first = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t len = base + (i < extra ? 1 : 0);
        out.push_back({i, first, first + len});
        first += len;
    }
    return out;
}

/// Pointer and shape of a C-contiguous (row-major) array. The first dimension is "rows"; a row is
/// everything after it (a rank-0 array is one row of one element). Copying a tensor_ref never
/// copies the data.
template <class T>
struct tensor_ref {
    T* data = nullptr;
    std::vector<std::size_t> shape;

    [[nodiscard]] std::size_t rank() const noexcept { return shape.size(); }
    [[nodiscard]] std::size_t rows() const noexcept { return shape.empty() ? 1 : shape[0]; }
    /// Elements in one row: the product of every dimension after the first.
    [[nodiscard]] std::size_t row_size() const noexcept { return detail::row_size_of(shape); }
    [[nodiscard]] std::size_t size() const noexcept { return rows() * row_size(); }
    [[nodiscard]] std::size_t bytes() const noexcept { return size() * sizeof(T); }

    /// Rows [first, last) as a tensor_ref over the same memory.
    [[nodiscard]] tensor_ref<T> slice_rows(std::size_t first, std::size_t last) const {
        tensor_ref<T> r{data + first * row_size(), shape};
        if (r.shape.empty()) return r;
        r.shape[0] = last - first;
        return r;
    }
};

/// Balanced zero-copy row blocks of `ref`: `min(n, rows)` views over its memory, in order.
template <class T>
[[nodiscard]] std::vector<tensor_ref<T>> split_rows(const tensor_ref<T>& ref, std::size_t n) {
    std::vector<tensor_ref<T>> out;
    if (ref.rank() == 0) {
        out.push_back(ref);
        return out;
    }
    for (const auto& r : split_rows(ref.rows(), n))
        out.push_back(ref.slice_rows(r.first_row, r.last_row));
    return out;
}

}  // namespace ndshard
