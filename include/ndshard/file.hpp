// ndshard/file.hpp — RAII descriptors, full pread/pwrite loops, fsync, atomic rename, mmap.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ndshard/error.hpp"

namespace ndshard {

/// An open file descriptor that closes itself. Every I/O call loops until the whole request is
/// done (EINTR and short transfers are retried) and throws `ndshard::error` naming the file.
class file {
  public:
    file() = default;
    file(const file&) = delete;
    file& operator=(const file&) = delete;
    file(file&& o) noexcept
        : fd_(std::exchange(o.fd_, -1)),
          path_(std::move(o.path_)),
          created_mode_(o.created_mode_) {}
    file& operator=(file&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
            path_ = std::move(o.path_);
            created_mode_ = o.created_mode_;
        }
        return *this;
    }
    ~file() { reset(); }

    /// Opens an existing file for reading. The open itself never blocks (a FIFO without a writer
    /// would hang it); `size()` then refuses anything but a regular file.
    [[nodiscard]] static file open_read(const std::filesystem::path& p) {
        return file(p, O_RDONLY | O_NONBLOCK, 0, "open for reading");
    }
    /// Like open_read, but a symbolic link is refused instead of followed (O_NOFOLLOW): files
    /// inside a dataset directory are opened this way, so no entry can lead out of it. `what`
    /// words the failure: "cannot <what> 'p': ...".
    [[nodiscard]] static file open_read_nofollow(const std::filesystem::path& p,
                                                 const char* what = "open for reading") {
        return file(p, O_RDONLY | O_NONBLOCK | O_NOFOLLOW, 0, what);
    }
    /// Opens `name`, relative to the directory open as `dirfd`, for reading without following a
    /// final symbolic link (as open_read_nofollow); a file that is not open (is_open() false)
    /// when there is no such file. Messages name `shown`.
    [[nodiscard]] static file open_read_at_if_exists(int dirfd, const std::filesystem::path& name,
                                                     const std::filesystem::path& shown) {
        return file(name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW, 0, "open for reading", shown, dirfd,
                    true);
    }
    /// Creates (or truncates) a file for writing, mode 0644 before the umask.
    [[nodiscard]] static file create(const std::filesystem::path& p) {
        return file(p, O_WRONLY | O_CREAT | O_TRUNC, 0644, "create");
    }
    /// Creates a file that must not exist yet.
    [[nodiscard]] static file create_new(const std::filesystem::path& p) {
        return file(p, O_WRONLY | O_CREAT | O_EXCL, 0644, "create");
    }
    /// Creates a file that must not exist yet, readable and writable by its owner alone until it
    /// is written: it is created as any new file (0666 before the umask, or the directory's
    /// default ACL), that mode is kept in created_mode(), and it is then narrowed to 0600 while
    /// still empty; detail::keep_attributes sets its final permissions. Every error message
    /// names `shown`: the caller asked to write `shown` and may never have heard of `p`, a
    /// private temporary name for it.
    [[nodiscard]] static file create_private(const std::filesystem::path& p,
                                             const std::filesystem::path& shown) {
        file f(p, O_WRONLY | O_CREAT | O_EXCL, 0666, "create", shown);
        struct stat st {};
        if (::fstat(f.fd_, &st) == 0) f.created_mode_ = st.st_mode & 07777;
        // refused on some file systems (FUSE, vfat): the file holds nothing yet
        (void)::fchmod(f.fd_, 0600);
        return f;
    }
    [[nodiscard]] static file create_private(const std::filesystem::path& p) {
        return create_private(p, p);
    }

    [[nodiscard]] int fd() const noexcept { return fd_; }
    /// The mode a file made by create_private had when it was created (0666 & ~umask, or what
    /// the directory's default ACL gave it).
    [[nodiscard]] mode_t created_mode() const noexcept { return created_mode_; }
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
    [[nodiscard]] bool is_open() const noexcept { return fd_ >= 0; }

    /// The file's size in bytes.
    [[nodiscard]] std::uint64_t size() const {
        struct stat st {};
        if (::fstat(fd_, &st) != 0) detail::fail_system("stat", path_, errno);
        // a directory opens for reading but cannot be read: say so in the system's words
        if (S_ISDIR(st.st_mode)) detail::fail_system("read", path_, EISDIR);
        if (!S_ISREG(st.st_mode)) detail::fail("cannot read", path_, "not a regular file");
        return static_cast<std::uint64_t>(st.st_size);
    }

    /// Reads exactly `n` bytes at `offset`; a file that ends first is an error that says how many
    /// bytes were expected and how many were there.
    void pread_full(void* buf, std::size_t n, std::uint64_t offset) const {
        const std::size_t got = pread_some(buf, n, offset);
        if (got != n) {
            detail::fail("unexpected end of file", path_,
                         "expected " + std::to_string(n) + " bytes at offset " +
                             std::to_string(offset) + ", found " + std::to_string(got));
        }
    }

    /// Reads up to `n` bytes at `offset`, stopping early only at end of file; returns the count.
    std::size_t pread_some(void* buf, std::size_t n, std::uint64_t offset) const {
        auto* p = static_cast<char*>(buf);
        std::size_t done = 0;
        while (done < n) {
            const std::size_t ask = std::min<std::size_t>(n - done, max_io);
            const ssize_t r = ::pread(fd_, p + done, ask, static_cast<off_t>(offset + done));
            if (r < 0) {
                if (errno == EINTR) continue;
                detail::fail_system("read", path_, errno);
            }
            if (r == 0) break;
            done += static_cast<std::size_t>(r);
        }
        return done;
    }

    /// Writes exactly `n` bytes at `offset`. A full disk or a file-size limit is an error with the
    /// system's reason ("No space left on device", "File too large").
    void pwrite_full(const void* buf, std::size_t n, std::uint64_t offset) const {
        const auto* p = static_cast<const char*>(buf);
        std::size_t done = 0;
        while (done < n) {
            const std::size_t ask = std::min<std::size_t>(n - done, max_io);
            const ssize_t r = ::pwrite(fd_, p + done, ask, static_cast<off_t>(offset + done));
            if (r < 0) {
                if (errno == EINTR) continue;
                detail::fail_system("write", path_, errno);
            }
            // a write that makes no progress would loop forever: the disk is full
            if (r == 0) detail::fail_system("write", path_, ENOSPC);
            done += static_cast<std::size_t>(r);
        }
    }

    /// Sets the file's length (the bytes become zeros or are cut).
    void truncate(std::uint64_t n) const {
        while (::ftruncate(fd_, static_cast<off_t>(n)) != 0) {
            if (errno != EINTR) detail::fail_system("resize", path_, errno);
        }
    }

    /// Flushes data and metadata to the device.
    void sync() const {
        while (::fsync(fd_) != 0) {
            if (errno != EINTR) detail::fail_system("sync", path_, errno);
        }
    }

    /// Closes now and reports a failure (a deferred write error surfaces here on some systems).
    void close() {
        if (fd_ < 0) return;
        const int fd = std::exchange(fd_, -1);
        if (::close(fd) != 0 && errno != EINTR) detail::fail_system("close", path_, errno);
    }

    /// Largest single read or write issued to the kernel.
    static constexpr std::size_t max_io = std::size_t{1} << 30;

  private:
    file(const std::filesystem::path& p, int flags, mode_t mode, const char* what)
        : file(p, flags, mode, what, p) {}
    file(const std::filesystem::path& p, int flags, mode_t mode, const char* what,
         const std::filesystem::path& shown, int dirfd = AT_FDCWD, bool missing_ok = false)
        : path_(shown) {
        do {
            // open, not openat, for plain paths: the fault tests interpose open
            fd_ = dirfd == AT_FDCWD ? ::open(p.c_str(), flags | O_CLOEXEC, mode)
                                    : ::openat(dirfd, p.c_str(), flags | O_CLOEXEC, mode);
        } while (fd_ < 0 && errno == EINTR);
        if (fd_ < 0) {
            const int err = errno;
            if (missing_ok && err == ENOENT) return;
            struct stat st {};
            // O_NOFOLLOW reports a link as ELOOP ("Too many levels of symbolic links"): say what
            // really happened
            if (err == ELOOP && (flags & O_NOFOLLOW) &&
                ::fstatat(dirfd, p.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
                detail::fail("cannot " + std::string(what), shown,
                             "it is a symbolic link, and ndshard does not follow links inside a "
                             "dataset directory");
            detail::fail_system(what, shown, err);
        }
        if (flags & O_NONBLOCK) {
            // O_NONBLOCK only kept the open from waiting for a FIFO's writer: I/O blocks again
            const int fl = ::fcntl(fd_, F_GETFL);
            if (fl < 0 || ::fcntl(fd_, F_SETFL, fl & ~O_NONBLOCK) != 0) {
                const int err = errno;
                reset();
                detail::fail_system(what, shown, err);
            }
        }
    }
    void reset() noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

    int fd_ = -1;
    std::filesystem::path path_;
    mode_t created_mode_ = 0600;
};

/// Renames `from` to `to` atomically, replacing `to`.
inline void atomic_rename(const std::filesystem::path& from, const std::filesystem::path& to) {
    if (::rename(from.c_str(), to.c_str()) != 0) {
        const int err = errno;
        // not detail::fail: its "'from': detail" would read "cannot rename 'a': to 'b': ..."
        throw error("ndshard: cannot rename " + detail::quoted(from) + " to " + detail::quoted(to) +
                    ": " + std::strerror(err));
    }
}

/// Makes a directory's entries (creations, renames, removals) durable.
inline void sync_directory(const std::filesystem::path& dir) {
    int fd;
    do {
        fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) detail::fail_system("open directory", dir, errno);
    int rc;
    do {
        rc = ::fsync(fd);
    } while (rc != 0 && errno == EINTR);
    const int err = errno;
    ::close(fd);
    // some file systems cannot sync a directory; their entries are as durable as they get
    if (rc != 0 && err != EINVAL && err != ENOTSUP) detail::fail_system("sync directory", dir, err);
}

/// A read-only memory map of a whole file (an empty file maps to no bytes). Reading a page past
/// the end of a file that another process truncated while it is mapped raises SIGBUS: ndshard's
/// own readers therefore use pread, and whoever maps must keep the file from being truncated.
class mapped_file {
  public:
    mapped_file() = default;
    explicit mapped_file(const std::filesystem::path& p) : mapped_file(file::open_read(p)) {}
    /// Maps a file already open for reading (for example one opened without following links).
    explicit mapped_file(file f) : file_(std::move(f)) {
        const std::uint64_t n = file_.size();
        size_ = static_cast<std::size_t>(n);
        if (size_ == 0) return;
        void* m = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, file_.fd(), 0);
        if (m == MAP_FAILED) detail::fail_system("map", file_.path(), errno);
        data_ = static_cast<const char*>(m);
    }
    mapped_file(const mapped_file&) = delete;
    mapped_file& operator=(const mapped_file&) = delete;
    mapped_file(mapped_file&& o) noexcept
        : file_(std::move(o.file_)),
          data_(std::exchange(o.data_, nullptr)),
          size_(std::exchange(o.size_, 0)) {}
    mapped_file& operator=(mapped_file&& o) noexcept {
        if (this != &o) {
            unmap();
            file_ = std::move(o.file_);
            data_ = std::exchange(o.data_, nullptr);
            size_ = std::exchange(o.size_, 0);
        }
        return *this;
    }
    ~mapped_file() { unmap(); }

    [[nodiscard]] const char* data() const noexcept { return data_; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return file_.path(); }
    /// Hints that the map will be read front to back.
    void advise_sequential() const noexcept {
        if (data_) ::madvise(const_cast<char*>(data_), size_, MADV_SEQUENTIAL);
    }

  private:
    void unmap() noexcept {
        if (data_) ::munmap(const_cast<char*>(data_), size_);
        data_ = nullptr;
        size_ = 0;
    }
    file file_;
    const char* data_ = nullptr;
    std::size_t size_ = 0;
};

/// An exclusive advisory lock (flock) on a lock file, held until destruction. Two saves into one
/// dataset take turns instead of interleaving. The lock file is never followed if it is a
/// symbolic link (someone could plant one to make ndshard open another file for writing). It
/// holds no bytes: it is created as any new file (0666 before the umask). It is opened for
/// writing, though flock needs no more than reading, so that a save without write permission
/// stops here, at once, naming the lock file.
///
/// A thread that already holds a lock file (a dataset_writer it has not committed) and asks for
/// it again would wait for itself forever: that is an error instead.
class file_lock {
  public:
    explicit file_lock(const std::filesystem::path& p) {
        do {
            fd_ = ::open(p.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666);
        } while (fd_ < 0 && errno == EINTR);
        if (fd_ < 0) detail::fail_system("open lock file", p, errno);
        struct stat st {};
        if (::fstat(fd_, &st) != 0) {
            const int err = errno;
            ::close(fd_);
            detail::fail_system("stat lock file", p, err);
        }
        id_ = {st.st_dev, st.st_ino};
        if (held_here(id_)) {
            ::close(fd_);
            detail::fail("cannot lock", p,
                         "expected a lock this thread does not hold, found it held by this "
                         "thread (a dataset_writer of the same directory not yet committed or "
                         "destroyed): waiting would never end");
        }
        while (::flock(fd_, LOCK_EX) != 0) {
            if (errno != EINTR) {
                const int err = errno;
                ::close(fd_);
                detail::fail_system("lock", p, err);
            }
        }
        const std::lock_guard<std::mutex> lock(registry_mutex());
        registry().push_back({id_, std::this_thread::get_id()});
    }
    file_lock(const file_lock&) = delete;
    file_lock& operator=(const file_lock&) = delete;
    ~file_lock() {
        {
            const std::lock_guard<std::mutex> lock(registry_mutex());
            auto& r = registry();
            for (auto it = r.begin(); it != r.end(); ++it)
                if (it->first == id_) {
                    r.erase(it);
                    break;
                }
        }
        ::close(fd_);
    }

  private:
    using file_id = std::pair<dev_t, ino_t>;
    /// The lock files this process holds, and the thread that took each.
    static std::vector<std::pair<file_id, std::thread::id>>& registry() {
        static std::vector<std::pair<file_id, std::thread::id>> held;
        return held;
    }
    static std::mutex& registry_mutex() {
        static std::mutex m;
        return m;
    }
    static bool held_here(const file_id& id) {
        const std::lock_guard<std::mutex> lock(registry_mutex());
        for (const auto& [f, t] : registry())
            if (f == id && t == std::this_thread::get_id()) return true;
        return false;
    }

    int fd_ = -1;
    file_id id_{};
};

/// An advisory lock (flock) on a directory itself, held until destruction. Loads hold it shared
/// while they read a dataset; a save asks for it exclusively, without waiting, only to remove
/// files that no manifest lists any more. A directory needs no write permission to be locked,
/// so read-only datasets load as before.
class directory_lock {
  public:
    enum class kind {
        shared,            ///< waits while an exclusive holder removes files (a moment)
        exclusive_if_free  ///< never waits: `held()` is false when anyone holds it
    };
    directory_lock(const std::filesystem::path& dir, kind k) {
        do {
            fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        } while (fd_ < 0 && errno == EINTR);
        if (fd_ < 0) {
            // no such directory: a reader has nothing to lock, and reading the manifest will
            // say what is missing in the words callers know
            if (k == kind::shared && (errno == ENOENT || errno == ENOTDIR)) return;
            detail::fail_system("open directory", dir, errno);
        }
        const int op = k == kind::shared ? LOCK_SH : LOCK_EX | LOCK_NB;
        for (;;) {
            if (::flock(fd_, op) == 0) {
                held_ = true;
                break;
            }
            const int err = errno;
            if (err == EINTR) continue;
            // held elsewhere; or a file system without flock, where nothing can be coordinated
            if (err == EWOULDBLOCK || err == ENOLCK || err == EINVAL || err == EOPNOTSUPP) break;
            ::close(fd_);
            detail::fail_system("lock directory", dir, err);
        }
    }
    directory_lock(const directory_lock&) = delete;
    directory_lock& operator=(const directory_lock&) = delete;
    ~directory_lock() { ::close(fd_); }

    /// Whether the lock is held.
    [[nodiscard]] bool held() const noexcept { return held_; }

  private:
    int fd_ = -1;
    bool held_ = false;
};

namespace detail {

/// A name beside `target` that no other writer uses: "<name>.tmp-<pid>-<counter>".
inline std::filesystem::path temp_path_for(const std::filesystem::path& target) {
    static std::atomic<unsigned> counter{0};
    auto p = target;
    p += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
    return p;
}

/// Removes a file if it exists, ignoring failure (cleanup on an error path).
inline void remove_quietly(const std::filesystem::path& p) noexcept {
    std::error_code ec;
    std::filesystem::remove(p, ec);
}

/// What a file written in place of another takes from it.
struct file_attributes {
    bool replaces = false;  ///< there is a file to take them from
    mode_t mode = 0;        ///< its permission bits
    uid_t uid = 0;
    gid_t gid = 0;
    std::string acl;  ///< its access ACL (the system.posix_acl_access attribute), if it has one
};

/// The attributes a new file replacing `target` keeps: the permission bits of the file there
/// (set-user-ID and set-group-ID excepted: the contents are new), its access ACL, its group and,
/// when running as root, its owner. With no file there, or a symbolic link (a rename replaces the
/// link, not the file it points to), none: the new file keeps the mode it was created with.
inline file_attributes attributes_to_keep(const std::filesystem::path& target) {
    file_attributes a;
    struct stat st {};
    if (::lstat(target.c_str(), &st) != 0 || S_ISLNK(st.st_mode)) return a;
    a.replaces = true;
    a.mode = st.st_mode & 0777;
    a.uid = st.st_uid;
    a.gid = st.st_gid;
    for (;;) {
        const ssize_t n = ::lgetxattr(target.c_str(), "system.posix_acl_access", nullptr, 0);
        if (n <= 0) break;  // none, or no ACLs on this file system
        a.acl.resize(static_cast<std::size_t>(n));
        const ssize_t m =
            ::lgetxattr(target.c_str(), "system.posix_acl_access", a.acl.data(), a.acl.size());
        if (m >= 0) {
            a.acl.resize(static_cast<std::size_t>(m));
            break;
        }
        a.acl.clear();
        if (errno != ERANGE) break;  // ERANGE: it grew meanwhile, ask again
    }
    return a;
}

/// The permission bits for a file whose group could not be kept: the group bits would then
/// apply to another group, which gets no more than everyone else had.
[[nodiscard]] constexpr mode_t mode_for_another_group(mode_t mode) noexcept {
    const mode_t group = (mode >> 3) & 7, other = mode & 7;
    return (mode & ~mode_t{070}) | ((group & other) << 3);
}

/// Gives `f` (made by file::create_private) the attributes `a`, as far as the system allows and
/// never more widely readable than the file it replaces (cp -p's rule): a group that cannot be
/// kept gets no more than others had, and an ACL that cannot be copied leaves the owner alone.
/// Permission changes a file system refuses (some FUSE mounts) leave the file private.
inline void keep_attributes(const file& f, const file_attributes& a) {
    if (!a.replaces) {
        (void)::fchmod(f.fd(), f.created_mode());
        return;
    }
    // only root can give a file away; others may set a group they belong to
    const bool group_kept =
        ::fchown(f.fd(), ::geteuid() == 0 ? a.uid : static_cast<uid_t>(-1), a.gid) == 0;
    mode_t mode = group_kept ? a.mode : mode_for_another_group(a.mode);
    if (!a.acl.empty()) {
        // with an ACL, the group bits are its mask, not the group's rights: copy the ACL itself
        // (which sets the mode bits too), or keep the owner's rights alone
        if (group_kept &&
            ::fsetxattr(f.fd(), "system.posix_acl_access", a.acl.data(), a.acl.size(), 0) == 0)
            return;
        mode &= 0700;
    }
    (void)::fchmod(f.fd(), mode);
}

/// Writes `target` whole or not at all: `fill(f)` writes a new file under a private name beside
/// it, readable by its owner alone; it then gets the attributes of the file it replaces (see
/// attributes_to_keep), is fsynced (when `sync`), closed and renamed over `target`. On any error
/// the new file is removed and the error rethrown. With `name_target`, errors about the new file
/// name `target` (the caller never heard of the private name); a failed rename always does. A
/// symbolic link at `target` is replaced by the new file, and the file it pointed to is left as
/// it was; so is any hard link to the old file.
template <class F>
void write_atomically(const std::filesystem::path& target, bool sync, bool name_target, F&& fill) {
    struct stat st {};
    // the rename would refuse a directory too, but only after everything was written
    if (::lstat(target.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
        fail_system("write", target, EISDIR);
    const auto tmp = temp_path_for(target);
    file f = file::create_private(tmp, name_target ? target : tmp);
    try {
        fill(static_cast<const file&>(f));
        keep_attributes(f, attributes_to_keep(target));  // before the fsync makes them durable
        if (sync) f.sync();
        f.close();
        if (::rename(tmp.c_str(), target.c_str()) != 0) fail_system("write", target, errno);
    } catch (...) {
        remove_quietly(tmp);
        throw;
    }
}

}  // namespace detail
}  // namespace ndshard
