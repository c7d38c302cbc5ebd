// Word-embedding files: GloVe, fastText .vec and word2vec text; header detection; UTF-8 words;
// errors with line numbers.
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <ndshard/ndshard.hpp>

#include "text_support.hpp"

namespace {

using text_test::fixture;
using text_test::read_file;
using text_test::require_same_bits;
using text_test::temp_dir;
using text_test::write_file;
const auto q = text_test::quoted;

/// The error reading `text` (written to dir/name) as embeddings gives.
std::string embedding_error(const temp_dir& dir, const std::string& name, const std::string& text) {
    write_file(dir / name, text);
    return text_test::error_of([&] { (void)ndshard::read_embeddings<double>(dir / name); });
}

std::vector<std::string> fixture_words() {
    std::vector<std::string> words;
    const std::string all = read_file(fixture("glove_words.txt"));
    std::size_t p = 0;
    for (std::size_t nl; (nl = all.find('\n', p)) != std::string::npos; p = nl + 1)
        words.push_back(all.substr(p, nl - p));
    return words;
}

}  // namespace

TEST_CASE("embeddings: a GloVe-style file, words in any script", "[text][embeddings][fixtures]") {
    const auto words = fixture_words();
    REQUIRE(words.size() == 15);
    CHECK(words[7] == "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E");  // 日本語, bytes unchanged
    const auto want = ndshard::read_npy<float>(fixture("glove.npy"));
    for (std::size_t threads : text_test::thread_counts) {
        ndshard::text_read_options o;
        o.threads = threads;
        const auto e = ndshard::read_embeddings<float>(fixture("glove.txt"), o);
        CHECK(e.words == words);
        require_same_bits(e.vectors, want);
        const auto tiny =
            ndshard::detail::read_embeddings_file<float>(fixture("glove.txt"), o, {1});
        CHECK(tiny.words == words);
        require_same_bits(tiny.vectors, want);
    }
    const auto d = ndshard::read_embeddings<double>(fixture("glove.txt"));
    require_same_bits(d.vectors, xt::xtensor<double, 2>(want));  // the digits are float's exactly
}

TEST_CASE("embeddings: a fastText .vec file with its header line", "[text][embeddings][fixtures]") {
    const auto e = ndshard::read_embeddings<float>(fixture("fasttext.vec"));
    CHECK(e.words == fixture_words());
    require_same_bits(e.vectors, ndshard::read_npy<float>(fixture("glove.npy")));
    ndshard::text_read_options skip;
    skip.skip_rows = 1;
    const auto s = ndshard::read_embeddings<float>(fixture("fasttext.vec"), skip);
    CHECK(s.words == e.words);
    require_same_bits(s.vectors, e.vectors);
}

TEST_CASE("embeddings: header detection", "[text][embeddings]") {
    temp_dir dir;
    // word2vec: "N D", then rows (trailing spaces, CRLF)
    write_file(dir / "w2v.txt", "2 3\r\nking 0.5 -1 2 \r\nqueen 1e-3 +2 -0 \r\n");
    auto e = ndshard::read_embeddings<double>(dir / "w2v.txt");
    CHECK(e.words == std::vector<std::string>{"king", "queen"});
    require_same_bits(e.vectors, xt::xtensor<double, 2>{{0.5, -1, 2}, {1e-3, 2, -0.0}});
    // the first line two integers, the rest too: no header, numbers are words
    write_file(dir / "nums.txt", "1 2\n3 4\n5 6\n");
    e = ndshard::read_embeddings<double>(dir / "nums.txt");
    CHECK(e.words == std::vector<std::string>{"1", "3", "5"});
    require_same_bits(e.vectors, xt::xtensor<double, 2>{{2}, {4}, {6}});
    // a header alone: no words, D columns
    write_file(dir / "empty.vec", "0 300\n");
    e = ndshard::read_embeddings<double>(dir / "empty.vec");
    CHECK(e.words.empty());
    CHECK(e.vectors.shape()[1] == 300);
    // an empty file
    write_file(dir / "none.txt", "");
    CHECK(ndshard::read_embeddings<double>(dir / "none.txt").words.empty());
    // a header with more or fewer rows than it says
    CHECK(embedding_error(dir, "short.vec", "3 2\na 1 2\nb 3 4\n") ==
          "ndshard: cannot read " + q(dir / "short.vec") +
              ": expected 3 words (from the header line), found 2");
    CHECK(embedding_error(dir, "long.vec", "1 2\na 1 2\nb 3 4\n") ==
          "ndshard: cannot read " + q(dir / "long.vec") +
              ": expected 1 words (from the header line), found 2");
    // a header whose D disagrees with the rows: the first row is ragged
    CHECK(embedding_error(dir, "dim.vec", "2 3\na 1 2\nb 3 4\n") ==
          "ndshard: ragged row in " + q(dir / "dim.vec") +
              " line 2, field 4 (byte 6): expected 3 values, found 2");
}

TEST_CASE("embeddings: words are any bytes up to the first separator", "[text][embeddings]") {
    temp_dir dir;
    write_file(dir / "odd.txt",
               "# 1 2\n"                  // '#' is a word, not a comment
               ", 3 4\n"                  // so is ','
               "\n"                       // blank lines are skipped
               "a,b 5 6\n"                // commas inside words
               "\xC3\xA9t\xC3\xA9 7 8\n"  // été
               "nan 9 10\n");             // a word that looks like a number
    const auto e = ndshard::read_embeddings<float>(dir / "odd.txt");
    CHECK(e.words == std::vector<std::string>{"#", ",", "a,b", "\xC3\xA9t\xC3\xA9", "nan"});
    require_same_bits(e.vectors, xt::xtensor<float, 2>{{1, 2}, {3, 4}, {5, 6}, {7, 8}, {9, 10}});
    // tab-separated: a tab on the first line picks tabs
    write_file(dir / "tab.txt", "new york\t1\t2\nlos angeles\t3\t4\n");
    const auto t = ndshard::read_embeddings<double>(dir / "tab.txt");
    CHECK(t.words == std::vector<std::string>{"new york", "los angeles"});
    require_same_bits(t.vectors, xt::xtensor<double, 2>{{1, 2}, {3, 4}});
}

TEST_CASE("embeddings: rows with the wrong number of values", "[text][embeddings][errors]") {
    temp_dir dir;
    CHECK(embedding_error(dir, "r.txt", "a 1 2 3\nb 4 5\nc 6 7 8\n") ==
          "ndshard: ragged row in " + q(dir / "r.txt") +
              " line 2, field 4 (byte 6): expected 3 values, found 2");
    CHECK(embedding_error(dir, "s.txt", "a 1 2\nb 4 5 6 7\n") ==
          "ndshard: ragged row in " + q(dir / "s.txt") +
              " line 2, field 4 (byte 7): expected 2 values, found 4");
    CHECK(embedding_error(dir, "t.txt", "a 1 2\nb\n") ==
          "ndshard: ragged row in " + q(dir / "t.txt") +
              " line 2, field 2 (byte 2): expected 2 values, found 0");
    CHECK(embedding_error(dir, "u.txt", "a 1 2\nb 1 two\n") ==
          "ndshard: cannot parse " + q(dir / "u.txt") +
              " line 2, field 3 (byte 5): expected a number, found 'two'");
    std::string big;
    for (int i = 0; i < 500; ++i)
        big += "w" + std::to_string(i) + (i == 432 ? " 1 2\n" : " 1 2 3\n");
    write_file(dir / "big.txt", big);
    for (std::size_t threads : text_test::thread_counts) {
        ndshard::text_read_options o;
        o.threads = threads;
        CHECK_THROWS_WITH(ndshard::detail::read_embeddings_file<double>(dir / "big.txt", o, {1}),
                          "ndshard: ragged row in " + q(dir / "big.txt") +
                              " line 433, field 4 (byte 9): expected 3 values, found 2");
    }
}
