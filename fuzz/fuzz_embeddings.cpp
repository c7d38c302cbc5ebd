// libFuzzer target: the embedding reader (ndshard::read_embeddings<float> and <double>), on the
// input as a file, with the delimiter, header skipping and threads chosen by its first byte. Its
// "N D" header line is a size claim: any exception but ndshard::error (std::bad_alloc included),
// any allocation beyond max(1 MiB, 64 x the input's size) (alloc_limit.hpp), any crash or
// sanitizer report, and a result whose words and rows disagree are findings.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <ndshard/ndshard.hpp>
#include <ndshard/text.hpp>
#include <string>

#include "alloc_limit.hpp"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

template <class T>
void read_as(const std::string& path, const ndshard::text_read_options& o) {
    try {
        const auto e = ndshard::read_embeddings<T>(path, o);
        check(e.words.size() == e.vectors.shape(0));
    } catch (const ndshard::error&) {
    } catch (const std::exception& x) {
        std::fprintf(stderr, "==fuzz== read_embeddings threw %s\n", x.what());
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz_alloc::install();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const fuzz_alloc::scope limit(size);
    const std::uint8_t mode = data[0];
    ++data;
    --size;
    const int fd = ::memfd_create("fuzz.vec", MFD_CLOEXEC);
    check(fd >= 0);
    check(::write(fd, data, size) == static_cast<ssize_t>(size));
    const std::string path = "/proc/self/fd/" + std::to_string(fd);
    ndshard::text_read_options o;
    static const char delimiters[] = {0, '\t', ' ', ','};
    o.delimiter = delimiters[mode & 3];
    // skip_rows 0 (most often) detects and checks the "N D" header; 1 skips it unchecked
    o.skip_rows = (mode & 0x0c) == 0x0c ? 1 : 0;
    o.threads = (mode & 0x10) ? 2 : 1;
    if (mode & 0x20) {
        read_as<float>(path, o);
    } else {
        read_as<double>(path, o);
    }
    ::close(fd);
    return 0;
}
