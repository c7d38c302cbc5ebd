// libFuzzer target: the zarr chunk decoders of ndshard/zarr_codecs.hpp (zstd, blosc, zlib, gzip),
// called as the zarr reader calls them: codecs().check on the compressed bytes, then an output of
// exactly the expected size, then codecs().decode. Any exception but ndshard::error
// (std::bad_alloc included), any crash or sanitizer report, any allocation beyond max(1 MiB, 64 x
// the input's size) (alloc_limit.hpp: a compressed header's sizes are claims), a decode that
// succeeds where a plain decode with the codec's own library does not give exactly the expected
// bytes from exactly the chunk's bytes (or, for zlib and gzip, the other way round), and a round
// trip that does not give its bytes back is a finding.
//
// The input: byte 0 chooses what is done with the rest.
//   below 0x80 (low 2 bits: zstd, blosc, zlib, gzip): bytes 1-2 are the expected size (little
//       endian, so at most 64 KiB - 1), the rest is the compressed chunk.
//   0x80 and above (low 2 bits: the codec): a round trip. Bytes 1-2 are parameters, the rest
//       is encoded (zstd and blosc with ndshard's encoder, zlib and gzip with zlib's, which
//       ndshard does not write), checked and decoded to exactly those bytes again. zstd: level
//       byte1 % 26 - 3. blosc: clevel byte1 % 10, inner compressor lz4, lz4hc, zstd, blosclz,
//       zlib by byte1 / 10 % 5, shuffle byte2 % 3, typesize 1 + byte2 / 4. zlib and gzip: level
//       byte1 % 10, memLevel 1 + byte2 % 9, strategy byte2 / 16 % 5.
//   In both, bit 2 puts the compressed bytes and the output each at the end of a region followed
//   by an unreadable page (bits 3-6 are unused).
// The codec libraries are not built with the sanitizers or libFuzzer's coverage: ASan sees their
// reads and writes of the buffers only through the functions it intercepts (memcpy, memmove,
// memset), hence the guard pages, and coverage guides only the checks in ndshard and here.
#include <blosc.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <ndshard/zarr.hpp>
#include <vector>

#include "alloc_limit.hpp"

namespace {

namespace nd = ndshard::detail;

void check(bool ok) {
    if (!ok) std::abort();
}

constexpr nd::codec_id ids[4] = {nd::codec_id::zstd, nd::codec_id::blosc, nd::codec_id::zlib,
                                 nd::codec_id::gzip};

/// Whether zlib itself inflates exactly `n` bytes at `src` (a zlib stream, or gzip members one
/// after another, as Python's gzip reads them) into exactly `expected` bytes; the bytes in `out`
/// (capacity expected + 1).
bool zlib_exact(bool gzip, const unsigned char* src, std::size_t n, unsigned char* out,
                std::size_t expected) {
    z_stream s{};
    if (inflateInit2(&s, gzip ? 31 : 15) != Z_OK) std::abort();
    s.next_in = const_cast<unsigned char*>(src);
    s.avail_in = static_cast<uInt>(n);
    s.next_out = out;
    s.avail_out = static_cast<uInt>(expected + 1);
    int rc = inflate(&s, Z_FINISH);
    while (gzip && rc == Z_STREAM_END && s.avail_in > 0 && inflateReset(&s) == Z_OK)
        rc = inflate(&s, Z_FINISH);
    // (inflateReset zeroes total_in and total_out: count by the pointers)
    const bool ok = rc == Z_STREAM_END && static_cast<std::size_t>(s.next_out - out) == expected &&
                    static_cast<std::size_t>(s.next_in - src) == n;
    inflateEnd(&s);
    return ok;
}

/// Whether the codec's own library decodes exactly `n` bytes at `src` into exactly `expected`
/// bytes, which it puts in `out` (capacity expected + 1).
bool reference(nd::codec_id id, const unsigned char* src, std::size_t n, unsigned char* out,
               std::size_t expected) {
    switch (id) {
        case nd::codec_id::zstd: {
            const std::size_t got = ZSTD_decompress(out, expected + 1, src, n);
            return !ZSTD_isError(got) && got == expected;
        }
        case nd::codec_id::blosc: {
            std::size_t nbytes = 0;
            if (n < BLOSC_MIN_HEADER_LENGTH || blosc_cbuffer_validate(src, n, &nbytes) != 0 ||
                nbytes != expected)
                return false;
            return blosc_decompress_ctx(src, out, expected + 1, 1) == static_cast<int>(expected);
        }
        case nd::codec_id::zlib:
            return zlib_exact(false, src, n, out, expected);
        case nd::codec_id::gzip:
            return zlib_exact(true, src, n, out, expected);
        case nd::codec_id::none:
            break;
    }
    std::abort();
}

/// Bytes that end where an unreadable page begins: a read or write past their end by the codec
/// libraries, which ASan does not see, is a SEGV. One region for the life of the process.
class guarded {
  public:
    explicit guarded(std::size_t capacity) {
        const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
        size_ = (capacity + page - 1) / page * page;
        void* p = ::mmap(nullptr, size_ + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                         -1, 0);
        check(p != MAP_FAILED);
        base_ = static_cast<unsigned char*>(p);
        check(::mprotect(base_ + size_, page, PROT_NONE) == 0);
    }
    /// `n` bytes just before the guard page; null when they do not fit.
    [[nodiscard]] unsigned char* last(std::size_t n) const {
        return n <= size_ ? base_ + size_ - n : nullptr;
    }

  private:
    unsigned char* base_ = nullptr;
    std::size_t size_ = 0;
};

/// A decoded chunk: on the heap (exactly its size, so ASan sees a byte past it) or at the end of
/// a guarded region.
struct output {
    std::unique_ptr<unsigned char[]> heap;
    unsigned char* data = nullptr;
};

/// check, then decode into exactly `expected` bytes as the reader does; false when either
/// refuses the chunk (with an ndshard::error: anything else aborts). With `guard`, the chunk and
/// the output each end at an unreadable page instead of ASan's redzone.
bool decode(nd::codec_id id, const unsigned char* src, std::size_t n, std::size_t expected,
            bool guard, output& out) {
    static const guarded in_region(std::size_t{1} << 20), out_region(std::size_t{1} << 16);
    unsigned char* in = guard ? in_region.last(n) : nullptr;
    if (in) {
        if (n) std::memcpy(in, src, n);
        src = in;
    }
    try {
        nd::codecs().check(id, src, n, expected, "0.0");
        out.data = guard ? out_region.last(expected) : nullptr;
        if (!out.data) {
            out.heap.reset(new unsigned char[expected]);
            out.data = out.heap.get();
        }
        nd::codecs().decode(id, src, n, out.data, expected, "0.0");
        return true;
    } catch (const ndshard::error&) {
        return false;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "==fuzz== the %s decoder threw %s\n", nd::codec_name(id), e.what());
        std::abort();
    }
}

/// Compresses with zlib itself (ndshard writes no zlib or gzip chunks): a zlib stream at `level`,
/// or a gzip member with zlib's memory level and strategy from `p2`.
std::vector<unsigned char> zlib_encode(bool gzip, int level, unsigned p2, const unsigned char* src,
                                       std::size_t n) {
    z_stream s{};
    const int mem_level = 1 + static_cast<int>(p2 % 9);
    const int strategy = static_cast<int>((p2 >> 4) % 5);  // default, filtered, huffman, rle, fixed
    if (deflateInit2(&s, level, Z_DEFLATED, gzip ? 31 : 15, mem_level, strategy) != Z_OK)
        std::abort();
    std::vector<unsigned char> out(deflateBound(&s, static_cast<uLong>(n)) + 32);
    s.next_in = const_cast<unsigned char*>(src);
    s.avail_in = static_cast<uInt>(n);
    s.next_out = out.data();
    s.avail_out = static_cast<uInt>(out.size());
    if (deflate(&s, Z_FINISH) != Z_STREAM_END) std::abort();
    out.resize(s.total_out);
    deflateEnd(&s);
    return out;
}

/// Encodes `n` bytes, then checks and decodes them back.
void round_trip(unsigned mode, unsigned p1, unsigned p2, const unsigned char* src, std::size_t n) {
    const nd::codec_id id = ids[mode & 3];
    std::vector<unsigned char> packed;
    if (id == nd::codec_id::zstd || id == nd::codec_id::blosc) {
        static const char* const cnames[5] = {"lz4", "lz4hc", "zstd", "blosclz", "zlib"};
        nd::encode_params p;
        p.id = id;
        if (id == nd::codec_id::zstd) {
            p.level = static_cast<int>(p1 % 26) - 3;  // -3 to 22
        } else {
            p.level = static_cast<int>(p1 % 10);  // blosc's 0 stores the bytes as they are
            p.cname = cnames[(p1 / 10) % 5];
            p.shuffle = static_cast<int>(p2 % 3);
            p.typesize = 1 + (p2 >> 2);  // 1 to 64
        }
        packed.resize(nd::codecs().bound(p, n));
        try {
            packed.resize(nd::codecs().encode(p, src, n, packed.data(), "0.0"));
        } catch (const ndshard::error& e) {
            std::fprintf(stderr, "==fuzz== the %s encoder failed: %s\n", nd::codec_name(id),
                         e.what());
            std::abort();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "==fuzz== the %s encoder threw %s\n", nd::codec_name(id),
                         e.what());
            std::abort();
        }
        check(packed.size() <= nd::codecs().bound(p, n));
    } else {
        packed = zlib_encode(id == nd::codec_id::gzip, static_cast<int>(p1 % 10), p2, src, n);
    }
    output dst;
    if (!decode(id, packed.data(), packed.size(), n, (mode & 4) != 0, dst)) {
        std::fprintf(stderr, "==fuzz== the %s decoder refuses what was just encoded\n",
                     nd::codec_name(id));
        std::abort();
    }
    check(n == 0 || std::memcmp(dst.data, src, n) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz_alloc::install();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const fuzz_alloc::scope limit(size);
    if (size < 3) return 0;
    const unsigned mode = data[0];
    const unsigned char* src = data + 3;
    const std::size_t n = size - 3;
    if (mode & 0x80) {
        round_trip(mode, data[1], data[2], src, n);
        return 0;
    }
    const nd::codec_id id = ids[mode & 3];
    const std::size_t expected = std::size_t{data[1]} | std::size_t{data[2]} << 8;
    output dst;
    const bool ok = decode(id, src, n, expected, (mode & 4) != 0, dst);
    // what decodes is exactly what the codec's own library makes of exactly these bytes
    std::vector<unsigned char> ref(expected + 1);
    const bool ref_ok = reference(id, src, n, ref.data(), expected);
    if (ok) {
        check(ref_ok);
        check(expected == 0 || std::memcmp(dst.data, ref.data(), expected) == 0);
    } else if (ref_ok && (id == nd::codec_id::zlib || id == nd::codec_id::gzip)) {
        // and a stream zlib reads exactly is read (ndshard's zstd and blosc refuse more: a
        // frame's content size must be written and right, a blosc buffer must end the chunk)
        std::fprintf(stderr, "==fuzz== the %s decoder refuses a stream zlib reads exactly\n",
                     nd::codec_name(id));
        std::abort();
    }
    return 0;
}
