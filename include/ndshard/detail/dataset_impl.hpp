// ndshard/detail/dataset_impl.hpp — bodies of dataset.hpp: manifest, naming, commit protocol.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <filesystem>
#include <limits>
#include <memory>
#include <mutex>
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
#include "ndshard/detail/json_depth.hpp"
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
/// User attributes nest at most this deep (an object of numbers: 1), so a manifest at most one
/// level more (its shards: 3)
/// (8 levels in all: what every ndshard reader since format version 1 accepts)
inline constexpr std::size_t attributes_max_depth = 7;
inline constexpr std::size_t manifest_max_depth = attributes_max_depth + 1;

/// "part-<generation>-<index>.<ext>": a new save never reuses a live name.
inline std::string shard_name(std::uint64_t generation, std::size_t index, shard_format f) {
    std::string g = std::to_string(generation), i = std::to_string(index);
    if (g.size() < 6) g.insert(0, 6 - g.size(), '0');
    if (i.size() < 5) i.insert(0, 5 - i.size(), '0');
    return "part-" + g + "-" + i + "." + to_string(f);
}

/// "part-<generation>-00000.words": the words of an embeddings dataset (save_embeddings).
inline std::string words_name(std::uint64_t generation) {
    std::string name = shard_name(generation, 0, shard_format::npy);
    return name.replace(name.size() - 3, 3, "words");
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
    if (!(ext == "npy" || ext == "csv" || ext == "tsv" || ext == "words")) return false;
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
    // (a value the user gave may hold bytes that are not UTF-8: shown replaced, not thrown)
    return shorten(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), max);
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

/// A shard entry's block checksums: "block_bytes" (1 to 2^30) and "block_xxh3", 16 hex digits
/// per block, one block per `block_bytes` of the file (the last may be shorter). Both or neither.
inline void parse_block_checksums(const nlohmann::json& s, shard_info& si, const std::string& where,
                                  const std::filesystem::path& file) {
    const auto b = s.find("block_bytes");
    const auto x = s.find("block_xxh3");
    if (b == s.end() && x == s.end()) return;
    if (b == s.end() || x == s.end())
        manifest_fail(file, "expected both 'block_bytes' and 'block_xxh3' in " + where +
                                ", found only '" + (b == s.end() ? "block_xxh3" : "block_bytes") +
                                "'");
    si.block_bytes = json_uint(*b, "'block_bytes'", file);
    if (si.block_bytes == 0 || si.block_bytes > (std::uint64_t{1} << 30))
        manifest_fail(file, "expected 'block_bytes' of " + where + " from 1 to 2^30, found " +
                                std::to_string(si.block_bytes));
    const std::uint64_t blocks =
        si.bytes / si.block_bytes + (si.bytes % si.block_bytes != 0 ? 1 : 0);
    const std::string* hex = x->is_string() ? &x->get_ref<const std::string&>() : nullptr;
    if (!hex || hex->size() % 16 != 0 || hex->size() / 16 != blocks ||
        hex->find_first_not_of("0123456789abcdef") != std::string::npos)
        manifest_fail(file, "expected 'block_xxh3' of " + where + " to hold " +
                                std::to_string(blocks) + " checksums of 16 hex digits (" +
                                std::to_string(si.bytes) + " bytes in blocks of " +
                                std::to_string(si.block_bytes) + "), found " + json_excerpt(*x));
    si.block_checksums.resize(static_cast<std::size_t>(blocks));
    for (std::size_t k = 0; k < si.block_checksums.size(); ++k) {
        std::uint64_t v = 0;
        for (std::size_t j = 0; j < 16; ++j) {
            const char c = (*hex)[16 * k + j];
            v = v << 4 | static_cast<std::uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
        }
        si.block_checksums[k] = v;
    }
}

/// One file's entry of a manifest (a shard, or the words of an embeddings dataset): path (a plain
/// name, not in `paths` yet), rows, bytes, checksums. `where`: "shard 3", for messages.
inline shard_info parse_file_entry(const nlohmann::json& s, const std::string& where,
                                   std::set<std::string_view>& paths,
                                   const std::filesystem::path& file) {
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
        manifest_fail(
            file, "expected the rows of " + where + " as [first, last], found " + json_excerpt(r));
    si.first_row = static_cast<std::size_t>(json_uint(r[0], "a row number", file));
    si.last_row = static_cast<std::size_t>(json_uint(r[1], "a row number", file));
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
    parse_block_checksums(s, si, where, file);
    return si;
}

/// Parses and validates a manifest's text: fields, types, dtype, shape (no overflow), shard paths
/// (plain names inside the directory) and rows (cover [0, rows) in order, no gaps or overlaps).
inline dataset_info parse_manifest(std::string_view text, const std::filesystem::path& file) {
    // a manifest nests 4 levels deep; refuse more before parsing, since printing a deeply
    // nested value for a message would recurse until the stack overflows (a scan, not a parser
    // callback: the callback made parsing twice as slow, and appends parse every time)
    if (json_depth_exceeds(text, manifest_max_depth))
        manifest_fail(file, "values nested deeper than a manifest's");
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text.begin(), text.end());
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
    if (const auto a = j.find("attributes"); a != j.end()) {
        if (!a->is_object())
            manifest_fail(file,
                          "expected 'attributes' to be a JSON object, found " + json_excerpt(*a));
        info.attributes = std::move(*a);
    }
    const auto& shards = json_field(j, "shards", file);
    if (!shards.is_array() || shards.empty())
        manifest_fail(file,
                      "expected 'shards' to be a non-empty array, found " + json_excerpt(shards));
    const std::size_t rows = info.shape.empty() ? 1 : info.shape[0];
    std::size_t next = 0;
    std::set<std::string_view> paths;
    for (std::size_t k = 0; k < shards.size(); ++k) {
        const std::string where = "shard " + std::to_string(k);
        shard_info si = parse_file_entry(shards[k], where, paths, file);
        if (si.first_row != next || si.last_row < si.first_row || si.last_row > rows)
            manifest_fail(file, where + " covers rows [" + std::to_string(si.first_row) + ", " +
                                    std::to_string(si.last_row) + "), expected rows from " +
                                    std::to_string(next) + " up to at most " +
                                    std::to_string(rows));
        next = si.last_row;
        info.shards.push_back(std::move(si));
    }
    if (next != rows)
        manifest_fail(file, "the shards cover rows [0, " + std::to_string(next) +
                                "), expected [0, " + std::to_string(rows) + ")");
    if (const auto w = j.find("words"); w != j.end()) {
        info.words = parse_file_entry(*w, "the words", paths, file);
        if (info.shape.size() != 2 || info.words.first_row != 0 || info.words.last_row != rows)
            manifest_fail(file, "expected the words' rows as [0, " + std::to_string(rows) +
                                    "] of a dataset of rank 2, found [" +
                                    std::to_string(info.words.first_row) + ", " +
                                    std::to_string(info.words.last_row) + "] of rank " +
                                    std::to_string(info.shape.size()));
    }
    return info;
}

/// The manifest's JSON, one shard per line. Written directly, not through a JSON tree: an
/// append rewrites the whole manifest, and building the tree cost 5 us per shard.
inline std::string manifest_text(const dataset_info& info) {
    const auto str = [](const std::string& v) { return nlohmann::json(v).dump(); };  // escaped
    std::string t = "{\n \"ndshard\": 1,\n \"dtype\": " + str(info.dtype) + ",\n \"shape\": [";
    for (std::size_t i = 0; i < info.shape.size(); ++i)
        t += (i ? ", " : "") + std::to_string(info.shape[i]);
    t += "],\n \"format\": \"" + std::string(to_string(info.format)) +
         "\",\n \"generation\": " + std::to_string(info.generation) + ",\n";
    // checked by attributes_for: an object that dumps (valid UTF-8) and nests at most 32 deep
    if (info.attributes.is_object() && !info.attributes.empty())
        t += " \"attributes\": " + info.attributes.dump() + ",\n";
    t += " \"shards\": [";
    const auto entry = [&](const shard_info& s) {
        t += "{\"path\": " + str(s.path) + ", \"rows\": [" + std::to_string(s.first_row) + ", " +
             std::to_string(s.last_row) + "], \"bytes\": " + std::to_string(s.bytes);
        if (!s.checksum.empty())
            t += ", \"checksum\": \"" + s.checksum + "\"";  // "" would not parse back
        if (s.block_bytes != 0) {
            t += ", \"block_bytes\": " + std::to_string(s.block_bytes) + ", \"block_xxh3\": \"";
            for (const std::uint64_t h : s.block_checksums)
                t.append(xxh3_stream::checksum_text(h), 5, 16);
            t += '"';
        }
        t += '}';
    };
    for (std::size_t i = 0; i < info.shards.size(); ++i) {
        t += (i ? ",\n  " : "\n  ");
        entry(info.shards[i]);
    }
    t += "\n ]";
    if (!info.words.path.empty()) {
        t += ",\n \"words\": ";
        entry(info.words);
    }
    t += "\n}\n";
    return t;
}

/// Fails unless `a` can be a dataset's attributes: an object nested at most attributes_max_depth
/// levels, of finite numbers (JSON has no NaN: it would come back null) and strings that are
/// UTF-8. Walked with a stack of its own, before anything recurses over it (dump, a copy): a
/// value nested a million levels deep is an error, not a stack overflow.
inline void check_attributes(const std::filesystem::path& dir, const nlohmann::json& a,
                             const char* what) {
    const auto no = [&](const std::string& detail) { fail(what, dir, detail); };
    if (!a.is_object())
        no("expected attributes as a JSON object (or null: none, or the dataset's own on an "
           "append), found " +
           (a.is_array() ? "an array of " + std::to_string(a.size()) + " items" : json_excerpt(a)));
    std::vector<std::pair<const nlohmann::json*, std::size_t>> todo{{&a, 1}};
    while (!todo.empty()) {
        const auto [j, depth] = todo.back();
        todo.pop_back();
        if (j->is_structured()) {
            if (depth > attributes_max_depth)
                no("expected attributes nested at most " + std::to_string(attributes_max_depth) +
                   " levels deep");
            for (const auto& item : j->items()) {
                if (j->is_object()) {
                    try {
                        (void)nlohmann::json(item.key()).dump();
                    } catch (const nlohmann::json::exception& e) {
                        no(std::string("cannot store the attributes: ") + e.what());
                    }
                }
                todo.emplace_back(&item.value(), depth + 1);
            }
        } else if (j->is_number_float() && !std::isfinite(j->get<double>())) {
            no("expected finite numbers in the attributes (JSON has no NaN or infinity), found " +
               std::string(std::isnan(j->get<double>()) ? "nan" : "inf"));
        } else if (j->is_string()) {
            try {
                (void)j->dump();
            } catch (const nlohmann::json::exception& e) {
                no(std::string("cannot store the attributes: ") + e.what());
            }
        }
    }
}

/// The attributes a save of `dir` commits: `given` when it is an object; when it is null, those
/// of `keep` (the live dataset an append continues) or none. `what`: "cannot save" and so on.
inline nlohmann::json attributes_for(const std::filesystem::path& dir, const nlohmann::json& given,
                                     const dataset_info* keep, const char* what) {
    if (given.is_null()) return keep ? keep->attributes : nlohmann::json::object();
    check_attributes(dir, given, what);
    return given;
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

/// The manifests this process parsed or wrote last, by their text: a manifest whose bytes are
/// those of one here is not parsed again. An append reads and rewrites the whole manifest, and
/// a loop of load_rows reads it every time: parsing it (about 5 us per shard) was the part of
/// those calls that grows with the dataset, where reading and comparing its bytes costs almost
/// nothing. Keyed by the bytes alone (not by times or inodes, which an in-place edit within a
/// clock tick can leave unchanged), so a hit is exactly what parsing would give.
class manifest_memo {
  public:
    static manifest_memo& get() {
        static manifest_memo memo;
        return memo;
    }
    std::optional<dataset_info> find(const std::string& text) {
        const std::lock_guard<std::mutex> lock(mutex_);
        for (auto it = entries_.begin(); it != entries_.end(); ++it) {
            if (it->first == text) {
                std::rotate(entries_.begin(), it, it + 1);  // most recent first
                return entries_.front().second;
            }
        }
        return std::nullopt;
    }
    void store(std::string text, const dataset_info& info) noexcept {
        try {
            const std::lock_guard<std::mutex> lock(mutex_);
            entries_.insert(entries_.begin(), {std::move(text), info});
            std::size_t bytes = 0, keep = 0;
            while (keep < entries_.size() && keep < 8 &&
                   bytes + entries_[keep].first.size() <= limit) {
                bytes += entries_[keep].first.size();
                ++keep;
            }
            entries_.resize(keep);
        } catch (...) {
            // out of memory: the memo is only a shortcut
        }
    }

  private:
    static constexpr std::size_t limit = std::size_t{32} << 20;  ///< bytes of text kept
    std::mutex mutex_;
    std::vector<std::pair<std::string, dataset_info>> entries_;
};

/// Parses a manifest's text, or takes its parse from the memo.
inline dataset_info parse_manifest_memo(std::string text, const std::filesystem::path& file) {
    if (auto hit = manifest_memo::get().find(text)) return std::move(*hit);
    dataset_info info = parse_manifest(text, file);
    manifest_memo::get().store(std::move(text), info);
    return info;
}

/// Called when `dir`'s manifest could not be opened: when `dir` has no manifest.json at all,
/// an error that says what `dir` is instead, and which function reads it ("ndshard: cannot read
/// 'd': expected a dataset (a directory holding manifest.json), found a .npy file (read it with
/// ndshard::read_npy)"; "no such directory"; "an empty directory"; ...). Otherwise returns, and
/// the caller's error (a link, a FIFO, permissions) stands.
inline void explain_not_dataset(const std::filesystem::path& dir) {
    struct stat st {};
    if (::lstat((dir / manifest_name).c_str(), &st) == 0) return;  // there is one: its own error
    if (::stat(dir.c_str(), &st) != 0) {
        if (errno == ENOENT) fail("cannot read", dir, "no such directory");
        return;
    }
    const std::string expected = "expected a dataset (a directory holding manifest.json), found ";
    if (S_ISREG(st.st_mode)) {
        char magic[6] = {};
        bool npy = false;
        try {
            const file f = file::open_read(dir);
            npy = f.pread_some(magic, sizeof magic, 0) == sizeof magic &&
                  std::memcmp(magic, "\x93NUMPY", sizeof magic) == 0;
        } catch (const error&) {
            // unreadable: said as a file below
        }
        if (npy || dir.extension() == ".npy")
            fail("cannot read", dir, expected + "a .npy file (read it with ndshard::read_npy)");
        if (dir.filename() == manifest_name)
            fail("cannot read", dir, expected + "a manifest (give its directory, the dataset)");
        const std::string ext = dir.extension().string();
        if (ext == ".csv" || ext == ".tsv" || ext == ".txt")
            fail("cannot read", dir, expected + "a text file (read it with ndshard::read_text)");
        fail("cannot read", dir, expected + "a file");
    }
    if (!S_ISDIR(st.st_mode)) return;
    struct stat z {};
    if (::lstat((dir / ".zarray").c_str(), &z) == 0 || ::lstat((dir / ".zgroup").c_str(), &z) == 0)
        fail("cannot read", dir, expected + "a zarr store (read it with ndshard::zarr::load)");
    std::error_code ec;
    const std::filesystem::directory_iterator it(dir, ec);
    if (ec) return;
    fail("cannot read", dir,
         expected + (it == std::filesystem::directory_iterator()
                         ? "an empty directory"
                         : "a directory without " + std::string(manifest_name)));
}

/// The text of `dir`'s manifest; when there is none, an error that says what `dir` is instead.
inline std::string read_manifest_text(const std::filesystem::path& dir) {
    try {
        return read_small_file(dir / manifest_name, manifest_max_bytes);
    } catch (const error&) {
        explain_not_dataset(dir);
        throw;
    }
}

inline dataset_info read_manifest(const std::filesystem::path& dir) {
    return parse_manifest_memo(read_manifest_text(dir), dir / manifest_name);
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
                     bool whole, shard_hasher& hash, std::uint64_t& bytes) {
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
        progress_add(n);
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
                                       const std::string& found) {
    fail("checksum mismatch in", path,
         "expected " + s.checksum + " (from the manifest), found " + found +
             ": the shard is corrupt");
}

/// Block `k` of shard `s` hashed to `found`, not to what the manifest lists.
[[noreturn]] inline void block_checksum_fail(const std::filesystem::path& path, const shard_info& s,
                                             std::size_t k, std::uint64_t found) {
    fail("checksum mismatch in", path,
         "expected " + xxh3_stream::checksum_text(s.block_checksums[k]) + " for bytes [" +
             std::to_string(k * s.block_bytes) + ", " +
             std::to_string(std::min(s.bytes, (k + 1) * s.block_bytes)) +
             ") (from the manifest), found " + xxh3_stream::checksum_text(found) +
             ": the shard is corrupt");
}

/// How a read of part of a shard checks what it reads: not at all, by the checksums of the
/// blocks that hold its bytes, or by the whole file's checksum (which means hashing all of it).
enum class shard_check { none, blocks, whole };

/// The check a read of bytes [begin, end) of shard `s` makes: the whole file's checksum when
/// the read covers all the data anyway (every ndshard version wrote it), else the blocks' when
/// the manifest lists them, else the whole file's (older datasets: the shard is read in full).
inline shard_check check_for(const shard_info& s, bool verify, bool whole_read) noexcept {
    if (!verify) return shard_check::none;
    if (!s.checksum.empty() && (whole_read || s.block_checksums.empty())) return shard_check::whole;
    if (!s.block_checksums.empty()) return shard_check::blocks;
    return shard_check::none;
}

/// Reads bytes [begin, end) of shard file `f`, checked as `check` says (reading the bytes the
/// checksums cover beyond the range into a scratch buffer). With `out`, the range's bytes are
/// read straight into it; else `sink(const char* p, std::size_t n)` receives them in order, in
/// pieces of at most chunk_bytes. Values may reach `out` or `sink` before the checksum that
/// covers them is found wrong: the caller's destination is then unspecified, as for any error.
template <class Sink>
void read_shard_bytes(const file& f, const shard_info& s, std::uint64_t begin, std::uint64_t end,
                      shard_check check, char* out, Sink&& sink) {
    std::uint64_t from = begin, to = end;
    const std::uint64_t bb = s.block_bytes;
    if (check == shard_check::whole) {
        from = 0;
        to = s.bytes;
    } else if (check == shard_check::blocks) {
        from = begin / bb * bb;
        to = end == 0 ? 0 : std::min(s.bytes, (end - 1) / bb * bb + bb);
    }
    scratch<char> buffer;
    xxh3_stream hash;
    for (std::uint64_t x = from; x < to;) {
        std::uint64_t y = std::min<std::uint64_t>(to, x + chunk_bytes);
        if (check == shard_check::blocks) y = std::min(y, x / bb * bb + bb);
        if (x < begin) {
            y = std::min(y, begin);
        } else if (x < end) {
            y = std::min(y, end);
        }
        const bool inside = x >= begin && x < end;
        const auto n = static_cast<std::size_t>(y - x);
        char* p = inside && out ? out + (x - begin) : buffer.get(chunk_bytes);
        f.pread_full(p, n, x);
        progress_add(n);
        if (check != shard_check::none) hash.update(p, n);
        if (inside && !out) sink(static_cast<const char*>(p), n);
        if (check == shard_check::blocks && (y % bb == 0 || y == s.bytes)) {
            const auto k = static_cast<std::size_t>((y - 1) / bb);
            if (hash.digest() != s.block_checksums[k])
                block_checksum_fail(f.path(), s, k, hash.digest());
            hash.reset();
        }
        x = y;
    }
    if (check == shard_check::whole && hash.text() != s.checksum)
        checksum_fail(f.path(), s, hash.text());
}

/// Reads rows [a, b) of one .npy shard of `Src` elements (rows counted from the shard's first)
/// into `dest` as `T` elements, checking the header against the manifest and, with `verify`,
/// the checksums that cover the bytes read (check_for). Same types: straight into `dest`.
/// Different types: through a bounded buffer, converted by convert_value; a value `T` cannot
/// hold is reported after the checksum (a corrupt shard is named as corrupt).
template <class Src, class T>
void read_npy_shard(const std::filesystem::path& dir, const dataset_info& info, const shard_info& s,
                    std::size_t a, std::size_t b, T* dest, bool verify) {
    const file f = open_shard(dir, s);
    const npy_header h = check_npy_shard_header(f, s, info, nullptr);
    const std::uint64_t row_elements = row_size_of(info.shape);
    const std::uint64_t begin = h.data_offset + a * row_elements * sizeof(Src);
    const std::uint64_t end = h.data_offset + b * row_elements * sizeof(Src);
    const std::uint64_t n = (end - begin) / sizeof(Src);
    const shard_check check = check_for(s, verify, a == 0 && b == s.last_row - s.first_row);
    if constexpr (std::is_same_v<Src, T>) {
        read_shard_bytes(f, s, begin, end, check, reinterpret_cast<char*>(dest),
                         [](const char*, std::size_t) {});
        if constexpr (std::is_same_v<T, bool>) normalize_bools(dest, static_cast<std::size_t>(n));
    } else {
        std::optional<std::string> bad_value;
        std::uint64_t done = 0;  // elements converted
        unsigned char carry[sizeof(Src)];
        std::size_t carried = 0;  // bytes of an element split between two pieces
        const auto put = [&](const unsigned char* p) {
            Src v;
            if constexpr (std::is_same_v<Src, bool>) {
                v = *p != 0;  // any non-zero byte is true, as normalize_bools reads it
            } else {
                std::memcpy(&v, p, sizeof v);
            }
            if (!bad_value && !convert_value(v, dest[done])) {
                const std::uint64_t element =
                    (std::uint64_t{s.first_row} + a) * row_elements + done;
                bad_value = "element " + std::to_string(element) + " holds " + value_text(v) +
                            " (" + dtype_name(dtype_of<Src>()) + "), which " +
                            dtype_name(dtype_of<T>()) + " cannot hold";
            }
            ++done;
        };
        read_shard_bytes(f, s, begin, end, check, nullptr, [&](const char* piece, std::size_t k) {
            const auto* p = reinterpret_cast<const unsigned char*>(piece);
            const unsigned char* e = p + k;
            if (carried > 0) {
                const std::size_t take = std::min(sizeof(Src) - carried, k);
                std::memcpy(carry + carried, p, take);
                carried += take;
                p += take;
                if (carried < sizeof(Src)) return;
                put(carry);
                carried = 0;
            }
            for (; e - p >= static_cast<std::ptrdiff_t>(sizeof(Src)); p += sizeof(Src))
                put(p);
            carried = static_cast<std::size_t>(e - p);
            std::memcpy(carry, p, carried);
        });
        if (bad_value) fail("cannot convert", f.path(), *bad_value);
    }
}

/// Rows [a, b) of one text shard (rows counted from the shard's first) into `dest`: a whole
/// shard is parsed straight into it; part of one is parsed whole into a buffer of its rows
/// (text has no row offsets to seek to), and the rows asked for are copied out.
template <class T>
void read_text_rows(const std::filesystem::path& dir, const dataset_info& info, const shard_info& s,
                    std::size_t a, std::size_t b, T* dest, bool verify) {
    const std::size_t row_size = row_size_of(info.shape);
    const char delim = info.format == shard_format::csv ? ',' : '\t';
    const std::size_t rows = s.last_row - s.first_row;
    if (a == 0 && b == rows) {
        read_text_shard(open_shard(dir, s), s, row_size, dest, delim, verify);
        return;
    }
    scratch<T> all;  // not a std::vector: vector<bool> has no data()
    T* p = all.get(rows * row_size);
    read_text_shard(open_shard(dir, s), s, row_size, p, delim, verify);
    std::copy(p + a * row_size, p + b * row_size, dest);
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
///
/// With `seen`, also sets it to the largest generation in a shard name that stays in the
/// directory, and returns whether the whole directory was read (a save then needs no second
/// scan to choose its generation).
inline bool remove_unlisted(const std::filesystem::path& dir, const std::vector<shard_info>* keep,
                            std::uint64_t* seen = nullptr,
                            const std::string* keep_words = nullptr) noexcept {
    try {
        std::set<std::string_view> listed;  // a directory entry each: no search of `keep` per entry
        if (keep)
            for (const shard_info& s : *keep)
                listed.insert(s.path);
        if (keep_words && !keep_words->empty()) listed.insert(*keep_words);
        std::vector<std::filesystem::path> unlisted;
        std::uint64_t unlisted_max = 0;
        std::error_code ec;
        for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end;
             it.increment(ec)) {
            const std::string name = it->path().filename().string();
            std::uint64_t g = 0;
            if (is_temporary_name(name)) {
                remove_quietly(it->path());
            } else if ((keep || seen) && parse_shard_name(name, g)) {
                if (keep && listed.count(name) == 0) {
                    unlisted.push_back(it->path());
                    unlisted_max = std::max(unlisted_max, g);
                } else if (seen) {
                    *seen = std::max(*seen, g);
                }
            }
        }
        if (ec) return false;
        if (unlisted.empty()) return true;
        const directory_lock no_readers(dir, directory_lock::kind::exclusive_if_free);
        if (no_readers.held()) {
            for (const auto& p : unlisted)
                remove_quietly(p);
        } else if (seen) {
            *seen = std::max(*seen, unlisted_max);  // they stay: their generations are taken
        }
        return true;
    } catch (...) {
        // out of memory or descriptors while cleaning up: the next save tries again
        return false;
    }
}

/// The next generation: one past every generation seen in the live manifest or in file names
/// (`scanned`: those of a scan already made under the save lock, else the directory is read).
inline std::uint64_t next_generation(const std::filesystem::path& dir, const dataset_info* live,
                                     const std::uint64_t* scanned = nullptr) {
    std::uint64_t g = live ? live->generation : 0;
    if (scanned) {
        g = std::max(g, *scanned);
    } else {
        std::error_code ec;
        for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end;
             it.increment(ec)) {
            std::uint64_t fg = 0;
            if (parse_shard_name(it->path().filename().string(), fg)) g = std::max(g, fg);
        }
    }
    // shard names hold at most 19 digits
    if (g >= std::uint64_t{9'999'999'999'999'999'999u})
        fail("cannot save", dir / manifest_name,
             "the generation counter is exhausted (" + std::to_string(g) + ")");
    return g + 1;
}

/// Writes rows [first, last) of `src` as shard `s` (whose path is set) in `dir`: created
/// private, then given `attributes` (the dataset's permissions); sets its size and checksums.
/// The end of every file a save lists (a shard, an embeddings dataset's words): its checksums
/// into `s`, the dataset's permissions, fsync when asked, close (a deferred error surfaces).
inline void finish_shard_file(file& f, shard_info& s, shard_hasher& hash,
                              const file_attributes& attributes, bool sync) {
    s.checksum = hash.text();
    s.block_bytes = hash.block_bytes();
    s.block_checksums = hash.blocks();
    keep_attributes(f, attributes);
    if (sync) f.sync();
    f.close();
}

template <class T>
void write_shard(const std::filesystem::path& dir, shard_info& s, const row_source<T>& src,
                 std::size_t first, std::size_t last, bool whole, shard_format format,
                 const file_attributes& attributes, bool sync) {
    file f = file::create_private(dir / s.path);
    shard_hasher hash;
    if (format == shard_format::npy) {
        write_npy_shard(f, src, first, last, whole, hash, s.bytes);
    } else {
        const char delim = format == shard_format::csv ? ',' : '\t';
        write_text_shard(f, src, first, last, delim, hash, s.bytes);
    }
    finish_shard_file(f, s, hash, attributes, sync);
}

/// A save (or an append, or a writer) under way in a directory: the directory's save lock, held
/// until the commit, and the live dataset it found there, if any.
struct save_session {
    std::unique_ptr<file_lock> lock;
    std::optional<dataset_info> live;
    bool created_dir = false;           ///< the directory did not exist before this save
    bool scanned = false;               ///< the directory was read whole when the save began
    std::uint64_t seen_generation = 0;  ///< the largest generation in a shard name then
    /// next_generation's `scanned` argument: the scan made, or none
    [[nodiscard]] const std::uint64_t* scan() const noexcept {
        return scanned ? &seen_generation : nullptr;
    }
};

/// Creates `dir` when missing, takes its save lock, reads the live manifest and removes what
/// killed saves left behind. `verb` names the operation in errors ("cannot save", "cannot
/// append to"). A manifest.json of another program stops the save; a damaged one of ndshard's
/// is replaced by the commit (a save) or stops it (an append, which must extend it).
inline save_session begin_save(const std::filesystem::path& dir, bool append) {
    save_session session;
    std::error_code ec;
    session.created_dir = !std::filesystem::exists(dir, ec);
    std::filesystem::create_directories(dir, ec);
    if (ec || !std::filesystem::is_directory(dir, ec))
        fail_system("create dataset directory", dir, ec ? ec.value() : ENOTDIR);
    session.lock = std::make_unique<file_lock>(dir / lock_name);

    // the live dataset, if any: its files stay until the new manifest is committed
    const bool have_manifest = std::filesystem::exists(dir / manifest_name, ec);
    if (ec) fail_system("stat", dir / manifest_name, ec.value());
    // a directory in the manifest's place: the commit below says so ("Is a directory")
    if (have_manifest && !std::filesystem::is_directory(dir / manifest_name, ec)) {
        // one that cannot be read (too large, no permission, a link, a FIFO) may be anyone's:
        // that error stops the save, and nothing is written
        const std::string text = read_small_file(dir / manifest_name, manifest_max_bytes);
        try {
            session.live = parse_manifest_memo(text, dir / manifest_name);
        } catch (const error&) {
            // a damaged manifest of ndshard's is replaced by the commit below, and its shards
            // removed after it; a manifest.json of another program is never overwritten
            if (!names_ndshard_version(text))
                fail(append ? "cannot append to" : "cannot save", dir / manifest_name,
                     "expected no file or an ndshard manifest there, found a file another "
                     "program wrote (move it away, or save into another directory)");
            if (append) throw;  // the rows to extend are unknown
        }
    }
    // leftovers of a save that was killed: only what the live manifest does not list
    const std::vector<shard_info> none;
    session.scanned = remove_unlisted(dir,
                                      session.live    ? &session.live->shards
                                      : have_manifest ? nullptr
                                                      : &none,
                                      &session.seen_generation,
                                      session.live ? &session.live->words.path : nullptr);
    return session;
}

/// After a failed save or an abandoned writer: the directory it made for itself goes too (with
/// its lock file), unless something else is in it now. Then releases the save lock.
inline void forget_created(const std::filesystem::path& dir, save_session& session) noexcept {
    if (!session.created_dir) return;
    remove_quietly(dir / lock_name);
    std::error_code ec;
    std::filesystem::remove(dir, ec);  // only when empty
    session.lock.reset();
}

/// Fails unless rows of `T` elements and `row_shape` can be appended to the live dataset `live`
/// in `format`.
template <class T>
void check_appendable(const std::filesystem::path& dir, const dataset_info& live,
                      const std::vector<std::size_t>& row_shape, shard_format format) {
    const auto typed = [](const std::string& descr) {
        parsed_descr pd;
        (void)parse_descr(descr, pd);
        return descr + " (" + dtype_name(pd.type) + ")";
    };
    if (live.shape.empty())
        fail("cannot append to", dir,
             "expected a dataset of rank 1 or more (rows to extend), found rank 0");
    if (!live.words.path.empty())
        fail("cannot append to", dir,
             "expected a dataset of rows only, found an embeddings dataset (its rows have words: "
             "save_embeddings replaces it whole)");
    const std::vector<std::size_t> live_row(live.shape.begin() + 1, live.shape.end());
    if (live.dtype != descr_of<T>() || live_row != row_shape)
        fail("cannot append to", dir,
             "expected rows of dtype " + typed(live.dtype) + " and shape " + shape_text(live_row) +
                 ", as the dataset holds, found rows of dtype " + typed(descr_of<T>()) +
                 " and shape " + shape_text(row_shape));
    if (live.format != format)
        fail("cannot append to", dir,
             std::string("expected shards of format ") + to_string(live.format) +
                 ", as the dataset's, found " + to_string(format));
}

/// Commits `info` (whose shards from `first_new` on are the files this save wrote): fsyncs the
/// directory, renames a new manifest into place, then removes what no manifest lists any more.
/// On failure before the rename, removes the new shards and leaves the live dataset as it was.
inline void commit_dataset(const std::filesystem::path& dir, const dataset_info& info,
                           std::size_t first_new, bool sync) {
    std::string text = manifest_text(info);
    try {
        if (sync) sync_directory(dir);
        write_file_atomically(dir / manifest_name, text, sync);  // commit
    } catch (...) {
        // nothing of this generation is listed anywhere: remove it all, keep the live dataset
        for (std::size_t i = first_new; i < info.shards.size(); ++i)
            remove_quietly(dir / info.shards[i].path);
        if (first_new == 0 && !info.words.path.empty()) remove_quietly(dir / info.words.path);
        throw;
    }
    // committed: from here on the new shards are the dataset and must never be removed
    manifest_memo::get().store(std::move(text), info);  // the next append's live dataset
    if (sync) sync_directory(dir);
    // the previous generation, unless a load still reads it; an append (first_new > 0) leaves
    // nothing unlisted: what killed saves left was removed when it began
    if (first_new == 0) remove_unlisted(dir, &info.shards, nullptr, &info.words.path);
}

/// save (append false) or append (true) of the rows of `src`.
/// The live dataset an append continues: null for a save, or when there is none.
inline const dataset_info* extend_of(bool append, const dataset_info* live) noexcept {
    return append ? live : nullptr;
}

/// Writes `words` one per line ('\n' after each) as file `s.path` of `dir`: size and checksums
/// as a shard's. A word holding '\n' cannot be written so.
inline void write_words_file(const std::filesystem::path& dir, shard_info& s,
                             const std::vector<std::string>& words,
                             const file_attributes& attributes, bool sync) {
    file f = file::create_private(dir / s.path);
    shard_hasher hash;
    std::string buffer;
    std::uint64_t offset = 0;
    const auto flush = [&] {
        f.pwrite_full(buffer.data(), buffer.size(), offset);
        hash.update(buffer.data(), buffer.size());
        offset += buffer.size();
        buffer.clear();
    };
    for (const std::string& w : words) {
        buffer += w;
        buffer += '\n';
        if (buffer.size() >= chunk_bytes) flush();
    }
    flush();
    s.bytes = offset;
    finish_shard_file(f, s, hash, attributes, sync);
}

/// Fails unless `words` can be the words of `rows` rows: as many, none holding a line end.
inline void check_words(const std::filesystem::path& dir, const std::vector<std::string>& words,
                        std::size_t rows) {
    if (words.size() != rows)
        fail("cannot save", dir,
             "expected one word per row of vectors (" + std::to_string(rows) + "), found " +
                 std::to_string(words.size()) + " words");
    for (std::size_t i = 0; i < words.size(); ++i)
        if (words[i].find_first_of("\n\r") != std::string::npos)
            fail("cannot save", dir,
                 "expected words without line ends (they are stored one per line), found word " +
                     std::to_string(i) + " '" + shorten(words[i]) + "'");
}

/// save (`words`: an embeddings dataset's, written beside the shards and committed with them)
template <class T>
dataset_info save_rows(const std::filesystem::path& dir, const row_source<T>& src,
                       const save_options& options, bool append = false,
                       const std::vector<std::string>* words = nullptr) {
    save_session session = begin_save(dir, append);
    const dataset_info* live = session.live ? &*session.live : nullptr;
    if (append && live)
        check_appendable<T>(dir, *live,
                            std::vector<std::size_t>(src.shape.begin() + 1, src.shape.end()),
                            options.format);
    dataset_info info;
    info.dtype = descr_of<T>();
    info.shape = src.shape;
    info.format = options.format;
    info.generation = next_generation(dir, live, session.scan());
    info.attributes = attributes_for(dir, options.attributes, extend_of(append, live),
                                     append ? "cannot append to" : "cannot save");
    // new shards join the dataset with its manifest's permissions: one made private stays so
    const file_attributes attributes = attributes_to_keep(dir / manifest_name);

    const std::size_t threads = threads_for(options.threads, options.pool);
    std::size_t nshards = options.shards == 0 ? threads : options.shards;
    if (append && options.shards == 0) {
        // every append adds its shards to the manifest, which every later append rewrites: a
        // small batch gets one shard, a large one a shard per thread of at least 16 MiB
        const std::uint64_t bytes = std::uint64_t{src.rows()} * src.row_size() * sizeof(T);
        nshards = static_cast<std::size_t>(
            std::clamp<std::uint64_t>(bytes >> 24, 1, std::uint64_t{threads}));
    }
    const bool whole = src.shape.empty();
    std::vector<row_range> ranges = split_rows(src.rows(), whole ? 1 : nshards);
    const bool extend = append && live;
    if (extend && ranges.empty()) return *live;       // nothing to append: nothing changes
    if (ranges.empty()) ranges.push_back({0, 0, 0});  // zero rows: one empty shard keeps the shape
    const std::size_t base = extend ? live->shape[0] : 0;
    const std::size_t first_new = extend ? live->shards.size() : 0;
    if (extend) {
        info.shards = live->shards;
        info.shape[0] += base;
    }
    info.shards.resize(first_new + ranges.size());
    for (std::size_t i = 0; i < ranges.size(); ++i) {
        auto& s = info.shards[first_new + i];
        s.path = shard_name(info.generation, i, options.format);
        s.first_row = base + ranges[i].first_row;
        s.last_row = base + ranges[i].last_row;
    }
    progress_meter meter(options.progress, std::uint64_t{src.rows()} * src.row_size() * sizeof(T),
                         std::string(append ? "append to " : "save to ") + quoted(dir));
    try {
        with_pool(options.pool, threads, ranges.size(), [&](std::size_t i) {
            write_shard(dir, info.shards[first_new + i], src, ranges[i].first_row,
                        ranges[i].last_row, whole, options.format, attributes, options.sync);
        });
        if (words) {
            info.words.path = words_name(info.generation);
            info.words.last_row = words->size();
            write_words_file(dir, info.words, *words, attributes, options.sync);
        }
        meter.check();  // cancelled as the last shard finished: still nothing committed
    } catch (...) {
        for (std::size_t i = first_new; i < info.shards.size(); ++i)
            remove_quietly(dir / info.shards[i].path);
        if (!info.words.path.empty()) remove_quietly(dir / info.words.path);
        forget_created(dir, session);
        throw;
    }
    try {
        commit_dataset(dir, info, first_new, options.sync);
    } catch (...) {
        forget_created(dir, session);
        throw;
    }
    meter.finish();
    return info;
}

/// Whether a read of rows [first, last) reads shard `s`: when it holds some of those rows, and
/// every shard (empty ones too: their headers and checksums are checked) when the read is of
/// the whole dataset, as is the one shard of a rank-0 dataset. An empty range inside a shard
/// holds none of its rows: it reads no shard (nor parses a whole text shard for nothing).
inline bool overlaps(const dataset_info& info, const shard_info& s, std::size_t first,
                     std::size_t last) noexcept {
    if (info.shape.empty() || (first == 0 && last == info.shape[0])) return true;
    return first < last && s.first_row < last && s.last_row > first;
}

/// Reads rows [first, last) of the dataset `info` describes into `dest`: one task per shard
/// that overlaps the range, each reading only its part (see read_npy_shard, read_text_rows).
template <class T>
void load_range(const std::filesystem::path& dir, const dataset_info& info, std::size_t first,
                std::size_t last, T* dest, const load_options& options) {
    const std::size_t row_size = row_size_of(info.shape);
    parsed_descr stored;
    (void)parse_descr(info.dtype, stored);  // validated with the manifest
    std::vector<std::size_t> overlap;
    for (std::size_t i = 0; i < info.shards.size(); ++i)
        if (overlaps(info, info.shards[i], first, last)) overlap.push_back(i);
    std::uint64_t total = 0;  // the bytes read: the rows' of .npy shards, whole text shards
    for (const std::size_t i : overlap) {
        const auto& s = info.shards[i];
        total += info.format != shard_format::npy || info.shape.empty()
                     ? s.bytes
                     : std::uint64_t{std::min(last, s.last_row) - std::max(first, s.first_row)} *
                           row_size * stored.type.size;
    }
    progress_meter meter(options.progress, total, "load of " + quoted(dir));
    const std::size_t threads = threads_for(options.threads, options.pool);
    with_pool(options.pool, threads, overlap.size(), [&](std::size_t k) {
        const auto& s = info.shards[overlap[k]];
        const std::size_t a = info.shape.empty() ? 0 : std::max(first, s.first_row) - s.first_row;
        const std::size_t b = info.shape.empty() ? 1 : std::min(last, s.last_row) - s.first_row;
        T* out = dest + (s.first_row + a - first) * row_size;
        if (info.format != shard_format::npy) {
            // text is parsed straight into T, whatever the manifest's dtype
            read_text_rows(dir, info, s, a, b, out, options.verify);
        } else if (stored.type == dtype_of<T>()) {
            read_npy_shard<T>(dir, info, s, a, b, out, options.verify);
        } else {
            (void)visit_dtype(stored.type, [&](auto tag) {
                read_npy_shard<typename decltype(tag)::type>(dir, info, s, a, b, out,
                                                             options.verify);
            });
        }
    });
    meter.check();
    meter.finish();
}

/// Fails unless [first, last) is a range of the rows of an array of `shape`.
inline void check_row_range(std::string_view what, const std::filesystem::path& where,
                            const std::vector<std::size_t>& shape, std::size_t first,
                            std::size_t last) {
    if (shape.empty())
        fail(what, where, "expected an array of rank 1 or more for a row range, found rank 0");
    if (first > last || last > shape[0])
        fail(what, where,
             "expected a row range [first, last) with first <= last <= " +
                 std::to_string(shape[0]) + " (the rows there are), found [" +
                 std::to_string(first) + ", " + std::to_string(last) + ")");
}

/// Fails unless the dataset `info` (in `dir`) holds elements of type T, or `convert` is set.
/// With `can_convert` (the caller takes load_options), the message says how to convert.
template <class T>
void check_dtype_for(const std::filesystem::path& dir, const dataset_info& info, bool convert,
                     bool can_convert = true) {
    if (info.dtype != descr_of<T>() && !convert) {
        parsed_descr pd;
        (void)parse_descr(info.dtype, pd);
        fail("cannot load", dir / manifest_name,
             "expected dtype " + descr_of<T>() + " (" + dtype_name(dtype_of<T>()) + "), found " +
                 info.dtype + " (" + dtype_name(pd.type) + ")" +
                 (can_convert ? ": set load_options::convert to convert while reading" : ""));
    }
}

/// The manifest of `dir`, checked to hold elements of type T (unless `convert`) and to have
/// shard files that can hold what it claims: a manifest or a shard header that lies about its
/// shape cannot make ndshard allocate more than the shard files hold. `can_convert`: as
/// check_dtype_for.
template <class T>
dataset_info manifest_for(const std::filesystem::path& dir, bool convert, bool can_convert = true) {
    dataset_info info = read_manifest(dir);
    check_dtype_for<T>(dir, info, convert, can_convert);
    return info;
}

/// check_shard for every shard that overlaps rows [first, last) (every shard of a rank-0
/// dataset), before anything is allocated for them.
inline void check_shards(const std::filesystem::path& dir, const dataset_info& info,
                         std::size_t first, std::size_t last) {
    for (const auto& s : info.shards)
        if (overlaps(info, s, first, last)) (void)check_shard(dir, info, s);
}

/// Checks one shard for verify(): everything check_shard does, then the checksum of the whole
/// file. Returns the bytes hashed (0 when the manifest lists no checksum).
inline std::uint64_t verify_file(const file& f, const shard_info& s, scratch<char>& buffer);

inline std::uint64_t verify_shard(const std::filesystem::path& dir, const dataset_info& info,
                                  const shard_info& s, scratch<char>& buffer) {
    return verify_file(check_shard(dir, info, s), s, buffer);
}

/// Checks an embeddings dataset's words file: there, of its size, with its checksums.
inline std::uint64_t verify_words(const std::filesystem::path& dir, const shard_info& s,
                                  scratch<char>& buffer) {
    return verify_file(open_shard(dir, s), s, buffer);
}

/// Hashes the whole of `f` and compares with the checksums `s` lists; returns the bytes hashed.
inline std::uint64_t verify_file(const file& f, const shard_info& s, scratch<char>& buffer) {
    if (s.checksum.empty() && s.block_checksums.empty()) return 0;
    shard_hasher hash(s.block_bytes == 0 ? block_checksum_bytes : s.block_bytes);
    char* p = buffer.get(chunk_bytes);
    for (std::uint64_t done = 0; done < s.bytes;) {
        const auto k =
            static_cast<std::size_t>(std::min<std::uint64_t>(chunk_bytes, s.bytes - done));
        f.pread_full(p, k, done);
        hash.update(p, k);
        done += k;
        progress_add(k);
    }
    if (!s.checksum.empty() && hash.text() != s.checksum) checksum_fail(f.path(), s, hash.text());
    const std::vector<std::uint64_t> blocks = hash.blocks();
    for (std::size_t k = 0; k < s.block_checksums.size(); ++k)
        if (blocks[k] != s.block_checksums[k]) block_checksum_fail(f.path(), s, k, blocks[k]);
    return s.bytes;
}

}  // namespace detail

inline dataset_info inspect(const std::filesystem::path& dir) {
    return detail::read_manifest(dir);
}

inline verify_result verify(const std::filesystem::path& dir, const verify_options& options) {
    const directory_lock reading(dir, directory_lock::kind::shared);
    const dataset_info info = detail::read_manifest(dir);
    // the shards, then an embeddings dataset's words (reported as entry shards.size())
    std::vector<const shard_info*> files;
    for (const shard_info& s : info.shards)
        files.push_back(&s);
    if (!info.words.path.empty()) files.push_back(&info.words);
    const std::size_t n = files.size();
    std::uint64_t total = 0;
    for (const shard_info* s : files)
        total += s->bytes;
    detail::progress_meter meter(options.progress, total, "verify of " + detail::quoted(dir));
    std::vector<std::optional<std::string>> messages(n);
    std::vector<std::uint64_t> hashed(n, 0);
    detail::with_pool(options.pool, detail::threads_for(options.threads, options.pool), n,
                      [&](std::size_t i) {
                          detail::scratch<char> buffer;  // 4 MiB, freed with the task
                          try {
                              hashed[i] = i < info.shards.size()
                                              ? detail::verify_shard(dir, info, *files[i], buffer)
                                              : detail::verify_words(dir, *files[i], buffer);
                          } catch (const cancelled&) {
                              throw;
                          } catch (const error& e) {
                              messages[i] = e.what();
                          }
                      });
    verify_result r;
    r.shards = n;
    for (std::size_t i = 0; i < n; ++i) {
        r.bytes += hashed[i];
        if (files[i]->checksum.empty()) ++r.unchecked;
        if (messages[i]) r.problems.push_back({i, files[i]->path, std::move(*messages[i])});
    }
    meter.check();
    meter.finish();
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
    const std::size_t rows = info.shape.empty() ? 1 : info.shape[0];
    detail::check_shards(dir, info, 0, rows);
    xt::xarray<T> out = detail::allocate_array<T>(info.shape);
    detail::load_range(dir, info, 0, rows, out.data(), options);
    return out;
}

template <class C>
void load_into(const std::filesystem::path& dir, C& out, const load_options& options) {
    using T = detail::element_t<C>;
    const directory_lock reading(dir, directory_lock::kind::shared);
    const dataset_info info = detail::manifest_for<T>(dir, options.convert);
    const std::size_t rows = info.shape.empty() ? 1 : info.shape[0];
    detail::check_shards(dir, info, 0, rows);
    T* dest = detail::prepare_destination(out, info.shape, dir / detail::manifest_name);
    detail::load_range(dir, info, 0, rows, dest, options);
}

template <class T>
xt::xarray<T> load_rows(const std::filesystem::path& dir, std::size_t first, std::size_t last,
                        const load_options& options) {
    xt::xarray<T> out;
    load_rows_into(dir, first, last, out, options);
    return out;
}

template <class C>
void load_rows_into(const std::filesystem::path& dir, std::size_t first, std::size_t last, C& out,
                    const load_options& options) {
    using T = detail::element_t<C>;
    const directory_lock reading(dir, directory_lock::kind::shared);
    const dataset_info info = detail::manifest_for<T>(dir, options.convert);
    detail::check_row_range("cannot load rows of", dir, info.shape, first, last);
    detail::check_shards(dir, info, first, last);
    std::vector<std::size_t> shape = info.shape;
    shape[0] = last - first;
    T* dest = detail::prepare_destination(out, shape, dir / detail::manifest_name);
    detail::load_range(dir, info, first, last, dest, options);
}

}  // namespace ndshard
