// ndshard/detail/text_source.hpp — the bytes of a text file, read with pread and never mapped: a
// file that is truncated while it is read (numpy.savetxt, pandas.to_csv and a shell '>' all
// truncate in place) ends the read with "the file changed while it was read", where a mapping
// would have killed the process with SIGBUS.
#pragma once

#include <sys/stat.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ndshard/error.hpp"
#include "ndshard/file.hpp"

namespace ndshard::detail {

/// A text file open for reading, with its size, change time and modification time as they were
/// when it was opened. Every read is checked: fewer bytes than the size promised, or another
/// size or time when the read is done, means the file changed while it was read.
///
/// Old spreadsheet CSVs end their lines with a lone '\r'. With `cr_lines`, a file whose first
/// line ends that way and whose first 64 KiB hold no '\n' at all is read with every '\r' turned
/// into '\n' (as numpy's universal newlines read it); files with '\n' or "\r\n" line ends are
/// read as they are ('\r' is a space there), also one with a stray '\r' or "\r\r\n".
class text_source {
  public:
    explicit text_source(file f, bool cr_lines = false) : f_(std::move(f)) {
        (void)f_.size();  // refuses directories and anything but a regular file
        opened_ = status();
        size_ = static_cast<std::uint64_t>(opened_.st_size);  // the size the times go with
        if (cr_lines) cr_ = first_line_ends_in_cr();
    }

    [[nodiscard]] const std::filesystem::path& path() const noexcept { return f_.path(); }
    [[nodiscard]] std::uint64_t size() const noexcept { return size_; }
    /// Whether lines end in a lone '\r' (read as '\n').
    [[nodiscard]] bool cr_lines() const noexcept { return cr_; }

    /// Reads the `n` bytes at `offset` into `buf`.
    void read(std::uint64_t offset, std::size_t n, char* buf) const {
        if (f_.pread_some(buf, n, offset) != n) changed();
        if (cr_) std::replace(buf, buf + n, '\r', '\n');
    }

    /// Fails unless the file still has the size and times it had when it was opened.
    void check_unchanged() const {
        const struct stat now = status();
        if (now.st_size != opened_.st_size || now.st_mtim.tv_sec != opened_.st_mtim.tv_sec ||
            now.st_mtim.tv_nsec != opened_.st_mtim.tv_nsec ||
            now.st_ctim.tv_sec != opened_.st_ctim.tv_sec ||
            now.st_ctim.tv_nsec != opened_.st_ctim.tv_nsec)
            changed();
    }

    [[noreturn]] void changed() const {
        fail("cannot read", path(), "the file changed while it was read");
    }

  private:
    struct stat status() const {
        struct stat st {};
        if (::fstat(f_.fd(), &st) != 0) fail_system("stat", path(), errno);
        return st;
    }

    /// Whether the first line end is a '\r' and the first 64 KiB (or the file) hold no '\n'.
    bool first_line_ends_in_cr() const {
        std::string buf(static_cast<std::size_t>(std::min<std::uint64_t>(size_, 64 << 10)), '\0');
        read(0, buf.size(), buf.data());
        return buf.find('\n') == std::string::npos && buf.find('\r') != std::string::npos;
    }

    file f_;
    std::uint64_t size_ = 0;
    struct stat opened_ {};
    bool cr_ = false;
};

/// The lines of a text source in order from an offset, read through a window that grows to hold
/// the longest line met (so it holds at most that line and 64 KiB).
class line_reader {
  public:
    line_reader(const text_source& src, std::uint64_t offset) : src_(src), at_(offset) {}

    /// The next line, with its '\n' unless it is the last line of a file without one; empty at
    /// the end of the file. Valid until the next call.
    std::string_view next() {
        for (;;) {
            const char* b = buf_.data() + pos_;
            const auto* nl = static_cast<const char*>(std::memchr(b, '\n', filled_ - pos_));
            if (nl || at_ == src_.size()) {
                const std::size_t n = nl ? static_cast<std::size_t>(nl + 1 - b) : filled_ - pos_;
                pos_ += n;
                offset_ += n;
                return {b, n};
            }
            // keep the part of a line read so far, and make room for more of it
            std::memmove(buf_.data(), b, filled_ - pos_);
            filled_ -= pos_;
            pos_ = 0;
            if (filled_ == buf_.size()) buf_.resize(std::max<std::size_t>(64 << 10, 2 * filled_));
            const auto n = static_cast<std::size_t>(
                std::min<std::uint64_t>(buf_.size() - filled_, src_.size() - at_));
            src_.read(at_, n, buf_.data() + filled_);
            filled_ += n;
            at_ += n;
        }
    }
    /// The file offset of the line next() returns next.
    [[nodiscard]] std::uint64_t offset() const noexcept { return offset_; }

  private:
    const text_source& src_;
    std::uint64_t at_;            ///< the file offset read up to
    std::uint64_t offset_ = at_;  ///< the file offset of buf_[pos_]
    std::string buf_;
    std::size_t pos_ = 0, filled_ = 0;
};

/// The start of the first line that begins at or after `offset` (a line start itself when the
/// byte before it ends a line), or `end`. Reads forward in windows that grow with the line.
[[nodiscard]] inline std::uint64_t line_start_at(const text_source& src, std::uint64_t offset,
                                                 std::uint64_t end) {
    std::string buf;
    for (std::uint64_t at = offset - 1; at < end;) {
        buf.resize(static_cast<std::size_t>(
            std::min<std::uint64_t>(end - at, std::max<std::size_t>(4096, buf.size() * 2))));
        src.read(at, buf.size(), buf.data());
        const std::size_t nl = buf.find('\n');
        if (nl != std::string::npos) return at + nl + 1;
        at += buf.size();
    }
    return end;
}

/// Cuts [begin, end) of a source into at most `pieces` ranges that each start at a line start:
/// split_at_lines for a file that is read, not mapped.
[[nodiscard]] inline std::vector<std::uint64_t> split_source_at_lines(const text_source& src,
                                                                      std::uint64_t begin,
                                                                      std::uint64_t end,
                                                                      std::size_t pieces) {
    std::vector<std::uint64_t> cuts{begin};
    const std::uint64_t size = end - begin;
    if (pieces == 0) pieces = 1;
    // where the last search ended: a cut before it lies in a line already passed, so a long line
    // is read once, not once per cut inside it
    std::uint64_t reached = begin;
    for (std::size_t k = 1; k < pieces && reached < end; ++k) {
        const std::uint64_t c = begin + size / pieces * k + size % pieces * k / pieces;
        if (c <= reached) continue;
        reached = line_start_at(src, c, end);
        if (reached < end) cuts.push_back(reached);
    }
    if (end > begin) cuts.push_back(end);
    return cuts;
}

/// The ranges of a text read in its two passes (count, then parse), and their bytes. When
/// `whole`, the count pass reads every range into one buffer for the whole text, which the parse
/// pass then uses as it is: the file is read once. Otherwise each pass reads each range into a
/// buffer of its own, taken from a pool (so a read holds at most one range per thread in memory)
/// and given back when the range is done.
class text_ranges {
  public:
    text_ranges(const text_source& src, std::vector<std::uint64_t> cuts, bool whole)
        : src_(src), cuts_(std::move(cuts)) {
        if (whole && cuts_.size() > 1)
            // uninitialised: the count pass reads every byte into it before anything uses it
            all_.reset(new char[static_cast<std::size_t>(cuts_.back() - cuts_[0])]);
    }

    [[nodiscard]] std::size_t size() const noexcept { return cuts_.size() - 1; }
    [[nodiscard]] const text_source& source() const noexcept { return src_; }

    /// The bytes of range i while this lives: read from the file, unless `again` finds them in the
    /// buffer of the whole text.
    class bytes {
      public:
        bytes(text_ranges& r, std::size_t i, bool again) : r_(r) {
            const std::uint64_t from = r.cuts_[i];
            const auto n = static_cast<std::size_t>(r.cuts_[i + 1] - from);
            if (r.all_) {
                begin_ = r.all_.get() + (from - r.cuts_[0]);
                if (!again) r.src_.read(from, n, begin_);
            } else {
                buf_ = r.take(n);
                begin_ = buf_.data.get();
                r.src_.read(from, n, begin_);
            }
            end_ = begin_ + n;
        }
        bytes(const bytes&) = delete;
        bytes& operator=(const bytes&) = delete;
        ~bytes() {
            if (buf_.data) r_.give(std::move(buf_));
        }
        [[nodiscard]] const char* begin() const noexcept { return begin_; }
        [[nodiscard]] const char* end() const noexcept { return end_; }

      private:
        text_ranges& r_;
        char* begin_ = nullptr;
        char* end_ = nullptr;
        struct buffer {
            std::unique_ptr<char[]> data;
            std::size_t capacity = 0;
        } buf_;
        friend class text_ranges;
    };

  private:
    using buffer = bytes::buffer;
    buffer take(std::size_t n) {
        {
            const std::lock_guard<std::mutex> lock(mutex_);
            for (auto it = free_.begin(); it != free_.end(); ++it) {
                if (it->capacity >= n) {
                    buffer b = std::move(*it);
                    free_.erase(it);
                    return b;
                }
            }
            if (!free_.empty()) free_.pop_back();  // too small: a larger one replaces it
        }
        // uninitialised: every byte is read into before it is used
        return {std::unique_ptr<char[]>(new char[n]), n};
    }
    void give(buffer b) noexcept {
        try {
            const std::lock_guard<std::mutex> lock(mutex_);
            free_.push_back(std::move(b));
        } catch (...) {
            // out of memory: the buffer is freed instead of kept
        }
    }

    const text_source& src_;
    std::vector<std::uint64_t> cuts_;
    std::unique_ptr<char[]> all_;
    std::mutex mutex_;
    std::vector<buffer> free_;
};

}  // namespace ndshard::detail
