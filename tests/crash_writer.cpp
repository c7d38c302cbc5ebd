// tests/crash_writer.cpp — a program of its own, started by the crash-consistency and
// concurrency tests (posix_spawn: a fresh process, not a fork of a threaded one).
//
//   crash_writer save <dir> <first-tag> <count>   saves generations first-tag, first-tag + 1, ...
//                                                 (count 0: until killed); after the first save it
//                                                 writes one byte to descriptor 3, when open
//   crash_writer writer <dir> <first-tag> <count>
//                                                 as save, each generation written by a
//                                                 dataset_writer in irregular batches, into
//                                                 shards of a few hundred rows
//   crash_writer append <dir> <first-batch> <count>
//                                                 appends batches first-batch, first-batch + 1,
//                                                 ... (count 0: until killed), by append() and by
//                                                 dataset_writer with append in turn; after the
//                                                 first, one byte to descriptor 3, when open
//   crash_writer zarr <dir> <first-tag> <count>   as save, each generation written as a zarr store
//                                                 (zarr::save; codecs in turn when linked)
//   crash_writer load <dir> <stop-file>           loads the dataset again and again until
//                                                 <stop-file> exists, checking that every load is
//                                                 one whole generation, never older than the last
//                                                 one seen from the same writer (tags k*1000 + i)
//
// Exits 0 when all went well, else 1 with the reason on stderr.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <map>
#include <ndshard/ndshard.hpp>
#include <ndshard/writer.hpp>
#include <string>
#include <xtensor/xview.hpp>

#include "generation.hpp"

namespace {

int save_loop(const std::filesystem::path& dir, std::uint64_t first, std::uint64_t count) {
    const bool signal_ready = ::fcntl(3, F_GETFD) != -1;
    for (std::uint64_t tag = first; count == 0 || tag < first + count; ++tag) {
        ndshard::save_options o;
        o.shards = ndshard_test::generation_shards(tag);
        o.threads = 2;
        o.attributes = {{"tag", tag}};  // committed with the data: a load sees both or neither
        (void)ndshard::save(dir, ndshard_test::generation_array(tag), o);
        if (tag == first && signal_ready) {
            const char ready = 1;
            if (::write(3, &ready, 1) != 1) return 1;
            ::close(3);
        }
    }
    return 0;
}

int zarr_loop(const std::filesystem::path& dir, std::uint64_t first, std::uint64_t count) {
    bool signal = ::fcntl(3, F_GETFD) != -1;
    for (std::uint64_t tag = first; count == 0 || tag < first + count; ++tag) {
        ndshard::zarr::save_options o;
        o.chunk_rows = 64 + tag % 200;
        o.threads = 2;
#ifdef NDSHARD_ZARR_CODECS
        const ndshard::zarr::codec codecs[] = {ndshard::zarr::codec::none,
                                               ndshard::zarr::codec::zstd,
                                               ndshard::zarr::codec::blosc_lz4};
        o.compressor = codecs[tag % 3];
#endif
        (void)ndshard::zarr::save(dir, ndshard_test::generation_array(tag), o);
        if (tag == first && signal) {
            signal = false;
            const char ready = 1;
            if (::write(3, &ready, 1) != 1) return 1;
            ::close(3);
        }
    }
    return 0;
}

/// Writes one byte to descriptor 3 (when `signal` is set) and closes it; false when that fails.
bool signal_ready(bool& signal) {
    if (!signal) return true;
    signal = false;
    const char ready = 1;
    const bool ok = ::write(3, &ready, 1) == 1;
    ::close(3);
    return ok;
}

int writer_loop(const std::filesystem::path& dir, std::uint64_t first, std::uint64_t count) {
    bool signal = ::fcntl(3, F_GETFD) != -1;
    for (std::uint64_t tag = first; count == 0 || tag < first + count; ++tag) {
        const auto a = ndshard_test::generation_array(tag);
        ndshard::writer_options o;
        o.shard_rows = 100 + tag % 300;
        o.threads = 2;
        o.attributes = {{"tag", tag}};
        ndshard::dataset_writer<std::int64_t> w(dir, {ndshard_test::generation_cols}, o);
        const std::size_t rows = a.shape()[0];
        for (std::size_t r = 0, k = 0; r < rows; ++k) {
            const std::size_t n = std::min(rows - r, std::size_t{1} + (k * 131 + tag) % 257);
            w.write(xt::view(a, xt::range(r, r + n)));
            r += n;
        }
        (void)w.commit();
        if (!signal_ready(signal)) return 1;
    }
    return 0;
}

int append_loop(const std::filesystem::path& dir, std::uint64_t first, std::uint64_t count) {
    bool signal = ::fcntl(3, F_GETFD) != -1;
    for (std::uint64_t b = first; count == 0 || b < first + count; ++b) {
        const auto a = ndshard_test::batch_array(b);
        if (b % 2 == 0) {
            ndshard::save_options o;
            o.shards = 1 + b % 3;
            o.threads = 2;
            (void)ndshard::append(dir, a, o);
        } else {
            ndshard::writer_options o;
            o.shard_rows = 16;
            o.threads = 2;
            o.append = true;
            ndshard::dataset_writer<std::int64_t> w(dir, {ndshard_test::batch_cols}, o);
            const std::size_t half = a.shape()[0] / 2;
            w.write(xt::view(a, xt::range(0, half)));
            w.write(xt::view(a, xt::range(half, a.shape()[0])));
            (void)w.commit();
        }
        if (!signal_ready(signal)) return 1;
    }
    return 0;
}

int load_loop(const std::filesystem::path& dir, const std::filesystem::path& stop) {
    std::map<std::uint64_t, std::uint64_t> last;  // per writer: tags k*1000 + i come from one
    std::uint64_t loads = 0, changes = 0, previous = 0;
    for (;;) {
        const bool stopping = std::filesystem::exists(stop);  // one more load after the stop
        ndshard::load_options o;
        o.threads = 2;
        const auto a = ndshard::load<std::int64_t>(dir, o);
        std::uint64_t tag = 0;
        std::string why;
        if (!ndshard_test::generation_of(a, tag, why)) {
            std::fprintf(stderr, "crash_writer load: %s\n", why.c_str());
            return 1;
        }
        auto& newest = last[tag / 1000];
        if (tag < newest) {
            std::fprintf(stderr, "crash_writer load: generation %llu after %llu\n",
                         static_cast<unsigned long long>(tag),
                         static_cast<unsigned long long>(newest));
            return 1;
        }
        newest = tag;
        changes += tag != previous;
        previous = tag;
        ++loads;
        if (stopping) break;
    }
    std::printf("%llu loads, %llu generations seen\n", static_cast<unsigned long long>(loads),
                static_cast<unsigned long long>(changes));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const std::string mode = argc > 1 ? argv[1] : "";
        if (mode == "save" && argc == 5)
            return save_loop(argv[2], std::stoull(argv[3]), std::stoull(argv[4]));
        if (mode == "writer" && argc == 5)
            return writer_loop(argv[2], std::stoull(argv[3]), std::stoull(argv[4]));
        if (mode == "append" && argc == 5)
            return append_loop(argv[2], std::stoull(argv[3]), std::stoull(argv[4]));
        if (mode == "zarr" && argc == 5)
            return zarr_loop(argv[2], std::stoull(argv[3]), std::stoull(argv[4]));
        if (mode == "load" && argc == 4) return load_loop(argv[2], argv[3]);
        std::fprintf(stderr,
                     "usage: crash_writer save <dir> <first-tag> <count>\n"
                     "       crash_writer writer <dir> <first-tag> <count>\n"
                     "       crash_writer append <dir> <first-batch> <count>\n"
                     "       crash_writer load <dir> <stop-file>\n");
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "crash_writer: %s\n", e.what());
        return 1;
    }
}
