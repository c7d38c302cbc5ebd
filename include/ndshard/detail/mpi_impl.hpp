// ndshard/detail/mpi_impl.hpp — ndshard::mpi: the collective steps over the single-process layers.
//
// Every collective call is a sequence of phases. In each, every rank does its local work inside
// `attempt` (which turns any exception into a message) and then calls `agree`, which every rank
// reaches whatever happened: when any rank failed, every rank throws the lowest failing rank's
// message. No rank ever throws between two collective MPI calls that others would wait in, so a
// failure on one rank cannot leave the others hanging.
#pragma once

#include <fcntl.h>
#include <mpi.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>
#include <xtensor/xarray.hpp>

#include "ndshard/dataset.hpp"
#include "ndshard/detail/row_source.hpp"
#include "ndshard/dtype.hpp"
#include "ndshard/error.hpp"
#include "ndshard/file.hpp"
#include "ndshard/npy.hpp"
#include "ndshard/npy_file.hpp"
#include "ndshard/tensor_ref.hpp"
#include "ndshard/thread_pool.hpp"
#include "ndshard/xtensor.hpp"

namespace ndshard::mpi {

inline row_range rows_of_rank(MPI_Comm comm, std::size_t rows) {
    int rank = 0, ranks = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &ranks);
    const auto r = static_cast<std::size_t>(rank);
    const std::vector<row_range> split = split_rows(rows, static_cast<std::size_t>(ranks));
    if (r < split.size()) return split[r];
    return {r, rows, rows};
}

namespace detail {

namespace nd = ndshard::detail;

inline int rank_of(MPI_Comm comm) {
    int r = 0;
    MPI_Comm_rank(comm, &r);
    return r;
}

inline int ranks_of(MPI_Comm comm) {
    int n = 1;
    MPI_Comm_size(comm, &n);
    return n;
}

/// MPI's own text for an error code.
inline std::string mpi_error_text(int code) {
    char text[MPI_MAX_ERROR_STRING] = {};
    int len = 0;
    if (MPI_Error_string(code, text, &len) != MPI_SUCCESS)
        return "MPI error " + std::to_string(code);
    return std::string(text, static_cast<std::size_t>(len));
}

/// Runs `fn`; returns "" when it succeeds, else the message of what it threw.
template <class F>
std::string attempt(F&& fn) noexcept {
    try {
        try {
            fn();
            return {};
        } catch (const std::exception& e) {
            const std::string_view what = e.what();
            return what.empty() ? std::string("an exception without a message") : std::string(what);
        } catch (...) {
            return "an exception that is not a std::exception";
        }
    } catch (...) {
        return "out of memory";  // building the message itself failed
    }
}

/// Every rank's outcome of one phase (`message` empty: success). When any rank failed, throws on
/// every rank "ndshard: rank R of N failed: <R's message>", R the lowest failing rank.
inline void agree(MPI_Comm comm, std::string message) {
    constexpr std::size_t max_message = 4096;
    if (message.size() > max_message) message.resize(max_message);
    const int ranks = ranks_of(comm), rank = rank_of(comm);
    int len = static_cast<int>(message.size());
    std::vector<int> lens(static_cast<std::size_t>(ranks));
    MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, comm);
    int first = -1, failed = 0;
    for (int r = 0; r < ranks; ++r) {
        if (lens[static_cast<std::size_t>(r)] == 0) continue;
        if (first < 0) first = r;
        ++failed;
    }
    if (first < 0) return;
    std::string text(static_cast<std::size_t>(lens[static_cast<std::size_t>(first)]), '\0');
    if (rank == first) text = message;
    MPI_Bcast(text.data(), lens[static_cast<std::size_t>(first)], MPI_CHAR, first, comm);
    constexpr std::string_view prefix = "ndshard: ";
    if (text.compare(0, prefix.size(), prefix) == 0) text.erase(0, prefix.size());
    std::string m =
        "ndshard: rank " + std::to_string(first) + " of " + std::to_string(ranks) + " failed";
    if (failed > 1)
        m += " (and " + std::to_string(failed - 1) + " other rank" + (failed > 2 ? "s" : "") + ")";
    throw error(m + ": " + text);
}

/// Sends `s` from rank 0 to every rank (in pieces below INT_MAX bytes).
inline void broadcast(MPI_Comm comm, std::string& s) {
    std::uint64_t n = s.size();
    MPI_Bcast(&n, 1, MPI_UINT64_T, 0, comm);
    s.resize(static_cast<std::size_t>(n));
    constexpr std::uint64_t piece = std::uint64_t{1} << 30;
    for (std::uint64_t done = 0; done < n; done += piece)
        MPI_Bcast(s.data() + done, static_cast<int>(std::min(piece, n - done)), MPI_CHAR, 0, comm);
}

/// Runs `produce` on rank 0 and hands its string to every rank; if it throws, every rank throws.
template <class F>
std::string from_rank0(MPI_Comm comm, F&& produce) {
    std::string payload;
    agree(comm, rank_of(comm) == 0 ? attempt([&] { payload = produce(); }) : std::string());
    broadcast(comm, payload);
    return payload;
}

/// Every rank's `value`, in rank order.
inline std::vector<std::uint64_t> all_values(MPI_Comm comm, std::uint64_t value) {
    std::vector<std::uint64_t> all(static_cast<std::size_t>(ranks_of(comm)));
    MPI_Allgather(&value, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, comm);
    return all;
}

inline std::uint64_t max_value(MPI_Comm comm, std::uint64_t value) {
    std::uint64_t out = 0;
    MPI_Allreduce(&value, &out, 1, MPI_UINT64_T, MPI_MAX, comm);
    return out;
}

/// Every rank's `s`, on rank 0 (empty elsewhere). Each string is sent in pieces below INT_MAX.
inline std::vector<std::string> gather_strings(MPI_Comm comm, const std::string& s) {
    const int rank = rank_of(comm), ranks = ranks_of(comm);
    std::vector<std::uint64_t> sizes(rank == 0 ? static_cast<std::size_t>(ranks) : 0);
    const std::uint64_t n = s.size();
    MPI_Gather(&n, 1, MPI_UINT64_T, sizes.data(), 1, MPI_UINT64_T, 0, comm);
    std::vector<std::string> out;
    constexpr std::uint64_t piece = std::uint64_t{1} << 30;
    if (rank != 0) {
        for (std::uint64_t done = 0; done < n; done += piece)
            MPI_Send(s.data() + done, static_cast<int>(std::min(piece, n - done)), MPI_CHAR, 0, 0,
                     comm);
        return out;
    }
    out.resize(static_cast<std::size_t>(ranks));
    out[0] = s;
    for (int r = 1; r < ranks; ++r) {
        std::string& t = out[static_cast<std::size_t>(r)];
        const std::uint64_t m = sizes[static_cast<std::size_t>(r)];
        t.resize(static_cast<std::size_t>(m));
        for (std::uint64_t done = 0; done < m; done += piece)
            MPI_Recv(t.data() + done, static_cast<int>(std::min(piece, m - done)), MPI_CHAR, r, 0,
                     comm, MPI_STATUS_IGNORE);
    }
    return out;
}

/// How the ranks' rows make one array: every rank's row count, the common row shape, the rows
/// before this rank's and in all.
struct layout {
    std::vector<std::uint64_t> rows;
    std::vector<std::size_t> row_shape;
    std::uint64_t before = 0, total = 0;
};

/// Checks that every rank contributes rows of T elements of one row shape (rank 0's), and
/// gathers their counts. `what` and `target` name the call in errors ("cannot save", dir).
template <class T>
layout agree_layout(MPI_Comm comm, std::string_view what, const std::filesystem::path& target,
                    const std::vector<std::size_t>& shape) {
    agree(comm, attempt([&] {
              if (shape.empty())
                  nd::fail(what, target,
                           "expected this rank's part as an array of rank 1 or more (rows to "
                           "join), found rank 0");
          }));
    layout l;
    l.row_shape.assign(shape.begin() + 1, shape.end());
    const std::string mine = "rows of dtype " + ndshard::descr_of<T>() + " (" +
                             ndshard::dtype_name(ndshard::dtype_of<T>()) + ") and shape " +
                             ndshard::shape_text(l.row_shape);
    std::string first = mine;
    broadcast(comm, first);
    agree(comm, attempt([&] {
              if (mine != first)
                  nd::fail(what, target, "expected " + first + ", as rank 0's, found " + mine);
          }));
    l.rows = all_values(comm, shape[0]);
    const auto rank = static_cast<std::size_t>(rank_of(comm));
    bool fits = true;
    for (std::size_t r = 0; r < l.rows.size(); ++r) {
        if (r < rank) l.before += l.rows[r];
        fits = fits && !__builtin_add_overflow(l.total, l.rows[r], &l.total);
    }
    std::uint64_t bytes = 0;
    fits =
        fits && nd::checked_mul(l.total, std::uint64_t{nd::row_size_of(shape)} * sizeof(T), bytes);
    agree(comm, attempt([&] {
              if (!fits)
                  nd::fail(what, target,
                           "expected the ranks' rows together to fit in 2^63 bytes, found more");
          }));
    return l;
}

/// A shard's manifest entry as rank 0 receives it.
inline nlohmann::json shard_json(const shard_info& s) {
    return {{"path", s.path},
            {"first_row", s.first_row},
            {"last_row", s.last_row},
            {"bytes", s.bytes},
            {"checksum", s.checksum},
            {"block_bytes", s.block_bytes},
            {"block_xxh3", s.block_checksums}};
}

inline shard_info shard_from_json(const nlohmann::json& j) {
    shard_info s;
    s.path = j.at("path").get<std::string>();
    s.first_row = j.at("first_row").get<std::size_t>();
    s.last_row = j.at("last_row").get<std::size_t>();
    s.bytes = j.at("bytes").get<std::uint64_t>();
    s.checksum = j.at("checksum").get<std::string>();
    s.block_bytes = j.at("block_bytes").get<std::uint64_t>();
    s.block_checksums = j.at("block_xxh3").get<std::vector<std::uint64_t>>();
    return s;
}

template <class T>
dataset_info save_rows(MPI_Comm comm, const std::filesystem::path& dir,
                       const nd::row_source<T>& src, const save_options& options) {
    const int rank = rank_of(comm);
    const layout l = agree_layout<T>(comm, "cannot save", dir, src.shape);

    // rank 0 takes the directory's save lock (held until the commit), reads the live manifest,
    // removes what killed saves left and picks the generation
    std::optional<nd::save_session> session;
    std::uint64_t generation = 0;
    nlohmann::json user_attributes;  // checked before anything is written
    agree(comm, rank != 0 ? std::string() : attempt([&] {
              user_attributes = nd::attributes_for(dir, options.attributes, nullptr, "cannot save");
              session.emplace(nd::begin_save(dir, false));
              generation = nd::next_generation(dir, session->live ? &*session->live : nullptr,
                                               session->scan());
          }));
    MPI_Bcast(&generation, 1, MPI_UINT64_T, 0, comm);

    // this rank's shards, numbered after those of the ranks before it
    const std::size_t threads = nd::threads_for(options.threads, options.pool);
    std::vector<row_range> ranges =
        split_rows(src.rows(), options.shards == 0 ? threads : options.shards);
    if (l.total == 0 && rank == 0) ranges.push_back({0, 0, 0});  // one empty shard keeps the shape
    const std::vector<std::uint64_t> counts = all_values(comm, ranges.size());
    std::uint64_t index = 0;
    for (int r = 0; r < rank; ++r)
        index += counts[static_cast<std::size_t>(r)];
    std::vector<shard_info> mine(ranges.size());
    const auto remove_mine = [&] {
        for (const auto& s : mine)
            if (!s.path.empty()) nd::remove_quietly(dir / s.path);
    };
    std::string message = attempt([&] {
        for (std::size_t i = 0; i < ranges.size(); ++i) {
            mine[i].path =
                nd::shard_name(generation, static_cast<std::size_t>(index) + i, options.format);
            mine[i].first_row = static_cast<std::size_t>(l.before) + ranges[i].first_row;
            mine[i].last_row = static_cast<std::size_t>(l.before) + ranges[i].last_row;
        }
        // new shards join the dataset with its manifest's permissions
        const nd::file_attributes attributes = nd::attributes_to_keep(dir / nd::manifest_name);
        nd::with_pool(options.pool, threads, ranges.size(), [&](std::size_t i) {
            nd::write_shard(dir, mine[i], src, ranges[i].first_row, ranges[i].last_row, false,
                            options.format, attributes, options.sync);
        });
    });
    if (!message.empty()) remove_mine();
    try {
        agree(comm, std::move(message));
    } catch (...) {
        remove_mine();  // another rank failed: nothing of this generation is committed
        throw;
    }

    // rank 0 lists every rank's shards in a new manifest and commits it
    std::string list;
    message = attempt([&] {
        nlohmann::json j = nlohmann::json::array();
        for (const auto& s : mine)
            j.push_back(shard_json(s));
        list = j.dump();
    });
    try {
        agree(comm, std::move(message));
    } catch (...) {
        remove_mine();
        throw;
    }
    const std::vector<std::string> lists = gather_strings(comm, list);
    const std::string text = from_rank0(comm, [&] {
        dataset_info info;
        std::vector<int> writer;  // the rank that wrote each shard
        try {
            info.dtype = ndshard::descr_of<T>();
            info.shape = l.row_shape;
            info.shape.insert(info.shape.begin(), static_cast<std::size_t>(l.total));
            info.format = options.format;
            info.generation = generation;
            info.attributes = std::move(user_attributes);
            for (std::size_t r = 0; r < lists.size(); ++r)
                for (const auto& s : nlohmann::json::parse(lists[r])) {
                    info.shards.push_back(shard_from_json(s));
                    writer.push_back(static_cast<int>(r));
                }
            // every shard where rank 0 sees the directory: ranks that wrote into a directory
            // of the same name on a disk of their own would make a manifest of missing files
            for (std::size_t i = 0; i < info.shards.size(); ++i) {
                const shard_info& s = info.shards[i];
                struct stat st {};
                const bool there = ::stat((dir / s.path).c_str(), &st) == 0;
                if (!there || static_cast<std::uint64_t>(st.st_size) != s.bytes)
                    nd::fail("cannot save", dir,
                             "expected shard '" + s.path + "' of " + std::to_string(s.bytes) +
                                 " bytes, written by rank " + std::to_string(writer[i]) +
                                 ", found " +
                                 (there ? std::to_string(st.st_size) + " bytes"
                                        : std::string("no such file")) +
                                 " where rank 0 sees the directory (is it shared by every rank?)");
            }
        } catch (...) {
            for (const shard_info& s : info.shards)
                nd::remove_quietly(dir / s.path);
            throw;
        }
        nd::commit_dataset(dir, info, 0, options.sync);  // on failure, removes every new shard
        return nd::manifest_text(info);
    });
    session.reset();  // the save lock
    dataset_info info;
    agree(comm, attempt([&] { info = nd::parse_manifest_memo(text, dir / nd::manifest_name); }));
    return info;
}

template <class T>
xt::xarray<T> load_rows(MPI_Comm comm, const std::filesystem::path& dir, bool by_rank,
                        std::size_t first, std::size_t last, const load_options& options) {
    // every rank holds the directory's read lock before rank 0 reads the manifest, so no save
    // removes the shards of the generation it lists while any rank reads them
    std::optional<directory_lock> reading;
    agree(comm, attempt([&] { reading.emplace(dir, directory_lock::kind::shared); }));
    const std::string text = from_rank0(comm, [&] { return nd::read_manifest_text(dir); });
    xt::xarray<T> out;
    agree(comm, attempt([&] {
              const dataset_info info = nd::parse_manifest_memo(text, dir / nd::manifest_name);
              nd::check_dtype_for<T>(dir, info, options.convert);
              if (by_rank) {
                  if (info.shape.empty())
                      nd::fail("cannot load rows of", dir,
                               "expected a dataset of rank 1 or more (rows to divide among the "
                               "ranks), found rank 0");
                  const row_range r = rows_of_rank(comm, info.shape[0]);
                  first = r.first_row;
                  last = r.last_row;
              }
              nd::check_row_range("cannot load rows of", dir, info.shape, first, last);
              nd::check_shards(dir, info, first, last);
              std::vector<std::size_t> shape = info.shape;
              shape[0] = last - first;
              out = nd::allocate_array<T>(shape);
              nd::load_range(dir, info, first, last, out.data(), options);
          }));
    return out;
}

/// Bytes per MPI-IO call: counts are int, so a part larger than 2 GiB takes several calls.
inline constexpr std::uint64_t max_io_bytes = std::uint64_t{1} << 30;
/// Elements of a non-contiguous part evaluated at once for a write.
inline constexpr std::uint64_t evaluate_bytes = std::uint64_t{64} << 20;

// Every rank reads and writes one contiguous byte range of the file (no file view, no derived
// datatype): neither MPI-IO implementation takes its data-sieving path for that (where OpenMPI
// 4.1's ompio has had read bugs, open-mpi/ompi #10546); tests/mpi checks uneven, unaligned ranges
// under both ompio and romio321, independent and collective.

/// `k` bytes at `offset`, through `call` (MPI_File_write_at, _read_at or their collective _all
/// forms); a failure is recorded in `message` (first one kept).
template <class Call>
void io_piece(Call call, MPI_File fh, std::uint64_t offset, void* p, std::uint64_t k,
              const std::filesystem::path& file, const char* verb, std::string& message) {
    MPI_Status status;
    const int rc =
        call(fh, static_cast<MPI_Offset>(offset), p, static_cast<int>(k), MPI_BYTE, &status);
    if (!message.empty()) return;
    if (rc != MPI_SUCCESS) {
        message = "ndshard: cannot " + std::string(verb) + " " + nd::quoted(file) + ": " +
                  mpi_error_text(rc);
        return;
    }
    if (k == 0) return;  // ROMIO leaves the status of an empty call undefined
    int got = 0;
    MPI_Get_count(&status, MPI_BYTE, &got);
    if (got < 0 || static_cast<std::uint64_t>(got) != k)
        message = "ndshard: cannot " + std::string(verb) + " " + nd::quoted(file) +
                  ": expected to " + verb + " " + std::to_string(k) + " bytes at offset " +
                  std::to_string(offset) + ", " + (verb[0] == 'w' ? "wrote " : "read ") +
                  std::to_string(got);
}

template <class T>
void write_npy_rows(MPI_Comm comm, const std::filesystem::path& target,
                    const nd::row_source<T>& src, const npy_options& options) {
    const int rank = rank_of(comm);
    const layout l = agree_layout<T>(comm, "cannot write", target, src.shape);
    std::vector<std::size_t> shape = l.row_shape;
    shape.insert(shape.begin(), static_cast<std::size_t>(l.total));
    const std::string header = ndshard::encode_npy_header(ndshard::descr_of<T>(), shape);
    const std::uint64_t row_bytes = std::uint64_t{src.row_size()} * sizeof(T);

    // rank 0 creates the file under a private name beside the target and writes the header
    std::optional<ndshard::file> made;
    const std::string tmp = from_rank0(comm, [&] {
        struct stat st {};
        if (::lstat(target.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
            nd::fail_system("write", target, EISDIR);
        const std::filesystem::path p = nd::temp_path_for(target);
        made.emplace(ndshard::file::create_private(p, target));
        try {
            made->pwrite_full(header.data(), header.size(), 0);
            // the file's blocks, reserved before any rank writes (the size stays the header's,
            // for the size check below): a full disk or quota fails here, on every rank at once,
            // rather than inside MPI-IO, where ompio's collective writes can lose the error
            const std::uint64_t bytes = header.size() + l.total * row_bytes;
            int err = 0;
            do {
                err =
                    ::fallocate(made->fd(), FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(bytes)) == 0
                        ? 0
                        : errno;
            } while (err == EINTR);
            if (err == ENOSPC || err == EDQUOT || err == EFBIG)
                nd::fail_system("write", target, err);
        } catch (...) {
            made.reset();
            nd::remove_quietly(p);
            throw;
        }
        return p.string();
    });
    const auto abandon = [&] {
        if (rank != 0) return;
        made.reset();
        nd::remove_quietly(tmp);
    };

    // every rank sees the file first: MPI_File_open failing on some ranks only hangs the others
    // (ompio), so a path that is not shared by every rank must fail here
    try {
        agree(comm, attempt([&] {
                  if (rank != 0 && ::access(tmp.c_str(), W_OK) != 0)
                      nd::fail("cannot write", target,
                               "expected this rank to see the new file rank 0 made beside it, "
                               "found " +
                                   std::string(std::strerror(errno)) +
                                   " (is the directory shared by every rank?)");
              }));
    } catch (...) {
        abandon();
        throw;
    }
    MPI_File fh = MPI_FILE_NULL;
    const int rc = MPI_File_open(comm, tmp.c_str(), MPI_MODE_WRONLY, options.hints, &fh);
    try {
        agree(comm, rc == MPI_SUCCESS ? std::string()
                                      : "ndshard: cannot write " + nd::quoted(target) + ": " +
                                            mpi_error_text(rc));
    } catch (...) {
        if (fh != MPI_FILE_NULL) MPI_File_close(&fh);
        abandon();
        throw;
    }

    // this rank's elements, in calls of at most max_io_bytes; every rank makes as many calls as
    // the rank that needs most (the others with zero bytes): the calls are collective
    const std::uint64_t elements = l.rows[static_cast<std::size_t>(rank)] * src.row_size();
    const std::uint64_t per_call =
        std::max<std::uint64_t>(1, (src.contiguous ? max_io_bytes : evaluate_bytes) / sizeof(T));
    const std::uint64_t calls = max_value(comm, (elements + per_call - 1) / per_call);
    std::string message;
    nd::scratch<T> buffer;
    const std::uint64_t base = header.size() + l.before * row_bytes;
    for (std::uint64_t c = 0, e = 0; c < calls; ++c) {
        const std::uint64_t n = message.empty() ? std::min(per_call, elements - e) : 0;
        const T* p = nullptr;
        if (n > 0) {
            if (src.contiguous) {
                p = src.contiguous + e;
            } else {
                message = attempt([&] {
                    T* out = buffer.get(static_cast<std::size_t>(n));
                    // a non-contiguous part of rank 1 or more: make_row_source gives fill_flat
                    src.fill_flat(static_cast<std::size_t>(e), static_cast<std::size_t>(n), out);
                    p = out;
                });
            }
        }
        const std::uint64_t k = p ? n * sizeof(T) : 0;
        if (options.collective)
            io_piece(MPI_File_write_at_all, fh, k ? base + e * sizeof(T) : 0, const_cast<T*>(p), k,
                     target, "write", message);
        else if (k > 0)
            io_piece(MPI_File_write_at, fh, base + e * sizeof(T), const_cast<T*>(p), k, target,
                     "write", message);
        e += p ? n : 0;
    }
    if (options.sync) {
        const int sync_rc = MPI_File_sync(fh);  // collective: every rank's data is on disk
        if (sync_rc != MPI_SUCCESS && message.empty())
            message = "ndshard: cannot sync " + nd::quoted(target) + ": " + mpi_error_text(sync_rc);
    }
    const int close_rc = MPI_File_close(&fh);
    if (close_rc != MPI_SUCCESS && message.empty())
        message = "ndshard: cannot write " + nd::quoted(target) + ": " + mpi_error_text(close_rc);
    try {
        agree(comm, std::move(message));
    } catch (...) {
        abandon();
        throw;
    }

    // rank 0 gives it the old file's permissions, renames it over the target and syncs the
    // directory: the rename is the commit
    agree(comm, rank != 0 ? std::string() : attempt([&] {
              try {
                  // what the ranks wrote, counted by the file system: a collective write of ompio
                  // (OpenMPI 4.1.4) has returned success and a full count for data it never wrote
                  const std::uint64_t expected = header.size() + l.total * row_bytes;
                  const std::uint64_t found = made->size();
                  if (found != expected)
                      nd::fail("cannot write", target,
                               "expected " + std::to_string(expected) +
                                   " bytes in the new file once "
                                   "every rank had written, found " +
                                   std::to_string(found) +
                                   " (the MPI-IO library reported no error)");
                  nd::keep_attributes(*made, nd::attributes_to_keep(target));
                  if (options.sync) made->sync();
                  made->close();
                  if (::rename(tmp.c_str(), target.c_str()) != 0)
                      nd::fail_system("write", target, errno);
              } catch (...) {
                  abandon();
                  throw;
              }
              ndshard::sync_directory(target.has_parent_path() ? target.parent_path() : ".");
          }));
}

template <class T>
xt::xarray<T> read_npy(MPI_Comm comm, const std::filesystem::path& path,
                       const npy_options& options) {
    // rank 0 reads the header (and checks the file's size against it); every rank decodes it
    const std::string raw = from_rank0(comm, [&] {
        const ndshard::file f = ndshard::file::open_read(path);
        std::string bytes;
        (void)ndshard::read_npy_header(f, &bytes);
        return bytes;
    });
    npy_header h;
    row_range r;
    xt::xarray<T> out;
    agree(comm, attempt([&] {
              h = ndshard::decode_npy_header(raw, path);
              if (h.type.type != ndshard::dtype_of<T>())
                  nd::fail("cannot read", path,
                           "expected dtype " + ndshard::descr_of<T>() + " (" +
                               ndshard::dtype_name(ndshard::dtype_of<T>()) + "), found " +
                               nd::shorten(h.descr) + " (" + ndshard::dtype_name(h.type.type) +
                               ")");
              if (h.shape.empty())
                  nd::fail("cannot read rows of", path,
                           "expected an array of rank 1 or more (rows to divide among the ranks), "
                           "found rank 0");
              if (h.fortran_order && h.shape.size() > 1)
                  nd::fail("cannot read rows of", path,
                           "expected a C-ordered file, found Fortran order (its rows are not "
                           "contiguous: ndshard::read_npy reads it whole)");
              // every rank sees the file first: MPI_File_open failing on some ranks only hangs
              // the others (ompio), so a path that is not shared by every rank fails here
              if (rank_of(comm) != 0 && ::access(path.c_str(), R_OK) != 0)
                  nd::fail("cannot read", path,
                           "expected this rank to see the file rank 0 read, found " +
                               std::string(std::strerror(errno)) +
                               " (is it on a file system every rank sees?)");
              r = rows_of_rank(comm, h.shape[0]);
              std::vector<std::size_t> shape = h.shape;
              shape[0] = r.rows();
              out = nd::allocate_array<T>(shape);
          }));

    MPI_File fh = MPI_FILE_NULL;
    const int rc = MPI_File_open(comm, path.c_str(), MPI_MODE_RDONLY, options.hints, &fh);
    try {
        agree(comm, rc == MPI_SUCCESS
                        ? std::string()
                        : "ndshard: cannot read " + nd::quoted(path) + ": " + mpi_error_text(rc));
        // the file every rank opened is the one rank 0 read the header of: same header bytes,
        // same size (an atomic replace in between would pair one file's header with another's
        // data)
        std::string again(raw.size(), '\0');
        MPI_Offset size = 0;
        MPI_Status status;
        int got = -1;
        const bool same = MPI_File_get_size(fh, &size) == MPI_SUCCESS &&
                          static_cast<std::uint64_t>(size) == h.data_offset + h.data_bytes() &&
                          MPI_File_read_at(fh, 0, again.data(), static_cast<int>(again.size()),
                                           MPI_BYTE, &status) == MPI_SUCCESS &&
                          MPI_Get_count(&status, MPI_BYTE, &got) == MPI_SUCCESS &&
                          static_cast<std::size_t>(got) == raw.size() && again == raw;
        agree(comm, same ? std::string()
                         : "ndshard: cannot read " + nd::quoted(path) +
                               ": the file changed while the ranks opened it (replaced by another "
                               "writer?): read it again");
    } catch (...) {
        if (fh != MPI_FILE_NULL) MPI_File_close(&fh);
        throw;
    }
    const std::uint64_t bytes = std::uint64_t{out.size()} * sizeof(T);
    const std::uint64_t base =
        h.data_offset + std::uint64_t{r.first_row} * nd::row_size_of(h.shape) * sizeof(T);
    const std::uint64_t calls = max_value(comm, (bytes + max_io_bytes - 1) / max_io_bytes);
    std::string message;
    auto* dest = reinterpret_cast<char*>(out.data());
    for (std::uint64_t c = 0, done = 0; c < calls; ++c) {
        const std::uint64_t k = message.empty() ? std::min(max_io_bytes, bytes - done) : 0;
        if (options.collective)
            io_piece(MPI_File_read_at_all, fh, k ? base + done : 0, k ? dest + done : nullptr, k,
                     path, "read", message);
        else if (k > 0)
            io_piece(MPI_File_read_at, fh, base + done, dest + done, k, path, "read", message);
        done += k;
    }
    const int close_rc = MPI_File_close(&fh);
    if (close_rc != MPI_SUCCESS && message.empty())
        message = "ndshard: cannot read " + nd::quoted(path) + ": " + mpi_error_text(close_rc);
    agree(comm, std::move(message));
    if (h.type.swap) nd::byteswap_elements(out.data(), out.size());
    if constexpr (std::is_same_v<T, bool>) nd::normalize_bools(out.data(), out.size());
    return out;
}

}  // namespace detail

template <class E>
dataset_info save(MPI_Comm comm, const std::filesystem::path& dir, const xt::xexpression<E>& local,
                  const save_options& options) {
    return detail::save_rows(comm, dir, ndshard::detail::make_row_source(local.derived_cast()),
                             options);
}

template <class T>
xt::xarray<T> load(MPI_Comm comm, const std::filesystem::path& dir, const load_options& options) {
    return detail::load_rows<T>(comm, dir, true, 0, 0, options);
}

template <class T>
xt::xarray<T> load_rows(MPI_Comm comm, const std::filesystem::path& dir, std::size_t first,
                        std::size_t last, const load_options& options) {
    return detail::load_rows<T>(comm, dir, false, first, last, options);
}

template <class E>
void write_npy(MPI_Comm comm, const std::filesystem::path& file, const xt::xexpression<E>& local) {
    write_npy(comm, file, local, npy_options{});
}

template <class E>
void write_npy(MPI_Comm comm, const std::filesystem::path& file, const xt::xexpression<E>& local,
               const npy_options& options) {
    detail::write_npy_rows(comm, file, ndshard::detail::make_row_source(local.derived_cast()),
                           options);
}

template <class T>
xt::xarray<T> read_npy(MPI_Comm comm, const std::filesystem::path& file) {
    return detail::read_npy<T>(comm, file, npy_options{});
}

template <class T>
xt::xarray<T> read_npy(MPI_Comm comm, const std::filesystem::path& file,
                       const npy_options& options) {
    return detail::read_npy<T>(comm, file, options);
}

}  // namespace ndshard::mpi
