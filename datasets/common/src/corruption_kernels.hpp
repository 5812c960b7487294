#pragma once
// Building blocks shared by the corruptions (internal to s4t_dataset_common): a portable RNG and the
// kernels of the published code (disk, motion blur, clipped zoom, plasma fractal) on CV_32F images in [0, 1].
#include <cstdint>
#include <opencv2/core/mat.hpp>
#include <random>

namespace s4t::data::corruption {

// Portable draws on top of mt19937_64 (the standard distributions differ between libraries).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}
  double uniform(double a = 0.0, double b = 1.0) {
    return a + (b - a) * static_cast<double>(engine_() >> 11) * 0x1.0p-53;
  }
  /// Integer in [lo, hi) like numpy's randint.
  int integer(int lo, int hi) { return lo + static_cast<int>(engine_() % static_cast<std::uint64_t>(hi - lo)); }
  double normal(double mean = 0.0, double std = 1.0);
  /// Knuth's product method (exact; lambda <= 60 here), normal approximation above 200.
  double poisson(double lambda);
  /// A CV_32FC(channels) matrix of N(mean, std^2) draws.
  cv::Mat normal_mat(int rows, int cols, int channels, double mean, double std);

 private:
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

/// imagecorruptions' disk(): an aliased disk of `radius` on a grid of at least 17 x 17, normalised, then
/// Gaussian-blurred by `alias_blur` (3 x 3 kernel, 5 x 5 above radius 8).
cv::Mat disk_kernel(double radius, double alias_blur);

/// imagecorruptions' _motion_blur(): sum of integer shifts along `angle_deg`, weighted by a one-sided
/// Gaussian of `sigma` over 2 * radius + 1 taps, edges replicated. Any channel count.
cv::Mat motion_blur(const cv::Mat& x, int radius, double sigma, double angle_deg);

/// clipped_zoom(): zoom about the centre by `factor` >= 1 keeping the size (bilinear).
cv::Mat clipped_zoom(const cv::Mat& x, double factor);

/// plasma_fractal(): diamond-square noise of size `mapsize` (a power of 2) in [0, 1].
cv::Mat plasma_fractal(int mapsize, double wibble_decay, Rng& rng);

/// skimage.filters.gaussian (truncate 4, mode 'nearest').
cv::Mat gaussian(const cv::Mat& x, double sigma);

cv::Mat clip01(cv::Mat x);

}  // namespace s4t::data::corruption
