#include "s4t_data/dataset_options.hpp"

#include "s4t/error.hpp"
#include "s4t_data/file_io.hpp"

namespace s4t::data {

void add_common_options(Schema& s, const CommonDefaults& d) {
  std::vector<std::string> splits{"auto"};
  splits.insert(splits.end(), d.splits.begin(), d.splits.end());
  s.add_string("root", d.root, "dataset folder (relative paths resolve against the experiment file's folder)")
      .add_string("split", "auto",
                  "which split to read; auto = " + d.source_split + " for the source role, " + d.target_split +
                      " for the target role",
                  splits)
      .add_string("classes", "native",
                  "semantic label space: native (the dataset's own classes) or the shared classes of a "
                  "source->target pair (METHODS.md §1.1); unmapped labels become 255",
                  d.class_choices)
      .add_string("augment", "auto",
                  "source augmentation (random scale, balanced crop, flip, photometric): auto = on for the "
                  "source role, off for the target role",
                  {"auto", "on", "off"})
      .add_string("augment_draws", "per_index",
                  "per_index: a sample's augmentation depends only on (seed, index), the same every epoch; "
                  "per_access: the k-th load of an index uses (seed, index, k), new each epoch",
                  {"per_index", "per_access"})
      .add_int("crop_height", d.crop_height,
               "training crop height = the source train size (0 = height, i.e. the resized size)", 0, 8192)
      .add_int("crop_width", d.crop_width, "training crop width (0 = width)", 0, 8192)
      .add_float("scale_min", d.scale_min, "smallest random scale factor", 0.05, 10.0)
      .add_float("scale_max", d.scale_max, "largest random scale factor", 0.05, 10.0)
      .add_float("cat_max_ratio", 0.75,
                 "retry the crop (up to 10 times) while one class covers this fraction of its labelled pixels "
                 "(1 = never retry)",
                 0.0, 1.0)
      .add_bool("flip", true, "random horizontal flip (p = 0.5) when augmenting")
      .add_bool("flip_normals", true,
                "negate the normals' x component on a flip (false = the S4T Taskonomy loader's quirk)")
      .add_bool("photometric", d.photometric, "photometric distortion (brightness, contrast, saturation, hue) when augmenting")
      .add_int("height", d.height, "test-time output height (0 = native size; batches need one size)", 0, 8192)
      .add_int("width", d.width, "test-time output width (0 = native size)", 0, 8192)
      .add_string("resize_mode", d.resize_mode,
                  "test-time sizing: resize to height x width, or pad bottom/right to it (ignore labels in the "
                  "padding; larger images are first scaled down keeping their aspect ratio)",
                  {"resize", "pad"})
      .add_string("normalize", d.normalize,
                  "image normalisation: imagenet mean/std, minus_one_one ([0,255] -> [-1,1]) or unit ([0,1])",
                  {"imagenet", "minus_one_one", "unit"})
      .add_float("noise_alpha", 0.0,
                 "add Gaussian noise with std alpha * sigma_img to the normalised image (supplement Table 2; "
                 "sigma_img = std of that image)",
                 0.0, 100.0)
      .add_string("on_error", "fail",
                  "bad or missing files: fail (DataError) or skip (drop/substitute the sample, count it, warn)",
                  {"fail", "skip"})
      .add_int("max_samples", 0, "keep only the first N samples of the split (0 = all)", 0);
}

CommonOptions parse_common_options(const DatasetContext& ctx, const Options& o, const CommonDefaults& d,
                                   const std::string& dataset) {
  CommonOptions c;
  c.role = ctx.role;
  c.requested_tasks = ctx.tasks;
  c.root = resolve_path(ctx.config_dir, o.get_string("root"));
  c.split = o.get_string("split");
  if (c.split == "auto") c.split = ctx.role == "source" ? d.source_split : d.target_split;
  c.classes = o.get_string("classes");
  c.skip_bad = o.get_string("on_error") == "skip";
  c.max_samples = o.get_int("max_samples");

  PipelineOptions& p = c.pipeline;
  const std::string augment = o.get_string("augment");
  p.augment = augment == "on" || (augment == "auto" && ctx.role == "source");
  p.draws = o.get_string("augment_draws") == "per_access" ? AugmentDraws::PerAccess : AugmentDraws::PerIndex;
  p.crop_height = static_cast<int>(o.get_int("crop_height"));
  p.crop_width = static_cast<int>(o.get_int("crop_width"));
  p.scale_min = o.get_float("scale_min");
  p.scale_max = o.get_float("scale_max");
  if (p.scale_min > p.scale_max)
    throw ConfigError(dataset + ": scale_min (" + std::to_string(p.scale_min) + ") is larger than scale_max (" +
                      std::to_string(p.scale_max) + ")");
  p.cat_max_ratio = o.get_float("cat_max_ratio");
  p.flip = o.get_bool("flip");
  p.flip_normals = o.get_bool("flip_normals");
  p.photometric = o.get_bool("photometric");
  p.height = static_cast<int>(o.get_int("height"));
  p.width = static_cast<int>(o.get_int("width"));
  if ((p.height == 0) != (p.width == 0))
    throw ConfigError(dataset + ": height and width must both be 0 (native size) or both be set; got " +
                      std::to_string(p.height) + " x " + std::to_string(p.width));
  if (p.crop_height == 0 || p.crop_width == 0) {
    if (p.crop_height != 0 || p.crop_width != 0)
      throw ConfigError(dataset + ": crop_height and crop_width must both be 0 (= height x width) or both be set");
    p.crop_height = p.height;
    p.crop_width = p.width;
    if (p.augment && p.crop_height == 0)
      throw ConfigError(dataset + ": augmentation needs a crop size: set crop_height/crop_width (or height/width)");
  }
  p.resize_mode = o.get_string("resize_mode") == "pad" ? ResizeMode::Pad : ResizeMode::Resize;
  const std::string n = o.get_string("normalize");
  p.normalization = n == "imagenet" ? Normalization::ImageNet : n == "unit" ? Normalization::Unit : Normalization::MinusOneOne;
  p.noise_alpha = o.get_float("noise_alpha");
  p.seed = ctx.seed;
  return c;
}

}  // namespace s4t::data
