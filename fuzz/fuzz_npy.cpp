// Fuzz target: the NumPy .npy reader (datasets/common/src/npy.cpp; NYUD-v2 depth, normals and edges).
//
// Contract (s4t_data/npy.hpp): read_npy, npy_to_image and read_npy_image turn any file into either a
// result or an s4t::DataError naming the file. Anything else is a finding: a crash, an ASan/UBSan report,
// an allocation the file's size does not justify (libFuzzer's -rss_limit_mb / -malloc_limit_mb), or
// another exception type (std::bad_alloc, std::length_error, std::out_of_range from std::stoll...).
// Property: read_npy_image's fast path (float32, C order, read straight into the image) gives the
// same image as npy_to_image(read_npy(...)), and both accept or refuse the same files.
#include <cstring>

#include "fuzz_support.hpp"
#include "s4t/error.hpp"
#include "s4t_data/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace s4t::data;
  const auto file = s4t::fuzz::write_input("input.npy", data, size);
  NpyArray array;
  try {
    array = read_npy(file, "fuzz input");
  } catch (const s4t::DataError& e) {
    s4t::fuzz::note(std::string("refused: ") + e.what());
    return 0;
  }
  s4t::fuzz::note("accepted: " + array.descr + ", " + std::to_string(array.count()) + " elements");
  if (array.count() < 0) s4t::fuzz::broken("read_npy returned a negative element count");
  if (array.data.size() != static_cast<std::size_t>(array.count()) * static_cast<std::size_t>(array.item_size))
    s4t::fuzz::broken("read_npy returned " + std::to_string(array.data.size()) + " bytes for its shape");
  for (std::int64_t i = 0; i < array.count(); ++i) (void)array.at(i);  // every element is readable

  cv::Mat slow, fast;
  bool slow_ok = true, fast_ok = true;
  try {
    slow = npy_to_image(array, file, "fuzz input");
  } catch (const s4t::DataError&) {
    slow_ok = false;
  }
  try {
    fast = read_npy_image(file, "fuzz input");
  } catch (const s4t::DataError&) {
    fast_ok = false;
  }
  if (slow_ok != fast_ok) s4t::fuzz::broken("read_npy_image and npy_to_image(read_npy) disagree on accepting the file");
  if (slow_ok) {
    if (slow.size() != fast.size() || slow.type() != fast.type() || !slow.isContinuous() || !fast.isContinuous())
      s4t::fuzz::broken("read_npy_image and npy_to_image(read_npy) give images of different size or type");
    if (std::memcmp(slow.data, fast.data, slow.total() * slow.elemSize()) != 0)
      s4t::fuzz::broken("read_npy_image and npy_to_image(read_npy) give different pixels");
  }
  return 0;
}
