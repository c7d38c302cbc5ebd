// ndshard_out_of_core — the out-of-core targets of issue 9, measured on one float64 array of
// --rows x --cols saved as a dataset of --shards shards (and once as a TSV file) under --dir:
//
//   load_rows of 1% of the rows (from the middle)   <= 3% of a full load's time
//   block_reader over the dataset, summing blocks    <= 1.25x load + the same sum, and peak
//                                                    memory <= (prefetch + 1) blocks + 16 MiB
//   block_reader over the TSV file, summing blocks   <= 1.25x read_text + the same sum, same bound
//   dataset_writer fed 1,000-row views              >= 0.8x the speed of save of the whole array
//   append: 100 appends of 10,000 rows               the last ones <= 1.5x the first ones
//
// Each run of the two sides of a target is interleaved with the other's (the side that goes first
// alternates); the table shows medians and min-max spreads over --repeat runs. Every result is
// checked: sums of what was read equal the sum of the array bit for bit (each sum adds element i
// into lane i % 4, whatever block it comes in). Peak memory is the growth of VmHWM over VmRSS
// after /proc/self/clear_refs "5" (so the big array is freed before the readers are measured).
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <ndshard/ndshard.hpp>
#include <ndshard/stream.hpp>
#include <ndshard/writer.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xview.hpp>

namespace fs = std::filesystem;

namespace {

using clock_type = std::chrono::steady_clock;
constexpr double mib = 1024.0 * 1024.0;

struct config {
    std::size_t rows = 10'000'000, cols = 10, shards = 100, threads = 0, repeat = 3;
    fs::path dir = "/dev/shm/ndshard_ooc";
};

[[noreturn]] void usage_error(const std::string& what) {
    std::fprintf(stderr, "ndshard_out_of_core: %s (try --help)\n", what.c_str());
    std::exit(2);
}

const char* const help_text = R"(usage: ndshard_out_of_core [options]

Measures the out-of-core targets of issue 9 on a float64 array of rows x cols saved as a dataset
of `shards` shards and as one TSV file, and prints medians, min-max spreads, ratios and PASS/MISS.

options:
  --rows N     rows (default 10000000)
  --cols N     columns (default 10)
  --shards N   shards of the dataset (default 100)
  --dir PATH   where files go, removed at the end (default /dev/shm/ndshard_ooc, tmpfs)
  --threads N  threads; 0 = every core (default 0)
  --repeat N   runs of each side of each target (default 3)
)";

std::size_t parse_count(const std::string& flag, const std::string& v) {
    char* end = nullptr;
    const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0') usage_error(flag + " expects a number, found '" + v + "'");
    return static_cast<std::size_t>(n);
}

config parse_args(int argc, char** argv) {
    config c;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage_error(a + " expects a value");
            return argv[++i];
        };
        if (a == "--help" || a == "-h") {
            std::fputs(help_text, stdout);
            std::exit(0);
        } else if (a == "--rows") {
            c.rows = parse_count(a, value());
        } else if (a == "--cols") {
            c.cols = parse_count(a, value());
        } else if (a == "--shards") {
            c.shards = parse_count(a, value());
        } else if (a == "--dir") {
            c.dir = value();
        } else if (a == "--threads") {
            c.threads = parse_count(a, value());
        } else if (a == "--repeat") {
            c.repeat = std::max<std::size_t>(1, parse_count(a, value()));
        } else {
            usage_error("unknown option '" + a + "'");
        }
    }
    if (c.rows < 1000 || c.cols == 0 || c.shards == 0)
        usage_error("expected --rows of at least 1000, and --cols and --shards above 0");
    return c;
}

// ---- measuring --------------------------------------------------------------------------------

std::uint64_t status_kib(const char* key) {
    std::ifstream f("/proc/self/status");
    std::string line;
    const std::size_t n = std::strlen(key);
    while (std::getline(f, line))
        if (line.compare(0, n, key) == 0 && line.size() > n && line[n] == ':')
            return std::strtoull(line.c_str() + n + 1, nullptr, 10);
    return 0;
}

/// Peak resident memory beyond the resident size when reset() was called.
class memory_probe {
  public:
    void reset() {
        ::malloc_trim(0);
        std::ofstream f("/proc/self/clear_refs");
        f << "5";
        f.flush();
        ok_ = static_cast<bool>(f);
        before_ = status_kib("VmRSS");
    }
    /// Bytes, or -1 when the kernel refused the reset.
    [[nodiscard]] double extra_bytes() const {
        if (!ok_) return -1;
        return (static_cast<double>(status_kib("VmHWM")) - static_cast<double>(before_)) * 1024;
    }

  private:
    bool ok_ = false;
    std::uint64_t before_ = 0;
};

/// rchar (bytes through read system calls) and read_bytes (from the block layer) of this process.
struct io_counters {
    std::uint64_t rchar = 0, read_bytes = 0;
    static io_counters now() {
        io_counters c;
        std::ifstream f("/proc/self/io");
        std::string key;
        std::uint64_t v = 0;
        while (f >> key >> v) {
            if (key == "rchar:") c.rchar = v;
            if (key == "read_bytes:") c.read_bytes = v;
        }
        return c;
    }
};

struct run {
    double seconds = 0;
    double peak = -1;  // bytes beyond the resident size before the run
};

/// One measured call: time and peak memory.
template <class F>
run measure(F&& f) {
    memory_probe m;
    m.reset();
    const auto t0 = clock_type::now();
    f();
    run r;
    r.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
    r.peak = m.extra_bytes();
    return r;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct series {
    std::vector<run> runs;
    [[nodiscard]] std::vector<double> seconds() const {
        std::vector<double> s;
        for (const run& r : runs)
            s.push_back(r.seconds);
        return s;
    }
    [[nodiscard]] double med() const { return median(seconds()); }
    [[nodiscard]] double lo() const {
        const auto s = seconds();
        return *std::min_element(s.begin(), s.end());
    }
    [[nodiscard]] double hi() const {
        const auto s = seconds();
        return *std::max_element(s.begin(), s.end());
    }
    [[nodiscard]] double peak() const {  // the largest peak of any run
        double p = -1;
        for (const run& r : runs)
            p = std::max(p, r.peak);
        return p;
    }
};

/// Sums element i of a row-major array into lane i % 4, so the sum of any sequence of blocks
/// equals the sum of the whole array bit for bit (and runs at four additions a cycle).
struct lane_sum {
    double lane[4] = {0, 0, 0, 0};
    std::size_t at = 0;  // elements summed so far
    void add(const double* p, std::size_t n) {
        std::size_t i = 0;
        for (; i < n && (at + i) % 4 != 0; ++i)
            lane[(at + i) % 4] += p[i];
        for (; i + 4 <= n; i += 4) {
            lane[0] += p[i];
            lane[1] += p[i + 1];
            lane[2] += p[i + 2];
            lane[3] += p[i + 3];
        }
        for (; i < n; ++i)
            lane[(at + i) % 4] += p[i];
        at += n;
    }
    [[nodiscard]] double total() const { return (lane[0] + lane[1]) + (lane[2] + lane[3]); }
};

double sum_of(const double* p, std::size_t n) {
    lane_sum s;
    s.add(p, n);
    return s.total();
}

void check(bool ok, const std::string& what) {
    if (ok) return;
    std::fprintf(stderr, "ndshard_out_of_core: WRONG RESULT: %s\n", what.c_str());
    std::exit(1);
}

void check_sum(double got, double want, const std::string& what) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s: sum %.17g, expected %.17g", what.c_str(), got, want);
    check(got == want, buf);
}

std::string fmt_bytes(double b) {
    char buf[32];
    if (b < 0) return "n/a";
    std::snprintf(buf, sizeof buf, "%.1f MiB", b / mib);
    return buf;
}

std::string fmt_spread(const series& s) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%8.3f s [%.3f-%.3f]", s.med(), s.lo(), s.hi());
    return buf;
}

// ---- the table ----------------------------------------------------------------------------------

struct verdict {
    std::string target, measured;
    bool pass;
};
std::vector<verdict> verdicts;

void judge(const std::string& target, const std::string& measured, bool pass) {
    verdicts.push_back({target, measured, pass});
}

void print_pair(const char* what, const series& a, const char* a_name, const series& b,
                const char* b_name) {
    std::printf("\n%s\n", what);
    std::printf("  %-34s %s   peak +%s\n", a_name, fmt_spread(a).c_str(),
                fmt_bytes(a.peak()).c_str());
    std::printf("  %-34s %s   peak +%s\n", b_name, fmt_spread(b).c_str(),
                fmt_bytes(b.peak()).c_str());
}

/// Runs a() and b() `repeat` times each, interleaved, the side that goes first alternating.
void interleave(std::size_t repeat, series& a, const std::function<run()>& fa, series& b,
                const std::function<run()>& fb) {
    for (std::size_t r = 0; r < repeat; ++r) {
        if (r % 2 == 0) {
            a.runs.push_back(fa());
            b.runs.push_back(fb());
        } else {
            b.runs.push_back(fb());
            a.runs.push_back(fa());
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    const config cfg = parse_args(argc, argv);
    const std::size_t threads =
        cfg.threads != 0 ? cfg.threads : std::max(1u, std::thread::hardware_concurrency());
    const std::size_t rows = cfg.rows, cols = cfg.cols;
    const double array_bytes = static_cast<double>(rows * cols * sizeof(double));

    std::error_code ec;
    fs::remove_all(cfg.dir, ec);
    fs::create_directories(cfg.dir);
    const fs::path ds = cfg.dir / "data.nds", tsv = cfg.dir / "data.tsv",
                   wr = cfg.dir / "writer.nds", sv = cfg.dir / "save.nds",
                   ap = cfg.dir / "append.nds";

    std::printf("ndshard_out_of_core: %zu x %zu float64 (%.1f MiB), %zu shards, in %s\n", rows,
                cols, array_bytes / mib, cfg.shards, cfg.dir.c_str());
    std::printf("machine: nproc %u, threads used %zu, load average at start: ",
                std::thread::hardware_concurrency(), threads);
    {
        std::ifstream f("/proc/loadavg");
        std::string l;
        std::getline(f, l);
        std::printf("%s\n", l.c_str());
    }
    std::printf(
        "repeat %zu (medians, [min-max]); peaks are VmHWM growth over VmRSS before the call\n",
        cfg.repeat);
    std::fflush(stdout);

    // ---- the array, its dataset and its TSV file ----
    auto t0 = clock_type::now();
    xt::xarray<double> a = xt::empty<double>({rows, cols});
    {
        std::mt19937_64 gen(42);
        std::uniform_real_distribution<double> u(0.0, 1.0);
        for (double& v : a)
            v = u(gen);
    }
    const double total = sum_of(a.data(), a.size());
    const std::size_t slice_first = rows / 2 - rows / 200, slice_last = slice_first + rows / 100;
    const double slice_total =
        sum_of(a.data() + slice_first * cols, (slice_last - slice_first) * cols);
    const std::size_t append_batch = std::min<std::size_t>(10'000, rows / 100), appends = 100;
    const double append_total = sum_of(a.data(), appends * append_batch * cols);

    ndshard::save_options so;
    so.shards = cfg.shards;
    so.threads = cfg.threads;
    ndshard::save(ds, a, so);
    ndshard::text_write_options two;
    two.threads = cfg.threads;
    ndshard::write_text(tsv, a, two);
    std::printf("setup: generated, saved and written as TSV (%.1f MiB) in %.1f s\n",
                static_cast<double>(fs::file_size(tsv)) / mib,
                std::chrono::duration<double>(clock_type::now() - t0).count());
    std::fflush(stdout);

    // ---- dataset_writer fed 1,000-row views vs save of the whole array ----
    series writer_runs, save_runs;
    std::size_t writer_shards = 0;
    ndshard::writer_options wo;
    wo.threads = cfg.threads;
    const double shard_bytes = static_cast<double>(
        std::max<std::size_t>(1, (std::size_t{64} << 20) / (cols * sizeof(double))) * cols *
        sizeof(double));
    interleave(
        cfg.repeat, writer_runs,
        [&] {
            fs::remove_all(wr);
            run r = measure([&] {
                ndshard::dataset_writer<double> w(wr, {cols}, wo);
                for (std::size_t i = 0; i < rows; i += 1000)
                    w.write(xt::view(a, xt::range(i, std::min(rows, i + 1000)), xt::all()));
                writer_shards = w.commit().shards.size();
            });
            if (writer_runs.runs.empty()) {
                const auto back = ndshard::load<double>(wr);
                check_sum(sum_of(back.data(), back.size()), total, "dataset_writer's dataset");
            }
            return r;
        },
        save_runs,
        [&] {
            fs::remove_all(sv);
            run r = measure([&] { ndshard::save(sv, a, so); });
            if (save_runs.runs.empty()) {
                const auto back = ndshard::load<double>(sv);
                check_sum(sum_of(back.data(), back.size()), total, "save's dataset");
            }
            return r;
        });
    fs::remove_all(wr);
    fs::remove_all(sv);
    print_pair("dataset_writer (1,000-row views, sync) vs save of the whole array (sync):",
               writer_runs, "dataset_writer write()+commit()", save_runs, "save");
    std::printf("  writer: %zu shards of <= %.1f MiB, 2 x %zu threads queued at most\n",
                writer_shards, shard_bytes / mib, threads);
    {
        const double speed = save_runs.med() / writer_runs.med();
        char m[200];
        std::snprintf(m, sizeof m, "%.2fx save's speed", speed);
        judge("dataset_writer speed >= 0.8x save", m, speed >= 0.8);
        const double bound = static_cast<double>(2 * threads + 1) * shard_bytes + 16 * mib;
        std::snprintf(m, sizeof m,
                      "peak +%s (bound (2x%zu queued + 1 filling) shards + 16 MiB = %s)",
                      fmt_bytes(writer_runs.peak()).c_str(), threads, fmt_bytes(bound).c_str());
        judge("dataset_writer memory <= queued shards + 16 MiB", m, writer_runs.peak() <= bound);
    }
    std::fflush(stdout);

    // ---- append: 100 appends of 10,000 rows to a fresh dataset ----
    std::vector<double> first5, last5, first1, last1;
    std::size_t append_shards = 0;
    for (std::size_t r = 0; r < cfg.repeat; ++r) {
        fs::remove_all(ap);
        std::vector<double> t;
        ndshard::save_options ao;
        ao.threads = cfg.threads;
        for (std::size_t i = 0; i < appends; ++i) {
            const auto s = clock_type::now();
            ndshard::append(
                ap, xt::view(a, xt::range(i * append_batch, (i + 1) * append_batch), xt::all()),
                ao);
            t.push_back(std::chrono::duration<double>(clock_type::now() - s).count());
        }
        first1.push_back(t.front());
        last1.push_back(t.back());
        first5.push_back(median({t.begin(), t.begin() + 5}));
        last5.push_back(median({t.end() - 5, t.end()}));
        if (r == 0) {
            append_shards = ndshard::inspect(ap).shards.size();
            const auto back = ndshard::load<double>(ap);
            check(back.shape()[0] == appends * append_batch, "appended rows");
            check_sum(sum_of(back.data(), back.size()), append_total, "appended dataset");
        }
    }
    fs::remove_all(ap);
    std::printf("\nappend: %zu appends of %zu rows to a fresh dataset (x%zu), ms\n", appends,
                append_batch, cfg.repeat);
    std::printf("  1st append  %8.2f [%.2f-%.2f]    100th append  %8.2f [%.2f-%.2f]\n",
                median(first1) * 1e3, *std::min_element(first1.begin(), first1.end()) * 1e3,
                *std::max_element(first1.begin(), first1.end()) * 1e3, median(last1) * 1e3,
                *std::min_element(last1.begin(), last1.end()) * 1e3,
                *std::max_element(last1.begin(), last1.end()) * 1e3);
    std::printf("  median of 1st-5th %8.2f     median of 96th-100th %8.2f\n", median(first5) * 1e3,
                median(last5) * 1e3);
    std::printf("  %zu shards listed after the last append (one per append under 16 MiB)\n",
                append_shards);
    {
        const double ratio = median(last5) / median(first5);
        char m[200];
        std::snprintf(m, sizeof m, "%.2fx (last 5 / first 5; 100th / 1st: %.2fx)", ratio,
                      median(last1) / median(first1));
        judge("append: 100th <= 1.5x the 1st", m, ratio <= 1.5);
    }
    std::fflush(stdout);

    // ---- the readers, with the array freed ----
    a = xt::xarray<double>();
    ::malloc_trim(0);
    std::printf("\narray freed: VmRSS %.1f MiB\n", static_cast<double>(status_kib("VmRSS")) / 1024);

    ndshard::load_options lo;
    lo.threads = cfg.threads;
    ndshard::stream_options sto;
    sto.threads = cfg.threads;
    ndshard::text_read_options tro;
    tro.threads = cfg.threads;

    // load_rows of 1% vs load
    series rows_runs, load_runs;
    std::vector<io_counters> rows_io, load_io;
    interleave(
        cfg.repeat, rows_runs,
        [&] {
            const io_counters before = io_counters::now();
            double s = 0;
            const run r = measure([&] {
                const auto part = ndshard::load_rows<double>(ds, slice_first, slice_last, lo);
                s = sum_of(part.data(), part.size());
            });
            const io_counters after = io_counters::now();
            rows_io.push_back({after.rchar - before.rchar, after.read_bytes - before.read_bytes});
            check_sum(s, slice_total, "load_rows");
            return r;
        },
        load_runs,
        [&] {
            const io_counters before = io_counters::now();
            const run r = measure([&] {
                const auto all = ndshard::load<double>(ds, lo);  // load alone: no sum
                check(all.shape()[0] == rows, "load's rows");
            });
            const io_counters after = io_counters::now();
            load_io.push_back({after.rchar - before.rchar, after.read_bytes - before.read_bytes});
            return r;
        });
    print_pair("load_rows of 1% (middle rows) vs load of all rows:", rows_runs,
               "load_rows [first, first + 1%)", load_runs, "load");
    std::printf(
        "  bytes read: load_rows rchar %.2f MiB read_bytes %.2f MiB; load rchar %.2f MiB "
        "read_bytes %.2f MiB (the 1%% is %.2f MiB)\n",
        static_cast<double>(rows_io.back().rchar) / mib,
        static_cast<double>(rows_io.back().read_bytes) / mib,
        static_cast<double>(load_io.back().rchar) / mib,
        static_cast<double>(load_io.back().read_bytes) / mib, array_bytes / 100 / mib);
    {
        const double ratio = rows_runs.med() / load_runs.med();
        char m[200];
        std::snprintf(m, sizeof m, "%.2f%% of load's time; read %.2f MiB", ratio * 100,
                      static_cast<double>(rows_io.back().rchar) / mib);
        judge("load_rows 1% <= 3% of load", m, ratio <= 0.03);
    }
    std::fflush(stdout);

    // block_reader over a source + sum vs a whole read + sum
    const auto stream_sum = [&](const fs::path& src, std::size_t& blocks, double& block_bytes) {
        lane_sum s;
        ndshard::block_reader<double> r(src, sto);
        blocks = 0;
        while (r.next()) {
            s.add(r.rows().data(), r.rows().size());
            block_bytes =
                std::max(block_bytes, static_cast<double>(r.rows().size() * sizeof(double)));
            ++blocks;
        }
        return s.total();
    };
    const auto compare_stream = [&](const char* what, const fs::path& src, const char* whole_name,
                                    const std::function<double()>& whole) {
        series stream_runs, whole_runs;
        std::size_t blocks = 0;
        double block_bytes = 0;
        interleave(
            cfg.repeat, stream_runs,
            [&] {
                double s = 0;
                const run r = measure([&] { s = stream_sum(src, blocks, block_bytes); });
                check_sum(s, total, std::string("block_reader over ") + src.filename().string());
                return r;
            },
            whole_runs,
            [&] {
                double s = 0;
                const run r = measure([&] { s = whole(); });
                check_sum(s, total, whole_name);
                return r;
            });
        print_pair(what, stream_runs, "block_reader + sum of each block", whole_runs, whole_name);
        const double bound = static_cast<double>(sto.prefetch + 1) * block_bytes + 16 * mib;
        std::printf("  %zu blocks of <= %.1f MiB, prefetch %zu\n", blocks, block_bytes / mib,
                    sto.prefetch);
        const double ratio = stream_runs.med() / whole_runs.med();
        char m[200];
        std::snprintf(m, sizeof m, "%.2fx", ratio);
        judge(std::string("block_reader ") + src.filename().string() + " <= 1.25x " + whole_name, m,
              ratio <= 1.25);
        std::snprintf(m, sizeof m, "peak +%s (bound (%zu+1) blocks + 16 MiB = %s)",
                      fmt_bytes(stream_runs.peak()).c_str(), sto.prefetch,
                      fmt_bytes(bound).c_str());
        judge(std::string("block_reader ") + src.filename().string() + " memory", m,
              stream_runs.peak() >= 0 && stream_runs.peak() <= bound);
        std::fflush(stdout);
    };
    compare_stream("block_reader over the dataset vs load + sum:", ds, "load + sum", [&] {
        const auto all = ndshard::load<double>(ds, lo);
        return sum_of(all.data(), all.size());
    });
    compare_stream("block_reader over the TSV file vs read_text + sum:", tsv, "read_text + sum",
                   [&] {
                       const auto all = ndshard::read_text<double>(tsv, tro);
                       return sum_of(all.data(), all.size());
                   });

    // ---- the verdicts ----
    std::printf("\n%-50s %-82s %s\n", "target", "measured", "");
    for (const verdict& v : verdicts)
        std::printf("%-50s %-82s %s\n", v.target.c_str(), v.measured.c_str(),
                    v.pass ? "PASS" : "MISS");
    {
        std::ifstream f("/proc/loadavg");
        std::string l;
        std::getline(f, l);
        std::printf("load average at end: %s\n", l.c_str());
    }
    fs::remove_all(cfg.dir, ec);
    return 0;
}
