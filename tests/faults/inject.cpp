// tests/faults/inject.cpp — see inject.hpp.
#include "inject.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#include <sys/types.h>
#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <mutex>
#include <string>

namespace fault {
namespace {

struct rule {
    bool active = false;
    op what = op::open;
    std::string needle;
    int err = 0;
    int skip = 0;
    int times = 0;
};

std::mutex mutex;  // guards everything below but the atomics
rule current;
std::string zero_needle;
std::string fd_paths[4096];  // the path each descriptor was opened with
std::atomic<int> eintr_period{0};
std::atomic<std::size_t> max_transfer{0};
std::atomic<long> counts[5];
std::atomic<long> injections{0};
std::atomic<long> eintr_clock{0};

std::string path_of(int fd) {
    std::lock_guard<std::mutex> lock(mutex);
    return fd >= 0 && fd < 4096 ? fd_paths[fd] : std::string();
}

/// The errno a call of `o` on `path` must fail with, or 0 to let it through.
int decide(op o, const std::string& path, bool interruptible) {
    counts[static_cast<int>(o)].fetch_add(1);
    const int period = eintr_period.load();
    if (interruptible && period > 0 && eintr_clock.fetch_add(1) % period == 0) {
        injections.fetch_add(1);
        return EINTR;
    }
    std::lock_guard<std::mutex> lock(mutex);
    if (!current.active || current.what != o || path.find(current.needle) == std::string::npos)
        return 0;
    if (current.skip > 0) {
        --current.skip;
        return 0;
    }
    if (--current.times <= 0) current.active = false;
    injections.fetch_add(1);
    return current.err;
}

template <class F>
F real(const char* name) {
    return reinterpret_cast<F>(::dlsym(RTLD_NEXT, name));
}

}  // namespace

void fail(op o, const std::string& needle, int err, int skip, int times) {
    std::lock_guard<std::mutex> lock(mutex);
    current = {true, o, needle, err, skip, times};
}
void interrupt_every(int n) {
    eintr_period = n;
}
void short_io(std::size_t n) {
    max_transfer = n;
}
void zero_writes(const std::string& needle) {
    std::lock_guard<std::mutex> lock(mutex);
    zero_needle = needle;
}
long calls(op o) {
    return counts[static_cast<int>(o)].load();
}
long injected() {
    return injections.load();
}
void reset() {
    {
        std::lock_guard<std::mutex> lock(mutex);
        current = rule{};
        zero_needle.clear();
    }
    eintr_period = 0;
    max_transfer = 0;
    for (auto& c : counts)
        c = 0;
    injections = 0;
    eintr_clock = 0;
}

}  // namespace fault

using fault::op;

extern "C" {

int open(const char* path, int flags, ...) {
    static const auto next = fault::real<int (*)(const char*, int, ...)>("open");
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = static_cast<mode_t>(va_arg(ap, unsigned));
        va_end(ap);
    }
    if (const int err = fault::decide(op::open, path, true)) {
        errno = err;
        return -1;
    }
    const int fd = next(path, flags, mode);
    if (fd >= 0 && fd < 4096) {
        std::lock_guard<std::mutex> lock(fault::mutex);
        fault::fd_paths[fd] = path;
    }
    return fd;
}

ssize_t pread(int fd, void* buf, size_t n, off_t offset) {
    static const auto next = fault::real<ssize_t (*)(int, void*, size_t, off_t)>("pread");
    if (const int err = fault::decide(op::pread, fault::path_of(fd), true)) {
        errno = err;
        return -1;
    }
    const std::size_t cap = fault::max_transfer.load();
    return next(fd, buf, cap && n > cap ? cap : n, offset);
}

ssize_t pwrite(int fd, const void* buf, size_t n, off_t offset) {
    static const auto next = fault::real<ssize_t (*)(int, const void*, size_t, off_t)>("pwrite");
    const std::string path = fault::path_of(fd);
    if (const int err = fault::decide(op::pwrite, path, true)) {
        errno = err;
        return -1;
    }
    {
        std::lock_guard<std::mutex> lock(fault::mutex);
        if (!fault::zero_needle.empty() && path.find(fault::zero_needle) != std::string::npos)
            return 0;
    }
    const std::size_t cap = fault::max_transfer.load();
    return next(fd, buf, cap && n > cap ? cap : n, offset);
}

int fsync(int fd) {
    static const auto next = fault::real<int (*)(int)>("fsync");
    if (const int err = fault::decide(op::fsync, fault::path_of(fd), true)) {
        errno = err;
        return -1;
    }
    return next(fd);
}

int rename(const char* from, const char* to) {
    static const auto next = fault::real<int (*)(const char*, const char*)>("rename");
    if (const int err = fault::decide(op::rename, from, false)) {
        errno = err;
        return -1;
    }
    return next(from, to);
}

}  // extern "C"
