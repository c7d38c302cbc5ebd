// ndshard/detail/text_shard.hpp — CSV/TSV shards of a dataset (filled in by the text engine).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>

#include "ndshard/dataset.hpp"
#include "ndshard/detail/checksum.hpp"
#include "ndshard/detail/row_source.hpp"
#include "ndshard/error.hpp"
#include "ndshard/file.hpp"

namespace ndshard::detail {

/// Writes rows [first, last) of `src` as text, one row per line, values separated by `delimiter`;
/// hashes every byte written into `hash` and sets `bytes` to the file's size.
template <class T>
void write_text_shard(const file& f, const row_source<T>& /*src*/, std::size_t /*first*/,
                      std::size_t /*last*/, char /*delimiter*/, xxh3_stream& /*hash*/,
                      std::uint64_t& /*bytes*/) {
    fail("cannot write", f.path(), "text shards are not implemented yet");
}

/// Parses one text shard straight into `dest` (rows s.first_row..s.last_row, `row_size` values
/// each), verifying the checksum when asked.
template <class T>
void read_text_shard(const std::filesystem::path& path, const shard_info& /*s*/,
                     std::size_t /*row_size*/, T* /*dest*/, char /*delimiter*/, bool /*verify*/) {
    fail("cannot read", path, "text shards are not implemented yet");
}

}  // namespace ndshard::detail
