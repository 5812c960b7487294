#pragma once
// From decoded modalities to a normalised s4t::Sample: source augmentation (docs/datasets.md),
// test-time resizing or padding to one size, image normalisation and the Gaussian-noise shift of
// supplement Table 2.
//
// Augmentation (ATRC/mmseg recipe, as the S4T code applies it to NYUD and PASCAL):
//   1. random scale s ~ U(scale_min, scale_max): image bilinear, targets nearest; depth divided by s
//      (a zoomed-in view looks closer);
//   2. random crop to crop_height x crop_width; up to 10 crop positions are tried until no single class
//      covers 75 % (cat_max_ratio) or more of the crop's labelled semseg pixels (and at least two classes
//      are present), else the last one is kept; a smaller image is cropped whole and padded in step 6;
//   3. horizontal flip with p = 0.5, negating the x component of normals (flip_normals);
//   4. photometric distortion on the 0..255 image (mmseg PhotoMetricDistortion): brightness +-32,
//      then contrast [0.5, 1.5] either first or last (random order), saturation [0.5, 1.5], hue +-18
//      OpenCV units (+-36 degrees); each with p = 0.5; values clipped to [0, 255];
//   5. the corruption below, if any, then normalisation; 6. padding to the crop size (image 0 after
//      normalisation, labels 255, other targets invalid).
// Randomness: one std::mt19937_64 per call, seeded from (seed, sample index, draw). With
// augment_draws = "per_index" draw is always 0, so a sample's augmentation is a deterministic function of
// (seed, index): identical in every epoch and for any number of loader threads. With "per_access" draw
// is the number of earlier get() calls of that index, so each epoch sees a new augmentation; it is still
// reproducible for an uninterrupted run (the host loads every index once per epoch), but not across a
// resume from a checkpoint, which restarts the counts.
// Test time (no augmentation): resize_mode "resize" resizes to height x width (image bilinear, each
// target with its own interpolation), "pad" pads bottom/right to height x width (downscaling first,
// keeping the aspect ratio, when the image is larger); 0 x 0 keeps the native size.
// Corruption (docs/corruptions.md): after augmentation or test-time sizing, on the 0..255 image at its
// output size before padding and normalisation; the depth-aware ones read the "depth" target (so the
// depth task must be loaded). Seeded from (seed, index, corruption, severity), the same every pass.
// Noise: noise_alpha > 0 adds N(0, (alpha * sigma_img)^2) to the normalised image, sigma_img being the
// standard deviation of that normalised image (all channels and pixels, per image); the noise is seeded
// from (seed, index) only, so an image gets the same noise in every pass.
#include <array>
#include <cstdint>
#include <map>
#include <string>

#include <opencv2/core/mat.hpp>
#include <opencv2/imgproc.hpp>

#include "s4t/batch.hpp"
#include "s4t_data/corruptions.hpp"

namespace s4t::data {

enum class TargetKind { Labels, Regression };

/// One task's target at the image's resolution.
struct Target {
  TargetKind kind = TargetKind::Regression;
  cv::Mat value;                          ///< Labels: CV_32SC1 (class index or 255); Regression: CV_32FC(C)
  cv::Mat mask;                           ///< Regression: CV_8UC1, non-zero = valid. Unused for labels.
  int interpolation = cv::INTER_NEAREST;  ///< used by the test-time resize
  bool negate_x_on_flip = false;          ///< surface normals
  bool divide_by_scale = false;           ///< metric depth under random scaling
};

/// A decoded sample before the geometric transforms.
struct RawSample {
  std::string name;                        ///< for messages
  cv::Mat image;                           ///< CV_8UC3 or CV_32FC3, R,G,B in [0, 255]
  std::map<std::string, Target> targets;
};

enum class Normalization { ImageNet, MinusOneOne, Unit };
enum class ResizeMode { Resize, Pad };
enum class AugmentDraws { PerIndex, PerAccess };

struct PipelineOptions {
  bool augment = false;
  AugmentDraws draws = AugmentDraws::PerIndex;
  int crop_height = 0, crop_width = 0;
  double scale_min = 1.0, scale_max = 1.0;
  double cat_max_ratio = 0.75;
  bool flip = true;
  bool flip_normals = true;
  bool photometric = false;
  int height = 0, width = 0;  ///< test-time size (0 = native)
  ResizeMode resize_mode = ResizeMode::Resize;
  Normalization normalization = Normalization::ImageNet;
  Corruption corruption = Corruption::None;
  int severity = 5;
  double noise_alpha = 0.0;
  std::uint64_t seed = 0;
};

class SamplePipeline {
 public:
  explicit SamplePipeline(PipelineOptions options) : o_(options) {}
  const PipelineOptions& options() const { return o_; }

  /// Transforms `raw` (consumed) into a Sample. `draw` is 0 unless augment_draws = per_access.
  Sample run(RawSample raw, std::int64_t index, std::uint64_t draw) const;

  /// Size of every sample run() returns, or {0, 0} when it is the native size.
  std::array<std::int64_t, 2> output_size() const;

 private:
  PipelineOptions o_;
};

/// Mixes the seed, index and a stream id into one 64-bit seed (splitmix64 steps).
std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t index, std::uint64_t stream);

}  // namespace s4t::data
