// The streaming checksum gives XXH3-64 of the concatenated bytes whatever the pieces, on the AVX2
// path (chosen at run time on CPUs that have it) exactly as on the portable one.
#include <catch2/catch.hpp>
#include <ndshard/detail/checksum.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

TEST_CASE("xxh3_stream: AVX2 dispatch gives XXH3-64 for any piece sizes", "[checksum]") {
    std::vector<unsigned char> data(3 * 1024 * 1024 + 77);
    std::uint64_t x = 88172645463325252ull;
    for (auto& b : data) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        b = static_cast<unsigned char>(x);
    }
    for (std::size_t total : {std::size_t{0}, std::size_t{1}, std::size_t{240}, std::size_t{241},
                              std::size_t{1024}, std::size_t{65536 + 3}, data.size()}) {
        // one-shot XXH3_64bits never takes ndshard's dispatch: it is the reference
        const std::uint64_t expected = XXH3_64bits(data.data(), total);
        for (std::size_t piece : {std::size_t{1}, std::size_t{63}, std::size_t{256},
                                  std::size_t{4096}, std::size_t{1} << 20}) {
            if (piece == 1 && total > 65536) continue;  // slow and adds nothing
            ndshard::detail::xxh3_stream h;
            for (std::size_t off = 0; off < total; off += piece)
                h.update(data.data() + off, std::min(piece, total - off));
            INFO("total " << total << ", pieces of " << piece);
            REQUIRE(h.digest() == expected);
        }
    }
    ndshard::detail::xxh3_stream empty;
    REQUIRE(empty.text() == "xxh3:2d06800538d394c2");
}
