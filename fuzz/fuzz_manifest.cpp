// libFuzzer target: the manifest parser (detail::parse_manifest). Any exception but
// ndshard::error (std::bad_alloc included), any crash or sanitizer report, any manifest that
// parses but does not survive being written and parsed again, and any allocation beyond
// max(1 MiB, 64 x the input's size) (alloc_limit.hpp: shapes and row counts are size claims)
// is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <ndshard/ndshard.hpp>
#include <string_view>

#include "alloc_limit.hpp"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz_alloc::install();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const fuzz_alloc::scope limit(size);
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    ndshard::dataset_info info;
    try {
        info = ndshard::detail::parse_manifest(text, "manifest.json");
    } catch (const ndshard::error&) {
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "==fuzz== parse_manifest threw %s\n", e.what());
        std::abort();
    }
    // what parses is valid: rows covered in order, sizes that cannot overflow
    std::size_t next = 0;
    for (const auto& s : info.shards) {
        check(s.first_row == next && s.last_row >= s.first_row);
        check(ndshard::detail::plain_file_name(s.path));
        next = s.last_row;
    }
    check(next == (info.shape.empty() ? 1 : info.shape[0]));
    const auto again =
        ndshard::detail::parse_manifest(ndshard::detail::manifest_text(info), "again.json");
    check(again.dtype == info.dtype && again.shape == info.shape && again.format == info.format);
    check(again.generation == info.generation && again.shards.size() == info.shards.size());
    for (std::size_t i = 0; i < info.shards.size(); ++i) {
        const auto &a = again.shards[i], &b = info.shards[i];
        check(a.path == b.path && a.first_row == b.first_row && a.last_row == b.last_row);
        check(a.bytes == b.bytes && a.checksum == b.checksum);
    }
    return 0;
}
