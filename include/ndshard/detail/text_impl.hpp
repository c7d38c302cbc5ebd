// ndshard/detail/text_impl.hpp — bodies of text.hpp: planning a text file, the two parallel
// passes of a read, the ordered parallel write.
#pragma once

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include <sys/mman.h>

#include <xtensor/xtensor.hpp>

#include "ndshard/detail/checksum.hpp"
#include "ndshard/detail/row_source.hpp"
#include "ndshard/detail/text_error.hpp"
#include "ndshard/detail/text_format.hpp"
#include "ndshard/detail/text_lines.hpp"
#include "ndshard/detail/text_parse.hpp"
#include "ndshard/dtype.hpp"
#include "ndshard/error.hpp"
#include "ndshard/file.hpp"
#include "ndshard/text.hpp"
#include "ndshard/thread_pool.hpp"
#include "ndshard/xtensor.hpp"

namespace ndshard::detail {

/// How a read cuts its file: ranges of about `range_bytes`, at most `ranges_per_thread` per
/// thread (enough for the pool to even out uneven ranges). Tests shrink these to cut every line,
/// and set keep_mapped_bytes to 0 to release every range.
struct text_tuning {
    std::size_t range_bytes = std::size_t{1} << 20;
    std::size_t ranges_per_thread = 8;
    /// the largest range a read maps at once (more ranges on larger files)
    static constexpr std::size_t max_range_bytes = std::size_t{8} << 20;
    /// A text of at most this size stays mapped from the count to the parse, which then need
    /// not map it again; a larger one is released range by range. So a read holds at most this
    /// much of its file mapped, or its ranges in flight (max_range_bytes per thread).
    std::size_t keep_mapped_bytes = std::size_t{32} << 20;
};

/// All the text buffers of one write together: each worker gets an equal share, 64 KiB to
/// 4 MiB.
inline constexpr std::size_t text_write_memory = std::size_t{48} << 20;

/// Maps the pages of [begin, end) of a file mapping in one call rather than one fault at a time
/// (193 MB of text: 27 ms of faults, 21 ms populated). Only a hint; errors are ignored.
inline void prefault(const char* begin, const char* end) noexcept {
#ifdef MADV_POPULATE_READ
    const std::size_t page = 4096;
    const auto b = reinterpret_cast<std::uintptr_t>(begin) & ~(page - 1);
    const auto e = reinterpret_cast<std::uintptr_t>(end);
    if (e > b) ::madvise(reinterpret_cast<void*>(b), e - b, MADV_POPULATE_READ);
#else
    (void)begin;
    (void)end;
#endif
}

/// Unmaps the whole pages inside [begin, end) of a read-only file mapping once they are read:
/// the text a load has mapped at once stays a few ranges, not the whole file (the pages stay in
/// the page cache; a range that needs a shared edge page again faults it back in).
inline void release(const char* begin, const char* end) noexcept {
#ifdef MADV_DONTNEED
    const std::uintptr_t page = 4096;
    const auto b = (reinterpret_cast<std::uintptr_t>(begin) + page - 1) & ~(page - 1);
    const auto e = reinterpret_cast<std::uintptr_t>(end) & ~(page - 1);
    if (e > b) ::madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
#else
    (void)begin;
    (void)end;
#endif
}

/// Checks a read's delimiter (0: detect): one byte that cannot occur in a number or end a line.
inline void check_read_delimiter(const std::filesystem::path& file, char delimiter, char comment) {
    if (delimiter != 0 && (!can_delimit(delimiter) || delimiter == comment))
        fail("cannot read", file,
             "expected a delimiter that cannot appear in a number and is not the comment "
             "character, found byte " +
                 std::to_string(static_cast<unsigned char>(delimiter)));
}

/// A mapped text file with its first `skip_rows` lines (and a UTF-8 byte order mark) set aside.
struct text_body {
    mapped_file map;
    const char* begin = nullptr;  ///< the first line after the skipped ones
    const char* end = nullptr;
    std::size_t first_line = 1;  ///< 1-based number of the line at `begin`

    text_body(const std::filesystem::path& file, std::size_t skip_rows) : map(file) {
        begin = map.data();
        end = begin + map.size();
        if (end - begin >= 3 && std::memcmp(begin, "\xEF\xBB\xBF", 3) == 0) begin += 3;
        for (; skip_rows > 0 && begin < end; --skip_rows)
            skip_line();
    }

    /// Moves past the first line.
    void skip_line() {
        begin = text_layout::next_line(begin, end);
        ++first_line;
    }
};

/// The first data line at or after `p`, or `end`.
inline const char* first_data_line(const text_layout& l, const char* p, const char* end) {
    while (p < end && !l.is_data_line(p, end))
        p = text_layout::next_line(p, end);
    return p;
}

/// The delimiter a line uses: a tab if it has one, else a comma if it has one (and commas are
/// allowed), else runs of spaces.
inline char detect_delimiter(const char* line, const char* end, char comment, bool allow_comma) {
    bool comma = false;
    for (const char* p = line; p < end && *p != '\n' && (comment == 0 || *p != comment); ++p) {
        if (*p == '\t') return '\t';
        comma = comma || *p == ',';
    }
    return comma && allow_comma ? ',' : ' ';
}

/// What the count pass learns of a text: its ranges, cut at line starts, and the rows and lines
/// before each one (entry i for range i, the last entry for the end of the text).
struct counted_text {
    std::vector<const char*> cuts;
    std::vector<std::size_t> first_row, line;
    [[nodiscard]] std::size_t ranges() const noexcept { return cuts.size() - 1; }
    [[nodiscard]] std::size_t rows() const noexcept { return first_row.back(); }
};

/// The count pass over the ranges `cuts` (from split_at_lines) on `pool`: the rows and lines of
/// each; `first_line` is the 1-based number of the first one. Unless `keep`, each range is
/// released once counted. With `hash`, every byte is also hashed, in file order (so without the
/// pool): a shard's checksum costs no pass of its own.
inline counted_text count_text(const text_layout& layout, std::vector<const char*> cuts,
                               std::size_t first_line, thread_pool* pool, bool keep,
                               xxh3_stream* hash = nullptr) {
    counted_text c;
    c.cuts = std::move(cuts);
    const std::size_t ranges = c.ranges();
    std::vector<text_layout::line_counts> counts(ranges);
    run_tasks(hash ? nullptr : pool, ranges, [&](std::size_t i) {
        const char* b = c.cuts[i];
        const char* e = c.cuts[i + 1];
        prefault(b, e);
        counts[i] = layout.count_lines(b, e);
        if (hash) hash->update(b, static_cast<std::size_t>(e - b));
        if (!keep) release(b, e);
    });
    c.first_row.assign(ranges + 1, 0);
    c.line.assign(ranges + 1, first_line);
    for (std::size_t i = 0; i < ranges; ++i) {
        c.first_row[i + 1] = c.first_row[i] + counts[i].rows;
        c.line[i + 1] = c.line[i] + counts[i].lines;
    }
    return c;
}

/// The parse pass on `pool`: every range of `c` straight into its rows of `dest` (`columns`
/// values each) and, with `words`, its words. Ranges still mapped from the count (`keep`) are not
/// prefaulted again; each is released once parsed.
template <class T>
void parse_counted(const row_parser<T>& parser, const counted_text& c, std::size_t columns, T* dest,
                   std::string* words, thread_pool* pool, bool keep) {
    run_tasks(pool, c.ranges(), [&](std::size_t i) {
        const char* b = c.cuts[i];
        const char* e = c.cuts[i + 1];
        if (!keep) prefault(b, e);
        const std::size_t row = c.first_row[i];
        parser.parse_range(b, e, c.line[i], c.first_row[i + 1] - row, dest + row * columns,
                           words ? words + row : nullptr);
        release(b, e);
    });
}

/// A text file parsed into one allocation: values (rows, columns), and words when asked.
template <class T>
struct parsed_text {
    xt::xtensor<T, 2> values;
    std::vector<std::string> words;
};

/// The two parallel passes over [begin, end): count the rows of every range, allocate once,
/// parse every range straight into its rows. [begin, end) must lie in a read-only file mapping:
/// each range's pages are released (MADV_DONTNEED) once read, after the count too unless the
/// whole text is at most tuning.keep_mapped_bytes.
template <class T>
parsed_text<T> parse_text(const text_layout& layout, std::size_t columns, bool words,
                          const char* begin, const char* end, std::size_t first_line,
                          std::size_t threads, thread_pool* given, const text_tuning& tuning) {
    const std::size_t nthreads = threads_for(threads, given);
    const auto size = static_cast<std::size_t>(end - begin);
    // enough ranges to balance the threads, and none larger than max_range_bytes, so the mapped
    // text a load holds at once stays bounded whatever the file's size
    const std::size_t pieces =
        std::clamp<std::size_t>(size / std::max<std::size_t>(1, tuning.range_bytes), 1,
                                std::max<std::size_t>({1, nthreads * tuning.ranges_per_thread,
                                                       size / text_tuning::max_range_bytes + 1}));
    std::vector<const char*> cuts = split_at_lines(begin, end, pieces);
    const call_pool pool(given, nthreads, cuts.size() - 1);
    const bool keep = size <= tuning.keep_mapped_bytes;
    const counted_text counted = count_text(layout, std::move(cuts), first_line, pool.get(), keep);
    const std::size_t rows = counted.rows();

    // every value takes at least one byte and a separator: the file bounds the allocation
    parsed_text<T> out;
    out.values = xt::xtensor<T, 2>::from_shape({rows, rows == 0 ? 0 : columns});
    if (words) out.words.resize(rows);
    if (rows == 0) return out;
    T* dest = out.values.data();
    advise_huge_pages(dest, rows * columns * sizeof(T));  // first touch: one fault per 2 MiB
    parse_counted(row_parser<T>(layout, columns, words), counted, columns, dest,
                  words ? out.words.data() : nullptr, pool.get(), keep);
    return out;
}

template <class T>
xt::xtensor<T, 2> read_text_file(const std::filesystem::path& file,
                                 const text_read_options& options, const text_tuning& tuning = {}) {
    static_assert(is_supported_v<T>,
                  "ndshard: element type must be bool, float, double or a fixed-width integer");
    check_read_delimiter(file, options.delimiter, options.comment);
    text_body body(file, options.skip_rows);
    const char* first =
        first_data_line(text_layout(file, '\t', options.comment), body.begin, body.end);
    if (first == body.end) return xt::xtensor<T, 2>::from_shape({0, 0});
    const char delimiter = options.delimiter != 0
                               ? options.delimiter
                               : detect_delimiter(first, body.end, options.comment, true);
    const text_layout layout(file, delimiter, options.comment);
    const std::size_t columns = layout.count_fields(first, body.end);
    return parse_text<T>(layout, columns, false, body.begin, body.end, body.first_line,
                         options.threads, options.pool, tuning)
        .values;
}

/// Reads the "N D" header of an embedding file from the data line at `p`: true when the line is
/// exactly two unsigned integers (that fit in size_t).
inline bool parse_count_line(const char* p, const char* end, std::size_t& n, std::size_t& d) {
    const auto skip = [&] {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
            ++p;
    };
    const auto number = [&](std::size_t& v) {
        if (p == end || *p < '0' || *p > '9') return false;
        const auto r = std::from_chars(p, end, v);
        if (r.ec != std::errc()) return false;
        p = r.ptr;
        return true;
    };
    skip();
    if (!number(n)) return false;
    if (p == end || (*p != ' ' && *p != '\t')) return false;
    skip();
    if (!number(d)) return false;
    skip();
    return p == end || *p == '\n';
}

template <class T>
embeddings<T> read_embeddings_file(const std::filesystem::path& file,
                                   const text_read_options& options,
                                   const text_tuning& tuning = {}) {
    static_assert(std::is_floating_point_v<T>, "ndshard: embedding vectors are float or double");
    check_read_delimiter(file, options.delimiter, 0);
    text_body body(file, options.skip_rows);
    const text_layout blank(file, ' ', 0);  // words may start with '#': no comments
    const char* first = first_data_line(blank, body.begin, body.end);
    std::size_t n = 0, d = 0;
    bool header = false;
    const char* second = body.end;  // the data line after `first`, when `first` may be a header
    if (options.skip_rows == 0 && first < body.end && parse_count_line(first, body.end, n, d)) {
        second = first_data_line(blank, text_layout::next_line(first, body.end), body.end);
        std::size_t n2 = 0, d2 = 0;
        header = second == body.end || !parse_count_line(second, body.end, n2, d2);
    }
    if (header) {
        while (body.begin < first)
            body.skip_line();
        body.skip_line();
        first = second;
    }
    embeddings<T> out;
    if (first == body.end) {
        if (header && n != 0)
            fail("cannot read", file,
                 "expected " + std::to_string(n) + " words (from the header line), found 0");
        out.vectors = xt::xtensor<T, 2>::from_shape({0, header ? d : 0});
        return out;
    }
    const char delimiter =
        options.delimiter != 0 ? options.delimiter : detect_delimiter(first, body.end, 0, false);
    const text_layout layout(file, delimiter, 0);
    const std::size_t fields = layout.count_fields(first, body.end);
    const std::size_t columns = header ? d : fields - 1;
    auto parsed = parse_text<T>(layout, columns, true, body.begin, body.end, body.first_line,
                                options.threads, options.pool, tuning);
    if (header && parsed.words.size() != n)
        fail("cannot read", file,
             "expected " + std::to_string(n) + " words (from the header line), found " +
                 std::to_string(parsed.words.size()));
    out.words = std::move(parsed.words);
    out.vectors = std::move(parsed.values);
    return out;
}

/// Hands out the file offsets of consecutive blocks: block b learns its offset once blocks
/// 0 … b-1 have given their sizes, i.e. once they are formatted (not written).
class ordered_offsets {
  public:
    /// Waits for block b's turn and reserves `n` bytes for it; false when another worker failed.
    bool claim(std::size_t b, std::size_t n, std::uint64_t& offset) {
        std::unique_lock<std::mutex> lock(mutex_);
        turn_.wait(lock, [&] { return next_ == b || failed_; });
        if (failed_) return false;
        offset = end_;
        end_ += n;
        ++next_;
        turn_.notify_all();
        return true;
    }
    /// Wakes every waiting worker: a block will never come.
    void abort() {
        std::lock_guard<std::mutex> lock(mutex_);
        failed_ = true;
        turn_.notify_all();
    }

  private:
    std::mutex mutex_;
    std::condition_variable turn_;
    std::size_t next_ = 0;
    std::uint64_t end_ = 0;
    bool failed_ = false;
};

/// Writes `src` as text to `target` (see write_text). `block_bytes` overrides each worker's
/// buffer budget (tests make it tiny to get many blocks).
template <class T>
void write_text_rows(const std::filesystem::path& target, const row_source<T>& src,
                     const text_write_options& options, std::size_t block_bytes = 0) {
    check_write_options(target, options.delimiter, options.precision);
    const std::size_t threads = threads_for(options.threads, options.pool);
    const std::size_t budget =
        block_bytes != 0 ? block_bytes
                         : std::clamp<std::size_t>(text_write_memory / threads,
                                                   std::size_t{64} << 10, std::size_t{4} << 20);
    const auto make = [&] {
        return block_formatter<T>(src, 0, src.rows(), options.delimiter, options.precision, budget);
    };
    const std::size_t blocks = make().blocks();
    write_atomically(target, false, false, [&](const file& f) {
        ordered_offsets offsets;
        std::atomic<std::size_t> next{0};
        with_pool(options.pool, threads, std::min(threads, blocks), [&](std::size_t) {
            auto formatter = make();
            try {
                for (std::size_t b; (b = next.fetch_add(1)) < blocks;) {
                    const std::string_view text = formatter.format(b);
                    std::uint64_t offset = 0;
                    if (!offsets.claim(b, text.size(), offset)) return;
                    f.pwrite_full(text.data(), text.size(), offset);
                }
            } catch (...) {
                offsets.abort();
                throw;
            }
        });
    });
}

}  // namespace ndshard::detail

namespace ndshard {

template <class T>
xt::xtensor<T, 2> read_text(const std::filesystem::path& file, const text_read_options& options) {
    return detail::read_text_file<T>(file, options);
}

template <class E>
void write_text(const std::filesystem::path& file, const xt::xexpression<E>& a,
                const text_write_options& options) {
    detail::write_text_rows(file, detail::make_row_source(a.derived_cast()), options);
}

template <class T>
embeddings<T> read_embeddings(const std::filesystem::path& file, const text_read_options& options) {
    return detail::read_embeddings_file<T>(file, options);
}

}  // namespace ndshard
