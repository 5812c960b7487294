#include "s4t_data/thinning.hpp"

#include <array>
#include <cstdint>

#include <opencv2/imgproc.hpp>

namespace s4t::data {

namespace {

// Neighbour bit i of a pixel (scikit-image's correlation mask):
//   bit 3 (NW)  bit 2 (N)  bit 1 (NE)
//   bit 4 (W)      .       bit 0 (E)
//   bit 5 (SW)  bit 6 (S)  bit 7 (SE)
struct Luts {
  std::array<bool, 256> first{}, second{};
};

Luts make_luts() {
  Luts l;
  for (int n = 0; n < 256; ++n) {
    bool b[8];
    for (int i = 0; i < 8; ++i) b[i] = (n >> i) & 1;
    // G1: exactly one 4-connected transition around the pixel (the crossing number is 1).
    int crossings = 0;
    for (int i : {0, 2, 4, 6})
      if (!b[i] && (b[i + 1] || b[(i + 2) % 8])) ++crossings;
    const bool g1 = crossings == 1;
    // G2: 2 <= min(N1, N2) <= 3 with N1/N2 counting 4-connected neighbour pairs on two sides.
    int n1 = 0, n2 = 0;
    for (int k : {1, 3, 5, 7}) {
      if (b[k] || b[k - 1]) ++n1;
      if (b[k] || b[(k + 1) % 8]) ++n2;
    }
    const int m = n1 < n2 ? n1 : n2;
    const bool g2 = m == 2 || m == 3;
    // G3 (first sub-iteration) and G3' (second): not a north-east / south-west boundary-corner keeper.
    const bool g3 = !((b[1] || b[2] || !b[7]) && b[0]);
    const bool g3p = !((b[5] || b[6] || !b[3]) && b[4]);
    l.first[static_cast<std::size_t>(n)] = g1 && g2 && g3;
    l.second[static_cast<std::size_t>(n)] = g1 && g2 && g3p;
  }
  return l;
}

const Luts& luts() {
  static const Luts l = make_luts();
  return l;
}

}  // namespace

void thin_binary(cv::Mat& image) {
  CV_Assert(image.type() == CV_8UC1);
  const int rows = image.rows, cols = image.cols;
  // Work on a copy with a one-pixel zero border (scikit-image correlates with mode='constant', cval=0).
  cv::Mat skel(rows + 2, cols + 2, CV_8UC1, cv::Scalar(0));
  for (int y = 0; y < rows; ++y) {
    const std::uint8_t* in = image.ptr<std::uint8_t>(y);
    std::uint8_t* out = skel.ptr<std::uint8_t>(y + 1) + 1;
    for (int x = 0; x < cols; ++x) out[x] = in[x] ? 1 : 0;
  }
  std::vector<std::pair<int, int>> to_delete;
  for (;;) {
    bool changed = false;
    for (int pass = 0; pass < 2; ++pass) {
      const auto& lut = pass == 0 ? luts().first : luts().second;
      to_delete.clear();
      for (int y = 1; y <= rows; ++y) {
        const std::uint8_t* up = skel.ptr<std::uint8_t>(y - 1);
        const std::uint8_t* mid = skel.ptr<std::uint8_t>(y);
        const std::uint8_t* down = skel.ptr<std::uint8_t>(y + 1);
        for (int x = 1; x <= cols; ++x) {
          if (!mid[x]) continue;
          const int n = (mid[x + 1] << 0) | (up[x + 1] << 1) | (up[x] << 2) | (up[x - 1] << 3) | (mid[x - 1] << 4) |
                        (down[x - 1] << 5) | (down[x] << 6) | (down[x + 1] << 7);
          if (lut[static_cast<std::size_t>(n)]) to_delete.emplace_back(y, x);
        }
      }
      // Parallel sub-iteration: decide on the unmodified image, then delete.
      for (auto& [y, x] : to_delete) skel.at<std::uint8_t>(y, x) = 0;
      changed = changed || !to_delete.empty();
    }
    if (!changed) break;
  }
  skel(cv::Rect(1, 1, cols, rows)).copyTo(image);
}

cv::Mat label_boundaries(const cv::Mat& labels) {
  CV_Assert(labels.type() == CV_32SC1);
  cv::Mat as_double, lap;
  labels.convertTo(as_double, CV_64F);
  cv::Laplacian(as_double, lap, CV_64F);  // ksize 1: [0 1 0; 1 -4 1; 0 1 0], BORDER_DEFAULT (reflect 101)
  cv::Mat on = (lap != 0);                 // CV_8U 0/255
  thin_binary(on);
  cv::Mat out;
  on.convertTo(out, CV_32F);
  return out;
}

}  // namespace s4t::data
