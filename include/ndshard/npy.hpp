// ndshard/npy.hpp — encode and decode .npy headers (format versions 1.0, 2.0 and 3.0).
//
// A .npy file is: "\x93NUMPY", major, minor, a little-endian header length (2 bytes in 1.0,
// 4 bytes in 2.0/3.0), then a Python dict literal
// {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), } padded with spaces and a final '\n'
// so the data starts on a 64-byte boundary, then the raw data.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "ndshard/dtype.hpp"
#include "ndshard/error.hpp"
#include "ndshard/file.hpp"

namespace ndshard {

/// What a .npy header says.
struct npy_header {
    std::string descr;               ///< as written, e.g. "<f8"
    parsed_descr type;               ///< element type and whether it needs a byte swap
    bool fortran_order = false;      ///< column-major data
    std::vector<std::size_t> shape;  ///< empty for a 0-d array
    std::uint64_t data_offset = 0;   ///< where the data starts (magic + lengths + dict)
    int major_version = 1;

    [[nodiscard]] std::uint64_t elements() const {
        std::uint64_t n = 1;
        for (auto d : shape)
            n *= d;  // checked not to overflow by decode_npy_header
        return n;
    }
    [[nodiscard]] std::uint64_t data_bytes() const { return elements() * type.type.size; }
};

/// The longest header ndshard accepts (numpy itself refuses past 10,000 bytes by default).
inline constexpr std::size_t npy_max_header = std::size_t{1} << 20;

/// Encodes a complete header (magic to the '\n' before the data) for a C-order array; the result's
/// size is a multiple of 64. Version 1.0 unless the dict needs more than 65,535 bytes.
[[nodiscard]] std::string encode_npy_header(const std::string& descr,
                                            const std::vector<std::size_t>& shape,
                                            bool fortran_order = false);

/// Decodes the header at the start of `bytes` (which may hold more than the header). `file` names
/// the file in error messages. Validates the magic, version, dict syntax, keys, descr, shape, and
/// that the data size does not overflow 64 bits.
[[nodiscard]] npy_header decode_npy_header(std::string_view bytes,
                                           const std::filesystem::path& file);

/// Reads and decodes the header of an open file; checks that the file holds exactly the data the
/// header promises (a truncated or padded file is an error saying both sizes).
[[nodiscard]] npy_header read_npy_header(const file& f, std::string* raw = nullptr);

/// "(3, 4)", "(5,)", "()": a shape as numpy prints it.
[[nodiscard]] inline std::string shape_text(const std::vector<std::size_t>& shape) {
    std::string s = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ", ";
        s += std::to_string(shape[i]);
    }
    if (shape.size() == 1) s += ',';
    return s + ")";
}

// ---------------------------------------------------------------------------------------------

namespace detail {

[[noreturn]] inline void npy_fail(const std::filesystem::path& file, const std::string& what) {
    fail("invalid .npy header in", file, what);
}

/// A tiny parser for the one dict literal numpy writes: strings, True/False, tuples of integers.
class npy_dict_parser {
  public:
    npy_dict_parser(std::string_view s, const std::filesystem::path& file) : s_(s), file_(file) {}

    npy_header parse() {
        npy_header h;
        bool has_descr = false, has_order = false, has_shape = false;
        expect('{');
        for (;;) {
            skip_ws();
            if (peek() == '}') {
                ++i_;
                break;
            }
            const std::string key = string_literal();
            expect(':');
            if (key == "descr") {
                if (has_descr) duplicate(key);
                has_descr = true;
                h.descr = string_literal();
                if (!parse_descr(h.descr, h.type))
                    npy_fail(file_, "expected a numeric descr such as '<f8', found '" +
                                        shorten(h.descr) + "'");
            } else if (key == "fortran_order") {
                if (has_order) duplicate(key);
                has_order = true;
                h.fortran_order = boolean();
            } else if (key == "shape") {
                if (has_shape) duplicate(key);
                has_shape = true;
                h.shape = tuple();
            } else {
                npy_fail(file_, "expected the keys 'descr', 'fortran_order' and 'shape', found '" +
                                    shorten(key) + "'");
            }
            skip_ws();
            if (peek() == ',') {
                ++i_;
                continue;
            }
            expect('}');
            break;
        }
        skip_ws();
        if (i_ != s_.size()) npy_fail(file_, "unexpected text after the header dict");
        if (!has_descr || !has_order || !has_shape)
            npy_fail(file_, std::string("missing key '") +
                                (!has_descr   ? "descr"
                                 : !has_order ? "fortran_order"
                                              : "shape") +
                                "'");
        return h;
    }

  private:
    [[noreturn]] void duplicate(const std::string& key) {
        npy_fail(file_, "key '" + key + "' appears twice");
    }
    char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
    void skip_ws() {
        while (i_ < s_.size() &&
               (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
            ++i_;
    }
    void expect(char c) {
        skip_ws();
        if (peek() != c) {
            npy_fail(file_, std::string("expected '") + c + "' at byte " + std::to_string(i_) +
                                " of the dict, found " + found());
        }
        ++i_;
    }
    std::string found() const {
        if (i_ >= s_.size()) return "the end of the header";
        return "'" + shorten(s_.substr(i_), 16) + "'";
    }
    std::string string_literal() {
        skip_ws();
        const char q = peek();
        if (q != '\'' && q != '"')
            npy_fail(file_, "expected a quoted string at byte " + std::to_string(i_) +
                                " of the dict, found " + found());
        const std::size_t start = ++i_;
        while (i_ < s_.size() && s_[i_] != q)
            ++i_;
        if (i_ >= s_.size()) npy_fail(file_, "unterminated string in the header dict");
        return std::string(s_.substr(start, i_++ - start));
    }
    bool boolean() {
        skip_ws();
        if (s_.substr(i_, 4) == "True") {
            i_ += 4;
            return true;
        }
        if (s_.substr(i_, 5) == "False") {
            i_ += 5;
            return false;
        }
        npy_fail(file_, "expected True or False for 'fortran_order', found " + found());
    }
    std::vector<std::size_t> tuple() {
        std::vector<std::size_t> shape;
        expect('(');
        std::uint64_t total = 1, strides = 1;
        for (;;) {
            skip_ws();
            if (peek() == ')') {
                ++i_;
                break;
            }
            if (peek() < '0' || peek() > '9')
                npy_fail(file_, "expected a dimension in 'shape', found " + found());
            std::uint64_t v = 0;
            while (peek() >= '0' && peek() <= '9') {
                const auto digit = static_cast<std::uint64_t>(peek() - '0');
                if (v > (std::numeric_limits<std::uint64_t>::max() - digit) / 10)
                    npy_fail(file_, "a dimension in 'shape' does not fit in 64 bits");
                v = v * 10 + digit;
                ++i_;
            }
            // python 2 wrote long integers as 10L
            if (peek() == 'L') ++i_;
            if (shape.size() >= 64) npy_fail(file_, "'shape' has more than 64 dimensions");
            shape.push_back(static_cast<std::size_t>(v));
            if (!checked_mul(total, v, total))
                npy_fail(file_, "'shape' holds more than 2^63 elements");
            // an empty array's strides are products of its other dimensions: they must fit too
            if (v != 0 && !checked_mul(strides, v, strides))
                npy_fail(file_, "'shape' has dimensions whose product is more than 2^63");
            skip_ws();
            if (peek() == ',') {
                ++i_;
                continue;
            }
            expect(')');
            break;
        }
        return shape;
    }

    std::string_view s_;
    const std::filesystem::path& file_;
    std::size_t i_ = 0;
};

/// Called when `path`, given as a .npy file, could not be read as one: a dataset directory (one
/// holding manifest.json) or a zarr store given in its place is an error that names the function
/// that reads it, "ndshard: <what> 'p': expected a .npy file, found a dataset directory (read it
/// with ndshard::load)". Anything else returns, and the caller's own error stands.
inline void explain_not_npy(const std::filesystem::path& path, std::string_view what) {
    std::error_code ec;
    if (!std::filesystem::is_directory(path, ec)) return;
    const auto has = [&](const char* name) {
        std::error_code e;
        return std::filesystem::exists(std::filesystem::symlink_status(path / name, e));
    };
    if (has("manifest.json"))
        fail(what, path,
             "expected a .npy file, found a dataset directory (read it with ndshard::load)");
    if (has(".zarray") || has(".zgroup"))
        fail(what, path,
             "expected a .npy file, found a zarr store (read it with ndshard::zarr::load)");
}

}  // namespace detail

inline std::string encode_npy_header(const std::string& descr,
                                     const std::vector<std::size_t>& shape, bool fortran_order) {
    std::string dict = "{'descr': '" + descr +
                       "', 'fortran_order': " + (fortran_order ? "True" : "False") +
                       ", 'shape': " + shape_text(shape) + ", }";
    // numpy leaves room for the growing axis to reach 21 digits, so a header can be rewritten in
    // place; doing the same keeps our files byte-identical to numpy.save's
    if (!shape.empty()) {
        const std::size_t digits =
            std::to_string(shape[fortran_order ? shape.size() - 1 : 0]).size();
        if (digits < 21) dict.append(21 - digits, ' ');
    }
    // numpy pads with 1 to 64 spaces (64 when already aligned); 1.0 has a 2-byte length, 2.0 is
    // used only when the header cannot fit it
    std::size_t prefix = 10;
    std::size_t total = (prefix + dict.size() + 1) / 64 * 64 + 64;
    int major = 1;
    if (total - prefix > 65535) {
        prefix = 12;
        major = 2;
        total = (prefix + dict.size() + 1) / 64 * 64 + 64;
    }
    const std::size_t hlen = total - prefix;
    std::string out = "\x93NUMPY";
    out += static_cast<char>(major);
    out += '\0';
    for (std::size_t b = 0; b < (major == 1 ? 2u : 4u); ++b)
        out += static_cast<char>((hlen >> (8 * b)) & 0xff);
    out += dict;
    out.append(total - out.size() - 1, ' ');
    out += '\n';
    return out;
}

inline npy_header decode_npy_header(std::string_view bytes, const std::filesystem::path& file) {
    if (bytes.substr(0, 6) != "\x93NUMPY")
        detail::fail("not a .npy file:", file, "expected the magic string \\x93NUMPY at byte 0");
    // the magic, then a file too short for the version and length: a truncated header
    if (bytes.size() < 10) detail::npy_fail(file, "the file ends inside the header");
    const auto major = static_cast<unsigned char>(bytes[6]);
    if (major < 1 || major > 3)
        detail::npy_fail(file, "expected format version 1, 2 or 3, found " +
                                   std::to_string(static_cast<unsigned>(major)));
    const std::size_t len_size = major == 1 ? 2 : 4;
    if (bytes.size() < 8 + len_size) detail::npy_fail(file, "the file ends inside the header");
    std::uint64_t hlen = 0;  // unsigned: a 1.0 header may be up to 65,535 bytes
    for (std::size_t b = 0; b < len_size; ++b)
        hlen |= std::uint64_t{static_cast<unsigned char>(bytes[8 + b])} << (8 * b);
    if (hlen > npy_max_header)
        detail::npy_fail(file, "header length " + std::to_string(hlen) + " exceeds the limit of " +
                                   std::to_string(npy_max_header) + " bytes");
    const std::size_t start = 8 + len_size;
    if (bytes.size() < start + hlen)
        detail::npy_fail(file, "expected a " + std::to_string(hlen) + "-byte header, found only " +
                                   std::to_string(bytes.size() - start) + " bytes");
    std::string_view dict = bytes.substr(start, static_cast<std::size_t>(hlen));
    detail::npy_dict_parser parser(dict, file);
    npy_header h = parser.parse();
    h.major_version = major;
    h.data_offset = start + hlen;
    // the byte count must fit too, not only the element count
    std::uint64_t nbytes = 0;
    if (!detail::checked_mul(h.elements(), h.type.type.size, nbytes) ||
        nbytes > std::numeric_limits<std::int64_t>::max() - h.data_offset)
        detail::npy_fail(file, "'shape' describes more than 2^63 bytes");
    return h;
}

inline npy_header read_npy_header(const file& f, std::string* raw) {
    const std::uint64_t fsize = f.size();
    // the fixed prefix first, then exactly as many bytes as the header claims (bounded above)
    std::string buf(12, '\0');
    buf.resize(f.pread_some(buf.data(), buf.size(), 0));
    const auto major = buf.size() > 6 ? static_cast<unsigned char>(buf[6]) : 0;
    std::uint64_t hlen = 0;
    const std::size_t len_size = major == 1 ? 2 : 4;
    // decode_npy_header below reports a bad magic, version or length; read more only when sound
    if (buf.compare(0, 6, "\x93NUMPY") == 0 && major >= 1 && major <= 3 &&
        buf.size() >= 8 + len_size) {
        for (std::size_t b = 0; b < len_size; ++b)
            hlen |= std::uint64_t{static_cast<unsigned char>(buf[8 + b])} << (8 * b);
        // a file that ends inside the header: read what is there, so the message says how much
        if (hlen <= npy_max_header) {
            buf.resize(
                static_cast<std::size_t>(std::min<std::uint64_t>(8 + len_size + hlen, fsize)));
            f.pread_full(buf.data(), buf.size(), 0);
        }
    }
    npy_header h = decode_npy_header(buf, f.path());  // reports every inconsistency above
    if (raw) *raw = std::move(buf);
    const std::uint64_t expected = h.data_offset + h.data_bytes();
    if (fsize != expected) {
        detail::fail(
            fsize < expected ? "truncated .npy file" : "unexpected trailing bytes in", f.path(),
            "the header promises " + std::to_string(h.data_bytes()) + " bytes of data (file size " +
                std::to_string(expected) + "), found file size " + std::to_string(fsize));
    }
    return h;
}

}  // namespace ndshard
