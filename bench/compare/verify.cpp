// compare_verify — does what a writer wrote give the source array back, bit for bit?
//
//   compare_verify --dtype f8|f4 --source SRC.npy PATH...
//
// Reads every PATH in order and compares the values, concatenated in C order, with SRC's. A PATH
// is a .npy file, a text file (values separated by tabs, commas, spaces or newlines), an ndshard
// dataset (its manifest's shards in order) or a directory of shards (its files sorted by name).
// Text is parsed with fast_float, which rounds correctly, so a mismatch means the writer lost bits.
// Prints {"values": N, "mismatches": M} (or "error" when the values cannot be read at all).
#include <fast_float/fast_float.h>

#include <ndshard/ndshard.hpp>

#include "driver_common.hpp"

namespace {

using compare::options;

template <class T>
void append_npy(const std::filesystem::path& p, std::vector<T>& out) {
    const auto f = ndshard::file::open_read(p);
    const auto h = ndshard::read_npy_header(f);
    if (h.descr != ndshard::descr_of<T>())
        throw std::runtime_error(p.string() + " holds " + h.descr + ", expected " +
                                 ndshard::descr_of<T>());
    const std::size_t old = out.size();
    out.resize(old + static_cast<std::size_t>(h.elements()));
    f.pread_full(out.data() + old, static_cast<std::size_t>(h.data_bytes()), h.data_offset);
}

template <class T>
void append_text(const std::filesystem::path& p, std::vector<T>& out) {
    const ndshard::mapped_file m(p);
    const char* s = m.data();
    const char* const end = s + m.size();
    auto separator = [](char c) {
        return c == '\t' || c == ',' || c == ' ' || c == '\n' || c == '\r';
    };
    while (true) {
        while (s != end && separator(*s))
            ++s;
        if (s == end) return;
        T v{};
        const auto r = fast_float::from_chars(s, end, v);
        if (r.ec != std::errc() || (r.ptr != end && !separator(*r.ptr)))
            throw std::runtime_error(p.string() + ": not a number at byte " +
                                     std::to_string(s - m.data()));
        out.push_back(v);
        s = r.ptr;
    }
}

template <class T>
void append_path(const std::filesystem::path& p, std::vector<T>& out) {
    namespace fs = std::filesystem;
    if (fs::is_directory(p)) {
        std::vector<fs::path> parts;
        if (fs::exists(p / "manifest.json")) {
            for (const auto& s : ndshard::inspect(p).shards)
                parts.push_back(p / s.path);
        } else {
            for (const auto& e : fs::directory_iterator(p))
                if (e.is_regular_file()) parts.push_back(e.path());
            std::sort(parts.begin(), parts.end());
        }
        for (const auto& part : parts)
            append_path(part, out);
    } else if (p.extension() == ".npy") {
        append_npy(p, out);
    } else {
        append_text(p, out);
    }
}

}  // namespace

int main(int argc, char** argv) {
    // the PATHs are the arguments after the options
    int first_path = 1;
    while (first_path < argc && std::string(argv[first_path]).rfind("--", 0) == 0)
        first_path += 2;
    try {
        const options o = [&] {
            std::vector<char*> opts(argv, argv + first_path);
            std::string op = "--op", verify = "verify";
            opts.push_back(op.data());
            opts.push_back(verify.data());
            return compare::parse_options(static_cast<int>(opts.size()), opts.data());
        }();
        auto check = [&](auto type) {
            using T = decltype(type);
            std::vector<T> values;
            for (int i = first_path; i < argc; ++i)
                append_path(argv[i], values);
            std::printf("{\"values\": %zu, \"mismatches\": %lld}\n", values.size(),
                        static_cast<long long>(
                            compare::count_mismatches(values.data(), values.size(), o.source)));
        };
        if (o.dtype == "f8")
            check(double{});
        else if (o.dtype == "f4")
            check(float{});
        else
            throw std::invalid_argument("--dtype must be f8 or f4");
        return 0;
    } catch (const std::exception& e) {
        std::string what = e.what();  // kept valid JSON: run.py shows it
        std::replace(what.begin(), what.end(), '"', '\'');
        std::printf("{\"error\": \"%s\"}\n", what.c_str());
        return 1;
    }
}
