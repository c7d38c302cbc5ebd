// ndshard/text.hpp — one CSV / TSV / space-separated text file read and written by every core,
// exactly; and word-embedding files (GloVe, fastText .vec, word2vec text).
//
// Writing: floats are written as the shortest text that reads back bit for bit ("0.1", "-0",
// "1e-05", "5e-324"), or with `precision` significant digits like printf's "%.<p>g"; integers
// exactly; bools as 1 and 0 (what numpy.loadtxt(dtype=bool) reads: it takes neither "True" nor
// numpy.savetxt's default "1.000000000000000000e+00"); nan, inf and -inf as numpy spells them.
// Rows are lines; values are separated by the delimiter; an array of rank > 2 is written with
// every dimension after the first flattened into the columns, a rank-1 array as one value per
// line. The locale never matters.
//
// Reading: values are correctly rounded straight into T (no double rounding for float);
// integers are range-checked; bools are 0, 1, true or false (any case). A leading '+',
// exponents, nan and inf (any case, also "infinity"), spaces around values, CRLF line ends,
// lines ended by a lone CR (old spreadsheets: detected from the first line end), a delimiter at
// the end of a line (it starts no column), a missing final newline, blank lines, comment lines
// and comments after the values are accepted. CSV as pandas writes it reads as
// pandas.read_csv(float_precision="round_trip") reads it: missing values (an empty field, NA,
// null, ...) as NaN in float columns, quoted fields, a header line of column names
// (text_read_options::header, text_read_header) and chosen columns (usecols). Every problem is an
// ndshard::parse_error with the file, 1-based line, field and byte column, what was expected and
// what was found:
//
//   ndshard: cannot parse 'data.tsv' line 3, field 2 (byte 7): expected a number, found 'abc'
//   ndshard: ragged row in 'data.tsv' line 4, field 10 (byte 52): expected 10 values, found 9
//
// (a field counts the values of its line as its delimiters, or runs of spaces, separate them,
// an embedding's word being field 1; a byte column counts bytes from the start of its line;
// integers say "expected an integer from -128 to 127", bools "expected 0, 1, true or false",
// floats beyond their type's range "expected a number float32 can hold"; found tokens are cut to
// 32 bytes).
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include <xtensor/xexpression.hpp>
#include <xtensor/xtensor.hpp>

#include "ndshard/thread_pool.hpp"

namespace ndshard {

struct text_read_options {
    /// 0: detected from the first data line: a tab if it has one, else a comma if it has one,
    /// else runs of spaces and tabs. ' ' means runs of spaces and tabs; any other byte separates
    /// values one delimiter at a time (spaces around values are ignored).
    char delimiter = 0;
    std::size_t skip_rows = 0;    ///< lines skipped before anything else (header lines)
    char comment = '#';           ///< starts a comment, to the end of its line; 0: no comments
    std::size_t threads = 0;      ///< 0: all cores
    thread_pool* pool = nullptr;  ///< run on this pool instead of one made for the call
    /// Called with the bytes of the file parsed and in all, a few times a second; false cancels the
    /// call, which throws ndshard::cancelled and leaves its target as it was
    /// (ndshard/progress.hpp).
    progress_fn progress{};
    /// A finite value beyond the range of the float type read ("1e300" or "-3.5e38" as float,
    /// "1e400" as double) is a parse_error naming its line and field; true reads it as inf or
    /// -inf, as IEEE-754 rounding gives. A value that rounds to the largest float
    /// ("3.4028235e38") is never an error, nor are inf and nan spelled out.
    bool overflow_to_infinity = false;
    /// The first data line (after `skip_rows`) holds column names, as pandas.DataFrame.to_csv
    /// writes them: read_text skips it, the columns are its fields, and text_read_header returns
    /// them. Without it (the default, as numpy.loadtxt) a first line of names is an error whose
    /// message suggests this option.
    bool header = false;
    /// Read only these columns (0-based, in this order; a column may come twice). Empty: every
    /// column. An index past the last column is an error naming the count the file has.
    std::vector<std::size_t> usecols{};
    /// Fields that mean a missing value, compared after unquoting: in float columns they read as
    /// NaN; in integer and bool columns they are an error (those types have no NaN). The default
    /// is pandas.read_csv's list, the empty field included; {} makes every one an error. A field
    /// that parses as a number ("nan", "-NaN") reads as that number. With `comment` '#' (the
    /// default), text from a '#' on is a comment: "#N/A" is an empty field and "1.#IND" reads as
    /// 1; set `comment` to 0 for files with those spellings.
    std::vector<std::string> na_values{"",         "#N/A", "#N/A N/A", "#NA",    "-1.#IND",
                                       "-1.#QNAN", "-NaN", "-nan",     "1.#IND", "1.#QNAN",
                                       "<NA>",     "N/A",  "NA",       "NULL",   "NaN",
                                       "None",     "n/a",  "nan",      "null"};
    /// Encloses a field ("1.5", "Smith, J"), as spreadsheets and pandas write them: delimiters,
    /// spaces and the comment character inside are part of the field and a doubled quote is one
    /// quote. A quoted field cannot span lines. 0: quotes are ordinary bytes.
    char quote = '"';
};

struct text_write_options {
    char delimiter = '\t';    ///< any byte that cannot occur in a number: '\t', ',', ' ', ';', …
    int precision = -1;       ///< -1: shortest round-trip; 1 to 767: significant digits ("%.<p>g")
    std::size_t threads = 0;  ///< 0: all cores
    thread_pool* pool = nullptr;  ///< run on this pool instead of one made for the call
    /// fsync the new file before it replaces the old one, as write_npy does: without it a power
    /// loss after the rename can leave an empty or partial file where the old one was
    bool sync = true;
    /// Called with the bytes done and in all, a few times a second; false cancels the call,
    /// which throws ndshard::cancelled and leaves its target as it was (ndshard/progress.hpp).
    progress_fn progress{};
    /// Column names written as the first line (empty: none), one per column (a rank > 2 array's
    /// flattened columns), separated by the delimiter. A name holding the delimiter, a quote
    /// ('"'), '#' or spaces at either end is quoted ("a, b"; a quote inside is doubled), as
    /// pandas writes it, so read_text with `header` and text_read_header read it back; a name
    /// holding a line end is an error.
    std::vector<std::string> header{};
};

/// Reads a text file of rows into a (rows, columns) array. The file is cut into ranges of about
/// 1 MiB at line ends, the rows of every range are counted in parallel, the result is allocated
/// once and every range is parsed in parallel straight into its rows. The number of columns is
/// that of the first data line; every other data line must have as many. A file without data
/// lines gives a (0, 0) array. A UTF-8 byte order mark at the start is skipped.
///
/// The file is read with pread, never mapped: a file of at most 32 MiB is read once into memory,
/// a larger one range by range in each pass (a range per thread in memory at once). A file that
/// another process truncates or rewrites while it is read gives "the file changed while it was
/// read", never a signal. Nothing is allocated beyond what the file's bytes can hold (a value
/// and a separator each): a first line that claims more columns than the file can fill is
/// reported at the first row that cannot hold them.
template <class T>
[[nodiscard]] xt::xtensor<T, 2> read_text(const std::filesystem::path& file,
                                          const text_read_options& options = {});

/// The column names of a text file: the fields of its first data line after `skip_rows`
/// (`header` itself is not needed), unquoted, with `usecols` applied, as pandas.read_csv names
/// its columns (an empty name, such as that of a pandas index column, stays empty). A file
/// without data lines is an error.
[[nodiscard]] std::vector<std::string> text_read_header(const std::filesystem::path& file,
                                                        const text_read_options& options = {});

/// Writes `a` as text, one row per line. Every worker formats blocks of values into its own
/// bounded buffer and places them in order with pwrite, so memory stays bounded (48 MiB for all
/// buffers together) whatever the size of `a`. The file appears whole or not at all (written
/// beside it, fsynced unless `sync` is false, then renamed); errors name `file`.
template <class E>
void write_text(const std::filesystem::path& file, const xt::xexpression<E>& a,
                const text_write_options& options = {});

/// The words of an embedding file and their vectors: row i of `vectors` belongs to words[i].
template <class T>
struct embeddings {
    std::vector<std::string> words;  ///< as the file spells them: UTF-8 (or any) bytes, unchanged
    xt::xtensor<T, 2> vectors;
};

/// Reads a GloVe ("word v1 … vD" per line), fastText .vec or word2vec text file. The word is
/// every byte up to the first space or tab (with a tab delimiter: up to the first tab, so words
/// may hold spaces), then come exactly D values (D from the header line, else from the first
/// line); a row with another count is an error with its line number.
///
/// The header line "N D" of fastText and word2vec files is detected when `skip_rows` is 0: the
/// first data line is taken as a header when it holds exactly two unsigned integers and the next
/// data line does not. A detected header is checked: the file must then hold exactly N rows of D
/// values, and a D larger than the bytes after the header could hold is a parse_error at the
/// header line before anything is allocated. With `skip_rows = 1` the first line is skipped
/// unchecked.
///
/// The delimiter is detected as a tab when the first data line has one, else runs of spaces and
/// tabs (never a comma: "," is a word in most vocabularies). `comment` is ignored: "#" and words
/// starting with it are vocabulary, so no line is a comment. Blank lines are skipped. Without a
/// header, a first line that holds a word and no vector (a CSV file, a word list) is a
/// parse_error at that line, not words of 0 dimensions.
template <class T>
[[nodiscard]] embeddings<T> read_embeddings(const std::filesystem::path& file,
                                            const text_read_options& options = {});

}  // namespace ndshard

#include "ndshard/detail/text_impl.hpp"
