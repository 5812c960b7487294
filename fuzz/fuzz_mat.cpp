// Fuzz target: the MATLAB .mat reader (datasets/common/src/mat_io.cpp through matio; PASCAL-Context's
// LabelMap files).
//
// Contract (s4t_data/mat_io.hpp): read_mat_int_matrix returns a CV_32SC1 matrix of the variable's
// size, or throws s4t::DataError naming the file and the variable. Anything else is a finding: a crash
// or sanitizer report (in our code, or in matio / HDF5 when our calls let a corrupt file reach them),
// another exception type, or a result of the wrong type or an empty size.
#include "fuzz_support.hpp"
#include "s4t/error.hpp"
#include "s4t_data/mat_io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = s4t::fuzz::write_input("input.mat", data, size);
  try {
    const cv::Mat m = s4t::data::read_mat_int_matrix(file, "LabelMap", "fuzz input");
    if (m.type() != CV_32SC1 || m.empty()) s4t::fuzz::broken("read_mat_int_matrix returned an empty or non-int32 matrix");
    s4t::fuzz::note("accepted: " + std::to_string(m.rows) + " x " + std::to_string(m.cols));
  } catch (const s4t::DataError& e) {
    s4t::fuzz::note(std::string("refused: ") + e.what());
  }
  return 0;
}
