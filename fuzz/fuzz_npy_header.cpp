// libFuzzer target: the .npy header parser (decode_npy_header), and read_npy on the same bytes
// as a whole file. Any exception but ndshard::error (std::bad_alloc included), any crash or
// sanitizer report, any broken invariant (a decoded header that does not re-encode to the same
// meaning), and any allocation beyond max(1 MiB, 64 x the input's size) (alloc_limit.hpp: the
// shape and header length are size claims, checked against the file's size) is a finding.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <ndshard/ndshard.hpp>
#include <string>
#include <string_view>

#include "alloc_limit.hpp"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

/// The bytes as a file: a memfd, opened by path like any file (no disk, no leftovers).
class memory_file {
  public:
    explicit memory_file(std::string_view bytes) : fd_(::memfd_create("fuzz.npy", MFD_CLOEXEC)) {
        check(fd_ >= 0);
        check(::write(fd_, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    }
    ~memory_file() { ::close(fd_); }
    [[nodiscard]] std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }

  private:
    int fd_;
};

template <class T>
void read_as(const std::string& path) {
    try {
        const auto a = ndshard::read_npy<T>(path, 1);
        (void)a;
    } catch (const ndshard::error&) {
    } catch (const std::exception& e) {
        std::fprintf(stderr, "==fuzz== read_npy threw %s\n", e.what());
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz_alloc::install();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const fuzz_alloc::scope limit(size);
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    try {
        const ndshard::npy_header h = ndshard::decode_npy_header(bytes, "fuzz.npy");
        check(h.data_offset <= size);
        check(h.data_bytes() / h.type.type.size == h.elements());
        // what was decoded encodes again, and decodes to the same meaning
        const std::string again = ndshard::encode_npy_header(h.descr, h.shape, h.fortran_order);
        check(again.size() % 64 == 0);
        const ndshard::npy_header h2 = ndshard::decode_npy_header(again, "again.npy");
        check(h2.type.type == h.type.type && h2.type.swap == h.type.swap);
        check(h2.shape == h.shape && h2.fortran_order == h.fortran_order);
        check(h2.data_offset == again.size());
    } catch (const ndshard::error&) {
    }
    // the whole input as a file: header, size checks, allocation, parallel read, byte swaps
    const memory_file f(bytes);
    read_as<double>(f.path());
    read_as<std::uint8_t>(f.path());
    read_as<bool>(f.path());
    read_as<std::int32_t>(f.path());
    return 0;
}
