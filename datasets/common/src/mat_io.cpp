#include "s4t_data/mat_io.hpp"

#include <cmath>
#include <cstdint>
#include <mutex>
#include <string>

#include "s4t/error.hpp"
#include "s4t_data/file_io.hpp"

#ifdef S4T_HAVE_MATIO
#include <matio.h>
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
  std::lock_guard<std::mutex> lock(matio_mutex());
  init_matio_logging();
  last_matio_message().clear();
  mat_t* mat = Mat_Open(file.string().c_str(), MAT_ACC_RDONLY);
  if (!mat) {
    const std::string why = last_matio_message();
    fail(file, "not a readable MATLAB .mat file (" + what + ")" + (why.empty() ? "" : ": " + why));
  }
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
