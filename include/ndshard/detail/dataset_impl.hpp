// ndshard/detail/dataset_impl.hpp — bodies of dataset.hpp: manifest, naming, commit protocol.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "ndshard/dataset.hpp"
#include "ndshard/detail/checksum.hpp"
#include "ndshard/detail/convert.hpp"
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

/// The generation in a shard file name ndshard made, or false for any other name. Only the exact
/// names shard_name gives count ("part-000012-00003.npy": generation padded to 6 digits, index to
/// 5, no zero beyond the padding): a save removes unlisted files of this form, so a user's
/// "part-2023-01.csv" must never be one.
inline bool parse_shard_name(std::string_view name, std::uint64_t& generation) {
    const auto number = [](std::string_view digits, std::size_t width, std::uint64_t& n) {
        // at most 19 digits: any such number fits in 64 bits
        if (digits.size() < width || digits.size() > 19) return false;
        if (digits.size() > width && digits[0] == '0') return false;
        n = 0;
        for (char c : digits) {
            if (c < '0' || c > '9') return false;
            n = n * 10 + static_cast<std::uint64_t>(c - '0');
        }
        return true;
    };
    if (name.substr(0, 5) != "part-") return false;
    name.remove_prefix(5);
    const std::size_t dash = name.find('-');
    const std::size_t dot = name.find('.');
    if (dash == std::string_view::npos || dot == std::string_view::npos || dot < dash) return false;
    std::uint64_t g = 0, i = 0;
    if (!number(name.substr(0, dash), 6, g) || !number(name.substr(dash + 1, dot - dash - 1), 5, i))
        return false;
    const std::string_view ext = name.substr(dot + 1);
    if (!(ext == "npy" || ext == "csv" || ext == "tsv")) return false;
    generation = g;
    return true;
}

/// A name that can only mean a file directly inside the dataset directory: no '/', not "." or
/// "..", no control bytes (which could also forge lines in logs and messages).
inline bool plain_file_name(std::string_view s) {
    if (s.empty() || s == "." || s == ".." || s.size() > 255) return false;
    return std::none_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return c == '/' || u < 0x20 || u == 0x7f;
    });
}

[[noreturn]] inline void manifest_fail(const std::filesystem::path& file, const std::string& what) {
    fail("invalid manifest", file, what);
}

/// A JSON value as it appears in a message: short, and never the whole of a huge array or object.
inline std::string json_excerpt(const nlohmann::json& j, std::size_t max = 32) {
    if (j.is_array() && j.size() > 8) return "an array of " + std::to_string(j.size()) + " items";
    if (j.is_object() && j.size() > 4) return "an object of " + std::to_string(j.size()) + " keys";
    return shorten(j.dump(), max);
}

inline std::uint64_t json_uint(const nlohmann::json& j, const char* what,
                               const std::filesystem::path& file) {
    if (!j.is_number_unsigned())
        manifest_fail(file, std::string("expected a non-negative integer for ") + what +
                                ", found " + json_excerpt(j));
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
        // a manifest nests 4 levels deep; refuse more while parsing, since printing a deeply
        // nested value for a message would recurse until the stack overflows
        const nlohmann::json::parser_callback_t bounded =
            [&file](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
                if (depth > 8) manifest_fail(file, "values nested deeper than a manifest's");
                return true;
            };
        j = nlohmann::json::parse(text.begin(), text.end(), bounded);
    } catch (const nlohmann::json::exception& e) {
        // parse_error, and out_of_range for a number beyond a double ("1e400"; found by fuzzing)
        manifest_fail(file, std::string("not valid JSON: ") + e.what());
    }
    if (!j.is_object()) manifest_fail(file, "expected a JSON object, found " + json_excerpt(j));
    dataset_info info;
    const auto version = json_uint(json_field(j, "ndshard", file), "'ndshard'", file);
    if (version != 1)
        manifest_fail(file,
                      "expected format version 1 in 'ndshard', found " + std::to_string(version));
    const auto& dt = json_field(j, "dtype", file);
    parsed_descr pd;
    if (!dt.is_string() || !parse_descr(dt.get<std::string>(), pd) || pd.swap)
        manifest_fail(file, "expected a little-endian numeric dtype such as \"<f8\", found " +
                                json_excerpt(dt));
    info.dtype = pd.type.descr();
    const auto& shape = json_field(j, "shape", file);
    if (!shape.is_array() || shape.size() > 64)
        manifest_fail(file, "expected 'shape' to be an array of at most 64 integers, found " +
                                json_excerpt(shape));
    std::uint64_t total = pd.type.size, strides = pd.type.size;
    for (const auto& d : shape) {
        info.shape.push_back(
            static_cast<std::size_t>(json_uint(d, "a dimension of 'shape'", file)));
        if (!checked_mul(total, info.shape.back(), total))
            manifest_fail(file, "'shape' describes more than 2^63 bytes");
        // an empty array's strides are products of its other dimensions: they must fit too
        if (info.shape.back() != 0 && !checked_mul(strides, info.shape.back(), strides))
            manifest_fail(file, "'shape' has dimensions whose product is more than 2^63 bytes");
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
                                json_excerpt(fmt));
    }
    if (const auto g = j.find("generation"); g != j.end())
        info.generation = json_uint(*g, "'generation'", file);
    const auto& shards = json_field(j, "shards", file);
    if (!shards.is_array() || shards.empty())
        manifest_fail(file,
                      "expected 'shards' to be a non-empty array, found " + json_excerpt(shards));
    const std::size_t rows = info.shape.empty() ? 1 : info.shape[0];
    std::size_t next = 0;
    std::set<std::string_view> paths;
    for (std::size_t k = 0; k < shards.size(); ++k) {
        const auto& s = shards[k];
        const std::string where = "shard " + std::to_string(k);
        if (!s.is_object()) manifest_fail(file, "expected " + where + " to be an object");
        shard_info si;
        const auto& p = json_field(s, "path", file, where.c_str());
        if (!p.is_string() || !plain_file_name(p.get<std::string>()))
            manifest_fail(file, "expected the path of " + where +
                                    " to be a plain file name inside the dataset, found " +
                                    json_excerpt(p, 64));
        si.path = p.get<std::string>();
        if (!paths.insert(p.get_ref<const std::string&>()).second)
            manifest_fail(file, "the path of " + where + ", \"" + si.path + "\", is listed twice");
        const auto& r = json_field(s, "rows", file, where.c_str());
        if (!r.is_array() || r.size() != 2)
            manifest_fail(file, "expected the rows of " + where + " as [first, last], found " +
                                    json_excerpt(r));
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
                                        " as \"xxh3:<16 hex digits>\", found " + json_excerpt(*c));
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
        nlohmann::json e = {
            {"path", s.path}, {"rows", {s.first_row, s.last_row}}, {"bytes", s.bytes}};
        if (!s.checksum.empty()) e["checksum"] = s.checksum;  // "" would not parse back
        shards.push_back(std::move(e));
    }
    return j.dump(1) + "\n";
}

/// Reads a whole small file inside a dataset (bounded by `max_bytes`; a link is refused).
inline std::string read_small_file(const std::filesystem::path& p, std::uint64_t max_bytes) {
    const file f = file::open_read_nofollow(p);
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

/// Whether the text of a manifest that does not parse is still ndshard's (damaged): it holds
/// the format version field every ndshard manifest has, "ndshard": <digit> (a foreign file that
/// merely mentions ndshard, as {"deps": {"ndshard": "1.0"}}, does not).
inline bool names_ndshard_version(std::string_view text) noexcept {
    for (std::size_t at = 0; (at = text.find("\"ndshard\"", at)) != std::string_view::npos;) {
        at += 9;
        std::size_t p = at;
        while (p < text.size() && (text[p] == ' ' || text[p] == '\n' || text[p] == '\t'))
            ++p;
        if (p == text.size() || text[p++] != ':') continue;
        while (p < text.size() && (text[p] == ' ' || text[p] == '\n' || text[p] == '\t'))
            ++p;
        if (p < text.size() && text[p] >= '0' && text[p] <= '9') return true;
    }
    return false;
}

/// Writes a file's bytes, fsyncs it (when asked) and renames it into place.
inline void write_file_atomically(const std::filesystem::path& target, std::string_view bytes,
                                  bool sync) {
    write_atomically(target, sync, false,
                     [&](const file& f) { f.pwrite_full(bytes.data(), bytes.size(), 0); });
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

/// Opens shard `s` (a link is refused, and so is anything but a regular file) and checks that
/// its size is the one the manifest gives.
inline file open_shard(const std::filesystem::path& dir, const shard_info& s) {
    file f = file::open_read_nofollow(dir / s.path, "open shard");
    struct stat st {};
    if (::fstat(f.fd(), &st) != 0) fail_system("stat shard", f.path(), errno);
    // a directory in a shard's place: the system's own words, as for any unreadable shard
    if (S_ISDIR(st.st_mode)) fail_system("open shard", f.path(), EISDIR);
    if (!S_ISREG(st.st_mode))
        fail("cannot open shard", f.path(), "expected a regular file inside the dataset");
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (size != s.bytes)
        fail("shard disagrees with the manifest:", f.path(),
             "expected " + std::to_string(s.bytes) + " bytes, found " + std::to_string(size));
    return f;
}

/// Reads an .npy shard's header (into `raw` when given) and checks it against the manifest:
/// dtype, shape (with this shard's row count), C order, and a file size that holds exactly the
/// data the header promises.
inline npy_header check_npy_shard_header(const file& f, const shard_info& s,
                                         const dataset_info& info, std::string* raw) {
    const npy_header h = read_npy_header(f, raw);
    std::vector<std::size_t> expected = info.shape;
    if (!expected.empty()) expected[0] = s.last_row - s.first_row;
    parsed_descr want;
    (void)parse_descr(info.dtype, want);  // validated with the manifest
    if (h.type.type != want.type || h.type.swap || h.shape != expected ||
        (h.fortran_order && expected.size() > 1)) {
        const std::string wanted =
            "{'descr': '" + info.dtype + "', 'shape': " + shape_text(expected) + "}";
        const std::string got = "{'descr': '" + shorten(h.descr) +
                                "', 'shape': " + shape_text(h.shape) +
                                (h.fortran_order ? ", Fortran order}" : "}");
        fail("shard disagrees with the manifest:", f.path(),
             "expected " + wanted + ", found " + got);
    }
    return h;
}

/// Checks what can be checked of a shard without reading its data: present, a regular file,
/// the size the manifest gives, and able to hold the rows the manifest assigns it (npy: its
/// header agrees; text: at least one character and one separator per value). Returns the open
/// file.
inline file check_shard(const std::filesystem::path& dir, const dataset_info& info,
                        const shard_info& s) {
    file f = open_shard(dir, s);
    if (info.format == shard_format::npy) {
        (void)check_npy_shard_header(f, s, info, nullptr);
        return f;
    }
    const std::uint64_t rows = s.last_row - s.first_row, row_size = row_size_of(info.shape);
    // the shape was checked not to overflow, so this product cannot
    const std::uint64_t least = row_size == 0 || rows == 0 ? 0 : rows * row_size * 2 - 1;
    if (least > s.bytes)
        fail("shard too small for the manifest:", f.path(),
             "rows [" + std::to_string(s.first_row) + ", " + std::to_string(s.last_row) +
                 ") need at least " + std::to_string(least) + " bytes, found " +
                 std::to_string(s.bytes));
    return f;
}

[[noreturn]] inline void checksum_fail(const std::filesystem::path& path, const shard_info& s,
                                       const xxh3_stream& hash) {
    fail("checksum mismatch in", path,
         "expected " + s.checksum + " (from the manifest), found " + hash.text() +
             ": the shard is corrupt");
}

/// Reads one .npy shard of `Src` elements into `dest` (its first row) as `T` elements, checking
/// the header against the manifest and, with `verify`, the checksum. Same types: straight into
/// `dest`. Different types: through a bounded buffer, converted by convert_value; a value `T`
/// cannot hold is reported after the checksum (a corrupt shard is named as corrupt).
template <class Src, class T>
void read_npy_shard(const std::filesystem::path& dir, const dataset_info& info, const shard_info& s,
                    T* dest, bool verify) {
    const file f = open_shard(dir, s);
    std::string raw;
    const npy_header h = check_npy_shard_header(f, s, info, &raw);
    xxh3_stream hash;
    if (verify) hash.update(raw.data(), raw.size());
    const std::uint64_t n = h.elements();
    std::optional<std::string> bad_value;
    if constexpr (std::is_same_v<Src, T>) {
        const std::uint64_t total = n * sizeof(T);
        auto* out = reinterpret_cast<char*>(dest);
        for (std::uint64_t done = 0; done < total;) {
            const auto k =
                static_cast<std::size_t>(std::min<std::uint64_t>(chunk_bytes, total - done));
            f.pread_full(out + done, k, h.data_offset + done);
            if (verify) hash.update(out + done, k);
            done += k;
        }
        if constexpr (std::is_same_v<T, bool>) normalize_bools(dest, static_cast<std::size_t>(n));
    } else {
        constexpr std::size_t step = chunk_bytes / sizeof(Src);
        scratch<Src> buffer;
        Src* in = buffer.get(static_cast<std::size_t>(std::min<std::uint64_t>(step, n)));
        for (std::uint64_t done = 0; done < n;) {
            const auto k = static_cast<std::size_t>(std::min<std::uint64_t>(step, n - done));
            f.pread_full(in, k * sizeof(Src), h.data_offset + done * sizeof(Src));
            if (verify) hash.update(in, k * sizeof(Src));
            if constexpr (std::is_same_v<Src, bool>) normalize_bools(in, k);
            for (std::size_t j = 0; j < k && !bad_value; ++j) {
                if (!convert_value(in[j], dest[done + j])) {
                    const std::uint64_t element =
                        std::uint64_t{s.first_row} * row_size_of(info.shape) + done + j;
                    bad_value = "element " + std::to_string(element) + " holds " +
                                value_text(in[j]) + " (" + dtype_name(dtype_of<Src>()) +
                                "), which " + dtype_name(dtype_of<T>()) + " cannot hold";
                }
            }
            if (bad_value && !verify) break;  // with verify, read on: corruption is named first
            done += k;
        }
    }
    if (verify && !s.checksum.empty() && hash.text() != s.checksum)
        checksum_fail(f.path(), s, hash);
    if (bad_value) fail("cannot convert", f.path(), *bad_value);
}

/// The file names in `dir` that only an unfinished save can have made: "manifest.json.tmp-…".
/// Shards are written under their final names; a save that fails removes them itself.
inline bool is_temporary_name(const std::string& name) {
    return name.rfind(manifest_name, 0) == 0 && name.find(".tmp-") != std::string::npos;
}

/// Removes what no reader can need: temporary files of a save that did not finish, always; and,
/// when `keep` is given, every file named exactly as ndshard names shards (parse_shard_name: no
/// other file is ever removed, whoever wrote it) that `keep` does not list, but only when
/// no load is running (a load may still be reading an older generation: a later save removes
/// those). `keep` null: the live manifest is unreadable, so shards are left alone. Failures are
/// ignored: this is cleanup, and it runs after the commit.
inline void remove_unlisted(const std::filesystem::path& dir,
                            const std::vector<shard_info>* keep) noexcept {
    try {
        std::set<std::string_view> listed;  // a directory entry each: no search of `keep` per entry
        if (keep)
            for (const shard_info& s : *keep)
                listed.insert(s.path);
        std::vector<std::filesystem::path> unlisted;
        std::error_code ec;
        for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end;
             it.increment(ec)) {
            const std::string name = it->path().filename().string();
            std::uint64_t g = 0;
            if (is_temporary_name(name)) {
                remove_quietly(it->path());
            } else if (keep && parse_shard_name(name, g) && listed.count(name) == 0) {
                unlisted.push_back(it->path());
            }
        }
        if (unlisted.empty()) return;
        const directory_lock no_readers(dir, directory_lock::kind::exclusive_if_free);
        if (!no_readers.held()) return;
        for (const auto& p : unlisted)
            remove_quietly(p);
    } catch (...) {
        // out of memory or descriptors while cleaning up: the next save tries again
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
    // shard names hold at most 19 digits
    if (g >= std::uint64_t{9'999'999'999'999'999'999u})
        fail("cannot save", dir / manifest_name,
             "the generation counter is exhausted (" + std::to_string(g) + ")");
    return g + 1;
}

template <class T>
dataset_info save_rows(const std::filesystem::path& dir, const row_source<T>& src,
                       const save_options& options) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec || !std::filesystem::is_directory(dir, ec))
        fail_system("create dataset directory", dir, ec ? ec.value() : ENOTDIR);
    const file_lock one_save_at_a_time(dir / lock_name);

    // the live dataset, if any: its files stay until the new manifest is committed
    std::optional<dataset_info> live;
    const bool have_manifest = std::filesystem::exists(dir / manifest_name, ec);
    if (ec) fail_system("stat", dir / manifest_name, ec.value());
    // a directory in the manifest's place: the commit below says so ("Is a directory")
    if (have_manifest && !std::filesystem::is_directory(dir / manifest_name, ec)) {
        // one that cannot be read (too large, no permission, a link, a FIFO) may be anyone's:
        // that error stops the save, and nothing is written
        const std::string text = read_small_file(dir / manifest_name, manifest_max_bytes);
        try {
            live = parse_manifest(text, dir / manifest_name);
        } catch (const error&) {
            // a damaged manifest of ndshard's is replaced by the commit below, and its shards
            // removed after it; a manifest.json of another program is never overwritten
            if (!names_ndshard_version(text))
                fail("cannot save", dir / manifest_name,
                     "expected no file or an ndshard manifest there, found a file another "
                     "program wrote (move it away, or save into another directory)");
        }
    }
    // leftovers of a save that was killed: only what the live manifest does not list
    const std::vector<shard_info> none;
    remove_unlisted(dir, live ? &live->shards : have_manifest ? nullptr : &none);

    dataset_info info;
    info.dtype = descr_of<T>();
    info.shape = src.shape;
    info.format = options.format;
    info.generation = next_generation(dir, live ? &*live : nullptr);
    // new shards join the dataset with its manifest's permissions: one made private stays so
    const file_attributes attributes = attributes_to_keep(dir / manifest_name);

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
            // private until written, then the permissions of the dataset it joins
            file f = file::create_private(dir / s.path);
            xxh3_stream hash;
            if (options.format == shard_format::npy) {
                write_npy_shard(f, src, s.first_row, s.last_row, whole, hash, s.bytes);
            } else {
                const char delim = options.format == shard_format::csv ? ',' : '\t';
                write_text_shard(f, src, s.first_row, s.last_row, delim, hash, s.bytes);
            }
            s.checksum = hash.text();
            keep_attributes(f, attributes);
            if (options.sync) f.sync();
            f.close();
        });
        if (options.sync) sync_directory(dir);
        write_file_atomically(dir / manifest_name, manifest_text(info), options.sync);  // commit
    } catch (...) {
        // nothing of this generation is listed anywhere: remove it all, keep the live dataset
        for (const auto& s : info.shards)
            remove_quietly(dir / s.path);
        throw;
    }
    // committed: from here on the new shards are the dataset and must never be removed
    if (options.sync) sync_directory(dir);
    remove_unlisted(dir, &info.shards);  // the previous generation, unless a load still reads it
    return info;
}

template <class T>
void load_rows(const std::filesystem::path& dir, const dataset_info& info, T* dest,
               const load_options& options) {
    const std::size_t row_size = row_size_of(info.shape);
    parsed_descr stored;
    (void)parse_descr(info.dtype, stored);  // validated with the manifest
    const std::size_t threads = threads_for(options.threads, options.pool);
    with_pool(options.pool, threads, info.shards.size(), [&](std::size_t i) {
        const auto& s = info.shards[i];
        T* out = dest + s.first_row * row_size;
        if (info.format != shard_format::npy) {
            // text is parsed straight into T, whatever the manifest's dtype
            const char delim = info.format == shard_format::csv ? ',' : '\t';
            read_text_shard(open_shard(dir, s), s, row_size, out, delim, options.verify);
        } else if (stored.type == dtype_of<T>()) {
            read_npy_shard<T>(dir, info, s, out, options.verify);
        } else {
            (void)visit_dtype(stored.type, [&](auto tag) {
                read_npy_shard<typename decltype(tag)::type>(dir, info, s, out, options.verify);
            });
        }
    });
}

/// The manifest of `dir`, checked to hold elements of type T (unless `convert`) and to have
/// shard files that can hold what it claims: a manifest or a shard header that lies about its
/// shape cannot make ndshard allocate more than the shard files hold.
template <class T>
dataset_info manifest_for(const std::filesystem::path& dir, bool convert) {
    dataset_info info = read_manifest(dir);
    if (info.dtype != descr_of<T>() && !convert) {
        parsed_descr pd;
        (void)parse_descr(info.dtype, pd);
        fail("cannot load", dir / manifest_name,
             "expected dtype " + descr_of<T>() + " (" + dtype_name(dtype_of<T>()) + "), found " +
                 info.dtype + " (" + dtype_name(pd.type) + ")");
    }
    for (const auto& s : info.shards)
        (void)check_shard(dir, info, s);
    return info;
}

/// Checks one shard for verify(): everything check_shard does, then the checksum of the whole
/// file. Returns the bytes hashed (0 when the manifest lists no checksum).
inline std::uint64_t verify_shard(const std::filesystem::path& dir, const dataset_info& info,
                                  const shard_info& s, scratch<char>& buffer) {
    const file f = check_shard(dir, info, s);
    if (s.checksum.empty()) return 0;
    xxh3_stream hash;
    char* p = buffer.get(chunk_bytes);
    for (std::uint64_t done = 0; done < s.bytes;) {
        const auto k =
            static_cast<std::size_t>(std::min<std::uint64_t>(chunk_bytes, s.bytes - done));
        f.pread_full(p, k, done);
        hash.update(p, k);
        done += k;
    }
    if (hash.text() != s.checksum) checksum_fail(f.path(), s, hash);
    return s.bytes;
}

}  // namespace detail

inline dataset_info inspect(const std::filesystem::path& dir) {
    return detail::read_manifest(dir);
}

inline verify_result verify(const std::filesystem::path& dir, const verify_options& options) {
    const directory_lock reading(dir, directory_lock::kind::shared);
    const dataset_info info = detail::read_manifest(dir);
    const std::size_t n = info.shards.size();
    std::vector<std::optional<std::string>> messages(n);
    std::vector<std::uint64_t> hashed(n, 0);
    detail::with_pool(options.pool, detail::threads_for(options.threads, options.pool), n,
                      [&](std::size_t i) {
                          detail::scratch<char> buffer;  // 4 MiB, freed with the task
                          try {
                              hashed[i] = detail::verify_shard(dir, info, info.shards[i], buffer);
                          } catch (const error& e) {
                              messages[i] = e.what();
                          }
                      });
    verify_result r;
    r.shards = n;
    for (std::size_t i = 0; i < n; ++i) {
        r.bytes += hashed[i];
        if (info.shards[i].checksum.empty()) ++r.unchecked;
        if (messages[i]) r.problems.push_back({i, info.shards[i].path, std::move(*messages[i])});
    }
    return r;
}

template <class E>
dataset_info save(const std::filesystem::path& dir, const xt::xexpression<E>& a,
                  const save_options& options) {
    return detail::save_rows(dir, detail::make_row_source(a.derived_cast()), options);
}

template <class T>
xt::xarray<T> load(const std::filesystem::path& dir, const load_options& options) {
    const directory_lock reading(dir, directory_lock::kind::shared);  // no save removes our shards
    const dataset_info info = detail::manifest_for<T>(dir, options.convert);
    xt::xarray<T> out = detail::allocate_array<T>(info.shape);
    detail::load_rows(dir, info, out.data(), options);
    return out;
}

template <class C>
void load_into(const std::filesystem::path& dir, C& out, const load_options& options) {
    using T = detail::element_t<C>;
    const directory_lock reading(dir, directory_lock::kind::shared);
    const dataset_info info = detail::manifest_for<T>(dir, options.convert);
    T* dest = detail::prepare_destination(out, info.shape, dir / detail::manifest_name);
    detail::load_rows(dir, info, dest, options);
}

}  // namespace ndshard
