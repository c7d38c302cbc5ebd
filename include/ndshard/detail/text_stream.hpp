// ndshard/detail/text_stream.hpp — the rows of a text file parsed window by window: a bounded
// window of bytes is read, cut at its last line end, counted and parsed in parallel, and the
// next window starts where it stopped. What block_reader uses for text files and text shards.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ndshard/detail/row_source.hpp"
#include "ndshard/detail/text_impl.hpp"
#include "ndshard/detail/text_lines.hpp"
#include "ndshard/detail/text_parse.hpp"
#include "ndshard/detail/text_source.hpp"
#include "ndshard/error.hpp"
#include "ndshard/thread_pool.hpp"

namespace ndshard::detail {

/// Bytes of text a stream reads and parses at once (or the longest line, when longer): enough
/// for every thread to parse a piece of about a MiB, small enough to stay in the cache.
inline constexpr std::size_t text_window_bytes = std::size_t{4} << 20;

/// The rows of `src` from `start` on, `columns` values each, parsed a window at a time.
template <class T>
class text_stream {
  public:
    text_stream(const text_source& src, text_start start, text_layout layout, std::size_t columns,
                thread_pool* pool, std::size_t window = text_window_bytes,
                float_overflow overflow = float_overflow::fail, const csv_rules* rules = nullptr)
        : src_(src),
          at_(start.offset),
          line_(start.line),
          layout_(std::move(layout)),
          columns_(columns),
          pool_(pool),
          window_(std::max<std::size_t>(window, 1)),
          overflow_(overflow),
          rules_(rules) {}

    /// Parses the next window's rows into `out` (resized to hold them); 0 at the end of the
    /// text. When `skip` is at least the window's row count, the rows are only counted, not
    /// parsed (nor stored): the return is their count, and `parsed` is set false.
    std::size_t next(scratch<T>& out, std::size_t skip, bool& parsed) {
        parsed = true;
        if (at_ >= src_.size()) return 0;
        const std::uint64_t left = src_.size() - at_;
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(window_, left));
        std::size_t cut = 0;
        for (;;) {
            buf_.resize(n);
            src_.read(at_, n, buf_.data());
            if (n == left) {
                cut = n;
                break;
            }
            const std::size_t nl = buf_.rfind('\n');
            if (nl != std::string::npos) {
                cut = nl + 1;
                break;
            }
            // one line longer than the window: read more of it
            n = static_cast<std::size_t>(std::min<std::uint64_t>(2 * n, left));
        }
        const char* begin = buf_.data();
        const std::size_t threads = pool_ ? pool_->size() : 1;
        const std::vector<const char*> cuts = split_at_lines(begin, begin + cut, threads);
        const std::size_t pieces = cuts.size() - 1;
        std::vector<text_layout::line_counts> counts(pieces);
        run_tasks(pool_, pieces,
                  [&](std::size_t i) { counts[i] = layout_.count_lines(cuts[i], cuts[i + 1]); });
        std::vector<std::size_t> first_row(pieces + 1, 0), line(pieces + 1, line_);
        for (std::size_t i = 0; i < pieces; ++i) {
            first_row[i + 1] = first_row[i] + counts[i].rows;
            line[i + 1] = line[i] + counts[i].lines;
        }
        const std::size_t rows = first_row.back();
        if (rows <= skip) {
            parsed = false;
        } else {
            if (rules_
                    ? !text_can_hold(cut, rows, rules_->file_columns, rules_->least_field_bytes())
                    : !text_can_hold(cut, rows, columns_))
                fail_first_short_row<T>(layout_, columns_, false, src_, {at_, line_}, overflow_,
                                        rules_);
            T* dest = out.get(rows * columns_);
            const row_parser<T> parser(layout_, columns_, false, overflow_, rules_);
            try {
                run_tasks(pool_, pieces, [&](std::size_t i) {
                    parser.parse_range(cuts[i], cuts[i + 1], line[i],
                                       first_row[i + 1] - first_row[i],
                                       dest + first_row[i] * columns_, nullptr);
                });
            } catch (const parse_error&) {
                src_.check_unchanged();  // a file rewritten under the read: say so
                throw;
            }
        }
        at_ += cut;
        line_ = line.back();
        if (at_ >= src_.size()) src_.check_unchanged();
        return rows;
    }

  private:
    const text_source& src_;
    std::uint64_t at_;
    std::size_t line_;
    text_layout layout_;
    std::size_t columns_;
    thread_pool* pool_;
    std::size_t window_;
    float_overflow overflow_;
    const csv_rules* rules_;  ///< a text file's (pandas-compatible CSV); none for text shards
    std::string buf_;
};

}  // namespace ndshard::detail
