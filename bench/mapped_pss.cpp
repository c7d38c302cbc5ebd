// mapped_pss — what N processes mapping one .npy file with ndshard::mapped_npy cost in memory.
// Writes a float64 .npy of --bytes (default 800 MB; values 0, 1, 2, ... so every sum is exact),
// forks --procs processes (default 4) that each map it and sum every element (touching every
// page), then, while all of them still hold their mapping, each reads its own Rss and Pss
// (/proc/self/smaps_rollup, and the mapping's own lines of /proc/self/smaps). Pss divides each
// shared page among the processes that map it, so a total Pss near one file size means the
// processes share one copy; N copies would show N times that.
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <ndshard/ndshard.hpp>
#include <xtensor/xbuilder.hpp>

namespace fs = std::filesystem;

namespace {

const char* const help_text = R"(usage: mapped_pss [options]

  --bytes N   size of the float64 data (default 800000000)
  --dir PATH  where the file goes (default /dev/shm, else the temporary directory)
  --procs N   processes that map it at once (default 4)
)";

[[noreturn]] void usage_error(const std::string& what) {
    std::fprintf(stderr, "mapped_pss: %s (try --help)\n", what.c_str());
    std::exit(2);
}

std::uint64_t parse_count(const char* s, const char* flag) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || *s == '-')
        usage_error(std::string("expected a count after ") + flag + ", found '" + s + "'");
    return v;
}

double mb(std::uint64_t kb) {
    return static_cast<double>(kb) / 1024.0;
}

/// What one child reports, in kB (as /proc prints it) and seconds.
struct report {
    std::uint64_t rss_kb = 0, pss_kb = 0;          // the whole process (smaps_rollup)
    std::uint64_t map_rss_kb = 0, map_pss_kb = 0;  // the file's mapping alone (smaps)
    double map_seconds = 0, sum_seconds = 0;
    int ok = 0;  // the sum was exact
};

/// The value of `key` ("Pss:") in a /proc smaps block.
std::uint64_t field_kb(const std::string& block, const std::string& key) {
    const auto at = block.find("\n" + key);
    if (at == std::string::npos) return 0;
    return std::strtoull(block.c_str() + at + 1 + key.size(), nullptr, 10);
}

/// The smaps lines (header and fields) of the mapping that holds `p`.
std::string smaps_of(const void* p) {
    std::ifstream in("/proc/self/smaps");
    const auto addr = reinterpret_cast<std::uintptr_t>(p);
    std::string line, block;
    bool inside = false;
    while (std::getline(in, line)) {
        std::uintptr_t lo = 0, hi = 0;
        // a header line starts with "lo-hi "; field lines start with a capitalised name
        if (std::sscanf(line.c_str(), "%" SCNxPTR "-%" SCNxPTR " ", &lo, &hi) == 2 &&
            line.find('-') < line.find(' ')) {
            if (inside) break;
            inside = lo <= addr && addr < hi;
        }
        if (inside) block += "\n" + line;
    }
    return block;
}

std::string read_all(const char* path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return "\n" + s.str();
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// One child: map, sum, tell the parent it holds the mapping, wait until every child does, then
/// measure and report.
[[noreturn]] void child(const fs::path& file, std::uint64_t n, int ready_w, int go_r,
                        int result_w) {
    report r;
    try {
        auto t0 = std::chrono::steady_clock::now();
        const ndshard::mapped_npy<double> m(file);
        r.map_seconds = seconds_since(t0);
        t0 = std::chrono::steady_clock::now();
        double sum = 0;
        for (const double *p = m.data(), *end = p + m.size(); p != end; ++p)
            sum += *p;
        r.sum_seconds = seconds_since(t0);
        // 0 + 1 + ... + (n-1): every partial sum is an integer below 2^53, so exact
        r.ok = m.size() == n && sum == static_cast<double>(n) * static_cast<double>(n - 1) / 2;
        const char byte = 1;
        if (::write(ready_w, &byte, 1) != 1) std::_Exit(3);
        char ignored;
        while (::read(go_r, &ignored, 1) > 0) {
        }  // end of file: every child holds its mapping now
        const std::string rollup = read_all("/proc/self/smaps_rollup");
        r.rss_kb = field_kb(rollup, "Rss:");
        r.pss_kb = field_kb(rollup, "Pss:");
        const std::string own = smaps_of(m.data());
        r.map_rss_kb = field_kb(own, "Rss:");
        r.map_pss_kb = field_kb(own, "Pss:");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "mapped_pss: child %d: %s\n", static_cast<int>(::getpid()), e.what());
        std::_Exit(1);
    }
    if (::write(result_w, &r, sizeof r) != static_cast<ssize_t>(sizeof r)) std::_Exit(4);
    std::_Exit(0);
}

}  // namespace

int main(int argc, char** argv) {
    std::uint64_t bytes = 800'000'000;
    std::uint64_t procs = 4;
    fs::path dir = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--help" || a == "-h") {
            std::fputs(help_text, stdout);
            return 0;
        }
        if (i + 1 >= argc) usage_error("expected a value after " + a);
        if (a == "--bytes")
            bytes = parse_count(argv[++i], "--bytes");
        else if (a == "--procs")
            procs = parse_count(argv[++i], "--procs");
        else if (a == "--dir")
            dir = argv[++i];
        else
            usage_error("unknown option '" + a + "'");
    }
    const std::uint64_t n = bytes / sizeof(double);
    if (n < 2 || procs < 1 || procs > 256)
        usage_error("expected --bytes >= 16 and 1 <= --procs <= 256");
    const fs::path file = dir / ("ndshard_mapped_pss-" + std::to_string(::getpid()) + ".npy");

    auto t0 = std::chrono::steady_clock::now();
    // a lazy expression: ndshard evaluates it a block at a time, so the parent never holds it
    ndshard::npy_write_options options;
    options.sync = false;
    ndshard::write_npy(file, xt::arange<double>(0.0, static_cast<double>(n)), options);
    const auto file_bytes = fs::file_size(file);
    std::printf("wrote %s: %" PRIu64 " float64, %.1f MB, in %.2f s\n", file.c_str(), n,
                static_cast<double>(file_bytes) / 1e6, seconds_since(t0));

    int ready[2], go[2], result[2];
    if (::pipe(ready) != 0 || ::pipe(go) != 0 || ::pipe(result) != 0) {
        std::perror("mapped_pss: pipe");
        return 1;
    }
    std::vector<pid_t> children;
    for (std::uint64_t c = 0; c < procs; ++c) {
        const pid_t pid = ::fork();
        if (pid < 0) {
            std::perror("mapped_pss: fork");
            return 1;
        }
        if (pid == 0) {
            ::close(ready[0]);
            ::close(go[1]);
            ::close(result[0]);
            child(file, n, ready[1], go[0], result[1]);
        }
        children.push_back(pid);
    }
    ::close(ready[1]);
    ::close(go[0]);
    ::close(result[1]);
    std::uint64_t held = 0;
    for (char b; held < procs && ::read(ready[0], &b, 1) == 1;)
        ++held;
    ::close(go[1]);  // every child maps the file now: let them measure
    std::vector<report> reports;
    for (report r; ::read(result[0], &r, sizeof r) == static_cast<ssize_t>(sizeof r);)
        reports.push_back(r);
    int failed = 0;
    for (const pid_t pid : children) {
        int status = 0;
        ::waitpid(pid, &status, 0);
        failed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    std::error_code ec;
    fs::remove(file, ec);
    if (failed || reports.size() != procs) {
        std::fprintf(stderr, "mapped_pss: %d of %" PRIu64 " children failed\n", failed, procs);
        return 1;
    }

    std::printf("%" PRIu64
                " processes, each mapping the file with mapped_npy<double> and summing "
                "every element:\n",
                procs);
    std::printf("%-8s %10s %10s %13s %13s %8s %8s %s\n", "process", "RSS MiB", "PSS MiB",
                "map RSS MiB", "map PSS MiB", "map s", "sum s", "sum");
    double total_pss = 0, total_map_pss = 0, total_rss = 0;
    for (std::size_t i = 0; i < reports.size(); ++i) {
        const auto& r = reports[i];
        std::printf("%-8zu %10.1f %10.1f %13.1f %13.1f %8.4f %8.3f %s\n", i, mb(r.rss_kb),
                    mb(r.pss_kb), mb(r.map_rss_kb), mb(r.map_pss_kb), r.map_seconds, r.sum_seconds,
                    r.ok ? "exact" : "WRONG");
        total_pss += mb(r.pss_kb);
        total_map_pss += mb(r.map_pss_kb);
        total_rss += mb(r.rss_kb);
    }
    const double file_mb = static_cast<double>(file_bytes) / (1024.0 * 1024.0);
    std::printf(
        "total: RSS %.1f MiB, PSS %.1f MiB (the mappings' PSS %.1f MiB); file %.1f MiB: "
        "total PSS = %.2f x the file\n",
        total_rss, total_pss, total_map_pss, file_mb, total_pss / file_mb);
    for (const auto& r : reports)
        if (!r.ok) return 1;
    return 0;
}
