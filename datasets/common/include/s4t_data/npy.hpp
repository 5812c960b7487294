#pragma once
// NumPy .npy files (format versions 1.0, 2.0, 3.0).
//
// Why our own reader: NYUD-v2's depth, normals and (MTI-Net layout) edge maps are .npy files, and no
// Debian package offers a maintained C++ .npy reader (libcnpy is not packaged for bookworm). The format
// is small and fully documented (numpy.lib.format): a magic string, a little-endian header length, a
// Python-literal dict with 'descr', 'fortran_order' and 'shape', then the raw array. Supported dtypes:
// <f4, <f8, |u1, |i1, |b1, <u2, <i2, <i4, <u4, <i8 (also written '=' or without byte order where it
// does not matter); big-endian data is refused with a clear message.
// Thread-safe (no shared state). Errors are s4t::DataError naming the file.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

namespace s4t::data {

struct NpyArray {
  std::string descr;                 ///< as in the header, e.g. "<f4"
  char kind = 'f';                   ///< 'f' float, 'u' unsigned, 'i' signed, 'b' bool
  int item_size = 4;                 ///< bytes per element
  std::vector<std::int64_t> shape;   ///< C order (a Fortran-order file is transposed on reading)
  std::vector<std::uint8_t> data;    ///< C-order elements, native (little-endian) byte order

  std::int64_t count() const;
  /// Element i (C order) converted to double.
  double at(std::int64_t i) const;
};

NpyArray read_npy(const std::filesystem::path& file, const std::string& what);

/// A 2-D (H,W) or 3-D (H,W,C) array as a CV_32FC(C) image (C ≤ 4; (H,W,1) gives one channel).
/// Throws DataError naming the file when the shape is not image-like.
cv::Mat npy_to_image(const NpyArray& array, const std::filesystem::path& file, const std::string& what);

/// read_npy + npy_to_image, reading float32 C-order files straight into the image (no extra copies).
cv::Mat read_npy_image(const std::filesystem::path& file, const std::string& what);

/// Writes a C-order array (tests, benchmarks and fixture tools). `descr` is one of the supported dtypes
/// and `data` holds count(shape) * item_size bytes in little-endian order.
void write_npy(const std::filesystem::path& file, const std::string& descr, const std::vector<std::int64_t>& shape,
               const void* data);

}  // namespace s4t::data
