// text_files: write an array as one tab-separated text file with every core, read it back bit
// for bit, read a GloVe-style embedding file, and show what a bad line reports.
//
//   text_files [directory]    (default: a fresh directory under the system's temp directory,
//                             removed at the end)
#include <ndshard/ndshard.hpp>

#include <unistd.h>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <xtensor/xio.hpp>
#include <xtensor/xview.hpp>

int main(int argc, char** argv) {
    namespace fs = std::filesystem;
    const bool temporary = argc < 2;
    const fs::path dir =
        temporary ? fs::temp_directory_path() / ("ndshard_text_files_" + std::to_string(::getpid()))
                  : fs::path(argv[1]);
    int status = 0;
    try {
        fs::create_directories(dir);

        // 100,000 x 6 float64 with values that need all 17 digits, and a few that do not
        const std::size_t rows = 100000, cols = 6;
        xt::xarray<double> x = xt::arange<double>(0.0, double(rows * cols)) / 7.0;
        x.reshape({rows, cols});
        x(0, 0) = 0.1;
        x(0, 1) = -0.0;
        x(0, 2) = 1e-300;

        // shortest round-trip text: "0.1", "-0", "1e-300", "0.14285714285714285", ...
        ndshard::write_text(dir / "x.tsv", x);
        const auto y = ndshard::read_text<double>(dir / "x.tsv");
        std::cout << "x.tsv: " << fs::file_size(dir / "x.tsv") << " bytes, " << y.shape()[0]
                  << " x " << y.shape()[1] << ", read back "
                  << ((y == x) ? "bit for bit" : "DIFFERENT") << "\n";
        if (!(y == x)) status = 1;

        // the same as CSV with 6 significant digits
        ndshard::write_text(dir / "x.csv", xt::view(x, xt::range(0, 3)), {',', 6});
        std::ifstream csv(dir / "x.csv");
        std::cout << "x.csv, first rows with precision 6:\n" << csv.rdbuf();

        // a word-embedding file, fastText style: "N D" header, then "word v1 ... vD"
        {
            std::ofstream vec(dir / "words.vec");
            vec << "3 4\n"
                << "the 0.418 0.24968 -0.41242 0.1217\n"
                << "caf\xC3\xA9 0.013441 0.23682 -0.16899 0.40951\n"
                << ", 0.15164 0.30177 -0.16763 0.17684\n";
        }
        const auto e = ndshard::read_embeddings<float>(dir / "words.vec");
        for (std::size_t i = 0; i < e.words.size(); ++i)
            std::cout << e.words[i] << " " << xt::view(e.vectors, i) << "\n";

        // a bad value: the message names the file, line, column, what was expected and found
        {
            std::ofstream bad(dir / "bad.csv");
            bad << "1,2,3\n4,five,6\n";
        }
        try {
            (void)ndshard::read_text<double>(dir / "bad.csv");
            status = 1;
        } catch (const ndshard::parse_error& err) {
            std::cout << err.what() << " (line " << err.line() << ", column " << err.column()
                      << ")\n";
        }
    } catch (const std::exception& err) {
        std::fprintf(stderr, "%s\n", err.what());
        status = 1;
    }
    if (temporary) fs::remove_all(dir);
    return status;
}
