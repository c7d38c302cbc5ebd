// ndshard_bench — the bundled benchmark: which way of writing and reading a big array in parallel
// is fastest on this machine, and which one costs memory. With no arguments it generates the
// reference array (1,000,000 x 10 float64, uniform in [0, 1)) and, for save and for load, times
// every strategy side by side (interleaved, median of --repeat runs) against the hardware's raw
// parallel pwrite / pread of the same bytes. `ndshard_bench --help` lists the flags; bench/disk.sh
// runs it on a real file system with cold loads.
#include <fcntl.h>
#include <malloc.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <ndshard/ndshard.hpp>
#include <xtensor/xadapt.hpp>

namespace fs = std::filesystem;

namespace {

using clock_type = std::chrono::steady_clock;

[[noreturn]] void usage_error(const std::string& what) {
    std::fprintf(stderr, "ndshard_bench: %s (try --help)\n", what.c_str());
    std::exit(2);
}

const char* const help_text = R"(usage: ndshard_bench [options]

Times, for save and for load, every way of moving an array between memory and files:
  raw pwrite/pread      one thread per block, one pwrite/pread of its bytes into its own file (the
                        hardware baseline; loads read into a fresh, untouched buffer)
  one thread, one file  std::ofstream / std::ifstream of the whole array
  std::thread per block one thread and one std::ofstream / std::ifstream file per row block
  ndshard shards        ndshard::save / ndshard::load (its pool, one .npy shard per thread);
                        again with load_options::verify = false, to show the checksums' cost
  ndshard one file      ndshard::write_npy / ndshard::read_npy (one .npy file, every thread)
  numpy                 numpy.save / numpy.load in a python3 process (skipped if not installed)
Each run of each strategy is interleaved with the others, in a new order every round (a load's
cost depends on what the run before it freed: see --cold); the table shows the median seconds,
the fastest and slowest run, MB/s and the speed relative to the raw baseline (of the medians), CPU
seconds and the peak resident memory beyond the array (a load's returned array subtracted). Files
are removed after each run.

options:
  --rows N[,N...]     rows; several values add a scaling table (10x rows should cost ~10x time)
                      (default 1000000)
  --cols N            columns (default 10)
  --dtype D           f8 f4 i8 i4 i2 i1 u8 u4 u2 u1 b1 (default f8; floats are uniform in [0,1),
                      integers uniform over their range)
  --threads N[,N...]  threads; 0 = every core (default 0)
  --dir PATH          where files go (default /dev/shm/ndshard_bench if /dev/shm exists, else the
                      temporary directory); a private subdirectory is made and removed
  --format F          npy, csv or tsv: the shards of the ndshard rows (default npy)
  --repeat N          runs per strategy; the median and the range are shown (default 5)
  --no-sync           no fsync: ndshard's save_options::sync = false, and no strategy fsyncs
                      (default: every save fsyncs its files, as ndshard::save does by default)
  --cold              before each load, fsync the files and drop them from the page cache
                      (posix_fadvise DONTNEED, checked with mincore: a file that keeps pages is
                      reported): loads read the device, as they must for files larger than
                      memory. Use a disk, not /dev/shm (bench/disk.sh does, with --repeat 7).
                      On a VM, cold loads are dominated by first touches of fresh memory (the
                      destination and the page cache), whose cost varies up to 10x with what
                      the host still backs: compare medians over several shuffled rounds, never
                      single runs. Adds a raw O_DIRECT row (through a 4 MiB aligned bounce
                      buffer) to show whether bypassing the page cache pays on this storage.
                      Measured (ext4 on virtio, 240 MB, 2 threads, medians of 7): O_DIRECT save
                      1.16x buffered pwrite+fsync but 0.97x without fsync; O_DIRECT load 0.66-0.78x
                      buffered cold pread (no readahead). It does not win, so ndshard keeps
                      buffered I/O. In VMs that report free memory to the host (virtio-balloon),
                      cold runs also pay host faults on fresh memory: expect noise.
  --python PATH       python3 with numpy for the numpy peer (default /usr/bin/python3)
  --no-peers          skip numpy
  --no-text           leave out the text rows (tab-separated shortest round-trip text: one
                      thread, tsv shards, one file by every thread)
  --help
)";

// ---- options --------------------------------------------------------------------------------

struct config {
    std::vector<std::size_t> rows{1000000};
    std::size_t cols = 10;
    std::string dtype = "f8";
    std::vector<std::size_t> threads{0};
    fs::path dir;
    std::string format = "npy";
    std::size_t repeat = 5;
    bool sync = true;
    bool cold = false;
    bool peers = true;
    bool text = true;  ///< with --format npy, also the text rows (--no-text leaves them out)
    std::string python = "/usr/bin/python3";
};

std::size_t parse_count(const std::string& flag, const std::string& s) {
    std::size_t used = 0;
    unsigned long long v = 0;
    try {
        v = std::stoull(s, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != s.size() || s.empty() || s[0] == '-')
        usage_error(flag + " expects a non-negative integer, found '" + s + "'");
    return static_cast<std::size_t>(v);
}

std::vector<std::size_t> parse_list(const std::string& flag, const std::string& s) {
    std::vector<std::size_t> out;
    std::size_t start = 0;
    for (;;) {
        const std::size_t comma = s.find(',', start);
        out.push_back(parse_count(flag, s.substr(start, comma - start)));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

fs::path default_dir() {
    std::error_code ec;
    if (fs::is_directory("/dev/shm", ec)) return "/dev/shm/ndshard_bench";
    return fs::temp_directory_path() / "ndshard_bench";
}

config parse_args(int argc, char** argv) {
    config c;
    c.dir = default_dir();
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage_error(a + " needs a value");
            return argv[++i];
        };
        if (a == "--help" || a == "-h") {
            std::fputs(help_text, stdout);
            std::exit(0);
        } else if (a == "--rows") {
            c.rows = parse_list(a, value());
        } else if (a == "--cols") {
            c.cols = parse_count(a, value());
        } else if (a == "--dtype") {
            c.dtype = value();
        } else if (a == "--threads") {
            c.threads = parse_list(a, value());
        } else if (a == "--dir") {
            c.dir = value();
        } else if (a == "--format") {
            c.format = value();
        } else if (a == "--repeat") {
            c.repeat = std::max<std::size_t>(1, parse_count(a, value()));
        } else if (a == "--no-sync") {
            c.sync = false;
        } else if (a == "--cold") {
            c.cold = true;
        } else if (a == "--python") {
            c.python = value();
        } else if (a == "--no-peers") {
            c.peers = false;
        } else if (a == "--no-text") {
            c.text = false;
        } else {
            usage_error("unknown option '" + a + "'");
        }
    }
    if (c.format != "npy" && c.format != "csv" && c.format != "tsv")
        usage_error("--format expects npy, csv or tsv, found '" + c.format + "'");
    return c;
}

// ---- memory ---------------------------------------------------------------------------------

/// Peak resident memory of this process, reset before each measured call (clear_refs "5" sets
/// VmHWM back to VmRSS). Resident memory counts what was touched: an untouched allocation is free.
class memory_probe {
  public:
    /// False when the kernel refuses the reset; the memory column then says "n/a".
    bool reset() {
        std::ofstream f("/proc/self/clear_refs");
        f << "5";
        f.flush();
        ok_ = static_cast<bool>(f);
        before_ = kib("VmRSS");
        return ok_;
    }
    /// Bytes of peak beyond the resident size at reset, or -1 when unknown.
    [[nodiscard]] double extra_bytes() const {
        if (!ok_) return -1;
        return (static_cast<double>(kib("VmHWM")) - static_cast<double>(before_)) * 1024.0;
    }

  private:
    static std::uint64_t kib(const char* key) {
        std::ifstream f("/proc/self/status");
        std::string line;
        const std::size_t n = std::strlen(key);
        while (std::getline(f, line)) {
            if (line.compare(0, n, key) == 0 && line.size() > n && line[n] == ':')
                return std::strtoull(line.c_str() + n + 1, nullptr, 10);
        }
        return 0;
    }
    bool ok_ = false;
    std::uint64_t before_ = 0;
};

// ---- strategies -----------------------------------------------------------------------------

/// One measured call: seconds and peak memory beyond the array (-1: unknown); `error` when the
/// call failed or gave wrong data.
struct sample {
    double seconds = 0;
    double cpu_seconds = 0;  ///< user + system time of every thread: immune to a busy machine
    double extra_bytes = -1;
    std::string error;
};

/// What a strategy gets: the array's bytes, its own empty directory, the thread count.
struct context {
    const void* data = nullptr;
    std::size_t bytes = 0;
    fs::path dir;
    std::size_t threads = 1;
    bool sync = true;
};

/// What a load returns: the memory it filled, kept alive until it has been measured and checked.
struct loaded {
    std::shared_ptr<const void> keep;
    const void* data = nullptr;
    std::size_t bytes = 0;
};

/// A row of the table. In-process strategies are two lambdas; `timed_save` / `timed_load` add
/// the timing, the memory probe and the check, so a new strategy is a few lines.
struct strategy {
    std::string name;
    std::function<sample(const context&)> save;
    std::function<sample(const context&, bool check)> load;
    bool baseline = false;
};

/// CPU seconds (user + system) this process has used, all threads included.
double cpu_now() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

template <class F>
std::function<sample(const context&)> timed_save(F fn) {
    return [fn](const context& c) {
        memory_probe mem;
        mem.reset();
        const double cpu0 = cpu_now();
        const auto t0 = clock_type::now();
        fn(c);
        sample s;
        s.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
        s.cpu_seconds = cpu_now() - cpu0;
        s.extra_bytes = mem.extra_bytes();
        return s;
    };
}

template <class F>
std::function<sample(const context&, bool)> timed_load(F fn) {
    return [fn](const context& c, bool check) {
        memory_probe mem;
        mem.reset();
        const double cpu0 = cpu_now();
        const auto t0 = clock_type::now();
        loaded r = fn(c);
        sample s;
        s.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
        s.cpu_seconds = cpu_now() - cpu0;
        s.extra_bytes = mem.extra_bytes();
        if (s.extra_bytes >= 0)
            s.extra_bytes = std::max(0.0, s.extra_bytes - static_cast<double>(r.bytes));
        if (check && (r.bytes != c.bytes || std::memcmp(r.data, c.data, c.bytes) != 0))
            s.error = "loaded data differ from the array";
        return s;
    };
}

/// A fresh buffer whose pages are not touched yet (new char[] does not initialise), like the
/// destination a real load must fill.
loaded fresh_buffer(std::size_t bytes) {
    std::shared_ptr<char[]> p(new char[std::max<std::size_t>(1, bytes)]);
    loaded r;
    r.data = p.get();
    r.bytes = bytes;
    r.keep = std::shared_ptr<const void>(p, p.get());
    return r;
}

/// Runs fn(i) on `n` std::threads, one per block, and joins them (rethrowing the first error).
template <class F>
void on_threads(std::size_t n, F&& fn) {
    std::vector<std::thread> pool;
    std::vector<std::exception_ptr> errors(n);
    for (std::size_t i = 0; i < n; ++i) {
        pool.emplace_back([&, i] {
            try {
                fn(i);
            } catch (...) {
                errors[i] = std::current_exception();
            }
        });
    }
    for (auto& t : pool)
        t.join();
    for (auto& e : errors)
        if (e) std::rethrow_exception(e);
}

/// Byte range of block i of n, split at element boundaries.
std::pair<std::size_t, std::size_t> block(const context& c, std::size_t elem, std::size_t i,
                                          std::size_t n) {
    const std::size_t elems = c.bytes / elem;
    const std::size_t first = elems / n * i + std::min(i, elems % n);
    const std::size_t last = first + elems / n + (i < elems % n ? 1 : 0);
    return {first * elem, last * elem};
}

int open_or_throw(const fs::path& p, int flags) {
    const int fd = ::open(p.c_str(), flags | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("cannot open " + p.string() + ": " + std::strerror(errno));
    return fd;
}

/// The baseline's own loop: plain pread / pwrite until done, nothing of ndshard.
template <class Byte, class Op>
void raw_io(Op op, const char* name, int fd, Byte* p, std::size_t n, std::size_t offset) {
    while (n > 0) {
        const ssize_t r = op(fd, p, n, static_cast<off_t>(offset));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) throw std::runtime_error(std::string(name) + ": " + std::strerror(errno));
        p += r;
        n -= static_cast<std::size_t>(r);
        offset += static_cast<std::size_t>(r);
    }
}
void raw_write(int fd, const char* p, std::size_t n, std::size_t offset) {
    raw_io(::pwrite, "pwrite", fd, p, n, offset);
}
void raw_read(int fd, char* p, std::size_t n, std::size_t offset) {
    raw_io(::pread, "pread", fd, p, n, offset);
}

/// fsync of a file written through a stream (which cannot sync).
void fsync_path(const fs::path& p) {
    const int fd = open_or_throw(p, O_RDONLY);
    ::fsync(fd);
    ::close(fd);
}

std::string part(std::size_t i) {
    return "block-" + std::to_string(i) + ".bin";
}

/// How a raw row moves its bytes.
enum class raw_mode {
    files,     ///< one file per thread (the baseline)
    huge,      ///< the same, loading into memory advised to use huge pages (fewer page faults)
    one_file,  ///< every thread at its offset in one shared file
    direct,    ///< one file per thread with O_DIRECT, bypassing the page cache
};

/// A buffer of `bytes` not touched yet; 4 KiB-aligned for O_DIRECT, 2 MiB-aligned and advised
/// MADV_HUGEPAGE for `huge`.
std::shared_ptr<char> raw_buffer(std::size_t bytes, raw_mode mode) {
    const std::size_t align = mode == raw_mode::huge ? std::size_t{2} << 20 : 4096;
    const std::size_t size = (bytes + align - 1) / align * align + align;
    void* m = nullptr;
    if (::posix_memalign(&m, align, size) != 0) throw std::bad_alloc();
    if (mode == raw_mode::huge) ::madvise(m, size, MADV_HUGEPAGE);
    return std::shared_ptr<char>(static_cast<char*>(m), &std::free);
}

/// O_DIRECT needs 4 KiB-aligned memory, offsets and lengths, which a row block rarely has: bytes
/// go through one aligned 4 MiB bounce buffer (a memcpy costs little next to a device), the last
/// piece padded on write and the file then cut to its length.
constexpr std::size_t direct_piece = std::size_t{4} << 20;

void direct_write(int fd, const char* p, std::size_t n) {
    const auto bounce = raw_buffer(direct_piece, raw_mode::direct);
    for (std::size_t off = 0; off < n; off += direct_piece) {
        const std::size_t k = std::min(direct_piece, n - off);
        const std::size_t padded = (k + 4095) / 4096 * 4096;
        std::memcpy(bounce.get(), p + off, k);
        std::memset(bounce.get() + k, 0, padded - k);
        raw_write(fd, bounce.get(), padded, off);
    }
    if (::ftruncate(fd, static_cast<off_t>(n)) != 0) throw std::runtime_error("ftruncate failed");
}

void direct_read(int fd, char* p, std::size_t n) {
    const auto bounce = raw_buffer(direct_piece, raw_mode::direct);
    for (std::size_t off = 0; off < n; off += direct_piece) {
        const std::size_t k = std::min(direct_piece, n - off);
        const std::size_t padded = (k + 4095) / 4096 * 4096;
        std::size_t got = 0;
        while (got < k) {  // the file ends inside the last padded piece: a short read there
            const ssize_t r =
                ::pread(fd, bounce.get() + got, padded - got, static_cast<off_t>(off + got));
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0)
                throw std::runtime_error(std::string("O_DIRECT pread: ") + std::strerror(errno));
            got += static_cast<std::size_t>(r);
        }
        std::memcpy(p + off, bounce.get(), k);
    }
}

/// Raw parallel pwrite / pread of the array's bytes: one thread per block, one system call loop
/// each, nothing of ndshard.
strategy raw_strategy(std::size_t elem, raw_mode mode) {
    strategy s;
    s.name = mode == raw_mode::files      ? "raw pwrite/pread"
             : mode == raw_mode::huge     ? "raw, huge-page destination"
             : mode == raw_mode::one_file ? "raw, one shared file"
                                          : "raw, O_DIRECT";
    s.baseline = mode == raw_mode::files;
    const bool direct = mode == raw_mode::direct, shared = mode == raw_mode::one_file;
    s.save = timed_save([elem, direct, shared](const context& c) {
        int shared_fd = shared ? open_or_throw(c.dir / part(0), O_WRONLY | O_CREAT | O_TRUNC) : -1;
        on_threads(c.threads, [&](std::size_t i) {
            const auto [b, e] = block(c, elem, i, c.threads);
            const char* p = static_cast<const char*>(c.data) + b;
            const std::size_t n = e - b;
            if (shared) {
                raw_write(shared_fd, p, n, b);
                return;
            }
            const int fd = open_or_throw(c.dir / part(i),
                                         O_WRONLY | O_CREAT | O_TRUNC | (direct ? O_DIRECT : 0));
            if (direct) {
                direct_write(fd, p, n);
            } else {
                raw_write(fd, p, n, 0);
            }
            if (c.sync) ::fsync(fd);
            ::close(fd);
        });
        if (shared) {
            if (c.sync) ::fsync(shared_fd);
            ::close(shared_fd);
        }
    });
    s.load = timed_load([elem, mode, direct, shared](const context& c) {
        std::shared_ptr<char> buf = raw_buffer(c.bytes, mode);
        int shared_fd = shared ? open_or_throw(c.dir / part(0), O_RDONLY) : -1;
        on_threads(c.threads, [&](std::size_t i) {
            const auto [b, e] = block(c, elem, i, c.threads);
            if (shared) {
                raw_read(shared_fd, buf.get() + b, e - b, b);
                return;
            }
            const int fd = open_or_throw(c.dir / part(i), O_RDONLY | (direct ? O_DIRECT : 0));
            if (direct) {
                direct_read(fd, buf.get() + b, e - b);
            } else {
                raw_read(fd, buf.get() + b, e - b, 0);
            }
            ::close(fd);
        });
        if (shared) ::close(shared_fd);
        loaded r;
        r.data = buf.get();
        r.bytes = c.bytes;
        r.keep = std::shared_ptr<const void>(buf, buf.get());
        return r;
    });
    return s;
}

/// What most C++ code does: one std::ofstream of the whole array, and std::ifstream back.
strategy one_stream_strategy() {
    strategy s;
    s.name = "one thread, one file (fstream)";
    s.save = timed_save([](const context& c) {
        {
            std::ofstream f(c.dir / "array.bin", std::ios::binary);
            f.write(static_cast<const char*>(c.data), static_cast<std::streamsize>(c.bytes));
            if (!f) throw std::runtime_error("ofstream write failed");
        }
        if (c.sync) fsync_path(c.dir / "array.bin");
    });
    s.load = timed_load([](const context& c) {
        loaded r = fresh_buffer(c.bytes);
        std::ifstream f(c.dir / "array.bin", std::ios::binary);
        f.read(static_cast<char*>(const_cast<void*>(r.data)),
               static_cast<std::streamsize>(c.bytes));
        if (!f) throw std::runtime_error("ifstream read failed");
        return r;
    });
    return s;
}

/// The classic recipe: one std::thread per row block, each with its own fstream file.
strategy thread_per_block_strategy(std::size_t elem) {
    strategy s;
    s.name = "std::thread per block (fstream)";
    s.save = timed_save([elem](const context& c) {
        on_threads(c.threads, [&](std::size_t i) {
            const auto [b, e] = block(c, elem, i, c.threads);
            {
                std::ofstream f(c.dir / part(i), std::ios::binary);
                f.write(static_cast<const char*>(c.data) + b, static_cast<std::streamsize>(e - b));
                if (!f) throw std::runtime_error("ofstream write failed");
            }
            if (c.sync) fsync_path(c.dir / part(i));
        });
    });
    s.load = timed_load([elem](const context& c) {
        loaded r = fresh_buffer(c.bytes);
        on_threads(c.threads, [&](std::size_t i) {
            const auto [b, e] = block(c, elem, i, c.threads);
            std::ifstream f(c.dir / part(i), std::ios::binary);
            f.read(static_cast<char*>(const_cast<void*>(r.data)) + b,
                   static_cast<std::streamsize>(e - b));
            if (!f) throw std::runtime_error("ifstream read failed");
        });
        return r;
    });
    return s;
}

template <class A>
loaded keep_array(A&& a) {
    using array = std::decay_t<A>;
    auto p = std::make_shared<array>(std::forward<A>(a));
    loaded r;
    r.data = p->data();
    r.bytes = p->size() * sizeof(typename array::value_type);
    r.keep = p;
    return r;
}

/// The array's bytes seen as an xtensor adaptor: ndshard saves it in place (zero copy).
template <class T>
auto as_array(const context& c, std::size_t cols) {
    const std::size_t n = c.bytes / sizeof(T);
    std::vector<std::size_t> shape{cols == 0 ? 0 : n / cols, cols};
    return xt::adapt(static_cast<const T*>(c.data), n, xt::no_ownership(), shape);
}

/// ndshard::save / ndshard::load; `verify = false` shows what checking the checksums costs.
template <class T>
strategy ndshard_shards_strategy(std::size_t cols, ndshard::shard_format format,
                                 bool verify = true) {
    strategy s;
    s.name = std::string("ndshard shards (save/load, ") + ndshard::to_string(format) + ")";
    if (!verify) s.name = "ndshard shards, load verify=false";
    s.save = timed_save([cols, format](const context& c) {
        ndshard::save_options o;
        o.format = format;
        o.threads = c.threads;
        o.sync = c.sync;
        (void)ndshard::save(c.dir / "data.nds", as_array<T>(c, cols), o);
    });
    s.load = timed_load([verify](const context& c) {
        ndshard::load_options o;
        o.threads = c.threads;
        o.verify = verify;
        return keep_array(ndshard::load<T>(c.dir / "data.nds", o));
    });
    return s;
}

template <class T>
strategy ndshard_npy_file_strategy(std::size_t cols) {
    strategy s;
    s.name = "ndshard one file (write/read_npy)";
    s.save = timed_save([cols](const context& c) {
        ndshard::write_npy(c.dir / "array.npy", as_array<T>(c, cols),
                           ndshard::npy_write_options{c.threads, c.sync});
    });
    s.load = timed_load([](const context& c) {
        return keep_array(ndshard::read_npy<T>(c.dir / "array.npy", c.threads));
    });
    return s;
}

/// One text file (tab-separated, shortest round-trip) written and read by `threads` threads, or
/// by one thread when `one_thread`: the text counterpart of the rows above.
template <class T>
strategy ndshard_text_file_strategy(std::size_t cols, bool one_thread) {
    strategy s;
    s.name =
        one_thread ? "text, one thread (write/read_text)" : "ndshard text file (write/read_text)";
    s.save = timed_save([cols, one_thread](const context& c) {
        ndshard::text_write_options o;
        o.threads = one_thread ? 1 : c.threads;
        ndshard::write_text(c.dir / "array.tsv", as_array<T>(c, cols), o);
        if (c.sync) fsync_path(c.dir / "array.tsv");
    });
    s.load = timed_load([one_thread](const context& c) {
        ndshard::text_read_options o;
        o.delimiter = '\t';
        o.threads = one_thread ? 1 : c.threads;
        return keep_array(ndshard::read_text<T>(c.dir / "array.tsv", o));
    });
    return s;
}

// ---- the numpy peer -------------------------------------------------------------------------

/// numpy in a python3 process started once (bench/numpy_peer.py), driven line by line so its runs
/// interleave with ours.
class numpy_peer {
  public:
    /// Starts the peer on `input` (the array as .npy); `note` says why when it cannot.
    bool start(const std::string& python, const fs::path& script, const fs::path& input,
               std::string& note) {
        std::error_code ec;
        if (!fs::exists(python, ec)) {
            note = python + " not found";
            return false;
        }
        if (!fs::exists(script, ec)) {
            note = script.string() + " not found";
            return false;
        }
        int to_child[2], from_child[2];
        if (::pipe(to_child) != 0 || ::pipe(from_child) != 0) {
            note = "pipe failed";
            return false;
        }
        pid_ = ::fork();
        if (pid_ == 0) {
            ::dup2(to_child[0], 0);
            ::dup2(from_child[1], 1);
            ::close(to_child[1]);
            ::close(from_child[0]);
            ::execl(python.c_str(), python.c_str(), script.c_str(), input.c_str(),
                    static_cast<char*>(nullptr));
            std::printf("unavailable: cannot run %s\n", python.c_str());
            std::fflush(stdout);
            ::_exit(127);
        }
        ::close(to_child[0]);
        ::close(from_child[1]);
        in_ = ::fdopen(to_child[1], "w");
        out_ = ::fdopen(from_child[0], "r");
        const std::string first = line();
        if (first.rfind("ready", 0) != 0) {
            note = first.empty() ? "no answer from " + python : first;
            stop();
            return false;
        }
        version_ = first.substr(6);
        return true;
    }
    [[nodiscard]] const std::string& version() const { return version_; }

    sample call(const std::string& command) {
        sample s;
        if (!in_) {
            s.error = "peer not running";
            return s;
        }
        std::fprintf(in_, "%s\n", command.c_str());
        std::fflush(in_);
        const std::string answer = line();
        char ok[16] = {0};
        double extra = -1;
        if (std::sscanf(answer.c_str(), "%lf %lf %lf %15s", &s.seconds, &s.cpu_seconds, &extra,
                        ok) != 4) {
            s.error = "peer failed: " + answer;
        } else {
            s.extra_bytes = extra;
            if (std::strcmp(ok, "ok") != 0) s.error = "numpy loaded different data";
        }
        return s;
    }

    void stop() {
        if (in_) {
            std::fprintf(in_, "quit\n");
            std::fclose(in_);
            in_ = nullptr;
        }
        if (out_) {
            std::fclose(out_);
            out_ = nullptr;
        }
        if (pid_ > 0) {
            int status = 0;
            ::waitpid(pid_, &status, 0);
            pid_ = -1;
        }
    }
    ~numpy_peer() { stop(); }

  private:
    std::string line() {
        char* buf = nullptr;
        std::size_t cap = 0;
        const ssize_t n = ::getline(&buf, &cap, out_);
        std::string s = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
        std::free(buf);
        while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
            s.pop_back();
        return s;
    }
    pid_t pid_ = -1;
    std::FILE* in_ = nullptr;
    std::FILE* out_ = nullptr;
    std::string version_;
};

strategy numpy_strategy(numpy_peer& peer, const std::string& format) {
    strategy s;
    const bool text = format != "npy";
    s.name = text ? "numpy.savetxt/loadtxt (python3)" : "numpy.save/load (python3)";
    const std::string file = "array." + format;
    s.save = [&peer, text, file](const context& c) {
        return peer.call(std::string(text ? "savetxt " : "save ") + (c.dir / file).string() +
                         (c.sync ? " 1" : " 0"));
    };
    s.load = [&peer, text, file](const context& c, bool) {
        return peer.call(std::string(text ? "loadtxt " : "load ") + (c.dir / file).string());
    };
    return s;
}

// ---- running and reporting ------------------------------------------------------------------

/// "[3/12] ndshard shards save…" on stderr, at most once a second, and only once the run has
/// lasted a second: short runs stay quiet.
class progress {
  public:
    explicit progress(std::size_t total) : total_(total), tty_(::isatty(2) != 0) {}
    void step(const std::string& what) {
        ++done_;
        const auto now = clock_type::now();
        if (now - start_ < std::chrono::seconds(1) || now - last_ < std::chrono::seconds(1)) return;
        last_ = now;
        shown_ = true;
        std::fprintf(stderr, tty_ ? "\r\033[K[%zu/%zu] %s…" : "[%zu/%zu] %s…\n", done_, total_,
                     what.c_str());
        std::fflush(stderr);
    }
    void finish() {
        if (shown_ && tty_) std::fprintf(stderr, "\r\033[K");
    }

  private:
    std::size_t total_, done_ = 0;
    bool tty_;
    bool shown_ = false;
    clock_type::time_point start_ = clock_type::now(), last_{};
};

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

struct result_row {
    std::string name;
    bool baseline = false;
    std::vector<double> seconds[2], cpu[2], extra[2];  // [0] save, [1] load
    std::string error[2];
};

struct run_result {
    std::size_t rows = 0, threads = 0;
    std::uint64_t max_resident = 0;  ///< --cold: most bytes left in the page cache after a drop
    std::vector<result_row> table;
};

void remove_contents(const fs::path& dir) {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        fs::remove_all(it->path(), ec);
}

/// Drops the files under `dir` from the page cache (after writing them back), so the next read
/// comes from the device.
void drop_cache(const fs::path& dir) {
    std::error_code ec;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (!it->is_regular_file(ec)) continue;
        const int fd = ::open(it->path().c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ::fdatasync(fd);
        ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        ::close(fd);
    }
}

/// Bytes of the files under `dir` still in the page cache (mincore of a map of each file).
std::uint64_t resident_bytes(const fs::path& dir) {
    std::uint64_t total = 0;
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    std::error_code ec;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (!it->is_regular_file(ec)) continue;
        const int fd = ::open(it->path().c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        struct stat st {};
        if (::fstat(fd, &st) == 0 && st.st_size > 0) {
            const auto n = static_cast<std::size_t>(st.st_size);
            void* m = ::mmap(nullptr, n, PROT_READ, MAP_SHARED, fd, 0);
            if (m != MAP_FAILED) {
                std::vector<unsigned char> v((n + page - 1) / page);
                if (::mincore(m, n, v.data()) == 0)
                    for (unsigned char c : v)
                        total += (c & 1) ? page : 0;
                ::munmap(m, n);
            }
        }
        ::close(fd);
    }
    return total;
}

std::string fmt(const char* f, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

void print_table(const run_result& r, const std::string& what, std::size_t bytes,
                 const std::string& dir_note) {
    std::printf("\n%s, %zu thread%s, %s\n", what.c_str(), r.threads, r.threads == 1 ? "" : "s",
                dir_note.c_str());
    if (r.max_resident > 0)
        std::printf(
            "warning: up to %.1f MiB of a run's files stayed in the page cache after the "
            "drop: those loads were not all cold\n",
            static_cast<double>(r.max_resident) / 1048576.0);
    for (int op = 0; op < 2; ++op) {
        double base = 0;
        for (const auto& row : r.table)
            if (row.baseline && row.error[op].empty()) base = median(row.seconds[op]);
        std::printf("%-36s %9s %15s %7s %8s %9s %10s\n", op == 0 ? "save" : "load", "seconds",
                    "min-max", "MB/s", "vs raw", "CPU s", "extra MiB");
        for (const auto& row : r.table) {
            if (!row.error[op].empty()) {
                std::printf("  %-34s %s\n", row.name.c_str(), row.error[op].c_str());
                continue;
            }
            const double s = median(row.seconds[op]);
            const double mem = median(row.extra[op]);
            const auto range = std::minmax_element(row.seconds[op].begin(), row.seconds[op].end());
            const std::string spread = fmt("%.3f", *range.first) + "-" + fmt("%.3f", *range.second);
            std::printf("  %-34s %9.4f %15s %7.0f %7.2fx %9.4f %10s\n", row.name.c_str(), s,
                        spread.c_str(), static_cast<double>(bytes) / s / 1e6,
                        base > 0 ? base / s : 0.0, median(row.cpu[op]),
                        mem < 0 ? "n/a" : fmt("%.1f", mem / 1048576.0).c_str());
        }
    }
}

void print_scaling(const std::vector<run_result>& runs) {
    std::printf(
        "\nscaling: median seconds (in brackets, relative to the first --rows value at the "
        "same thread count)\n");
    std::printf("%-36s %12s %8s %20s %20s\n", "strategy", "rows", "threads", "save", "load");
    const std::size_t n = runs.front().table.size();
    for (std::size_t k = 0; k < n; ++k) {
        bool first_line = true;
        for (const auto& r : runs) {
            const run_result* ref = nullptr;
            for (const auto& q : runs)
                if (q.threads == r.threads && !ref) ref = &q;
            std::string cell[2];
            for (int op = 0; op < 2; ++op) {
                const auto& row = r.table[k];
                if (!row.error[op].empty()) {
                    cell[op] = "error";
                    continue;
                }
                const double s = median(row.seconds[op]);
                cell[op] = fmt("%.4f", s);
                const auto& rr = ref->table[k];
                if (ref != &r && rr.error[op].empty())
                    cell[op] += fmt(" (%.1fx)", s / median(rr.seconds[op]));
            }
            std::printf("%-36s %12zu %8zu %20s %20s\n", first_line ? r.table[k].name.c_str() : "",
                        r.rows, r.threads, cell[0].c_str(), cell[1].c_str());
            first_line = false;
        }
    }
}

/// Fills `a` with the reference data (floats uniform in [0, 1), integers over their range), one
/// seeded generator per block so it is fast and the same for any thread count.
template <class T>
void generate(T* a, std::size_t n) {
    const std::size_t blocks = 64;
    const std::size_t threads = std::min<std::size_t>(ndshard::default_threads(), blocks);
    std::atomic<std::size_t> next{0};
    on_threads(threads, [&](std::size_t) {
        for (std::size_t b; (b = next.fetch_add(1)) < blocks;) {
            std::mt19937_64 rng(12345 + b);
            const std::size_t first = n / blocks * b + std::min(b, n % blocks);
            const std::size_t last = first + n / blocks + (b < n % blocks ? 1 : 0);
            if constexpr (std::is_floating_point_v<T>) {
                std::uniform_real_distribution<T> d(0, 1);
                for (std::size_t i = first; i < last; ++i)
                    a[i] = d(rng);
            } else if constexpr (std::is_same_v<T, bool>) {
                for (std::size_t i = first; i < last; ++i)
                    a[i] = (rng() & 1) != 0;
            } else {
                for (std::size_t i = first; i < last; ++i)
                    a[i] = static_cast<T>(rng());
            }
        }
    });
}

#ifndef NDSHARD_NUMPY_PEER
#define NDSHARD_NUMPY_PEER "bench/numpy_peer.py"
#endif

template <class T>
int run(const config& cfg, const fs::path& work) {
    const std::size_t elem = sizeof(T);
    const ndshard::shard_format format = cfg.format == "csv"   ? ndshard::shard_format::csv
                                         : cfg.format == "tsv" ? ndshard::shard_format::tsv
                                                               : ndshard::shard_format::npy;
    std::vector<strategy> strategies;
    strategies.push_back(raw_strategy(elem, raw_mode::files));
    strategies.push_back(raw_strategy(elem, raw_mode::huge));
    strategies.push_back(raw_strategy(elem, raw_mode::one_file));
    if (cfg.cold) strategies.push_back(raw_strategy(elem, raw_mode::direct));
    if (format == ndshard::shard_format::npy) {
        strategies.push_back(one_stream_strategy());
        strategies.push_back(thread_per_block_strategy(elem));
        strategies.push_back(ndshard_shards_strategy<T>(cfg.cols, format));
        strategies.push_back(ndshard_shards_strategy<T>(cfg.cols, format, false));
        strategies.push_back(ndshard_npy_file_strategy<T>(cfg.cols));
        if (cfg.text) {
            strategies.push_back(ndshard_text_file_strategy<T>(cfg.cols, true));
            strategies.push_back(ndshard_shards_strategy<T>(cfg.cols, ndshard::shard_format::tsv));
            strategies.push_back(ndshard_text_file_strategy<T>(cfg.cols, false));
        }
    } else {
        // text shards only: the raw rows stay as the binary yardstick
        strategies.push_back(ndshard_shards_strategy<T>(cfg.cols, format));
    }

    std::vector<run_result> runs;
    std::size_t total = 0;
    for (std::size_t rows : cfg.rows) {
        (void)rows;
        total += cfg.threads.size() * cfg.repeat * (strategies.size() + (cfg.peers ? 1 : 0)) * 2;
    }
    progress prog(total);
    const std::string dir_note = cfg.dir.string() + (cfg.sync ? ", fsync on" : ", no fsync") +
                                 (cfg.cold ? ", cold loads" : "");

    for (std::size_t rows : cfg.rows) {
        std::uint64_t n64 = 0;
        if (!ndshard::detail::checked_mul(rows, cfg.cols, n64) || n64 > SIZE_MAX / elem)
            usage_error("--rows x --cols overflows");
        const auto n = static_cast<std::size_t>(n64);
        xt::xarray<T> a = ndshard::detail::allocate_array<T>({rows, cfg.cols});
        generate(a.data(), n);
        const std::size_t bytes = n * elem;

        std::vector<strategy> all = strategies;
        numpy_peer peer;
        std::string note;
        if (cfg.peers) {
            const fs::path input = work / "peer_input.npy";
            ndshard::write_npy(input, a);
            if (peer.start(cfg.python, NDSHARD_NUMPY_PEER, input, note))
                all.push_back(numpy_strategy(peer, cfg.format));
            fs::remove(input);
            if (!note.empty())
                std::fprintf(stderr, "ndshard_bench: numpy peer skipped: %s\n", note.c_str());
        }
        if (cfg.peers && note.empty() && rows == cfg.rows.front())
            std::fprintf(stderr, "ndshard_bench: numpy peer: %s\n", peer.version().c_str());

        for (std::size_t threads_flag : cfg.threads) {
            run_result r;
            r.rows = rows;
            r.threads = threads_flag == 0 ? ndshard::default_threads() : threads_flag;
            r.table.resize(all.size());
            for (std::size_t k = 0; k < all.size(); ++k) {
                r.table[k].name = all[k].name;
                r.table[k].baseline = all[k].baseline;
            }
            context c;
            c.data = a.data();
            c.bytes = bytes;
            c.threads = r.threads;
            c.sync = cfg.sync;
            // interleaved: run 1 of every strategy, then run 2 of every strategy, ..., each round
            // in another order (the same for every invocation): a load's fresh memory costs what
            // the run before it left behind (on a VM, up to 10x), so no strategy may always
            // follow the same one
            std::vector<std::size_t> order(all.size());
            for (std::size_t rep = 0; rep < cfg.repeat; ++rep) {
                for (std::size_t k = 0; k < order.size(); ++k)
                    order[k] = k;
                std::mt19937 shuffle_rng(static_cast<unsigned>(rep));
                if (rep > 0) std::shuffle(order.begin(), order.end(), shuffle_rng);
                for (const std::size_t k : order) {
                    auto& row = r.table[k];
                    c.dir = work / ("s" + std::to_string(k));
                    fs::create_directories(c.dir);
                    remove_contents(c.dir);
                    prog.step(all[k].name + " save");
                    sample s;
                    if (row.error[0].empty()) {
                        try {
                            s = all[k].save(c);
                        } catch (const std::exception& e) {
                            s.error = e.what();
                        }
                        if (!s.error.empty()) row.error[0] = s.error;
                        row.seconds[0].push_back(s.seconds);
                        row.cpu[0].push_back(s.cpu_seconds);
                        row.extra[0].push_back(s.extra_bytes);
                    }
                    if (cfg.cold) {
                        drop_cache(c.dir);
                        r.max_resident = std::max(r.max_resident, resident_bytes(c.dir));
                    }
                    prog.step(all[k].name + " load");
                    if (row.error[0].empty() && row.error[1].empty()) {
                        try {
                            s = all[k].load(c, rep == 0);
                        } catch (const std::exception& e) {
                            s.error = e.what();
                        }
                        if (!s.error.empty()) row.error[1] = s.error;
                        row.seconds[1].push_back(s.seconds);
                        row.cpu[1].push_back(s.cpu_seconds);
                        row.extra[1].push_back(s.extra_bytes);
                    } else if (row.error[1].empty()) {
                        row.error[1] = "(no file: save failed)";
                    }
                    remove_contents(c.dir);
                }
            }
            runs.push_back(std::move(r));
        }
        peer.stop();
        for (std::size_t i = runs.size() - cfg.threads.size(); i < runs.size(); ++i) {
            const std::string what = std::to_string(rows) + " x " + std::to_string(cfg.cols) + " " +
                                     ndshard::descr_of<T>() + " (" +
                                     fmt("%.1f", static_cast<double>(bytes) / 1e6) + " MB), " +
                                     cfg.format + ", median and range of " +
                                     std::to_string(cfg.repeat) + " shuffled rounds";
            if (i == runs.size() - cfg.threads.size()) prog.finish();
            print_table(runs[i], what, bytes, dir_note);
        }
        std::fflush(stdout);
    }
    prog.finish();
    if (runs.size() > 1) print_scaling(runs);
    return 0;
}

template <class... T>
struct type_list {};

using dtypes = type_list<double, float, std::int64_t, std::int32_t, std::int16_t, std::int8_t,
                         std::uint64_t, std::uint32_t, std::uint16_t, std::uint8_t, bool>;

/// Calls run<T> for the T whose numpy descr ("f8", "<f8", "|u1", ...) is `name`.
template <class... T>
int dispatch(type_list<T...>, const std::string& name, const config& cfg, const fs::path& work) {
    int rc = -1;
    auto try_one = [&](auto tag) {
        using U = typename decltype(tag)::type;
        const std::string d = ndshard::descr_of<U>();  // "<f8"
        if (rc == -1 && (name == d || name == d.substr(1))) rc = run<U>(cfg, work);
    };
    (try_one(std::common_type<T>{}), ...);
    return rc;
}

}  // namespace

int main(int argc, char** argv) {
    const config cfg = parse_args(argc, argv);
    // every large allocation its own mapping, returned to the system when freed: each load
    // really gets fresh memory (as a new process would), and the peak-memory column is exact
    ::mallopt(M_MMAP_THRESHOLD, 1 << 20);
    ::mallopt(M_TRIM_THRESHOLD, 1 << 20);

    const fs::path work = cfg.dir / ("run-" + std::to_string(::getpid()));
    std::error_code ec;
    fs::create_directories(work, ec);
    if (ec) usage_error("cannot create " + work.string() + ": " + ec.message());
    int rc = 0;
    try {
        rc = dispatch(dtypes{}, cfg.dtype, cfg, work);
        if (rc == -1) {
            fs::remove_all(work, ec);
            usage_error("--dtype expects f8 f4 i8 i4 i2 i1 u8 u4 u2 u1 b1, found '" + cfg.dtype +
                        "'");
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ndshard_bench: %s\n", e.what());
        rc = 1;
    }
    fs::remove_all(work, ec);
    fs::remove(cfg.dir, ec);  // only if empty: another run may be using it
    return rc;
}
