#include "s4t_data/mat_io.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "s4t/error.hpp"
#include "s4t_data/file_io.hpp"

#ifdef S4T_HAVE_MATIO
#include <matio.h>
#include <zlib.h>
#endif

namespace s4t::data {

namespace {
std::mutex& matio_mutex() {
  static std::mutex m;
  return m;
}
#ifdef S4T_HAVE_MATIO
// matio logs problems (a corrupt file) to stderr by default; keep the last message for our error text
// instead. Guarded by matio_mutex().
std::string& last_matio_message() {
  static std::string message;
  return message;
}
extern "C" void matio_log(int, char* message) { last_matio_message() = message ? message : ""; }

void init_matio_logging() {
  static bool done = false;
  if (!done) {
    Mat_LogInitFunc("s4t", matio_log);
    done = true;
  }
}

// Level-5 files: matio allocates the dimensions, the name (and the fields of a struct) of every
// variable it walks past with the sizes their tags declare, before reading them. Check those tags
// against what the file (or the compressed element, which zlib expands at most ~1032:1) can hold.
// Returns what is wrong, or an empty string.
struct V5Reader {
  const std::vector<char>& b;
  bool swap;
  std::uint32_t u32(std::size_t at) const {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const auto byte = static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + static_cast<std::size_t>(swap ? 3 - i : i)]));
      v |= byte << (8 * i);
    }
    return v;
  }
};

// The leading subelements of a miMATRIX body (`size` bytes of it at hand, `declared` bytes as its tag
// says): array flags, dimensions, name, and for a struct (class 2) or object (3) the field-name length
// and the field names. Each must fit in the variable.
std::string check_matrix(const std::vector<char>& body, bool swap, std::size_t size, std::uint64_t declared) {
  const V5Reader r{body, swap};
  std::size_t at = 0;
  std::uint32_t mx_class = 0;
  for (int sub = 0; sub < 6; ++sub) {
    if (at + 8 > size) return {};  // the rest is matio's to refuse (truncated data)
    const std::uint32_t first = r.u32(at);
    const bool small = (first >> 16) != 0;
    const std::uint64_t nbytes = small ? first >> 16 : r.u32(at + 4);
    // matio reads the array flags as a fixed 16 bytes, whatever their tag says, then the next tag.
    const std::uint64_t total = sub == 0 ? 16 : small ? 8 : 8 + ((nbytes + 7) / 8) * 8;
    if ((sub > 0 && small && nbytes > 4) || at + total > declared + 8)  // the last subelement may end unpadded
      return "a subelement of a variable declares " + std::to_string(nbytes) + " bytes, more than the variable holds";
    if (sub == 0 && at + 12 <= size) mx_class = r.u32(at + 8) & 0xFF;
    // matio reads the dimensions only from a miINT32 subelement; of any other type it reads the next
    // tag (the name's) from the dimension values instead, and allocates the length it finds there.
    if (sub == 1 && (small ? first & 0xFFFF : first) != 5)
      return "the dimensions of a variable are of type " + std::to_string(small ? first & 0xFFFF : first) +
             "; expected miINT32 (5)";
    if (sub == 1 && (mx_class == 1 || mx_class == 2 || mx_class == 3)) {
      // A cell or struct array: matio allocates a pointer per element and reads each one's own tag
      // (8 bytes at least), so more elements than the variable has bytes / 8 cannot be.
      const std::size_t first_dim = at + (small ? 4 : 8);
      std::uint64_t elements = 1;
      for (std::uint64_t d = 0; d < nbytes / 4 && first_dim + 4 * d + 4 <= size; ++d) {
        const std::uint64_t n = r.u32(static_cast<std::size_t>(first_dim + 4 * d));
        elements = n == 0 || elements <= declared / n ? elements * n : declared + 1;
      }
      if (elements > declared / 8)
        return "a cell or struct variable declares " + std::to_string(elements) + " elements, more than it can hold";
    }
    if (sub == 2 && mx_class != 2 && mx_class != 3) return {};  // numeric data follows the name
    if (sub == 4 && mx_class == 2) return {};
    at += static_cast<std::size_t>(total);
  }
  return {};
}

std::string v5_problem(const std::vector<char>& b) {
  const bool swap = b[126] == 'M';
  const V5Reader r{b, swap};
  std::size_t at = 128;
  while (at + 8 <= b.size()) {
    const std::uint32_t type = r.u32(at);
    const std::uint64_t nbytes = r.u32(at + 4);
    const std::size_t left = b.size() - at - 8;
    if (type == 14 /* miMATRIX */) {
      if (nbytes > left) return "a variable declares " + std::to_string(nbytes) + " bytes, the file holds " + std::to_string(left);
      // matio reads the subelements from the file whatever the tag says: check what is there.
      std::vector<char> body(b.begin() + static_cast<std::ptrdiff_t>(at + 8), b.end());
      if (auto problem = check_matrix(body, swap, body.size(), nbytes); !problem.empty()) return problem;
    } else if (type == 15 /* miCOMPRESSED */) {
      if (nbytes > left) return "a compressed variable declares " + std::to_string(nbytes) + " bytes, the file holds " + std::to_string(left);
      // Inflate the start of the element: its miMATRIX tag and leading subelements.
      std::vector<char> head(4096);
      z_stream z{};
      if (inflateInit(&z) != Z_OK) return {};
      z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(b.data() + at + 8));
      z.avail_in = static_cast<uInt>(nbytes);
      z.next_out = reinterpret_cast<Bytef*>(head.data());
      z.avail_out = static_cast<uInt>(head.size());
      inflate(&z, Z_SYNC_FLUSH);
      const std::size_t got = head.size() - z.avail_out;
      inflateEnd(&z);
      if (got >= 8) {
        const V5Reader h{head, swap};
        const std::uint64_t inner = h.u32(4);
        if (h.u32(0) == 14) {
          if (inner > nbytes * 1100 + 4096)
            return "a compressed variable declares " + std::to_string(inner) + " bytes, more than its " +
                   std::to_string(nbytes) + " compressed bytes can expand to";
          std::vector<char> body(head.begin() + 8, head.begin() + static_cast<std::ptrdiff_t>(got));
          if (auto problem = check_matrix(body, swap, body.size(), inner); !problem.empty()) return problem;
        }
      }
    } else if (nbytes > left) {
      return {};  // matio skips or refuses other elements without allocating for them
    }
    at += 8 + static_cast<std::size_t>(type == 15 ? nbytes : ((nbytes + 7) / 8) * 8);
  }
  return {};
}

std::string hex_byte(unsigned char b) {
  const char* digits = "0123456789abcdef";
  return {digits[b >> 4], digits[b & 15]};
}

template <typename T>
void copy_column_major(const void* data, cv::Mat& out, const std::filesystem::path& file, const std::string& var) {
  const T* p = static_cast<const T*>(data);
  const int rows = out.rows, cols = out.cols;
  for (int c = 0; c < cols; ++c)
    for (int r = 0; r < rows; ++r) {
      const double v = static_cast<double>(p[static_cast<std::size_t>(c) * rows + r]);
      if (!std::isfinite(v) || v != std::floor(v) || v < -2147483648.0 || v > 2147483647.0)
        fail(file, "variable '" + var + "' holds a non-integer label " + std::to_string(v) + " at row " +
                       std::to_string(r) + ", column " + std::to_string(c));
      out.at<std::int32_t>(r, c) = static_cast<std::int32_t>(v);
    }
}
#endif
}  // namespace

bool have_mat_support() {
#ifdef S4T_HAVE_MATIO
  return true;
#else
  return false;
#endif
}

cv::Mat read_mat_int_matrix(const std::filesystem::path& file, const std::string& variable, const std::string& what) {
#ifndef S4T_HAVE_MATIO
  (void)variable;
  throw DataError(file.string() + ": cannot read " + what +
                  ": this build of s4t has no MATLAB .mat support (install libmatio-dev and rebuild)");
#else
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) throw DataError(what + " not found: " + file.string());
  {
    // Level 5 (MATLAB v5-v7) and v7.3 files open with a 128-byte text header ending in the version
    // (0x0100 or 0x0200) and the endian mark "IM"/"MI". matio would take anything else for a v4 file,
    // whose 20-byte header it trusts to allocate the variable's name: a corrupt file asked for gigabytes.
    std::ifstream in(file, std::ios::binary);
    char header[128] = {0};
    in.read(header, sizeof header);
    const bool mark = (header[126] == 'I' && header[127] == 'M') || (header[126] == 'M' && header[127] == 'I');
    if (in.gcount() < 128 || !mark)
      fail(file, "not a MATLAB v5/v7/v7.3 .mat file (" + what + "): no 128-byte MAT-file header (v4 files are not read)");
    // The version, in the writer's byte order (the mark says which): 0x0100 (level 5) or 0x0200 (v7.3).
    // matio falls back to reading a v4 file when it is anything else, trusting a v4 header made of the
    // text: a corrupt version byte once cost a 2 GB allocation.
    const bool little = header[126] == 'I';
    const auto version_high = static_cast<unsigned char>(header[little ? 125 : 124]);
    const auto version_low = static_cast<unsigned char>(header[little ? 124 : 125]);
    if (version_low != 0 || (version_high != 0x01 && version_high != 0x02))
      fail(file, "not a MATLAB v5/v7/v7.3 .mat file (" + what + "): header version 0x" + hex_byte(version_high) +
                     hex_byte(version_low) + ", expected 0x0100 (level 5) or 0x0200 (v7.3)");
    if (version_high == 0x01) {  // level 5 (v7.3 is HDF5)
      in.seekg(0, std::ios::end);
      std::vector<char> bytes(static_cast<std::size_t>(std::max<std::streamoff>(in.tellg(), 0)));
      in.seekg(0);
      in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      if (auto problem = v5_problem(bytes); !problem.empty())
        fail(file, "corrupt MATLAB .mat file (" + what + "): " + problem);
    }
  }
  std::lock_guard<std::mutex> lock(matio_mutex());
  init_matio_logging();
  last_matio_message().clear();
  mat_t* mat = Mat_Open(file.string().c_str(), MAT_ACC_RDONLY);
  if (!mat) {
    const std::string why = last_matio_message();
    fail(file, "not a readable MATLAB .mat file (" + what + ")" + (why.empty() ? "" : ": " + why));
  }
  // matio allocates what the variable's header declares before reading a byte of it: a corrupt header
  // (a 100-byte file declaring 10^9 elements) would cost gigabytes. Read the header alone first and
  // refuse sizes the file cannot hold, even compressed (zlib expands at most ~1032:1).
  if (matvar_t* info = Mat_VarReadInfo(mat, variable.c_str())) {
    // Only numeric classes are read (Mat_SizeOfClass is 0 for a sparse, cell or struct variable, which
    // would pass any size check: a sparse header of 10^9 x 9 once asked OpenCV for 38 GB).
    const auto c = info->class_type;
    const bool numeric = c == MAT_C_DOUBLE || c == MAT_C_SINGLE || c == MAT_C_INT8 || c == MAT_C_UINT8 ||
                         c == MAT_C_INT16 || c == MAT_C_UINT16 || c == MAT_C_INT32 || c == MAT_C_UINT32 ||
                         c == MAT_C_INT64 || c == MAT_C_UINT64;
    const bool fits_int = info->rank == 2 && info->dims[0] <= 2147483647u && info->dims[1] <= 2147483647u;
    if (!numeric || !fits_int) {
      Mat_VarFree(info);
      Mat_Close(mat);
      fail(file, "variable '" + variable + "' (" + what + "): expected a real 2-D numeric matrix");
    }
    const std::uintmax_t file_bytes = std::filesystem::file_size(file, ec);
    const std::uintmax_t limit = (ec ? 0 : file_bytes) * 1100 + 4096;
    std::uintmax_t bytes = info->rank > 0 ? Mat_SizeOfClass(info->class_type) : 0;
    for (int d = 0; d < info->rank && bytes <= limit; ++d)
      bytes = info->dims[d] == 0 || bytes <= limit / info->dims[d] ? bytes * info->dims[d] : limit + 1;
    Mat_VarFree(info);
    if (bytes > limit) {
      Mat_Close(mat);
      fail(file, "variable '" + variable + "' (" + what + ") declares more data than the file can hold (corrupt header)");
    }
  }
  last_matio_message().clear();
  matvar_t* var = Mat_VarRead(mat, variable.c_str());
  if (!var) {
    const std::string why = last_matio_message();
    Mat_Close(mat);
    fail(file, "no readable variable '" + variable + "' (" + what + ")" + (why.empty() ? "" : ": " + why));
  }
  struct Cleanup {
    mat_t* mat;
    matvar_t* var;
    ~Cleanup() {
      Mat_VarFree(var);
      Mat_Close(mat);
    }
  } cleanup{mat, var};
  if (var->rank != 2 || var->isComplex || !var->data || var->dims[0] == 0 || var->dims[1] == 0)
    fail(file, "variable '" + variable + "' (" + what + "): expected a real 2-D numeric matrix");
  // matio reports the matrix size from the header and may return a variable whose data it could not
  // (fully) read -- a truncated file -- after logging why: check both before reading a single label.
  const std::size_t need = static_cast<std::size_t>(var->dims[0]) * var->dims[1] * static_cast<std::size_t>(
                                                                                        Mat_SizeOfClass(var->class_type));
  if (var->nbytes < need || !last_matio_message().empty())
    fail(file, "variable '" + variable + "' (" + what + ") is truncated or corrupt" +
                   (last_matio_message().empty() ? "" : ": " + last_matio_message()));
  cv::Mat out(static_cast<int>(var->dims[0]), static_cast<int>(var->dims[1]), CV_32SC1);
  switch (var->class_type) {
    case MAT_C_DOUBLE: copy_column_major<double>(var->data, out, file, variable); break;
    case MAT_C_SINGLE: copy_column_major<float>(var->data, out, file, variable); break;
    case MAT_C_INT8: copy_column_major<std::int8_t>(var->data, out, file, variable); break;
    case MAT_C_UINT8: copy_column_major<std::uint8_t>(var->data, out, file, variable); break;
    case MAT_C_INT16: copy_column_major<std::int16_t>(var->data, out, file, variable); break;
    case MAT_C_UINT16: copy_column_major<std::uint16_t>(var->data, out, file, variable); break;
    case MAT_C_INT32: copy_column_major<std::int32_t>(var->data, out, file, variable); break;
    case MAT_C_UINT32: copy_column_major<std::uint32_t>(var->data, out, file, variable); break;
    case MAT_C_INT64: copy_column_major<std::int64_t>(var->data, out, file, variable); break;
    case MAT_C_UINT64: copy_column_major<std::uint64_t>(var->data, out, file, variable); break;
    default: fail(file, "variable '" + variable + "' (" + what + "): expected a numeric matrix");
  }
  return out;
#endif
}

void write_mat_matrix(const std::filesystem::path& file, const std::string& variable, const cv::Mat& m) {
#ifndef S4T_HAVE_MATIO
  (void)file;
  (void)variable;
  (void)m;
  throw DataError("write_mat_matrix: this build has no matio");
#else
  if (m.type() != CV_32SC1 && m.type() != CV_16UC1) throw DataError("write_mat_matrix: expected CV_32SC1 or CV_16UC1");
  std::lock_guard<std::mutex> lock(matio_mutex());
  init_matio_logging();
  cv::Mat t = m.t();  // row-major transpose = MATLAB's column-major order
  t = t.clone();
  mat_t* mat = Mat_CreateVer(file.string().c_str(), nullptr, MAT_FT_MAT5);
  if (!mat) throw DataError("cannot create " + file.string());
  size_t dims[2] = {static_cast<size_t>(m.rows), static_cast<size_t>(m.cols)};
  const bool u16 = m.type() == CV_16UC1;
  matvar_t* var = Mat_VarCreate(variable.c_str(), u16 ? MAT_C_UINT16 : MAT_C_INT32, u16 ? MAT_T_UINT16 : MAT_T_INT32, 2,
                                dims, t.data, MAT_F_DONT_COPY_DATA);
  if (!var) {
    Mat_Close(mat);
    throw DataError("cannot create variable " + variable + " in " + file.string());
  }
  const int rc = Mat_VarWrite(mat, var, MAT_COMPRESSION_ZLIB);
  Mat_VarFree(var);
  Mat_Close(mat);
  if (rc != 0) throw DataError("cannot write " + file.string());
#endif
}

}  // namespace s4t::data
