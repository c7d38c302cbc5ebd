// tests/crash_writer.cpp — a program of its own, started by the crash-consistency and
// concurrency tests (posix_spawn: a fresh process, not a fork of a threaded one).
//
//   crash_writer save <dir> <first-tag> <count>   saves generations first-tag, first-tag + 1, ...
//                                                 (count 0: until killed); after the first save it
//                                                 writes one byte to descriptor 3, when open
//   crash_writer load <dir> <stop-file>           loads the dataset again and again until
//                                                 <stop-file> exists, checking that every load is
//                                                 one whole generation, never older than the last
//                                                 one seen from the same writer (tags k*1000 + i)
//
// Exits 0 when all went well, else 1 with the reason on stderr.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <map>
#include <ndshard/ndshard.hpp>
#include <string>

#include "generation.hpp"

namespace {

int save_loop(const std::filesystem::path& dir, std::uint64_t first, std::uint64_t count) {
    const bool signal_ready = ::fcntl(3, F_GETFD) != -1;
    for (std::uint64_t tag = first; count == 0 || tag < first + count; ++tag) {
        ndshard::save_options o;
        o.shards = ndshard_test::generation_shards(tag);
        o.threads = 2;
        (void)ndshard::save(dir, ndshard_test::generation_array(tag), o);
        if (tag == first && signal_ready) {
            const char ready = 1;
            if (::write(3, &ready, 1) != 1) return 1;
            ::close(3);
        }
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
        if (mode == "load" && argc == 4) return load_loop(argv[2], argv[3]);
        std::fprintf(stderr,
                     "usage: crash_writer save <dir> <first-tag> <count>\n"
                     "       crash_writer load <dir> <stop-file>\n");
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "crash_writer: %s\n", e.what());
        return 1;
    }
}
