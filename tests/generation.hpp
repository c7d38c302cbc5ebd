// tests/generation.hpp — arrays that say which save wrote them: the crash and concurrency tests
// save "generation" after generation and check that every load is exactly one of them, whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>
#include <xtensor/xarray.hpp>

namespace ndshard_test {

inline constexpr std::size_t generation_cols = 16;

/// Generations differ in row count (64 to 4159 rows of 16 int64: up to 532 KB) and shard count,
/// so a mix of two cannot pass for either.
inline std::size_t generation_rows(std::uint64_t tag) {
    return 64 + (tag * 7919) % 4096;
}
inline std::size_t generation_shards(std::uint64_t tag) {
    return 1 + tag % 5;
}

/// Element i of generation `tag`: the tag in the high 32 bits, the index in the low ones.
inline xt::xarray<std::int64_t> generation_array(std::uint64_t tag) {
    const std::size_t rows = generation_rows(tag);
    auto a = xt::xarray<std::int64_t>::from_shape({rows, generation_cols});
    for (std::size_t i = 0; i < a.size(); ++i)
        a.data()[i] = static_cast<std::int64_t>((tag << 32) | i);
    return a;
}

/// The tag of `a` when it is exactly one generation, whole; otherwise false and `why` says what
/// is wrong.
inline bool generation_of(const xt::xarray<std::int64_t>& a, std::uint64_t& tag, std::string& why) {
    if (a.dimension() != 2 || a.size() == 0 || a.shape()[1] != generation_cols) {
        why = "unexpected shape";
        return false;
    }
    tag = static_cast<std::uint64_t>(a.data()[0]) >> 32;
    if (a.shape()[0] != generation_rows(tag)) {
        why = "generation " + std::to_string(tag) + " with " + std::to_string(a.shape()[0]) +
              " rows, expected " + std::to_string(generation_rows(tag));
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a.data()[i] != static_cast<std::int64_t>((tag << 32) | i)) {
            why = "generation " + std::to_string(tag) + " mixed with another at element " +
                  std::to_string(i);
            return false;
        }
    }
    return true;
}

// Appends: a dataset grows batch by batch, and every load must be whole batches, in order.

inline constexpr std::size_t batch_cols = 4;

/// Batches differ in row count (1 to 50 rows of 4 int64).
inline std::size_t batch_rows(std::uint64_t b) {
    return 1 + (b * 37) % 50;
}

/// Element i of batch `b`: the batch in the high 32 bits, the index in the low ones.
inline xt::xarray<std::int64_t> batch_array(std::uint64_t b) {
    auto a = xt::xarray<std::int64_t>::from_shape({batch_rows(b), batch_cols});
    for (std::size_t i = 0; i < a.size(); ++i)
        a.data()[i] = static_cast<std::int64_t>((b << 32) | i);
    return a;
}

/// The batches `a` holds, in order, when it is whole batches one after the other; otherwise
/// false and `why` says what is wrong.
inline bool batches_of(const xt::xarray<std::int64_t>& a, std::vector<std::uint64_t>& batches,
                       std::string& why) {
    batches.clear();
    if (a.dimension() != 2 || a.shape()[1] != batch_cols) {
        why = "unexpected shape";
        return false;
    }
    const std::size_t rows = a.shape()[0];
    for (std::size_t r = 0; r < rows;) {
        const auto b = static_cast<std::uint64_t>(a.data()[r * batch_cols]) >> 32;
        const std::size_t n = batch_rows(b);
        if (r + n > rows) {
            why = "batch " + std::to_string(b) + " cut short at row " + std::to_string(rows);
            return false;
        }
        for (std::size_t i = 0; i < n * batch_cols; ++i) {
            if (a.data()[r * batch_cols + i] != static_cast<std::int64_t>((b << 32) | i)) {
                why = "batch " + std::to_string(b) + " starting at row " + std::to_string(r) +
                      " is not whole at its element " + std::to_string(i);
                return false;
            }
        }
        batches.push_back(b);
        r += n;
    }
    return true;
}

}  // namespace ndshard_test
