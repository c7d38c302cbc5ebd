// ndshard/zarr_codecs.hpp — zstd, blosc and zlib/gzip for zarr chunks. Included by
// <ndshard/zarr.hpp> when NDSHARD_ZARR_CODECS is defined (the CMake target ndshard::zarr defines it
// and links the libraries); or include it yourself in one file and link -lzstd -lblosc -lz. It
// fills the codec table of detail/codec.hpp when the program starts.
#pragma once

#include <blosc.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "ndshard/detail/codec.hpp"
#include "ndshard/error.hpp"

namespace ndshard::detail::codec_impl {

[[noreturn]] inline void corrupt(const std::filesystem::path& chunk, const std::string& why) {
    fail("cannot decode zarr chunk", chunk, why + ": the chunk is corrupt");
}

inline void zstd_decode(const unsigned char* src, std::size_t n, unsigned char* dst,
                        std::size_t expected, const std::filesystem::path& chunk) {
    const unsigned long long claimed = ZSTD_getFrameContentSize(src, n);
    if (claimed == ZSTD_CONTENTSIZE_ERROR) corrupt(chunk, "expected a zstd frame, found none");
    // numcodecs writes the content size; a frame without it (streamed) is still read
    if (claimed != ZSTD_CONTENTSIZE_UNKNOWN && claimed != expected)
        corrupt(chunk, "expected " + std::to_string(expected) +
                           " bytes of elements, found a zstd frame of " + std::to_string(claimed));
    struct dctx_free {
        void operator()(ZSTD_DCtx* c) const noexcept { ZSTD_freeDCtx(c); }
    };
    thread_local std::unique_ptr<ZSTD_DCtx, dctx_free> ctx(ZSTD_createDCtx());
    if (!ctx) fail("cannot decode zarr chunk", chunk, "out of memory for a zstd context");
    const std::size_t got = ZSTD_decompressDCtx(ctx.get(), dst, expected, src, n);
    if (ZSTD_isError(got)) corrupt(chunk, std::string("zstd says: ") + ZSTD_getErrorName(got));
    if (got != expected)
        corrupt(chunk, "expected " + std::to_string(expected) + " bytes of elements, found " +
                           std::to_string(got));
}

inline void blosc_decode(const unsigned char* src, std::size_t n, unsigned char* dst,
                         std::size_t expected, const std::filesystem::path& chunk) {
    std::size_t claimed = 0;
    // checks the header against the buffer's real size before anything reads past it
    if (n < BLOSC_MIN_HEADER_LENGTH || blosc_cbuffer_validate(src, n, &claimed) != 0)
        corrupt(chunk, "expected a blosc buffer, found " + std::to_string(n) +
                           " bytes whose header does not describe them");
    if (claimed != expected)
        corrupt(chunk, "expected " + std::to_string(expected) +
                           " bytes of elements, found a blosc buffer of " +
                           std::to_string(claimed));
    const char* method = blosc_cbuffer_complib(src);
    const int got = blosc_decompress_ctx(src, dst, expected, 1);
    if (got < 0 || static_cast<std::size_t>(got) != expected) {
        // blosc cannot say why; a library built without the inner compressor is one reason
        std::string why = "blosc could not decompress it";
        if (method) why += std::string(" (compressed with ") + method + ")";
        corrupt(chunk, why);
    }
}

inline void zlib_decode(bool gzip, const unsigned char* src, std::size_t n, unsigned char* dst,
                        std::size_t expected, const std::filesystem::path& chunk) {
    const std::string kind = gzip ? "gzip" : "zlib";
    z_stream s{};
    if (inflateInit2(&s, gzip ? 15 + 16 : 15) != Z_OK)
        fail("cannot decode zarr chunk", chunk, "out of memory for a " + kind + " stream");
    // zlib counts in 32 bits: feed it at most 1 GiB at a time
    constexpr std::size_t step = std::size_t{1} << 30;
    std::size_t in_done = 0, out_done = 0;
    int rc = Z_OK;
    for (;;) {
        const std::size_t in_ask = std::min(step, n - in_done);
        const std::size_t out_ask = std::min(step, expected - out_done);
        s.next_in = const_cast<unsigned char*>(src + in_done);
        s.avail_in = static_cast<uInt>(in_ask);
        s.next_out = dst + out_done;
        s.avail_out = static_cast<uInt>(out_ask);
        rc = inflate(&s, Z_NO_FLUSH);
        in_done += in_ask - s.avail_in;
        out_done += out_ask - s.avail_out;
        // a gzip file may hold several members, one after another (Python's gzip reads them all)
        if (rc == Z_STREAM_END && gzip && in_done < n && inflateReset(&s) == Z_OK) continue;
        if (rc == Z_STREAM_END) break;
        if (rc == Z_OK || (rc == Z_BUF_ERROR && in_done < n && out_done < expected)) continue;
        break;
    }
    const std::string msg = s.msg ? s.msg : "";
    inflateEnd(&s);
    if (rc == Z_BUF_ERROR && in_done == n)
        corrupt(chunk, "expected " + std::to_string(expected) + " bytes of elements, found a " +
                           kind + " stream cut short after " + std::to_string(out_done));
    if (rc == Z_BUF_ERROR)
        corrupt(chunk, "expected " + std::to_string(expected) + " bytes of elements, found a " +
                           kind + " stream that holds more");
    if (rc == Z_NEED_DICT)
        corrupt(chunk, "expected a " + kind + " stream, found one that needs a preset dictionary");
    if (rc != Z_STREAM_END)
        corrupt(chunk, kind + " says: " + (msg.empty() ? "error " + std::to_string(rc) : msg));
    if (out_done != expected)
        corrupt(chunk, "expected " + std::to_string(expected) + " bytes of elements, found " +
                           std::to_string(out_done));
    if (in_done != n)
        corrupt(chunk, "expected the " + kind + " stream to end the chunk, found " +
                           std::to_string(n - in_done) + " bytes after it");
}

inline void check(codec_id id, const unsigned char* src, std::size_t n, std::size_t expected,
                  const std::filesystem::path& chunk) {
    const auto too_much = [&](const std::string& kind, unsigned long long most) {
        corrupt(chunk, "expected " + std::to_string(expected) + " bytes of elements, found a " +
                           kind + " of " + std::to_string(n) + " bytes, which holds at most " +
                           std::to_string(most));
    };
    if (id == codec_id::zstd) {
        const unsigned long long claimed = ZSTD_getFrameContentSize(src, n);
        if (claimed == ZSTD_CONTENTSIZE_ERROR) corrupt(chunk, "expected a zstd frame, found none");
        if (claimed != ZSTD_CONTENTSIZE_UNKNOWN && claimed != expected)
            corrupt(chunk, "expected " + std::to_string(expected) +
                               " bytes of elements, found a zstd frame of " +
                               std::to_string(claimed));
        // a frame without its size (streamed): a zstd block of 128 KiB takes at least 4 bytes
        const unsigned long long most = 32768ull * n + (1u << 20);
        if (claimed == ZSTD_CONTENTSIZE_UNKNOWN && most < expected) too_much("zstd frame", most);
    } else if (id == codec_id::blosc) {
        std::size_t claimed = 0;
        // checks the header against the buffer's real size before anything reads past it
        if (n < BLOSC_MIN_HEADER_LENGTH || blosc_cbuffer_validate(src, n, &claimed) != 0)
            corrupt(chunk, "expected a blosc buffer, found " + std::to_string(n) +
                               " bytes whose header does not describe them");
        if (claimed != expected)
            corrupt(chunk, "expected " + std::to_string(expected) +
                               " bytes of elements, found a blosc buffer of " +
                               std::to_string(claimed));
    } else if (id == codec_id::zlib || id == codec_id::gzip) {
        // deflate expands at most 1032:1 (a run of 258 bytes in under 2 bits)
        const unsigned long long most = 1032ull * n + 1024;
        if (most < expected) too_much(id == codec_id::zlib ? "zlib stream" : "gzip stream", most);
    }
}

inline void decode(codec_id id, const unsigned char* src, std::size_t n, unsigned char* dst,
                   std::size_t expected, const std::filesystem::path& chunk) {
    switch (id) {
        case codec_id::zstd:
            return zstd_decode(src, n, dst, expected, chunk);
        case codec_id::blosc:
            return blosc_decode(src, n, dst, expected, chunk);
        case codec_id::zlib:
            return zlib_decode(false, src, n, dst, expected, chunk);
        case codec_id::gzip:
            return zlib_decode(true, src, n, dst, expected, chunk);
        case codec_id::none:
            break;
    }
    fail("cannot decode zarr chunk", chunk, "no codec to decode it with");
}

inline std::size_t bound(const encode_params& p, std::size_t n) {
    switch (p.id) {
        case codec_id::zstd:
            return ZSTD_compressBound(n);
        case codec_id::blosc:
            return n + BLOSC_MAX_OVERHEAD;
        case codec_id::zlib:
        case codec_id::gzip:
            return compressBound(static_cast<uLong>(n)) + 32;
        case codec_id::none:
            break;
    }
    return n;
}

inline std::size_t encode(const encode_params& p, const unsigned char* src, std::size_t n,
                          unsigned char* dst, const std::filesystem::path& chunk) {
    if (p.id == codec_id::zstd) {
        struct cctx_free {
            void operator()(ZSTD_CCtx* c) const noexcept { ZSTD_freeCCtx(c); }
        };
        thread_local std::unique_ptr<ZSTD_CCtx, cctx_free> ctx(ZSTD_createCCtx());
        if (!ctx) fail("cannot compress zarr chunk", chunk, "out of memory for a zstd context");
        // the one-shot API records the content size in the frame, which numcodecs needs
        const std::size_t got =
            ZSTD_compressCCtx(ctx.get(), dst, ZSTD_compressBound(n), src, n, p.level);
        if (ZSTD_isError(got))
            fail("cannot compress zarr chunk", chunk,
                 std::string("zstd says: ") + ZSTD_getErrorName(got));
        return got;
    }
    if (p.id == codec_id::blosc) {
        if (n > static_cast<std::size_t>(BLOSC_MAX_BUFFERSIZE))
            fail("cannot compress zarr chunk", chunk,
                 "expected a chunk of at most " + std::to_string(BLOSC_MAX_BUFFERSIZE) +
                     " bytes (blosc's limit), found " + std::to_string(n) +
                     ": choose fewer chunk_rows");
        const int got = blosc_compress_ctx(p.level, p.shuffle, p.typesize, n, src, dst,
                                           n + BLOSC_MAX_OVERHEAD, p.cname, 0, 1);
        if (got <= 0)
            fail("cannot compress zarr chunk", chunk,
                 std::string("blosc failed with inner compressor ") + p.cname);
        return static_cast<std::size_t>(got);
    }
    fail("cannot compress zarr chunk", chunk,
         std::string("ndshard writes no ") + codec_name(p.id) + " chunks");
}

inline bool blosc_has(const char* cname) {
    return blosc_compname_to_compcode(cname) >= 0;
}

/// Fills the table once, when the program starts.
inline const bool registered = [] {
    codec_table& t = codecs();
    t.check = &check;
    t.decode = &decode;
    t.bound = &bound;
    t.encode = &encode;
    t.blosc_has = &blosc_has;
    return true;
}();

}  // namespace ndshard::detail::codec_impl
