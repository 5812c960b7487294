// Depth-aware corruptions after 3D Common Corruptions (Kar et al., CVPR 2022): fog from the scattering
// model and a thin-lens depth of field. Depth is normalised per image, so the severities mean the same
// on metric (NYUD, synthetic) and on Taskonomy's 16-bit depth. Parameters are [RECON]: see
// docs/corruptions.md.
#include <algorithm>
#include <array>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "corruptions_impl.hpp"

namespace s4t::data::corruption {

namespace {

// Invalid depth (<= 0, non-finite) is taken as the farthest valid depth: missing depth is mostly
// sky, windows and specular surfaces far away. Returns {depth, min, max}.
struct Depth {
  cv::Mat d;
  double lo = 0.0, hi = 0.0;
};

Depth valid_depth(const cv::Mat& depth) {
  Depth r;
  depth.convertTo(r.d, CV_32F);
  r.lo = HUGE_VAL;
  r.hi = 0.0;
  for (int i = 0; i < r.d.rows * r.d.cols; ++i) {
    const float v = r.d.ptr<float>()[i];
    if (std::isfinite(v) && v > 0) r.lo = std::min(r.lo, double(v)), r.hi = std::max(r.hi, double(v));
  }
  if (r.hi <= 0.0) r.lo = r.hi = 1.0;  // no valid depth: uniform
  for (int i = 0; i < r.d.rows * r.d.cols; ++i) {
    float& v = r.d.ptr<float>()[i];
    if (!std::isfinite(v) || v <= 0) v = static_cast<float>(r.hi);
  }
  return r;
}

}  // namespace

cv::Mat fog_3d(const cv::Mat& x, const cv::Mat& depth, int s, Rng&) {
  // I = R t + A (1 - t), t = exp(-beta d / d_max): a constant depth gives a uniform veil.
  const double beta = std::array<double, 5>{1.0, 1.5, 2.0, 3.0, 4.0}[static_cast<size_t>(s - 1)];
  constexpr double kAirlight = 0.8;  // light grey, as fog renders of 3DCC
  const Depth d = valid_depth(depth);
  cv::Mat t;
  cv::exp(d.d * (-beta / d.hi), t);
  cv::Mat veil, t3;
  cv::cvtColor((1.0 - t) * kAirlight, veil, cv::COLOR_GRAY2RGB);  // one channel: a plain double is fine
  cv::cvtColor(t, t3, cv::COLOR_GRAY2RGB);
  return clip01(x.mul(t3) + veil);
}

cv::Mat depth_of_field(const cv::Mat& x, const cv::Mat& depth, int s, bool far, Rng& rng) {
  // Circle of confusion growing linearly with the distance to the focal plane in min-max normalised
  // depth (3DCC's layered defocus), scaled so that the farthest point from the focal plane gets the
  // defocus_blur radius of the same severity; the image is blurred at K radii and each pixel
  // interpolates between the two bracketing levels.
  const double r_max = std::array<double, 5>{3, 4, 6, 8, 10}[static_cast<size_t>(s - 1)];
  const Depth d = valid_depth(depth);
  // Focal plane: in the nearest (near focus) or farthest (far focus) 10 % of the depth range.
  const double u = rng.uniform(0.0, 0.1);
  const double focus = far ? 1.0 - u : u, span = d.hi - d.lo;
  cv::Mat coc(x.size(), CV_32F);
  double coc_max = 0.0;
  for (int i = 0; i < coc.rows * coc.cols; ++i) {
    const double c = span > 0 ? std::abs((d.d.ptr<float>()[i] - d.lo) / span - focus) : 0.0;
    coc.ptr<float>()[i] = static_cast<float>(c);
    coc_max = std::max(coc_max, c);
  }
  if (coc_max <= 0.0) return x.clone();  // flat scene in focus
  constexpr int kLevels = 8;
  std::vector<cv::Mat> levels;
  for (int k = 0; k < kLevels; ++k) {
    const double r = r_max * k / (kLevels - 1);
    if (r < 0.5) {
      levels.push_back(x);
      continue;
    }
    cv::Mat b;
    cv::filter2D(x, b, -1, disk_kernel(r, 0.5));
    levels.push_back(b);
  }
  cv::Mat out(x.size(), CV_32FC3);
  for (int y = 0; y < x.rows; ++y)
    for (int c = 0; c < x.cols; ++c) {
      const double level = coc.at<float>(y, c) / coc_max * (kLevels - 1);
      const int k0 = std::min(kLevels - 2, static_cast<int>(level));
      const float w = static_cast<float>(level - k0);
      out.at<cv::Vec3f>(y, c) = (1 - w) * levels[static_cast<size_t>(k0)].at<cv::Vec3f>(y, c) +
                                w * levels[static_cast<size_t>(k0 + 1)].at<cv::Vec3f>(y, c);
    }
  return clip01(out);
}

}  // namespace s4t::data::corruption
