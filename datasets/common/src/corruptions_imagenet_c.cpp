// The 19 corruptions of Hendrycks & Dietterich (2019) with the severity tables of the `imagecorruptions`
// package (Michaelis et al., 2019), on CV_32FC3 R,G,B images in [0, 1]. Departures from the published
// code are listed in docs/corruptions.md; the RNG is ours, so the draws differ, not their distributions.
#include <algorithm>
#include <cmath>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "corruption_kernels.hpp"
#include "corruptions_impl.hpp"

namespace s4t::data::corruption {

namespace {

template <class T, size_t N>
const T& pick(const T (&table)[N], int severity) {
  return table[severity - 1];
}

template <class F>
cv::Mat per_element(const cv::Mat& x, const F& f) {
  cv::Mat out = x.clone();
  float* p = out.ptr<float>();
  for (size_t i = 0, n = out.total() * static_cast<size_t>(out.channels()); i < n; ++i) p[i] = f(p[i]);
  return out;
}

cv::Mat filter(const cv::Mat& x, const cv::Mat& kernel) {
  cv::Mat out;
  cv::filter2D(x, out, -1, kernel);  // BORDER_REFLECT_101, as cv2.filter2D in the published code
  return out;
}

cv::Mat gray(const cv::Mat& x) {
  cv::Mat g, g3;
  cv::cvtColor(x, g, cv::COLOR_RGB2GRAY);
  cv::cvtColor(g, g3, cv::COLOR_GRAY2RGB);
  return g3;
}

// HSV with S and V in [0, 1] (skimage's rgb2hsv up to the hue unit, which these corruptions keep).
cv::Mat hsv_channel_map(const cv::Mat& x, int channel, double scale, double offset) {
  cv::Mat hsv, out;
  cv::cvtColor(x, hsv, cv::COLOR_RGB2HSV);
  std::vector<cv::Mat> ch;
  cv::split(hsv, ch);
  ch[static_cast<size_t>(channel)] = clip01(ch[static_cast<size_t>(channel)] * scale + offset);
  cv::merge(ch, hsv);
  cv::cvtColor(hsv, out, cv::COLOR_HSV2RGB);
  return out;
}

}  // namespace

cv::Mat gaussian_noise(const cv::Mat& x, int s, Rng& rng) {
  const double c = pick({0.08, 0.12, 0.18, 0.26, 0.38}, s);
  return clip01(x + rng.normal_mat(x.rows, x.cols, 3, 0.0, c));
}

cv::Mat shot_noise(const cv::Mat& x, int s, Rng& rng) {
  const double c = pick({60.0, 25.0, 12.0, 5.0, 3.0}, s);
  return clip01(per_element(x, [&](float v) { return static_cast<float>(rng.poisson(v * c) / c); }));
}

cv::Mat impulse_noise(const cv::Mat& x, int s, Rng& rng) {
  // skimage random_noise(mode='s&p', amount=c): each value independently becomes 0 or 1 with prob. c.
  const double c = pick({0.03, 0.06, 0.09, 0.17, 0.27}, s);
  return per_element(x, [&](float v) {
    if (rng.uniform() >= c) return v;
    return rng.uniform() < 0.5 ? 1.0f : 0.0f;
  });
}

cv::Mat speckle_noise(const cv::Mat& x, int s, Rng& rng) {
  const double c = pick({0.15, 0.2, 0.35, 0.45, 0.6}, s);
  return clip01(per_element(x, [&](float v) { return static_cast<float>(v + v * rng.normal(0.0, c)); }));
}

cv::Mat gaussian_blur(const cv::Mat& x, int s, Rng&) { return clip01(gaussian(x, pick({1.0, 2.0, 3.0, 4.0, 6.0}, s))); }

cv::Mat glass_blur(const cv::Mat& x, int s, Rng& rng) {
  struct P {
    double sigma;
    int max_delta, iterations;
  };
  const P c = pick({P{0.7, 1, 2}, P{0.9, 2, 1}, P{1.0, 2, 3}, P{1.1, 3, 2}, P{1.5, 4, 2}}, s);
  cv::Mat u8;
  gaussian(x, c.sigma).convertTo(u8, CV_8UC3, 255.0, -0.5);  // truncated to uint8, as the published code
  const int d = c.max_delta;
  for (int it = 0; it < c.iterations; ++it)
    for (int h = x.rows - d; h > d; --h)
      for (int w = x.cols - d; w > d; --w) {
        const int dx = rng.integer(-d, d), dy = rng.integer(-d, d);  // numpy randint: high exclusive
        std::swap(u8.at<cv::Vec3b>(h, w), u8.at<cv::Vec3b>(h + dy, w + dx));
      }
  cv::Mat f;
  u8.convertTo(f, CV_32FC3, 1.0 / 255.0);
  return clip01(gaussian(f, c.sigma));
}

cv::Mat defocus_blur(const cv::Mat& x, int s, Rng&) {
  struct P {
    double radius, alias_blur;
  };
  const P c = pick({P{3, 0.1}, P{4, 0.5}, P{6, 0.5}, P{8, 0.5}, P{10, 0.5}}, s);
  return clip01(filter(x, disk_kernel(c.radius, c.alias_blur)));
}

cv::Mat motion_blur(const cv::Mat& x, int s, Rng& rng) {
  struct P {
    int radius;
    double sigma;
  };
  const P c = pick({P{10, 3}, P{15, 5}, P{15, 8}, P{15, 12}, P{20, 15}}, s);
  return clip01(motion_blur(x, c.radius, c.sigma, rng.uniform(-45.0, 45.0)));
}

cv::Mat zoom_blur(const cv::Mat& x, int s, Rng&) {
  struct P {
    double stop, step;
  };  // numpy arange(1, stop, step)
  const P c = pick({P{1.11, 0.01}, P{1.16, 0.01}, P{1.21, 0.02}, P{1.26, 0.02}, P{1.31, 0.03}}, s);
  cv::Mat out = cv::Mat::zeros(x.size(), x.type());
  int n = 0;
  for (int i = 0;; ++i) {
    const double z = 1.0 + i * c.step;
    if (z >= c.stop - 1e-9) break;
    out += clipped_zoom(x, z);
    ++n;
  }
  return clip01((x + out) / (n + 1));
}

cv::Mat snow(const cv::Mat& x, int s, Rng& rng) {
  struct P {
    double loc, scale, zoom, threshold;
    int radius;
    double sigma, blend;
  };
  const P c = pick({P{0.1, 0.3, 3, 0.5, 10, 4, 0.8}, P{0.2, 0.3, 2, 0.5, 12, 4, 0.7}, P{0.55, 0.3, 4, 0.9, 12, 8, 0.7},
                    P{0.55, 0.3, 4.5, 0.85, 12, 8, 0.65}, P{0.55, 0.3, 2.5, 0.85, 12, 12, 0.55}},
                   s);
  cv::Mat layer = clipped_zoom(rng.normal_mat(x.rows, x.cols, 1, c.loc, c.scale), c.zoom);
  cv::threshold(layer, layer, c.threshold, 0, cv::THRESH_TOZERO);
  layer = clip01(motion_blur(layer, c.radius, c.sigma, rng.uniform(-135.0, -45.0)));
  cv::Mat flipped, layer3, flipped3;
  cv::flip(layer, flipped, -1);  // np.rot90(layer, k=2)
  cv::cvtColor(layer, layer3, cv::COLOR_GRAY2RGB);
  cv::cvtColor(flipped, flipped3, cv::COLOR_GRAY2RGB);
  cv::Mat whitened;  // Scalar::all: OpenCV adds a plain double to the first channel only
  cv::add(gray(x) * 1.5, cv::Scalar::all(0.5), whitened);
  cv::Mat out = c.blend * x + (1.0 - c.blend) * cv::max(x, whitened);
  return clip01(out + layer3 + flipped3);
}

// Replaces the published frost photographs: ice crystals as random branching needles (thin bright
// lines) over low-frequency plasma haze, bluish white, normalised to a mean of about 0.45 like the photos.
cv::Mat frost_texture(cv::Size size, Rng& rng) {
  const int n = 1 << static_cast<int>(std::ceil(std::log2(std::max({size.width, size.height, 32}))));
  cv::Mat haze = plasma_fractal(n, 1.8, rng)(cv::Rect(0, 0, size.width, size.height)).clone();
  cv::Mat needles = cv::Mat::zeros(size, CV_32F);
  const double diag = std::hypot(size.width, size.height);
  const int seeds = std::max(8, static_cast<int>(size.area() / 150));
  for (int i = 0; i < seeds; ++i) {
    const cv::Point2d p(rng.uniform(0, size.width), rng.uniform(0, size.height));
    const double angle = rng.uniform(0, 2 * M_PI);
    const int branches = 3 + rng.integer(0, 4);
    for (int b = 0; b < branches; ++b) {  // a crystal: needles from one point, each with side twigs
      const double a = angle + b * 2 * M_PI / branches + rng.uniform(-0.3, 0.3);
      const double len = diag * rng.uniform(0.02, 0.08);
      const cv::Point2d q = p + len * cv::Point2d(std::cos(a), std::sin(a));
      cv::line(needles, p, q, cv::Scalar(rng.uniform(0.5, 1.0)), 1, cv::LINE_AA);
      for (double t = 0.3; t < 1.0; t += 0.3) {
        const cv::Point2d m = p + t * (q - p);
        const double ta = a + (rng.uniform() < 0.5 ? 1 : -1) * M_PI / 3;
        cv::line(needles, m, m + 0.4 * len * (1 - t) * cv::Point2d(std::cos(ta), std::sin(ta)),
                 cv::Scalar(rng.uniform(0.4, 0.9)), 1, cv::LINE_AA);
      }
    }
  }
  cv::Mat ice = clip01(0.55 * haze + gaussian(needles, 0.5) * 0.9);
  ice *= 0.45 / std::max(1e-6, cv::mean(ice)[0]);
  cv::Mat rgb;
  cv::merge(std::vector<cv::Mat>{ice * 0.85, ice * 0.93, ice * 1.0}, rgb);
  return clip01(rgb);
}

cv::Mat frost(const cv::Mat& x, int s, Rng& rng) {
  struct P {
    double image, frost;
  };
  const P c = pick({P{1, 0.4}, P{0.8, 0.6}, P{0.7, 0.7}, P{0.65, 0.7}, P{0.6, 0.75}}, s);
  return clip01(c.image * x + c.frost * frost_texture(x.size(), rng));
}

cv::Mat fog(const cv::Mat& x, int s, Rng& rng) {
  struct P {
    double strength, decay;
  };
  const P c = pick({P{1.5, 2}, P{2.0, 2}, P{2.5, 1.7}, P{2.5, 1.5}, P{3.0, 1.4}}, s);
  double lo, max_val;
  cv::minMaxLoc(x.reshape(1), &lo, &max_val);
  const int n = 1 << static_cast<int>(std::ceil(std::log2(std::max(x.rows, x.cols))));
  cv::Mat plasma = plasma_fractal(n, c.decay, rng)(cv::Rect(0, 0, x.cols, x.rows)), plasma3;
  cv::cvtColor(plasma, plasma3, cv::COLOR_GRAY2RGB);
  return clip01((x + c.strength * plasma3) * (max_val / (max_val + c.strength)));
}

cv::Mat brightness(const cv::Mat& x, int s, Rng&) {
  return clip01(hsv_channel_map(x, 2, 1.0, pick({0.1, 0.2, 0.3, 0.4, 0.5}, s)));
}

cv::Mat saturate(const cv::Mat& x, int s, Rng&) {
  struct P {
    double scale, offset;
  };
  const P c = pick({P{0.3, 0}, P{0.1, 0}, P{2, 0}, P{5, 0.1}, P{20, 0.2}}, s);
  return clip01(hsv_channel_map(x, 1, c.scale, c.offset));
}

cv::Mat contrast(const cv::Mat& x, int s, Rng&) {
  const double c = pick({0.4, 0.3, 0.2, 0.1, 0.05}, s);
  const cv::Scalar means = cv::mean(x);  // per channel, as np.mean(x, axis=(0, 1))
  cv::Mat out;
  cv::subtract(x, means, out);
  out *= c;
  cv::add(out, means, out);
  return clip01(out);
}

cv::Mat elastic(const cv::Mat& x, int s, Rng& rng) {
  // imagecorruptions' size-relative version (no affine part, unlike the ImageNet-C 224 code).
  const double alpha = 250.0 * pick({0.05, 0.065, 0.085, 0.1, 0.12}, s);
  const double sy = x.rows * 0.01, sx = x.cols * 0.01, max_d = x.rows * 0.005;
  auto field = [&] {
    cv::Mat u(x.size(), CV_32F);
    for (int i = 0; i < u.rows * u.cols; ++i) u.ptr<float>()[i] = static_cast<float>(rng.uniform(-max_d, max_d));
    cv::Mat g;  // skimage gaussian(mode='reflect', truncate=3), per-axis sigma
    cv::GaussianBlur(u, g, cv::Size(2 * static_cast<int>(3 * sx + 0.5) + 1, 2 * static_cast<int>(3 * sy + 0.5) + 1), sx,
                     sy, cv::BORDER_REFLECT);
    return cv::Mat(g * alpha);
  };
  const cv::Mat dx = field(), dy = field();
  cv::Mat mx(x.size(), CV_32F), my(x.size(), CV_32F);
  for (int y = 0; y < x.rows; ++y)
    for (int c = 0; c < x.cols; ++c) {
      mx.at<float>(y, c) = static_cast<float>(c) + dx.at<float>(y, c);
      my.at<float>(y, c) = static_cast<float>(y) + dy.at<float>(y, c);
    }
  cv::Mat out;
  cv::remap(x, out, mx, my, cv::INTER_LINEAR, cv::BORDER_REFLECT);
  return clip01(out);
}

cv::Mat pixelate(const cv::Mat& x, int s, Rng&) {
  const double c = pick({0.6, 0.5, 0.4, 0.3, 0.25}, s);
  cv::Mat small, out;
  cv::resize(x, small, cv::Size(std::max(1, static_cast<int>(x.cols * c)), std::max(1, static_cast<int>(x.rows * c))),
             0, 0,
             cv::INTER_AREA);                                 // PIL BOX down
  cv::resize(small, out, x.size(), 0, 0, cv::INTER_NEAREST);  // PIL BOX up = nearest
  return out;
}

cv::Mat jpeg(const cv::Mat& x, int s, Rng&) {
  const int quality = pick({25, 18, 15, 10, 7}, s);
  cv::Mat u8, bgr, decoded, out;
  x.convertTo(u8, CV_8UC3, 255.0);
  cv::cvtColor(u8, bgr, cv::COLOR_RGB2BGR);
  std::vector<unsigned char> buffer;
  cv::imencode(".jpg", bgr, buffer, {cv::IMWRITE_JPEG_QUALITY, quality});
  cv::cvtColor(cv::imdecode(buffer, cv::IMREAD_COLOR), decoded, cv::COLOR_BGR2RGB);
  decoded.convertTo(out, CV_32FC3, 1.0 / 255.0);
  return out;
}

cv::Mat spatter(const cv::Mat& x, int s, Rng& rng) {
  struct P {
    double loc, scale, sigma, threshold, intensity;
    bool mud;
  };
  const P c =
      pick({P{0.65, 0.3, 4, 0.69, 0.6, false}, P{0.65, 0.3, 3, 0.68, 0.6, false}, P{0.65, 0.3, 2, 0.68, 0.5, false},
            P{0.65, 0.3, 1, 0.65, 1.5, true}, P{0.67, 0.4, 1, 0.65, 1.5, true}},
           s);
  cv::Mat liquid = gaussian(rng.normal_mat(x.rows, x.cols, 1, c.loc, c.scale), c.sigma);
  cv::threshold(liquid, liquid, c.threshold, 0, cv::THRESH_TOZERO);
  if (!c.mud) {  // water drops: bright rims from the distance to the drops' Canny edges
    cv::Mat u8, edges, dist, d8;
    liquid.convertTo(u8, CV_8U, 255.0);
    cv::Canny(u8, edges, 50, 150);
    cv::distanceTransform(255 - edges, dist, cv::DIST_L2, 5);
    cv::threshold(dist, dist, 20, 20, cv::THRESH_TRUNC);
    cv::blur(dist, dist, cv::Size(3, 3));
    dist.convertTo(d8, CV_8U);
    cv::equalizeHist(d8, d8);
    const cv::Mat ker = (cv::Mat_<float>(3, 3) << -2, -1, 0, -1, 1, 1, 0, 1, 2);
    cv::filter2D(d8, d8, CV_8U, ker);
    cv::blur(d8, d8, cv::Size(3, 3));
    cv::Mat m;
    d8.convertTo(m, CV_32F);
    m = m.mul(liquid);
    double lo, hi;
    cv::minMaxLoc(m, &lo, &hi);
    if (hi > 0) m *= c.intensity / hi;
    cv::Mat m3;
    cv::merge(std::vector<cv::Mat>{m * (175.0 / 255), m * (238.0 / 255), m * (238.0 / 255)}, m3);
    return clip01(x + m3);  // pale turquoise (the published code mixes BGR/RGB orders here)
  }
  cv::Mat mask;
  cv::threshold(liquid, mask, c.threshold, 1.0, cv::THRESH_BINARY);
  mask = gaussian(mask, c.intensity);
  cv::threshold(mask, mask, 0.8, 0, cv::THRESH_TOZERO);
  cv::Mat m3, colour;
  cv::cvtColor(mask, m3, cv::COLOR_GRAY2RGB);
  cv::multiply(m3, cv::Scalar(63.0 / 255, 42.0 / 255, 20.0 / 255), colour);  // mud brown
  cv::Mat keep;
  cv::subtract(cv::Scalar::all(1.0), m3, keep);
  return clip01(x.mul(keep) + colour);
}

}  // namespace s4t::data::corruption
