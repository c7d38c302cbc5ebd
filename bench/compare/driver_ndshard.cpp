// compare_ndshard — one ndshard operation per run, timed alone, as one JSON line.
//
//   compare_ndshard --op OP --dtype f8|f4 --threads N --source SRC.npy
//                   [--input PATH | --output PATH] [--dry] [--no-check]
//
// writers (write SRC, loaded before the clock): write_npy FILE, save_npy DIR, write_text FILE
// (tab),
//   save_tsv DIR, save_csv DIR, raw_write FILE (parallel pwrite of the array's bytes: the bound)
// readers (checked against SRC): read_npy FILE, load DIR (any shard format; checksums verified),
//   load_noverify DIR (the same without checksums), read_text FILE (tab), raw_read FILE (parallel
//   pread of the whole file into fresh memory: the bound, not checked), raw_read_huge FILE (the
//   same with the buffer advised to use huge pages)
// zarr v2 stores, chunked as peers.py chunks dask's (about 8 MiB, at least one chunk per thread):
//   zarr_save_blosc_lz4 DIR (Blosc-LZ4, clevel 5, byte shuffle: zarr's and numcodecs' default),
//   zarr_save_none DIR (no compressor), zarr_load DIR (any store; checked against SRC).
//   Compressed stores need the driver linked with ndshard::zarr (NDSHARD_ZARR_CODECS): without it
//   zarr_save_blosc_lz4, and zarr_load of a compressed store, print a "skipped" line saying why.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <system_error>
#include <thread>

#include <ndshard/ndshard.hpp>

#include "driver_common.hpp"

namespace {

using compare::options;
using compare::result;

/// Runs fn(first, last) on `threads` threads over balanced byte ranges of [0, total).
template <class Fn>
void split_bytes(std::size_t total, std::size_t threads, Fn&& fn) {
    std::vector<std::thread> workers;
    const std::size_t n = std::max<std::size_t>(threads, 1);
    for (std::size_t i = 0; i < n; ++i)
        workers.emplace_back([&, i] { fn(total * i / n, total * (i + 1) / n); });
    for (auto& w : workers)
        w.join();
}

[[noreturn]] void fail_errno(const char* what, const std::filesystem::path& p) {
    throw std::system_error(errno, std::generic_category(), std::string(what) + " " + p.string());
}

/// The hardware's bound for a binary write: every thread pwrites its share of the array's bytes.
template <class T>
result raw_write(const options& o) {
    return compare::time_write<T>(o, [&](const xt::xarray<T>& a) {
        const int fd = ::open(o.output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) fail_errno("cannot create", o.output);
        const auto* bytes = reinterpret_cast<const char*>(a.data());
        split_bytes(a.size() * sizeof(T), o.threads, [&](std::size_t first, std::size_t last) {
            while (first < last) {
                const ssize_t k =
                    ::pwrite(fd, bytes + first, last - first, static_cast<off_t>(first));
                if (k < 0 && errno != EINTR) fail_errno("cannot write", o.output);
                if (k > 0) first += static_cast<std::size_t>(k);
            }
        });
        if (::close(fd) != 0) fail_errno("cannot close", o.output);
    });
}

/// The hardware's bound for a binary read: every thread preads its share of the file into fresh,
/// untouched memory (so it pays the same first-touch page faults a reader's new array does).
/// With `huge`, the buffer is advised to use transparent huge pages first, as numpy.load does and
/// ndshard does for large destinations: one fault per 2 MiB instead of per 4 KiB.
inline result raw_read(const options& o, bool huge) {
    result r;
    if (o.dry) return r;
    const compare::stopwatch clock;
    const int fd = ::open(o.input.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail_errno("cannot open", o.input);
    const auto total = static_cast<std::size_t>(::lseek(fd, 0, SEEK_END));
    const std::unique_ptr<char[]> buf(new char[total]);  // default-initialised: not touched yet
    if (huge) {
        const std::uintptr_t page = 4096;
        const auto begin = reinterpret_cast<std::uintptr_t>(buf.get()) & ~(page - 1);
        ::madvise(reinterpret_cast<void*>(begin),
                  reinterpret_cast<std::uintptr_t>(buf.get()) + total - begin, MADV_HUGEPAGE);
    }
    split_bytes(total, o.threads, [&](std::size_t first, std::size_t last) {
        while (first < last) {
            const ssize_t k =
                ::pread(fd, buf.get() + first, last - first, static_cast<off_t>(first));
            if (k < 0 && errno != EINTR) fail_errno("cannot read", o.input);
            if (k == 0) throw std::runtime_error("unexpected end of " + o.input.string());
            if (k > 0) first += static_cast<std::size_t>(k);
        }
    });
    ::close(fd);
    r.seconds = clock.seconds();
    r.values = total;
    return r;
}

/// Rows per chunk of the zarr stores, as peers.py's chunk_rows gives dask's: about 8 MiB, and at
/// least one chunk per thread.
template <class Shape>
std::size_t dask_chunk_rows(const Shape& shape, std::size_t itemsize, std::size_t threads) {
    std::size_t row_bytes = itemsize;
    for (std::size_t d = 1; d < shape.size(); ++d)
        row_bytes *= shape[d];
    const std::size_t rows = shape.empty() ? 1 : shape[0];
    const std::size_t n = std::max<std::size_t>(threads, 1);
    return std::max<std::size_t>(
        1,
        std::min((std::size_t{8} << 20) / std::max<std::size_t>(row_bytes, 1), (rows + n - 1) / n));
}

#if !defined(NDSHARD_ZARR_CODECS)
/// Why a compressed zarr operation did not run (run.py lists it under the workload).
constexpr const char* no_codecs =
    "compare_ndshard built without ndshard::zarr (libzstd, libblosc or zlib not found): no "
    "compressed zarr stores";
#endif

template <class T>
result run(const options& o) {
    ndshard::save_options save;
    save.threads = o.threads;
    ndshard::load_options load;
    load.threads = o.threads;
    if (o.op == "write_npy")
        return compare::time_write<T>(
            o, [&](const xt::xarray<T>& a) { ndshard::write_npy(o.output, a, o.threads); });
    if (o.op == "read_npy")
        return compare::time_read(o, [&] { return ndshard::read_npy<T>(o.input, o.threads); });
    if (o.op == "save_npy")
        return compare::time_write<T>(
            o, [&](const xt::xarray<T>& a) { (void)ndshard::save(o.output, a, save); });
    if (o.op == "load" || o.op == "load_noverify") {
        load.verify = o.op == "load";
        return compare::time_read(o, [&] { return ndshard::load<T>(o.input, load); });
    }
    if (o.op == "raw_write") return raw_write<T>(o);
    if (o.op == "raw_read" || o.op == "raw_read_huge") return raw_read(o, o.op == "raw_read_huge");
    if (o.op == "save_tsv" || o.op == "save_csv") {
        save.format = o.op == "save_tsv" ? ndshard::shard_format::tsv : ndshard::shard_format::csv;
        return compare::time_write<T>(
            o, [&](const xt::xarray<T>& a) { (void)ndshard::save(o.output, a, save); });
    }
    if (o.op == "write_text") {
        ndshard::text_write_options w;
        w.delimiter = '\t';
        w.threads = o.threads;
        return compare::time_write<T>(
            o, [&](const xt::xarray<T>& a) { ndshard::write_text(o.output, a, w); });
    }
    if (o.op == "read_text") {
        ndshard::text_read_options r;
        r.delimiter = '\t';
        r.threads = o.threads;
        return compare::time_read(o, [&] { return ndshard::read_text<T>(o.input, r); });
    }
    if (o.op == "zarr_save_blosc_lz4" || o.op == "zarr_save_none") {
        ndshard::zarr::save_options z;
        z.threads = o.threads;
        z.compressor =
            o.op == "zarr_save_none" ? ndshard::zarr::codec::none : ndshard::zarr::codec::blosc_lz4;
#if !defined(NDSHARD_ZARR_CODECS)
        if (z.compressor != ndshard::zarr::codec::none) return compare::skipped(no_codecs);
#endif
        return compare::time_write<T>(o, [&](const xt::xarray<T>& a) {
            z.chunk_rows = dask_chunk_rows(a.shape(), sizeof(T), o.threads);
            (void)ndshard::zarr::save(o.output, a, z);
        });
    }
    if (o.op == "zarr_load") {
#if !defined(NDSHARD_ZARR_CODECS)
        if (ndshard::zarr::inspect(o.input).compressor != "null")
            return compare::skipped(no_codecs);
#endif
        return compare::time_read(o, [&] { return ndshard::zarr::load<T>(o.input, load); });
    }
    throw std::invalid_argument("unknown --op " + o.op);
}

}  // namespace

int main(int argc, char** argv) {
    return compare::driver_main("ndshard", argc, argv,
                                [](const options& o, auto type) { return run<decltype(type)>(o); });
}
