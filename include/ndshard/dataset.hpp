// ndshard/dataset.hpp — a directory of shards plus manifest.json: save, load, load_into, inspect.
//
//   features.nds/manifest.json            the commit point: the dataset is what it lists
//   features.nds/part-000001-00000.npy    rows [first, last) of generation 1, a complete .npy file
//
// A save writes a new generation beside the live one, commits by renaming a fresh manifest over
// the old one, and only then removes the old generation: a crash at any instant leaves one whole
// dataset, old or new.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xexpression.hpp>

#include "ndshard/thread_pool.hpp"

namespace ndshard {

enum class shard_format { npy, csv, tsv };

struct save_options {
    shard_format format = shard_format::npy;
    std::size_t shards = 0;   ///< 0: one per thread
    std::size_t threads = 0;  ///< 0: all cores
    bool sync = true;         ///< fsync shards, manifest and directory before and after the commit
    thread_pool* pool = nullptr;  ///< run on this pool instead of one made for the call
};

struct load_options {
    std::size_t threads = 0;  ///< 0: all cores
    bool verify = true;       ///< check every shard's checksum while reading it
    thread_pool* pool = nullptr;
};

struct shard_info {
    std::string path;  ///< file name inside the dataset directory
    std::size_t first_row = 0, last_row = 0;
    std::uint64_t bytes = 0;
    std::string checksum;  ///< "xxh3:<16 hex digits>", empty when the manifest has none
};

struct dataset_info {
    std::string dtype;  ///< numpy descr, "<f8"
    std::vector<std::size_t> shape;
    shard_format format = shard_format::npy;
    std::vector<shard_info> shards;
    std::uint64_t generation = 0;  ///< grows by one with every save
};

/// Writes `a` as a dataset in `dir` (created if missing), replacing what was there atomically.
template <class E>
dataset_info save(const std::filesystem::path& dir, const xt::xexpression<E>& a,
                  const save_options& options = {});

/// Reads a dataset into a new array; `T` must be the dataset's element type.
template <class T>
[[nodiscard]] xt::xarray<T> load(const std::filesystem::path& dir,
                                 const load_options& options = {});

/// Reads a dataset into `out` (resized to the dataset's shape; memory reused when it fits). On
/// error `out` holds unspecified values.
template <class C>
void load_into(const std::filesystem::path& dir, C& out, const load_options& options = {});

/// Reads and validates a dataset's manifest.
[[nodiscard]] dataset_info inspect(const std::filesystem::path& dir);

/// "npy", "csv" or "tsv".
[[nodiscard]] const char* to_string(shard_format f) noexcept;

}  // namespace ndshard

#include "ndshard/detail/dataset_impl.hpp"
