// ndshard_zarr_bench — ndshard::zarr against zarr-python through dask, and against the hardware's
// raw parallel pwrite / pread, on three arrays (--rows x --cols):
//
//   ref     float64 uniform in [0, 1)           (the reference array: barely compressible)
//   int100  int64 uniform in [0, 100)           (compressible: 7 bits of 64 carry information)
//   round2  float64 uniform, rounded to 2 decimals (compressible: 100 distinct values)
//
// and the four codecs of ndshard::zarr (none, zstd level 1, blosc lz4 and blosc zstd at clevel 5
// with byte shuffle). For each array and codec it times ndshard::zarr::save (fsync on, like the
// library; --no-sync) and ndshard::zarr::load, zarr-python through dask with the same codec and
// the same chunks (bench/zarr_peer.py, started once per array and driven line by line, so its
// runs interleave with ndshard's), and raw pwrite / pread of the same bytes (one file per thread,
// reads into fresh memory, and again into memory advised MADV_HUGEPAGE, as ndshard's and numpy's
// arrays are). Every round runs every row once, in a new order each round; tables
// show medians and min-max over --reps rounds, MB/s of the array's raw bytes, MB/s per thread,
// CPU seconds, the store's size and compression ratio; then peer/ndshard ratios (ratio of
// medians, and in brackets the range of the per-round ratios), ndshard/raw, and where each codec
// pays: its break-even device speed.
//
// Before the clock, for each codec: the store ndshard wrote is opened by zarr-python and
// compared with the source, and the store zarr-python wrote is loaded by ndshard and compared.
// Every first-round load is compared with the source too.
#include <fcntl.h>
#include <malloc.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <ndshard/ndshard.hpp>
#include <ndshard/zarr.hpp>
#include <nlohmann/json.hpp>
#include <xtensor/xadapt.hpp>

#ifndef NDSHARD_ZARR_PEER
#define NDSHARD_ZARR_PEER "bench/zarr_peer.py"
#endif

namespace fs = std::filesystem;
namespace zarr = ndshard::zarr;

namespace {

using clock_type = std::chrono::steady_clock;

[[noreturn]] void usage_error(const std::string& what) {
    std::fprintf(stderr, "ndshard_zarr_bench: %s (try --help)\n", what.c_str());
    std::exit(2);
}

const char* const help_text = R"(usage: ndshard_zarr_bench [options]

Times ndshard::zarr save and load with each codec (none, zstd, blosc_lz4, blosc_zstd) against
zarr-python through dask (same codec, same chunks, dask's threaded scheduler with --threads
workers) and against raw parallel pwrite / pread of the same bytes, on three arrays: ref (float64
uniform in [0,1)), int100 (int64 uniform in [0,100)), round2 (float64 rounded to 2 decimals).

options:
  --rows N          rows of each array (default 1000000)
  --cols N          columns (default 10)
  --dir D           where the stores go; a private subdirectory is made and removed
                    (default /dev/shm/ndshard_zarr_bench). Use a disk to measure a disk.
  --reps R          rounds; every row runs once a round, in a new order (default 5)
  --threads T       threads of ndshard, of the raw rows and dask workers; 0 = every core
                    (default 0)
  --chunk-rows N    save_options::chunk_rows; 0 = the library's default, about 16 MiB of rows
                    (default 0). The peer gets the chunks ndshard's save reports.
  --no-sync         save_options::sync = false, and neither raw nor the peer fsyncs (default: all
                    fsync, as ndshard::zarr::save does by default)
  --cold            before each load, fdatasync the files and drop them from the page cache
                    (posix_fadvise DONTNEED; files that keep pages are reported): loads read
                    the device. Use a disk, not /dev/shm.
  --datasets LIST   comma-separated subset of ref,int100,round2 (default all)
  --codecs LIST     comma-separated subset of none,zstd,blosc_lz4,blosc_zstd (default all)
  --peer PATH       the peer script (default: the build's bench/zarr_peer.py)
  --peer-store K    directory (zarr.DirectoryStore, the faster, default) or fsspec (a plain path
                    string, which dask maps through fsspec)
  --python PATH     python3 with numpy, zarr and dask (default /usr/bin/python3)
  --no-peer         skip zarr-python
  --fresh-memory    make every allocation of 1 MiB or more its own mapping, returned to the
                    system when freed (as ndshard_bench does), in this process and in
                    zarr-python's (GLIBC_TUNABLES): every buffer is fresh memory each run, as in
                    a process's first call. By default glibc's malloc is left as it is: arrays
                    over 32 MiB (the loaded array, raw's buffer) are fresh mappings anyway, and
                    smaller buffers (chunks, codec contexts) are reused from one run to the next,
                    as in a long-running process. Fresh memory costs codecs much: c-blosc makes
                    a new zstd context (MBs of tables) per call.
  --help
)";

// ---- options --------------------------------------------------------------------------------

const std::vector<std::string> all_datasets{"ref", "int100", "round2"};
const std::vector<zarr::codec> all_codecs{zarr::codec::none, zarr::codec::zstd,
                                          zarr::codec::blosc_lz4, zarr::codec::blosc_zstd};

std::string codec_name(zarr::codec c) {
    switch (c) {
        case zarr::codec::none:
            return "none";
        case zarr::codec::zstd:
            return "zstd";
        case zarr::codec::blosc_lz4:
            return "blosc_lz4";
        case zarr::codec::blosc_zstd:
            return "blosc_zstd";
    }
    return "?";
}

struct config {
    std::size_t rows = 1000000, cols = 10, reps = 5, threads = 0, chunk_rows = 0;
    fs::path dir = "/dev/shm/ndshard_zarr_bench";
    bool sync = true, cold = false, peer = true, fresh_memory = false;
    std::vector<std::string> datasets = all_datasets;
    std::vector<zarr::codec> codecs = all_codecs;
    std::string peer_script = NDSHARD_ZARR_PEER, peer_store = "directory",
                python = "/usr/bin/python3";
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

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        const std::size_t comma = s.find(',', start);
        out.push_back(s.substr(start, comma - start));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

config parse_args(int argc, char** argv) {
    config c;
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
            c.rows = parse_count(a, value());
        } else if (a == "--cols") {
            c.cols = parse_count(a, value());
        } else if (a == "--dir") {
            c.dir = value();
        } else if (a == "--reps" || a == "--repeat") {
            c.reps = std::max<std::size_t>(1, parse_count(a, value()));
        } else if (a == "--threads") {
            c.threads = parse_count(a, value());
        } else if (a == "--chunk-rows") {
            c.chunk_rows = parse_count(a, value());
        } else if (a == "--no-sync") {
            c.sync = false;
        } else if (a == "--cold") {
            c.cold = true;
        } else if (a == "--datasets") {
            c.datasets = split(value());
            for (const auto& d : c.datasets)
                if (std::find(all_datasets.begin(), all_datasets.end(), d) == all_datasets.end())
                    usage_error("--datasets expects ref, int100 or round2, found '" + d + "'");
        } else if (a == "--codecs") {
            c.codecs.clear();
            for (const auto& n : split(value())) {
                bool found = false;
                for (zarr::codec k : all_codecs)
                    if (codec_name(k) == n) {
                        c.codecs.push_back(k);
                        found = true;
                    }
                if (!found)
                    usage_error("--codecs expects none, zstd, blosc_lz4 or blosc_zstd, found '" +
                                n + "'");
            }
        } else if (a == "--peer") {
            c.peer_script = value();
        } else if (a == "--peer-store") {
            c.peer_store = value();
            if (c.peer_store != "directory" && c.peer_store != "fsspec")
                usage_error("--peer-store expects directory or fsspec");
        } else if (a == "--python") {
            c.python = value();
        } else if (a == "--fresh-memory") {
            c.fresh_memory = true;
        } else if (a == "--no-peer") {
            c.peer = false;
        } else {
            usage_error("unknown option '" + a + "'");
        }
    }
    if (c.rows == 0 || c.cols == 0) usage_error("--rows and --cols must be above 0");
    return c;
}

// ---- measuring ------------------------------------------------------------------------------

/// CPU seconds (user + system) of this process, every thread included.
double cpu_now() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

/// One measured call.
struct sample {
    double seconds = 0, cpu = 0;
    std::uint64_t stored = 0;  ///< a save: bytes of the files it left (the store's size)
    std::string error;
};

/// What a row gets: the array's bytes and shape, its own empty directory, the options.
struct context {
    const void* data = nullptr;
    std::size_t bytes = 0, rows = 0, cols = 0, threads = 1, chunk_rows = 0;
    fs::path dir;
    bool sync = true;
};

/// Bytes of the regular files under `dir`.
std::uint64_t tree_bytes(const fs::path& dir) {
    std::uint64_t total = 0;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (it->is_regular_file(ec)) total += it->file_size(ec);
    return total;
}

template <class F>
sample timed(F&& fn) {
    sample s;
    const double c0 = cpu_now();
    const auto t0 = clock_type::now();
    fn();
    s.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
    s.cpu = cpu_now() - c0;
    return s;
}

/// Runs fn(i) on `n` std::threads and joins them (rethrowing the first error).
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

/// Byte range [first, last) of block i of n, split at whole rows.
std::pair<std::size_t, std::size_t> block(const context& c, std::size_t i, std::size_t n) {
    const std::size_t row = c.bytes / c.rows;
    const std::size_t first = c.rows / n * i + std::min(i, c.rows % n);
    const std::size_t last = first + c.rows / n + (i < c.rows % n ? 1 : 0);
    return {first * row, last * row};
}

int open_or_throw(const fs::path& p, int flags) {
    const int fd = ::open(p.c_str(), flags | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("cannot open " + p.string() + ": " + std::strerror(errno));
    return fd;
}

template <class Byte, class Op>
void raw_io(Op op, const char* name, int fd, Byte* p, std::size_t n) {
    std::size_t offset = 0;
    while (n > 0) {
        const ssize_t r = op(fd, p, n, static_cast<off_t>(offset));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) throw std::runtime_error(std::string(name) + ": " + std::strerror(errno));
        p += r;
        n -= static_cast<std::size_t>(r);
        offset += static_cast<std::size_t>(r);
    }
}

std::string part(std::size_t i) {
    return "block-" + std::to_string(i) + ".bin";
}

/// A row of the tables: a save and a load; `check` asks the load to compare with the source.
struct strategy {
    std::string name;
    enum kind_t { raw, raw_huge, ndshard, peer } kind = raw;
    zarr::codec codec = zarr::codec::none;
    std::function<sample(const context&)> save;
    std::function<sample(const context&, bool check)> load;
};

void check_equal(const context& c, const void* p, std::size_t bytes, sample& s) {
    if (bytes != c.bytes || std::memcmp(p, c.data, c.bytes) != 0)
        s.error = "loaded data differ from the array";
}

/// The hardware's bound: thread i pwrites its block of rows to its own file (fsync with sync),
/// and preads it back into a fresh, untouched buffer; with `huge`, one advised MADV_HUGEPAGE
/// (as ndshard and numpy advise the arrays they return: fewer page faults).
strategy raw_strategy(bool huge) {
    strategy s;
    s.name = huge ? "raw, huge-page destination" : "raw pwrite/pread";
    s.kind = huge ? strategy::raw_huge : strategy::raw;
    s.save = [](const context& c) {
        sample r = timed([&] {
            on_threads(c.threads, [&](std::size_t i) {
                const auto [b, e] = block(c, i, c.threads);
                const int fd = open_or_throw(c.dir / part(i), O_WRONLY | O_CREAT | O_TRUNC);
                raw_io(::pwrite, "pwrite", fd, static_cast<const char*>(c.data) + b, e - b);
                if (c.sync) ::fsync(fd);
                ::close(fd);
            });
        });
        r.stored = tree_bytes(c.dir);
        return r;
    };
    s.load = [huge](const context& c, bool check) {
        std::unique_ptr<char, void (*)(void*)> buf(nullptr, &std::free);
        sample r = timed([&] {
            // not initialised: its pages are touched by the reads
            const std::size_t align = huge ? std::size_t{2} << 20 : 4096;
            void* m = nullptr;
            if (::posix_memalign(&m, align, (c.bytes + align - 1) / align * align) != 0)
                throw std::bad_alloc();
            buf.reset(static_cast<char*>(m));
            if (huge) ::madvise(m, c.bytes, MADV_HUGEPAGE);
            on_threads(c.threads, [&](std::size_t i) {
                const auto [b, e] = block(c, i, c.threads);
                const int fd = open_or_throw(c.dir / part(i), O_RDONLY);
                raw_io(::pread, "pread", fd, buf.get() + b, e - b);
                ::close(fd);
            });
        });
        if (check) check_equal(c, buf.get(), c.bytes, r);
        return r;
    };
    return s;
}

/// The array's bytes as an xtensor adaptor (ndshard saves it in place).
template <class T>
auto as_array(const context& c) {
    const std::size_t n = c.bytes / sizeof(T);
    std::vector<std::size_t> shape{c.rows, c.cols};
    return xt::adapt(static_cast<const T*>(c.data), n, xt::no_ownership(), shape);
}

template <class T>
strategy ndshard_strategy(zarr::codec codec) {
    strategy s;
    s.name = "ndshard zarr " + codec_name(codec);
    s.kind = strategy::ndshard;
    s.codec = codec;
    s.save = [codec](const context& c) {
        zarr::save_options o;
        o.chunk_rows = c.chunk_rows;
        o.compressor = codec;
        o.threads = c.threads;
        o.sync = c.sync;
        const auto a = as_array<T>(c);
        sample r = timed([&] { (void)zarr::save(c.dir / "data.zarr", a, o); });
        r.stored = tree_bytes(c.dir);
        return r;
    };
    s.load = [](const context& c, bool check) {
        ndshard::load_options o;
        o.threads = c.threads;
        xt::xarray<T> out;
        sample r = timed([&] { out = zarr::load<T>(c.dir / "data.zarr", o); });
        if (check) check_equal(c, out.data(), out.size() * sizeof(T), r);
        return r;
    };
    return s;
}

// ---- the zarr-python peer -------------------------------------------------------------------

/// bench/zarr_peer.py --serve in a python3 process started once per array, driven a line at a
/// time: one command out, one JSON object back.
class zarr_peer {
  public:
    bool start(const config& cfg, const fs::path& input, std::size_t threads, std::string& note) {
        std::error_code ec;
        if (!fs::exists(cfg.python, ec)) {
            note = cfg.python + " not found";
            return false;
        }
        if (!fs::exists(cfg.peer_script, ec)) {
            note = cfg.peer_script + " not found";
            return false;
        }
        int to_child[2], from_child[2];
        if (::pipe(to_child) != 0) {
            note = "pipe failed";
            return false;
        }
        if (::pipe(from_child) != 0) {
            ::close(to_child[0]);
            ::close(to_child[1]);
            note = "pipe failed";
            return false;
        }
        const std::string t = std::to_string(threads);
        pid_ = ::fork();
        if (pid_ == 0) {
            ::dup2(to_child[0], 0);
            ::dup2(from_child[1], 1);
            ::close(to_child[1]);
            ::close(from_child[0]);
            if (cfg.fresh_memory)  // the same malloc policy as this process (see --fresh-memory)
                ::setenv("GLIBC_TUNABLES",
                         "glibc.malloc.mmap_threshold=1048576:glibc.malloc.trim_threshold=1048576",
                         1);
            ::execl(cfg.python.c_str(), cfg.python.c_str(), cfg.peer_script.c_str(), input.c_str(),
                    "--serve", "--threads", t.c_str(), "--store", cfg.peer_store.c_str(),
                    static_cast<char*>(nullptr));
            std::printf("{\"unavailable\": \"cannot run %s\"}\n", cfg.python.c_str());
            std::fflush(stdout);
            ::_exit(127);
        }
        ::close(to_child[0]);
        ::close(from_child[1]);
        in_ = ::fdopen(to_child[1], "w");
        out_ = ::fdopen(from_child[0], "r");
        const nlohmann::json first = call_json(nullptr);
        if (!first.is_object() || !first.contains("ready")) {
            note = first.is_object() && first.contains("unavailable")
                       ? first["unavailable"].get<std::string>()
                       : "no answer from the peer: " + first.dump();
            stop();
            return false;
        }
        versions_.clear();
        for (const auto& [k, v] : first["versions"].items())
            versions_ += (versions_.empty() ? "" : ", ") + k + " " + v.get<std::string>();
        return true;
    }
    [[nodiscard]] const std::string& versions() const { return versions_; }
    [[nodiscard]] bool running() const { return in_ != nullptr; }

    /// Sends `command` (none: just reads a line) and parses the answer; an unparsable answer or
    /// a dead peer gives {"error": ...}.
    nlohmann::json call_json(const char* command) {
        if (!in_ || !out_) return {{"error", "peer not running"}};
        if (command) {
            std::fprintf(in_, "%s\n", command);
            std::fflush(in_);
        }
        char* buf = nullptr;
        std::size_t cap = 0;
        const ssize_t n = ::getline(&buf, &cap, out_);
        std::string line = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
        std::free(buf);
        if (line.empty()) return {{"error", "the peer died"}};
        try {
            return nlohmann::json::parse(line);
        } catch (const std::exception&) {
            return {{"error", "not JSON from the peer: " + line}};
        }
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
    zarr_peer() = default;
    zarr_peer(const zarr_peer&) = delete;
    zarr_peer& operator=(const zarr_peer&) = delete;
    ~zarr_peer() { stop(); }

  private:
    pid_t pid_ = -1;
    std::FILE* in_ = nullptr;
    std::FILE* out_ = nullptr;
    std::string versions_;
};

sample peer_sample(const nlohmann::json& j) {
    sample s;
    if (j.contains("error")) {
        s.error = "peer: " + j["error"].get<std::string>();
        return s;
    }
    s.seconds = j.value("seconds", 0.0);
    s.cpu = j.value("cpu", 0.0);
    s.stored = j.value("bytes", std::uint64_t{0});
    if (j.contains("ok") && !j["ok"].get<bool>()) s.error = "zarr-python loaded different data";
    return s;
}

strategy peer_strategy(zarr_peer& peer, zarr::codec codec) {
    strategy s;
    s.name = "zarr-python+dask " + codec_name(codec);
    s.kind = strategy::peer;
    s.codec = codec;
    s.save = [&peer, codec](const context& c) {
        const std::string cmd = "save " + (c.dir / "peer.zarr").string() + " " + codec_name(codec) +
                                " " + std::to_string(c.chunk_rows) + (c.sync ? " 1" : " 0");
        return peer_sample(peer.call_json(cmd.c_str()));
    };
    s.load = [&peer](const context& c, bool) {  // the peer always checks, after its clock
        const std::string cmd = "load " + (c.dir / "peer.zarr").string();
        return peer_sample(peer.call_json(cmd.c_str()));
    };
    return s;
}

// ---- page cache (--cold) --------------------------------------------------------------------

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
                    for (unsigned char b : v)
                        total += (b & 1) ? page : 0;
                ::munmap(m, n);
            }
        }
        ::close(fd);
    }
    return total;
}

// ---- the arrays -----------------------------------------------------------------------------

/// Fills `a` (n elements) with dataset `name`, one seeded generator per block of 64 (the same
/// values for any thread count).
template <class T>
void generate(const std::string& name, T* a, std::size_t n) {
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
                const bool round2 = name == "round2";
                for (std::size_t i = first; i < last; ++i) {
                    const T v = d(rng);
                    a[i] = round2 ? std::nearbyint(v * 100) / 100 : v;  // numpy.round(v, 2)
                }
            } else {
                std::uniform_int_distribution<T> d(0, 99);
                for (std::size_t i = first; i < last; ++i)
                    a[i] = d(rng);
            }
        }
    });
}

// ---- reporting ------------------------------------------------------------------------------

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

std::string fmt(const char* f, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

struct row_result {
    std::string name;
    strategy::kind_t kind = strategy::raw;
    zarr::codec codec = zarr::codec::none;
    std::vector<double> seconds[2], cpu[2];  // [0] save, [1] load, one per round
    std::uint64_t stored = 0;
    std::string error[2];
    [[nodiscard]] bool ok(int op) const { return error[op].empty() && !seconds[op].empty(); }
    [[nodiscard]] double med(int op) const { return median(seconds[op]); }
};

/// The ratio of two rows' medians a / b and, in brackets, the range of the per-round ratios
/// (the rounds interleave both rows, so a round's pair saw the same machine).
std::string ratio_cell(const row_result& a, const row_result& b, int op) {
    if (!a.ok(op) || !b.ok(op)) return "n/a";
    double lo = 1e300, hi = 0;
    const std::size_t n = std::min(a.seconds[op].size(), b.seconds[op].size());
    for (std::size_t i = 0; i < n; ++i) {
        const double r = a.seconds[op][i] / b.seconds[op][i];
        lo = std::min(lo, r);
        hi = std::max(hi, r);
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2fx [%.2f-%.2f]", a.med(op) / b.med(op), lo, hi);
    return buf;
}

struct verdict {
    std::string target, measured;
    bool pass;
};
std::vector<verdict> verdicts;

struct dataset_result {
    std::string name, descr;
    std::size_t bytes = 0, chunk_rows = 0, chunks = 0;
    std::vector<row_result> rows;
};

void print_dataset(const dataset_result& d, const config& cfg, std::size_t threads) {
    const double mb = static_cast<double>(d.bytes) / 1e6;
    const double tf = static_cast<double>(threads);
    std::printf(
        "\n== %s: %zu x %zu %s (%.1f MB), chunks of %zu rows (%zu chunks), %zu threads, "
        "median [min-max] of %zu shuffled rounds\n",
        d.name.c_str(), cfg.rows, cfg.cols, d.descr.c_str(), mb, d.chunk_rows, d.chunks, threads,
        cfg.reps);
    for (int op = 0; op < 2; ++op) {
        std::printf("%-30s %8s %15s %7s %9s %7s %9s %6s\n", op == 0 ? "save" : "load", "seconds",
                    "min-max", "MB/s", "MB/s/thr", "CPU s", "store MB", "ratio");
        for (const auto& r : d.rows) {
            if (!r.ok(op)) {
                std::printf("  %-28s %s\n", r.name.c_str(),
                            r.error[op].empty() ? "(no runs)" : r.error[op].c_str());
                continue;
            }
            const double s = r.med(op);
            const auto mm = std::minmax_element(r.seconds[op].begin(), r.seconds[op].end());
            const std::string spread = fmt("%.3f", *mm.first) + "-" + fmt("%.3f", *mm.second);
            const double stored = static_cast<double>(r.stored);
            std::printf(
                "  %-28s %8.4f %15s %7.0f %9.0f %7.3f %9.2f %6s\n", r.name.c_str(), s,
                spread.c_str(), mb / s, mb / s / tf, median(r.cpu[op]), stored / 1e6,
                stored > 0 ? fmt("%.2f", static_cast<double>(d.bytes) / stored).c_str() : "-");
        }
    }

    const row_result *raw = nullptr, *raw_huge = nullptr;
    for (const auto& r : d.rows) {
        if (r.kind == strategy::raw) raw = &r;
        if (r.kind == strategy::raw_huge) raw_huge = &r;
    }
    std::printf("\n%-11s %6s %22s %22s %22s %22s %9s %9s %13s %13s\n", "codec", "ratio",
                "save peer/ndshard", "load peer/ndshard", "save raw/ndshard", "load raw/ndshard",
                "MB/cpu-s", "MB/cpu-s", "pays below", "pays below");
    std::printf("%-11s %6s %22s %22s %22s %22s %9s %9s %13s %13s\n", "", "", "(>= 3 wanted)",
                "(>= 3 wanted)", "(none: >= 0.8 wanted)", "(none: >= 0.8 wanted)", "save", "load",
                "save MB/s", "load MB/s");
    for (const auto& r : d.rows) {
        if (r.kind != strategy::ndshard) continue;
        const row_result* p = nullptr;
        for (const auto& q : d.rows)
            if (q.kind == strategy::peer && q.codec == r.codec) p = &q;
        const double stored = static_cast<double>(r.stored),
                     raw_bytes = static_cast<double>(d.bytes);
        // where a codec pays: it moves raw_bytes as `stored` bytes at the cost of t_c seconds of
        // coding, t_c = its time here minus the time this directory takes for `stored` bytes at
        // raw speed. On a device of raw speed W it takes t_c + stored / W against raw_bytes / W:
        // it pays when W < (raw_bytes - stored) / t_c.
        std::string pays[2];
        double per_cpu[2] = {0, 0};
        for (int op = 0; op < 2; ++op) {
            pays[op] = "n/a";
            if (!r.ok(op)) continue;
            per_cpu[op] = raw_bytes / 1e6 / std::max(1e-9, median(r.cpu[op]));
            if (!raw || !raw->ok(op) || stored <= 0) continue;
            if (r.codec == zarr::codec::none) {
                pays[op] = "-";
                continue;
            }
            if (stored >= raw_bytes) {
                pays[op] = "never";
                continue;
            }
            const double w = raw_bytes / raw->med(op);
            const double t_c = r.med(op) - stored / w;
            pays[op] = t_c <= 0 ? "always" : fmt("%.0f", (raw_bytes - stored) / t_c / 1e6);
        }
        const std::string empty = "-";
        std::printf("%-11s %6s %22s %22s %22s %22s %9.0f %9.0f %13s %13s\n",
                    codec_name(r.codec).c_str(),
                    stored > 0 ? fmt("%.2f", raw_bytes / stored).c_str() : empty.c_str(),
                    p ? ratio_cell(*p, r, 0).c_str() : empty.c_str(),
                    p ? ratio_cell(*p, r, 1).c_str() : empty.c_str(),
                    raw ? ratio_cell(*raw, r, 0).c_str() : empty.c_str(),
                    raw ? ratio_cell(*raw, r, 1).c_str() : empty.c_str(), per_cpu[0], per_cpu[1],
                    pays[0].c_str(), pays[1].c_str());
        for (int op = 0; op < 2; ++op) {
            const char* what = op == 0 ? "save" : "load";
            if (p && p->ok(op) && r.ok(op)) {
                const double x = p->med(op) / r.med(op);
                verdicts.push_back(
                    {d.name + " " + codec_name(r.codec) + " " + what + " >= 3x zarr-python+dask",
                     fmt("%.2fx", x), x >= 3});
            }
            if (r.codec == zarr::codec::none && raw && raw->ok(op) && r.ok(op)) {
                const double x = raw->med(op) / r.med(op);
                verdicts.push_back(
                    {d.name + " none " + what + " >= 0.8x raw " + (op == 0 ? "pwrite" : "pread"),
                     fmt("%.2fx", x), x >= 0.8});
            }
            if (op == 1 && r.codec == zarr::codec::none && raw_huge && raw_huge->ok(op) &&
                r.ok(op)) {
                const double x = raw_huge->med(op) / r.med(op);
                verdicts.push_back({d.name + " none load >= 0.8x raw pread, huge pages",
                                    fmt("%.2fx", x), x >= 0.8});
            }
        }
    }
    if (raw && raw->ok(0))
        std::printf(
            "raw speed here (%zu threads): write %.0f MB/s, read %.0f MB/s (%.0f MB/s into "
            "huge pages); \"pays below\": "
            "the device speed under which the codec's save/load beats raw I/O (estimated "
            "from this run: coding time = time - stored bytes at raw speed)\n",
            threads, static_cast<double>(d.bytes) / raw->med(0) / 1e6,
            raw->ok(1) ? static_cast<double>(d.bytes) / raw->med(1) / 1e6 : 0.0,
            raw_huge && raw_huge->ok(1) ? static_cast<double>(d.bytes) / raw_huge->med(1) / 1e6
                                        : 0.0);
    std::fflush(stdout);
}

void remove_contents(const fs::path& dir) {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        fs::remove_all(it->path(), ec);
}

std::string loadavg() {
    std::ifstream f("/proc/loadavg");
    std::string l;
    std::getline(f, l);
    return l;
}

/// Before the clock: for each codec, the store ndshard writes opens in zarr-python equal to the
/// source, and the store zarr-python writes (same codec and chunks) loads in ndshard equal to it.
/// Returns the chunk rows ndshard chose.
template <class T>
std::size_t interop(const config& cfg, const context& c0, zarr_peer* peer, std::string& lines) {
    std::size_t chunk_rows = 0;
    for (zarr::codec codec : cfg.codecs) {
        context c = c0;
        fs::create_directories(c.dir);
        remove_contents(c.dir);
        std::string line = "  " + codec_name(codec) + ": ";
        try {
            zarr::save_options o;
            o.chunk_rows = cfg.chunk_rows;
            o.compressor = codec;
            o.threads = c.threads;
            o.sync = false;
            const zarr::store_info info = zarr::save(c.dir / "nd.zarr", as_array<T>(c), o);
            if (info.chunks.empty()) throw std::runtime_error("store_info has no chunks");
            if (chunk_rows == 0) chunk_rows = info.chunks[0];
            if (info.chunks[0] != chunk_rows)
                line += "(chunks differ by codec: " + std::to_string(info.chunks[0]) + ") ";
            line += "ndshard wrote " + info.dtype + " chunks [";
            for (std::size_t i = 0; i < info.chunks.size(); ++i)
                line += (i ? "," : "") + std::to_string(info.chunks[i]);
            line += "] compressor " + (info.compressor.empty() ? "null" : info.compressor);
            {
                ndshard::load_options lo;
                lo.threads = c.threads;
                const auto back = zarr::load<T>(c.dir / "nd.zarr", lo);
                sample s;
                check_equal(c, back.data(), back.size() * sizeof(T), s);
                line += s.error.empty() ? "; ndshard reads it back equal" : "; ndshard: " + s.error;
            }
            if (peer && peer->running()) {
                const auto j = peer->call_json(("check " + (c.dir / "nd.zarr").string()).c_str());
                if (j.contains("error"))
                    line += "; zarr-python: " + j["error"].get<std::string>();
                else
                    line += std::string("; zarr-python opens it ") +
                            (j.value("ok", false) ? "equal" : "DIFFERENT (" + j.dump() + ")");
                c.chunk_rows = info.chunks[0];
                const auto w =
                    peer->call_json(("save " + (c.dir / "py.zarr").string() + " " +
                                     codec_name(codec) + " " + std::to_string(c.chunk_rows) + " 0")
                                        .c_str());
                if (w.contains("error")) {
                    line += "; zarr-python save: " + w["error"].get<std::string>();
                } else {
                    const auto back = zarr::load<T>(c.dir / "py.zarr");
                    sample s;
                    check_equal(c, back.data(), back.size() * sizeof(T), s);
                    line += s.error.empty() ? "; ndshard loads zarr-python's store equal"
                                            : "; ndshard loads zarr-python's store: " + s.error;
                }
            }
        } catch (const std::exception& e) {
            line += std::string("error: ") + e.what();
        }
        lines += line + "\n";
        remove_contents(c.dir);
    }
    return chunk_rows;
}

template <class T>
dataset_result run_dataset(const config& cfg, const std::string& name, const fs::path& work,
                           std::size_t threads) {
    const std::size_t n = cfg.rows * cfg.cols;
    if (n / cfg.cols != cfg.rows || n > SIZE_MAX / sizeof(T))
        usage_error("--rows x --cols overflows");
    std::vector<T> a(n);
    generate<T>(name, a.data(), n);

    dataset_result d;
    d.name = name;
    d.descr = ndshard::descr_of<T>();
    d.bytes = n * sizeof(T);

    context c;
    c.data = a.data();
    c.bytes = d.bytes;
    c.rows = cfg.rows;
    c.cols = cfg.cols;
    c.threads = threads;
    c.sync = cfg.sync;

    zarr_peer peer;
    bool have_peer = false;
    if (cfg.peer) {
        const fs::path input = work / ("src-" + name + ".npy");
        ndshard::write_npy(input, xt::adapt(a.data(), n, xt::no_ownership(),
                                            std::vector<std::size_t>{cfg.rows, cfg.cols}));
        std::string note;
        have_peer = peer.start(cfg, input, threads, note);
        fs::remove(input);  // the peer has loaded it
        if (!have_peer)
            std::fprintf(stderr, "ndshard_zarr_bench: zarr-python peer skipped: %s\n",
                         note.c_str());
        else if (name == cfg.datasets.front())
            std::printf("peer: %s (%s store)\n", peer.versions().c_str(), cfg.peer_store.c_str());
    }

    std::string lines;
    c.dir = work / "interop";
    d.chunk_rows = interop<T>(cfg, c, have_peer ? &peer : nullptr, lines);
    fs::remove_all(c.dir);
    std::printf("\n%s: interoperability (untimed)\n%s", name.c_str(), lines.c_str());
    std::fflush(stdout);
    if (d.chunk_rows == 0) d.chunk_rows = cfg.chunk_rows;  // every save failed: the rows say why
    c.chunk_rows = d.chunk_rows;
    d.chunks = d.chunk_rows ? (cfg.rows + d.chunk_rows - 1) / d.chunk_rows : 0;

    std::vector<strategy> all;
    all.push_back(raw_strategy(false));
    all.push_back(raw_strategy(true));
    for (zarr::codec k : cfg.codecs)
        all.push_back(ndshard_strategy<T>(k));
    if (have_peer)
        for (zarr::codec k : cfg.codecs)
            all.push_back(peer_strategy(peer, k));
    d.rows.resize(all.size());
    for (std::size_t k = 0; k < all.size(); ++k) {
        d.rows[k].name = all[k].name;
        d.rows[k].kind = all[k].kind;
        d.rows[k].codec = all[k].codec;
    }

    std::uint64_t max_resident = 0;
    std::vector<std::size_t> order(all.size());
    for (std::size_t rep = 0; rep < cfg.reps; ++rep) {
        for (std::size_t k = 0; k < order.size(); ++k)
            order[k] = k;
        std::mt19937 shuffle_rng(static_cast<unsigned>(rep));
        if (rep > 0) std::shuffle(order.begin(), order.end(), shuffle_rng);
        if (::isatty(2)) {
            std::fprintf(stderr, "\r\033[K[%s] round %zu/%zu", name.c_str(), rep + 1, cfg.reps);
            std::fflush(stderr);
        }
        for (const std::size_t k : order) {
            auto& row = d.rows[k];
            c.dir = work / ("s" + std::to_string(k));
            fs::create_directories(c.dir);
            remove_contents(c.dir);
            if (!row.error[0].empty()) continue;
            sample s;
            try {
                s = all[k].save(c);
            } catch (const std::exception& e) {
                s.error = e.what();
            }
            if (!s.error.empty()) {
                row.error[0] = s.error;
                row.error[1] = "(no store: save failed)";
                continue;
            }
            row.seconds[0].push_back(s.seconds);
            row.cpu[0].push_back(s.cpu);
            row.stored = s.stored;
            if (cfg.cold) {
                drop_cache(c.dir);
                max_resident = std::max(max_resident, resident_bytes(c.dir));
            }
            if (row.error[1].empty()) {
                try {
                    s = all[k].load(c, rep == 0);
                } catch (const std::exception& e) {
                    s.error = e.what();
                }
                if (!s.error.empty()) {
                    row.error[1] = s.error;
                } else {
                    row.seconds[1].push_back(s.seconds);
                    row.cpu[1].push_back(s.cpu);
                }
            }
            remove_contents(c.dir);
        }
    }
    if (::isatty(2)) std::fprintf(stderr, "\r\033[K");
    peer.stop();
    if (max_resident > 0)
        std::printf(
            "warning: up to %.1f MiB of a store stayed in the page cache after the drop: "
            "those loads were not all cold\n",
            static_cast<double>(max_resident) / 1048576.0);
    return d;
}

}  // namespace

int main(int argc, char** argv) {
    const config cfg = parse_args(argc, argv);
    // --fresh-memory: every large allocation its own mapping, returned to the system when freed
    if (cfg.fresh_memory) {
        ::mallopt(M_MMAP_THRESHOLD, 1 << 20);
        ::mallopt(M_TRIM_THRESHOLD, 1 << 20);
    }
    const std::size_t threads = cfg.threads == 0 ? ndshard::default_threads() : cfg.threads;

    const fs::path work = cfg.dir / ("run-" + std::to_string(::getpid()));
    std::error_code ec;
    fs::create_directories(work, ec);
    if (ec) usage_error("cannot create " + work.string() + ": " + ec.message());
    std::string fs_type =
        "?";  // the mount the directory is on, longest prefix of /proc/self/mounts
    {
        std::ifstream mounts("/proc/self/mounts");
        std::string dev, mnt, type, rest;
        std::size_t best = 0;
        const std::string wp = fs::canonical(work, ec).string();
        while (mounts >> dev >> mnt >> type && std::getline(mounts, rest))
            if (wp.compare(0, mnt.size(), mnt) == 0 && mnt.size() >= best) {
                best = mnt.size();
                fs_type = type + " on " + dev;
            }
    }

    std::printf("ndshard_zarr_bench: %s (%s), %zu threads (nproc %u), %s%s%s, load average %s\n",
                cfg.dir.c_str(), fs_type.c_str(), threads, std::thread::hardware_concurrency(),
                cfg.sync ? "fsync on" : "no fsync", cfg.cold ? ", cold loads" : ", warm loads",
                cfg.fresh_memory ? ", fresh memory (mmap >= 1 MiB)" : ", default malloc",
                loadavg().c_str());
#ifndef NDSHARD_ZARR_CODECS
    std::printf("note: built without NDSHARD_ZARR_CODECS: the compressed rows report errors\n");
#endif
    std::fflush(stdout);
    int rc = 0;
    try {
        for (const std::string& name : cfg.datasets) {
            const dataset_result d = name == "int100"
                                         ? run_dataset<std::int64_t>(cfg, name, work, threads)
                                         : run_dataset<double>(cfg, name, work, threads);
            print_dataset(d, cfg, threads);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ndshard_zarr_bench: %s\n", e.what());
        rc = 1;
    }
    if (!verdicts.empty()) {
        std::printf("\n%-48s %-10s\n", "target", "measured");
        for (const verdict& v : verdicts)
            std::printf("%-48s %-10s %s\n", v.target.c_str(), v.measured.c_str(),
                        v.pass ? "PASS" : "MISS");
    }
    std::printf("load average at end: %s\n", loadavg().c_str());
    fs::remove_all(work, ec);
    fs::remove(cfg.dir, ec);  // only if empty: another run may be using it
    return rc;
}
