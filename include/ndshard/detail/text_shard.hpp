// ndshard/detail/text_shard.hpp — CSV/TSV shards of a dataset: one row per line, every dimension
// after the first flattened into the columns, floats shortest round-trip. The dataset runs one
// shard per worker, so each shard is written and read by one thread.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "ndshard/dataset.hpp"
#include "ndshard/detail/checksum.hpp"
#include "ndshard/detail/row_source.hpp"
#include "ndshard/detail/text_format.hpp"
#include "ndshard/detail/text_impl.hpp"
#include "ndshard/detail/text_lines.hpp"
#include "ndshard/detail/text_parse.hpp"
#include "ndshard/error.hpp"
#include "ndshard/file.hpp"

namespace ndshard::detail {

/// Text a shard writer formats at once: one per worker, so small.
inline constexpr std::size_t text_shard_buffer_bytes = std::size_t{1} << 20;

/// Writes rows [first, last) of `src` as text, one row per line, values separated by `delimiter`;
/// hashes every byte written into `hash` and sets `bytes` to the file's size. An array without
/// columns writes an empty file (the manifest keeps its shape).
template <class T>
void write_text_shard(const file& f, const row_source<T>& src, std::size_t first, std::size_t last,
                      char delimiter, xxh3_stream& hash, std::uint64_t& bytes) {
    block_formatter<T> formatter(src, first, last, delimiter, -1, text_shard_buffer_bytes);
    std::uint64_t offset = 0;
    for (std::size_t b = 0, n = formatter.blocks(); b < n; ++b) {
        const std::string_view text = formatter.format(b);
        f.pwrite_full(text.data(), text.size(), offset);
        hash.update(text.data(), text.size());
        offset += text.size();
    }
    bytes = offset;
}

/// Parses one text shard straight into `dest` (rows s.first_row..s.last_row, `row_size` values
/// each), verifying the checksum first when asked: a damaged shard says so rather than failing
/// to parse.
template <class T>
void read_text_shard(const std::filesystem::path& path, const shard_info& s, std::size_t row_size,
                     T* dest, char delimiter, bool verify) {
    // like .npy shards: a link inside a dataset is never followed
    const mapped_file map(file::open_read_nofollow(path, "open shard"));
    if (map.size() != s.bytes)
        fail("shard disagrees with the manifest:", path,
             "expected " + std::to_string(s.bytes) + " bytes, found " + std::to_string(map.size()));
    if (verify && !s.checksum.empty()) {
        xxh3_stream hash;
        for (std::size_t off = 0; off < map.size(); off += chunk_bytes) {
            const std::size_t n = std::min(chunk_bytes, map.size() - off);
            hash.update(map.data() + off, n);
            release(map.data() + off, map.data() + off + n);  // bounded: see below
        }
        if (hash.text() != s.checksum)
            fail("checksum mismatch in", path,
                 "expected " + s.checksum + " (from the manifest), found " + hash.text());
    }
    const std::size_t rows = s.last_row - s.first_row;
    if (row_size == 0 || map.size() == 0) {
        if (rows != 0 && row_size != 0)
            fail("shard disagrees with the manifest:", path,
                 "expected " + std::to_string(rows) + " rows, found 0");
        return;
    }
    const text_layout layout(path, delimiter, 0);
    const char* begin = map.data();
    const char* end = begin + map.size();
    // pieces of at most ~8 MiB, each released once read: the text mapped at once stays bounded
    const std::vector<const char*> cuts =
        split_at_lines(begin, end, map.size() / text_tuning::max_range_bytes + 1);
    std::vector<text_layout::line_counts> counts(cuts.size() - 1);
    std::size_t found = 0;
    for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
        prefault(cuts[i], cuts[i + 1]);
        counts[i] = layout.count_lines(cuts[i], cuts[i + 1]);
        release(cuts[i], cuts[i + 1]);
        found += counts[i].rows;
    }
    if (found != rows)
        fail("shard disagrees with the manifest:", path,
             "expected " + std::to_string(rows) + " rows, found " + std::to_string(found));
    const row_parser<T> parser(layout, row_size, false);
    std::size_t line = 1, row = 0;
    for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
        prefault(cuts[i], cuts[i + 1]);
        parser.parse_range(cuts[i], cuts[i + 1], line, counts[i].rows, dest + row * row_size,
                           nullptr);
        release(cuts[i], cuts[i + 1]);
        line += counts[i].lines;
        row += counts[i].rows;
    }
}

}  // namespace ndshard::detail
