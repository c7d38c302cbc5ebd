// bench_text — the text layer, piece by piece: formatting values into rows of text per dtype,
// parsing rows of text back per dtype, cutting a text into lines and ranges, and whole
// read_text / write_text calls on a file. Inputs are 1M values in 10 tab-separated columns
// (200k x 10 float64 for the file calls), made once per process: google-benchmark calls each
// benchmark function several times while it settles the iteration count.
#include <benchmark/benchmark.h>

#include <ndshard/detail/text_format.hpp>
#include <ndshard/detail/text_lines.hpp>
#include <ndshard/detail/text_parse.hpp>
#include <ndshard/text.hpp>

#include <xtensor/xtensor.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <utility>

#include "bench_util.hpp"

namespace {

constexpr std::size_t n_values = 1000000;
constexpr std::size_t columns = 10;
constexpr char delimiter = '\t';

/// A dtype passed as a value, so that one benchmark function serves every dtype.
template <class T>
struct type {};

/// What the float values are: the reference data (uniform in [0, 1), 17 significant digits
/// mostly), or random finite bit patterns (every exponent, subnormals, both signs).
/// Integers are uniform over their whole range and bools 0 or 1 whatever is asked.
enum class spread { unit, exponents };

/// The way a text is written: format_values shortest, or like numpy.savetxt's default "%.18e".
enum class spelling { shortest, e18 };

template <class T>
std::unique_ptr<T[]> make_values(spread s) {
    std::mt19937_64 rng(20240601);
    std::unique_ptr<T[]> v(new T[n_values]);
    for (std::size_t i = 0; i < n_values; ++i) {
        if constexpr (std::is_same_v<T, bool>) {
            v[i] = (rng() & 1) != 0;
        } else if constexpr (std::is_integral_v<T>) {
            // uniform_int_distribution takes no char types: draw wider, then narrow
            using W = std::conditional_t<std::is_signed_v<T>, std::int64_t, std::uint64_t>;
            std::uniform_int_distribution<W> d(std::numeric_limits<T>::min(),
                                               std::numeric_limits<T>::max());
            v[i] = static_cast<T>(d(rng));
        } else if (s == spread::unit) {
            v[i] = std::uniform_real_distribution<T>(0, 1)(rng);
        } else {
            using U = std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t>;
            do {
                const auto bits = static_cast<U>(rng());
                std::memcpy(&v[i], &bits, sizeof(T));
            } while (!std::isfinite(v[i]));
        }
    }
    return v;
}

template <class T>
const T* values(spread s) {
    static std::map<spread, std::unique_ptr<T[]>> cache;
    auto& v = cache[s];
    if (!v) v = make_values<T>(s);
    return v.get();
}

/// A buffer format_values may fill with `n` values: its documented worst case plus slack.
template <class T>
std::size_t format_bytes(std::size_t n, int precision) {
    return n * (ndshard::detail::max_value_chars<T>(precision) + 1) + ndshard::detail::format_slack;
}

/// The rows of text of `values<T>(s)` as `how` writes them; every row ends with '\n'.
template <class T>
std::string make_text(spread s, [[maybe_unused]] spelling how) {
    const T* v = values<T>(s);
    std::string text;
    if constexpr (std::is_floating_point_v<T>) {
        if (how == spelling::e18) {
            text.resize(n_values * 27);  // "-d." 18 digits "e-308" and a separator
            char* out = text.data();
            for (std::size_t i = 0; i < n_values; ++i) {
                out = std::to_chars(out, text.data() + text.size(), v[i],
                                    std::chars_format::scientific, 18)
                          .ptr;
                *out++ = (i + 1) % columns == 0 ? '\n' : delimiter;
            }
            text.resize(static_cast<std::size_t>(out - text.data()));
            return text;
        }
    }
    text.resize(format_bytes<T>(n_values, -1));
    const char* end =
        ndshard::detail::format_values(text.data(), v, n_values, 0, columns, delimiter, -1);
    text.resize(static_cast<std::size_t>(end - text.data()));
    return text;
}

template <class T>
const std::string& input_text(spread s, spelling how) {
    static std::map<std::pair<spread, spelling>, std::string> cache;
    auto& t = cache[{s, how}];
    if (t.empty()) t = make_text<T>(s, how);
    return t;
}

// --- formatting -------------------------------------------------------------------------------

/// format_values over the whole block into one buffer: bytes are the text written.
template <class T>
void format(benchmark::State& state, type<T>, spread s, int precision) {
    const T* v = values<T>(s);
    const std::size_t capacity = format_bytes<T>(n_values, precision);
    const std::unique_ptr<char[]> buffer(new char[capacity]);
    std::memset(buffer.get(), 0, capacity);  // page faults are not what is measured
    std::size_t bytes = 0;
    for (auto _ : state) {
        char* out = buffer.get();
        benchmark::DoNotOptimize(out);
        const char* end =
            ndshard::detail::format_values(out, v, n_values, 0, columns, delimiter, precision);
        benchmark::DoNotOptimize(end);
        benchmark::ClobberMemory();
        bytes = static_cast<std::size_t>(end - out);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n_values));
}

// --- parsing ----------------------------------------------------------------------------------

/// row_parser::parse_range over the whole text as one range: bytes are the text read.
template <class T>
void parse(benchmark::State& state, type<T>, spread s, spelling how) {
    const std::string& t = input_text<T>(s, how);
    const ndshard::detail::text_layout layout("bench.tsv", delimiter, '#');
    const ndshard::detail::row_parser<T> parser(layout, columns, false);
    const std::unique_ptr<T[]> out(new T[n_values]());
    for (auto _ : state) {
        parser.parse_range(t.data(), t.data() + t.size(), 1, n_values / columns, out.get(),
                           nullptr);
        benchmark::DoNotOptimize(out.get());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * t.size()));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n_values));
}

// --- lines ------------------------------------------------------------------------------------

const std::string& line_text() {
    return input_text<double>(spread::unit, spelling::shortest);
}

/// Counting the lines and rows of the whole text, as every range of a read is counted. The
/// text (19 MB) is in memory and mostly in cache: a read's count runs over page-cache text,
/// which comes in slower (about 9 GB/s per core on the 2-core VMs here).
void count_lines(benchmark::State& state) {
    const std::string& t = line_text();
    const ndshard::detail::text_layout layout("bench.tsv", delimiter, '#');
    for (auto _ : state) {
        auto n = layout.count_lines(t.data(), t.data() + t.size());
        benchmark::DoNotOptimize(n);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * t.size()));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n_values / columns));
}

/// Cutting the whole text into 64 ranges at line starts: it reads only the line around each cut,
/// so the figure is cuts per second (no bytes: a call reads a few lines, whatever the size).
void split_at_lines(benchmark::State& state) {
    const std::string& t = line_text();
    const auto pieces = static_cast<std::size_t>(state.range(0));
    for (auto _ : state) {
        auto cuts = ndshard::detail::split_at_lines(t.data(), t.data() + t.size(), pieces);
        benchmark::DoNotOptimize(cuts.data());
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}

/// Counting the fields of the first line, as a read does to learn the number of columns.
void count_fields(benchmark::State& state) {
    const std::string& t = line_text();
    const ndshard::detail::text_layout layout("bench.tsv", delimiter, '#');
    const char* end = ndshard::detail::text_layout::next_line(t.data(), t.data() + t.size()) - 1;
    const auto line = static_cast<std::size_t>(end - t.data());
    for (auto _ : state) {
        const char* p = t.data();
        benchmark::DoNotOptimize(p);
        std::size_t n = layout.count_fields(p, end);
        benchmark::DoNotOptimize(n);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * line));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * columns));
}

// --- files ------------------------------------------------------------------------------------

constexpr std::size_t file_rows = 200000;

/// The 200k x 10 float64 array of the file benchmarks (the first 2M reference values).
const xt::xtensor<double, 2>& file_array() {
    static const xt::xtensor<double, 2> a = [] {
        xt::xtensor<double, 2> x = xt::xtensor<double, 2>::from_shape({file_rows, columns});
        std::mt19937_64 rng(20240601);
        std::uniform_real_distribution<double> d(0, 1);
        for (auto& v : x)
            v = d(rng);
        return x;
    }();
    return a;
}

/// write_text of the array with range(0) threads: bytes are the file's.
void write_text(benchmark::State& state) {
    const ndshard_bench::scratch_dir dir;
    const auto file = dir.path() / "w.tsv";
    const auto& a = file_array();
    ndshard::text_write_options options;
    options.threads = static_cast<std::size_t>(state.range(0));
    for (auto _ : state)
        ndshard::write_text(file, a, options);
    state.SetBytesProcessed(
        static_cast<std::int64_t>(state.iterations() * std::filesystem::file_size(file)));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * a.size()));
}

/// read_text<double> of the array's file (shortest round-trip, tabs) with range(0) threads.
void read_text(benchmark::State& state) {
    const ndshard_bench::scratch_dir dir;
    const auto file = dir.path() / "r.tsv";
    const auto& a = file_array();
    ndshard::write_text(file, a);
    ndshard::text_read_options options;
    options.threads = static_cast<std::size_t>(state.range(0));
    for (auto _ : state) {
        auto r = ndshard::read_text<double>(file, options);
        benchmark::DoNotOptimize(r.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(
        static_cast<std::int64_t>(state.iterations() * std::filesystem::file_size(file)));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * a.size()));
}

/// Threads 1 and 2, timed by the wall clock (the calling thread's CPU time misses the workers').
void file_runs(benchmark::internal::Benchmark* b) {
    b->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
}

}  // namespace

BENCHMARK_CAPTURE(format, f64_shortest_unit, type<double>{}, spread::unit, -1);
BENCHMARK_CAPTURE(format, f64_shortest_exponents, type<double>{}, spread::exponents, -1);
BENCHMARK_CAPTURE(format, f32_shortest_unit, type<float>{}, spread::unit, -1);
BENCHMARK_CAPTURE(format, f32_shortest_exponents, type<float>{}, spread::exponents, -1);
BENCHMARK_CAPTURE(format, f64_precision6_unit, type<double>{}, spread::unit, 6);
BENCHMARK_CAPTURE(format, i64, type<std::int64_t>{}, spread::unit, -1);
BENCHMARK_CAPTURE(format, i32, type<std::int32_t>{}, spread::unit, -1);
BENCHMARK_CAPTURE(format, u8, type<std::uint8_t>{}, spread::unit, -1);
BENCHMARK_CAPTURE(format, bool, type<bool>{}, spread::unit, -1);

BENCHMARK_CAPTURE(parse, f64_shortest_unit, type<double>{}, spread::unit, spelling::shortest);
BENCHMARK_CAPTURE(parse, f64_shortest_exponents, type<double>{}, spread::exponents,
                  spelling::shortest);
BENCHMARK_CAPTURE(parse, f32_shortest_unit, type<float>{}, spread::unit, spelling::shortest);
BENCHMARK_CAPTURE(parse, f64_e18_unit, type<double>{}, spread::unit, spelling::e18);
BENCHMARK_CAPTURE(parse, i64, type<std::int64_t>{}, spread::unit, spelling::shortest);
BENCHMARK_CAPTURE(parse, i32, type<std::int32_t>{}, spread::unit, spelling::shortest);
BENCHMARK_CAPTURE(parse, u8, type<std::uint8_t>{}, spread::unit, spelling::shortest);
BENCHMARK_CAPTURE(parse, bool, type<bool>{}, spread::unit, spelling::shortest);

BENCHMARK(count_lines);
BENCHMARK(split_at_lines)->Arg(64);
BENCHMARK(count_fields);

BENCHMARK(write_text)->Apply(file_runs);
BENCHMARK(read_text)->Apply(file_runs);

BENCHMARK_MAIN();
