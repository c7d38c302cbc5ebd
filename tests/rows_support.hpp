// tests/rows_support.hpp — helpers shared by the row-range and writer tests: numbered arrays,
// shapes as vectors, quick save options.
#pragma once

#include <cstddef>
#include <vector>
#include <xtensor/xarray.hpp>

#include "ndshard/dataset.hpp"

namespace ndshard_test {

/// An array of `shape` holding value(i) at flat index i.
template <class T, class F>
xt::xarray<T> numbered(const std::vector<std::size_t>& shape, F value) {
    auto a = xt::xarray<T>::from_shape(shape);
    for (std::size_t i = 0; i < a.size(); ++i)
        a.data()[i] = value(i);
    return a;
}

/// i * 0.25 - 3 at flat index i: exact in float and in text.
inline xt::xarray<double> quarters(const std::vector<std::size_t>& shape) {
    return numbered<double>(shape, [](std::size_t i) { return static_cast<double>(i) * 0.25 - 3; });
}

template <class T>
std::vector<std::size_t> shape_of(const xt::xarray<T>& a) {
    return std::vector<std::size_t>(a.shape().begin(), a.shape().end());
}

/// Save options for tests: `shards` shards in `f`, two threads, no fsync.
inline ndshard::save_options quick(std::size_t shards = 2,
                                   ndshard::shard_format f = ndshard::shard_format::npy) {
    ndshard::save_options o;
    o.format = f;
    o.shards = shards;
    o.threads = 2;
    o.sync = false;
    return o;
}

}  // namespace ndshard_test
