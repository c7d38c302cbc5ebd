// Sources that are not C-contiguous (column-major, transposed, strided, lazy, broadcast) are saved
// with the values of the evaluated expression, in bounded row blocks; contiguous sources
// (containers, adaptors, row ranges) are written straight from their memory, with no copy.
#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <ndshard/ndshard.hpp>
#include <numeric>
#include <vector>
#include <xtensor/xadapt.hpp>
#include <xtensor/xbroadcast.hpp>
#include <xtensor/xmanipulation.hpp>
#include <xtensor/xstrided_view.hpp>
#include <xtensor/xview.hpp>

#include "support.hpp"

namespace {

template <class T>
xt::xarray<T> iota_array(std::initializer_list<std::size_t> shape, T start = T(1)) {
    xt::xarray<T> a = xt::xarray<T>::from_shape(shape);
    std::iota(a.begin(), a.end(), start);
    return a;
}

// Saves `e` as a dataset (several shard counts) and as one .npy file; both must load as `expected`.
template <class E, class T>
void check_saved_as(const E& e, const xt::xarray<T>& expected) {
    ndshard_test::temp_dir tmp;
    for (std::size_t shards : {1u, 3u, 5u}) {
        (void)ndshard::save(tmp / "ds", e, {ndshard::shard_format::npy, shards, 2});
        const auto b = ndshard::load<T>(tmp / "ds");
        REQUIRE(b.shape() == expected.shape());
        REQUIRE((b == expected));
    }
    for (std::size_t threads : {1u, 2u}) {
        ndshard::write_npy(tmp / "e.npy", e, threads);
        const auto c = ndshard::read_npy<T>(tmp / "e.npy");
        REQUIRE(c.shape() == expected.shape());
        REQUIRE((c == expected));
    }
}

}  // namespace

TEST_CASE("non-contiguous: column-major xarray", "[noncontiguous]") {
    xt::xarray<double, xt::layout_type::column_major> a = iota_array<double>({6, 4});
    REQUIRE(ndshard::detail::make_row_source(a).contiguous == nullptr);
    check_saved_as(a, xt::xarray<double>(a));
    xt::xarray<int, xt::layout_type::column_major> b = iota_array<int>({3, 4, 5});
    check_saved_as(b, xt::xarray<int>(b));
}

TEST_CASE("non-contiguous: xt::transpose", "[noncontiguous]") {
    const auto a = iota_array<float>({5, 7});
    REQUIRE(ndshard::detail::make_row_source(xt::transpose(a)).contiguous == nullptr);
    check_saved_as(xt::transpose(a), xt::xarray<float>(xt::transpose(a)));
    const auto b = iota_array<std::int16_t>({2, 3, 4});
    check_saved_as(xt::transpose(b, {2, 0, 1}),
                   xt::xarray<std::int16_t>(xt::transpose(b, {2, 0, 1})));
}

TEST_CASE("non-contiguous: strided views with a step", "[noncontiguous]") {
    const auto a = iota_array<double>({20, 6});
    auto rows = xt::view(a, xt::range(1, 20, 3), xt::all());
    REQUIRE(ndshard::detail::make_row_source(rows).contiguous == nullptr);
    check_saved_as(rows, xt::xarray<double>(rows));
    auto cols = xt::view(a, xt::all(), xt::range(0, 6, 2));
    check_saved_as(cols, xt::xarray<double>(cols));
    auto reversed = xt::view(a, xt::range(19, 2, -4), xt::range(5, 0, -1));
    check_saved_as(reversed, xt::xarray<double>(reversed));
    auto strided = xt::strided_view(a, {xt::range(0, 20, 2), xt::range(1, 5)});
    check_saved_as(strided, xt::xarray<double>(strided));
}

TEST_CASE("non-contiguous: a lazy expression", "[noncontiguous]") {
    const auto a = iota_array<double>({9, 4});
    const auto e = a * 2.0 + 1.0;
    REQUIRE(ndshard::detail::make_row_source(e).contiguous == nullptr);
    check_saved_as(e, xt::xarray<double>(e));
    const auto i = iota_array<std::int32_t>({4, 3, 2});
    check_saved_as(i * 2 + 1, xt::xarray<std::int32_t>(i * 2 + 1));
    // a 0-d lazy expression: one element
    xt::xarray<double> s = xt::xarray<double>::from_shape({});
    s() = 1.5;
    check_saved_as(s * 2.0 + 1.0, xt::xarray<double>(s * 2.0 + 1.0));
}

TEST_CASE("non-contiguous: a broadcast", "[noncontiguous]") {
    const xt::xarray<std::uint16_t> row = {1, 2, 3, 65535};
    auto b = xt::broadcast(row, {7, 4});
    REQUIRE(ndshard::detail::make_row_source(b).contiguous == nullptr);
    check_saved_as(b, xt::xarray<std::uint16_t>(b));
    // broadcasting inside a lazy expression: (3, 1) + (2,) gives (3, 2)
    xt::xarray<double> col = iota_array<double>({3, 1});
    xt::xarray<double> wide = {10.0, 20.0};
    check_saved_as(col + wide, xt::xarray<double>(col + wide));
}

TEST_CASE("non-contiguous: a large source is evaluated in bounded row blocks", "[noncontiguous]") {
    // 300,000 x 4 doubles (9.6 MB) from a broadcast row: no full copy may be made
    const std::size_t rows = 300000, cols = 4;
    const xt::xarray<double> row = {0.25, -1.0, 3.5, 1e300};
    auto b = xt::broadcast(row, {rows, cols});
    auto src = ndshard::detail::make_row_source(b);
    REQUIRE(src.contiguous == nullptr);
    std::atomic<std::size_t> largest{0}, filled{0};
    auto fill = src.fill;
    src.fill = [&](std::size_t first, std::size_t last, double* out) {
        const std::size_t bytes = (last - first) * cols * sizeof(double);
        std::size_t seen = largest.load();
        while (bytes > seen && !largest.compare_exchange_weak(seen, bytes)) {
        }
        filled += last - first;
        fill(first, last, out);
    };
    ndshard_test::temp_dir tmp;
    ndshard::detail::write_npy_rows(tmp / "b.npy", src, ndshard::npy_write_options{2});
    REQUIRE(filled == rows);
    REQUIRE(largest <= ndshard::detail::chunk_bytes);
    const auto c = ndshard::read_npy<double>(tmp / "b.npy", 2);
    REQUIRE((c == b));
}

TEST_CASE("contiguous sources are written with zero copies", "[noncontiguous]") {
    auto a = iota_array<double>({10, 3});
    // the row source points at the array itself: shards and files are written from its memory
    auto src = ndshard::detail::make_row_source(a);
    REQUIRE(src.contiguous == a.data());
    REQUIRE(!src.fill);

    std::vector<float> v(12);
    std::iota(v.begin(), v.end(), 0.0f);
    auto adapted = xt::adapt(v, std::vector<std::size_t>{4, 3});
    REQUIRE(ndshard::detail::make_row_source(adapted).contiguous == v.data());

    xt::xtensor<std::int8_t, 2> t = xt::zeros<std::int8_t>({3, 3});
    REQUIRE(ndshard::detail::make_row_source(t).contiguous == t.data());

    // a range of whole rows is contiguous too: it starts at its first row
    auto middle = xt::view(a, xt::range(2, 7));
    REQUIRE(ndshard::detail::make_row_source(middle).contiguous == a.data() + 6);
    auto a3 = iota_array<int>({3, 2, 2});
    REQUIRE(ndshard::detail::make_row_source(xt::view(a3, 1)).contiguous == a3.data() + 4);
    // a single column of a one-column array is contiguous; of a wider one, not
    auto one_column = iota_array<double>({5, 1});
    REQUIRE(ndshard::detail::make_row_source(xt::view(one_column, xt::all(), 0)).contiguous ==
            one_column.data());
    REQUIRE(ndshard::detail::make_row_source(xt::view(a, xt::all(), 1)).contiguous == nullptr);

    check_saved_as(middle, xt::xarray<double>(middle));
    check_saved_as(adapted, xt::xarray<float>(adapted));

    // the bytes of a contiguous source reach the file unchanged, NaN payloads included
    ndshard_test::temp_dir tmp;
    ndshard::write_npy(tmp / "a.npy", a, 2);
    const std::string bytes = ndshard_test::read_file(tmp / "a.npy");
    REQUIRE(bytes.size() == 128 + a.size() * sizeof(double));
    REQUIRE(std::memcmp(bytes.data() + 128, a.data(), a.size() * sizeof(double)) == 0);
}

TEST_CASE("noncontiguous: rows wider than a chunk are evaluated piecewise, not whole",
          "[noncontiguous]") {
    // the transpose of a tall array: 2 rows of 6 MiB each, wider than a 4 MiB chunk
    const std::size_t n = 3 * ndshard::detail::chunk_bytes / sizeof(double) / 2;
    xt::xarray<double> tall = xt::arange<double>(static_cast<double>(2 * n)).reshape({n, 2});
    const auto wide = xt::transpose(tall);
    auto src = ndshard::detail::make_row_source(wide);
    REQUIRE(src.contiguous == nullptr);
    std::size_t pieces = 0, largest = 0, total = 0;
    std::vector<double> got;
    ndshard::detail::scratch<double> buffer;
    ndshard::detail::for_each_piece(src, 0, 2, buffer, [&](const double* p, std::size_t k) {
        ++pieces;
        largest = std::max(largest, k * sizeof(double));
        total += k;
        got.insert(got.end(), p, p + k);
    });
    const xt::xarray<double> expected = wide;
    REQUIRE(got == std::vector<double>(expected.begin(), expected.end()));
    REQUIRE(total == 2 * n);
    REQUIRE(pieces == 3);  // 12 MiB in 4 MiB pieces, across the row boundary
    REQUIRE(largest <= ndshard::detail::chunk_bytes);
    ndshard_test::temp_dir tmp;
    ndshard::write_npy(tmp / "w.npy", wide, 2);
    REQUIRE((ndshard::read_npy<double>(tmp / "w.npy") == wide));
    ndshard::save(tmp / "w.nds", wide, {ndshard::shard_format::npy, 2, 2});
    REQUIRE((ndshard::load<double>(tmp / "w.nds") == wide));
}
