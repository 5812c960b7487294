#include "s4t_data/image_io.hpp"

#include <png.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "s4t_data/file_io.hpp"

namespace s4t::data {

namespace {

enum class PngMode { Raw, Rgb8 };

struct MemoryReader {
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;
  std::size_t position = 0;
};

struct PngErrorState {
  char message[256] = {0};
};

// libpng reports errors through this function and expects it not to return; it long-jumps back to the
// setjmp in decode_png(). It has no C++ objects with destructors on its frame, nor does read_callback.
extern "C" void png_error_callback(png_structp png, png_const_charp message) {
  auto* state = static_cast<PngErrorState*>(png_get_error_ptr(png));
  std::snprintf(state->message, sizeof(state->message), "%s", message ? message : "unknown libpng error");
  png_longjmp(png, 1);
}
extern "C" void png_warning_callback(png_structp, png_const_charp) {}

extern "C" void png_read_callback(png_structp png, png_bytep out, png_size_t count) {
  auto* reader = static_cast<MemoryReader*>(png_get_io_ptr(png));
  if (reader->position + count > reader->size) png_error(png, "unexpected end of file (the file is truncated)");
  std::memcpy(out, reader->data + reader->position, count);
  reader->position += count;
}

// Everything the decoder writes lives on the heap behind a pointer that is set before setjmp() and
// never changed afterwards, so nothing it needs is indeterminate after a longjmp.
struct PngDecodeState {
  MemoryReader reader;
  PngErrorState error;
  cv::Mat out;
  std::vector<png_bytep> rows;
};

bool decode_png(PngDecodeState* s, PngMode mode) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s->error, png_error_callback, png_warning_callback);
  if (!png) {
    std::snprintf(s->error.message, sizeof(s->error.message), "libpng could not allocate a reader");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    std::snprintf(s->error.message, sizeof(s->error.message), "libpng could not allocate a reader");
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  png_set_read_fn(png, &s->reader, png_read_callback);
  png_read_info(png, info);
  const int color_type = png_get_color_type(png, info);
  const int bit_depth = png_get_bit_depth(png, info);
  if (mode == PngMode::Raw) {
    if (bit_depth < 8) png_set_packing(png);  // one byte per sample, values unchanged
  } else {
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (bit_depth == 16) png_set_strip_16(png);
    if (color_type & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
    if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
  }
  // PNG stores 16-bit samples big-endian.
  {
    const std::uint16_t probe = 1;
    std::uint8_t first;
    std::memcpy(&first, &probe, 1);
    if (first == 1 && bit_depth == 16 && mode == PngMode::Raw) png_set_swap(png);
  }
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  const int width = static_cast<int>(png_get_image_width(png, info));
  const int height = static_cast<int>(png_get_image_height(png, info));
  const int channels = png_get_channels(png, info);
  const int depth = png_get_bit_depth(png, info) == 16 ? CV_16U : CV_8U;
  s->out.create(height, width, CV_MAKETYPE(depth, channels));
  s->rows.resize(static_cast<std::size_t>(height));
  for (int y = 0; y < height; ++y) s->rows[static_cast<std::size_t>(y)] = s->out.ptr<png_byte>(y);
  png_read_image(png, s->rows.data());
  png_read_end(png, nullptr);  // reads up to IEND: catches a file cut after the image data
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

cv::Mat read_png(const std::filesystem::path& file, const std::string& what, PngMode mode,
                 const std::vector<std::uint8_t>& bytes) {
  if (bytes.size() < 8 || png_sig_cmp(bytes.data(), 0, 8) != 0) fail(file, "not a PNG file (" + what + ")");
  auto state = std::make_unique<PngDecodeState>();
  state->reader.data = bytes.data();
  state->reader.size = bytes.size();
  if (!decode_png(state.get(), mode))
    fail(file, std::string("corrupt or truncated PNG (") + what + "): " + state->error.message);
  return std::move(state->out);
}

// A JPEG must start with SOI and have an EOI marker after its last start-of-scan marker. Inside
// entropy-coded data 0xFF is always followed by 0x00 or a restart marker, so neither marker can appear
// there by chance; an embedded EXIF thumbnail comes before the main image's scans.
bool jpeg_is_complete(const std::vector<std::uint8_t>& b) {
  if (b.size() < 4 || b[0] != 0xFF || b[1] != 0xD8) return false;
  std::size_t last_sos = 0;
  for (std::size_t i = 2; i + 1 < b.size(); ++i)
    if (b[i] == 0xFF && b[i + 1] == 0xDA) last_sos = i;
  if (last_sos == 0) return false;
  for (std::size_t i = b.size() - 1; i > last_sos + 1; --i)
    if (b[i - 1] == 0xFF && b[i] == 0xD9) return true;
  return false;
}

}  // namespace

std::string describe_mat(const cv::Mat& m) {
  const int bits = m.depth() == CV_16U ? 16 : m.depth() == CV_8U ? 8 : m.depth() == CV_32F ? 32 : 0;
  std::string kind = m.channels() == 1 ? "grey" : m.channels() == 3 ? "RGB" : m.channels() == 4 ? "RGBA"
                                                                                                 : std::to_string(m.channels()) + "-channel";
  return std::to_string(bits) + "-bit " + kind + " " + std::to_string(m.rows) + "x" + std::to_string(m.cols);
}

cv::Size probe_image_size(const std::filesystem::path& file) {
  std::vector<std::uint8_t> b;
  try {
    b = read_file_bytes(file, "image");
  } catch (const std::exception&) {
    return {0, 0};
  }
  auto be16 = [&](std::size_t i) { return (b[i] << 8) | b[i + 1]; };
  if (b.size() >= 24 && png_sig_cmp(b.data(), 0, 8) == 0) {
    auto be32 = [&](std::size_t i) { return (b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]; };
    return {be32(16), be32(20)};
  }
  if (b.size() >= 4 && b[0] == 0xFF && b[1] == 0xD8) {
    std::size_t i = 2;
    while (i + 9 < b.size()) {
      if (b[i] != 0xFF) return {0, 0};
      const int marker = b[i + 1];
      if (marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01 || marker == 0xFF) {
        i += marker == 0xFF ? 1 : 2;
        continue;
      }
      const bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
      if (sof) return {be16(i + 7), be16(i + 5)};
      i += 2 + static_cast<std::size_t>(be16(i + 2));
    }
  }
  return {0, 0};
}

cv::Mat read_png_raw(const std::filesystem::path& file, const std::string& what, PngExpect expect) {
  auto bytes = read_file_bytes(file, what);
  cv::Mat m = read_png(file, what, PngMode::Raw, bytes);
  const int bits = m.depth() == CV_16U ? 16 : 8;
  if ((expect.channels && m.channels() != expect.channels) || (expect.bits && bits != expect.bits)) {
    std::string want = (expect.bits ? std::to_string(expect.bits) + "-bit " : std::string()) +
                       (expect.channels == 1 ? "single-channel" : expect.channels ? std::to_string(expect.channels) + "-channel" : "");
    fail(file, what + ": expected a " + want + " PNG, found " + describe_mat(m));
  }
  return m;
}

cv::Mat read_rgb_image(const std::filesystem::path& file, const std::string& what) {
  auto bytes = read_file_bytes(file, what);
  if (bytes.size() >= 8 && png_sig_cmp(bytes.data(), 0, 8) == 0) return read_png(file, what, PngMode::Rgb8, bytes);
  if (bytes.size() >= 2 && bytes[0] == 0xFF && bytes[1] == 0xD8) {
    if (!jpeg_is_complete(bytes)) fail(file, "truncated or corrupt JPEG (" + what + "): no end-of-image marker after the last scan");
  }
  cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8U, bytes.data());
  cv::Mat bgr;
  try {
    bgr = cv::imdecode(encoded, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
  } catch (const cv::Exception& e) {
    fail(file, "could not decode " + what + ": " + e.what());
  }
  if (bgr.empty()) fail(file, "could not decode " + what + " (expected a JPEG or PNG image)");
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

}  // namespace s4t::data
