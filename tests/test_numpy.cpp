// numpy reads what ndshard writes: every shard listed in manifest.json opens with numpy.load, and
// their concatenation is the saved array, bit for bit; a single write_npy file opens too.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <ndshard/ndshard.hpp>
#include <numeric>
#include <string>
#include <xtensor/xmanipulation.hpp>

#include "support.hpp"

namespace {

// Loads every shard of the dataset in argv[1] with numpy (no pickles), checks each against the
// manifest, concatenates them and writes the raw bytes to argv[2]. A single .npy file works too.
const char* const numpy_reader = R"(
import json, os, sys
import numpy as np
src, out = sys.argv[1], sys.argv[2]
if os.path.isdir(src):
    m = json.load(open(os.path.join(src, 'manifest.json')))
    parts = []
    for s in m['shards']:
        a = np.load(os.path.join(src, s['path']), allow_pickle=False)
        assert a.dtype.str == m['dtype'], (a.dtype.str, m['dtype'])
        assert list(a.shape[1:]) == m['shape'][1:], (a.shape, m['shape'])
        if a.ndim:
            assert a.shape[0] == s['rows'][1] - s['rows'][0], (a.shape, s['rows'])
        assert os.path.getsize(os.path.join(src, s['path'])) == s['bytes']
        parts.append(a)
    whole = parts[0] if not m['shape'] else np.concatenate(parts)
    assert list(whole.shape) == m['shape'], (whole.shape, m['shape'])
else:
    whole = np.load(src, allow_pickle=False)
open(out + '.shape', 'w').write(' '.join(map(str, whole.shape)))
np.ascontiguousarray(whole).tofile(out)
)";

bool have_numpy() {
    return std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
}

// What numpy read from `src`: the raw bytes in C order and the shape as text ("3 4").
std::pair<std::string, std::string> numpy_read(const ndshard_test::temp_dir& tmp,
                                               const std::filesystem::path& src) {
    ndshard_test::write_file(tmp / "reader.py", numpy_reader);
    const auto out = tmp / "out.bin";
    const std::string cmd = "/usr/bin/python3 '" + (tmp / "reader.py").string() + "' '" +
                            src.string() + "' '" + out.string() + "'";
    const int status = std::system(cmd.c_str());
    INFO(cmd);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    return {ndshard_test::read_file(out),
            ndshard_test::read_file(std::filesystem::path(out.string() + ".shape"))};
}

template <class A>
std::string bytes_of(const A& a) {
    using T = typename A::value_type;
    return std::string(reinterpret_cast<const char*>(a.data()), a.size() * sizeof(T));
}

template <class A>
std::string shape_words(const A& a) {
    std::string s;
    for (std::size_t i = 0; i < a.dimension(); ++i)
        s += (i ? " " : "") + std::to_string(a.shape()[i]);
    return s;
}

// Saves `a` with several shard counts and as one file; numpy must read back the same bytes.
template <class T>
void check_numpy_reads(const xt::xarray<T>& a) {
    ndshard_test::temp_dir tmp;
    for (std::size_t shards : {1u, 4u, 7u}) {
        INFO("shards " << shards);
        (void)ndshard::save(tmp / "ds", a, {ndshard::shard_format::npy, shards, 2});
        const auto [bytes, shape] = numpy_read(tmp, tmp / "ds");
        REQUIRE(shape == shape_words(a));
        REQUIRE(bytes == bytes_of(a));
    }
    ndshard::write_npy(tmp / "one.npy", a, 3);
    const auto [bytes, shape] = numpy_read(tmp, tmp / "one.npy");
    REQUIRE(shape == shape_words(a));
    REQUIRE(bytes == bytes_of(a));
}

}  // namespace

TEST_CASE("numpy reads every shard and every .npy file ndshard writes", "[numpy]") {
    if (!have_numpy()) {
        WARN("/usr/bin/python3 with numpy is missing: skipped (CI installs python3-numpy)");
        return;
    }
    SECTION("float64, 2-D, with NaN payloads and infinities") {
        xt::xarray<double> a = xt::xarray<double>::from_shape({1001, 7});
        std::iota(a.begin(), a.end(), -300.125);
        std::uint64_t nan_bits = 0x7ff800000000beefULL;
        std::memcpy(&a(5, 3), &nan_bits, 8);
        a(1000, 6) = -std::numeric_limits<double>::infinity();
        a(0, 0) = -0.0;
        check_numpy_reads(a);
    }
    SECTION("int16, 3-D") {
        xt::xarray<std::int16_t> a = xt::xarray<std::int16_t>::from_shape({13, 4, 3});
        std::iota(a.begin(), a.end(), std::int16_t{-200});
        check_numpy_reads(a);
    }
    SECTION("bool, uint64, float32, int8") {
        check_numpy_reads(xt::xarray<bool>{true, false, true, true, false});
        check_numpy_reads(xt::xarray<std::uint64_t>{
            {0, std::numeric_limits<std::uint64_t>::max()}, {1, 2}, {3, 4}});
        check_numpy_reads(xt::xarray<float>{{1.5f, -2.0f, 1e-40f}});
        check_numpy_reads(xt::xarray<std::int8_t>{-128, 127, 0});
    }
    SECTION("0-d, zero rows, a zero dimension") {
        xt::xarray<double> s = xt::xarray<double>::from_shape({});
        s() = 6.5;
        check_numpy_reads(s);
        check_numpy_reads(xt::xarray<float>::from_shape({0, 3}));
        check_numpy_reads(xt::xarray<std::int32_t>::from_shape({4, 0}));
    }
    SECTION("a non-contiguous source: numpy sees the evaluated values") {
        xt::xarray<double> a = xt::xarray<double>::from_shape({6, 9});
        std::iota(a.begin(), a.end(), 0.5);
        check_numpy_reads(xt::xarray<double>(xt::transpose(a)));
        ndshard_test::temp_dir tmp;
        (void)ndshard::save(tmp / "ds", xt::transpose(a), {ndshard::shard_format::npy, 4, 2});
        const auto [bytes, shape] = numpy_read(tmp, tmp / "ds");
        REQUIRE(shape == "9 6");
        REQUIRE(bytes == bytes_of(xt::xarray<double>(xt::transpose(a))));
    }
}
