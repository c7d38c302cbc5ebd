// ndshard/detail/json_depth.hpp — a bound on the nesting of JSON read from files (manifests,
// .zarray): checked before parsing, so hostile input cannot make the parser recurse deeply.
#pragma once

#include <cstddef>
#include <string_view>

namespace ndshard::detail {

/// Whether brackets and braces outside strings nest deeper than `max` anywhere in `text`.
inline bool json_depth_exceeds(std::string_view text, std::size_t max) noexcept {
    std::size_t depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max) return true;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return false;
}

}  // namespace ndshard::detail
