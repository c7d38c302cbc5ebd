// ndshard/detail/dataset_impl.hpp — bodies of dataset.hpp: manifest, naming, commit protocol.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <nlohmann/json.hpp>

#include "ndshard/dataset.hpp"
#include "ndshard/detail/checksum.hpp"
#include "ndshard/detail/row_source.hpp"
#include "ndshard/detail/text_shard.hpp"
#include "ndshard/dtype.hpp"
#include "ndshard/error.hpp"
#include "ndshard/file.hpp"
#include "ndshard/npy.hpp"
#include "ndshard/tensor_ref.hpp"
#include "ndshard/thread_pool.hpp"
#include "ndshard/xtensor.hpp"

namespace ndshard {

inline const char* to_string(shard_format f) noexcept {
    switch (f) {
        case shard_format::csv:
            return "csv";
        case shard_format::tsv:
            return "tsv";
        default:
            return "npy";
    }
}

namespace detail {

inline constexpr const char* manifest_name = "manifest.json";
inline constexpr const char* lock_name = ".ndshard.lock";
/// A manifest larger than this is refused before it is read (a million shards fit easily).
inline constexpr std::uint64_t manifest_max_bytes = std::uint64_t{256} << 20;

/// "part-<generation>-<index>.<ext>": a new save never reuses a live name.
inline std::string shard_name(std::uint64_t generation, std::size_t index, shard_format f) {
    std::string g = std::to_string(generation), i = std::to_string(index);
    if (g.size() < 6) g.insert(0, 6 - g.size(), '0');
    if (i.size() < 5) i.insert(0, 5 - i.size(), '0');
    return "part-" + g + "-" + i + "." + to_string(f);
}

/// The generation in a shard file name ndshard made, or false for any other name.
inline bool parse_shard_name(std::string_view name, std::uint64_t& generation) {
    if (name.substr(0, 5) != "part-") return false;
    name.remove_prefix(5);
    const std::size_t dash = name.find('-');
    if (dash == 0 || dash == std::string_view::npos || dash > 19) return false;
    std::uint64_t g = 0;
    for (char c : name.substr(0, dash)) {
        if (c < '0' || c > '9') return false;
        g = g * 10 + static_cast<std::uint64_t>(c - '0');
    }
    const std::string_view rest = name.substr(dash + 1);
    const std::size_t dot = rest.find('.');
    if (dot == 0 || dot == std::string_view::npos) return false;
    for (char c : rest.substr(0, dot))
        if (c < '0' || c > '9') return false;
    const std::string_view ext = rest.substr(dot + 1);
    // ".tmp-..." leftovers count too: they belong to a save that did not finish
    if (!(ext == "npy" || ext == "csv" || ext == "tsv")) return false;
    generation = g;
    return true;
}

inline bool plain_file_name(std::string_view s) {
    return !s.empty() && s != "." && s != ".." && s.find('/') == std::string_view::npos &&
           s.find('\0') == std::string_view::npos;
}

[[noreturn]] inline void manifest_fail(const std::filesystem::path& file, const std::string& what) {
    fail("invalid manifest", file, what);
}

inline std::uint64_t json_uint(const nlohmann::json& j, const char* what,
                               const std::filesystem::path& file) {
    if (!j.is_number_unsigned())
        manifest_fail(file, std::string("expected a non-negative integer for ") + what +
                                ", found " + shorten(j.dump()));
    return j.get<std::uint64_t>();
}

inline const nlohmann::json& json_field(const nlohmann::json& obj, const char* key,
                                        const std::filesystem::path& file,
                                        const char* where = "the manifest") {
    const auto it = obj.find(key);
    if (it == obj.end())
        manifest_fail(file, std::string("missing field '") + key + "' in " + where);
    return *it;
}

/// Parses and validates a manifest's text: fields, types, dtype, shape (no overflow), shard paths
/// (plain names inside the directory) and rows (cover [0, rows) in order, no gaps or overlaps).
inline dataset_info parse_manifest(std::string_view text, const std::filesystem::path& file) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::parse_error& e) {
        manifest_fail(file, std::string("not valid JSON: ") + e.what());
    }
    if (!j.is_object()) manifest_fail(file, "expected a JSON object, found " + shorten(j.dump()));
    dataset_info info;
    const auto version = json_uint(json_field(j, "ndshard", file), "'ndshard'", file);
    if (version != 1)
        manifest_fail(file,
                      "expected format version 1 in 'ndshard', found " + std::to_string(version));
    const auto& dt = json_field(j, "dtype", file);
    parsed_descr pd;
    if (!dt.is_string() || !parse_descr(dt.get<std::string>(), pd) || pd.swap)
        manifest_fail(file, "expected a little-endian numeric dtype such as \"<f8\", found " +
                                shorten(dt.dump()));
    info.dtype = pd.type.descr();
    const auto& shape = json_field(j, "shape", file);
    if (!shape.is_array() || shape.size() > 64)
        manifest_fail(file, "expected 'shape' to be an array of at most 64 integers, found " +
                                shorten(shape.dump()));
    std::uint64_t total = pd.type.size;
    for (const auto& d : shape) {
        info.shape.push_back(
            static_cast<std::size_t>(json_uint(d, "a dimension of 'shape'", file)));
        if (!checked_mul(total, info.shape.back(), total))
            manifest_fail(file, "'shape' describes more than 2^63 bytes");
    }
    const auto& fmt = json_field(j, "format", file);
    const std::string f = fmt.is_string() ? fmt.get<std::string>() : std::string();
    if (f == "npy") {
        info.format = shard_format::npy;
    } else if (f == "csv") {
        info.format = shard_format::csv;
    } else if (f == "tsv") {
        info.format = shard_format::tsv;
    } else {
        manifest_fail(file, "expected 'format' to be \"npy\", \"csv\" or \"tsv\", found " +
                                shorten(fmt.dump()));
    }
    if (const auto g = j.find("generation"); g != j.end())
        info.generation = json_uint(*g, "'generation'", file);
    const auto& shards = json_field(j, "shards", file);
    if (!shards.is_array() || shards.empty())
        manifest_fail(file,
                      "expected 'shards' to be a non-empty array, found " + shorten(shards.dump()));
    const std::size_t rows = info.shape.empty() ? 1 : info.shape[0];
    std::size_t next = 0;
    for (std::size_t k = 0; k < shards.size(); ++k) {
        const auto& s = shards[k];
        const std::string where = "shard " + std::to_string(k);
        if (!s.is_object()) manifest_fail(file, "expected " + where + " to be an object");
        shard_info si;
        const auto& p = json_field(s, "path", file, where.c_str());
        if (!p.is_string() || !plain_file_name(p.get<std::string>()))
            manifest_fail(file, "expected the path of " + where +
                                    " to be a plain file name inside the dataset, found " +
                                    shorten(p.dump(), 64));
        si.path = p.get<std::string>();
        const auto& r = json_field(s, "rows", file, where.c_str());
        if (!r.is_array() || r.size() != 2)
            manifest_fail(file, "expected the rows of " + where + " as [first, last], found " +
                                    shorten(r.dump()));
        si.first_row = static_cast<std::size_t>(json_uint(r[0], "a row number", file));
        si.last_row = static_cast<std::size_t>(json_uint(r[1], "a row number", file));
        if (si.first_row != next || si.last_row < si.first_row || si.last_row > rows)
            manifest_fail(file, where + " covers rows [" + std::to_string(si.first_row) + ", " +
                                    std::to_string(si.last_row) + "), expected rows from " +
                                    std::to_string(next) + " up to at most " +
                                    std::to_string(rows));
        next = si.last_row;
        si.bytes = json_uint(json_field(s, "bytes", file, where.c_str()), "'bytes'", file);
        if (const auto c = s.find("checksum"); c != s.end()) {
            const std::string cs = c->is_string() ? c->get<std::string>() : std::string();
            const bool ok = cs.size() == 21 && cs.compare(0, 5, "xxh3:") == 0 &&
                            cs.find_first_not_of("0123456789abcdef", 5) == std::string::npos;
            if (!ok)
                manifest_fail(file, "expected the checksum of " + where +
                                        " as \"xxh3:<16 hex digits>\", found " +
                                        shorten(c->dump()));
            si.checksum = cs;
        }
        info.shards.push_back(std::move(si));
    }
    if (next != rows)
        manifest_fail(file, "the shards cover rows [0, " + std::to_string(next) +
                                "), expected [0, " + std::to_string(rows) + ")");
    return info;
}

inline std::string manifest_text(const dataset_info& info) {
    nlohmann::json j;
    j["ndshard"] = 1;
    j["dtype"] = info.dtype;
    j["shape"] = info.shape;
    j["format"] = to_string(info.format);
    j["generation"] = info.generation;
    auto& shards = j["shards"] = nlohmann::json::array();
    for (const auto& s : info.shards) {
        shards.push_back({{"path", s.path},
                          {"rows", {s.first_row, s.last_row}},
                          {"bytes", s.bytes},
                          {"checksum", s.checksum}});
    }
    return j.dump(1) + "\n";
}

/// Reads a whole small file (bounded by `max_bytes`).
inline std::string read_small_file(const std::filesystem::path& p, std::uint64_t max_bytes) {
    const file f = file::open_read(p);
    const std::uint64_t n = f.size();
    if (n > max_bytes)
        fail(
            "file too large:", p,
            "expected at most " + std::to_string(max_bytes) + " bytes, found " + std::to_string(n));
    std::string s(static_cast<std::size_t>(n), '\0');
    f.pread_full(s.data(), s.size(), 0);
    return s;
}

inline dataset_info read_manifest(const std::filesystem::path& dir) {
    const auto path = dir / manifest_name;
    return parse_manifest(read_small_file(path, manifest_max_bytes), path);
}

/// Writes a file's bytes, fsyncs it (when asked) and renames it into place.
inline void write_file_atomically(const std::filesystem::path& target, std::string_view bytes,
                                  bool sync) {
    const auto tmp = temp_path_for(target);
    try {
        file f = file::create_new(tmp);
        f.pwrite_full(bytes.data(), bytes.size(), 0);
        if (sync) f.sync();
        f.close();
        atomic_rename(tmp, target);
    } catch (...) {
        remove_quietly(tmp);
        throw;
    }
}

inline std::size_t threads_for(std::size_t threads, const thread_pool* pool) {
    if (pool) return pool->size();
    return threads == 0 ? default_threads() : threads;
}

/// Writes rows [first, last) of `src` as one complete .npy file; returns its size and checksum.
template <class T>
void write_npy_shard(const file& f, const row_source<T>& src, std::size_t first, std::size_t last,
                     bool whole, xxh3_stream& hash, std::uint64_t& bytes) {
    std::vector<std::size_t> shape = src.shape;
    if (!whole) shape[0] = last - first;  // a rank-0 source is always written whole
    const std::string header = encode_npy_header(descr_of<T>(), shape);
    f.pwrite_full(header.data(), header.size(), 0);
    hash.update(header.data(), header.size());
    std::uint64_t offset = header.size();
    scratch<T> buffer;
    for_each_piece(src, first, last, buffer, [&](const T* p, std::size_t elements) {
        const std::size_t n = elements * sizeof(T);
        f.pwrite_full(p, n, offset);
        hash.update(p, n);
        offset += n;
    });
    bytes = offset;
}

/// Reads one .npy shard straight into `dest` (its first row), checking the header against the
/// manifest and, with `verify`, the checksum.
template <class T>
void read_npy_shard(const std::filesystem::path& path, const shard_info& s,
                    const std::vector<std::size_t>& shape, T* dest, bool verify) {
    const file f = file::open_read(path);
    std::string raw;
    const npy_header h = read_npy_header(f, &raw);
    std::vector<std::size_t> expected = shape;
    if (!expected.empty()) expected[0] = s.last_row - s.first_row;
    if (h.type.type != dtype_of<T>() || h.type.swap || h.shape != expected ||
        (h.fortran_order && expected.size() > 1)) {
        std::string want =
            "{'descr': '" + descr_of<T>() + "', 'shape': " + shape_text(expected) + "}";
        std::string got = "{'descr': '" + shorten(h.descr) + "', 'shape': " + shape_text(h.shape) +
                          (h.fortran_order ? ", Fortran order}" : "}");
        fail("shard disagrees with the manifest:", path, "expected " + want + ", found " + got);
    }
    if (f.size() != s.bytes)
        fail("shard disagrees with the manifest:", path,
             "expected " + std::to_string(s.bytes) + " bytes, found " + std::to_string(f.size()));
    xxh3_stream hash;
    hash.update(raw.data(), raw.size());
    const std::uint64_t total = h.data_bytes();
    auto* out = reinterpret_cast<char*>(dest);
    for (std::uint64_t done = 0; done < total;) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_bytes, total - done));
        f.pread_full(out + done, n, h.data_offset + done);
        if (verify) hash.update(out + done, n);
        done += n;
    }
    if constexpr (std::is_same_v<T, bool>) normalize_bools(dest, static_cast<std::size_t>(total));
    if (verify && !s.checksum.empty() && hash.text() != s.checksum)
        fail("checksum mismatch in", path,
             "expected " + s.checksum + " (from the manifest), found " + hash.text());
}

/// Removes every shard file ndshard made in `dir` that `keep` does not list, and temporary files
/// of manifests and shards that a crashed save left. Failures are ignored: this is cleanup.
inline void remove_unlisted(const std::filesystem::path& dir, const dataset_info* keep) {
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        std::uint64_t g = 0;
        const bool temp = name.find(".tmp-") != std::string::npos &&
                          (name.rfind(manifest_name, 0) == 0 || name.rfind("part-", 0) == 0);
        bool ours = temp || parse_shard_name(name, g);
        if (!ours) continue;
        if (keep && !temp) {
            const bool listed = std::any_of(keep->shards.begin(), keep->shards.end(),
                                            [&](const shard_info& s) { return s.path == name; });
            if (listed) continue;
        }
        remove_quietly(it->path());
    }
}

/// The next generation: one past every generation seen in the live manifest or in file names.
inline std::uint64_t next_generation(const std::filesystem::path& dir, const dataset_info* live) {
    std::uint64_t g = live ? live->generation : 0;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        std::uint64_t fg = 0;
        if (parse_shard_name(it->path().filename().string(), fg)) g = std::max(g, fg);
    }
    return g + 1;
}

template <class T>
dataset_info save_rows(const std::filesystem::path& dir, const row_source<T>& src,
                       const save_options& options) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec || !std::filesystem::is_directory(dir))
        fail_system("create dataset directory", dir, ec ? ec.value() : ENOTDIR);
    file_lock lock(dir / lock_name);

    // the live dataset, if any: its files stay until the new manifest is committed
    dataset_info live;
    bool have_live = false;
    if (std::filesystem::exists(dir / manifest_name)) {
        try {
            live = read_manifest(dir);
            have_live = true;
        } catch (const error&) {
            have_live = false;  // unreadable: overwritten by the commit below, nothing else lost
        }
    }
    // leftovers of a crashed save: only when we know what is live
    if (have_live || !std::filesystem::exists(dir / manifest_name))
        remove_unlisted(dir, have_live ? &live : nullptr);

    dataset_info info;
    info.dtype = descr_of<T>();
    info.shape = src.shape;
    info.format = options.format;
    info.generation = next_generation(dir, have_live ? &live : nullptr);

    const std::size_t threads = threads_for(options.threads, options.pool);
    const std::size_t nshards = options.shards == 0 ? threads : options.shards;
    const bool whole = src.shape.empty();
    std::vector<row_range> ranges = split_rows(src.rows(), whole ? 1 : nshards);
    if (ranges.empty()) ranges.push_back({0, 0, 0});  // zero rows: one empty shard keeps the shape
    info.shards.resize(ranges.size());
    for (std::size_t i = 0; i < ranges.size(); ++i) {
        info.shards[i].path = shard_name(info.generation, i, options.format);
        info.shards[i].first_row = ranges[i].first_row;
        info.shards[i].last_row = ranges[i].last_row;
    }
    try {
        with_pool(options.pool, threads, ranges.size(), [&](std::size_t i) {
            auto& s = info.shards[i];
            file f = file::create_new(dir / s.path);
            xxh3_stream hash;
            if (options.format == shard_format::npy) {
                write_npy_shard(f, src, s.first_row, s.last_row, whole, hash, s.bytes);
            } else {
                const char delim = options.format == shard_format::csv ? ',' : '\t';
                write_text_shard(f, src, s.first_row, s.last_row, delim, hash, s.bytes);
            }
            s.checksum = hash.text();
            if (options.sync) f.sync();
            f.close();
        });
        if (options.sync) sync_directory(dir);
        write_file_atomically(dir / manifest_name, manifest_text(info), options.sync);
        if (options.sync) sync_directory(dir);
    } catch (...) {
        // nothing of this generation is listed anywhere: remove it all, keep the live dataset
        for (const auto& s : info.shards)
            remove_quietly(dir / s.path);
        throw;
    }
    remove_unlisted(dir, &info);  // the previous generation and any stray leftovers
    return info;
}

template <class T>
void load_rows(const std::filesystem::path& dir, const dataset_info& info, T* dest,
               const load_options& options) {
    std::size_t row_size = 1;
    for (std::size_t i = 1; i < info.shape.size(); ++i)
        row_size *= info.shape[i];
    const std::size_t threads = threads_for(options.threads, options.pool);
    with_pool(options.pool, threads, info.shards.size(), [&](std::size_t i) {
        const auto& s = info.shards[i];
        T* out = dest + s.first_row * row_size;
        if (info.format == shard_format::npy) {
            read_npy_shard(dir / s.path, s, info.shape, out, options.verify);
        } else {
            const char delim = info.format == shard_format::csv ? ',' : '\t';
            read_text_shard(dir / s.path, s, row_size, out, delim, options.verify);
        }
    });
}

/// Checks, before anything is allocated, that every shard file exists with the size the manifest
/// gives and that those sizes can hold the rows claimed: a manifest that lies about its shape
/// cannot make ndshard allocate more than the shard files could fill.
inline void check_shard_files(const std::filesystem::path& dir, const dataset_info& info,
                              std::size_t elem_size) {
    std::size_t row_size = 1;
    for (std::size_t i = 1; i < info.shape.size(); ++i)
        row_size *= info.shape[i];
    for (const auto& s : info.shards) {
        const auto path = dir / s.path;
        std::error_code ec;
        const auto status = std::filesystem::symlink_status(path, ec);
        if (ec || !std::filesystem::exists(status))
            fail_system("open shard", path, ec ? ec.value() : ENOENT);
        // a directory in a shard's place: the system's own words, as for any unreadable shard
        if (std::filesystem::is_directory(status)) fail_system("open shard", path, EISDIR);
        if (!std::filesystem::is_regular_file(status))
            fail("cannot open shard", path, "expected a regular file inside the dataset");
        const std::uint64_t size = std::filesystem::file_size(path, ec);
        if (ec) fail_system("stat shard", path, ec.value());
        if (size != s.bytes)
            fail("shard disagrees with the manifest:", path,
                 "expected " + std::to_string(s.bytes) + " bytes, found " + std::to_string(size));
        const std::uint64_t rows = s.last_row - s.first_row;
        // npy: the data itself; text: at least one character and one separator per value (the
        // shape was checked not to overflow, so neither product can)
        const std::uint64_t least =
            info.format == shard_format::npy
                ? rows * row_size * elem_size
                : (row_size == 0 || rows == 0 ? 0 : rows * row_size * 2 - 1);
        if (least > size)
            fail("shard too small for the manifest:", path,
                 "rows [" + std::to_string(s.first_row) + ", " + std::to_string(s.last_row) +
                     ") need at least " + std::to_string(static_cast<std::uint64_t>(least)) +
                     " bytes, found " + std::to_string(size));
    }
}

/// The manifest of `dir`, checked to hold elements of type T and to have shard files that can
/// hold what it claims.
template <class T>
dataset_info manifest_for(const std::filesystem::path& dir) {
    dataset_info info = read_manifest(dir);
    if (info.dtype != descr_of<T>()) {
        parsed_descr pd;
        (void)parse_descr(info.dtype, pd);
        fail("cannot load", dir / manifest_name,
             "expected dtype " + descr_of<T>() + " (" + dtype_name(dtype_of<T>()) + "), found " +
                 info.dtype + " (" + dtype_name(pd.type) + ")");
    }
    check_shard_files(dir, info, sizeof(T));
    return info;
}

}  // namespace detail

inline dataset_info inspect(const std::filesystem::path& dir) {
    return detail::read_manifest(dir);
}

template <class E>
dataset_info save(const std::filesystem::path& dir, const xt::xexpression<E>& a,
                  const save_options& options) {
    return detail::save_rows(dir, detail::make_row_source(a.derived_cast()), options);
}

template <class T>
xt::xarray<T> load(const std::filesystem::path& dir, const load_options& options) {
    const dataset_info info = detail::manifest_for<T>(dir);
    xt::xarray<T> out = detail::allocate_array<T>(info.shape);
    detail::load_rows(dir, info, out.data(), options);
    return out;
}

template <class C>
void load_into(const std::filesystem::path& dir, C& out, const load_options& options) {
    using T = detail::element_t<C>;
    const dataset_info info = detail::manifest_for<T>(dir);
    T* dest = detail::prepare_destination(out, info.shape, dir / detail::manifest_name);
    detail::load_rows(dir, info, dest, options);
}

}  // namespace ndshard
