// tests/support.hpp — helpers shared by the test files: a scratch directory, bit-exact
// comparison, file reading.
#pragma once

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include "ndshard/error.hpp"
#include "ndshard/text.hpp"

namespace ndshard_test {

/// /dev/shm when there is one (the tests fsync a lot, and memory makes that free), else /tmp.
inline std::filesystem::path default_temp_base() {
    return std::filesystem::is_directory("/dev/shm") ? std::filesystem::path("/dev/shm")
                                                     : std::filesystem::temp_directory_path();
}

/// A fresh directory under default_temp_base() (or `base`: /tmp for files too large to hold in
/// memory), unique per process and per instance, removed with its contents when the test ends
/// (also when it fails).
class temp_dir {
  public:
    explicit temp_dir(const std::filesystem::path& base = default_temp_base()) {
        static std::atomic<unsigned> counter{0};
        path_ = base / ("ndshard_test_" + std::to_string(::getpid()) + "_" +
                        std::to_string(counter.fetch_add(1)));
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
    [[nodiscard]] std::filesystem::path operator/(const std::string& name) const {
        return path_ / name;
    }

  private:
    std::filesystem::path path_;
};

/// True when both ranges hold the same bytes (NaN payloads and signed zeros included).
template <class A, class B>
[[nodiscard]] bool same_bits(const A& a, const B& b) {
    using T = typename A::value_type;
    static_assert(std::is_same_v<T, typename B::value_type>);
    if (a.size() != b.size()) return false;
    auto ib = b.begin();
    for (auto ia = a.begin(); ia != a.end(); ++ia, ++ib) {
        const T x = *ia, y = *ib;  // copies: std::vector<bool>-like proxies have no address
        if (std::memcmp(&x, &y, sizeof(T)) != 0) return false;
    }
    return true;
}

/// The names of the entries of `dir`, sorted.
[[nodiscard]] inline std::set<std::string> list_dir(const std::filesystem::path& dir) {
    std::set<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        names.insert(e.path().filename().string());
    return names;
}

/// A whole file's bytes.
[[nodiscard]] inline std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// Writes `bytes` as the whole file `p`.
inline void write_file(const std::filesystem::path& p, const std::string& bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// The message of the ndshard::error `fn` throws, or "" when it throws nothing (any other
/// exception escapes and fails the test).
template <class F>
[[nodiscard]] std::string error_of(F&& fn) {
    try {
        fn();
    } catch (const ndshard::error& e) {
        return e.what();
    }
    return "";
}

/// The parse_error of read_text<T>(file): "<message> @line:field:column".
template <class T>
[[nodiscard]] std::string parse_error_of(const std::filesystem::path& file,
                                         const ndshard::text_read_options& o = {}) {
    try {
        (void)ndshard::read_text<T>(file, o);
    } catch (const ndshard::parse_error& e) {
        return std::string(e.what()) + " @" + std::to_string(e.line()) + ":" +
               std::to_string(e.field()) + ":" + std::to_string(e.column());
    } catch (const ndshard::error& e) {
        return std::string("not a parse_error: ") + e.what();
    }
    return "no error";
}

// Limits the size of any file this process writes, with SIGXFSZ ignored so that a write past the
// limit fails with EFBIG ("File too large") instead of killing the process; restores both.
class file_size_limit {
  public:
    explicit file_size_limit(rlim_t bytes) {
        if (::getrlimit(RLIMIT_FSIZE, &saved_) != 0) throw std::runtime_error("getrlimit failed");
        rlimit lim = saved_;
        lim.rlim_cur = bytes;
        if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) throw std::runtime_error("setrlimit failed");
        old_handler_ = std::signal(SIGXFSZ, SIG_IGN);  // before any write can pass the limit
    }
    file_size_limit(const file_size_limit&) = delete;
    file_size_limit& operator=(const file_size_limit&) = delete;
    ~file_size_limit() {
        ::setrlimit(RLIMIT_FSIZE, &saved_);
        std::signal(SIGXFSZ, old_handler_);
    }

  private:
    rlimit saved_{};
    void (*old_handler_)(int) = SIG_DFL;
};

}  // namespace ndshard_test
