// ndshard/detail/codec.hpp — the compressors of zarr chunks, as a table of functions filled in at
// start-up by ndshard/zarr_codecs.hpp when the program links the codec libraries (the CMake target
// ndshard::zarr). The core library includes only this table, never zstd.h, blosc.h or zlib.h, so
// it needs none of them, and every translation unit compiles the same code whatever it links: a
// program that lacks a codec gets an error naming it, not a link failure or an ODR violation.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace ndshard::detail {

/// The compressors a zarr v2 store may name in .zarray ("id").
enum class codec_id { none, zstd, blosc, zlib, gzip };

[[nodiscard]] inline const char* codec_name(codec_id c) noexcept {
    switch (c) {
        case codec_id::none:
            return "null";
        case codec_id::zstd:
            return "zstd";
        case codec_id::blosc:
            return "blosc";
        case codec_id::zlib:
            return "zlib";
        case codec_id::gzip:
            return "gzip";
    }
    return "?";
}

/// How a chunk is compressed for writing.
struct encode_params {
    codec_id id = codec_id::none;
    int level = 0;              ///< the codec's own level (already resolved from 0)
    const char* cname = "lz4";  ///< blosc's inner compressor
    int shuffle = 1;            ///< blosc: 0 none, 1 byte, 2 bit
    std::size_t typesize = 1;   ///< blosc: the element size
};

struct codec_table {
    /// Throws ndshard::error naming `chunk` unless `n` bytes at `src` can decompress to exactly
    /// `expected` bytes (their header says so, or the codec's largest ratio allows it): called
    /// before any memory is set aside for them.
    void (*check)(codec_id id, const unsigned char* src, std::size_t n, std::size_t expected,
                  const std::filesystem::path& chunk) = nullptr;
    /// Decompresses `n` bytes at `src` into exactly `expected` bytes at `dst`; throws
    /// ndshard::error naming `chunk` when the data is corrupt, truncated or of another size.
    void (*decode)(codec_id id, const unsigned char* src, std::size_t n, unsigned char* dst,
                   std::size_t expected, const std::filesystem::path& chunk) = nullptr;
    /// The most bytes encode can write for `n` input bytes.
    std::size_t (*bound)(const encode_params& p, std::size_t n) = nullptr;
    /// Compresses `n` bytes at `src` into `dst` (capacity bound(p, n)); returns the size. Throws
    /// ndshard::error naming `chunk` on failure.
    std::size_t (*encode)(const encode_params& p, const unsigned char* src, std::size_t n,
                          unsigned char* dst, const std::filesystem::path& chunk) = nullptr;
    /// Whether blosc in this program knows the inner compressor `cname`.
    bool (*blosc_has)(const char* cname) = nullptr;
};

/// The process's codec table: empty until ndshard/zarr_codecs.hpp is part of the program.
[[nodiscard]] inline codec_table& codecs() noexcept {
    static codec_table table;
    return table;
}

/// The error for a codec this program was built without.
[[nodiscard]] inline std::string codec_missing(codec_id c) {
    return std::string("the ") + codec_name(c) +
           " codec is not in this program: link the CMake target ndshard::zarr (Debian: "
           "libzstd-dev, libblosc-dev, zlib1g-dev), or include <ndshard/zarr_codecs.hpp> and "
           "link -lzstd -lblosc -lz";
}

}  // namespace ndshard::detail
