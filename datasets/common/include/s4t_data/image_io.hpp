#pragma once
// Image decoding for the dataset plugins.
//
// PNG goes through libpng directly rather than cv::imread: OpenCV expands palette PNGs to colours
// (VOC-style label maps are palette images whose *indices* are the labels) and gives no reason when a
// file is truncated. Label maps are read "raw": palette indices, 8-bit or 16-bit grey values exactly as
// stored. JPEG goes through OpenCV (libjpeg), with a structural check first because libjpeg decodes a
// truncated file into a grey-filled image with only a warning.
// All functions are thread-safe (no shared state) and throw s4t::DataError naming the file.
#include <filesystem>
#include <string>

#include <opencv2/core/mat.hpp>

namespace s4t::data {

/// What to expect of a raw PNG: channels (0 = any) and bits per sample (0 = any of 8/16).
struct PngExpect {
  int channels = 0;
  int bits = 0;
};

/// The stored samples of a PNG: CV_8U or CV_16U with 1-4 channels in file order (grey, or R,G,B[,A]);
/// palette images give their indices (1 channel). Sub-byte depths are unpacked to one byte per sample
/// without rescaling.
cv::Mat read_png_raw(const std::filesystem::path& file, const std::string& what, PngExpect expect = {});

/// An 8-bit RGB image (CV_8UC3, R,G,B order) from a PNG or JPEG file (detected from its signature, not
/// its extension). Grey and palette images are expanded, alpha is dropped, 16-bit samples are reduced
/// to 8 bits. EXIF orientation is ignored (as PIL does).
cv::Mat read_rgb_image(const std::filesystem::path& file, const std::string& what);

/// (width, height) from a PNG or JPEG header without decoding; (0, 0) when it cannot tell.
cv::Size probe_image_size(const std::filesystem::path& file);

/// "8-bit RGB", "16-bit grey" ... for messages.
std::string describe_mat(const cv::Mat& m);

}  // namespace s4t::data
