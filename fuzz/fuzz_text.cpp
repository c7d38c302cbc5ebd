// libFuzzer target: the text parser (ndshard::read_text), on the input as a file, with the
// delimiter, comment and row skipping chosen by its first byte, and the pandas-style options
// (header, quotes, missing values, usecols) by its second. The first data line's column
// count is a size claim (it sizes every row): any exception but ndshard::error (std::bad_alloc
// included), any allocation beyond max(1 MiB, 64 x the input's size) (alloc_limit.hpp), any crash
// or sanitizer report is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>

#include <sys/mman.h>
#include <unistd.h>

#include <ndshard/ndshard.hpp>
#include <ndshard/text.hpp>
#include <string>

#include "alloc_limit.hpp"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

template <class T>
void parse_as(const std::string& path, const ndshard::text_read_options& o) {
    try {
        const auto a = ndshard::read_text<T>(path, o);
        (void)a;
    } catch (const ndshard::error&) {
    } catch (const std::exception& e) {
        std::fprintf(stderr, "==fuzz== read_text threw %s\n", e.what());
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz_alloc::install();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const fuzz_alloc::scope limit(size);
    const std::uint8_t mode = data[0];
    const std::uint8_t csv = data[1];  // pandas-style CSV options
    data += 2;
    size -= 2;
    const int fd = ::memfd_create("fuzz.txt", MFD_CLOEXEC);
    check(fd >= 0);
    check(::write(fd, data, size) == static_cast<ssize_t>(size));
    const std::string path = "/proc/self/fd/" + std::to_string(fd);
    ndshard::text_read_options o;
    static const char delimiters[] = {0, '\t', ',', ' ', ';'};
    o.delimiter = delimiters[mode % 5];
    o.skip_rows = (mode >> 3) & 3;
    o.comment = (mode & 0x20) ? '#' : '\0';
    o.threads = (mode & 0x40) ? 2 : 1;
    o.header = (csv & 1) != 0;
    if (csv & 2) o.quote = 0;
    if (csv & 4) o.na_values = {};
    if (csv & 8) o.usecols = {static_cast<std::size_t>(csv >> 5), 0};
    if (csv & 16) o.na_values.push_back("?");
    parse_as<double>(path, o);
    if (mode & 0x80) {
        parse_as<float>(path, o);
        parse_as<std::int32_t>(path, o);
    }
    ::close(fd);
    return 0;
}
