#include "s4t_data/dataset_options.hpp"

#include "s4t/error.hpp"
#include "s4t_data/file_io.hpp"

namespace s4t::data {

Binding<CommonSettings> common_binding(const CommonDefaults& d, const std::string& dataset) {
  using S = CommonSettings;
  std::vector<std::string> splits{"auto"};
  splits.insert(splits.end(), d.splits.begin(), d.splits.end());
  return Binding<S>()
      .text("root", &S::root, d.root, "dataset folder (relative paths resolve against the experiment file's folder)")
      .text("split", &S::split, "auto",
            "which split to read; auto = " + d.source_split + " for the source role, " + d.target_split +
                " for the target role",
            splits)
      .text("classes", &S::classes, "native",
            "semantic label space: native (the dataset's own classes) or the shared classes of a "
            "source->target pair (docs/datasets.md#shared-classes-classes); unmapped labels become 255",
            d.class_choices)
      .choice("augment", &S::augment, "auto", {{"auto", Augment::Auto}, {"on", Augment::On}, {"off", Augment::Off}},
              "source augmentation (random scale, balanced crop, flip, photometric): auto = on for the "
              "source role, off for the target role")
      .choice("augment_draws", &S::draws, "per_index",
              {{"per_index", AugmentDraws::PerIndex}, {"per_access", AugmentDraws::PerAccess}},
              "per_index: a sample's augmentation depends only on (seed, index), the same every epoch; "
              "per_access: the k-th load of an index uses (seed, index, k), new each epoch")
      .integer("crop_height", &S::crop_height, d.crop_height,
               "training crop height = the source train size (0 = height, i.e. the resized size)", 0, 8192)
      .integer("crop_width", &S::crop_width, d.crop_width, "training crop width (0 = width)", 0, 8192)
      .real("scale_min", &S::scale_min, d.scale_min, "smallest random scale factor", 0.05, 10.0)
      .real("scale_max", &S::scale_max, d.scale_max, "largest random scale factor", 0.05, 10.0)
      .real("cat_max_ratio", &S::cat_max_ratio, 0.75,
            "retry the crop (up to 10 times) while one class covers this fraction of its labelled pixels "
            "(1 = never retry)",
            0.0, 1.0)
      .flag("flip", &S::flip, true, "random horizontal flip (p = 0.5) when augmenting")
      .flag("flip_normals", &S::flip_normals, true,
            "negate the normals' x component on a flip (false = the S4T Taskonomy loader's quirk)")
      .flag("photometric", &S::photometric, d.photometric,
            "photometric distortion (brightness, contrast, saturation, hue) when augmenting")
      .integer("height", &S::height, d.height, "test-time output height (0 = native size; batches need one size)", 0,
               8192)
      .integer("width", &S::width, d.width, "test-time output width (0 = native size)", 0, 8192)
      .choice("resize_mode", &S::resize_mode, d.resize_mode, {{"resize", ResizeMode::Resize}, {"pad", ResizeMode::Pad}},
              "test-time sizing: resize to height x width, or pad bottom/right to it (ignore labels in the "
              "padding; larger images are first scaled down keeping their aspect ratio)")
      .choice("normalize", &S::normalization, d.normalize,
              {{"imagenet", Normalization::ImageNet},
               {"minus_one_one", Normalization::MinusOneOne},
               {"unit", Normalization::Unit}},
              "image normalisation: imagenet mean/std, minus_one_one ([0,255] -> [-1,1]) or unit ([0,1])")
      .group(&S::corruption, corruption_binding())
      .real("noise_alpha", &S::noise_alpha, 0.0,
            "add Gaussian noise with std alpha * sigma_img to the normalised image (supplement Table 2; "
            "sigma_img = std of that image)",
            0.0, 100.0)
      .choice("on_error", &S::skip_bad, "fail", {{"fail", false}, {"skip", true}},
              "bad or missing files: fail (DataError) or skip (drop/substitute the sample, count it, warn)")
      .integer("max_samples", &S::max_samples, 0, "keep only the first N samples of the split (0 = all)", 0)
      .then([dataset](S& s, const Options&) {
        if (s.scale_min > s.scale_max)
          throw ConfigError(dataset + ": scale_min (" + std::to_string(s.scale_min) + ") is larger than scale_max (" +
                            std::to_string(s.scale_max) + ")");
        if ((s.height == 0) != (s.width == 0))
          throw ConfigError(dataset + ": height and width must both be 0 (native size) or both be set; got " +
                            std::to_string(s.height) + " x " + std::to_string(s.width));
        if (s.crop_height == 0 || s.crop_width == 0) {
          if (s.crop_height != 0 || s.crop_width != 0)
            throw ConfigError(dataset +
                              ": crop_height and crop_width must both be 0 (= height x width) or both be set");
          s.crop_height = s.height;
          s.crop_width = s.width;
        }
      });
}

CommonOptions common_options(const DatasetContext& ctx, const CommonSettings& s, const CommonDefaults& d,
                             const std::string& dataset) {
  CommonOptions c;
  c.role = ctx.role;
  c.requested_tasks = ctx.tasks;
  c.root = resolve_path(ctx.config_dir, s.root);
  c.split = s.split;
  if (c.split == "auto") c.split = ctx.role == "source" ? d.source_split : d.target_split;
  c.classes = s.classes;
  c.skip_bad = s.skip_bad;
  c.max_samples = s.max_samples;

  PipelineOptions& p = c.pipeline;
  p.augment = s.augment == Augment::On || (s.augment == Augment::Auto && ctx.role == "source");
  p.draws = s.draws;
  p.crop_height = static_cast<int>(s.crop_height);
  p.crop_width = static_cast<int>(s.crop_width);
  if (p.augment && p.crop_height == 0)
    throw ConfigError(dataset + ": augmentation needs a crop size: set crop_height/crop_width (or height/width)");
  p.scale_min = s.scale_min;
  p.scale_max = s.scale_max;
  p.cat_max_ratio = s.cat_max_ratio;
  p.flip = s.flip;
  p.flip_normals = s.flip_normals;
  p.photometric = s.photometric;
  p.height = static_cast<int>(s.height);
  p.width = static_cast<int>(s.width);
  p.resize_mode = s.resize_mode;
  p.normalization = s.normalization;
  p.corruption = s.corruption.corruption;
  p.severity = static_cast<int>(s.corruption.severity);
  p.noise_alpha = s.noise_alpha;
  p.seed = ctx.seed;
  return c;
}

}  // namespace s4t::data
