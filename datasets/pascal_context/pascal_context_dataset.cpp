// The `pascal_context` dataset: PASCAL-Context in the multi-task layout of MTI-Net's PASCAL_MT.tgz
// (docs/datasets.md#pascal_context). Tasks semseg (VOC 21 classes or a shared subset), normals (distilled), edge
// (derived from the 459-class LabelMap). No depth.
#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "s4t/error.hpp"
#include "s4t/plugin.hpp"
#include "s4t_data/class_maps.hpp"
#include "s4t_data/dataset_options.hpp"
#include "s4t_data/image_io.hpp"
#include "s4t_data/mat_io.hpp"
#include "s4t_data/real_dataset.hpp"
#include "s4t_data/thinning.hpp"

#include <ATen/ops/roll.h>

namespace {

namespace fs = std::filesystem;
using namespace s4t::data;

constexpr int kContextClasses = 459;

CommonDefaults defaults() {
  CommonDefaults d;
  d.root = "data/PASCALContext";
  d.splits = {"train", "val"};
  d.source_split = "train";
  d.target_split = "val";
  d.class_choices = class_choices(DatasetKind::Pascal);
  d.crop_height = 512;
  d.crop_width = 512;
  d.height = 512;  // images are at most 500 px: padded to 512 x 512 (S4T's PadImage)
  d.width = 512;
  d.resize_mode = "pad";
  d.scale_min = 0.5;
  d.scale_max = 2.0;
  d.photometric = true;
  d.normalize = "imagenet";
  return d;
}

struct Settings {
  CommonSettings common;
  bool mask_normals = true;  ///< normals_mask = "nyu_classes"
  bool pad_center = false;   ///< pad = "center"
};

// Hidden label target that marks the image's own pixels through the shared pipeline: its padding becomes
// 255, so the sample's mask for it is the unpadded region after every resize and crop (get()).
const char* const kExtentProbe = "__pascal_context_extent";

const s4t::Binding<Settings>& binding() {
  static const auto b =
      s4t::Binding<Settings>()
          .group(&Settings::common, common_binding(defaults(), "pascal_context"))
          .choice("normals_mask", &Settings::mask_normals, "nyu_classes", {{"nyu_classes", true}, {"none", false}},
                  "keep distilled normals only on PASCAL-Context classes that exist in NYUD (nyu_classes, as "
                  "MTL-PyTorch) or everywhere (none)")
          .choice("pad", &Settings::pad_center, "bottom_right", {{"bottom_right", false}, {"center", true}},
                  "where padding to the crop size (source) or to height x width (target) goes: bottom/right, or "
                  "split evenly with the image centred (floor of half the excess on the top/left), as the released "
                  "S4T code's PadImage does (data/transforms.py); image, labels and masks alike");
  return b;
}

class PascalContextDataset final : public RealDataset {
 public:
  PascalContextDataset(const s4t::DatasetContext& ctx, const Settings& s)
      : RealDataset("pascal_context", common_options(ctx, s.common, defaults(), "pascal_context")),
        mapping_(make_label_mapping(DatasetKind::Pascal, common().classes)),
        mask_normals_(s.mask_normals),
        pad_center_(s.pad_center) {
    select_tasks({s4t::semseg_task(mapping_.class_names), s4t::normals_task(), s4t::edge_task()});
    needs_mat_ = wants("edge") || (wants("normals") && mask_normals_);
    if (needs_mat_ && !have_mat_support())
      throw s4t::ConfigError(
          "pascal_context: the edge task (and normals with normals_mask = \"nyu_classes\") needs the "
          "pascal-context/trainval/<id>.mat label maps, but this build has no MATLAB .mat support; install "
          "libmatio-dev and rebuild, or drop those tasks");
    normals_valid_.assign(kContextClasses + 1, 0);
    for (auto id : pascal_context_normals_valid_ids()) normals_valid_[static_cast<std::size_t>(id)] = 1;

    const fs::path& root = common().root;
    require_directory(root, "PASCAL-Context root");
    const fs::path split_file = root / "ImageSets" / "Context" / (common().split + ".txt");
    auto ids = read_lines(split_file, "PASCAL-Context split file");
    if (ids.empty()) throw s4t::DataError(split_file.string() + ": the split file lists no image ids");

    std::vector<std::string> missing(ids.size());
    std::vector<fs::path> semseg_files(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      std::error_code ec;
      auto check = [&](const fs::path& f) {
        if (missing[i].empty() && !fs::exists(f, ec)) missing[i] = f.string();
      };
      check(root / "JPEGImages" / (ids[i] + ".jpg"));
      if (wants("semseg")) {
        const fs::path voc = root / "semseg" / "VOC12" / (ids[i] + ".png");
        const fs::path context = root / "semseg" / "pascal-context" / (ids[i] + ".png");
        semseg_files[i] = fs::exists(voc, ec) ? voc : context;
        if (missing[i].empty() && !fs::exists(semseg_files[i], ec))
          missing[i] = voc.string() + " (nor " + context.string() + ")";
      }
      if (wants("normals")) check(root / "normals_distill" / (ids[i] + ".png"));
      if (needs_mat_) check(mat_file(ids[i]));
    }
    for (auto i : keep_complete(missing, ids.size())) {
      ids_.push_back(ids[i]);
      semseg_files_.push_back(semseg_files[i]);
    }
    if (common().max_samples > 0 && static_cast<std::int64_t>(ids_.size()) > common().max_samples) {
      ids_.resize(static_cast<std::size_t>(common().max_samples));
      semseg_files_.resize(ids_.size());
    }
    if (ids_.empty())
      throw s4t::DataError("pascal_context: no usable samples in split '" + common().split + "' of " + root.string());
    set_count(ids_.size());
    set_native_size({0, 0});  // image sizes vary (at most 500 px)
    set_summary("at " + root.string());
  }

 protected:
  std::string sample_name(std::int64_t index) const override { return ids_[static_cast<std::size_t>(index)]; }

 public:
  // pad = "center": the pipeline pads bottom/right with constants (image 0 after normalisation, labels
  // 255, targets 0 with mask 0); rolling every map by half the excess moves the image to the centre and
  // that constant padding to the four sides, exactly what padding centred would give (a Gaussian-noise
  // shift, drawn over the padded image, moves with it).
  s4t::Sample get(std::int64_t index) const override {
    s4t::Sample out = RealDataset::get(index);
    if (!pad_center_) return out;
    auto probe = out.masks.find(kExtentProbe);
    if (probe == out.masks.end()) return out;
    const at::Tensor inside = probe->second.squeeze(0);  // H x W, true on the image's own pixels
    const std::int64_t height = inside.size(0), width = inside.size(1);
    const std::int64_t h = inside.any(1).sum().item<std::int64_t>(), w = inside.any(0).sum().item<std::int64_t>();
    out.masks.erase(kExtentProbe);
    out.targets.erase(kExtentProbe);
    const std::int64_t dy = (height - h) / 2, dx = (width - w) / 2;
    if (dy == 0 && dx == 0) return out;
    auto centre = [&](const at::Tensor& t) { return at::roll(t, {dy, dx}, {-2, -1}); };
    out.image = centre(out.image);
    for (auto& [name, t] : out.targets) t = centre(t);
    for (auto& [name, m] : out.masks) m = centre(m);
    return out;
  }

 protected:

  RawSample load(std::int64_t index) const override {
    const std::size_t i = static_cast<std::size_t>(index);
    const std::string& id = ids_[i];
    const fs::path& root = common().root;
    RawSample s;
    s.name = id;
    const fs::path img_file = root / "JPEGImages" / (id + ".jpg");
    s.image = read_rgb_image(img_file, "PASCAL image");
    if (pad_center_) {
      Target probe;
      probe.kind = TargetKind::Labels;
      probe.value = cv::Mat(s.image.rows, s.image.cols, CV_32SC1, cv::Scalar(0));
      s.targets[kExtentProbe] = probe;
    }

    cv::Mat context;  // 459-class LabelMap
    if (needs_mat_) {
      const fs::path f = mat_file(id);
      context = read_mat_int_matrix(f, "LabelMap", "PASCAL-Context label map");
      require_size(context, s.image, f, "LabelMap", img_file);
      double lo = 0, hi = 0;
      cv::Point lo_at, hi_at;
      cv::minMaxLoc(context, &lo, &hi, &lo_at, &hi_at);
      if (lo < 0 || hi > kContextClasses) {
        const bool low = lo < 0;
        const cv::Point at = low ? lo_at : hi_at;
        fail(f, "LabelMap value " + std::to_string(static_cast<long long>(low ? lo : hi)) + " at row " + std::to_string(at.y) +
                    ", column " + std::to_string(at.x) + " is outside the expected range 0.." + std::to_string(kContextClasses));
      }
    }
    if (wants("semseg")) {
      const fs::path& f = semseg_files_[i];
      cv::Mat raw = read_png_raw(f, "PASCAL semseg (0..20 VOC classes, 255 = void)", {1, 8});
      require_size(raw, s.image, f, "the segmentation", img_file);
      Target t;
      t.kind = TargetKind::Labels;
      t.value = map_labels(raw, mapping_, f);
      s.targets["semseg"] = t;
    }
    if (wants("normals")) {
      const fs::path f = root / "normals_distill" / (id + ".png");
      cv::Mat raw = read_png_raw(f, "PASCAL distilled normals (8-bit RGB, n = 2 v / 255 - 1)", {3, 8});
      require_size(raw, s.image, f, "the normal map", img_file);
      Target t;
      raw.convertTo(t.value, CV_32FC3, 2.0 / 255.0, -1.0);
      t.mask = cv::Mat(raw.rows, raw.cols, CV_8UC1, cv::Scalar(1));
      if (mask_normals_) {
        // Distilled normals are only trusted on classes that also exist in NYUD (the distillation
        // source): other pixels are zeroed and become invalid, as in MTL-PyTorch.
        for (int y = 0; y < raw.rows; ++y) {
          const std::int32_t* c = context.ptr<std::int32_t>(y);
          auto* m = t.mask.ptr<std::uint8_t>(y);
          auto* v = t.value.ptr<cv::Vec3f>(y);
          for (int x = 0; x < raw.cols; ++x)
            if (!normals_valid_[static_cast<std::size_t>(c[x])]) {
              m[x] = 0;
              v[x] = cv::Vec3f(0, 0, 0);
            }
        }
      }
      t.negate_x_on_flip = true;
      t.interpolation = cv::INTER_NEAREST;
      s.targets["normals"] = t;
    }
    if (wants("edge")) {
      Target t;
      t.value = label_boundaries(context);
      s.targets["edge"] = t;
    }
    return s;
  }

 private:
  fs::path mat_file(const std::string& id) const { return common().root / "pascal-context" / "trainval" / (id + ".mat"); }

  LabelMapping mapping_;
  bool mask_normals_ = true;
  bool pad_center_ = false;
  bool needs_mat_ = false;
  std::vector<std::uint8_t> normals_valid_;
  std::vector<std::string> ids_;
  std::vector<fs::path> semseg_files_;
};

void register_pascal_context(s4t::Registrar& r) {
  s4t::ComponentInfo info;
  info.name = "pascal_context";
  info.summary = "PASCAL-Context multi-task (PASCAL_MT): semseg, normals, edge";
  info.doc =
      "Reads <root>/ImageSets/Context/{train,val}.txt and, per id: JPEGImages/<id>.jpg, semseg/VOC12/<id>.png "
      "(fallback semseg/pascal-context/<id>.png; 0..20 VOC, 255 void), normals_distill/<id>.png (2 v / 255 - 1, "
      "kept only on PASCAL-Context classes shared with NYUD when normals_mask = nyu_classes), and "
      "pascal-context/trainval/<id>.mat (LabelMap, 459 classes): edge = Guo-Hall thinning (as "
      "skimage.morphology.thin) of |Laplacian(LabelMap)| > 0. Source role: random scale 0.5-2, balanced 512x512 "
      "crop, flip, photometric distortion, ImageNet mean/std; target role: padded to 512x512 (labels 255 in the "
      "padding; bottom/right, or centred with pad = center as the released code). classes = pascal_taskonomy (6) / nyud_pascal (4) / native (21). No depth task.";
  info.schema = binding().schema();
  r.add_dataset(info, [](const s4t::DatasetContext& ctx, const s4t::Options& o) {
    return std::make_shared<PascalContextDataset>(ctx, binding().read(o));
  });
}

}  // namespace

S4T_PLUGIN("s4t.pascal_context", "1.0.0", register_pascal_context)
