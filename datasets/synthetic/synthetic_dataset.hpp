#pragma once
// The `synthetic` dataset: renders sample i on demand from (seed, i); nothing is stored.
#include <cstdint>
#include <string>
#include <vector>

#include "appearance.hpp"
#include "s4t/dataset.hpp"
#include "s4t_data/corruptions.hpp"
#include "scene.hpp"
#include "target_shift.hpp"

namespace s4t::synthetic {

struct GeometryBuffers;

struct SyntheticOptions {
  bool target = false;                ///< domain: false = source, true = target
  std::int64_t size = 512;
  int height = 64, width = 64;
  std::uint64_t seed = 0;
  SceneParams scene;                  ///< the source's; the target's come from target_shift
  AppearanceOptions appearance;       ///< appearance.shift is the strength of every target shift family
  TargetShift target_shift;           ///< families and parameters of the target domain
  float edge_threshold = 0.05f;       ///< relative depth jump that makes an occlusion edge
  std::vector<std::string> tasks;     ///< targets get() fills; empty = all four
  s4t::data::Corruption corruption = s4t::data::Corruption::None;
  int severity = 5;
  std::uint64_t run_seed = 0;         ///< seeds the corruption only
};

/// Thread-safe: get() only reads the immutable options; each call renders into its own buffers.
class SyntheticDataset final : public s4t::Dataset {
 public:
  explicit SyntheticDataset(SyntheticOptions options);

  std::int64_t size() const override { return options_.size; }
  s4t::Sample get(std::int64_t index) const override;
  std::vector<s4t::TaskSpec> tasks() const override;
  std::array<std::int64_t, 2> image_size() const override { return {options_.height, options_.width}; }
  std::string describe() const override;

 private:
  bool wants(const std::string& task) const;
  void corrupt_planar(std::vector<float>& rgb, const GeometryBuffers& g, std::int64_t index) const;

  SyntheticOptions options_;
  SceneParams scene_;                 ///< this domain's scene parameters
  Style style_;                       ///< this domain's appearance
};

}  // namespace s4t::synthetic
