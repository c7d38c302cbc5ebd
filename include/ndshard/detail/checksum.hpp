// ndshard/detail/checksum.hpp — streaming xxh3-64 checksums, spelled "xxh3:<16 hex digits>".
#pragma once

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL  // header-only: every xxhash symbol is static inline, no library to link
#endif
#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <new>
#include <string>

namespace ndshard::detail {

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
        if (n) XXH3_64bits_update(state_, data, n);
    }
    [[nodiscard]] std::uint64_t digest() const noexcept { return XXH3_64bits_digest(state_); }
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

}  // namespace ndshard::detail
