// ndshard/detail/text_impl.hpp — bodies of text.hpp: planning a text file, the two parallel
// passes of a read, the ordered parallel write.
#pragma once

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "ndshard/detail/checksum.hpp"
#include "ndshard/detail/row_source.hpp"
#include "ndshard/detail/text_csv.hpp"
#include "ndshard/detail/text_error.hpp"
#include "ndshard/detail/text_format.hpp"
#include "ndshard/detail/text_lines.hpp"
#include "ndshard/detail/text_parse.hpp"
#include "ndshard/detail/text_source.hpp"
#include "ndshard/dtype.hpp"
#include "ndshard/error.hpp"
#include "ndshard/file.hpp"
#include "ndshard/text.hpp"
#include "ndshard/thread_pool.hpp"
#include "ndshard/xtensor.hpp"

namespace ndshard::detail {

/// How a read cuts its file: ranges of about `range_bytes` (1 MiB: each is read into a buffer
/// and counted or parsed while it is hot in the cache, and a thousand ranges cost nothing
/// next to a gigabyte). Tests shrink it to cut every line, and set keep_bytes to 0 to read
/// every range twice.
struct text_tuning {
    std::size_t range_bytes = std::size_t{1} << 20;
    /// A text of at most this size is read once, into one buffer, and parsed from there; a
    /// larger one is read range by range in both passes. So a read holds at most this much of
    /// its file in memory, or its ranges in flight (one per thread, a range_bytes each, or the
    /// longest line when that is longer).
    std::size_t keep_bytes = std::size_t{32} << 20;
};

/// All the text buffers of one write together: each worker gets an equal share, 64 KiB to
/// 4 MiB.
inline constexpr std::size_t text_write_memory = std::size_t{48} << 20;

/// Checks a read's delimiter (0: detect): one byte that cannot occur in a number or end a line.
inline void check_read_delimiter(const std::filesystem::path& file, char delimiter, char comment) {
    if (delimiter != 0 && (!can_delimit(delimiter) || delimiter == comment))
        fail("cannot read", file,
             "expected a delimiter that cannot appear in a number and is not the comment "
             "character, found byte " +
                 std::to_string(static_cast<unsigned char>(delimiter)));
}

/// Where a text's lines start: after a UTF-8 byte order mark and the first `skip_rows` lines.
struct text_start {
    std::uint64_t offset = 0;
    std::size_t line = 1;  ///< 1-based number of the line at `offset`
};

inline text_start skip_lines(const text_source& src, std::size_t skip_rows) {
    text_start s;
    if (src.size() >= 3) {
        char bom[3];
        src.read(0, 3, bom);
        if (std::memcmp(bom, "\xEF\xBB\xBF", 3) == 0) s.offset = 3;
    }
    line_reader lines(src, s.offset);
    for (; skip_rows > 0 && !lines.next().empty(); --skip_rows)
        ++s.line;
    s.offset = lines.offset();
    return s;
}

/// The next data line of `lines` (empty when there is none); `line` counts the lines passed.
inline std::string_view next_data_line(const text_layout& l, line_reader& lines,
                                       std::size_t& line) {
    for (std::string_view s; !(s = lines.next()).empty(); ++line)
        if (l.is_data_line(s.data(), s.data() + s.size())) return s;
    return {};
}

/// The delimiter a line uses: a tab if it has one, else a comma if it has one (and commas are
/// allowed), else runs of spaces. Spaces, tabs and '\r' at the end of the line's data do not
/// count: "1 2 3\t" is separated by spaces; nor does anything inside `quote`s (0: none):
/// "\"a,b\" c" is separated by spaces.
inline char detect_delimiter(const char* line, const char* end, char comment, bool allow_comma,
                             char quote = 0) {
    const char* e = line;
    bool quoted = false;
    for (; e < end && *e != '\n' && (quoted || comment == 0 || *e != comment); ++e)
        quoted = quoted != (quote != 0 && *e == quote);
    while (e > line && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        --e;
    bool comma = false;
    quoted = false;
    for (const char* p = line; p < e; ++p) {
        quoted = quoted != (quote != 0 && *p == quote);
        if (quoted) continue;
        if (*p == '\t') return '\t';
        comma = comma || *p == ',';
    }
    return comma && allow_comma ? ',' : ' ';
}

/// What the count pass learns of a text: the rows and lines before each range (entry i for range
/// i, the last entry for the end of the text).
struct counted_text {
    std::vector<std::size_t> first_row, line;
    [[nodiscard]] std::size_t rows() const noexcept { return first_row.back(); }
};

/// The count pass over `ranges` on `pool`: the rows and lines of each; `first_line` is the
/// 1-based number of the first one. With `hash`, every byte is also hashed, in file order (so
/// without the pool): a shard's checksum costs no pass of its own.
inline counted_text count_text(const text_layout& layout, text_ranges& ranges,
                               std::size_t first_line, thread_pool* pool,
                               xxh3_stream* hash = nullptr) {
    const std::size_t n = ranges.size();
    std::vector<text_layout::line_counts> counts(n);
    run_tasks(hash ? nullptr : pool, n, [&](std::size_t i) {
        const text_ranges::bytes r(ranges, i, false);
        counts[i] = layout.count_lines(r.begin(), r.end());
        if (hash) hash->update(r.begin(), static_cast<std::size_t>(r.end() - r.begin()));
    });
    counted_text c;
    c.first_row.assign(n + 1, 0);
    c.line.assign(n + 1, first_line);
    for (std::size_t i = 0; i < n; ++i) {
        c.first_row[i + 1] = c.first_row[i] + counts[i].rows;
        c.line[i + 1] = c.line[i] + counts[i].lines;
    }
    return c;
}

/// The parse pass on `pool`: every range straight into its rows of `dest` (`columns` values each)
/// and, with `words`, its words. Then checks that the file did not change since it was opened.
template <class T>
void parse_counted(const row_parser<T>& parser, text_ranges& ranges, const counted_text& c,
                   std::size_t columns, T* dest, std::string* words, thread_pool* pool) {
    try {
        run_tasks(pool, ranges.size(), [&](std::size_t i) {
            const text_ranges::bytes r(ranges, i, true);
            const std::size_t row = c.first_row[i];
            parser.parse_range(r.begin(), r.end(), c.line[i], c.first_row[i + 1] - row,
                               dest + row * columns, words ? words + row : nullptr);
            progress_add(static_cast<std::uint64_t>(r.end() - r.begin()));
        });
    } catch (const parse_error&) {
        // rewritten in place between the passes, a file fails to parse at a line that means
        // nothing: say that it changed
        ranges.source().check_unchanged();
        throw;
    }
    ranges.source().check_unchanged();
}

/// Whether `rows` rows of `values` values each fit in `bytes` bytes of text: each value takes at
/// least `least` bytes, one byte and one separator or line end (or only its separator where an
/// empty field is a missing value), so no text can hold more (a word may be empty, so words do
/// not count). A text's allocation is never larger than its bytes can fill.
[[nodiscard]] inline bool text_can_hold(std::uint64_t bytes, std::size_t rows, std::size_t values,
                                        std::size_t least = 2) noexcept {
    return values == 0 || rows <= (bytes + 1) / least / values;
}

/// Fails with the error the parse gives for the first data line of [begin, end) that cannot hold
/// `columns` values (and a word, with `words`): one with another count of fields, or too short
/// to hold them. Called, before anything is allocated, when the text cannot hold all its rows.
template <class T>
[[noreturn]] void fail_first_short_row(const text_layout& layout, std::size_t columns, bool words,
                                       const text_source& src, text_start start,
                                       float_overflow overflow = float_overflow::fail,
                                       const csv_rules* rules = nullptr) {
    const std::size_t fields = rules ? rules->file_columns : columns + (words ? 1 : 0);
    const std::size_t per_field = rules ? rules->least_field_bytes() : 2;
    line_reader lines(src, start.offset);
    std::size_t line = start.line;
    const row_parser<T> parser(layout, columns, words, overflow, rules);
    for (std::string_view s; !(s = next_data_line(layout, lines, line)).empty(); ++line) {
        // a row of c values takes at least 2c - 1 bytes and its '\n' (c - 1 and its '\n' when
        // empty fields are missing values)
        const std::size_t least = fields == 0 ? 0 : per_field * fields - (s.back() == '\n' ? 0 : 1);
        if (layout.count_fields(s.data(), s.data() + s.size()) == fields && s.size() >= least)
            continue;
        // the parse stops within the line: it cannot fill more values than the line holds
        // (chosen columns may repeat: then as many as asked)
        const std::unique_ptr<T[]> values(
            new T[rules && rules->every_row() ? columns : std::min(columns, s.size() + 1)]);
        std::string word;
        parser.parse_range(s.data(), s.data() + s.size(), line, 1, values.get(),
                           words ? &word : nullptr);
    }
    src.changed();  // the count pass found rows this pass does not
}

/// A text file parsed into one allocation: values (rows, columns), and words when asked.
template <class T>
struct parsed_text {
    xt::xtensor<T, 2> values;
    std::vector<std::string> words;
};

/// The two parallel passes over `src` from `start` to its end: count the rows of every range,
/// allocate once, parse every range straight into its rows.
template <class T>
parsed_text<T> parse_text(const text_layout& layout, std::size_t columns, bool words,
                          const text_source& src, text_start start, std::size_t threads,
                          thread_pool* given, const text_tuning& tuning, float_overflow overflow,
                          const csv_rules* rules = nullptr) {
    const std::size_t nthreads = threads_for(threads, given);
    const std::uint64_t size = src.size() - start.offset;
    const auto pieces = static_cast<std::size_t>(
        std::max<std::uint64_t>(1, size / std::max<std::size_t>(1, tuning.range_bytes)));
    text_ranges ranges(src, split_source_at_lines(src, start.offset, src.size(), pieces),
                       size <= tuning.keep_bytes);
    const call_pool pool(given, nthreads, ranges.size());
    const counted_text counted = count_text(layout, ranges, start.line, pool.get());
    const std::size_t rows = counted.rows();
    if (rules ? !text_can_hold(size, rows, rules->file_columns, rules->least_field_bytes())
              : !text_can_hold(size, rows, columns))
        fail_first_short_row<T>(layout, columns, words, src, start, overflow, rules);

    parsed_text<T> out;
    out.values = xt::xtensor<T, 2>::from_shape({rows, rows == 0 ? 0 : columns});
    if (words) out.words.resize(rows);
    if (rows == 0) return out;
    T* dest = out.values.data();
    advise_huge_pages(dest, rows * columns * sizeof(T));  // first touch: one fault per 2 MiB
    parse_counted(row_parser<T>(layout, columns, words, overflow, rules), ranges, counted, columns,
                  dest, words ? out.words.data() : nullptr, pool.get());
    return out;
}

/// How a read of a text file goes: where its rows start (after `skip_rows` and the header line),
/// how its lines split, how many fields they have and which are read, by the CSV rules of the
/// options (text_csv.hpp). No layout: the file has no data lines.
struct text_plan {
    text_start start;
    std::optional<text_layout> layout;
    std::size_t columns = 0;         ///< the columns read
    csv_rules rules;                 ///< its file_columns: the fields of every data line
    std::vector<std::string> names;  ///< with `names`: the first data line's fields, unquoted
    std::size_t first_line = 0;      ///< the line of the first data line (or header)
    bool names_only = false;         ///< the first data line holds no number, only names
};

template <class T>
text_plan plan_text(const text_source& src, const std::filesystem::path& file,
                    const text_read_options& options, bool names = false) {
    check_read_delimiter(file, options.delimiter, options.comment);
    text_plan p;
    p.start = skip_lines(src, options.skip_rows);
    line_reader lines(src, p.start.offset);
    std::size_t line = p.start.line;
    const std::string_view first =
        next_data_line(text_layout(file, '\t', options.comment), lines, line);
    if (first.empty()) return p;
    const char delimiter =
        options.delimiter != 0
            ? options.delimiter
            : detect_delimiter(first.data(), first.data() + first.size(), options.comment, true,
                               options.quote == ',' ? '\0' : options.quote);
    if (options.quote != 0 &&
        (!can_delimit(options.quote) || options.quote == delimiter ||
         options.quote == options.comment || options.quote == ' ' || options.quote == '\t'))
        fail("cannot read", file,
             "expected a quote character that cannot appear in a number and is neither the "
             "delimiter, the comment character nor a space, found byte " +
                 std::to_string(static_cast<unsigned char>(options.quote)));
    const text_layout& layout = p.layout.emplace(file, delimiter, options.comment);
    std::string copy(first);
    if (copy.back() != '\n') copy += '\n';
    // the first line's fields: counted, looked at (numbers or names?), kept only when asked
    bool any_number = false, any_name = false, trailing = false;
    std::string name;
    std::size_t fields = 0;
    scan_fields(
        layout, options.quote, copy.data(), copy.data() + copy.size(), line, SIZE_MAX,
        [&](const text_field& t, std::size_t, bool trailing_empty) {
            trailing = trailing_empty;
            if (trailing_empty) return;
            name = unquoted(t, options.quote);
            double v = 0;
            const char* b = name.data();
            const char* e = b + name.size();
            if (b < e && parse_value(b, e, v) == e)
                any_number = true;
            else if (!name.empty() && !p.rules.is_na(name))
                any_name = true;
            if (names) p.names.push_back(std::move(name));
        },
        fields);
    p.first_line = line;
    p.names_only = any_name && !any_number;
    p.rules.quote = options.quote;
    p.rules.na = options.na_values;
    p.rules.empty_is_na = p.rules.is_na("");
    p.rules.file_columns = fields - (trailing ? 1 : 0);
    for (const std::size_t c : options.usecols)
        if (c >= p.rules.file_columns)
            fail("cannot read", file,
                 "expected column indices (usecols) below " + std::to_string(p.rules.file_columns) +
                     " (line " + std::to_string(line) + " holds " +
                     std::to_string(p.rules.file_columns) + " fields), found " + std::to_string(c));
    p.rules.usecols = options.usecols;
    for (std::size_t c = 0; c < options.usecols.size(); ++c)
        p.rules.picks.emplace_back(options.usecols[c], c);
    std::stable_sort(p.rules.picks.begin(), p.rules.picks.end(),
                     [](const auto& x, const auto& y) { return x.first < y.first; });
    p.columns = options.usecols.empty() ? p.rules.file_columns : options.usecols.size();
    if (names && !options.usecols.empty()) {
        std::vector<std::string> chosen;
        for (const std::size_t c : options.usecols)
            chosen.push_back(p.names[c]);
        p.names = std::move(chosen);
    }
    if (options.header) p.start = {lines.offset(), line + 1};
    return p;
}

template <class T>
xt::xtensor<T, 2> read_text_file(const std::filesystem::path& file,
                                 const text_read_options& options, const text_tuning& tuning = {}) {
    static_assert(is_supported_v<T>,
                  "ndshard: element type must be bool, float, double or a fixed-width integer");
    const text_source src(file::open_read(file), true);
    progress_meter meter(options.progress, src.size(), "read of " + quoted(file));
    const text_plan plan = plan_text<T>(src, file, options);
    if (!plan.layout) return xt::xtensor<T, 2>::from_shape({0, 0});
    xt::xtensor<T, 2> values;
    try {
        values = parse_text<T>(*plan.layout, plan.columns, false, src, plan.start, options.threads,
                               options.pool, tuning, overflow_rule(options.overflow_to_infinity),
                               &plan.rules)
                     .values;
    } catch (const parse_error& e) {
        // a header line read as data: say what reads it
        if (options.header || !plan.names_only || e.line() != plan.first_line) throw;
        throw parse_error(std::string(e.what()) + " (line " + std::to_string(e.line()) +
                              " looks like column names: set text_read_options::header to "
                              "skip it)",
                          e.line(), e.column(), e.field());
    }
    if (values.shape(0) == 0) values = xt::xtensor<T, 2>::from_shape({0, plan.columns});
    meter.check();
    meter.finish();
    return values;
}

inline std::vector<std::string> read_text_header(const std::filesystem::path& file,
                                                 const text_read_options& options) {
    const text_source src(file::open_read(file), true);
    text_plan plan = plan_text<double>(src, file, options, true);
    if (!plan.layout)
        fail("cannot read", file, "expected a line of column names, found no data lines");
    return std::move(plan.names);
}

/// Reads the "N D" header of an embedding file from the data line at `p`: true when the line is
/// exactly two unsigned integers (that fit in size_t). `d_at` is set to where D starts.
inline bool parse_count_line(const char* p, const char* end, std::size_t& n, std::size_t& d,
                             const char** d_at = nullptr) {
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
    if (d_at) *d_at = p;
    if (!number(d)) return false;
    skip();
    return p == end || *p == '\n';
}

/// An embedding file whose first line holds a word alone (a CSV file, a word list): without a
/// header that says D is 0, a line without a vector is an error, not a word of 0 dimensions.
[[noreturn]] inline void fail_no_vector(const text_layout& layout, std::string_view s,
                                        std::size_t line) {
    std::size_t end = 0;  // the end of the line's data: its word, without spaces or line end
    while (end < s.size() && !layout.is(s[end], text_layout::c_end))
        ++end;
    while (end > 0 && layout.is(s[end - 1], text_layout::c_space | text_layout::c_delim))
        --end;
    std::size_t begin = 0;
    while (begin < end && layout.is(s[begin], text_layout::c_space))
        ++begin;
    throw parse_error("ndshard: cannot parse " + text_position(layout.file(), line, 2, end + 1) +
                          ": expected a vector after the word '" +
                          shorten(s.substr(begin, end - begin)) +
                          "' (values separated by spaces or tabs), found the end of the line",
                      line, end + 1, 2);
}

template <class T>
embeddings<T> read_embeddings_file(const std::filesystem::path& file,
                                   const text_read_options& options,
                                   const text_tuning& tuning = {}) {
    static_assert(std::is_floating_point_v<T>, "ndshard: embedding vectors are float or double");
    check_read_delimiter(file, options.delimiter, 0);
    const text_source src(file::open_read(file), true);
    progress_meter meter(options.progress, src.size(), "read of " + quoted(file));
    text_start start = skip_lines(src, options.skip_rows);
    const text_layout blank(file, ' ', 0);  // words may start with '#': no comments
    line_reader lines(src, start.offset);
    std::size_t line = start.line;
    std::string first(next_data_line(blank, lines, line));
    std::size_t n = 0, d = 0;
    const char* d_at = nullptr;
    bool header = false;
    const std::size_t header_line = line;
    std::size_t first_line = line;  // the line of `first`
    if (options.skip_rows == 0 && !first.empty() &&
        parse_count_line(first.data(), first.data() + first.size(), n, d, &d_at)) {
        const std::uint64_t after = lines.offset();
        std::size_t next_line = ++line;
        const std::string_view second = next_data_line(blank, lines, next_line);
        std::size_t n2 = 0, d2 = 0;
        header = second.empty() ||
                 !parse_count_line(second.data(), second.data() + second.size(), n2, d2);
        if (header) {
            // D sizes every row: a row of D values (each with a separator) must fit in what
            // follows the header
            const std::uint64_t rest = src.size() - after;
            if (!second.empty() && d > rest / 2)
                fail_parse(file, header_line, 2, static_cast<std::size_t>(d_at - first.data()) + 1,
                           "at most " + count_of_values(static_cast<std::size_t>(rest / 2)) +
                               " per row (what the " + std::to_string(rest) +
                               " bytes after the header line can hold)",
                           std::string_view(d_at, std::strcspn(d_at, " \t\r\n")));
            start = {after, line};
            first = std::string(second);
            first_line = next_line;
        }
    }
    embeddings<T> out;
    if (first.empty()) {
        if (header && n != 0)
            fail("cannot read", file,
                 "expected " + std::to_string(n) + " words (from the header line), found 0");
        out.vectors = xt::xtensor<T, 2>::from_shape({0, header ? d : 0});
        return out;
    }
    const char* end = first.data() + first.size();
    const char delimiter =
        options.delimiter != 0 ? options.delimiter : detect_delimiter(first.data(), end, 0, false);
    const text_layout layout(file, delimiter, 0);
    const std::size_t fields = layout.count_fields(first.data(), end);
    const std::size_t columns = header ? d : fields - 1;
    if (!header && columns == 0) fail_no_vector(layout, first, first_line);
    auto parsed = parse_text<T>(layout, columns, true, src, start, options.threads, options.pool,
                                tuning, overflow_rule(options.overflow_to_infinity));
    if (header && parsed.words.size() != n)
        fail("cannot read", file,
             "expected " + std::to_string(n) + " words (from the header line), found " +
                 std::to_string(parsed.words.size()));
    meter.check();
    out.words = std::move(parsed.words);
    out.vectors = std::move(parsed.values);
    meter.finish();
    return out;
}

/// Hands out the file offsets of consecutive blocks: block b learns its offset once blocks
/// 0 … b-1 have given their sizes, i.e. once they are formatted (not written).
class ordered_offsets {
  public:
    /// The first block starts at `start` (after a header line).
    explicit ordered_offsets(std::uint64_t start = 0) : end_(start) {}

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
    std::uint64_t end_;
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
    const std::uint64_t array_bytes = std::uint64_t{src.rows()} * src.row_size() * sizeof(T);
    const std::string header =
        header_line(target, options.header, src.row_size(), options.delimiter);
    progress_meter meter(options.progress, array_bytes, "write of " + quoted(target));
    write_atomically(target, options.sync, true, [&](const file& f) {
        if (!header.empty()) f.pwrite_full(header.data(), header.size(), 0);
        ordered_offsets offsets(header.size());
        std::atomic<std::size_t> next{0};
        with_pool(options.pool, threads, std::min(threads, blocks), [&](std::size_t) {
            auto formatter = make();
            try {
                for (std::size_t b; (b = next.fetch_add(1)) < blocks;) {
                    const std::string_view text = formatter.format(b);
                    std::uint64_t offset = 0;
                    if (!offsets.claim(b, text.size(), offset)) return;
                    f.pwrite_full(text.data(), text.size(), offset);
                    progress_add(share_of(array_bytes, blocks, b));
                }
            } catch (...) {
                offsets.abort();
                throw;
            }
        });
        meter.check();  // before the new file replaces the old one
    });
    if (options.sync) sync_directory(target.has_parent_path() ? target.parent_path() : ".");
    meter.finish();
}

}  // namespace ndshard::detail

namespace ndshard {

template <class T>
xt::xtensor<T, 2> read_text(const std::filesystem::path& file, const text_read_options& options) {
    return detail::read_text_file<T>(file, options);
}

inline std::vector<std::string> text_read_header(const std::filesystem::path& file,
                                                 const text_read_options& options) {
    return detail::read_text_header(file, options);
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
