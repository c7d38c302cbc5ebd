// Shapes of no elements whose other dimensions multiply past 2^63: xtensor's strides of such an
// array overflow (undefined behaviour, found by fuzz_npy_header), so headers and manifests refuse
// them as they refuse shapes of too many elements.
#include <catch2/catch.hpp>
#include <ndshard/ndshard.hpp>
#include <string>

#include "support.hpp"

TEST_CASE("hostile strides: an empty .npy shape whose other dimensions overflow is refused",
          "[hostile]") {
    ndshard_test::temp_dir tmp;
    std::string dict =
        "{'descr': '<i4', 'fortran_order': False, 'shape': (0, 9223372036854775808), }";
    dict.resize(118, ' ');
    dict += '\n';
    std::string file = std::string("\x93NUMPY\x01\x00", 8);
    file += static_cast<char>(dict.size() & 0xff);
    file += static_cast<char>(dict.size() >> 8);
    file += dict;
    ndshard_test::write_file(tmp / "z.npy", file);
    CHECK(ndshard_test::error_of([&] { (void)ndshard::read_npy<std::int32_t>(tmp / "z.npy"); }) ==
          "ndshard: invalid .npy header in '" + (tmp / "z.npy").string() +
              "': 'shape' has dimensions whose product is more than 2^63");
    // (0, 2^62) stays readable: an empty array
    dict = "{'descr': '<i4', 'fortran_order': False, 'shape': (0, 4611686018427387904), }";
    dict.resize(118, ' ');
    dict += '\n';
    file = std::string("\x93NUMPY\x01\x00", 8);
    file += static_cast<char>(dict.size() & 0xff);
    file += static_cast<char>(dict.size() >> 8);
    file += dict;
    ndshard_test::write_file(tmp / "e.npy", file);
    CHECK(ndshard::read_npy<std::int32_t>(tmp / "e.npy").size() == 0);
}
