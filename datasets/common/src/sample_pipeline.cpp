#include "s4t_data/sample_pipeline.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <unordered_map>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "s4t/error.hpp"

namespace s4t::data {

namespace {

std::uint64_t splitmix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// Portable draws on top of mt19937_64 (the standard distributions' outputs differ between libraries).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}
  double uniform(double a, double b) { return a + (b - a) * static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  bool bernoulli(double p) { return uniform(0.0, 1.0) < p; }
  /// Integer in [lo, hi] (inclusive).
  std::int64_t integer(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(engine_() % static_cast<std::uint64_t>(hi - lo + 1));
  }

 private:
  std::mt19937_64 engine_;
};

constexpr std::uint64_t kAugmentStream = 0x61756721ULL;  // "aug!"
constexpr std::uint64_t kNoiseStream = 0x6e6f6973ULL;    // "nois"

void resize_target(Target& t, cv::Size size, int interpolation) {
  cv::Mat v;
  cv::resize(t.value, v, size, 0, 0, t.kind == TargetKind::Labels ? cv::INTER_NEAREST : interpolation);
  t.value = v;
  if (!t.mask.empty()) {
    cv::Mat m;
    cv::resize(t.mask, m, size, 0, 0, cv::INTER_NEAREST);
    t.mask = m;
  }
}

void resize_all(RawSample& s, cv::Size size, bool use_target_interpolation) {
  if (s.image.size() == size) return;
  cv::Mat img;
  cv::resize(s.image, img, size, 0, 0, cv::INTER_LINEAR);
  s.image = img;
  for (auto& [name, t] : s.targets) resize_target(t, size, use_target_interpolation ? t.interpolation : cv::INTER_NEAREST);
}

void crop_all(RawSample& s, const cv::Rect& r) {
  s.image = s.image(r).clone();
  for (auto& [name, t] : s.targets) {
    t.value = t.value(r).clone();
    if (!t.mask.empty()) t.mask = t.mask(r).clone();
  }
}

// True when no labelled class of `labels` covers cat_max_ratio or more of the labelled pixels and at
// least two classes are present (mmseg's RandomCrop rule).
bool crop_is_balanced(const cv::Mat& labels, double cat_max_ratio) {
  std::unordered_map<std::int32_t, std::int64_t> counts;
  std::int64_t total = 0, largest = 0;
  for (int y = 0; y < labels.rows; ++y) {
    const std::int32_t* p = labels.ptr<std::int32_t>(y);
    for (int x = 0; x < labels.cols; ++x) {
      if (p[x] == 255) continue;
      largest = std::max(largest, ++counts[p[x]]);
      ++total;
    }
  }
  return counts.size() > 1 && static_cast<double>(largest) / static_cast<double>(total) < cat_max_ratio;
}

void flip_all(RawSample& s, bool flip_normals) {
  cv::flip(s.image, s.image, 1);
  for (auto& [name, t] : s.targets) {
    cv::flip(t.value, t.value, 1);
    if (!t.mask.empty()) cv::flip(t.mask, t.mask, 1);
    if (t.negate_x_on_flip && flip_normals) {
      std::vector<cv::Mat> ch;
      cv::split(t.value, ch);
      ch[0] = -ch[0];
      cv::merge(ch, t.value);
    }
  }
}

void photometric_distortion(cv::Mat& img, Rng& rng) {
  auto clip = [](cv::Mat& m) {
    cv::min(m, 255.0, m);
    cv::max(m, 0.0, m);
  };
  if (rng.bernoulli(0.5)) {  // brightness
    img += cv::Scalar::all(rng.uniform(-32.0, 32.0));
    clip(img);
  }
  const bool contrast_first = rng.integer(0, 1) == 1;
  auto contrast = [&] {
    if (rng.bernoulli(0.5)) {
      img *= rng.uniform(0.5, 1.5);
      clip(img);
    }
  };
  if (contrast_first) contrast();
  const bool saturate = rng.bernoulli(0.5);
  const double saturation = saturate ? rng.uniform(0.5, 1.5) : 1.0;
  const bool shift_hue = rng.bernoulli(0.5);
  const double hue = shift_hue ? 2.0 * static_cast<double>(rng.integer(-18, 18)) : 0.0;  // OpenCV 8-bit hue units -> degrees
  if (saturate || shift_hue) {
    cv::Mat hsv;
    cv::cvtColor(img, hsv, cv::COLOR_RGB2HSV);  // float: H in [0, 360), S in [0, 1], V in [0, 255]
    for (int y = 0; y < hsv.rows; ++y) {
      auto* p = hsv.ptr<cv::Vec3f>(y);
      for (int x = 0; x < hsv.cols; ++x) {
        if (saturate) p[x][1] = std::min(1.0f, std::max(0.0f, static_cast<float>(p[x][1] * saturation)));
        if (shift_hue) {
          float h = static_cast<float>(p[x][0] + hue);
          h = std::fmod(h, 360.0f);
          if (h < 0) h += 360.0f;
          p[x][0] = h;
        }
      }
    }
    cv::cvtColor(hsv, img, cv::COLOR_HSV2RGB);
    clip(img);
  }
  if (!contrast_first) contrast();
}

void pad_targets(RawSample& s, cv::Size size) {
  for (auto& [name, t] : s.targets) {
    const int bottom = std::max(0, size.height - t.value.rows), right = std::max(0, size.width - t.value.cols);
    if (bottom == 0 && right == 0) continue;
    if (t.kind == TargetKind::Labels) {
      cv::copyMakeBorder(t.value, t.value, 0, bottom, 0, right, cv::BORDER_CONSTANT, cv::Scalar::all(255));
    } else {
      if (t.mask.empty()) t.mask = cv::Mat(t.value.rows, t.value.cols, CV_8UC1, cv::Scalar(1));
      cv::copyMakeBorder(t.value, t.value, 0, bottom, 0, right, cv::BORDER_CONSTANT, cv::Scalar::all(0));
      cv::copyMakeBorder(t.mask, t.mask, 0, bottom, 0, right, cv::BORDER_CONSTANT, cv::Scalar::all(0));
    }
  }
}

// The image as a normalised 3 x PH x PW tensor (PH, PW >= the image size; the bottom/right padding is 0
// after normalisation). One pass per channel: split into planes, then scale and shift each plane into
// the tensor's memory.
at::Tensor image_tensor(const cv::Mat& img, Normalization n, cv::Size pad_to) {
  const int h = img.rows, w = img.cols;
  const int ph = std::max(h, pad_to.height), pw = std::max(w, pad_to.width);
  at::Tensor t = (ph > h || pw > w) ? at::zeros({3, ph, pw}, at::kFloat) : at::empty({3, ph, pw}, at::kFloat);
  double alpha[3], beta[3];
  for (int c = 0; c < 3; ++c) {
    static const double mean[3] = {0.485, 0.456, 0.406}, stdv[3] = {0.229, 0.224, 0.225};
    switch (n) {
      case Normalization::ImageNet: alpha[c] = 1.0 / (255.0 * stdv[c]); beta[c] = -mean[c] / stdv[c]; break;
      case Normalization::MinusOneOne: alpha[c] = 1.0 / 127.5; beta[c] = -1.0; break;
      case Normalization::Unit: alpha[c] = 1.0 / 255.0; beta[c] = 0.0; break;
    }
  }
  std::vector<cv::Mat> planes;
  cv::split(img, planes);
  float* base = t.data_ptr<float>();
  for (int c = 0; c < 3; ++c) {
    cv::Mat plane(ph, pw, CV_32F, base + static_cast<std::ptrdiff_t>(c) * ph * pw);
    cv::Mat roi = plane(cv::Rect(0, 0, w, h));
    planes[static_cast<std::size_t>(c)].convertTo(roi, CV_32F, alpha[c], beta[c]);  // writes into the tensor
  }
  return t;
}

// A C-channel float image as a C x H x W tensor.
at::Tensor planar_tensor(const cv::Mat& v) {
  const int c = v.channels();
  at::Tensor t = at::empty({c, v.rows, v.cols}, at::kFloat);
  float* base = t.data_ptr<float>();
  std::vector<cv::Mat> planes;
  for (int i = 0; i < c; ++i) planes.emplace_back(v.rows, v.cols, CV_32F, base + static_cast<std::ptrdiff_t>(i) * v.rows * v.cols);
  if (c == 1) v.copyTo(planes[0]);
  else cv::split(v, planes.data());
  return t;
}

cv::Mat as_float(const cv::Mat& img) {
  if (img.depth() == CV_32F) return img;
  cv::Mat f;
  img.convertTo(f, CV_32F);
  return f;
}

void corrupt_image(RawSample& s, const PipelineOptions& o, std::int64_t index) {
  cv::Mat depth;
  if (needs_depth(o.corruption)) {
    auto d = s.targets.find("depth");
    if (d == s.targets.end())
      throw DataError(s.name + ": corruption " + corruption_name(o.corruption) +
                      " needs the depth target; add depth to [tasks] names");
    depth = d->second.value.clone();
    if (!d->second.mask.empty()) depth.setTo(0.0f, d->second.mask == 0);
  }
  s.image = corrupt(s.image, o.corruption, o.severity, corruption_seed(o.seed, index, o.corruption, o.severity), depth);
}

}  // namespace

std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t index, std::uint64_t stream) {
  return splitmix(splitmix(splitmix(seed) ^ index) ^ stream);
}

std::array<std::int64_t, 2> SamplePipeline::output_size() const {
  if (o_.augment) return {o_.crop_height, o_.crop_width};
  if (o_.height > 0 && o_.width > 0) return {o_.height, o_.width};
  return {0, 0};
}

Sample SamplePipeline::run(RawSample s, std::int64_t index, std::uint64_t draw) const {
  Rng rng(mix_seed(o_.seed, static_cast<std::uint64_t>(index), kAugmentStream + (draw << 32)));
  cv::Size pad_to(0, 0);
  if (o_.augment) {
    // Geometric steps work on 8-bit or float images; interpolation and colour changes need float.
    if (o_.scale_min != 1.0 || o_.scale_max != 1.0 || o_.photometric) s.image = as_float(s.image);
    // 1. random scale
    if (o_.scale_min != 1.0 || o_.scale_max != 1.0) {
      const double f = rng.uniform(o_.scale_min, o_.scale_max);
      const cv::Size size(std::max(1, static_cast<int>(s.image.cols * f + 0.5)),
                          std::max(1, static_cast<int>(s.image.rows * f + 0.5)));
      resize_all(s, size, false);
      for (auto& [name, t] : s.targets)
        if (t.divide_by_scale) t.value /= f;
    }
    // 2. random crop, balanced on the semseg labels when there are any
    const int ch = std::min(o_.crop_height, s.image.rows), cw = std::min(o_.crop_width, s.image.cols);
    auto pick = [&] {
      const int y = static_cast<int>(rng.integer(0, s.image.rows - ch));
      const int x = static_cast<int>(rng.integer(0, s.image.cols - cw));
      return cv::Rect(x, y, cw, ch);
    };
    cv::Rect r = pick();
    auto seg = s.targets.find("semseg");
    if (seg != s.targets.end() && o_.cat_max_ratio < 1.0) {
      for (int attempt = 0; attempt < 10; ++attempt) {
        if (crop_is_balanced(seg->second.value(r), o_.cat_max_ratio)) break;
        r = pick();
      }
    }
    if (r.size() != s.image.size()) crop_all(s, r);
    // 3. flip
    if (o_.flip && rng.bernoulli(0.5)) flip_all(s, o_.flip_normals);
    // 4. photometric distortion
    if (o_.photometric) photometric_distortion(s.image, rng);
    pad_to = cv::Size(o_.crop_width, o_.crop_height);
  } else if (o_.height > 0 && o_.width > 0) {
    const cv::Size target(o_.width, o_.height);
    if (s.image.size() != target && (o_.resize_mode == ResizeMode::Resize || s.image.rows > o_.height ||
                                     s.image.cols > o_.width))
      s.image = as_float(s.image);
    if (o_.resize_mode == ResizeMode::Resize) {
      resize_all(s, target, true);
    } else {
      if (s.image.rows > o_.height || s.image.cols > o_.width) {
        const double f = std::min(static_cast<double>(o_.height) / s.image.rows, static_cast<double>(o_.width) / s.image.cols);
        const cv::Size size(std::min(o_.width, std::max(1, static_cast<int>(s.image.cols * f + 0.5))),
                            std::min(o_.height, std::max(1, static_cast<int>(s.image.rows * f + 0.5))));
        resize_all(s, size, true);
      }
      pad_to = target;
    }
  }
  if (o_.corruption != Corruption::None && o_.severity > 0) corrupt_image(s, o_, index);
  if (pad_to.area() > 0) pad_targets(s, pad_to);

  Sample out;
  out.image = image_tensor(s.image, o_.normalization, pad_to);
  if (o_.noise_alpha > 0.0) {
    const double sigma = out.image.std(/*unbiased=*/false).item<double>();
    auto gen = at::make_generator<at::CPUGeneratorImpl>(mix_seed(o_.seed, static_cast<std::uint64_t>(index), kNoiseStream));
    out.image.add_(at::randn(out.image.sizes(), gen, at::kFloat).mul_(o_.noise_alpha * sigma));
  }
  for (auto& [name, t] : s.targets) {
    cv::Mat v = t.value.isContinuous() ? t.value : t.value.clone();
    if (t.kind == TargetKind::Labels) {
      auto labels = at::from_blob(v.data, {v.rows, v.cols}, at::kInt).to(at::kLong);
      out.masks[name] = labels.ne(255).unsqueeze(0);
      out.targets[name] = labels;
    } else {
      auto values = planar_tensor(v);
      at::Tensor mask;
      if (t.mask.empty()) {
        mask = at::ones({1, v.rows, v.cols}, at::kBool);
      } else {
        cv::Mat m = t.mask.isContinuous() ? t.mask : t.mask.clone();
        mask = at::from_blob(m.data, {1, m.rows, m.cols}, at::kByte).ne(0);
      }
      if (!t.mask.empty()) values.masked_fill_(mask.logical_not().expand_as(values), 0.0);
      out.targets[name] = values;
      out.masks[name] = mask;
    }
  }
  return out;
}

}  // namespace s4t::data
