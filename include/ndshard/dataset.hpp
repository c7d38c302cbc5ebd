// ndshard/dataset.hpp — a directory of shards plus manifest.json: save, load, load_into, inspect.
//
//   features.nds/manifest.json            the commit point: the dataset is what it lists
//   features.nds/part-000001-00000.npy    rows [first, last) of generation 1, a complete .npy file
//
// A save writes a new generation beside the live one, commits by renaming a fresh manifest over
// the old one, and only then removes the old generation: a crash at any instant leaves one whole
// dataset, old or new. Saves into one directory take turns (flock on .ndshard.lock). Loads hold
// a shared flock on the directory, and a save removes a previous generation only when it can
// take that lock without waiting: a load never finds its shards gone; old files a running load
// kept alive are removed by a later save.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xexpression.hpp>

#include "ndshard/progress.hpp"
#include "ndshard/thread_pool.hpp"

namespace ndshard {

enum class shard_format { npy, csv, tsv };

struct save_options {
    shard_format format = shard_format::npy;
    std::size_t shards = 0;   ///< 0: one per thread (an append: one per 16 MiB, at most that)
    std::size_t threads = 0;  ///< 0: all cores
    bool sync = true;         ///< fsync shards, manifest and directory before and after the commit
    thread_pool* pool = nullptr;  ///< run on this pool instead of one made for the call
    /// User attributes committed with the data (column names, units, provenance): a JSON object,
    /// nested at most 32 levels. null (the default): none for a save; an append keeps the
    /// dataset's own. {}: none, also for an append.
    nlohmann::json attributes{};
    /// Called with the bytes done and in all, a few times a second; false cancels the call,
    /// which throws ndshard::cancelled and leaves its target as it was (ndshard/progress.hpp).
    progress_fn progress{};
};

struct load_options {
    std::size_t threads = 0;  ///< 0: all cores
    bool verify = true;       ///< check every shard's checksum while reading it
    thread_pool* pool = nullptr;
    /// Convert elements to the requested type while reading (a bounded buffer per worker) when
    /// the dataset holds another type. Off: a different type is an error naming both. On: C++
    /// conversion rules, except that a value the requested type cannot hold (NaN or out of
    /// range for an integer, a finite value beyond a float's range) is an error naming the shard
    /// and the element. Text shards are parsed straight into the requested type.
    bool convert = false;
    /// Called with the bytes done and in all, a few times a second; false cancels the call,
    /// which throws ndshard::cancelled and leaves its target as it was (ndshard/progress.hpp).
    progress_fn progress{};
};

struct shard_info {
    std::string path;  ///< file name inside the dataset directory
    std::size_t first_row = 0, last_row = 0;
    std::uint64_t bytes = 0;
    std::string checksum;  ///< "xxh3:<16 hex digits>", empty when the manifest has none
    /// The xxh3 of each consecutive `block_bytes` of the file (the last block may be shorter),
    /// which partial reads check; empty (and `block_bytes` 0) for shards written before ndshard
    /// recorded them, whose partial reads with `verify` hash the whole file instead.
    std::uint64_t block_bytes = 0;
    std::vector<std::uint64_t> block_checksums;
};

struct dataset_info {
    std::string dtype;  ///< numpy descr, "<f8"
    std::vector<std::size_t> shape;
    shard_format format = shard_format::npy;
    std::vector<shard_info> shards;
    std::uint64_t generation = 0;  ///< grows by one with every save
    /// The user attributes saved with this generation (save_options::attributes); an empty
    /// object when there are none.
    nlohmann::json attributes = nlohmann::json::object();
    /// The words file of an embeddings dataset (save_embeddings): one word per row, rows
    /// [0, shape[0]); an empty path for any other dataset.
    shard_info words{};
};

/// Writes `a` as a dataset in `dir` (created if missing), replacing what was there atomically.
template <class E>
dataset_info save(const std::filesystem::path& dir, const xt::xexpression<E>& a,
                  const save_options& options = {});

/// Reads a dataset into a new array; `T` must be the dataset's element type.
template <class T>
[[nodiscard]] xt::xarray<T> load(const std::filesystem::path& dir,
                                 const load_options& options = {});

/// Reads a dataset into `out` (resized to the dataset's shape; memory reused when it fits). A
/// destination that cannot resize (xt::xtensor_fixed, xt::adapt of a buffer it does not own) must
/// already have the dataset's shape. On error `out` holds unspecified values.
template <class C>
void load_into(const std::filesystem::path& dir, C& out, const load_options& options = {});

/// Reads rows [first, last) of a dataset into a new array of shape (last - first, ...): only the
/// shards that overlap the range are opened, and of an .npy shard only the bytes of those rows
/// (with `verify`, also the rest of the 1 MiB checksum blocks they lie in). A text shard the
/// range starts or ends inside is parsed whole, into a buffer of its rows. first > last, a last
/// past the dataset's rows, or a rank-0 dataset is an ndshard::error naming the directory.
template <class T>
[[nodiscard]] xt::xarray<T> load_rows(const std::filesystem::path& dir, std::size_t first,
                                      std::size_t last, const load_options& options = {});

/// load_rows into `out`, prepared as load_into prepares it (shape (last - first, ...)).
template <class C>
void load_rows_into(const std::filesystem::path& dir, std::size_t first, std::size_t last, C& out,
                    const load_options& options = {});

/// Reads and validates a dataset's manifest.
[[nodiscard]] dataset_info inspect(const std::filesystem::path& dir);

struct verify_options {
    std::size_t threads = 0;  ///< 0: all cores
    thread_pool* pool = nullptr;
    /// Called with the bytes hashed and the bytes of every file listed, as save_options::progress
    /// (false: verify throws ndshard::cancelled).
    progress_fn progress{};
};

/// One bad shard found by `verify`.
struct shard_problem {
    std::size_t shard = 0;  ///< index in the manifest's list; shards.size() for the words file
    std::string path;       ///< the shard's file name inside the dataset
    std::string message;    ///< the ndshard::error text load would throw for it
};

/// What `verify` found. `ok()` is true when every shard is present, of the size the manifest
/// gives, with a header that agrees with the manifest (npy), and with the checksum it lists.
struct verify_result {
    std::vector<shard_problem> problems;  ///< in manifest order, one per bad shard
    std::size_t shards = 0;               ///< shards checked (and an embeddings dataset's words)
    std::size_t unchecked = 0;            ///< shards whose manifest entry has no checksum
    std::uint64_t bytes = 0;              ///< bytes hashed
    [[nodiscard]] bool ok() const noexcept { return problems.empty(); }
};

/// Checks every shard of the dataset in `dir` (all formats: the checksum covers each shard
/// file's bytes, so nothing is parsed but .npy headers) and reports each bad one; it never stops
/// at the first. Throws ndshard::error only when there is nothing to check shard by shard: no
/// directory, or a manifest that is missing or invalid. Safe to run while another process saves.
[[nodiscard]] verify_result verify(const std::filesystem::path& dir,
                                   const verify_options& options = {});

/// "npy", "csv" or "tsv".
[[nodiscard]] const char* to_string(shard_format f) noexcept;

}  // namespace ndshard

#include "ndshard/detail/dataset_impl.hpp"
