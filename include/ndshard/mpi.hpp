// ndshard/mpi.hpp — one dataset or one .npy file written and read by every rank of an MPI job.
//
// Not part of <ndshard/ndshard.hpp>: include it where MPI is used, and link `ndshard::mpi`
// (`find_package(ndshard REQUIRED COMPONENTS mpi)`), which brings MPI::MPI_CXX.
//
//   rank 0: rows [0, 4)  ──┐   part-000007-00000.npy  part-000007-00001.npy   (rank 0's threads)
//   rank 1: rows [4, 4)    ├─> (no rows, no shard)
//   rank 2: rows [4, 9)  ──┘   part-000007-00002.npy  part-000007-00003.npy   (rank 2's threads)
//                              manifest.json: committed by rank 0 once every rank has written
//
// Every function here is collective: every rank of `comm` calls it, with the same directory or
// file and the same options (they decide which collective MPI calls are made); the directory or
// file must be on a file system every rank sees (a rank that does not see it fails the call). A
// failure on any rank (a bad argument, a full disk, a damaged shard) makes the call throw on every
// rank an ndshard::error naming the lowest failing rank and its message. A failure before the
// commit (the rename of the new manifest or file) commits nothing: the previous dataset or file
// stays as it was and the new files are removed; a failure to fsync the directory after the
// rename is reported too, with the new data in place. Ranks may run calls on threads of their own
// only if MPI was initialised with MPI_THREAD_MULTIPLE; each call makes MPI calls from the
// calling thread only.
#pragma once

#include <mpi.h>

#include <cstddef>
#include <filesystem>

#include <xtensor/xarray.hpp>
#include <xtensor/xexpression.hpp>

#include "ndshard/dataset.hpp"
#include "ndshard/tensor_ref.hpp"

namespace ndshard::mpi {

/// Collective. Rank r contributes `local` (rank 1 or more); its rows follow those of ranks < r.
/// Ranks may hold different row counts (zero included); every rank's rows must have the same
/// shape and element type, or every rank throws. Each rank writes its own shards with its own
/// threads (`options.shards` per rank; 0: one per thread; a rank with no rows writes none); when
/// every rank has finished, rank 0 commits the manifest. Every rank returns the new dataset's
/// info. The result loads with the plain `load`, `load_rows` and `block_reader`.
template <class E>
dataset_info save(MPI_Comm comm, const std::filesystem::path& dir, const xt::xexpression<E>& local,
                  const save_options& options = {});

/// The rows rank r gets by default: the r-th of split_rows(rows, ranks); ranks past the last
/// range (more ranks than rows) get the empty range [rows, rows). Not collective.
[[nodiscard]] inline row_range rows_of_rank(MPI_Comm comm, std::size_t rows);

/// Collective. Every rank reads rows_of_rank(comm, rows) of the dataset in `dir` (written by
/// `save`, `mpi::save`, `dataset_writer` or `append`), opening only the shards those rows lie in.
/// Rank 0 reads the manifest and hands it to the others, so every rank reads one generation.
template <class T>
[[nodiscard]] xt::xarray<T> load(MPI_Comm comm, const std::filesystem::path& dir,
                                 const load_options& options = {});

/// Collective. Every rank reads rows [first, last) of its own choosing (ranges may differ,
/// overlap or be empty) of the dataset in `dir`, as `load` does.
template <class T>
[[nodiscard]] xt::xarray<T> load_rows(MPI_Comm comm, const std::filesystem::path& dir,
                                      std::size_t first, std::size_t last,
                                      const load_options& options = {});

/// How write_npy and read_npy move the data.
struct npy_options {
    /// Each rank reads or writes its part, one contiguous byte range, with independent calls
    /// (MPI_File_write_at / read_at: false) or with collective ones (MPI_File_write_at_all /
    /// read_at_all: true), which let the MPI-IO library gather the data on aggregator ranks
    /// (collective buffering: worth trying on a parallel file system with striping hints).
    /// Independent by default, as HDF5's default transfer mode: one large contiguous range per
    /// rank leaves collective buffering nothing to merge, and OpenMPI 4.1.4's default component
    /// (ompio) returns success from a collective write whose data it failed to write (found by
    /// tests/mpi with a full disk on 3 ranks or more), where independent calls report the short
    /// count; and when one rank's write fails with several aggregators, ompio's collective
    /// calls can leave the ranks out of step (a hang). Either way, rank 0 reserves the file's
    /// blocks before any rank writes (fallocate: a full disk or quota fails there, cleanly) and
    /// checks the file's size before the commit.
    bool collective = false;
    bool sync = true;  ///< write_npy: fsync the file and its directory (MPI_File_sync, fsync)
    /// Hints for MPI_File_open, for the file system at hand: on Lustre, for example,
    /// "striping_factor" and "striping_unit" for a new file, "cb_nodes" and "romio_cb_write" for
    /// collective buffering. Not freed by ndshard; MPI ignores hints it does not know.
    MPI_Info hints = MPI_INFO_NULL;
};

/// Collective. One .npy file of every rank's rows in rank order, written with MPI-IO (rank 0
/// writes the header, every rank its rows at their offset) to a private name beside `file` and
/// renamed over it by rank 0 once every rank's data is written and synced: it appears whole or
/// not at all. A part larger than 2 GiB is written in calls of at most 1 GiB.
template <class E>
void write_npy(MPI_Comm comm, const std::filesystem::path& file, const xt::xexpression<E>& local);
template <class E>
void write_npy(MPI_Comm comm, const std::filesystem::path& file, const xt::xexpression<E>& local,
               const npy_options& options);

/// Collective. Every rank reads its rows_of_rank of the .npy file (C order, rank 1 or more,
/// element type T) with MPI-IO; rank 0 reads and checks the header for all.
template <class T>
[[nodiscard]] xt::xarray<T> read_npy(MPI_Comm comm, const std::filesystem::path& file);
template <class T>
[[nodiscard]] xt::xarray<T> read_npy(MPI_Comm comm, const std::filesystem::path& file,
                                     const npy_options& options);

}  // namespace ndshard::mpi

#include "ndshard/detail/mpi_impl.hpp"
