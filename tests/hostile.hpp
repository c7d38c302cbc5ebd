// tests/hostile.hpp — helpers for the reliability tests: small datasets to damage, manifests
// edited as JSON, .npy files crafted byte by byte.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <xtensor/xarray.hpp>

#include "ndshard/dataset.hpp"
#include "support.hpp"

namespace ndshard_test {

/// The int32 array of shape (6, 2) holding 0..11: small enough to damage by hand.
inline xt::xarray<std::int32_t> small_array() {
    return xt::xarray<std::int32_t>{{0, 1}, {2, 3}, {4, 5}, {6, 7}, {8, 9}, {10, 11}};
}

/// Saves small_array() into `dir` as `shards` npy shards, without fsync (tests need no
/// durability against power loss).
inline ndshard::dataset_info save_small(const std::filesystem::path& dir, std::size_t shards = 2) {
    ndshard::save_options o;
    o.shards = shards;
    o.threads = 1;
    o.sync = false;
    return ndshard::save(dir, small_array(), o);
}

/// save_small into a directory emptied first: generation 1, shards named part-000001-*.
inline ndshard::dataset_info fresh_small(const std::filesystem::path& dir, std::size_t shards = 2) {
    std::filesystem::remove_all(dir);
    return save_small(dir, shards);
}

inline nlohmann::json read_json(const std::filesystem::path& p) {
    return nlohmann::json::parse(read_file(p));
}

/// Rewrites the manifest of `dir` after `edit` changed its JSON.
inline void edit_manifest(const std::filesystem::path& dir,
                          const std::function<void(nlohmann::json&)>& edit) {
    auto j = read_json(dir / "manifest.json");
    edit(j);
    write_file(dir / "manifest.json", j.dump());
}

/// A .npy file: magic, version, the little-endian header length, `dict` padded with spaces and
/// '\n' to a multiple of 64 bytes (unless `pad` is false), then `data`.
inline std::string npy_bytes(const std::string& dict, const std::string& data = "", int major = 1,
                             bool pad = true) {
    const std::size_t prefix = major == 1 ? 10 : 12;
    std::string body = dict;
    if (pad) {
        const std::size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
        body.append(total - prefix - dict.size() - 1, ' ');
        body += '\n';
    }
    std::string out = "\x93NUMPY";
    out += static_cast<char>(major);
    out += '\0';
    for (std::size_t b = 0; b < (major == 1 ? 2u : 4u); ++b)
        out += static_cast<char>((body.size() >> (8 * b)) & 0xff);
    return out + body + data;
}

/// Flips every bit of the byte at `offset` of the file `p`.
inline void flip_byte(const std::filesystem::path& p, std::uint64_t offset) {
    std::string b = read_file(p);
    b[static_cast<std::size_t>(offset)] = static_cast<char>(~b[static_cast<std::size_t>(offset)]);
    write_file(p, b);
}

/// The entries of `dir` that are neither the manifest, the save lock, nor a shard `info` lists.
inline std::set<std::string> strays(const std::filesystem::path& dir,
                                    const ndshard::dataset_info& info) {
    auto names = list_dir(dir);
    names.erase("manifest.json");
    names.erase(".ndshard.lock");
    for (const auto& s : info.shards)
        names.erase(s.path);
    return names;
}

}  // namespace ndshard_test
