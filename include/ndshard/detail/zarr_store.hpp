// ndshard/detail/zarr_store.hpp — a zarr v2 array store on disk: reading any chunk grid into a
// row-major destination by the pool, and writing a store from a row source into a hidden
// directory that then takes the store's place in one atomic step.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "ndshard/detail/codec.hpp"
#include "ndshard/detail/convert.hpp"
#include "ndshard/detail/row_source.hpp"
#include "ndshard/detail/zarr_meta.hpp"
#include "ndshard/dtype.hpp"
#include "ndshard/error.hpp"
#include "ndshard/file.hpp"
#include "ndshard/thread_pool.hpp"

namespace ndshard::detail {

/// Byte buffers lent to the tasks of one call and kept for the next task (never zero-filled), so
/// a store of many chunks costs a few allocations, not one per chunk; freed with the call.
class byte_stock {
  public:
    class lease {
      public:
        explicit lease(byte_stock& s) : stock_(&s) {
            const std::lock_guard<std::mutex> lock(s.mutex_);
            if (!s.free_.empty()) {
                data_ = std::move(s.free_.back().first);
                capacity_ = s.free_.back().second;
                s.free_.pop_back();
            }
        }
        lease(const lease&) = delete;
        lease& operator=(const lease&) = delete;
        ~lease() {
            if (!data_) return;
            const std::lock_guard<std::mutex> lock(stock_->mutex_);
            stock_->free_.emplace_back(std::move(data_), capacity_);
        }
        /// At least `n` bytes.
        unsigned char* get(std::size_t n) {
            if (n > capacity_ || !data_) {
                data_.reset();  // the old buffer first: two large ones at once are not needed
                data_.reset(new unsigned char[std::max<std::size_t>(n, 1)]);
                capacity_ = n;
            }
            return data_.get();
        }

      private:
        byte_stock* stock_;
        std::unique_ptr<unsigned char[]> data_;
        std::size_t capacity_ = 0;
    };

  private:
    std::mutex mutex_;
    std::vector<std::pair<std::unique_ptr<unsigned char[]>, std::size_t>> free_;
};

/// "(3, 4)" for messages.
[[nodiscard]] inline std::string zarr_shape_text(const std::vector<std::size_t>& s) {
    std::string t = "(";
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (i) t += ", ";
        t += std::to_string(s[i]);
    }
    if (s.size() == 1) t += ',';
    return t + ")";
}

/// Reverses the byte order of `n` elements of `size` bytes (a big-endian store on this machine).
inline void swap_bytes(unsigned char* p, std::size_t n, std::size_t size) noexcept {
    for (std::size_t i = 0; i < n; ++i, p += size) {
        if (size == 2) {
            std::uint16_t v;
            std::memcpy(&v, p, 2);
            v = __builtin_bswap16(v);
            std::memcpy(p, &v, 2);
        } else if (size == 4) {
            std::uint32_t v;
            std::memcpy(&v, p, 4);
            v = __builtin_bswap32(v);
            std::memcpy(p, &v, 4);
        } else if (size == 8) {
            std::uint64_t v;
            std::memcpy(&v, p, 8);
            v = __builtin_bswap64(v);
            std::memcpy(p, &v, 8);
        }
    }
}

/// An open zarr array store, held as a directory descriptor with a shared lock on it: every chunk
/// is opened relative to that descriptor, so a save that puts a new store in its place meanwhile
/// changes nothing this reader sees (and does not remove the old store while it is held).
class zarr_reader {
  public:
    explicit zarr_reader(const std::filesystem::path& dir) : dir_(dir) {
        // a save may have just swapped this directory out and be removing it: then it is gone
        // (no links) once our lock is granted, and the path holds the new store
        for (int attempt = 0;; ++attempt) {
            open_directory();
            struct stat st {};
            if (::fstat(fd_, &st) == 0 && st.st_nlink == 0 && attempt < 16) {
                ::close(fd_);
                fd_ = -1;
                continue;
            }
            break;
        }
        try {
            read_metadata();
            check_keys();
        } catch (...) {
            ::close(fd_);
            throw;
        }
    }
    zarr_reader(const zarr_reader&) = delete;
    zarr_reader& operator=(const zarr_reader&) = delete;
    ~zarr_reader() {
        if (fd_ >= 0) ::close(fd_);
    }

    [[nodiscard]] const zarr_meta& meta() const noexcept { return meta_; }
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return dir_; }

    /// Refuses to read elements of type T from a store of another type unless `convert`.
    template <class T>
    void check_type(bool convert) const {
        if (convert || meta_.type.type == dtype_of<T>()) return;
        fail("cannot load", dir_ / zarray_name,
             "expected dtype " + descr_of<T>() + " (" + dtype_name(dtype_of<T>()) + "), found " +
                 meta_.descr + " (" + dtype_name(meta_.type.type) +
                 "): set load_options::convert to convert while reading");
    }

    /// Reads rows [first, last) of the store (the first dimension; everything at rank 0) into
    /// `dest`, row-major, one task per chunk on `pool` (inline when null). Missing chunks are the
    /// fill value. Elements of another type are converted (check_type said it may).
    template <class T>
    void read_rows(std::size_t first, std::size_t last, T* dest, thread_pool* pool) const {
        const zarr_meta& m = meta_;
        if (first >= last) return;
        for (const std::size_t s : m.shape)
            if (s == 0) return;
        if (m.codec != codec_id::none && !codecs().decode)
            fail("cannot load", dir_, codec_missing(m.codec));
        const std::size_t rows_per_chunk = m.rank() ? m.chunks[0] : 1;
        const std::size_t c0 = first / rows_per_chunk;
        const std::size_t c1 = (last - 1) / rows_per_chunk + 1;
        std::size_t inner = 1;  // chunks across the other dimensions
        for (std::size_t d = 1; d < m.rank(); ++d)
            inner *= m.grid[d];
        byte_stock stock;
        const std::size_t tasks = (c1 - c0) * inner;
        std::uint64_t bytes = std::uint64_t{last - first} * sizeof(T);  // the rows', for progress
        for (std::size_t d = 1; d < m.rank(); ++d)
            bytes *= m.shape[d];
        run_tasks(pool, tasks, [&](std::size_t t) {
            std::vector<std::size_t> index(m.rank());
            if (m.rank()) {
                index[0] = c0 + t / inner;
                std::size_t rest = t % inner;
                for (std::size_t d = m.rank(); d-- > 1;) {
                    index[d] = rest % m.grid[d];
                    rest /= m.grid[d];
                }
            }
            read_chunk(index, first, last, dest, stock);
            progress_add(share_of(bytes, tasks, t));
        });
        progress_check();
    }

  private:
    void open_directory() {
        do {
            fd_ = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        } while (fd_ < 0 && errno == EINTR);
        if (fd_ < 0) {
            const int err = errno;
            if (err == ENOENT) fail("cannot open zarr store", dir_, "no such directory");
            if (err == ENOTDIR)
                fail("cannot open zarr store", dir_,
                     "expected a zarr array store (a directory holding .zarray), found a file");
            fail_system("open zarr store", dir_, err);
        }
        while (::flock(fd_, LOCK_SH) != 0) {
            const int err = errno;
            if (err == EINTR) continue;
            // a file system without flock: nothing to coordinate with
            if (err == ENOLCK || err == EINVAL || err == EOPNOTSUPP) break;
            ::close(fd_);
            fd_ = -1;
            fail_system("lock zarr store", dir_, err);
        }
    }

    void read_metadata() {
        const std::filesystem::path shown = dir_ / zarray_name;
        file f = file::open_read_at_if_exists(fd_, zarray_name, shown);
        if (!f.is_open()) {
            struct stat st {};
            if (::fstatat(fd_, ".zgroup", &st, 0) == 0)
                fail("cannot open zarr store", dir_,
                     "expected a zarr array (a directory holding .zarray), found a zarr group "
                     "(.zgroup): open one of its arrays");
            fail("cannot open zarr store", dir_,
                 "expected a zarr array store (a directory holding .zarray), found a directory "
                 "without .zarray");
        }
        const std::uint64_t n = f.size();
        if (n > zarray_max_bytes)
            zarray_fail(shown, "expected at most " + std::to_string(zarray_max_bytes) +
                                   " bytes, found " + std::to_string(n));
        std::string text(static_cast<std::size_t>(n), '\0');
        f.pread_full(text.data(), text.size(), 0);
        meta_ = parse_zarray(text, shown);
    }

    /// A chunk whose key lies outside the grid means .zarray's shape or chunks do not describe
    /// the data (zarr-python removes such chunks when it shrinks an array): refused rather than
    /// silently ignored. Entries that are no chunk keys (.zattrs, other files) are left alone.
    void check_keys() const {
        std::vector<std::string> names;
        scan(fd_, meta_.separator == '/' ? std::max<std::size_t>(meta_.rank(), 1) : 1, "", names);
    }

    /// Checks the keys in the directory open as `dirfd`, `depth` levels of nested keys deep;
    /// `names` holds the key parts of the directories above.
    void scan(int dirfd, std::size_t depth, const std::string& prefix,
              std::vector<std::string>& names) const {
        const int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) fail_system("list zarr store", dir_ / prefix, errno);
        DIR* d = ::fdopendir(fd);
        if (!d) {
            const int err = errno;
            ::close(fd);
            fail_system("list zarr store", dir_ / prefix, err);
        }
        const std::unique_ptr<DIR, int (*)(DIR*)> guard(d, &::closedir);
        std::vector<std::string> entries;
        while (const dirent* e = ::readdir(d)) {
            const std::string_view name = e->d_name;
            if (name.empty() || name[0] == '.') continue;
            entries.emplace_back(name);
        }
        for (const auto& name : entries) {
            if (depth > 1) {
                // nested keys: "3/0/1" is directory 3, directory 0, file 1
                if (!is_index(name)) continue;
                const int sub =
                    ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub < 0) continue;  // a file where a directory of keys would be: no key
                names.push_back(name);
                try {
                    scan(sub, depth - 1, prefix + name + "/", names);
                } catch (...) {
                    ::close(sub);
                    throw;
                }
                ::close(sub);
                names.pop_back();
                continue;
            }
            std::vector<std::string> all = names;
            if (meta_.separator == '.') {
                std::size_t start = 0;
                for (;;) {
                    const std::size_t dot = name.find('.', start);
                    all.push_back(name.substr(start, dot - start));
                    if (dot == std::string::npos) break;
                    start = dot + 1;
                }
            } else {
                all.push_back(name);
            }
            check_key(all, prefix + name);
        }
    }

    [[nodiscard]] static bool is_index(std::string_view s) noexcept {
        if (s.empty() || s.size() > 19) return false;
        for (const char c : s)
            if (c < '0' || c > '9') return false;
        return true;
    }

    void check_key(const std::vector<std::string>& parts, const std::string& key) const {
        std::vector<std::string_view> views(parts.begin(), parts.end());
        std::vector<std::size_t> index;
        if (!parse_chunk_key(views, meta_.rank(), index)) return;
        bool inside = true;
        if (meta_.rank() == 0) {
            inside = index[0] == 0;
        } else {
            for (std::size_t d = 0; d < meta_.rank(); ++d)
                inside = inside && index[d] < meta_.grid[d];
        }
        if (!inside)
            fail("cannot open zarr store", dir_,
                 "found chunk '" + shorten(key, 64) + "' outside the grid of " +
                     zarr_shape_text(meta_.grid) + " chunks that 'shape' " +
                     zarr_shape_text(meta_.shape) + " and 'chunks' " +
                     zarr_shape_text(meta_.chunks) +
                     " give: .zarray does not describe the data it sits beside");
    }

    /// Reads one chunk and puts its part of rows [first, last) in `dest`.
    template <class T>
    void read_chunk(const std::vector<std::size_t>& index, std::size_t first, std::size_t last,
                    T* dest, byte_stock& stock) const {
        const zarr_meta& m = meta_;
        const std::string key = m.key(index);
        const std::filesystem::path shown = dir_ / key;
        file f = file::open_read_at_if_exists(fd_, key, shown);
        const std::size_t row_elems = m.rank() > 1 ? row_size_of(m.shape) : 1;
        const std::size_t rows_per_chunk = m.rank() ? m.chunks[0] : 1;
        const std::size_t origin = m.rank() ? index[0] * rows_per_chunk : 0;
        if (!f.is_open()) {
            visit_dtype(m.type.type, [&](auto tag) {
                using S = typename decltype(tag)::type;
                copy_part<S>(nullptr, index, first, last, dest, shown);
            });
            return;
        }
        const std::uint64_t n = f.size();
        if (m.codec == codec_id::none && n != m.chunk_bytes)
            fail("cannot read zarr chunk", shown,
                 "expected " + std::to_string(m.chunk_bytes) + " bytes (a chunk of shape " +
                     zarr_shape_text(m.chunks) + " of " + dtype_name(m.type.type) + "), found " +
                     std::to_string(n));
        // straight into the destination when the chunk is whole rows, all wanted, stored as T
        const bool direct = !m.fortran && !m.type.swap && m.type.type == dtype_of<T>() &&
                            m.whole_rows() && origin >= first && origin + rows_per_chunk <= last;
        byte_stock::lease packed(stock), plain(stock);
        unsigned char* out =
            direct ? reinterpret_cast<unsigned char*>(dest + (origin - first) * row_elems)
                   : nullptr;
        if (m.codec == codec_id::none) {
            if (!out) out = plain.get(m.chunk_bytes);
            f.pread_full(out, m.chunk_bytes, 0);
        } else {
            unsigned char* in = packed.get(static_cast<std::size_t>(n));
            f.pread_full(in, static_cast<std::size_t>(n), 0);
            codecs().check(m.codec, in, static_cast<std::size_t>(n), m.chunk_bytes, shown);
            if (!out) out = plain.get(m.chunk_bytes);
            codecs().decode(m.codec, in, static_cast<std::size_t>(n), out, m.chunk_bytes, shown);
        }
        if (direct) {
            if constexpr (std::is_same_v<T, bool>)
                normalize_bools(reinterpret_cast<bool*>(out), m.chunk_elements);
            return;
        }
        if (m.type.swap) swap_bytes(out, m.chunk_elements, m.type.type.size);
        if (m.type.type.kind == 'b')
            normalize_bools(reinterpret_cast<bool*>(out), m.chunk_elements);
        visit_dtype(m.type.type, [&](auto tag) {
            using S = typename decltype(tag)::type;
            copy_part<S>(out, index, first, last, dest, shown);
        });
    }

    /// Copies the part of chunk `index` (decoded at `chunk`, elements of S; null: a missing chunk,
    /// the fill value) that lies in rows [first, last) into `dest`, converting S to T.
    template <class S, class T>
    void copy_part(const unsigned char* chunk, const std::vector<std::size_t>& index,
                   std::size_t first, std::size_t last, T* dest,
                   const std::filesystem::path& shown) const {
        const zarr_meta& m = meta_;
        const std::size_t r = m.rank();
        S fill_s;
        std::memcpy(&fill_s, m.fill.data(), sizeof(S));
        T fill_t{};
        if (!chunk && !convert_value(fill_s, fill_t))
            fail("cannot load", shown,
                 "the chunk is missing, and its fill_value " + value_text(fill_s) + " (" +
                     dtype_name(dtype_of<S>()) + ") is not a value " + dtype_name(dtype_of<T>()) +
                     " can hold");
        if (r == 0) {
            if (!chunk) {
                *dest = fill_t;
                return;
            }
            S v;
            std::memcpy(&v, chunk, sizeof v);
            put(v, *dest, {}, shown);
            return;
        }
        std::vector<std::size_t> len(r), sbase(r, 0), dbase(r), sstride(r), dstride(r);
        const std::size_t o0 = index[0] * m.chunks[0];
        const std::size_t lo = std::max(o0, first);
        const std::size_t hi = std::min({o0 + m.chunks[0], m.shape[0], last});
        len[0] = hi - lo;
        sbase[0] = lo - o0;
        dbase[0] = lo - first;
        for (std::size_t d = 1; d < r; ++d) {
            const std::size_t o = index[d] * m.chunks[d];
            len[d] = std::min(m.chunks[d], m.shape[d] - o);
            dbase[d] = o;
        }
        if (m.fortran) {
            sstride[0] = 1;
            for (std::size_t d = 1; d < r; ++d)
                sstride[d] = sstride[d - 1] * m.chunks[d - 1];
        } else {
            sstride[r - 1] = 1;
            for (std::size_t d = r - 1; d-- > 0;)
                sstride[d] = sstride[d + 1] * m.chunks[d + 1];
        }
        dstride[r - 1] = 1;
        for (std::size_t d = r - 1; d-- > 0;)
            dstride[d] = dstride[d + 1] * m.shape[d + 1];
        std::vector<std::size_t> idx(r, 0);
        const std::size_t inner = len[r - 1];
        for (;;) {
            std::size_t soff = 0, doff = 0;
            for (std::size_t d = 0; d < r; ++d) {
                soff += (sbase[d] + idx[d]) * sstride[d];
                doff += (dbase[d] + idx[d]) * dstride[d];
            }
            T* out = dest + doff;
            if (!chunk) {
                std::fill(out, out + inner, fill_t);
            } else if (std::is_same_v<S, T> && sstride[r - 1] == 1) {
                std::memcpy(out, chunk + soff * sizeof(S), inner * sizeof(S));
            } else {
                const std::size_t step = sstride[r - 1];
                for (std::size_t k = 0; k < inner; ++k) {
                    S v;
                    std::memcpy(&v, chunk + (soff + k * step) * sizeof(S), sizeof v);
                    if (!convert_value(v, out[k])) {
                        std::vector<std::size_t> at(r);
                        for (std::size_t d = 0; d < r; ++d)
                            at[d] = index[d] * m.chunks[d] + sbase[d] + idx[d];
                        at[r - 1] += k;
                        put(v, out[k], at, shown);
                    }
                }
            }
            // the next row of the part: an odometer over every dimension but the last
            std::size_t d = r - 1;
            for (;;) {
                if (d == 0) return;
                --d;
                if (++idx[d] < len[d]) break;
                idx[d] = 0;
            }
        }
    }

    /// Converts one element; a value T cannot hold is an error naming its position.
    template <class S, class T>
    void put(S v, T& out, const std::vector<std::size_t>& at,
             const std::filesystem::path& shown) const {
        if (convert_value(v, out)) return;
        fail("cannot load", shown,
             "element " + zarr_shape_text(at) + " holds " + value_text(v) + " (" +
                 dtype_name(dtype_of<S>()) + "), which " + dtype_name(dtype_of<T>()) +
                 " cannot hold");
    }

    std::filesystem::path dir_;
    int fd_ = -1;
    zarr_meta meta_;
};

// ---------------------------------------------------------------------------------------------
// Writing

/// A directory held with an exclusive flock while it is written, so that a concurrent save does
/// not take it for a crashed save's leftover.
class held_directory {
  public:
    /// Locks `dir` exclusively; `wait` false: held() is false when another process holds it.
    held_directory(const std::filesystem::path& dir, bool wait) {
        do {
            fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        } while (fd_ < 0 && errno == EINTR);
        if (fd_ < 0) return;
        for (;;) {
            if (::flock(fd_, wait ? LOCK_EX : LOCK_EX | LOCK_NB) == 0) {
                held_ = true;
                return;
            }
            if (errno == EINTR) continue;
            // no flock on this file system: nothing can be coordinated, only our own names used
            held_ = errno == ENOLCK || errno == EINVAL || errno == EOPNOTSUPP;
            return;
        }
    }
    held_directory(const held_directory&) = delete;
    held_directory& operator=(const held_directory&) = delete;
    ~held_directory() {
        if (fd_ >= 0) ::close(fd_);
    }
    [[nodiscard]] bool held() const noexcept { return held_; }

  private:
    int fd_ = -1;
    bool held_ = false;
};

/// Where a store is written before it takes `target`'s place: ".<name>.ndshard-tmp-<pid>-<n>"
/// beside it (zarr-python lists no names starting with a dot as arrays or groups).
[[nodiscard]] inline std::string zarr_temp_prefix(const std::filesystem::path& target) {
    return "." + target.filename().string() + ".ndshard-tmp-";
}

/// Removes what earlier saves of `target` left beside it (a crash before or after the swap)
/// unless a live save or reader holds it.
inline void remove_zarr_leftovers(const std::filesystem::path& target) {
    const std::string prefix = zarr_temp_prefix(target);
    const std::filesystem::path parent = target.parent_path().empty() ? "." : target.parent_path();
    std::error_code ec;
    std::vector<std::filesystem::path> found;
    for (std::filesystem::directory_iterator it(parent, ec), end; !ec && it != end;
         it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.compare(0, prefix.size(), prefix) == 0) found.push_back(it->path());
    }
    for (const auto& p : found) {
        const held_directory h(p, false);
        if (h.held()) std::filesystem::remove_all(p, ec);
    }
}

/// What a save writes: the store's metadata and how its chunks are compressed.
struct zarr_plan {
    zarr_meta meta;
    encode_params encode;
};

/// Writes rows of `src` as the store `target` (chunks of whole rows, meta.chunks[0] rows each;
/// the last one padded with zeros to the full chunk shape, as zarr-python needs), one task per
/// chunk on `pool`. The store is written into a hidden directory beside `target` that then
/// takes its place atomically (renameat2 RENAME_EXCHANGE), so readers and crashes see the old
/// store or the new one, each whole.
template <class T>
void write_zarr_store(const std::filesystem::path& target, const row_source<T>& src,
                      const zarr_plan& plan, bool sync, thread_pool* pool) {
    const zarr_meta& m = plan.meta;
    if (plan.encode.id != codec_id::none && !codecs().encode)
        fail("cannot save zarr store", target, codec_missing(plan.encode.id));
    if (plan.encode.id == codec_id::blosc && !codecs().blosc_has(plan.encode.cname))
        fail("cannot save zarr store", target,
             std::string("this program's blosc has no ") + plan.encode.cname + " compressor");

    // what is at the target now must be a store (or nothing): ndshard replaces only zarr arrays
    struct stat st {};
    bool exists = false;
    if (::lstat(target.c_str(), &st) == 0) {
        exists = true;
        if (S_ISLNK(st.st_mode))
            fail("cannot save zarr store", target,
                 "expected a zarr array store or nothing, found a symbolic link (save to the "
                 "directory it points to)");
        if (!S_ISDIR(st.st_mode))
            fail("cannot save zarr store", target,
                 "expected a zarr array store or nothing, found a file");
        std::error_code ec;
        const bool has_zarray = std::filesystem::exists(target / zarray_name, ec);
        const bool empty = std::filesystem::is_empty(target, ec);
        if (!has_zarray && !empty)
            fail("cannot save zarr store", target,
                 "expected a zarr array store (a directory holding .zarray) or nothing, found a "
                 "directory without .zarray: ndshard replaces only zarr arrays");
    } else if (errno != ENOENT) {
        fail_system("save zarr store", target, errno);
    }
    const std::filesystem::path parent = target.parent_path().empty() ? "." : target.parent_path();
    if (!exists) {
        // as zarr-python does: the directories above the store are made
        std::error_code ec;
        std::filesystem::create_directories(parent, ec);
        if (ec || !std::filesystem::is_directory(parent, ec))
            fail_system("create directory", parent, ec ? ec.value() : ENOTDIR);
    }
    remove_zarr_leftovers(target);

    static std::atomic<unsigned> counter{0};
    const std::filesystem::path temp =
        parent / (zarr_temp_prefix(target) + std::to_string(::getpid()) + "-" +
                  std::to_string(counter.fetch_add(1)));
    if (::mkdir(temp.c_str(), 0777) != 0) fail_system("create directory", temp, errno);
    try {
        const held_directory writing(temp, true);
        {
            const std::string text = zarray_text(m);
            file f = file::create_new(temp / zarray_name);
            f.pwrite_full(text.data(), text.size(), 0);
            if (sync) f.sync();
            f.close();
        }
        bool empty = false;
        for (const std::size_t s : m.shape)
            empty = empty || s == 0;
        const std::size_t rows = src.rows();
        const std::size_t per = m.rank() ? m.chunks[0] : 1;
        const std::size_t count = empty ? 0 : (rows + per - 1) / per;
        const std::size_t row_elems = src.row_size();
        const std::uint64_t array_bytes = std::uint64_t{rows} * row_elems * sizeof(T);
        byte_stock stock;
        run_tasks(pool, count, [&](std::size_t i) {
            std::vector<std::size_t> index(m.rank(), 0);
            if (m.rank()) index[0] = i;
            const std::size_t r0 = i * per, r1 = std::min(rows, r0 + per);
            file f = file::create_new(temp / m.key(index));
            scratch<T> rows_buffer;
            if (plan.encode.id == codec_id::none) {
                // straight from the array's memory when it is contiguous
                std::uint64_t off = 0;
                for_each_piece(src, r0, r1, rows_buffer, [&](const T* p, std::size_t n) {
                    f.pwrite_full(p, n * sizeof(T), off);
                    off += n * sizeof(T);
                });
                if (off < m.chunk_bytes) f.truncate(m.chunk_bytes);  // the padding: zeros
            } else {
                byte_stock::lease gathered(stock), packed(stock);
                const unsigned char* in = nullptr;
                if (src.contiguous && r1 - r0 == per) {
                    in = reinterpret_cast<const unsigned char*>(src.contiguous + r0 * row_elems);
                } else {
                    unsigned char* buf = gathered.get(m.chunk_bytes);
                    std::size_t off = 0;
                    for_each_piece(src, r0, r1, rows_buffer, [&](const T* p, std::size_t n) {
                        std::memcpy(buf + off, p, n * sizeof(T));
                        off += n * sizeof(T);
                    });
                    std::memset(buf + off, 0, m.chunk_bytes - off);
                    in = buf;
                }
                unsigned char* out = packed.get(codecs().bound(plan.encode, m.chunk_bytes));
                const std::size_t n =
                    codecs().encode(plan.encode, in, m.chunk_bytes, out, temp / m.key(index));
                f.pwrite_full(out, n, 0);
            }
            if (sync) f.sync();
            f.close();
            progress_add(share_of(array_bytes, count, i));
        });
        progress_check();  // before the new store takes the path
        if (sync) sync_directory(temp);
        // the swap: the new store takes the path, the old one (if any) the temporary name
        if (exists) {
            if (::renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) !=
                0) {
                const int err = errno;
                if (err != EINVAL && err != ENOSYS && err != ENOTSUP)
                    throw error("ndshard: cannot exchange " + quoted(temp) + " and " +
                                quoted(target) + ": " + std::strerror(err));
                // no RENAME_EXCHANGE here: two renames (a crash between them leaves the old
                // store under a hidden name beside the path, and nothing at the path)
                const std::filesystem::path old =
                    parent / (zarr_temp_prefix(target) + std::to_string(::getpid()) + "-" +
                              std::to_string(counter.fetch_add(1)));
                atomic_rename(target, old);
                try {
                    atomic_rename(temp, target);
                } catch (...) {
                    std::error_code ec;
                    std::filesystem::rename(old, target, ec);
                    throw;
                }
                std::filesystem::rename(old, temp);
            }
        } else {
            atomic_rename(temp, target);
        }
    } catch (...) {
        std::error_code ec;
        std::filesystem::remove_all(temp, ec);
        throw;
    }
    if (sync) sync_directory(parent);
    if (exists) {
        // the old store, now under the temporary name: removed unless a reader still holds it
        // (a later save removes it then)
        const held_directory h(temp, false);
        std::error_code ec;
        if (h.held()) std::filesystem::remove_all(temp, ec);
    }
}

}  // namespace ndshard::detail
