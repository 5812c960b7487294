#pragma once
// The options every real dataset plugin accepts (each plugin adds its own on top) and their parsing.
#include <filesystem>
#include <string>
#include <vector>

#include "s4t/context.hpp"
#include "s4t/options.hpp"
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

void add_common_options(Schema& schema, const CommonDefaults& defaults);

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

/// Reads the common options (ConfigError for inconsistent values, e.g. only one of height/width).
CommonOptions parse_common_options(const DatasetContext& ctx, const Options& options, const CommonDefaults& defaults,
                                   const std::string& dataset);

}  // namespace s4t::data
