// ndshard/embeddings.hpp — an embedding table (words and their vectors) as one dataset: the
// vectors are its rows, the words a file beside the shards, both committed by one manifest swap.
//
//   glove.nds/manifest.json              "words": {"path": "part-000001-00000.words", ...}
//   glove.nds/part-000001-00000.npy      vectors, rows as any dataset's
//   glove.nds/part-000001-00000.words    the words, UTF-8 (as given), one per line, '\n' after each
//
// Python reads the words with open(path, encoding="utf-8").read().split("\n")[:-1] and the
// vectors with numpy.load of each shard (docs/format.md).
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "ndshard/dataset.hpp"
#include "ndshard/text.hpp"

namespace ndshard {

/// Saves `e` (one word per row of `e.vectors`; no word may hold '\n') as the dataset `dir`,
/// replacing what was there atomically, as save does. Returns the new dataset's info, whose
/// `words` names the words file.
template <class T>
dataset_info save_embeddings(const std::filesystem::path& dir, const embeddings<T>& e,
                             const save_options& options = {});

/// Reads an embeddings dataset: its words and vectors, as saved (the words file's checksum is
/// checked with `options.verify`). A dataset without words is an error that says to use load.
template <class T>
[[nodiscard]] embeddings<T> load_embeddings(const std::filesystem::path& dir,
                                            const load_options& options = {});

// ---------------------------------------------------------------------------------------------

namespace detail {

/// The words of `info` (an embeddings dataset's manifest), read whole and split at line ends.
inline std::vector<std::string> read_words(const std::filesystem::path& dir,
                                           const dataset_info& info, bool verify) {
    const shard_info& s = info.words;
    const file f = open_shard(dir, s);
    // every word takes at least its '\n': a manifest cannot make this allocate beyond the file
    if (s.bytes < s.last_row)
        fail("words file disagrees with the manifest:", f.path(),
             "expected " + std::to_string(s.last_row) + " words, found " + std::to_string(s.bytes) +
                 " bytes, which cannot hold them");
    std::string bytes(static_cast<std::size_t>(s.bytes), '\0');
    f.pread_full(bytes.data(), bytes.size(), 0);
    if (verify && !s.checksum.empty()) {
        xxh3_stream hash;
        hash.update(bytes.data(), bytes.size());
        if (hash.text() != s.checksum) checksum_fail(f.path(), s, hash.text());
    }
    std::vector<std::string> words;
    words.reserve(s.last_row);  // at most the file's bytes (checked above)
    for (std::size_t at = 0; at < bytes.size();) {
        const std::size_t end = bytes.find('\n', at);
        if (end == std::string::npos)
            fail("words file disagrees with the manifest:", f.path(),
                 "expected a line end after the last word, found the end of the file");
        words.emplace_back(bytes, at, end - at);
        at = end + 1;
    }
    if (words.size() != s.last_row)
        fail("words file disagrees with the manifest:", f.path(),
             "expected " + std::to_string(s.last_row) + " words, found " +
                 std::to_string(words.size()));
    return words;
}

}  // namespace detail

template <class T>
dataset_info save_embeddings(const std::filesystem::path& dir, const embeddings<T>& e,
                             const save_options& options) {
    detail::check_words(dir, e.words, e.vectors.shape()[0]);
    return detail::save_rows(dir, detail::make_row_source(e.vectors), options, false, &e.words);
}

template <class T>
embeddings<T> load_embeddings(const std::filesystem::path& dir, const load_options& options) {
    const directory_lock reading(dir, directory_lock::kind::shared);
    const dataset_info info = detail::manifest_for<T>(dir, options.convert);
    if (info.words.path.empty())
        detail::fail("cannot load embeddings from", dir,
                     "expected a dataset saved by save_embeddings (with words), found one of rows "
                     "only (read it with load)");
    const std::size_t rows = info.shape[0];
    detail::check_shards(dir, info, 0, rows);
    embeddings<T> out;
    out.words = detail::read_words(dir, info, options.verify);
    out.vectors = xt::xtensor<T, 2>::from_shape({info.shape[0], info.shape[1]});
    detail::load_range(dir, info, 0, rows, out.vectors.data(), options);
    return out;
}

}  // namespace ndshard
