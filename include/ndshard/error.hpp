// ndshard/error.hpp — the one exception type every ndshard failure throws.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ndshard {

/// Every failure in ndshard throws `ndshard::error` (or a subclass). Its message names the file,
/// what was expected and what was found; system failures add the system's own text (strerror).
class error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// A failure while parsing text: the message has the file, the 1-based line, field and byte
/// column, what was expected and what was found. `line()`, `field()` and `column()` give the
/// position to programs (`column()` counts bytes from the start of the line; `field()` counts
/// the line's fields, an embedding's word included, as its delimiters separate them).
class parse_error : public error {
  public:
    parse_error(const std::string& message, std::size_t line, std::size_t column,
                std::size_t field = 0)
        : error(message), line_(line), column_(column), field_(field) {}
    [[nodiscard]] std::size_t line() const noexcept { return line_; }
    [[nodiscard]] std::size_t column() const noexcept { return column_; }
    [[nodiscard]] std::size_t field() const noexcept { return field_; }

  private:
    std::size_t line_;
    std::size_t column_;
    std::size_t field_;
};

namespace detail {

/// a * b, or false when the product does not fit in 63 bits (sizes and offsets stay valid off_t).
[[nodiscard]] inline bool checked_mul(std::uint64_t a, std::uint64_t b,
                                      std::uint64_t& out) noexcept {
    return !__builtin_mul_overflow(a, b, &out) && out <= static_cast<std::uint64_t>(INT64_MAX);
}

/// `'path'` as it appears in every message.
inline std::string quoted(const std::filesystem::path& p) {
    return "'" + p.string() + "'";
}

/// "ndshard: <what> 'file': <detail>"
[[noreturn]] inline void fail(std::string_view what, const std::filesystem::path& file,
                              std::string_view detail) {
    std::string m = "ndshard: ";
    m += what;
    m += ' ';
    m += quoted(file);
    if (!detail.empty()) {
        m += ": ";
        m += detail;
    }
    throw error(m);
}

/// A failed system call: "ndshard: cannot <op> 'file': <strerror(err)>".
[[noreturn]] inline void fail_system(std::string_view op, const std::filesystem::path& file,
                                     int err) {
    fail("cannot " + std::string(op), file, std::strerror(err));
}

/// A value shortened for messages: at most `max` bytes, with "..." when cut; control bytes
/// shown as '?', so hostile input cannot corrupt a terminal or a log line.
inline std::string shorten(std::string_view s, std::size_t max = 32) {
    std::string out;
    const std::size_t n = s.size() > max ? max : s.size();
    out.reserve(n + 3);
    for (std::size_t i = 0; i < n; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        out += (c < 0x20 || c == 0x7f) ? '?' : s[i];
    }
    if (s.size() > max) out += "...";
    return out;
}

}  // namespace detail
}  // namespace ndshard
