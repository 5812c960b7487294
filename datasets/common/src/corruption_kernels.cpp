#include "corruption_kernels.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

namespace s4t::data::corruption {

double Rng::normal(double mean, double std) {
  if (has_spare_) {
    has_spare_ = false;
    return mean + std * spare_;
  }
  double u = 0.0;
  while (u <= 0.0) u = uniform();
  const double v = uniform(), r = std::sqrt(-2.0 * std::log(u)), a = 2.0 * M_PI * v;
  spare_ = r * std::sin(a);
  has_spare_ = true;
  return mean + std * r * std::cos(a);
}

double Rng::poisson(double lambda) {
  if (lambda <= 0.0) return 0.0;
  if (lambda > 200.0) return std::max(0.0, std::round(normal(lambda, std::sqrt(lambda))));
  const double limit = std::exp(-lambda);
  double p = uniform();
  int k = 0;
  while (p > limit) {
    p *= uniform();
    ++k;
  }
  return k;
}

cv::Mat Rng::normal_mat(int rows, int cols, int channels, double mean, double std) {
  cv::Mat m(rows, cols, CV_32FC(channels));
  float* p = m.ptr<float>();
  for (size_t i = 0, n = m.total() * static_cast<size_t>(channels); i < n; ++i)
    p[i] = static_cast<float>(normal(mean, std));
  return m;
}

cv::Mat disk_kernel(double radius, double alias_blur) {
  const int half = radius <= 8 ? 8 : static_cast<int>(std::ceil(radius));
  cv::Mat k(2 * half + 1, 2 * half + 1, CV_32F);
  for (int y = -half; y <= half; ++y)
    for (int x = -half; x <= half; ++x) k.at<float>(y + half, x + half) = x * x + y * y <= radius * radius ? 1.f : 0.f;
  k /= cv::sum(k)[0];
  const int ks = radius <= 8 ? 3 : 5;
  cv::Mat out;
  cv::GaussianBlur(k, out, cv::Size(ks, ks), alias_blur);
  return out;
}

namespace {

// out(y, x) = x(clamp(y - dy), clamp(x - dx)): numpy roll with the vacated border replicated.
cv::Mat shift(const cv::Mat& x, int dx, int dy) {
  cv::Mat padded, out;
  const int t = std::max(dy, 0), b = std::max(-dy, 0), l = std::max(dx, 0), r = std::max(-dx, 0);
  cv::copyMakeBorder(x, padded, t, b, l, r, cv::BORDER_REPLICATE);
  return padded(cv::Rect(r, b, x.cols, x.rows)).clone();
}

}  // namespace

cv::Mat motion_blur(const cv::Mat& x, int radius, double sigma, double angle_deg) {
  const int width = 2 * radius + 1;
  std::vector<double> kernel(static_cast<size_t>(width));
  double z = 0.0;
  for (int i = 0; i < width; ++i) z += kernel[static_cast<size_t>(i)] = std::exp(-(i * i) / (2.0 * sigma * sigma));
  const double a = angle_deg * M_PI / 180.0;
  const double py = width * std::sin(a), px = width * std::cos(a), hyp = std::hypot(py, px);
  cv::Mat out = cv::Mat::zeros(x.size(), x.type());
  for (int i = 0; i < width; ++i) {
    const int dy = -static_cast<int>(std::ceil(i * py / hyp - 0.5));
    const int dx = -static_cast<int>(std::ceil(i * px / hyp - 0.5));
    if (std::abs(dy) >= x.rows || std::abs(dx) >= x.cols) break;
    cv::scaleAdd(shift(x, dx, dy), kernel[static_cast<size_t>(i)] / z, out, out);
  }
  return out;
}

cv::Mat clipped_zoom(const cv::Mat& x, double factor) {
  const double cx = (x.cols - 1) / 2.0, cy = (x.rows - 1) / 2.0;
  cv::Mat m = (cv::Mat_<double>(2, 3) << factor, 0, cx * (1 - factor), 0, factor, cy * (1 - factor));
  cv::Mat out;
  cv::warpAffine(x, out, m, x.size(), cv::INTER_LINEAR, cv::BORDER_REFLECT);
  return out;
}

cv::Mat plasma_fractal(int n, double wibble_decay, Rng& rng) {
  cv::Mat m = cv::Mat::zeros(n, n, CV_64F);
  auto at = [&](int y, int x) -> double& { return m.at<double>(((y % n) + n) % n, ((x % n) + n) % n); };
  double wibble = 100.0;
  auto wibbled_mean = [&](double sum) { return sum / 4.0 + wibble * rng.uniform(-wibble, wibble); };
  for (int step = n; step >= 2; step /= 2) {
    const int h = step / 2;
    for (int y = 0; y < n; y += step)  // squares: centre = mean of the 4 corners
      for (int x = 0; x < n; x += step)
        at(y + h, x + h) = wibbled_mean(at(y, x) + at(y + step, x) + at(y, x + step) + at(y + step, x + step));
    for (int y = 0; y < n; y += step)  // diamonds on the corner rows
      for (int x = 0; x < n; x += step)
        at(y, x + h) = wibbled_mean(at(y + h, x + h) + at(y - h, x + h) + at(y, x) + at(y, x + step));
    for (int y = 0; y < n; y += step)  // diamonds on the corner columns
      for (int x = 0; x < n; x += step)
        at(y + h, x) = wibbled_mean(at(y + h, x + h) + at(y + h, x - h) + at(y, x) + at(y + step, x));
    wibble /= wibble_decay;
  }
  double lo, hi;
  cv::minMaxLoc(m, &lo, &hi);
  cv::Mat out;
  m.convertTo(out, CV_32F, hi > lo ? 1.0 / (hi - lo) : 0.0, hi > lo ? -lo / (hi - lo) : 0.0);
  return out;
}

cv::Mat gaussian(const cv::Mat& x, double sigma) {
  const int half = static_cast<int>(4.0 * sigma + 0.5);
  cv::Mat out;
  cv::GaussianBlur(x, out, cv::Size(2 * half + 1, 2 * half + 1), sigma, sigma, cv::BORDER_REPLICATE);
  return out;
}

cv::Mat clip01(cv::Mat x) {
  cv::min(x, 1.0, x);
  cv::max(x, 0.0, x);
  return x;
}

}  // namespace s4t::data::corruption
