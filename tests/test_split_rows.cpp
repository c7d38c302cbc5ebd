// Row splitting: balanced, ordered, complete row ranges, and zero-copy row blocks of a tensor_ref.
#include <catch2/catch.hpp>
#include <ndshard/tensor_ref.hpp>
#include <numeric>
#include <vector>

namespace {

// Every property a split must have: min(n, rows) ranges (n == 0 taken as 1), indexed in order,
// covering [0, rows) without gaps or overlaps, sizes differing by at most one, longer ones first.
void check_split(std::size_t rows, std::size_t n) {
    INFO("rows = " << rows << ", n = " << n);
    const auto ranges = ndshard::split_rows(rows, n);
    const std::size_t parts = std::min(n == 0 ? 1 : n, rows);
    REQUIRE(ranges.size() == parts);
    std::size_t next = 0, smallest = rows, largest = 0;
    for (std::size_t i = 0; i < ranges.size(); ++i) {
        REQUIRE(ranges[i].index == i);
        REQUIRE(ranges[i].first_row == next);
        REQUIRE(ranges[i].last_row > ranges[i].first_row);  // no empty range
        REQUIRE(ranges[i].rows() == ranges[i].last_row - ranges[i].first_row);
        if (i > 0) REQUIRE(ranges[i].rows() <= ranges[i - 1].rows());
        smallest = std::min(smallest, ranges[i].rows());
        largest = std::max(largest, ranges[i].rows());
        next = ranges[i].last_row;
    }
    REQUIRE(next == rows);
    if (!ranges.empty()) REQUIRE(largest - smallest <= 1);
}

}  // namespace

TEST_CASE("split_rows: fewer rows than parts gives one row per part", "[split_rows]") {
    const auto r = ndshard::split_rows(3, 8);
    REQUIRE(r.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
        REQUIRE(r[i].first_row == i);
        REQUIRE(r[i].last_row == i + 1);
    }
    check_split(3, 8);
    check_split(1, 2);
    check_split(7, 1000);
}

TEST_CASE("split_rows: zero rows gives no ranges", "[split_rows]") {
    REQUIRE(ndshard::split_rows(0, 4).empty());
    REQUIRE(ndshard::split_rows(0, 1).empty());
    REQUIRE(ndshard::split_rows(0, 0).empty());
}

TEST_CASE("split_rows: one row gives one range", "[split_rows]") {
    for (std::size_t n : {0u, 1u, 2u, 64u}) {
        const auto r = ndshard::split_rows(1, n);
        REQUIRE(r.size() == 1);
        REQUIRE(r[0].index == 0);
        REQUIRE(r[0].first_row == 0);
        REQUIRE(r[0].last_row == 1);
    }
}

TEST_CASE("split_rows: n == 0 is taken as one part", "[split_rows]") {
    const auto r = ndshard::split_rows(10, 0);
    REQUIRE(r.size() == 1);
    REQUIRE(r[0].first_row == 0);
    REQUIRE(r[0].last_row == 10);
}

TEST_CASE("split_rows: prime row counts", "[split_rows]") {
    const auto r = ndshard::split_rows(13, 4);  // 4 + 3 + 3 + 3
    REQUIRE(r.size() == 4);
    REQUIRE(r[0].rows() == 4);
    REQUIRE(r[1].first_row == 4);
    REQUIRE(r[1].rows() == 3);
    REQUIRE(r[3].last_row == 13);
    for (std::size_t rows : {2u, 3u, 5u, 7u, 11u, 13u, 97u, 101u, 7919u, 1000003u})
        for (std::size_t n : {1u, 2u, 3u, 4u, 6u, 7u, 16u, 100u})
            check_split(rows, n);
}

TEST_CASE("split_rows: balance over many row and part counts", "[split_rows]") {
    for (std::size_t rows = 0; rows <= 70; ++rows)
        for (std::size_t n = 0; n <= 20; ++n)
            check_split(rows, n);
    check_split(1000000, 7);
    check_split(std::size_t{1} << 40, 3);  // ranges only: nothing is allocated
}

TEST_CASE("split_rows(tensor_ref): blocks point into the original memory", "[split_rows]") {
    std::vector<int> data(11 * 3);
    std::iota(data.begin(), data.end(), 0);
    const ndshard::tensor_ref<int> ref{data.data(), {11, 3}};
    REQUIRE(ref.rank() == 2);
    REQUIRE(ref.rows() == 11);
    REQUIRE(ref.row_size() == 3);
    REQUIRE(ref.size() == 33);
    REQUIRE(ref.bytes() == 33 * sizeof(int));

    const auto blocks = ndshard::split_rows(ref, 4);  // 3 + 3 + 3 + 2 rows
    REQUIRE(blocks.size() == 4);
    const std::size_t expected_rows[] = {3, 3, 3, 2};
    std::size_t row = 0;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        REQUIRE(blocks[i].data == data.data() + row * 3);  // zero copy: a pointer into `data`
        REQUIRE(blocks[i].shape == std::vector<std::size_t>{expected_rows[i], 3});
        REQUIRE(blocks[i].data[0] == static_cast<int>(row * 3));
        row += expected_rows[i];
    }
    // writing through a block writes the original
    blocks[3].data[5] = -1;
    REQUIRE(data.back() == -1);
}

TEST_CASE("split_rows(tensor_ref): ranks 0, 1 and 3, zero rows, more parts than rows",
          "[split_rows]") {
    double x = 4.5;
    const ndshard::tensor_ref<double> scalar{&x, {}};
    REQUIRE(scalar.rows() == 1);
    REQUIRE(scalar.size() == 1);
    const auto s = ndshard::split_rows(scalar, 8);
    REQUIRE(s.size() == 1);
    REQUIRE(s[0].data == &x);
    REQUIRE(s[0].shape.empty());

    std::vector<float> v(5);
    const auto b1 = ndshard::split_rows(ndshard::tensor_ref<float>{v.data(), {5}}, 8);
    REQUIRE(b1.size() == 5);
    for (std::size_t i = 0; i < 5; ++i) {
        REQUIRE(b1[i].data == v.data() + i);
        REQUIRE(b1[i].shape == std::vector<std::size_t>{1});
    }

    std::vector<short> c(4 * 2 * 3);
    const auto b3 = ndshard::split_rows(ndshard::tensor_ref<short>{c.data(), {4, 2, 3}}, 3);
    REQUIRE(b3.size() == 3);
    REQUIRE(b3[0].shape == std::vector<std::size_t>{2, 2, 3});
    REQUIRE(b3[1].data == c.data() + 12);
    REQUIRE(b3[2].data == c.data() + 18);
    REQUIRE(b3[2].shape == std::vector<std::size_t>{1, 2, 3});

    const auto none = ndshard::split_rows(ndshard::tensor_ref<short>{c.data(), {0, 3}}, 4);
    REQUIRE(none.empty());
}
