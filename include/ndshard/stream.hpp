// ndshard/stream.hpp — block_reader: the rows of a dataset, an .npy file or a text file, block
// by block, in row order, read ahead in the background while the caller works on the current
// block. Memory: the current block, `prefetch` blocks read ahead, and for text a window of 4 MiB
// of text and its parsed rows; never the whole source.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <exception>
#include <filesystem>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <xtensor/xarray.hpp>

#include "ndshard/dataset.hpp"
#include "ndshard/detail/text_stream.hpp"
#include "ndshard/detail/zarr_store.hpp"
#include "ndshard/error.hpp"
#include "ndshard/file.hpp"
#include "ndshard/npy.hpp"
#include "ndshard/npy_file.hpp"
#include "ndshard/text.hpp"
#include "ndshard/thread_pool.hpp"
#include "ndshard/xtensor.hpp"

namespace ndshard {

struct stream_options {
    std::size_t block_rows = 0;  ///< rows per block; 0: about 64 MiB of rows
    std::size_t prefetch = 2;    ///< blocks read ahead in the background while the caller works
    std::size_t threads = 0;     ///< 0: every core
    /// Check every byte returned against the dataset's checksums (an .npy or text file has none):
    /// an .npy shard's 1 MiB blocks as they are read, a text shard's whole file before its rows.
    bool verify = true;
    std::size_t first_row =
        0;  ///< stream rows [first_row, last_row), clipped to the rows there are
    std::size_t last_row = std::numeric_limits<std::size_t>::max();
    text_read_options text;  ///< used when the source is a text file (its threads are `threads`)
    /// Called by next() with the bytes of the rows returned so far and of all the rows to
    /// stream; false makes next() throw ndshard::cancelled.
    progress_fn progress{};
};

/// Streams a dataset directory, a zarr array store, one .npy file, or one text file
/// (CSV/TSV/space-separated), in row order. The source's kind is what the path is: a directory
/// holding .zarray (a zarr store: its chunks are decompressed by the pool; compressed stores need
/// the ndshard::zarr target), any other directory (a dataset), a file starting with the .npy
/// magic, or any other file (text, read as read_text reads it).
///
///   ndshard::block_reader<float> r("features.nds", {.block_rows = 65536});
///   while (r.next()) train(r.rows(), r.first_row());
///
/// A dataset is read with its directory held as by load (a save meanwhile does not remove the
/// shards being read). A text file's rows are counted when the reader is made (shape() needs
/// them: one pass that reads the file without parsing it); then each window is parsed once.
/// Text shards are hashed whole before their rows are parsed (with `verify`). Errors (a corrupt
/// shard, a bad number) are thrown by next() for the block they are in.
template <class T>
class block_reader {
    static_assert(is_supported_v<T>,
                  "ndshard: element type must be bool, float, double or a fixed-width integer");

  public:
    explicit block_reader(const std::filesystem::path& source, const stream_options& options = {});
    block_reader(const block_reader&) = delete;
    block_reader& operator=(const block_reader&) = delete;
    ~block_reader();

    /// The whole source's shape (not clipped to [first_row, last_row)).
    [[nodiscard]] const std::vector<std::size_t>& shape() const noexcept { return shape_; }
    /// Moves to the next block; false after the last. Rethrows a read's error.
    bool next();
    /// The current block, shape (n, shape()[1:]...), valid until next().
    [[nodiscard]] const xt::xarray<T>& rows() const noexcept { return current_; }
    /// The current block's first row in the source.
    [[nodiscard]] std::size_t first_row() const noexcept { return current_first_; }

    /// Where each source kind's rows come from: read(first, n, dest) fills rows
    /// [first, first + n), called with consecutive ranges in order.
    struct source {
        virtual ~source() = default;
        virtual void read(std::size_t first, std::size_t n, T* dest) = 0;
    };

  private:
    struct block {
        std::size_t first = 0;
        xt::xarray<T> rows;
    };
    void produce();
    void fill(block& b, std::size_t first);
    bool advance();

    std::vector<std::size_t> shape_;
    std::size_t row_size_ = 0;
    std::size_t block_rows_ = 1;
    std::size_t prefetch_;
    std::size_t next_first_ = 0, end_ = 0;  // the next block to produce, the end of the stream
    std::optional<directory_lock> reading_;
    detail::call_pool pool_;
    std::unique_ptr<source> source_;
    xt::xarray<T> current_;
    std::size_t current_first_ = 0;
    bool started_ = false;
    progress_fn progress_;
    std::optional<detail::progress_meter> meter_;

    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<block> ready_;
    std::vector<xt::xarray<T>> free_;
    std::size_t consumed_ = 0;  // blocks taken by next()
    bool stopping_ = false, done_ = false;
    std::exception_ptr failure_;
    std::thread background_;
};

// ---------------------------------------------------------------------------------------------

namespace detail {

/// A dataset's rows: an .npy dataset's by load_range (only the bytes of the rows, verified by
/// block), a text dataset's shard by shard through a text_stream.
template <class T>
class dataset_stream : public block_reader<T>::source {
  public:
    dataset_stream(std::filesystem::path dir, dataset_info info, bool verify, thread_pool* pool)
        : dir_(std::move(dir)), info_(std::move(info)), verify_(verify), pool_(pool) {
        row_size_ = row_size_of(info_.shape);
    }

    void read(std::size_t first, std::size_t n, T* dest) override {
        if (row_size_ == 0) return;  // rows of no values: nothing to read
        if (info_.format == shard_format::npy) {
            const std::size_t chunk_rows =
                std::max<std::size_t>(1, chunk_bytes / (row_size_ * sizeof(T)));
            if (n >= chunk_rows) {  // large blocks: straight into the caller's block
                load_rows(first, n, dest);
                return;
            }
            // small blocks: a chunk at a time, so each checksum block is read and hashed once,
            // not once per block it holds rows of
            for (std::size_t done = 0; done < n;) {
                const std::size_t row = first + done;
                if (row < chunk_first_ || row >= chunk_first_ + chunk_rows_) {
                    chunk_first_ = row;
                    chunk_rows_ = std::min(chunk_rows, info_.shape[0] - row);
                    load_rows(row, chunk_rows_, chunk_.get(chunk_rows_ * row_size_));
                }
                const std::size_t k = std::min(n - done, chunk_first_ + chunk_rows_ - row);
                const T* p = chunk_.get(0) + (row - chunk_first_) * row_size_;
                std::copy(p, p + k * row_size_, dest + done * row_size_);
                done += k;
            }
            return;
        }
        for (std::size_t done = 0; done < n;) {
            if (chunk_at_ == chunk_rows_) next_chunk(first + done);
            const std::size_t k = std::min(n - done, chunk_rows_ - chunk_at_);
            const T* p = chunk_.get(0) + chunk_at_ * row_size_;
            std::copy(p, p + k * row_size_, dest + done * row_size_);
            chunk_at_ += k;
            done += k;
        }
    }

  private:
    void load_rows(std::size_t first, std::size_t n, T* dest) {
        load_options o;
        o.pool = pool_;
        o.verify = verify_;
        check_shards(dir_, info_, first, first + n);
        load_range(dir_, info_, first, first + n, dest, o);
    }

    /// Parses the next window of the text shard holding `row` (opening that shard first, and
    /// hashing it whole, when the current one is done).
    void next_chunk(std::size_t row) {
        for (;;) {
            if (!shard_ || row_ == shard_->last_row) open_shard_at(row);
            bool parsed = true;
            const std::size_t skip = row - row_;
            const std::size_t k = stream_->next(chunk_, skip, parsed);
            if (k == 0 && row_ < shard_->last_row)
                fail("shard disagrees with the manifest:", text_->path(),
                     "expected " + std::to_string(shard_->last_row - shard_->first_row) +
                         " rows, found " + std::to_string(row_ - shard_->first_row));
            if (row_ + k > shard_->last_row)
                fail("shard disagrees with the manifest:", text_->path(),
                     "expected " + std::to_string(shard_->last_row - shard_->first_row) +
                         " rows, found more");
            row_ += k;
            if (!parsed || row_ <= row) continue;  // all before `row`: skipped
            chunk_rows_ = k;
            chunk_at_ = k - (row_ - row);
            return;
        }
    }

    void open_shard_at(std::size_t row) {
        stream_.reset();
        text_.reset();
        std::size_t i = 0;
        while (info_.shards[i].last_row <= row)
            ++i;
        shard_ = &info_.shards[i];
        row_ = shard_->first_row;
        file f = check_shard(dir_, info_, *shard_);
        if (verify_ && !shard_->checksum.empty()) {
            read_shard_bytes(f, *shard_, 0, shard_->bytes, shard_check::whole, nullptr,
                             [](const char*, std::size_t) {});
        }
        text_.emplace(std::move(f));
        const char delim = info_.format == shard_format::csv ? ',' : '\t';
        stream_.emplace(*text_, text_start{}, text_layout(text_->path(), delim, 0), row_size_,
                        pool_);
    }

    std::filesystem::path dir_;
    dataset_info info_;
    bool verify_;
    thread_pool* pool_;
    std::size_t row_size_ = 0;
    const shard_info* shard_ = nullptr;
    std::size_t row_ = 0;  // the source row the text stream of shard_ is at
    std::optional<text_source> text_;
    std::optional<text_stream<T>> stream_;
    scratch<T> chunk_;  // rows parsed from a text shard, or read from .npy shards
    std::size_t chunk_rows_ = 0, chunk_at_ = 0, chunk_first_ = 0;
};

/// An .npy file's rows, each block read by the pool's threads at disjoint offsets.
template <class T>
class npy_stream : public block_reader<T>::source {
  public:
    npy_stream(file f, npy_header h, thread_pool* pool)
        : f_(std::move(f)), h_(std::move(h)), pool_(pool), row_size_(row_size_of(h_.shape)) {}

    void read(std::size_t first, std::size_t n, T* dest) override {
        const std::size_t elements = n * row_size_;
        const std::size_t tasks = std::min<std::size_t>(
            pool_ ? pool_->size() : 1, std::max<std::size_t>(1, elements * sizeof(T) >> 20));
        const auto ranges = split_rows(elements, tasks);
        const std::uint64_t base = h_.data_offset + std::uint64_t{first} * row_size_ * sizeof(T);
        run_tasks(pool_, ranges.size(), [&](std::size_t i) {
            T* out = dest + ranges[i].first_row;
            const std::uint64_t bytes = std::uint64_t{ranges[i].rows()} * sizeof(T);
            f_.pread_full(out, static_cast<std::size_t>(bytes),
                          base + std::uint64_t{ranges[i].first_row} * sizeof(T));
            if (h_.type.swap) byteswap_elements(out, ranges[i].rows());
            if constexpr (std::is_same_v<T, bool>) normalize_bools(out, ranges[i].rows());
        });
    }

  private:
    file f_;
    npy_header h_;
    thread_pool* pool_;
    std::size_t row_size_;
};

/// A zarr array store's rows: each block's chunks read and decompressed by the pool into it (a
/// chunk that straddles two blocks is read for each).
template <class T>
class zarr_stream : public block_reader<T>::source {
  public:
    zarr_stream(std::unique_ptr<zarr_reader> r, thread_pool* pool)
        : reader_(std::move(r)), pool_(pool) {}

    void read(std::size_t first, std::size_t n, T* dest) override {
        reader_->read_rows(first, first + n, dest, pool_);
    }

  private:
    std::unique_ptr<zarr_reader> reader_;
    thread_pool* pool_;
};

/// A text file's rows, window by window.
template <class T>
class text_file_stream : public block_reader<T>::source {
  public:
    text_file_stream(const std::filesystem::path& path, const text_read_options& options,
                     thread_pool* pool, std::vector<std::size_t>& shape)
        : src_(file::open_read(path), true) {
        text_plan plan = plan_text<T>(src_, path, options);
        shape = {0, 0};
        if (!plan.layout) return;
        columns_ = plan.columns;
        rules_ = std::move(plan.rules);
        // the rows, for shape(): counted range by range, a range per thread in memory
        const text_tuning tuning;
        const std::uint64_t size = src_.size() - plan.start.offset;
        text_ranges ranges(src_,
                           split_source_at_lines(src_, plan.start.offset, src_.size(),
                                                 static_cast<std::size_t>(std::max<std::uint64_t>(
                                                     1, size / tuning.range_bytes))),
                           false);
        shape = {count_text(*plan.layout, ranges, plan.start.line, pool).rows(), columns_};
        stream_.emplace(src_, plan.start, std::move(*plan.layout), columns_, pool,
                        text_window_bytes, overflow_rule(options.overflow_to_infinity), &rules_);
    }

    void read(std::size_t first, std::size_t n, T* dest) override {
        for (std::size_t done = 0; done < n;) {
            if (chunk_at_ == chunk_rows_) {
                bool parsed = true;
                const std::size_t row = first + done;
                const std::size_t k = stream_->next(chunk_, row - row_, parsed);
                if (k == 0) src_.changed();  // fewer rows than counted
                row_ += k;
                if (!parsed || row_ <= row) continue;
                chunk_rows_ = k;
                chunk_at_ = k - (row_ - row);
            }
            const std::size_t k = std::min(n - done, chunk_rows_ - chunk_at_);
            const T* p = chunk_.get(0) + chunk_at_ * columns_;
            std::copy(p, p + k * columns_, dest + done * columns_);
            chunk_at_ += k;
            done += k;
        }
    }

  private:
    text_source src_;
    std::size_t columns_ = 0;
    csv_rules rules_;
    std::optional<text_stream<T>> stream_;
    scratch<T> chunk_;
    std::size_t chunk_rows_ = 0, chunk_at_ = 0;
    std::size_t row_ = 0;  // the row the text stream is at
};

/// Whether `path` is a file that starts with the .npy magic.
inline bool starts_with_npy_magic(const std::filesystem::path& path) {
    const file f = file::open_read(path);
    char magic[6] = {};
    return f.size() >= 6 && f.pread_some(magic, 6, 0) == 6 &&
           std::memcmp(magic, "\x93NUMPY", 6) == 0;
}

}  // namespace detail

template <class T>
block_reader<T>::block_reader(const std::filesystem::path& path, const stream_options& options)
    : prefetch_(options.prefetch),
      pool_(nullptr, options.threads, std::numeric_limits<std::size_t>::max()) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec) &&
        std::filesystem::exists(path / detail::zarray_name, ec)) {
        auto r = std::make_unique<detail::zarr_reader>(path);
        r->check_type<T>(false);
        shape_ = r->meta().shape;
        source_ = std::make_unique<detail::zarr_stream<T>>(std::move(r), pool_.get());
    } else if (std::filesystem::is_directory(path, ec)) {
        reading_.emplace(path, directory_lock::kind::shared);
        dataset_info info = detail::manifest_for<T>(path, false, false);  // no convert here
        shape_ = info.shape;
        if (!shape_.empty())
            source_ = std::make_unique<detail::dataset_stream<T>>(path, std::move(info),
                                                                  options.verify, pool_.get());
    } else if (detail::starts_with_npy_magic(path)) {
        file f = file::open_read(path);
        npy_header h = detail::open_npy_of<T>(f);
        if (h.fortran_order && h.shape.size() > 1)
            detail::fail("cannot stream", path,
                         "expected a C-ordered file, found Fortran order (its rows are not "
                         "contiguous: read_npy reads it whole)");
        shape_ = h.shape;
        source_ = std::make_unique<detail::npy_stream<T>>(std::move(f), std::move(h), pool_.get());
    } else {
        source_ =
            std::make_unique<detail::text_file_stream<T>>(path, options.text, pool_.get(), shape_);
    }
    if (shape_.empty())
        detail::fail("cannot stream", path,
                     "expected an array of rank 1 or more (rows to stream), found rank 0");
    row_size_ = detail::row_size_of(shape_);
    block_rows_ =
        options.block_rows != 0
            ? options.block_rows
            : std::max<std::size_t>(
                  1, (std::size_t{64} << 20) / std::max<std::size_t>(1, row_size_ * sizeof(T)));
    end_ = std::min(options.last_row, shape_[0]);
    next_first_ = std::min(options.first_row, end_);
    current_first_ = next_first_;
    if (options.progress) {
        progress_ = options.progress;
        meter_.emplace(progress_, std::uint64_t{end_ - next_first_} * row_size_ * sizeof(T),
                       "stream of " + detail::quoted(path), false);
    }
    if (prefetch_ > 0 && next_first_ < end_) background_ = std::thread([this] { produce(); });
}

template <class T>
void block_reader<T>::fill(block& b, std::size_t first) {
    const std::size_t n = std::min(block_rows_, end_ - first);
    std::vector<std::size_t> shape = shape_;
    shape[0] = n;
    if (!std::equal(shape.begin(), shape.end(), b.rows.shape().begin(), b.rows.shape().end())) {
        b.rows = detail::allocate_array<T>(shape);
    }
    b.first = first;
    source_->read(first, n, b.rows.data());
}

template <class T>
void block_reader<T>::produce() {
    try {
        for (std::size_t first = next_first_; first < end_; first += block_rows_) {
            block b;
            {
                std::unique_lock<std::mutex> lock(mutex_);
                // at most `prefetch` blocks ahead of the caller's (which it holds)
                changed_.wait(lock, [&] { return stopping_ || ready_.size() < prefetch_; });
                if (stopping_) return;
                if (!free_.empty()) {
                    b.rows = std::move(free_.back());
                    free_.pop_back();
                }
            }
            fill(b, first);
            std::lock_guard<std::mutex> lock(mutex_);
            ready_.push_back(std::move(b));
            changed_.notify_all();
        }
    } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        failure_ = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    done_ = true;
    changed_.notify_all();
}

template <class T>
bool block_reader<T>::next() {
    if (meter_) meter_->check();  // cancelled: every later next() says so too
    const bool more = advance();
    if (meter_) {
        if (more) {
            meter_->add(current_.size() * sizeof(T));
        } else {
            meter_->finish();
        }
    }
    return more;
}

template <class T>
bool block_reader<T>::advance() {
    if (prefetch_ == 0) {
        const std::size_t first = started_ ? current_first_ + block_rows_ : next_first_;
        started_ = true;
        if (first >= end_) {
            current_ = xt::xarray<T>();
            current_first_ = end_;
            return false;
        }
        block b;
        b.rows = std::move(current_);
        fill(b, first);
        current_ = std::move(b.rows);
        current_first_ = first;
        return true;
    }
    std::unique_lock<std::mutex> lock(mutex_);
    if (started_) free_.push_back(std::move(current_));
    started_ = true;
    changed_.notify_all();
    changed_.wait(lock,
                  [&] { return !ready_.empty() || failure_ || done_ || !background_.joinable(); });
    if (!ready_.empty()) {
        current_ = std::move(ready_.front().rows);
        current_first_ = ready_.front().first;
        ready_.pop_front();
        changed_.notify_all();
        return true;
    }
    if (failure_) {
        std::exception_ptr e = failure_;
        failure_ = nullptr;
        std::rethrow_exception(e);
    }
    current_ = xt::xarray<T>();
    current_first_ = end_;
    return false;
}

template <class T>
block_reader<T>::~block_reader() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    changed_.notify_all();
    if (background_.joinable()) background_.join();
}

}  // namespace ndshard
