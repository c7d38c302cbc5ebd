// python/src/module.cpp — the compiled part of the ndshard Python package (ndshard._ndshard):
// the exception classes and their translation, inspect and verify, and the module itself. The
// public API, with argument checking and docstrings, is python/ndshard/__init__.py.
#include <chrono>
#include <cstring>
#include <exception>
#include <filesystem>
#include <string>

#include "common.hpp"
#include "ndshard/version.hpp"

namespace ndshard_py {
namespace {

// the exception classes, made once by the module's init and kept for its lifetime
PyObject* error_type = nullptr;
PyObject* file_error_type = nullptr;
PyObject* parse_error_type = nullptr;
PyObject* argument_error_type = nullptr;
PyObject* cancelled_type = nullptr;

/// A message as Python text: UTF-8, bytes that are not (a file name) kept with surrogateescape.
py::str message_of(const char* what) {
    PyObject* s =
        PyUnicode_DecodeUTF8(what, static_cast<py::ssize_t>(std::strlen(what)), "surrogateescape");
    if (!s) throw py::error_already_set();
    return py::reinterpret_steal<py::str>(s);
}

void set_error(PyObject* type, const char* what) {
    PyErr_SetObject(type, message_of(what).ptr());
}

void set_parse_error(const ndshard::parse_error& e) {
    py::object exc = py::reinterpret_borrow<py::object>(parse_error_type)(message_of(e.what()));
    exc.attr("line") = e.line();
    exc.attr("field") = e.field();
    exc.attr("column") = e.column();
    PyErr_SetObject(parse_error_type, exc.ptr());
}

PyObject* new_exception(const char* name, const char* doc, PyObject* bases) {
    PyObject* t = PyErr_NewExceptionWithDoc(name, doc, bases, nullptr);
    if (!t) throw py::error_already_set();
    return t;
}

void make_exceptions(py::module_& m) {
    error_type = new_exception("ndshard.Error", "Every error ndshard raises.", PyExc_Exception);
    py::tuple file_bases = py::make_tuple(py::handle(error_type), py::handle(PyExc_OSError));
    file_error_type = new_exception(
        "ndshard.FileError",
        "A file or dataset is at fault (missing, corrupt, of another type or shape, a failed "
        "system call): the library's message names the file, what was expected and what was "
        "found. Also an OSError.",
        file_bases.ptr());
    parse_error_type = new_exception(
        "ndshard.ParseError",
        "A bad line in a text file: .line, .field and .column (bytes) give the position, "
        "1-based.",
        file_error_type);
    py::tuple argument_bases = py::make_tuple(py::handle(error_type), py::handle(PyExc_ValueError));
    argument_error_type = new_exception(
        "ndshard.ArgumentError",
        "A bad argument (an unknown dtype, format or codec, an array of an unsupported type). "
        "Also a ValueError.",
        argument_bases.ptr());
    cancelled_type = new_exception(
        "ndshard.Cancelled",
        "The call was cancelled by its progress callable (it returned False); nothing changed.",
        error_type);
    m.attr("Error") = py::handle(error_type);
    m.attr("FileError") = py::handle(file_error_type);
    m.attr("ParseError") = py::handle(parse_error_type);
    m.attr("ArgumentError") = py::handle(argument_error_type);
    m.attr("Cancelled") = py::handle(cancelled_type);

    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const ndshard::cancelled& e) {
            set_error(cancelled_type, e.what());
        } catch (const ndshard::parse_error& e) {
            set_parse_error(e);
        } catch (const ndshard::error& e) {
            set_error(file_error_type, e.what());
        } catch (const argument_error& e) {
            set_error(argument_error_type, e.what());
        } catch (const std::filesystem::filesystem_error& e) {
            set_error(file_error_type, e.what());
        }
    });
}

py::dict shard_dict(const ndshard::shard_info& s) {
    py::dict d;
    d["path"] = s.path;
    d["first_row"] = s.first_row;
    d["last_row"] = s.last_row;
    d["bytes"] = s.bytes;
    d["checksum"] = s.checksum;
    return d;
}

}  // namespace

ndshard::shard_format parse_format(const std::string& f) {
    if (f == "npy") return ndshard::shard_format::npy;
    if (f == "csv") return ndshard::shard_format::csv;
    if (f == "tsv") return ndshard::shard_format::tsv;
    throw argument_error("ndshard: unknown format '" + f + "' (expected 'npy', 'csv' or 'tsv')");
}

py::dict info_dict(const ndshard::dataset_info& info) {
    py::dict d;
    d["dtype"] = info.dtype;
    d["shape"] = py::tuple(py::cast(info.shape));
    d["format"] = ndshard::to_string(info.format);
    py::list shards;
    for (const auto& s : info.shards)
        shards.append(shard_dict(s));
    d["shards"] = shards;
    d["generation"] = info.generation;
    d["attributes"] = info.attributes.dump();
    d["words"] = info.words.path.empty() ? py::object(py::none()) : shard_dict(info.words);
    return d;
}

py::list words_to_list(const std::vector<std::string>& words) {
    py::list out(words.size());
    for (std::size_t i = 0; i < words.size(); ++i) {
        PyObject* s = PyUnicode_DecodeUTF8(
            words[i].data(), static_cast<py::ssize_t>(words[i].size()), "surrogateescape");
        if (!s) throw py::error_already_set();
        PyList_SET_ITEM(out.ptr(), static_cast<py::ssize_t>(i), s);
    }
    return out;
}

std::vector<std::string> words_from_list(const py::list& words) {
    std::vector<std::string> out;
    out.reserve(words.size());
    for (const py::handle w : words) {
        if (!PyUnicode_Check(w.ptr())) throw argument_error("ndshard: expected words as str");
        PyObject* b = PyUnicode_AsEncodedString(w.ptr(), "utf-8", "surrogateescape");
        if (!b) throw py::error_already_set();
        const auto bytes = py::reinterpret_steal<py::bytes>(b);
        out.emplace_back(bytes);
    }
    return out;
}

}  // namespace ndshard_py

PYBIND11_MODULE(_ndshard, m) {
    namespace py = pybind11;
    using namespace ndshard_py;
    m.doc() = "The compiled part of ndshard (use the ndshard package).";
    m.attr("version") = ndshard::version;
#if defined(NDSHARD_ZARR_CODECS)
    m.attr("zarr_codecs") = true;
#else
    m.attr("zarr_codecs") = false;
#endif
    make_exceptions(m);

    m.def(
        "inspect",
        [](const std::string& dir) {
            const ndshard::dataset_info info = [&] {
                py::gil_scoped_release nogil;
                return ndshard::inspect(to_path(dir));
            }();
            return info_dict(info);
        },
        py::arg("dir"));

    m.def(
        "verify",
        [](const std::string& dir, std::size_t threads, py::object progress) {
            io_call call(std::move(progress));
            ndshard::verify_options o;
            o.threads = threads;
            o.progress = call.progress();
            const ndshard::verify_result r =
                call.run([&] { return ndshard::verify(to_path(dir), o); });
            py::dict d;
            py::list problems;
            for (const auto& p : r.problems) {
                py::dict q;
                q["shard"] = p.shard;
                q["path"] = p.path;
                q["message"] = p.message;
                problems.append(q);
            }
            d["ok"] = r.ok();
            d["problems"] = problems;
            d["shards"] = r.shards;
            d["unchecked"] = r.unchecked;
            d["bytes"] = r.bytes;
            return d;
        },
        py::arg("dir"), py::arg("threads"), py::arg("progress"));

    // the least time between two progress calls (tests set 0: a call at every chance)
    m.def(
        "_progress_interval_ms",
        [](std::optional<long> ms) {
            auto& interval = ndshard::detail::progress_interval();
            const long before = static_cast<long>(interval.count());
            if (ms) interval = std::chrono::milliseconds(*ms);
            return before;
        },
        py::arg("ms") = py::none());

    bind_datasets(m);
    bind_files(m);
    bind_text(m);
}
