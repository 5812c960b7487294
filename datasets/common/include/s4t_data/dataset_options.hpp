#pragma once
// The options every real dataset plugin accepts (each plugin adds its own on top): one shared Binding
// group, read into CommonSettings, then resolved for one dataset instance (role, config folder, seed).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "s4t/context.hpp"
#include "s4t/option_binding.hpp"
#include "s4t_data/sample_pipeline.hpp"

namespace s4t::data {

/// Per-dataset defaults of the common options.
struct CommonDefaults {
  std::string root;                        ///< e.g. "data/NYUDv2"
  std::vector<std::string> splits;         ///< accepted `split` values after "auto"
  std::string source_split, target_split;  ///< what "auto" means for role source / target
  std::vector<std::string> class_choices;  ///< "native" + the pairs the dataset belongs to
  std::int64_t crop_height = 0, crop_width = 0;
  std::int64_t height = 0, width = 0;
  std::string resize_mode = "resize";
  double scale_min = 0.5, scale_max = 2.0;
  bool photometric = true;
  std::string normalize = "imagenet";
};

enum class Augment { Auto, On, Off };

/// The common options as written in TOML (role-independent checks done, crop size defaulted).
struct CommonSettings {
  std::string root;   ///< as written (relative to the config folder)
  std::string split;  ///< may be "auto"
  std::string classes;
  Augment augment = Augment::Auto;
  AugmentDraws draws = AugmentDraws::PerIndex;
  std::int64_t crop_height = 0, crop_width = 0;  ///< = height x width when both were 0
  double scale_min = 0.5, scale_max = 2.0;
  double cat_max_ratio = 0.75;
  bool flip = true;
  bool flip_normals = true;
  bool photometric = true;
  std::int64_t height = 0, width = 0;
  ResizeMode resize_mode = ResizeMode::Resize;
  Normalization normalization = Normalization::ImageNet;
  CorruptionSettings corruption;
  double noise_alpha = 0.0;
  bool skip_bad = false;  ///< on_error = "skip"
  std::int64_t max_samples = 0;
};

/// The shared group: `.group(&Settings::common, common_binding(defaults(), "nyudv2"))`. Reading throws
/// ConfigError naming `dataset` for inconsistent values (e.g. only one of height/width).
Binding<CommonSettings> common_binding(const CommonDefaults& defaults, const std::string& dataset);

struct CommonOptions {
  std::filesystem::path root;  ///< resolved against the config folder
  std::string split;           ///< "auto" resolved by role
  std::string classes;
  bool skip_bad = false;       ///< on_error = "skip"
  std::int64_t max_samples = 0;
  std::vector<std::string> requested_tasks;  ///< DatasetContext::tasks (empty = all)
  std::string role;
  PipelineOptions pipeline;
};

/// The common settings for one dataset instance: "auto" resolved by the role, root by the config folder,
/// the run seed. Throws ConfigError when augmentation is on without a crop size.
CommonOptions common_options(const DatasetContext& ctx, const CommonSettings& settings, const CommonDefaults& defaults,
                             const std::string& dataset);

}  // namespace s4t::data
