// pandas-compatible CSV (issue 14): files DataFrame.to_csv wrote (tests/fixtures/text, made by
// make_text_fixtures.py) read exactly as pandas.read_csv(float_precision="round_trip") reads
// them; missing values, header lines, chosen columns and quoted fields, and their errors.
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <ndshard/ndshard.hpp>
#include <xtensor/xtensor.hpp>

#include "text_support.hpp"

namespace {

using ndshard_test::error_of;
using ndshard_test::parse_error_of;
using text_test::fixture;
using text_test::quoted;
using text_test::require_same_bits;
using text_test::temp_dir;
using text_test::write_file;

ndshard::text_read_options with_header() {
    ndshard::text_read_options o;
    o.header = true;
    return o;
}

}  // namespace

TEST_CASE("pandas csv: to_csv files read as read_csv(float_precision='round_trip') reads them",
          "[text][pandas][fixtures]") {
    for (const std::size_t threads : text_test::thread_counts) {
        ndshard::text_read_options o = with_header();
        o.threads = threads;
        // missing values as empty fields, an unnamed index column (read as column 0, as pandas
        // reads it without index_col); NaN, -0.0, 5e-324 and DBL_MAX bit for bit
        require_same_bits(ndshard::read_text<double>(fixture("pandas_missing.csv"), o),
                          ndshard::read_npy<double>(fixture("pandas_missing.npy")));
        // missing values spelled NA
        require_same_bits(ndshard::read_text<double>(fixture("pandas_na.csv"), o),
                          ndshard::read_npy<double>(fixture("pandas_na.npy")));
        // QUOTE_ALL: every field and name quoted, missing values as ""
        require_same_bits(ndshard::read_text<double>(fixture("pandas_quoted.csv"), o),
                          ndshard::read_npy<double>(fixture("pandas_quoted.npy")));
        // a named index and a text column with quoted commas and doubled quotes, left out
        o.usecols = {0, 2, 3};
        require_same_bits(ndshard::read_text<double>(fixture("pandas_labels.csv"), o),
                          ndshard::read_npy<double>(fixture("pandas_labels.npy")));
    }
    // the same through block_reader, a block of 5 rows at a time
    ndshard::stream_options s;
    s.text = with_header();
    s.text.usecols = {0, 2, 3};
    s.block_rows = 5;
    ndshard::block_reader<double> reader(fixture("pandas_labels.csv"), s);
    const auto expected = ndshard::read_npy<double>(fixture("pandas_labels.npy"));
    REQUIRE(reader.shape() == std::vector<std::size_t>{29, 3});
    std::size_t row = 0;
    while (reader.next()) {
        const auto& b = reader.rows();
        for (std::size_t r = 0; r < b.shape(0); ++r, ++row)
            for (std::size_t c = 0; c < 3; ++c)
                CHECK(text_test::bits_of(b(r, c)) == text_test::bits_of(expected(row, c)));
    }
    CHECK(row == 29);
}

TEST_CASE("pandas csv: the header line gives the column names", "[text][pandas]") {
    CHECK(ndshard::text_read_header(fixture("pandas_missing.csv")) ==
          std::vector<std::string>{"", "x", "y", "z", "w"});
    CHECK(ndshard::text_read_header(fixture("pandas_quoted.csv")) ==
          std::vector<std::string>{"x", "y", "z", "w"});
    ndshard::text_read_options o;
    o.usecols = {3, 0};
    CHECK(ndshard::text_read_header(fixture("pandas_labels.csv"), o) ==
          std::vector<std::string>{"weight", "id"});
    // after skip_rows and comment lines; quotes, doubled quotes, delimiters and '#' inside
    temp_dir dir;
    write_file(dir / "h.csv",
               "# made by hand\n\n a , \"b, c\" ,\"say \"\"hi\"\"\",\"#4\"\n1,2,3,4\n");
    CHECK(ndshard::text_read_header(dir / "h.csv") ==
          std::vector<std::string>{"a", "b, c", "say \"hi\"", "#4"});
    require_same_bits(ndshard::read_text<double>(dir / "h.csv", with_header()),
                      xt::xtensor<double, 2>{{1, 2, 3, 4}});
    // a header and no rows: (0, columns)
    write_file(dir / "empty.tsv", "a\tb\tc\n");
    CHECK(ndshard::read_text<float>(dir / "empty.tsv", with_header()).shape() ==
          std::array<std::size_t, 2>{0, 3});
    write_file(dir / "blank.csv", "\n# nothing\n");
    CHECK(error_of([&] { (void)ndshard::text_read_header(dir / "blank.csv"); }) ==
          "ndshard: cannot read " + quoted(dir / "blank.csv") +
              ": expected a line of column names, found no data lines");
    // without `header`, a line of names is an error that says what reads it
    CHECK(parse_error_of<double>(fixture("pandas_na.csv")) ==
          "ndshard: cannot parse " + quoted(fixture("pandas_na.csv")) +
              " line 1, field 1 (byte 1): expected a number, found 'x' (line 1 looks like "
              "column names: set text_read_options::header to skip it) @1:1:1");
}

TEST_CASE("pandas csv: write_text writes a header that reads back", "[text][pandas]") {
    temp_dir dir;
    const xt::xtensor<double, 2> a{{1.5, -0.0}, {std::nan(""), 1e-300}, {3, 4}};
    ndshard::text_write_options w;
    w.delimiter = ',';
    w.header = {"plain", "with, comma"};
    ndshard::write_text(dir / "a.csv", a, w);
    CHECK(ndshard_test::read_file(dir / "a.csv") ==
          "plain,\"with, comma\"\n1.5,-0\nnan,1e-300\n3,4\n");
    CHECK(ndshard::text_read_header(dir / "a.csv") == w.header);
    require_same_bits(ndshard::read_text<double>(dir / "a.csv", with_header()), a);
    // quotes doubled, '#' and edge spaces quoted, tabs quoted in a TSV
    w.delimiter = '\t';
    w.header = {"say \"x\"", " #pad"};
    ndshard::write_text(dir / "b.tsv", a, w);
    CHECK(ndshard_test::read_file(dir / "b.tsv").substr(0, 20) == "\"say \"\"x\"\"\"\t\" #pad\"\n");
    CHECK(ndshard::text_read_header(dir / "b.tsv") == w.header);
    require_same_bits(ndshard::read_text<double>(dir / "b.tsv", with_header()), a);
    // an empty array: the header alone
    ndshard::write_text(dir / "c.csv", xt::xtensor<double, 2>::from_shape({0, 2}), w);
    CHECK(ndshard_test::read_file(dir / "c.csv") == "\"say \"\"x\"\"\"\t\" #pad\"\n");
    // one name per column, no line ends; the old file stays
    w.header = {"one"};
    CHECK(error_of([&] { ndshard::write_text(dir / "a.csv", a, w); }) ==
          "ndshard: cannot write " + quoted(dir / "a.csv") +
              ": expected 2 column names (one per column), found 1");
    w.header = {"a", "two\nlines"};
    CHECK(error_of([&] { ndshard::write_text(dir / "a.csv", a, w); }) ==
          "ndshard: cannot write " + quoted(dir / "a.csv") +
              ": expected column names without line ends, found 'two?lines'");
    CHECK(ndshard::text_read_header(dir / "a.csv") ==
          std::vector<std::string>{"plain", "with, comma"});
}

TEST_CASE("pandas csv: missing values", "[text][pandas]") {
    temp_dir dir;
    // every default spelling in a float column; numbers spelled nan keep their sign
    write_file(
        dir / "na.csv",
        "1,\"\"\n2,NA\n3,N/A\n4,n/a\n5,NULL\n6,null\n7,None\n8,NaN\n9,nan\n10,<NA>\n11,-nan\n"
        "12,\n13,\"NA\"\n14,  NA  \n");
    const auto a = ndshard::read_text<float>(dir / "na.csv");
    REQUIRE(a.shape() == std::array<std::size_t, 2>{14, 2});
    for (std::size_t r = 0; r < 14; ++r) {
        CHECK(a(r, 0) == static_cast<float>(r + 1));
        CHECK(std::isnan(a(r, 1)));
        CHECK(std::signbit(a(r, 1)) == (r == 10));
    }
    // the spellings with '#' need comments off: '#' starts a comment by default
    ndshard::text_read_options no_comment;
    no_comment.comment = 0;
    write_file(dir / "hash.csv", "1,#N/A\n2,#NA\n3,1.#IND\n4,-1.#QNAN\n");
    const auto h = ndshard::read_text<double>(dir / "hash.csv", no_comment);
    CHECK((h(1, 0) == 2 && std::isnan(h(0, 1)) && std::isnan(h(1, 1))));
    CHECK((std::isnan(h(2, 1)) && std::isnan(h(3, 1))));
    // with comments on (the default), '#' ends a line's data, as numpy reads it
    write_file(dir / "hash2.csv", "0,0\n3,1.#IND\n4,-1.#QNAN\n");
    require_same_bits(ndshard::read_text<double>(dir / "hash2.csv"),
                      xt::xtensor<double, 2>{{0, 0}, {3, 1}, {4, -1}});
    // in space-separated files too
    write_file(dir / "na.txt", "1 NA 3\n4 5 null\n");
    const auto s = ndshard::read_text<double>(dir / "na.txt");
    CHECK((s(0, 0) == 1 && std::isnan(s(0, 1)) && s(0, 2) == 3 && std::isnan(s(1, 2))));
    // own spellings: only those
    ndshard::text_read_options own;
    own.na_values = {"-", "missing"};
    write_file(dir / "own.csv", "1,-\nmissing,2\n");
    const auto o = ndshard::read_text<double>(dir / "own.csv", own);
    CHECK((std::isnan(o(0, 1)) && std::isnan(o(1, 0)) && o(1, 1) == 2));
    write_file(dir / "own2.csv", "1,NA\n");
    CHECK(parse_error_of<double>(dir / "own2.csv", own) ==
          "ndshard: cannot parse " + quoted(dir / "own2.csv") +
              " line 1, field 2 (byte 3): expected a number, found 'NA' @1:2:3");
    // integers and bools have no NaN: a missing value is an error that says so
    CHECK(parse_error_of<std::int64_t>(fixture("pandas_ints.csv"), with_header()) ==
          "ndshard: cannot parse " + quoted(fixture("pandas_ints.csv")) +
              " line 4, field 2 (byte 5): expected an integer from -9223372036854775808 to "
              "9223372036854775807, found '' (a missing value: int64 has none; read the column "
              "as float to get NaN) @4:2:5");
    write_file(dir / "b.csv", "1,0\ntrue,NA\n");
    CHECK(parse_error_of<bool>(dir / "b.csv") ==
          "ndshard: cannot parse " + quoted(dir / "b.csv") +
              " line 2, field 2 (byte 6): expected 0, 1, true or false, found 'NA' (a missing "
              "value: bool has none; read the column as float to get NaN) @2:2:6");
    // the integer column alone reads
    ndshard::text_read_options first = with_header();
    first.usecols = {0};
    require_same_bits(ndshard::read_text<std::int64_t>(fixture("pandas_ints.csv"), first),
                      xt::xtensor<std::int64_t, 2>{{0}, {-7}, {-14}, {-21}, {-28}});
}

TEST_CASE("pandas csv: chosen columns", "[text][pandas]") {
    temp_dir dir;
    write_file(dir / "a.csv", "1,2,3,4\n5,6,7,8\n");
    ndshard::text_read_options o;
    o.usecols = {3, 1, 3};  // any order, repeats allowed
    require_same_bits(ndshard::read_text<int>(dir / "a.csv", o),
                      xt::xtensor<int, 2>{{4, 2, 4}, {8, 6, 8}});
    // columns left out are never parsed: text there is fine
    write_file(dir / "b.csv", "name,1.5\n\"x, y\",2.5\n");
    o.usecols = {1};
    require_same_bits(ndshard::read_text<double>(dir / "b.csv", o),
                      xt::xtensor<double, 2>{{1.5}, {2.5}});
    // an index past the last column
    o.usecols = {0, 4};
    CHECK(error_of([&] { (void)ndshard::read_text<double>(dir / "a.csv", o); }) ==
          "ndshard: cannot read " + quoted(dir / "a.csv") +
              ": expected column indices (usecols) below 4 (line 1 holds 4 fields), found 4");
    // rows still need every field, and bad values in chosen columns are named
    write_file(dir / "c.csv", "1,2,3\n4,5\n");
    o.usecols = {0};
    CHECK(parse_error_of<double>(dir / "c.csv", o) ==
          "ndshard: ragged row in " + quoted(dir / "c.csv") +
              " line 2, field 3 (byte 4): expected 3 values, found 2 @2:3:4");
    write_file(dir / "d.csv", "1,2,3\n4,5,6,7\n");
    CHECK(parse_error_of<double>(dir / "d.csv", o) ==
          "ndshard: ragged row in " + quoted(dir / "d.csv") +
              " line 2, field 4 (byte 7): expected 3 values, found 4 @2:4:7");
    write_file(dir / "e.csv", "1,2,3\n4,x,y\n");
    o.usecols = {0, 2};
    CHECK(parse_error_of<double>(dir / "e.csv", o) ==
          "ndshard: cannot parse " + quoted(dir / "e.csv") +
              " line 2, field 3 (byte 5): expected a number, found 'y' @2:3:5");
}

TEST_CASE("pandas csv: quoted fields", "[text][pandas]") {
    temp_dir dir;
    // numbers in quotes, spaces inside and around them, quoted delimiters in a chosen-out field
    write_file(dir / "q.csv", "\"1.5\", \" 2 \" ,3\n\"-0\",\"1e-320\",\"inf\"\n");
    const auto q = ndshard::read_text<double>(dir / "q.csv");
    REQUIRE(q.shape() == std::array<std::size_t, 2>{2, 3});
    CHECK((q(0, 0) == 1.5 && q(0, 1) == 2 && q(0, 2) == 3));
    CHECK((std::signbit(q(1, 0)) && q(1, 0) == 0 && q(1, 1) == 1e-320 && std::isinf(q(1, 2))));
    // quoted fields in space-separated files
    write_file(dir / "q.txt", "\"1\" 2\n3 \"4\"\n");
    require_same_bits(ndshard::read_text<int>(dir / "q.txt"), xt::xtensor<int, 2>{{1, 2}, {3, 4}});
    // a quote that never closes, text after a closing quote, a quoted non-number
    write_file(dir / "open.csv", "1,2\n3,\"4\n");
    CHECK(parse_error_of<double>(dir / "open.csv") ==
          "ndshard: cannot parse " + quoted(dir / "open.csv") +
              " line 2, field 2 (byte 3): expected a closing quote on the same line (a quoted "
              "field cannot span lines), found '\"4' @2:2:3");
    write_file(dir / "after.csv", "1,2\n\"3\"4,5\n");
    CHECK(parse_error_of<double>(dir / "after.csv") ==
          "ndshard: cannot parse " + quoted(dir / "after.csv") +
              " line 2, field 1 (byte 4): expected a delimiter after the closing quote, found "
              "'4' @2:1:4");
    write_file(dir / "word.csv", "1,2\n3,\"x\"\n");
    CHECK(parse_error_of<double>(dir / "word.csv") ==
          "ndshard: cannot parse " + quoted(dir / "word.csv") +
              " line 2, field 2 (byte 3): expected a number, found '\"x\"' @2:2:3");
    // quote = 0: quotes are ordinary bytes
    ndshard::text_read_options none;
    none.quote = 0;
    write_file(dir / "plain.csv", "1,\"2\"\n");
    CHECK(parse_error_of<double>(dir / "plain.csv", none) ==
          "ndshard: cannot parse " + quoted(dir / "plain.csv") +
              " line 1, field 2 (byte 3): expected a number, found '\"2\"' @1:2:3");
    none.quote = ',';
    CHECK(error_of([&] { (void)ndshard::read_text<double>(dir / "plain.csv", none); }) ==
          "ndshard: cannot read " + quoted(dir / "plain.csv") +
              ": expected a quote character that cannot appear in a number and is neither the "
              "delimiter, the comment character nor a space, found byte 44");
}

TEST_CASE("pandas csv: hostile rows and names", "[text][pandas][hostile]") {
    temp_dir dir;
    // repeated chosen columns, in a file too short for its rows (the first short row is looked
    // for before anything is allocated): the error, never a write past a buffer
    write_file(dir / "short.csv", "1,\"x,y\",3,4\n1\n1\n1\n1\n1\n");
    ndshard::text_read_options o;
    o.usecols.assign(64, 0);
    CHECK(parse_error_of<double>(dir / "short.csv", o) ==
          "ndshard: ragged row in " + quoted(dir / "short.csv") +
              " line 2, field 2 (byte 2): expected 4 values, found 1 @2:2:2");
    o.usecols.assign(200000, 3);
    CHECK(parse_error_of<double>(dir / "short.csv", o) ==
          "ndshard: ragged row in " + quoted(dir / "short.csv") +
              " line 2, field 2 (byte 2): expected 4 values, found 1 @2:2:2");
    write_file(dir / "rep.csv", "1,2\n3,4\n");
    o.usecols.assign(5, 1);
    require_same_bits(ndshard::read_text<int>(dir / "rep.csv", o),
                      xt::xtensor<int, 2>{{2, 2, 2, 2, 2}, {4, 4, 4, 4, 4}});
    // a row of a million empty fields: counted, not stored
    std::string wide = "1,2\n";
    wide.append(1000000, ',');
    wide += '\n';
    write_file(dir / "wide.csv", wide);
    CHECK(parse_error_of<double>(dir / "wide.csv") ==
          "ndshard: ragged row in " + quoted(dir / "wide.csv") +
              " line 2, field 3 (byte 1000001): expected 2 values, found 1000000 @2:3:1000001");
    // problems are named left to right: a bad value before an open quote further on
    write_file(dir / "order.csv", "1,2\nabc,2,\"x\n");
    CHECK(parse_error_of<double>(dir / "order.csv") ==
          "ndshard: cannot parse " + quoted(dir / "order.csv") +
              " line 2, field 1 (byte 1): expected a number, found 'abc' @2:1:1");
    write_file(dir / "extra.csv", "1,2\n1,2,\"x\"y\n");
    CHECK(parse_error_of<double>(dir / "extra.csv") ==
          "ndshard: ragged row in " + quoted(dir / "extra.csv") +
              " line 2, field 3 (byte 5): expected 2 values, found 3 @2:3:5");
    // a quoted value beyond the type's range: the field's whole token
    write_file(dir / "big.csv", "1,2\n\"1e999\",2\n");
    CHECK(parse_error_of<float>(dir / "big.csv") ==
          "ndshard: cannot parse " + quoted(dir / "big.csv") +
              " line 2, field 1 (byte 1): expected a number float32 can hold, found '\"1e999\"' "
              "(set text_read_options::overflow_to_infinity to read it as inf) @2:1:1");
    // names that a read would lose or split are quoted when written, and read back whole
    const std::vector<std::pair<char, std::vector<std::string>>> cases{
        {',', {""}},         {',', {"a", ""}},       {' ', {"a", "", "b"}}, {' ', {"x\ty", "z"}},
        {' ', {"a,b", "c"}}, {'\t', {"p q", "r,s"}}, {';', {" lead", "#"}}, {',', {"\"", "x"}}};
    for (const auto& [delimiter, names] : cases) {
        const auto a = xt::xtensor<double, 2>::from_shape({3, names.size()});
        auto b = a;
        for (std::size_t i = 0; i < b.size(); ++i)
            b.data()[i] = static_cast<double>(i);
        ndshard::text_write_options w;
        w.delimiter = delimiter;
        w.header = names;
        ndshard::write_text(dir / "names.txt", b, w);
        ndshard::text_read_options r = with_header();
        if (delimiter == ';') r.delimiter = ';';  // detected: tab, comma or spaces only
        CHECK(ndshard::text_read_header(dir / "names.txt", r) == names);
        require_same_bits(ndshard::read_text<double>(dir / "names.txt", r), b);
    }
}
