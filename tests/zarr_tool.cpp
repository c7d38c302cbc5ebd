// tests/zarr_tool.cpp — a command-line program over ndshard's zarr API, driven by
// tests/zarr/interop.py to check stores against zarr-python, numcodecs and dask.
//
//   zarr_tool save NPY STORE CODEC CHUNK_ROWS   reads the .npy (any dtype ndshard reads) and
//                                               saves it as a zarr v2 store; CODEC is none, zstd,
//                                               blosc_lz4 or blosc_zstd; CHUNK_ROWS 0: default
//   zarr_tool load STORE OUT_NPY                loads the whole store as the C++ type of its
//                                               dtype (big-endian stores as the native type)
//   zarr_tool rows STORE FIRST LAST OUT_NPY     loads rows [FIRST, LAST)
//   zarr_tool stream STORE BLOCK_ROWS OUT_NPY   reads the store with a block_reader of BLOCK_ROWS
//                                               rows per block and writes the blocks joined
//
// Exits 0 when all went well; 1 with the message on stderr for an ndshard::error; 2 for a usage
// error; 3 for anything else (another exception, a block_reader out of order, a dtype the store
// has that inspect accepted but no C++ type matches): a bug the caller should report.
#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <ndshard/detail/convert.hpp>
#include <ndshard/ndshard.hpp>
#include <ndshard/zarr.hpp>
#include <string>
#include <utility>
#include <vector>
#include <xtensor/xarray.hpp>

namespace {

namespace fs = std::filesystem;

/// Usage errors (exit 2).
struct usage_error : std::exception {
    std::string what_;
    explicit usage_error(std::string w) : what_(std::move(w)) {}
    [[nodiscard]] const char* what() const noexcept override { return what_.c_str(); }
};

/// Failures of the tool's own checks (exit 3).
struct check_error : std::exception {
    std::string what_;
    explicit check_error(std::string w) : what_(std::move(w)) {}
    [[nodiscard]] const char* what() const noexcept override { return what_.c_str(); }
};

std::size_t parse_size(const char* text, const char* name) {
    const std::string s = text;
    if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos)
        throw usage_error(std::string("expected a non-negative integer for ") + name + ", found '" +
                          s + "'");
    errno = 0;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(text, &end, 10);
    if (errno == ERANGE || *end != '\0')
        throw usage_error(std::string("integer out of range for ") + name + ": '" + s + "'");
    return static_cast<std::size_t>(v);
}

ndshard::zarr::codec parse_codec(const std::string& s) {
    if (s == "none") return ndshard::zarr::codec::none;
    if (s == "zstd") return ndshard::zarr::codec::zstd;
    if (s == "blosc_lz4") return ndshard::zarr::codec::blosc_lz4;
    if (s == "blosc_zstd") return ndshard::zarr::codec::blosc_zstd;
    throw usage_error("expected a codec none, zstd, blosc_lz4 or blosc_zstd, found '" + s + "'");
}

/// Calls fn(type_tag<T>{}) with the C++ type of a numpy descr ("<f8", ">i4", "|b1").
template <class F>
bool visit_descr(const std::string& descr, F&& fn) {
    ndshard::parsed_descr d;
    if (!ndshard::parse_descr(descr, d)) return false;
    return ndshard::detail::visit_dtype(d.type, fn);
}

int cmd_save(const fs::path& npy, const fs::path& store, const std::string& codec_name,
             std::size_t chunk_rows) {
    ndshard::zarr::save_options o;
    o.compressor = parse_codec(codec_name);
    o.chunk_rows = chunk_rows;
    const ndshard::file f = ndshard::file::open_read(npy);
    const ndshard::npy_header h = ndshard::read_npy_header(f);
    const bool known = ndshard::detail::visit_dtype(h.type.type, [&](auto tag) {
        using T = typename decltype(tag)::type;
        const xt::xarray<T> a = ndshard::read_npy<T>(npy);
        (void)ndshard::zarr::save(store, a, o);
    });
    if (!known) throw check_error("the .npy file's dtype '" + h.descr + "' has no C++ type");
    return 0;
}

/// Runs fn(type_tag<T>{}) with the C++ type of the store's dtype. When no C++ type matches, asks
/// the library to load the store as double, which must refuse it with an ndshard::error.
template <class F>
void with_store_type(const fs::path& store, F&& fn) {
    const ndshard::zarr::store_info info = ndshard::zarr::inspect(store);
    if (visit_descr(info.dtype, fn)) return;
    (void)ndshard::zarr::load<double>(store);
    throw check_error("inspect reported dtype '" + info.dtype +
                      "', which has no C++ type, and load<double> accepted the store");
}

int cmd_load(const fs::path& store, const fs::path& out) {
    with_store_type(store, [&](auto tag) {
        using T = typename decltype(tag)::type;
        const xt::xarray<T> a = ndshard::zarr::load<T>(store);
        ndshard::write_npy(out, a);
    });
    return 0;
}

int cmd_rows(const fs::path& store, std::size_t first, std::size_t last, const fs::path& out) {
    with_store_type(store, [&](auto tag) {
        using T = typename decltype(tag)::type;
        const xt::xarray<T> a = ndshard::zarr::load_rows<T>(store, first, last);
        ndshard::write_npy(out, a);
    });
    return 0;
}

int cmd_stream(const fs::path& store, std::size_t block_rows, const fs::path& out) {
    with_store_type(store, [&](auto tag) {
        using T = typename decltype(tag)::type;
        ndshard::stream_options so;
        so.block_rows = block_rows;
        ndshard::block_reader<T> r(store, so);
        const std::vector<std::size_t> shape = r.shape();
        if (shape.empty()) throw check_error("block_reader reported a rank-0 shape");
        auto joined = xt::xarray<T>::from_shape(shape);
        std::size_t row_size = 1;
        for (std::size_t i = 1; i < shape.size(); ++i)
            row_size *= shape[i];
        std::size_t next_row = 0;
        while (r.next()) {
            const xt::xarray<T>& b = r.rows();
            if (r.first_row() != next_row)
                throw check_error("block_reader gave a block at row " +
                                  std::to_string(r.first_row()) + ", expected row " +
                                  std::to_string(next_row));
            if (b.dimension() != shape.size())
                throw check_error("block of rank " + std::to_string(b.dimension()) +
                                  ", expected rank " + std::to_string(shape.size()));
            for (std::size_t i = 1; i < shape.size(); ++i)
                if (b.shape()[i] != shape[i])
                    throw check_error("block dimension " + std::to_string(i) + " is " +
                                      std::to_string(b.shape()[i]) + ", expected " +
                                      std::to_string(shape[i]));
            const std::size_t n = b.shape()[0];
            if (n == 0) throw check_error("block_reader gave an empty block");
            if (block_rows != 0 && n > block_rows)
                throw check_error("block of " + std::to_string(n) + " rows, more than " +
                                  std::to_string(block_rows));
            if (next_row + n > shape[0])
                throw check_error("blocks run past the " + std::to_string(shape[0]) + " rows");
            const auto& s = b.storage();
            if (s.size() != n * row_size)
                throw check_error("block storage of " + std::to_string(s.size()) +
                                  " elements, expected " + std::to_string(n * row_size));
            std::copy(s.begin(), s.end(), joined.data() + next_row * row_size);
            next_row += n;
        }
        if (next_row != shape[0])
            throw check_error("blocks ended at row " + std::to_string(next_row) + " of " +
                              std::to_string(shape[0]));
        ndshard::write_npy(out, joined);
    });
    return 0;
}

int run(const std::vector<std::string>& args) {
    if (args.empty()) throw usage_error("expected a command: save, load, rows or stream");
    const std::string& cmd = args[0];
    if (cmd == "save" && args.size() == 5)
        return cmd_save(args[1], args[2], args[3], parse_size(args[4].c_str(), "CHUNK_ROWS"));
    if (cmd == "load" && args.size() == 3) return cmd_load(args[1], args[2]);
    if (cmd == "rows" && args.size() == 5)
        return cmd_rows(args[1], parse_size(args[2].c_str(), "FIRST"),
                        parse_size(args[3].c_str(), "LAST"), args[4]);
    if (cmd == "stream" && args.size() == 4)
        return cmd_stream(args[1], parse_size(args[2].c_str(), "BLOCK_ROWS"), args[3]);
    throw usage_error("unknown command or wrong number of arguments: '" + cmd + "'");
}

}  // namespace

int main(int argc, char** argv) {
    try {
        std::vector<std::string> args;
        for (int i = 1; i < argc; ++i)
            args.emplace_back(argv[i]);
        return run(args);
    } catch (const usage_error& e) {
        std::fprintf(stderr,
                     "zarr_tool: %s\n"
                     "usage: zarr_tool save NPY STORE none|zstd|blosc_lz4|blosc_zstd CHUNK_ROWS\n"
                     "       zarr_tool load STORE OUT_NPY\n"
                     "       zarr_tool rows STORE FIRST LAST OUT_NPY\n"
                     "       zarr_tool stream STORE BLOCK_ROWS OUT_NPY\n",
                     e.what());
        return 2;
    } catch (const ndshard::error& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    } catch (const check_error& e) {
        std::fprintf(stderr, "zarr_tool: check failed: %s\n", e.what());
        return 3;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "zarr_tool: unexpected exception (not an ndshard::error): %s\n",
                     e.what());
        return 3;
    } catch (...) {
        std::fprintf(stderr, "zarr_tool: unexpected exception of unknown type\n");
        return 3;
    }
}
