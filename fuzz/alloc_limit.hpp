// Size claims as findings: while a fuzz input runs, any single allocation larger than
// max(1 MiB, 64 x the input's size) aborts with the allocation's stack, so a size read from a
// header or a first line and trusted for an allocation is caught even when the allocation itself
// would succeed (ASan maps gigabytes lazily; only touching them would show in the RSS).
//
// Why these numbers: a correct read of an input of n bytes allocates O(n): its result (at most
// n/2 values of 8 bytes, n/2 words of 32 bytes), the text it reads (at most the file), an npy
// header (at most the file); the read path's fixed buffers are at most 64 KiB (line reader, CR
// detection). On fuzz/run.sh's inputs (at most 8192 bytes, so 64 x n is at most 512 KiB) the
// limit is the 1 MiB floor, there so that fixed buffers never trip it on tiny inputs.
// libFuzzer's -malloc_limit_mb=64 (fuzz/run.sh) is the coarser net under this one: it also holds
// between inputs and before this hook is installed.
//
// A malloc hook, not an operator new of our own: it sees malloc, calloc, realloc and every
// operator new, from every thread, and leaves ASan's own operator new (and its new/delete
// mismatch checks) in place. Allocations too large for ASan to make never reach the hook: ASan
// reports them itself (allocation-size-too-big, out-of-memory), which with
// allocator_may_return_null=0 is a crash as well.
#pragma once

#include <sanitizer/allocator_interface.h>
#include <sanitizer/common_interface_defs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstdlib>

namespace fuzz_alloc {

inline constexpr std::size_t floor_bytes = std::size_t{1} << 20;
inline constexpr std::size_t per_input_byte = 64;

/// The largest allocation allowed now; 0 outside an input (libFuzzer's own bookkeeping).
inline std::atomic<std::size_t> limit{0};

inline void on_malloc(const volatile void*, std::size_t size) {
    const std::size_t l = limit.load(std::memory_order_relaxed);
    if (l == 0 || size <= l) return;
    limit.store(0, std::memory_order_relaxed);  // the report below may allocate
    char msg[160];
    const int n = std::snprintf(msg, sizeof msg,
                                "==fuzz== size claim: one allocation of %zu bytes, limit %zu "
                                "(max(1 MiB, 64 x input size))\n",
                                size, l);
    if (n > 0) (void)!::write(2, msg, std::min(static_cast<std::size_t>(n), sizeof msg - 1));
    __sanitizer_print_stack_trace();
    std::abort();  // libFuzzer keeps the input as a crash- artifact
}

inline void on_free(const volatile void*) {}

/// Installs the hook; call from LLVMFuzzerInitialize (before any thread starts).
inline void install() {
    if (__sanitizer_install_malloc_and_free_hooks(on_malloc, on_free) == 0) std::abort();
}

/// The limit for one input of `size` bytes, while this lives.
class scope {
  public:
    explicit scope(std::size_t size) {
        limit.store(std::max(floor_bytes, per_input_byte * size), std::memory_order_relaxed);
    }
    ~scope() { limit.store(0, std::memory_order_relaxed); }
    scope(const scope&) = delete;
    scope& operator=(const scope&) = delete;
};

}  // namespace fuzz_alloc
