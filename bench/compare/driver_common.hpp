// bench/compare/driver_common.hpp — what every C++ driver of the peer comparison shares: its
// options, the clock, the source array, the bit-for-bit check against it and the one JSON line it
// prints. A driver runs ONE operation per process, so bench/compare/run.py can read the process's
// peak memory from wait4 and compare it with a --dry run of the same command.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>

#include "ndshard/dtype.hpp"
#include "ndshard/file.hpp"
#include "ndshard/npy.hpp"
#include "ndshard/npy_file.hpp"

namespace compare {

struct options {
    std::string op;
    std::string dtype = "f8";      ///< f8 (double) or f4 (float)
    std::filesystem::path source;  ///< the array (.npy): written by writers, checked by readers
    std::filesystem::path input;   ///< what a reader reads
    std::filesystem::path output;  ///< what a writer writes
    std::size_t threads = 2;
    bool dry = false;   ///< set up as for the operation, skip it: the memory baseline
    bool check = true;  ///< compare what a reader loaded with the source, bit for bit
};

/// What the driver prints: seconds of the operation alone, and for readers how many values differ
/// from the source (-1: not checked).
struct result {
    double seconds = -1;
    std::uint64_t values = 0;
    std::int64_t mismatches = -1;
    std::string skipped;  ///< why the operation was not run, when it was not
};

inline options parse_options(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw std::invalid_argument("missing value after " + a);
            return argv[++i];
        };
        if (a == "--op")
            o.op = value();
        else if (a == "--dtype")
            o.dtype = value();
        else if (a == "--source")
            o.source = value();
        else if (a == "--input")
            o.input = value();
        else if (a == "--output")
            o.output = value();
        else if (a == "--threads")
            o.threads = std::stoul(value());
        else if (a == "--dry")
            o.dry = true;
        else if (a == "--no-check")
            o.check = false;
        else
            throw std::invalid_argument("unknown argument " + a);
    }
    if (o.op.empty()) throw std::invalid_argument("--op is required");
    return o;
}

class stopwatch {
  public:
    [[nodiscard]] double seconds() const {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    }

  private:
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

/// Counts the elements of `data` (`n` of them, C order) whose bits differ from the source .npy's.
/// Reads the source 1 MiB at a time, so the check adds no measurable memory to the process's peak.
template <class T>
[[nodiscard]] std::int64_t count_mismatches(const T* data, std::size_t n,
                                            const std::filesystem::path& source) {
    const auto f = ndshard::file::open_read(source);
    const auto h = ndshard::read_npy_header(f);
    if (h.descr != ndshard::descr_of<T>())
        throw std::runtime_error(source.string() + " holds " + h.descr + ", expected " +
                                 ndshard::descr_of<T>());
    // a result of the wrong size differs everywhere
    if (h.elements() != n)
        return static_cast<std::int64_t>(std::max<std::uint64_t>(n, h.elements()));
    std::vector<T> buf((std::size_t{1} << 20) / sizeof(T));
    std::int64_t bad = 0;
    for (std::size_t done = 0; done < n;) {
        const std::size_t k = std::min(buf.size(), n - done);
        f.pread_full(buf.data(), k * sizeof(T), h.data_offset + done * sizeof(T));
        if (std::memcmp(buf.data(), data + done, k * sizeof(T)) != 0)
            for (std::size_t i = 0; i < k; ++i)
                bad += std::memcmp(&buf[i], data + done + i, sizeof(T)) != 0;
        done += k;
    }
    return bad;
}

/// Times `write(a)` on the source array, loaded before the clock starts.
template <class T, class Write>
[[nodiscard]] result time_write(const options& o, Write&& write) {
    const xt::xarray<T> a = ndshard::read_npy<T>(o.source, o.threads);
    result r;
    r.values = a.size();
    if (o.dry) return r;
    const stopwatch clock;
    write(a);
    r.seconds = clock.seconds();
    return r;
}

/// Times `read()`, which returns a C-ordered container, then checks it against the source.
template <class Read>
[[nodiscard]] result time_read(const options& o, Read&& read) {
    result r;
    if (o.dry) return r;
    const stopwatch clock;
    const auto a = read();
    r.seconds = clock.seconds();
    r.values = a.size();
    if (o.check) r.mismatches = count_mismatches(a.data(), a.size(), o.source);
    return r;
}

[[nodiscard]] inline result skipped(std::string why) {
    result r;
    r.skipped = std::move(why);
    return r;
}

/// Prints the one JSON line run.py reads (op names and reasons are plain ASCII words).
inline void print_result(const char* driver, const options& o, const result& r) {
    std::printf("{\"driver\": \"%s\", \"op\": \"%s\", \"dtype\": \"%s\", \"threads\": %zu, ",
                driver, o.op.c_str(), o.dtype.c_str(), o.threads);
    if (!r.skipped.empty())
        std::printf("\"skipped\": \"%s\"}\n", r.skipped.c_str());
    else if (o.dry)
        std::printf("\"dry\": true}\n");
    else
        std::printf("\"seconds\": %.6f, \"values\": %llu, \"mismatches\": %lld}\n", r.seconds,
                    static_cast<unsigned long long>(r.values),
                    static_cast<long long>(r.mismatches));
    std::fflush(stdout);
}

/// A driver's main: parses the options, calls `run(options, T{})` with T the element type --dtype
/// names, prints its result; errors go to stderr with exit status 1.
template <class Run>
int driver_main(const char* driver, int argc, char** argv, Run&& run) {
    try {
        const options o = parse_options(argc, argv);
        result r;
        if (o.dtype == "f8")
            r = run(o, double{});
        else if (o.dtype == "f4")
            r = run(o, float{});
        else
            throw std::invalid_argument("--dtype must be f8 or f4, not " + o.dtype);
        print_result(driver, o, r);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", driver, e.what());
        return 1;
    }
}

}  // namespace compare
