// tests/faults/inject.hpp — fault injection for the I/O error tests, by symbol interposition:
// this test program defines open, pread, pwrite, fsync and rename itself, and its definitions
// pass each call on to the C library's (dlsym RTLD_NEXT) unless a rule says otherwise. Nothing
// of this is in ndshard: the library under test is byte for byte what users build.
#pragma once

#include <cstddef>
#include <string>

namespace fault {

enum class op { open, pread, pwrite, fsync, rename };

/// Makes the next calls of `o` on a path containing `needle` fail with `err`: the first `skip`
/// matching calls pass, then `times` calls fail (then the rule is spent).
void fail(op o, const std::string& needle, int err, int skip = 0, int times = 1);

/// Every `n`-th call of open, pread, pwrite and fsync first fails with EINTR (0: never).
void interrupt_every(int n);

/// pread and pwrite transfer at most `n` bytes per call (0: no limit): short reads and writes.
void short_io(std::size_t n);

/// pwrite on a path containing `needle` returns 0 (no progress) instead of writing.
void zero_writes(const std::string& needle);

/// How many calls of `o` were made, and how many failed by a rule or an EINTR.
long calls(op o);
long injected();

/// Clears every rule and counter.
void reset();

/// Clears the rules when the scope ends, also when a REQUIRE fails inside it.
struct scope {
    scope() { reset(); }
    ~scope() { reset(); }
    scope(const scope&) = delete;
    scope& operator=(const scope&) = delete;
};

}  // namespace fault
