#include "synthetic_dataset.hpp"

#include <ATen/ops/empty.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "edges.hpp"
#include "random.hpp"
#include "raycast.hpp"
#include "s4t/error.hpp"

namespace s4t::synthetic {

namespace {

constexpr std::uint64_t kTargetNoiseStream = 0x6e6f697365ull;  // "noise"
// ImageNet statistics, as for the real datasets (docs/datasets.md), so the same network sees both.
constexpr float kMean[3] = {0.485f, 0.456f, 0.406f};
constexpr float kStd[3] = {0.229f, 0.224f, 0.225f};

/// The style of a domain: the target's applies the appearance family, then the lighting family's light.
Style domain_style(const SyntheticOptions& o) {
  const bool target = o.target;
  Style style = make_style(target && o.target_shift.appearance, o.appearance, o.width);
  if (target && o.target_shift.lighting)
    shift_lighting(style, make_style(false, o.appearance, o.width), o.target_shift.lighting_to, o.appearance.shift);
  return style;
}

at::Tensor new_tensor(std::initializer_list<std::int64_t> shape, at::ScalarType type) {
  return at::empty(shape, at::TensorOptions().dtype(type));
}

}  // namespace

SyntheticDataset::SyntheticDataset(SyntheticOptions options)
    : options_(std::move(options)),
      scene_(options_.target ? shifted_scene(options_.scene, options_.target_shift, options_.appearance.shift)
                             : options_.scene),
      style_(domain_style(options_)) {}

std::vector<s4t::TaskSpec> SyntheticDataset::tasks() const {
  return {s4t::semseg_task(class_names()), s4t::depth_task(), s4t::normals_task(), s4t::edge_task()};
}

bool SyntheticDataset::wants(const std::string& task) const {
  return options_.tasks.empty() || std::find(options_.tasks.begin(), options_.tasks.end(), task) != options_.tasks.end();
}

std::string SyntheticDataset::describe() const {
  std::string d = "synthetic " + std::string(options_.target ? "target" : "source") + " domain";
  if (options_.target) {
    const TargetShift& t = options_.target_shift;
    const bool families[] = {t.appearance, t.camera, t.layout, t.lighting};
    std::string names;
    for (size_t k = 0; k < shift_family_names().size(); ++k)
      if (families[k]) names += (names.empty() ? "" : "+") + shift_family_names()[k];
    char shift[32];
    std::snprintf(shift, sizeof shift, "shift %.2g", options_.appearance.shift);
    // The default target (appearance at full strength) keeps its short description.
    if (names != "appearance" || options_.appearance.shift != 1.0f)
      d += " (" + (names.empty() ? std::string("no shift families") : names) + ", " + shift + ")";
  }
  if (options_.corruption != s4t::data::Corruption::None && options_.severity > 0)
    d += ", " + s4t::data::corruption_name(options_.corruption) + " severity " + std::to_string(options_.severity);
  return d + ", " + std::to_string(options_.size) + " images " + std::to_string(options_.width) + "x" +
         std::to_string(options_.height) + ", seed " + std::to_string(options_.seed);
}

// The planar [0, 1] render through the shared corruptions (interleaved 0..255) and back.
void SyntheticDataset::corrupt_planar(std::vector<float>& rgb, const GeometryBuffers& g, std::int64_t index) const {
  const int h = options_.height, w = options_.width;
  const size_t plane = static_cast<size_t>(h) * w;
  cv::Mat image(h, w, CV_32FC3);
  auto* p = image.ptr<cv::Vec3f>();
  for (size_t i = 0; i < plane; ++i)
    for (int c = 0; c < 3; ++c) p[i][c] = 255.0f * rgb[c * plane + i];
  cv::Mat depth(h, w, CV_32F, const_cast<float*>(g.depth.data()));
  const cv::Mat out = s4t::data::corrupt(
      image, options_.corruption, options_.severity,
      s4t::data::corruption_seed(options_.run_seed, index, options_.corruption, options_.severity), depth);
  const auto* q = out.ptr<cv::Vec3f>();
  for (size_t i = 0; i < plane; ++i)
    for (int c = 0; c < 3; ++c) rgb[c * plane + i] = q[i][c] / 255.0f;
}

s4t::Sample SyntheticDataset::get(std::int64_t index) const {
  if (index < 0 || index >= options_.size)
    throw s4t::DataError("synthetic dataset: index " + std::to_string(index) + " is out of range; the dataset has " +
                         std::to_string(options_.size) + " samples (0.." + std::to_string(options_.size - 1) + ")");
  const int h = options_.height, w = options_.width;
  const size_t plane = static_cast<size_t>(h) * w;

  // The scene depends on (seed, index) and the domain's scene parameters: both domains show the same
  // geometry at the same index unless the target's camera or layout family moves those parameters.
  const std::uint64_t sample_seed = hash_combine(options_.seed, static_cast<std::uint64_t>(index));
  const Scene scene = generate_scene(sample_seed, scene_);
  const GeometryBuffers g = cast_rays(scene, h, w);

  s4t::Sample sample;
  std::vector<float> rgb(3 * plane);
  shade(scene, g, style_, rgb.data());
  apply_camera(rgb.data(), h, w, style_, hash_combine(sample_seed, kTargetNoiseStream));
  if (options_.corruption != s4t::data::Corruption::None && options_.severity > 0) corrupt_planar(rgb, g, index);
  sample.image = new_tensor({3, h, w}, at::kFloat);
  float* image = sample.image.data_ptr<float>();
  for (int c = 0; c < 3; ++c)
    for (size_t i = 0; i < plane; ++i) image[c * plane + i] = (rgb[c * plane + i] - kMean[c]) / kStd[c];

  // Every ray hits the room, so all masks are true in practice; a miss would be marked invalid.
  auto valid_mask = [&] {
    at::Tensor m = new_tensor({1, h, w}, at::kBool);
    bool* p = m.data_ptr<bool>();
    for (size_t i = 0; i < plane; ++i) p[i] = g.primitive[i] >= 0;
    return m;
  };
  if (wants("semseg")) {
    at::Tensor t = new_tensor({h, w}, at::kLong);
    std::int64_t* p = t.data_ptr<std::int64_t>();
    for (size_t i = 0; i < plane; ++i) p[i] = g.primitive[i] >= 0 ? scene.primitives[g.primitive[i]].cls : 255;
    sample.targets["semseg"] = t;
    sample.masks["semseg"] = valid_mask();
  }
  if (wants("depth")) {
    at::Tensor t = new_tensor({1, h, w}, at::kFloat);
    std::copy(g.depth.begin(), g.depth.end(), t.data_ptr<float>());
    sample.targets["depth"] = t;
    sample.masks["depth"] = valid_mask();
  }
  if (wants("normals")) {
    at::Tensor t = new_tensor({3, h, w}, at::kFloat);
    float* p = t.data_ptr<float>();
    for (size_t i = 0; i < plane; ++i) {
      p[i] = g.normal_camera[i].x;
      p[plane + i] = g.normal_camera[i].y;
      p[2 * plane + i] = g.normal_camera[i].z;
    }
    sample.targets["normals"] = t;
    sample.masks["normals"] = valid_mask();
  }
  if (wants("edge")) {
    at::Tensor t = new_tensor({1, h, w}, at::kFloat);
    edge_map(scene, g, options_.edge_threshold, t.data_ptr<float>());
    sample.targets["edge"] = t;
    sample.masks["edge"] = valid_mask();
  }
  return sample;
}

}  // namespace s4t::synthetic
