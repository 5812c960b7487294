#pragma once
// MATLAB .mat files through matio (Debian: libmatio-dev): PASCAL-Context's
// pascal-context/trainval/<id>.mat holds the 459-class label map in the variable `LabelMap`.
#include <filesystem>
#include <string>

#include <opencv2/core/mat.hpp>

namespace s4t::data {

/// True when this build has matio.
bool have_mat_support();

/// A 2-D numeric variable as CV_32SC1 (rows × columns as MATLAB shows them; matio's column-major data
/// is transposed into row-major). Non-integer values are refused. matio (and the HDF5 library it uses for
/// v7.3 files) is not thread-safe, so calls are serialised by a process-wide mutex; the files are small.
/// Reads level-5 (MATLAB v5-v7) and v7.3 files; v4 files are refused. A header declaring more data than
/// the file can hold is refused before anything is allocated for it.
/// Throws DataError naming the file and the variable.
cv::Mat read_mat_int_matrix(const std::filesystem::path& file, const std::string& variable, const std::string& what);

/// Writes `m` (CV_32SC1 or CV_16UC1) as a MATLAB v5 file with one variable (tests and fixtures).
void write_mat_matrix(const std::filesystem::path& file, const std::string& variable, const cv::Mat& m);

}  // namespace s4t::data
