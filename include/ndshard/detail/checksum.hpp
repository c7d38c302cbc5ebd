// ndshard/detail/checksum.hpp — streaming xxh3-64 checksums, spelled "xxh3:<16 hex digits>".
#pragma once

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL  // header-only: every xxhash symbol is static inline, no library to link
#endif

// Built for baseline x86-64, xxhash uses SSE2: ~19 GB/s hot, ~9 GB/s from memory, enough to cost a
// save 13% and a verified load 50% against raw pwrite/pread. Its AVX2 kernels, compiled with a
// target attribute and chosen at run time (as xxhash's own xxh_x86dispatch.c does), hash the same
// bytes to the same value ~3.5x faster. Only when ndshard is first to include xxhash (the kernels
// must be compiled in), not already AVX2 by compiler flags, and for the xxhash versions whose
// internals this was checked against (0.8.0, 0.8.1); anything else takes the portable path.
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(__AVX2__) && !defined(XXHASH_H_5627135585666179) &&                               \
    !defined(XXH_INLINE_ALL_31684351384) && !defined(NDSHARD_NO_XXH3_DISPATCH)
#include <immintrin.h>
#define XXH_X86DISPATCH  // accumulators aligned for every vector width
#define XXH_DISPATCH_AVX2 1
#define XXH_TARGET_AVX2 __attribute__((__target__("avx2")))
#define NDSHARD_XXH3_DISPATCH_CANDIDATE 1
#endif
#include <xxhash.h>
#if defined(NDSHARD_XXH3_DISPATCH_CANDIDATE) && XXH_VERSION_NUMBER >= 800 && \
    XXH_VERSION_NUMBER <= 801
#define NDSHARD_XXH3_AVX2 1
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <new>
#include <string>
#include <vector>

namespace ndshard::detail {

#ifdef NDSHARD_XXH3_AVX2
__attribute__((__target__("avx2"))) inline void xxh3_update_avx2(XXH3_state_t* state,
                                                                 const void* data,
                                                                 std::size_t n) noexcept {
    (void)XXH3_update(state, static_cast<const xxh_u8*>(data), n, XXH3_accumulate_512_avx2,
                      XXH3_scrambleAcc_avx2);
}
inline bool cpu_has_avx2() noexcept {
    static const bool yes = __builtin_cpu_supports("avx2") != 0;
    return yes;
}
#endif

/// XXH3_64bits_update, through the AVX2 kernels when the CPU has them (same result).
inline void xxh3_update(XXH3_state_t* state, const void* data, std::size_t n) noexcept {
#ifdef NDSHARD_XXH3_AVX2
    if (cpu_has_avx2()) {
        xxh3_update_avx2(state, data, n);
        return;
    }
#endif
    (void)XXH3_64bits_update(state, data, n);
}

/// Hashes a byte stream piece by piece; `digest()` equals XXH3_64bits of the concatenation.
class xxh3_stream {
  public:
    xxh3_stream() : state_(XXH3_createState()) {
        if (!state_) throw std::bad_alloc();
        XXH3_64bits_reset(state_);
    }
    xxh3_stream(const xxh3_stream&) = delete;
    xxh3_stream& operator=(const xxh3_stream&) = delete;
    ~xxh3_stream() { XXH3_freeState(state_); }

    void update(const void* data, std::size_t n) noexcept {
        if (n) xxh3_update(state_, data, n);
    }
    [[nodiscard]] std::uint64_t digest() const noexcept { return XXH3_64bits_digest(state_); }
    void reset() noexcept { XXH3_64bits_reset(state_); }
    /// "xxh3:0123456789abcdef", the manifest's spelling.
    [[nodiscard]] std::string text() const { return checksum_text(digest()); }

    [[nodiscard]] static std::string checksum_text(std::uint64_t h) {
        static const char* hex = "0123456789abcdef";
        std::string s = "xxh3:";
        for (int i = 60; i >= 0; i -= 4)
            s += hex[(h >> i) & 0xf];
        return s;
    }

  private:
    XXH3_state_t* state_;
};

/// Bytes per block checksum: a partial read hashes the blocks that hold its bytes, so it reads at
/// most one block too many at each end (and a manifest lists one checksum per MiB: 25 bytes of
/// JSON per MiB of data).
inline constexpr std::uint64_t block_checksum_bytes = std::uint64_t{1} << 20;

/// What a shard's writer hashes: the whole file (the manifest's "checksum", which every ndshard
/// version checks) and each block of `block_bytes` from the start of the file (its
/// "block_checksums", which partial reads check).
class shard_hasher {
  public:
    explicit shard_hasher(std::uint64_t block_bytes = block_checksum_bytes)
        : block_bytes_(block_bytes) {}

    void update(const void* data, std::size_t n) {
        whole_.update(data, n);
        const auto* p = static_cast<const char*>(data);
        while (n > 0) {
            const auto k =
                static_cast<std::size_t>(std::min<std::uint64_t>(n, block_bytes_ - in_block_));
            block_.update(p, k);
            in_block_ += k;
            p += k;
            n -= k;
            if (in_block_ == block_bytes_) end_block();
        }
    }
    /// The whole file's checksum, "xxh3:<16 hex digits>".
    [[nodiscard]] std::string text() const { return whole_.text(); }
    /// The checksum of every block, the last one possibly short (none for an empty file).
    [[nodiscard]] std::vector<std::uint64_t> blocks() {
        if (in_block_ > 0) end_block();
        return std::move(blocks_);
    }
    [[nodiscard]] std::uint64_t block_bytes() const noexcept { return block_bytes_; }

  private:
    void end_block() {
        blocks_.push_back(block_.digest());
        block_.reset();
        in_block_ = 0;
    }
    std::uint64_t block_bytes_;
    std::uint64_t in_block_ = 0;
    xxh3_stream whole_, block_;
    std::vector<std::uint64_t> blocks_;
};

}  // namespace ndshard::detail
