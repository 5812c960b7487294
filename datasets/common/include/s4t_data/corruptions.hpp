#pragma once
// Image corruptions for shift benchmarks (docs/corruptions.md): the 15 ImageNet-C corruptions and the
// 4 extra ones of Hendrycks & Dietterich (2019) as the `imagecorruptions` package defines them, plus
// three depth-aware ones after 3D Common Corruptions (Kar et al., 2022). Written with OpenCV only.
// Applied to the image in [0, 255] before normalisation; targets are never touched. A corruption is a
// deterministic function of (image, depth, seed, severity): the caller derives the seed from
// (run seed, sample index, corruption, severity) with corruption_seed().
#include <cstdint>
#include <opencv2/core/mat.hpp>
#include <string>
#include <utility>
#include <vector>

#include "s4t/option_binding.hpp"

namespace s4t::data {

enum class Corruption {
  None,
  GaussianNoise,
  ShotNoise,
  ImpulseNoise,
  DefocusBlur,
  GlassBlur,
  MotionBlur,
  ZoomBlur,
  Snow,
  Frost,
  Fog,
  Brightness,
  Contrast,
  Elastic,
  Pixelate,
  Jpeg,
  SpeckleNoise,
  GaussianBlur,
  Spatter,
  Saturate,
  Fog3d,
  NearFocus,
  FarFocus,
};

/// Option names in declaration order ("none" first); the 15 standard ones are kStandardCorruptions.
const std::vector<std::pair<std::string, Corruption>>& corruption_choices();
extern const char* const kStandardCorruptions[15];
const std::string& corruption_name(Corruption c);

/// True for fog_3d, near_focus and far_focus.
bool needs_depth(Corruption c);

/// The `corruption` and `severity` options of [data.*], shared by every dataset plugin.
struct CorruptionSettings {
  Corruption corruption = Corruption::None;
  std::int64_t severity = 5;
};
Binding<CorruptionSettings> corruption_binding();

/// Seed of one image's corruption: splitmix mix of (seed, index, corruption, severity).
std::uint64_t corruption_seed(std::uint64_t seed, std::int64_t index, Corruption c, int severity);

/// `image`: CV_32FC3 or CV_8UC3, R,G,B in [0, 255]. `depth`: CV_32FC1 of the image's size (metres or any
/// monotone distance; values <= 0 or non-finite are invalid), required when needs_depth(c). Returns a
/// CV_32FC3 image in [0, 255]. Severity 0 (or Corruption::None) returns the image unchanged (as float).
/// Throws std::invalid_argument for a severity outside 0..5 or a missing depth.
cv::Mat corrupt(const cv::Mat& image, Corruption c, int severity, std::uint64_t seed, const cv::Mat& depth = cv::Mat());

}  // namespace s4t::data
