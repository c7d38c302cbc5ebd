// Text writes of sources that are not contiguous (transposed, strided, lazy, broadcast) evaluate
// bounded pieces of values, never a whole row: a (1, 10^7) row must not be materialised at once.
// Their text is byte for byte that of the contiguous evaluation, whatever the block budget.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <ndshard/ndshard.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xbroadcast.hpp>
#include <xtensor/xmanipulation.hpp>
#include <xtensor/xstrided_view.hpp>

#include "text_support.hpp"

namespace {

using text_test::read_file;
using text_test::temp_dir;

/// The shapes the formatter's block arithmetic must get right: one huge row, one huge column,
/// rank 3 (flattened into 65 columns), no rows, no columns, rank 1.
const std::vector<std::vector<std::size_t>> shapes = {{1, 100003}, {100003, 1}, {7, 13, 5},
                                                      {0, 5},      {5, 0},      {1001}};

/// Random finite doubles of every magnitude, with nan, inf and -0 mixed in.
xt::xarray<double> values_of(const std::vector<std::size_t>& shape, std::uint64_t seed) {
    xt::xarray<double> a = text_test::random_bits<double>(shape, seed);
    const double specials[] = {std::numeric_limits<double>::quiet_NaN(),
                               std::numeric_limits<double>::infinity(),
                               -std::numeric_limits<double>::infinity(), -0.0, 0.1};
    for (std::size_t i = 0; i < a.size(); i += 97)
        a.data()[i] = specials[(i / 97) % 5];
    return a;
}

/// The text write_text_rows writes for `e` with block budget `block_bytes` (0: the default).
template <class E>
std::string text_of(const temp_dir& dir, const E& e, std::size_t block_bytes, std::size_t threads,
                    char delimiter) {
    ndshard::text_write_options o;
    o.delimiter = delimiter;
    o.threads = threads;
    const auto p = dir / "t.txt";
    ndshard::detail::write_text_rows(p, ndshard::detail::make_row_source(e), o, block_bytes);
    return read_file(p);
}

/// Rows [first, last) of `src` through one block formatter of budget `budget`, block after block.
template <class T>
std::string formatted(const ndshard::detail::row_source<T>& src, std::size_t first,
                      std::size_t last, std::size_t budget) {
    ndshard::detail::block_formatter<T> f(src, first, last, ',', -1, budget);
    std::string text;
    for (std::size_t b = 0; b < f.blocks(); ++b)
        text += f.format(b);
    return text;
}

ndshard::save_options text_save(ndshard::shard_format f, std::size_t shards) {
    ndshard::save_options o;
    o.format = f;
    o.shards = shards;
    o.threads = 2;
    o.sync = false;
    return o;
}

/// `e` (not contiguous) writes exactly the bytes of its contiguous evaluation: through
/// write_text_rows with budgets from one value per block up, through block formatters over row
/// ranges that start inside the array, and as csv and tsv datasets.
template <class E>
void check_same_text(const E& e) {
    const xt::xarray<double> c = e;
    if (c.size() != 0) REQUIRE(ndshard::detail::make_row_source(c).contiguous != nullptr);
    temp_dir dir;
    // (a budget of one value per block is left to the formatter checks below: 10^5 blocks are
    // 10^5 ordered pwrites)
    for (std::size_t budget : {std::size_t{4096}, std::size_t{0}})
        for (std::size_t threads : {std::size_t{1}, std::size_t{2}})
            REQUIRE(text_of(dir, e, budget, threads, ',') == text_of(dir, c, budget, threads, ','));
    REQUIRE(text_of(dir, e, 333, 2, '\t') == text_of(dir, c, 333, 2, '\t'));

    const auto src = ndshard::detail::make_row_source(e);
    const auto csrc = ndshard::detail::make_row_source(c);
    const std::size_t rows = src.rows();
    for (std::size_t budget : {std::size_t{1}, std::size_t{70}, std::size_t{1000}})
        for (std::size_t first : {std::size_t{0}, std::min<std::size_t>(1, rows), rows / 2})
            REQUIRE(formatted(src, first, rows, budget) == formatted(csrc, first, rows, budget));

    for (auto format : {ndshard::shard_format::csv, ndshard::shard_format::tsv}) {
        for (std::size_t shards : {std::size_t{1}, std::size_t{3}}) {
            const auto got = ndshard::save(dir / "e.nds", e, text_save(format, shards));
            const auto want = ndshard::save(dir / "c.nds", c, text_save(format, shards));
            REQUIRE(got.shards.size() == want.shards.size());
            for (std::size_t i = 0; i < got.shards.size(); ++i) {
                CHECK(got.shards[i].checksum == want.shards[i].checksum);
                REQUIRE(read_file(dir / "e.nds" / got.shards[i].path) ==
                        read_file(dir / "c.nds" / want.shards[i].path));
            }
        }
    }
}

/// The largest number of values `src` was asked to evaluate in one call (rows count as their
/// values), and the total: every fill call goes through here.
struct fill_record {
    std::atomic<std::size_t> largest{0}, total{0};
    void note(std::size_t n) {
        total += n;
        for (std::size_t l = largest.load(); n > l && !largest.compare_exchange_weak(l, n);) {
        }
    }
};

template <class T>
ndshard::detail::row_source<T> instrumented(ndshard::detail::row_source<T> src,
                                            fill_record& record) {
    const std::size_t row_size = src.row_size();
    if (src.fill)
        src.fill = [inner = src.fill, row_size, &record](std::size_t first, std::size_t last,
                                                         T* out) {
            record.note((last - first) * row_size);
            inner(first, last, out);
        };
    if (src.fill_flat)
        src.fill_flat = [inner = src.fill_flat, &record](std::size_t first, std::size_t n, T* out) {
            record.note(n);
            inner(first, n, out);
        };
    return src;
}

/// Bytes one value of a non-contiguous source costs a text block: its text, its separator and
/// its evaluated copy.
constexpr std::size_t bytes_per_value(int precision) {
    return ndshard::detail::max_value_chars<double>(precision) + 1 + sizeof(double);
}

}  // namespace

TEST_CASE("text bounded: transposed sources write the bytes of their contiguous evaluation",
          "[text][bounded]") {
    for (const auto& shape : shapes) {
        CAPTURE(shape);
        // (1, n) and (n, 1) transposes come out contiguous (axes of length one have no stride)
        const xt::xarray<double> t = xt::transpose(values_of(shape, 1));
        check_same_text(xt::transpose(t));
    }
    // the transpose of a (7, 13, 5) array under another axis order
    const xt::xarray<double> p = values_of({13, 5, 7}, 2);
    REQUIRE(ndshard::detail::make_row_source(xt::transpose(p, {2, 0, 1})).contiguous == nullptr);
    check_same_text(xt::transpose(p, {2, 0, 1}));
}

TEST_CASE("text bounded: strided views write the bytes of their contiguous evaluation",
          "[text][bounded]") {
    for (const auto& shape : shapes) {
        CAPTURE(shape);
        // every other element along the last axis of an array twice as wide
        auto wide_shape = shape;
        wide_shape.back() *= 2;
        const xt::xarray<double> w = values_of(wide_shape, 3);
        const auto every_other =
            xt::strided_view(w, {xt::ellipsis(), xt::range(std::size_t{0}, wide_shape.back(), 2)});
        if (xt::xarray<double>(every_other).size() > 1)
            REQUIRE(ndshard::detail::make_row_source(every_other).contiguous == nullptr);
        check_same_text(every_other);
    }
}

TEST_CASE("text bounded: lazy expressions write the bytes of their contiguous evaluation",
          "[text][bounded]") {
    for (const auto& shape : shapes) {
        CAPTURE(shape);
        const xt::xarray<double> a = values_of(shape, 4);
        REQUIRE(ndshard::detail::make_row_source(a * 1.0).contiguous == nullptr);
        check_same_text(a * 1.0);
        // the case: the transpose of a column, times one
        const xt::xarray<double> t = xt::transpose(a);
        check_same_text(xt::transpose(t) * 1.0);
    }
}

TEST_CASE("text bounded: broadcasts write the bytes of their contiguous evaluation",
          "[text][bounded]") {
    for (const auto& shape : shapes) {
        CAPTURE(shape);
        const xt::xarray<double> last_axis = values_of({shape.back()}, 5);
        const auto b = xt::broadcast(last_axis, shape);
        REQUIRE(ndshard::detail::make_row_source(b).contiguous == nullptr);
        check_same_text(b);
    }
}

TEST_CASE("text bounded: no fill evaluates more values than a block's budget holds",
          "[text][bounded]") {
    // one row of 100003 values, and rank 3 (rows of 65 values): both wider than the blocks
    const xt::xarray<double> column = values_of({100003, 1}, 6);
    const xt::xarray<double> cube = values_of({7, 13, 5}, 7);
    const auto wide = xt::transpose(column) * 1.0;
    const auto lazy_cube = cube * 1.0;
    temp_dir dir;

    const auto check_write = [&](const auto& e, std::size_t budget, int precision,
                                 std::size_t threads) {
        CAPTURE(budget, precision, threads);
        fill_record record;
        const auto src = instrumented(ndshard::detail::make_row_source(e), record);
        REQUIRE(src.contiguous == nullptr);
        ndshard::text_write_options o;
        o.precision = precision;
        o.threads = threads;
        ndshard::detail::write_text_rows(dir / "w.csv", src, o, budget);
        CHECK(record.total == src.rows() * src.row_size());  // every value evaluated once
        CHECK(record.largest > 0);
        CHECK(record.largest * bytes_per_value(precision) <=
              std::max(budget, bytes_per_value(precision)));
        // and the text is still that of the contiguous evaluation
        const xt::xarray<double> c = e;
        ndshard::detail::write_text_rows(dir / "c.csv", ndshard::detail::make_row_source(c), o,
                                         budget);
        REQUIRE(read_file(dir / "w.csv") == read_file(dir / "c.csv"));
    };
    for (std::size_t budget : {std::size_t{300}, std::size_t{4096}, std::size_t{1} << 16})
        for (std::size_t threads : {std::size_t{1}, std::size_t{2}}) {
            check_write(wide, budget, -1, threads);
            check_write(lazy_cube, budget, -1, threads);
        }
    check_write(wide, 4096, 17, 2);
    check_write(wide, 4096, ndshard::detail::max_text_precision, 2);  // 788 bytes a value

    // a text dataset's shard writer: each worker's budget is text_shard_buffer_bytes, and a row
    // three times that wide is formatted in pieces
    const xt::xarray<double> long_column = values_of({100003 * 4, 1}, 8);
    const auto wider = xt::transpose(long_column) * 1.0;
    REQUIRE(100003 * 4 * bytes_per_value(-1) > 3 * ndshard::detail::text_shard_buffer_bytes);
    for (auto format : {ndshard::shard_format::csv, ndshard::shard_format::tsv}) {
        fill_record record;
        const auto src = instrumented(ndshard::detail::make_row_source(wider), record);
        (void)ndshard::detail::save_rows(dir / "d.nds", src, text_save(format, 2));
        CHECK(record.total == long_column.size());
        CHECK(record.largest * bytes_per_value(-1) <= ndshard::detail::text_shard_buffer_bytes);
        const auto back = ndshard::load<double>(dir / "d.nds");
        text_test::require_same_bits(back, xt::xarray<double>(wider));
    }
}

TEST_CASE("text bounded: fill_flat evaluates any range of elements, across rows and axes",
          "[text][bounded]") {
    const xt::xarray<double> a = values_of({3, 1, 4, 5}, 9);
    const xt::xarray<double> t = xt::transpose(a);
    const xt::xarray<double> last_axis = values_of({5}, 10);
    const auto check = [](const auto& e) {
        const xt::xarray<double> c = e;
        const auto src = ndshard::detail::make_row_source(e);
        REQUIRE(src.fill_flat);
        std::vector<double> got(c.size());
        for (std::size_t first = 0; first <= c.size(); ++first)
            for (std::size_t n = 0; first + n <= c.size(); n += 7) {
                CAPTURE(first, n);
                src.fill_flat(first, n, got.data());
                for (std::size_t k = 0; k < n; ++k)
                    REQUIRE(text_test::bits_of(got[k]) == text_test::bits_of(c.data()[first + k]));
            }
    };
    check(xt::transpose(t));
    check(a * 1.0);
    check(
        xt::broadcast(last_axis, {std::size_t{3}, std::size_t{1}, std::size_t{4}, std::size_t{5}}));
    check(xt::strided_view(a, {xt::ellipsis(), xt::range(1, 5, 2)}));
    check(xt::transpose(a, {1, 3, 0, 2}));
}
