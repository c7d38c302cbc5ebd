// ndshard — the command-line program: info, verify, convert and head over datasets, zarr stores,
// .npy files and text files, through the library's streaming reader and writers.
//
// Exit status: 0 success, 1 a data problem (any ndshard::error: a bad shard, a parse error, a
// value the target type cannot hold), 2 a usage error, 130 interrupted (SIGINT).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <xtensor/xadapt.hpp>

#include "ndshard/dataset.hpp"
#include "ndshard/detail/convert.hpp"
#include "ndshard/detail/text_format.hpp"
#include "ndshard/dtype.hpp"
#include "ndshard/error.hpp"
#include "ndshard/file.hpp"
#include "ndshard/npy.hpp"
#include "ndshard/progress.hpp"
#include "ndshard/stream.hpp"
#include "ndshard/version.hpp"
#include "ndshard/writer.hpp"
#include "ndshard/zarr.hpp"

namespace fs = std::filesystem;

namespace {

// ---------------------------------------------------------------------------------------------
// Errors, signals

/// A mistake in the command line found after CLI11's parse (bad --rows, --dtype, --codec...).
class usage_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

std::atomic<bool> interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the SIGINT handler sets an atomic<bool>");

extern "C" void on_sigint(int) {
    interrupted.store(true, std::memory_order_relaxed);
}

/// SIGINT sets a flag that the progress callbacks turn into a cancel; a second SIGINT kills.
void install_sigint_handler() {
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = static_cast<int>(SA_RESTART | SA_RESETHAND);
    sigaction(SIGINT, &sa, nullptr);
}

// ---------------------------------------------------------------------------------------------
// Progress bar

std::string human_bytes(double b) {
    const char* units[] = {"B", "KB", "MB", "GB", "TB"};
    int u = 0;
    while (b >= 1000 && u < 4) {
        b /= 1000;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
    return buf;
}

std::string clock_text(double seconds) {
    if (!(seconds >= 0) || seconds > 359999) return "--:--";
    const auto s = static_cast<long>(seconds + 0.5);
    char buf[32];
    if (s >= 3600)
        std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
    return buf;
}

/// A one-line progress bar on stderr (redrawn with '\r', ended with a newline), and the
/// cancellation point of every long call: operator() returns false once SIGINT arrived.
class progress_bar {
  public:
    explicit progress_bar(bool draw)
        : draw_(draw), start_(std::chrono::steady_clock::now()), last_(start_ - interval) {}
    progress_bar(const progress_bar&) = delete;
    progress_bar& operator=(const progress_bar&) = delete;
    ~progress_bar() { finish(); }

    /// The library's callback (and the convert loop's own report after each block).
    bool operator()(std::uint64_t done, std::uint64_t total) {
        if (interrupted.load(std::memory_order_relaxed)) return false;
        if (draw_) {
            const auto now = std::chrono::steady_clock::now();
            const bool end = total != 0 && done >= total;
            if ((now - last_ >= interval || end) && !(end && drawn_ && done == last_done_)) {
                last_ = now;
                last_done_ = done;
                render(done, total, now);
            }
        }
        return true;
    }

    [[nodiscard]] ndshard::progress_fn callback() {
        return [this](std::uint64_t done, std::uint64_t total) { return (*this)(done, total); };
    }

    /// Ends the bar's line (when one was drawn).
    void finish() {
        if (drawn_) std::fputs("\n", stderr);
        drawn_ = false;
    }

  private:
    static constexpr std::chrono::milliseconds interval{200};

    void render(std::uint64_t done, std::uint64_t total, std::chrono::steady_clock::time_point t) {
        const double secs = std::chrono::duration<double>(t - start_).count();
        const double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
        const double frac =
            total == 0 ? 0 : std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
        constexpr int width = 30;
        const auto filled = static_cast<int>(frac * width);
        std::string line = "\r[";
        line.append(static_cast<std::size_t>(filled), '#');
        line.append(static_cast<std::size_t>(width - filled), '.');
        char buf[160];
        const double left =
            rate > 0 && total >= done ? static_cast<double>(total - done) / rate : -1;
        std::snprintf(buf, sizeof buf, "] %5.1f%%  %s / %s  %.1f MB/s  ETA %s", frac * 100,
                      human_bytes(static_cast<double>(done)).c_str(),
                      total == 0 ? "?" : human_bytes(static_cast<double>(total)).c_str(),
                      rate / 1e6, clock_text(left).c_str());
        line += buf;
        // pad over what a longer previous line left on screen
        const std::size_t len = line.size();
        if (len < width_) line.append(width_ - len, ' ');
        width_ = len;
        std::fputs(line.c_str(), stderr);
        std::fflush(stderr);
        drawn_ = true;
    }

    bool draw_;
    std::chrono::steady_clock::time_point start_, last_;
    bool drawn_ = false;
    std::uint64_t last_done_ = 0;
    std::size_t width_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Paths, dtypes, options

enum class path_kind { dataset, zarr, npy, text };

const char* kind_name(path_kind k) {
    switch (k) {
        case path_kind::dataset:
            return "dataset";
        case path_kind::zarr:
            return "zarr";
        case path_kind::npy:
            return "npy";
        case path_kind::text:
            return "text";
    }
    return "?";
}

/// What a source path is: a zarr store (a directory holding .zarray), a dataset (any other
/// directory), an .npy file (the magic), or a text file (any other file).
path_kind kind_of(const fs::path& p) {
    std::error_code ec;
    if (fs::is_directory(p, ec))
        return fs::exists(p / ".zarray", ec) ? path_kind::zarr : path_kind::dataset;
    if (fs::is_regular_file(p, ec) && ndshard::detail::starts_with_npy_magic(p))
        return path_kind::npy;
    // a missing path: let the reader say so in the library's words
    return path_kind::text;
}

/// Numpy-style names: f4 f8 i1 .. u8 b1, float32 .. uint64 bool, and descrs ("<f4", "|u1").
std::optional<ndshard::dtype> parse_dtype(std::string s) {
    for (auto& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    struct named {
        const char* name;
        ndshard::dtype type;
    };
    static const named names[] = {
        {"bool", {'b', 1}},    {"b1", {'b', 1}}, {"float32", {'f', 4}}, {"f4", {'f', 4}},
        {"float64", {'f', 8}}, {"f8", {'f', 8}}, {"double", {'f', 8}},  {"float", {'f', 4}},
        {"int8", {'i', 1}},    {"i1", {'i', 1}}, {"int16", {'i', 2}},   {"i2", {'i', 2}},
        {"int32", {'i', 4}},   {"i4", {'i', 4}}, {"int64", {'i', 8}},   {"i8", {'i', 8}},
        {"uint8", {'u', 1}},   {"u1", {'u', 1}}, {"uint16", {'u', 2}},  {"u2", {'u', 2}},
        {"uint32", {'u', 4}},  {"u4", {'u', 4}}, {"uint64", {'u', 8}},  {"u8", {'u', 8}},
    };
    for (const auto& n : names)
        if (s == n.name) return n.type;
    ndshard::parsed_descr d;
    if (ndshard::parse_descr(s, d) && !d.swap) return d.type;
    return std::nullopt;
}

/// "A:B", "A:", ":B" or ":" (rows [A, B) as Python slices them, without negatives or steps).
std::pair<std::size_t, std::size_t> parse_rows(const std::string& s) {
    const auto bad = [&]() -> usage_error {
        return usage_error(
            "ndshard: --rows: expected A:B (rows A to B-1; either may be left "
            "out), found '" +
            ndshard::detail::shorten(s) + "'");
    };
    const std::size_t colon = s.find(':');
    if (colon == std::string::npos || s.find(':', colon + 1) != std::string::npos) throw bad();
    const auto number = [&](std::string_view t, std::size_t fallback) {
        if (t.empty()) return fallback;
        std::size_t v = 0;
        for (const char c : t) {
            if (c < '0' || c > '9') throw bad();
            const auto digit = static_cast<std::size_t>(c - '0');
            if (v > (std::numeric_limits<std::size_t>::max() - digit) / 10) throw bad();
            v = v * 10 + digit;
        }
        return v;
    };
    const std::string_view sv(s);
    const std::size_t a = number(sv.substr(0, colon), 0);
    const std::size_t b = number(sv.substr(colon + 1), std::numeric_limits<std::size_t>::max());
    if (a > b) throw bad();
    return {a, b};
}

char parse_delimiter(const std::string& s) {
    if (s.empty()) return 0;
    if (s == "tab" || s == "\\t") return '\t';
    if (s == "space" || s == "whitespace") return ' ';
    if (s == "comma") return ',';
    if (s.size() == 1) return s[0];
    throw usage_error("ndshard: --delimiter: expected one character, 'tab' or 'space', found '" +
                      ndshard::detail::shorten(s) + "'");
}

char parse_comment(const std::string& s) {
    if (s.empty() || s == "none") return 0;
    if (s.size() == 1) return s[0];
    throw usage_error("ndshard: --comment: expected one character or 'none', found '" +
                      ndshard::detail::shorten(s) + "'");
}

/// What every subcommand that reads takes.
struct read_args {
    std::string path;
    std::string delimiter;
    std::size_t skip_rows = 0;
    std::string comment = "#";
    bool header = false;
    std::vector<std::size_t> usecols;
    std::size_t threads = 0;
    std::string rows;

    void add_text_options(CLI::App* app) {
        app->add_option("--delimiter", delimiter,
                        "text sources: the value separator (one character, 'tab' or 'space'); "
                        "default: detected from the first data line");
        app->add_option("--skip-rows", skip_rows, "text sources: header lines to skip");
        app->add_option("--comment", comment, "text sources: the comment character, or 'none'")
            ->capture_default_str();
        app->add_flag("--header", header,
                      "text sources: the first line holds column names (as pandas writes CSV)");
        app->add_option("--usecols", usecols,
                        "text sources: read only these columns (0-based, comma-separated)")
            ->delimiter(',');
    }

    [[nodiscard]] ndshard::text_read_options text() const {
        ndshard::text_read_options t;
        t.delimiter = parse_delimiter(delimiter);
        t.skip_rows = skip_rows;
        t.comment = parse_comment(comment);
        t.header = header;
        t.usecols = usecols;
        return t;
    }
};

/// The element type of a source: what it stores, or float64 for a text file.
ndshard::dtype source_dtype(const fs::path& p, path_kind k) {
    ndshard::parsed_descr d;
    switch (k) {
        case path_kind::dataset: {
            const auto info = ndshard::inspect(p);
            (void)ndshard::parse_descr(info.dtype, d);  // inspect checked it
            return d.type;
        }
        case path_kind::zarr: {
            const auto info = ndshard::zarr::inspect(p);
            (void)ndshard::parse_descr(info.dtype, d);
            return d.type;
        }
        case path_kind::npy: {
            const auto f = ndshard::file::open_read(p);
            return ndshard::read_npy_header(f).type.type;
        }
        case path_kind::text:
            return {'f', 8};
    }
    return {'f', 8};
}

/// Calls fn(type_tag<T>) for the dtype (every dtype ndshard knows).
template <class F>
void dispatch(const ndshard::dtype& d, F&& fn) {
    if (!ndshard::detail::visit_dtype(d, std::forward<F>(fn)))
        throw ndshard::error("ndshard: unsupported dtype " + d.descr());
}

bool stderr_is_terminal() {
    return ::isatty(2) == 1;
}

std::size_t row_size_of(const std::vector<std::size_t>& shape) {
    std::size_t n = 1;
    for (std::size_t d = 1; d < shape.size(); ++d)
        n *= shape[d];
    return n;
}

/// Default rows per block for the CLI: about 16 MiB of rows (the library's 64 MiB default
/// times the blocks read ahead is more than a command-line tool should hold).
std::size_t default_block_rows(std::size_t row_size, std::size_t elem) {
    return std::max<std::size_t>(
        1, (std::size_t{16} << 20) / std::max<std::size_t>(1, row_size * elem));
}

// ---------------------------------------------------------------------------------------------
// Streaming: read a source block by block as S, hand the caller blocks of T

/// Reads `src` as S and calls on_block(const T* values, rows, first_row) for every block,
/// converting S to T with range checks. Progress and Ctrl-C: the reader's own callback (its
/// stream_options::progress, a progress_bar's), which makes next() throw ndshard::cancelled.
template <class S, class T, class F>
void pump(const fs::path& src, ndshard::block_reader<S>& reader, F&& on_block) {
    const std::size_t row_size = row_size_of(reader.shape());
    std::unique_ptr<T[]> converted;
    std::size_t converted_size = 0;
    while (reader.next()) {
        const auto& rows = reader.rows();
        const std::size_t n = rows.shape()[0];
        const S* in = rows.data();
        const T* out;
        if constexpr (std::is_same_v<S, T>) {
            out = in;
        } else {
            const std::size_t values = n * row_size;
            if (converted_size < values) {
                converted.reset(new T[values]);
                converted_size = values;
            }
            for (std::size_t i = 0; i < values; ++i)
                if (!ndshard::detail::convert_value(in[i], converted[i]))
                    ndshard::detail::fail(
                        "cannot convert", src,
                        "row " +
                            std::to_string(reader.first_row() +
                                           i / std::max<std::size_t>(1, row_size)) +
                            " holds " + ndshard::detail::value_text(in[i]) + ", which " +
                            ndshard::dtype_name(ndshard::dtype_of<T>()) + " cannot hold");
            out = converted.get();
        }
        on_block(out, n, reader.first_row());
    }
}

/// Formats `n` rows of `row_size` values as text (shortest round-trip) and hands the text to
/// `sink(const char*, size)` a bounded piece at a time.
template <class T, class Sink>
void format_rows(const T* v, std::size_t n, std::size_t row_size, char delimiter, Sink&& sink) {
    if (row_size == 0) return;
    constexpr std::size_t piece_values = 1 << 16;
    const std::size_t chars = ndshard::detail::max_value_chars<T>(-1) + 1;
    std::string buffer(piece_values * chars + row_size * 0 + ndshard::detail::format_slack, '\0');
    const std::size_t values = n * row_size;
    for (std::size_t at = 0; at < values; at += piece_values) {
        const std::size_t k = std::min(piece_values, values - at);
        char* e = ndshard::detail::format_values(buffer.data(), v + at, k, at % row_size, row_size,
                                                 delimiter, -1);
        sink(buffer.data(), static_cast<std::size_t>(e - buffer.data()));
    }
}

// ---------------------------------------------------------------------------------------------
// info

nlohmann::ordered_json shape_json(const std::vector<std::size_t>& s) {
    auto j = nlohmann::ordered_json::array();
    for (const auto d : s)
        j.push_back(d);
    return j;
}

std::uint64_t data_bytes(const ndshard::dtype& d, const std::vector<std::size_t>& shape) {
    std::uint64_t n = d.size;
    for (const auto x : shape)
        n *= x;
    return n;
}

/// The delimiter a text file's reader would use: the option, or detected from the first data
/// line as the library does (a tab, else a comma, else runs of spaces).
char text_delimiter(const fs::path& p, const ndshard::text_read_options& t) {
    if (t.delimiter != 0) return t.delimiter;
    std::ifstream in(p, std::ios::binary);
    std::string line;
    for (std::size_t i = 0; i < t.skip_rows && std::getline(in, line); ++i) {
    }
    while (std::getline(in, line)) {
        if (t.comment != 0) line = line.substr(0, line.find(t.comment));
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        if (line.find('\t') != std::string::npos) return '\t';
        if (line.find(',') != std::string::npos) return ',';
        return ' ';
    }
    return ' ';
}

std::string delimiter_name(char c) {
    switch (c) {
        case '\t':
            return "tab";
        case ' ':
            return "space";
        default:
            return std::string(1, c);
    }
}

int run_info(const read_args& a, bool json) {
    const fs::path p = a.path;
    const path_kind k = kind_of(p);
    nlohmann::ordered_json j;
    j["path"] = p.string();
    j["format"] = kind_name(k);
    switch (k) {
        case path_kind::dataset: {
            const auto info = ndshard::inspect(p);
            ndshard::parsed_descr d;
            (void)ndshard::parse_descr(info.dtype, d);
            std::uint64_t bytes = 0;
            std::size_t with = 0;
            for (const auto& s : info.shards) {
                bytes += s.bytes;
                with += !s.checksum.empty();
            }
            j["shard_format"] = ndshard::to_string(info.format);
            j["dtype"] = ndshard::dtype_name(d.type);
            j["descr"] = info.dtype;
            j["shape"] = shape_json(info.shape);
            j["shards"] = info.shards.size();
            j["bytes"] = bytes;
            j["generation"] = info.generation;
            j["checksums"] = with;
            j["attributes"] = nlohmann::ordered_json::parse(info.attributes.dump());
            if (!info.words.path.empty()) j["words"] = info.words.path;
            break;
        }
        case path_kind::zarr: {
            const auto info = ndshard::zarr::inspect(p);
            ndshard::parsed_descr d;
            (void)ndshard::parse_descr(info.dtype, d);
            j["dtype"] = ndshard::dtype_name(d.type);
            j["descr"] = info.dtype;
            j["shape"] = shape_json(info.shape);
            j["chunks"] = shape_json(info.chunks);
            j["compressor"] = nlohmann::ordered_json::parse(info.compressor);
            j["bytes"] = data_bytes(d.type, info.shape);
            j["checksums"] = false;
            break;
        }
        case path_kind::npy: {
            const auto f = ndshard::file::open_read(p);
            const auto h = ndshard::read_npy_header(f);
            j["dtype"] = ndshard::dtype_name(h.type.type);
            j["descr"] = h.descr;
            j["shape"] = shape_json(h.shape);
            j["fortran_order"] = h.fortran_order;
            j["bytes"] = f.size();
            j["checksums"] = false;
            break;
        }
        case path_kind::text: {
            const auto t = a.text();
            ndshard::stream_options o;
            o.text = t;
            o.threads = a.threads;
            o.prefetch = 0;
            o.block_rows = 1;
            const ndshard::block_reader<double> r(p, o);  // counts the rows
            const auto f = ndshard::file::open_read(p);
            j["dtype"] = "float64";
            j["descr"] = "<f8";
            j["shape"] = shape_json(r.shape());
            j["delimiter"] = delimiter_name(text_delimiter(p, t));
            if (t.header) j["columns"] = ndshard::text_read_header(p, t);
            j["bytes"] = f.size();
            j["checksums"] = false;
            break;
        }
    }
    if (json) {
        std::cout << j.dump(2) << '\n';
        return 0;
    }
    const auto line = [](const char* key, const std::string& value) {
        std::printf("%-12s %s\n", key, value.c_str());
    };
    const auto shape_of = [](const nlohmann::ordered_json& s) {
        std::vector<std::size_t> v;
        for (const auto& x : s)
            v.push_back(x.get<std::size_t>());
        return ndshard::shape_text(v);
    };
    line("path:", p.string());
    std::string format = kind_name(k);
    if (k == path_kind::dataset) format += " (" + j["shard_format"].get<std::string>() + " shards)";
    if (k == path_kind::text) format += " (delimiter " + j["delimiter"].get<std::string>() + ")";
    line("format:", format);
    line("dtype:", j["dtype"].get<std::string>() + " (" + j["descr"].get<std::string>() + ")");
    line("shape:", shape_of(j["shape"]));
    if (k == path_kind::dataset) line("shards:", std::to_string(j["shards"].get<std::size_t>()));
    if (k == path_kind::zarr) {
        line("chunks:", shape_of(j["chunks"]));
        line("compressor:", j["compressor"].dump());
    }
    if (k == path_kind::npy) line("order:", j["fortran_order"].get<bool>() ? "Fortran" : "C");
    if (j.contains("columns")) line("columns:", j["columns"].dump());
    const char* bytes_key = k == path_kind::zarr ? "data bytes:" : "file bytes:";
    if (k == path_kind::dataset) bytes_key = "shard bytes:";
    line(bytes_key, std::to_string(j["bytes"].get<std::uint64_t>()));
    if (k == path_kind::dataset) {
        line("generation:", std::to_string(j["generation"].get<std::uint64_t>()));
        line("checksums:", std::to_string(j["checksums"].get<std::size_t>()) + " of " +
                               std::to_string(j["shards"].get<std::size_t>()) + " shards");
        if (j.contains("words")) line("words:", j["words"].get<std::string>());
        if (!j["attributes"].empty()) line("attributes:", j["attributes"].dump());
    } else {
        line("checksums:", "none");
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------
// head

int run_head(const read_args& a, std::size_t n) {
    const fs::path p = a.path;
    const path_kind k = kind_of(p);
    std::size_t first = 0, last = std::numeric_limits<std::size_t>::max();
    if (!a.rows.empty()) {
        std::tie(first, last) = parse_rows(a.rows);
    } else {
        last = n;
    }
    const auto text = a.text();
    dispatch(source_dtype(p, k), [&](auto tag) {
        using S = typename decltype(tag)::type;
        ndshard::stream_options o;
        o.text = text;
        o.threads = a.threads;
        o.first_row = first;
        o.last_row = last;
        o.prefetch = 0;
        // a small block when few rows are asked for: head of a huge file reads only what it prints
        if (last != std::numeric_limits<std::size_t>::max())
            o.block_rows = std::max<std::size_t>(1, std::min<std::size_t>(last - first, 65536));
        progress_bar bar(false);  // draws nothing: Ctrl-C's cancellation point
        o.progress = bar.callback();
        ndshard::block_reader<S> r(p, o);
        const std::size_t row_size = row_size_of(r.shape());
        pump<S, S>(p, r, [&](const S* v, std::size_t rows, std::size_t) {
            format_rows(v, rows, row_size, '\t',
                        [](const char* s, std::size_t len) { std::fwrite(s, 1, len, stdout); });
        });
    });
    std::fflush(stdout);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// verify

int run_verify(const read_args& a, bool draw) {
    const fs::path p = a.path;
    const path_kind k = kind_of(p);
    if (k == path_kind::dataset) {
        ndshard::verify_options o;
        o.threads = a.threads;
        progress_bar bar(draw);
        o.progress = bar.callback();
        const auto r = ndshard::verify(p, o);
        bar.finish();
        for (const auto& problem : r.problems)
            std::printf("%s: %s\n", (p / problem.path).c_str(), problem.message.c_str());
        std::string summary = p.string() + ": ";
        if (r.ok())
            summary += "ok: " + std::to_string(r.shards) + " shards, " + std::to_string(r.bytes) +
                       " bytes checked";
        else
            summary += std::to_string(r.problems.size()) + " of " + std::to_string(r.shards) +
                       " shards bad";
        if (r.unchecked != 0)
            summary += " (" + std::to_string(r.unchecked) + " without a checksum)";
        std::printf("%s\n", summary.c_str());
        return r.ok() ? 0 : 1;
    }
    // a zarr store, an .npy or a text file: everything read through block_reader
    const auto text = a.text();
    std::size_t rows = 0;
    try {
        dispatch(source_dtype(p, k), [&](auto tag) {
            using S = typename decltype(tag)::type;
            ndshard::stream_options o;
            o.text = text;
            o.threads = a.threads;
            progress_bar bar(draw);
            o.progress = bar.callback();
            ndshard::block_reader<S> r(p, o);
            pump<S, S>(p, r, [&](const S*, std::size_t n, std::size_t) { rows += n; });
        });
    } catch (const ndshard::cancelled&) {
        throw;
    } catch (const ndshard::error& e) {
        std::printf("%s: %s\n", p.c_str(), e.what());
        std::printf("%s: 1 problem\n", p.c_str());
        return 1;
    }
    std::printf("%s: ok: %zu rows read (%s: no checksums, every value decoded)\n", p.c_str(), rows,
                kind_name(k));
    return 0;
}

// ---------------------------------------------------------------------------------------------
// convert

struct convert_args {
    read_args in;
    std::string dst;
    std::string format;
    std::size_t shards = 0;
    std::string codec;
    std::string dtype;
    std::size_t block_rows = 0;
};

enum class target_kind { dataset, zarr, npy_file, text_file };

bool ends_with(const std::string& s, std::string_view suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string lower(std::string s) {
    for (auto& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

/// The zarr codec and level of "--codec none|zstd[:L]|blosc_lz4[:L]|blosc_zstd[:L]".
std::pair<ndshard::zarr::codec, int> parse_codec(const std::string& s) {
    const std::size_t colon = s.find(':');
    const std::string name = s.substr(0, colon);
    int level = 0;
    if (colon != std::string::npos) {
        const std::string l = s.substr(colon + 1);
        try {
            std::size_t used = 0;
            level = std::stoi(l, &used);
            if (used != l.size() || l.empty()) throw std::invalid_argument(l);
        } catch (const std::exception&) {
            throw usage_error("ndshard: --codec: expected a level after ':', found '" +
                              ndshard::detail::shorten(l) + "'");
        }
    }
    ndshard::zarr::codec c;
    if (name == "none")
        c = ndshard::zarr::codec::none;
    else if (name == "zstd")
        c = ndshard::zarr::codec::zstd;
    else if (name == "blosc_lz4")
        c = ndshard::zarr::codec::blosc_lz4;
    else if (name == "blosc_zstd")
        c = ndshard::zarr::codec::blosc_zstd;
    else
        throw usage_error(
            "ndshard: --codec: expected none, zstd[:LEVEL], blosc_lz4[:LEVEL] or "
            "blosc_zstd[:LEVEL], found '" +
            ndshard::detail::shorten(s) + "'");
    if (c == ndshard::zarr::codec::none && colon != std::string::npos)
        throw usage_error("ndshard: --codec: 'none' takes no level");
    return {c, level};
}

target_kind target_of(const convert_args& a) {
    const std::string d = lower(a.dst);
    std::string trimmed = d;
    while (trimmed.size() > 1 && trimmed.back() == '/')
        trimmed.pop_back();
    std::optional<target_kind> by_name;
    if (ends_with(trimmed, ".zarr")) by_name = target_kind::zarr;
    if (ends_with(trimmed, ".npy")) by_name = target_kind::npy_file;
    if (ends_with(trimmed, ".csv") || ends_with(trimmed, ".tsv") || ends_with(trimmed, ".txt"))
        by_name = target_kind::text_file;
    if (a.format == "zarr") {
        if (by_name && *by_name != target_kind::zarr)
            throw usage_error(
                "ndshard: --format zarr: expected a target that is not a single "
                "file, found '" +
                a.dst + "'");
        return target_kind::zarr;
    }
    if (!a.format.empty() && by_name && *by_name != target_kind::dataset)
        throw usage_error("ndshard: --format " + a.format + " is a dataset's shard format, but '" +
                          a.dst + "' names a single " +
                          (*by_name == target_kind::zarr ? "zarr store" : "file") +
                          " (drop --format, or name a dataset directory)");
    return by_name.value_or(target_kind::dataset);
}

template <class S, class T>
void convert_typed(const convert_args& a, const fs::path& src, const fs::path& dst,
                   target_kind target, bool draw) {
    std::size_t first = 0, last = std::numeric_limits<std::size_t>::max();
    if (!a.in.rows.empty()) std::tie(first, last) = parse_rows(a.in.rows);
    progress_bar bar(draw);
    ndshard::stream_options o;
    o.text = a.in.text();
    o.threads = a.in.threads;
    o.first_row = first;
    o.last_row = last;
    o.progress = bar.callback();
    std::vector<std::size_t> shape;
    {
        // the shape first (a text file's rows are counted), for the block size and the target
        auto q = o;
        q.last_row = 0;
        q.progress = nullptr;
        const ndshard::block_reader<S> probe(src, q);
        shape = probe.shape();
    }
    const std::size_t row_size = row_size_of(shape);
    o.block_rows = a.block_rows != 0 ? a.block_rows : default_block_rows(row_size, sizeof(S));
    const std::size_t end = std::min(last, shape[0]);
    const std::size_t rows = end - std::min(first, end);
    std::vector<std::size_t> out_shape = shape;
    out_shape[0] = rows;
    const std::vector<std::size_t> row_shape(shape.begin() + 1, shape.end());

    ndshard::block_reader<S> reader(src, o);
    switch (target) {
        case target_kind::dataset: {
            ndshard::writer_options w;
            w.format = a.format == "csv"   ? ndshard::shard_format::csv
                       : a.format == "tsv" ? ndshard::shard_format::tsv
                                           : ndshard::shard_format::npy;
            w.threads = a.in.threads;
            if (a.shards != 0)
                w.shard_rows = std::max<std::size_t>(1, (rows + a.shards - 1) / a.shards);
            if (kind_of(src) == path_kind::dataset) {
                // a dataset's attributes go with its rows; an embeddings dataset's words cannot
                // (the rows may be a range, and the writer writes rows): said, not dropped quietly
                const auto info = ndshard::inspect(src);
                w.attributes = info.attributes;
                if (!info.words.path.empty())
                    std::fprintf(stderr,
                                 "ndshard: note: the words of '%s' are not converted, only its "
                                 "vectors (save_embeddings keeps both)\n",
                                 src.string().c_str());
            } else if (kind_of(src) == path_kind::text && o.text.header) {
                // a text file's column names go with its rows, as the attribute "columns"
                w.attributes = {{"columns", ndshard::text_read_header(src, o.text)}};
            }
            ndshard::dataset_writer<T> writer(dst, row_shape, w);
            pump<S, T>(src, reader, [&](const T* v, std::size_t n, std::size_t) {
                std::vector<std::size_t> s = shape;
                s[0] = n;
                writer.write(xt::adapt(v, n * row_size, xt::no_ownership(), s));
            });
            bar.finish();
            (void)writer.commit();
            break;
        }
        case target_kind::npy_file: {
            const std::string header =
                ndshard::encode_npy_header(ndshard::descr_of<T>(), out_shape);
            ndshard::detail::write_atomically(dst, true, true, [&](const ndshard::file& f) {
                f.pwrite_full(header.data(), header.size(), 0);
                std::uint64_t offset = header.size();
                pump<S, T>(src, reader, [&](const T* v, std::size_t n, std::size_t) {
                    const std::size_t bytes = n * row_size * sizeof(T);
                    f.pwrite_full(v, bytes, offset);
                    offset += bytes;
                });
                bar.finish();
            });
            ndshard::sync_directory(dst.has_parent_path() ? dst.parent_path() : ".");
            break;
        }
        case target_kind::text_file: {
            const std::string d = lower(a.dst);
            const char delimiter = ends_with(d, ".csv") ? ',' : '\t';
            ndshard::detail::write_atomically(dst, true, true, [&](const ndshard::file& f) {
                std::uint64_t offset = 0;
                pump<S, T>(src, reader, [&](const T* v, std::size_t n, std::size_t) {
                    format_rows(v, n, row_size, delimiter, [&](const char* s, std::size_t len) {
                        f.pwrite_full(s, len, offset);
                        offset += len;
                    });
                });
                bar.finish();
            });
            ndshard::sync_directory(dst.has_parent_path() ? dst.parent_path() : ".");
            break;
        }
        case target_kind::zarr: {
            // ndshard::zarr::save takes a whole array: the rows are gathered in memory first
            xt::xarray<T> all = ndshard::detail::allocate_array<T>(out_shape);
            pump<S, T>(src, reader, [&](const T* v, std::size_t n, std::size_t r) {
                std::copy(v, v + n * row_size, all.data() + (r - first) * row_size);
            });
            bar.finish();
            ndshard::zarr::save_options z;
            std::tie(z.compressor, z.level) = parse_codec(a.codec.empty() ? "none" : a.codec);
            z.threads = a.in.threads;
            progress_bar save_bar(draw);
            z.progress = save_bar.callback();
            (void)ndshard::zarr::save(dst, all, z);
            break;
        }
    }
}

int run_convert(const convert_args& a, bool draw) {
    const fs::path src = a.in.path, dst = a.dst;
    {
        std::error_code e1, e2;
        const auto s = fs::weakly_canonical(src, e1), d = fs::weakly_canonical(dst, e2);
        if (!e1 && !e2 && s == d)
            throw usage_error("ndshard: refusing to convert " + ndshard::detail::quoted(src) +
                              " onto itself");
    }
    const target_kind target = target_of(a);
    if (!a.codec.empty() && target != target_kind::zarr)
        throw usage_error("ndshard: --codec applies to zarr targets only");
    if (!a.codec.empty()) (void)parse_codec(a.codec);
    if (a.shards != 0 && target != target_kind::dataset)
        throw usage_error("ndshard: --shards applies to dataset targets only");
    if (!a.in.rows.empty()) (void)parse_rows(a.in.rows);
    (void)a.in.text();
    std::optional<ndshard::dtype> want;
    if (!a.dtype.empty()) {
        want = parse_dtype(a.dtype);
        if (!want)
            throw usage_error(
                "ndshard: --dtype: expected f4, f8, i1, i2, i4, i8, u1, u2, u4, u8, "
                "b1 (or float32, int64, bool...), found '" +
                ndshard::detail::shorten(a.dtype) + "'");
    }
    const path_kind k = kind_of(src);
    // a text file parses straight into the target type (range-checked by the parser)
    const ndshard::dtype from = k == path_kind::text && want ? *want : source_dtype(src, k);
    const ndshard::dtype to = want.value_or(from);
    dispatch(from, [&](auto s) {
        dispatch(to, [&](auto t) {
            convert_typed<typename decltype(s)::type, typename decltype(t)::type>(a, src, dst,
                                                                                  target, draw);
        });
    });
    return 0;
}

/// The message of an ndshard error as it reaches stderr: the library's text, which starts with
/// "ndshard: " (added when it does not).
void print_error(const char* what) {
    const std::string_view m(what);
    if (m.rfind("ndshard: ", 0) != 0) std::fputs("ndshard: ", stderr);
    std::fputs(what, stderr);
    std::fputs("\n", stderr);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "ndshard: inspect, verify, convert and print ndarrays: ndshard datasets, zarr "
        "stores, .npy files and text files (CSV, TSV, whitespace)",
        "ndshard"};
    app.set_version_flag("--version", std::string("ndshard ") + ndshard::version);
    app.require_subcommand(1);
    app.footer(
        "Sources are recognised by what the path is: a directory with .zarray is a zarr store, "
        "any other directory a dataset (manifest.json), a file starting with the .npy magic an "
        ".npy file, any other file text.\nExit status: 0 success, 1 a data problem, 2 a usage "
        "error, 130 interrupted.");

    bool force_progress = false, no_progress = false;
    std::size_t head_n = 10;
    bool info_json = false;

    read_args info_args;
    CLI::App* info = app.add_subcommand("info",
                                        "print dtype, shape, format, shards or chunks, "
                                        "bytes, generation, checksums");
    info->add_option("PATH", info_args.path, "dataset directory, zarr store, .npy or text file")
        ->required();
    info->add_flag("--json", info_json, "print JSON instead of text");
    info->add_option("--threads", info_args.threads, "threads (0: every core)");
    info_args.add_text_options(info);

    read_args verify_args;
    CLI::App* verify = app.add_subcommand(
        "verify",
        "check every shard of a dataset against its checksums (a zarr store, .npy or "
        "text file: read every value); exit 1 when anything is wrong");
    verify->add_option("PATH", verify_args.path, "dataset directory, zarr store, .npy or text file")
        ->required();
    verify->add_option("--threads", verify_args.threads, "threads (0: every core)");
    verify_args.add_text_options(verify);

    convert_args conv;
    CLI::App* convert = app.add_subcommand(
        "convert",
        "convert between datasets, zarr stores, .npy and text files, streaming with bounded "
        "memory (except to a zarr store: the whole array is held in memory), exactly, replacing "
        "the target atomically");
    convert->add_option("SRC", conv.in.path, "dataset directory, zarr store, .npy or text file")
        ->required();
    convert
        ->add_option("DST", conv.dst,
                     "target: *.zarr a zarr store, *.npy one .npy file, *.csv/*.tsv/*.txt one "
                     "text file, anything else a dataset directory")
        ->required();
    convert
        ->add_option("--format", conv.format,
                     "npy|csv|tsv: a dataset target's shard format (default npy); zarr: write a "
                     "zarr store")
        ->check(CLI::IsMember({"npy", "csv", "tsv", "zarr"}));
    convert->add_option("--shards", conv.shards, "dataset target: this many shards")
        ->check(CLI::PositiveNumber);
    convert->add_option("--codec", conv.codec,
                        "zarr target: none|zstd[:LEVEL]|blosc_lz4[:LEVEL]|blosc_zstd[:LEVEL] "
                        "(default none)");
    convert->add_option("--dtype", conv.dtype,
                        "element type of the target (f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1, or float32 "
                        "int64 bool...); a value it cannot hold is an error naming the row");
    convert->add_option("--rows", conv.in.rows, "convert rows A to B-1 only (A:B, A:, :B)");
    convert->add_option("--threads", conv.in.threads, "threads (0: every core)");
    convert->add_option("--block-rows", conv.block_rows,
                        "rows read per block (default: about 16 MiB of rows)");
    conv.in.add_text_options(convert);

    read_args head_args;
    CLI::App* head = app.add_subcommand(
        "head", "print rows as tab-separated text (shortest round-trip), one row per line");
    head->add_option("PATH", head_args.path, "dataset directory, zarr store, .npy or text file")
        ->required();
    head->add_option("-n,--lines", head_n, "rows to print")->capture_default_str();
    head->add_option("--rows", head_args.rows, "print rows A to B-1 instead (A:B, A:, :B)");
    head->add_option("--threads", head_args.threads, "threads (0: every core)");
    head_args.add_text_options(head);

    for (CLI::App* sub : {verify, convert}) {
        auto* on = sub->add_flag("--progress", force_progress,
                                 "draw a progress bar on stderr (default: when stderr is a "
                                 "terminal)");
        sub->add_flag("--no-progress", no_progress, "never draw a progress bar")->excludes(on);
    }

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? 0 : 2;
    }

    install_sigint_handler();
    const bool draw = no_progress ? false : (force_progress || stderr_is_terminal());
    try {
        if (*info) return run_info(info_args, info_json);
        if (*verify) return run_verify(verify_args, draw);
        if (*convert) return run_convert(conv, draw);
        if (*head) return run_head(head_args, head_n);
    } catch (const usage_error& e) {
        print_error(e.what());
        return 2;
    } catch (const ndshard::cancelled& e) {
        print_error(e.what());
        return 130;
    } catch (const ndshard::error& e) {
        print_error(e.what());
        return 1;
    } catch (const std::bad_alloc&) {
        print_error("ndshard: out of memory");
        return 1;
    } catch (const std::exception& e) {
        print_error(e.what());
        return 1;
    }
    return 2;
}
