// ndshard/writer.hpp — datasets built batch by batch with bounded memory (dataset_writer), and
// rows added at the end of a dataset (append).
//
// A writer gathers the rows it is given into shards of `shard_rows` rows; each full shard is
// written by the writer's pool in the background while the caller produces the next batch, and
// write() waits only when 2 x threads shards are already waiting or being written. commit()
// writes the last, partial shard, waits for all of them and commits a manifest that lists them,
// exactly as save does: until then nothing at the directory changes for its readers, and a
// crash at any instant leaves the old dataset (the next save removes the orphaned shards).
//
// A writer holds the directory's save lock from its construction to its commit (or its
// destruction): other saves, appends and writers of the same directory wait for it. So two
// processes appending to one dataset at once both land, one after the other, each batch
// contiguous. Loads are not blocked.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstring>
#include <deque>
#include <exception>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <xtensor/xexpression.hpp>

#include "ndshard/dataset.hpp"
#include "ndshard/error.hpp"
#include "ndshard/thread_pool.hpp"
#include "ndshard/xtensor.hpp"

namespace ndshard {

struct writer_options {
    shard_format format = shard_format::npy;
    std::size_t shard_rows = 0;  ///< rows per shard; 0: about 64 MiB of rows
    std::size_t threads = 0;     ///< 0: all cores
    bool sync = true;            ///< fsync shards, manifest and directory, as save does
    /// Continue the dataset already in dir instead of replacing it: its shards stay as they are,
    /// the new rows follow its last row, its dtype, row shape and format must be the writer's.
    /// A directory without a dataset gets a new one.
    bool append = false;
    thread_pool* pool = nullptr;  ///< write shards on this pool instead of one of the writer's
    /// User attributes committed with the rows, as save_options::attributes (null: none, or on
    /// an append the dataset's own).
    nlohmann::json attributes{};
    /// Called by write() with the bytes written so far (total 0: not known in advance); false
    /// makes write() abandon the writer (nothing at dir changes) and throw ndshard::cancelled.
    progress_fn progress{};
};

/// Builds a dataset batch by batch with bounded memory. Nothing at dir changes until commit().
/// Not thread-safe: one thread calls write() and commit().
template <class T>
class dataset_writer {
    static_assert(is_supported_v<T>,
                  "ndshard: element type must be bool, float, double or a fixed-width integer");

  public:
    /// `row_shape` is the shape of one row: {} for a rank-1 dataset, {768} for rows of 768
    /// values. Takes the directory's save lock (waiting for a save or writer that holds it).
    dataset_writer(const std::filesystem::path& dir, std::vector<std::size_t> row_shape,
                   const writer_options& options = {});
    dataset_writer(const dataset_writer&) = delete;
    dataset_writer& operator=(const dataset_writer&) = delete;

    /// Adds rows: an expression of shape (n, row_shape...) holding T (n may be 0). Contiguous
    /// batches are copied into the current shard with memcpy, others evaluated into it. Throws
    /// ndshard::error for a batch of another shape or element type, after commit(), or when a
    /// shard written in the background failed (that error; the writer is then unusable).
    template <class E>
    void write(const xt::xexpression<E>& rows);

    /// Rows written so far (by this writer: an append's count excludes the rows already there).
    [[nodiscard]] std::size_t rows() const noexcept { return rows_; }

    /// Waits for every shard, then commits atomically, as save does; returns the new dataset's
    /// info. Throws what a shard's write or the commit threw (the directory then stays as it
    /// was); a second commit() is an error.
    dataset_info commit();

    /// Without commit(): removes the writer's files, leaves dir as it was, throws nothing.
    ~dataset_writer();

  private:
    struct job {
        shard_info* shard;
        std::unique_ptr<T[]> data;
        std::size_t rows;
    };

    /// The options, once their attributes are known to be safe to copy (a value nested a
    /// million levels deep would overflow the stack in the copy: it is an error instead).
    static const writer_options& checked(const std::filesystem::path& dir,
                                         const writer_options& o) {
        if (!o.attributes.is_null())
            detail::check_attributes(dir, o.attributes,
                                     o.append ? "cannot append to" : "cannot write to");
        return o;
    }
    [[noreturn]] void fail_write(const std::string& what) const {
        detail::fail("cannot write to", dir_, what);
    }
    void rethrow_failure();
    void start_shard();
    void finish_shard();
    void run();
    /// Stops the background after the shards it has (or, with `discard`, only those it is
    /// writing).
    void stop(bool discard) noexcept;
    void abandon() noexcept;

    std::filesystem::path dir_;
    std::vector<std::size_t> row_shape_;
    std::size_t row_size_;
    writer_options options_;
    std::size_t shard_rows_;
    detail::save_session session_;
    dataset_info info_;  // the live shards (an append) then ours, owned by unique_ptrs below
    std::vector<std::unique_ptr<shard_info>> shards_;
    detail::file_attributes attributes_;
    std::size_t rows_ = 0;
    std::size_t base_rows_ = 0;  // rows of the dataset this continues
    std::unique_ptr<T[]> current_;
    std::size_t current_rows_ = 0;
    bool committed_ = false;
    bool abandoned_ = false;  // cancelled by the progress callback: the files are gone
    std::optional<detail::progress_meter> meter_;

    // the background: a thread hands queued shards to the pool, a batch at a time
    detail::call_pool pool_;
    std::size_t max_waiting_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<job> queue_;
    std::vector<std::unique_ptr<T[]>> free_;  // written shards' buffers, reused
    std::size_t busy_ = 0;                    // shards queued or being written
    bool stopping_ = false;
    std::exception_ptr failure_;
    std::thread background_;
};

/// Adds the rows of `rows` (shape (n, ...), the dataset's row shape and dtype, in
/// `options.format`, which must be the dataset's) at the end of the dataset in `dir`: new shards,
/// then the manifest swap; the old shards are untouched. A directory without a dataset gets a
/// new one. Zero rows change nothing. Appends and saves into one directory take turns.
template <class E>
dataset_info append(const std::filesystem::path& dir, const xt::xexpression<E>& rows,
                    const save_options& options = {});

// ---------------------------------------------------------------------------------------------

template <class T>
dataset_writer<T>::dataset_writer(const std::filesystem::path& dir,
                                  std::vector<std::size_t> row_shape, const writer_options& options)
    : dir_(dir),
      row_shape_(std::move(row_shape)),
      row_size_(std::accumulate(row_shape_.begin(), row_shape_.end(), std::size_t{1},
                                std::multiplies<>())),
      options_(checked(dir, options)),
      shard_rows_(
          options.shard_rows != 0
              ? options.shard_rows
              : std::max<std::size_t>(
                    1, (std::size_t{64} << 20) / std::max<std::size_t>(1, row_size_ * sizeof(T)))),
      pool_(options.pool, options.threads, std::numeric_limits<std::size_t>::max()),
      max_waiting_(2 * detail::threads_for(options.threads, options.pool)) {
    std::vector<std::size_t> shape{0};
    shape.insert(shape.end(), row_shape_.begin(), row_shape_.end());
    std::uint64_t bytes = sizeof(T);
    for (const std::size_t d : shape)
        if (d != 0 && !detail::checked_mul(bytes, d, bytes))
            fail_write("expected a row shape of at most 2^63 bytes, found " + shape_text(shape));
    session_ = detail::begin_save(dir_, options_.append);
    const dataset_info* live = session_.live ? &*session_.live : nullptr;
    if (options_.append && live) {
        try {
            detail::check_appendable<T>(dir_, *live, row_shape_, options_.format);
        } catch (...) {
            abandon();
            throw;
        }
        info_ = *live;
        base_rows_ = live->shape[0];
    } else {
        info_.dtype = descr_of<T>();
        info_.shape = shape;
        info_.format = options_.format;
    }
    info_.generation = detail::next_generation(dir_, live, session_.scan());
    try {
        info_.attributes =
            detail::attributes_for(dir_, options_.attributes, options_.append ? live : nullptr,
                                   options_.append ? "cannot append to" : "cannot write to");
    } catch (...) {
        abandon();
        throw;
    }
    attributes_ = detail::attributes_to_keep(dir_ / detail::manifest_name);
    if (options_.progress)
        meter_.emplace(options_.progress, 0, "write to " + detail::quoted(dir_), false);
    background_ = std::thread([this] { run(); });
}

template <class T>
void dataset_writer<T>::rethrow_failure() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (failure_) std::rethrow_exception(failure_);
}

template <class T>
void dataset_writer<T>::start_shard() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!free_.empty()) {
            current_ = std::move(free_.back());
            free_.pop_back();
        }
    }
    if (!current_) {
        // a fresh buffer is first touched by write()'s copy, on the caller's thread: with huge
        // pages that is one fault per 2 MiB instead of one per 4 KiB
        current_.reset(new T[shard_rows_ * row_size_]);
        detail::advise_huge_pages(current_.get(), shard_rows_ * row_size_ * sizeof(T));
    }
    current_rows_ = 0;
}

/// Queues the current shard for the background, waiting while too many shards wait.
template <class T>
void dataset_writer<T>::finish_shard() {
    auto s = std::make_unique<shard_info>();
    const std::size_t index = shards_.size();
    s->path = detail::shard_name(info_.generation, index, options_.format);
    s->first_row = base_rows_ + rows_ - current_rows_;
    s->last_row = base_rows_ + rows_;
    job j{s.get(), std::move(current_), current_rows_};
    current_rows_ = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    shards_.push_back(std::move(s));  // listed before it is written: an abandon removes it
    changed_.wait(lock, [&] { return busy_ < max_waiting_ || failure_; });
    if (failure_) std::rethrow_exception(failure_);
    queue_.push_back(std::move(j));
    ++busy_;
    changed_.notify_all();
}

template <class T>
void dataset_writer<T>::run() {
    for (;;) {
        std::vector<job> batch;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping, and nothing left
            const std::size_t n = std::max<std::size_t>(
                1, std::min(queue_.size(), pool_.get() ? pool_.get()->size() : 1));
            for (std::size_t i = 0; i < n; ++i) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        std::exception_ptr err;
        try {
            // after a failure, queued shards are dropped (failure_ is only set on this thread)
            if (!failure_)
                detail::run_tasks(pool_.get(), batch.size(), [&](std::size_t i) {
                    job& j = batch[i];
                    std::vector<std::size_t> shape{j.rows};
                    shape.insert(shape.end(), row_shape_.begin(), row_shape_.end());
                    detail::row_source<T> src;
                    src.shape = shape;
                    src.contiguous = j.data.get();
                    detail::write_shard(dir_, *j.shard, src, 0, j.rows, false, options_.format,
                                        attributes_, options_.sync);
                });
        } catch (...) {
            err = std::current_exception();
        }
        std::lock_guard<std::mutex> lock(mutex_);
        if (err && !failure_) failure_ = err;
        for (job& j : batch)
            free_.push_back(std::move(j.data));
        busy_ -= batch.size();
        changed_.notify_all();
    }
}

template <class T>
template <class E>
void dataset_writer<T>::write(const xt::xexpression<E>& rows) {
    using V = detail::element_t<E>;
    const E& e = rows.derived_cast();
    if (committed_) fail_write("the writer has committed: write() must come before commit()");
    rethrow_failure();
    std::vector<std::size_t> expected{0}, found(e.shape().begin(), e.shape().end());
    expected.insert(expected.end(), row_shape_.begin(), row_shape_.end());
    if (!found.empty()) expected[0] = found[0];
    if (found != expected) {
        expected[0] = 0;
        fail_write("expected a batch of shape " + shape_text(expected).replace(1, 1, "n") +
                   ", found " + shape_text(found));
    }
    if constexpr (!std::is_same_v<V, T>) {
        fail_write("expected a batch of " + descr_of<T>() + " (" + dtype_name(dtype_of<T>()) +
                   ") values, found " + descr_of<V>() + " (" + dtype_name(dtype_of<V>()) + ")");
    } else {
        const detail::row_source<T> src = detail::make_row_source(e);
        for (std::size_t r = 0, n = found[0]; r < n;) {
            if (!current_) start_shard();
            const std::size_t k = std::min(n - r, shard_rows_ - current_rows_);
            T* out = current_.get() + current_rows_ * row_size_;
            if (src.contiguous) {
                std::copy(src.contiguous + r * row_size_, src.contiguous + (r + k) * row_size_,
                          out);
            } else if (row_size_ > 0) {
                src.fill_flat(r * row_size_, k * row_size_, out);
            }
            current_rows_ += k;
            rows_ += k;
            r += k;
            if (current_rows_ == shard_rows_) finish_shard();
        }
        if (meter_) {
            try {
                meter_->add(std::uint64_t{found[0]} * row_size_ * sizeof(T));
            } catch (...) {  // cancelled: as the destructor would, now; later calls rethrow
                stop(true);
                abandon();
                abandoned_ = true;
                std::lock_guard<std::mutex> lock(mutex_);
                failure_ = std::current_exception();
                throw;
            }
        }
    }
}

template <class T>
void dataset_writer<T>::stop(bool discard) noexcept {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
        if (discard) {  // an abandoned writer: shards not yet started are never written
            busy_ -= queue_.size();
            queue_.clear();
        }
    }
    changed_.notify_all();
    if (background_.joinable()) background_.join();
}

template <class T>
dataset_info dataset_writer<T>::commit() {
    if (committed_) fail_write("the writer has already committed");
    rethrow_failure();
    // the last, partial shard; a new dataset of no rows gets one empty shard (it keeps the shape)
    if (current_rows_ > 0 || (shards_.empty() && !(options_.append && session_.live))) {
        if (!current_) start_shard();
        finish_shard();
    }
    stop(false);
    committed_ = true;  // from here on, success or not, the writer is done
    if (failure_) {
        abandon();
        std::rethrow_exception(failure_);
    }
    if (shards_.empty()) {  // an append of nothing changes nothing: the live dataset stays
        session_.lock.reset();
        return *session_.live;  // (info_ has the generation a commit would have made)
    }
    dataset_info info = info_;
    const std::size_t first_new = info.shards.size();
    for (const auto& s : shards_)
        info.shards.push_back(*s);
    info.shape[0] = base_rows_ + rows_;
    try {
        detail::commit_dataset(dir_, info, first_new, options_.sync);
    } catch (...) {
        session_.lock.reset();
        throw;
    }
    session_.lock.reset();
    shards_.clear();
    if (meter_) meter_->finish();
    return info;
}

template <class T>
void dataset_writer<T>::abandon() noexcept {
    for (const auto& s : shards_)
        detail::remove_quietly(dir_ / s->path);
    shards_.clear();
    // the directory made for this writer goes too, unless another save uses it now
    detail::forget_created(dir_, session_);
    session_.lock.reset();
}

template <class T>
dataset_writer<T>::~dataset_writer() {
    if (committed_ || abandoned_) return;
    stop(true);
    abandon();
}

template <class E>
dataset_info append(const std::filesystem::path& dir, const xt::xexpression<E>& rows,
                    const save_options& options) {
    const auto src = detail::make_row_source(rows.derived_cast());
    if (src.shape.empty())
        detail::fail("cannot append to", dir,
                     "expected rows (an array of rank 1 or more), found a rank-0 array");
    return detail::save_rows(dir, src, options, true);
}

}  // namespace ndshard
