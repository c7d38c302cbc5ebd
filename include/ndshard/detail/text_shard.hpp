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
#include "ndshard/detail/text_source.hpp"
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
                      char delimiter, shard_hasher& hash, std::uint64_t& bytes) {
    block_formatter<T> formatter(src, first, last, delimiter, -1, text_shard_buffer_bytes);
    std::uint64_t offset = 0;
    const std::uint64_t array_bytes = std::uint64_t{last - first} * src.row_size() * sizeof(T);
    for (std::size_t b = 0, n = formatter.blocks(); b < n; ++b) {
        const std::string_view text = formatter.format(b);
        f.pwrite_full(text.data(), text.size(), offset);
        hash.update(text.data(), text.size());
        offset += text.size();
        progress_add(share_of(array_bytes, n, b));  // the array's bytes, as a save counts
    }
    bytes = offset;
}

/// Parses one text shard, opened by open_shard (so its size is checked), straight into `dest`
/// (rows s.first_row..s.last_row, `row_size` values each), verifying the checksum before the
/// rows when asked: a damaged shard says so rather than failing to parse. The count pass hashes
/// as it counts, range by range (a shard of at most 32 MiB is read once, whole).
template <class T>
void read_text_shard(file f, const shard_info& s, std::size_t row_size, T* dest, char delimiter,
                     bool verify) {
    const text_source src(std::move(f));
    const std::filesystem::path& path = src.path();
    const text_layout layout(path, delimiter, 0);
    const bool check = verify && !s.checksum.empty();
    xxh3_stream hash;
    const text_tuning tuning;
    const std::uint64_t pieces = src.size() / tuning.range_bytes + 1;
    text_ranges ranges(src,
                       split_source_at_lines(src, 0, src.size(), static_cast<std::size_t>(pieces)),
                       src.size() <= tuning.keep_bytes);
    const counted_text counted = count_text(layout, ranges, 1, nullptr, check ? &hash : nullptr);
    if (check && hash.text() != s.checksum)
        fail("checksum mismatch in", path,
             "expected " + s.checksum + " (from the manifest), found " + hash.text());
    const std::size_t rows = s.last_row - s.first_row;
    if (row_size == 0 || src.size() == 0) {
        if (rows != 0 && row_size != 0)
            fail("shard disagrees with the manifest:", path,
                 "expected " + std::to_string(rows) + " rows, found 0");
        return;
    }
    if (counted.rows() != rows)
        fail("shard disagrees with the manifest:", path,
             "expected " + std::to_string(rows) + " rows, found " + std::to_string(counted.rows()));
    parse_counted(row_parser<T>(layout, row_size, false), ranges, counted, row_size, dest, nullptr,
                  nullptr);
}

}  // namespace ndshard::detail
