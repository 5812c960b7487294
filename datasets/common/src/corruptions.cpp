#include "s4t_data/corruptions.hpp"

#include <stdexcept>

#include "corruptions_impl.hpp"
#include "s4t_data/sample_pipeline.hpp"

namespace s4t::data {

const char* const kStandardCorruptions[15] = {
    "gaussian_noise",    "shot_noise", "impulse_noise",   "defocus_blur", "glass_blur", "motion_blur",
    "zoom_blur",         "snow",       "frost",           "fog",          "brightness", "contrast",
    "elastic_transform", "pixelate",   "jpeg_compression"};

const std::vector<std::pair<std::string, Corruption>>& corruption_choices() {
  using C = Corruption;
  // The imagecorruptions names, so results line up with published tables.
  static const std::vector<std::pair<std::string, Corruption>> choices{
      {"none", C::None},
      {"gaussian_noise", C::GaussianNoise},
      {"shot_noise", C::ShotNoise},
      {"impulse_noise", C::ImpulseNoise},
      {"defocus_blur", C::DefocusBlur},
      {"glass_blur", C::GlassBlur},
      {"motion_blur", C::MotionBlur},
      {"zoom_blur", C::ZoomBlur},
      {"snow", C::Snow},
      {"frost", C::Frost},
      {"fog", C::Fog},
      {"brightness", C::Brightness},
      {"contrast", C::Contrast},
      {"elastic_transform", C::Elastic},
      {"pixelate", C::Pixelate},
      {"jpeg_compression", C::Jpeg},
      {"speckle_noise", C::SpeckleNoise},
      {"gaussian_blur", C::GaussianBlur},
      {"spatter", C::Spatter},
      {"saturate", C::Saturate},
      {"fog_3d", C::Fog3d},
      {"near_focus", C::NearFocus},
      {"far_focus", C::FarFocus},
  };
  return choices;
}

const std::string& corruption_name(Corruption c) {
  for (const auto& [name, value] : corruption_choices())
    if (value == c) return name;
  throw std::invalid_argument("unknown corruption");
}

bool needs_depth(Corruption c) {
  return c == Corruption::Fog3d || c == Corruption::NearFocus || c == Corruption::FarFocus;
}

Binding<CorruptionSettings> corruption_binding() {
  using S = CorruptionSettings;
  return Binding<S>()
      .choice("corruption", &S::corruption, "none", corruption_choices(),
              "corrupt the image (labels untouched) with an ImageNet-C corruption (imagecorruptions names), "
              "or a depth-aware one (fog_3d, near_focus, far_focus: need the sample's depth); "
              "docs/corruptions.md")
      .integer("severity", &S::severity, 5, "corruption severity (1..5 as published; 0 = no corruption)", 0, 5);
}

std::uint64_t corruption_seed(std::uint64_t seed, std::int64_t index, Corruption c, int severity) {
  constexpr std::uint64_t kCorruptionStream = 0x636f7272ULL;  // "corr"
  return mix_seed(
      seed, static_cast<std::uint64_t>(index),
      kCorruptionStream ^ (static_cast<std::uint64_t>(c) << 40) ^ (static_cast<std::uint64_t>(severity) << 48));
}

cv::Mat corrupt(const cv::Mat& image, Corruption c, int severity, std::uint64_t seed, const cv::Mat& depth) {
  namespace k = corruption;
  if (severity < 0 || severity > 5)
    throw std::invalid_argument("corruption severity must be 0..5, got " + std::to_string(severity));
  if (image.channels() != 3) throw std::invalid_argument("corruptions need a 3-channel image");
  cv::Mat x;
  if (c == Corruption::None || severity == 0) {
    image.convertTo(x, CV_32FC3);
    return x;
  }
  image.convertTo(x, CV_32FC3, 1.0 / 255.0);
  if (needs_depth(c) && (depth.empty() || depth.size() != image.size()))
    throw std::invalid_argument("corruption " + corruption_name(c) + " needs the sample's depth at the image size");
  k::Rng rng(seed);
  cv::Mat y;
  switch (c) {
    case Corruption::None: break;
    case Corruption::GaussianNoise: y = k::gaussian_noise(x, severity, rng); break;
    case Corruption::ShotNoise: y = k::shot_noise(x, severity, rng); break;
    case Corruption::ImpulseNoise: y = k::impulse_noise(x, severity, rng); break;
    case Corruption::DefocusBlur: y = k::defocus_blur(x, severity, rng); break;
    case Corruption::GlassBlur: y = k::glass_blur(x, severity, rng); break;
    case Corruption::MotionBlur: y = k::motion_blur(x, severity, rng); break;
    case Corruption::ZoomBlur: y = k::zoom_blur(x, severity, rng); break;
    case Corruption::Snow: y = k::snow(x, severity, rng); break;
    case Corruption::Frost: y = k::frost(x, severity, rng); break;
    case Corruption::Fog: y = k::fog(x, severity, rng); break;
    case Corruption::Brightness: y = k::brightness(x, severity, rng); break;
    case Corruption::Contrast: y = k::contrast(x, severity, rng); break;
    case Corruption::Elastic: y = k::elastic(x, severity, rng); break;
    case Corruption::Pixelate: y = k::pixelate(x, severity, rng); break;
    case Corruption::Jpeg: y = k::jpeg(x, severity, rng); break;
    case Corruption::SpeckleNoise: y = k::speckle_noise(x, severity, rng); break;
    case Corruption::GaussianBlur: y = k::gaussian_blur(x, severity, rng); break;
    case Corruption::Spatter: y = k::spatter(x, severity, rng); break;
    case Corruption::Saturate: y = k::saturate(x, severity, rng); break;
    case Corruption::Fog3d: y = k::fog_3d(x, depth, severity, rng); break;
    case Corruption::NearFocus: y = k::depth_of_field(x, depth, severity, false, rng); break;
    case Corruption::FarFocus: y = k::depth_of_field(x, depth, severity, true, rng); break;
  }
  return cv::Mat(y * 255.0);
}

}  // namespace s4t::data
