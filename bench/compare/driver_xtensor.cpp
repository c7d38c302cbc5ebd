// compare_xtensor — xtensor's own I/O as a peer of ndshard, one operation per run, as one JSON
// line.
//
//   compare_xtensor --op OP --dtype f8|f4 --source SRC.npy [--input PATH | --output PATH] [--dry]
//
// dump_csv FILE (xt::dump_csv: comma-separated, the stream's default 6 significant digits),
// load_csv FILE (xt::load_csv with a tab delimiter), dump_npy FILE, load_npy FILE. All
// single-threaded.
#include <fstream>

#include <xtensor/xcsv.hpp>
#include <xtensor/xnpy.hpp>

#include "driver_common.hpp"

namespace {

using compare::options;
using compare::result;

template <class T>
result run(const options& o) {
    if (o.op == "dump_csv")
        return compare::time_write<T>(o, [&](const xt::xarray<T>& a) {
            std::ofstream out(o.output);
            xt::dump_csv(out, a);
            out.close();
            if (!out) throw std::runtime_error("cannot write " + o.output.string());
        });
    if (o.op == "load_csv")
        return compare::time_read(o, [&] {
            std::ifstream in(o.input);
            if (!in) throw std::runtime_error("cannot open " + o.input.string());
            return xt::load_csv<T>(in, '\t');
        });
    if (o.op == "dump_npy")
        return compare::time_write<T>(
            o, [&](const xt::xarray<T>& a) { xt::dump_npy(o.output.string(), a); });
    if (o.op == "load_npy")
        return compare::time_read(o, [&] { return xt::load_npy<T>(o.input.string()); });
    throw std::invalid_argument("unknown --op " + o.op);
}

}  // namespace

int main(int argc, char** argv) {
    return compare::driver_main("xtensor", argc, argv,
                                [](const options& o, auto type) { return run<decltype(type)>(o); });
}
