// Plugin entry: registers the `synthetic` dataset (the embedded default: no files needed).
#include <cstdint>
#include <memory>
#include <string>

#include "s4t/error.hpp"
#include "s4t/option_binding.hpp"
#include "s4t/plugin.hpp"
#include "s4t_data/corruptions.hpp"
#include "synthetic_dataset.hpp"

namespace {

using s4t::synthetic::SyntheticOptions;

enum class Domain { Auto, Source, Target };

/// [data.*] options of the `synthetic` dataset as read from TOML.
struct Settings {
  Domain domain = Domain::Auto;
  std::int64_t size = 512, height = 64, width = 64, seed = 0;
  std::int64_t objects_min = 3, objects_max = 7;
  double shift = 1.0, noise_std = 0.08, hue_shift = 60.0, blur = 0.6, fov = 60.0, edge_threshold = 0.05;
  bool shadows = true;
  s4t::data::CorruptionSettings corruption;
};

const s4t::Binding<Settings>& binding() {
  using S = Settings;
  static const auto b =
      s4t::Binding<S>()
          .choice("domain", &S::domain, "auto",
                  {{"auto", Domain::Auto}, {"source", Domain::Source}, {"target", Domain::Target}},
                  "appearance domain; auto = the role ([data.source] -> source, [data.target] -> target); "
                  "both domains share the scene layouts")
          .integer("size", &S::size, 512, "number of samples", 1, 1e12)
          .integer("height", &S::height, 64, "image height in pixels", 16, 4096)
          .integer("width", &S::width, 64, "image width in pixels", 16, 4096)
          .integer("seed", &S::seed, 0,
                   "scene seed: sample i is the same image for the same seed (the run seed is not used)", 0, 1e15)
          .integer("objects_min", &S::objects_min, 3, "fewest objects per scene (fewer if they do not fit)", 0, 32)
          .integer("objects_max", &S::objects_max, 7, "most objects per scene", 0, 32)
          .real("shift", &S::shift, 1.0,
                "target domain: strength of the whole appearance shift, 0 = source look, 1 = full", 0, 1)
          .real("noise_std", &S::noise_std, 0.08,
                "target domain: additive Gaussian noise std on [0,1] intensities at shift 1", 0, 1)
          .real("hue_shift", &S::hue_shift, 60.0, "target domain: palette hue rotation in degrees at shift 1", -180,
                180)
          .real("blur", &S::blur, 0.6,
                "target domain: Gaussian blur sigma at shift 1, in pixels per 64 pixels of width", 0, 8)
          .real("fov", &S::fov, 60.0, "horizontal field of view of the pinhole camera, degrees", 20, 120)
          .real("edge_threshold", &S::edge_threshold, 0.05,
                "relative depth jump between neighbouring surfaces that makes an edge", 1e-4, 10)
          .flag("shadows", &S::shadows, true, "objects cast hard shadows (both domains)")
          .group(&S::corruption, s4t::data::corruption_binding())
          .then([](S& s, const s4t::Options& o) {
            if (s.objects_min > s.objects_max)
              throw s4t::ConfigError((o.owner().empty() ? std::string("synthetic:") : o.owner()) +
                                     " objects_min = " + std::to_string(s.objects_min) +
                                     " is larger than objects_max = " + std::to_string(s.objects_max));
          });
  return b;
}

const char* const kDoc =
    "Procedural indoor scenes rendered on demand by per-pixel ray casting through a pinhole camera "
    "(eye height 1.2-1.8 m, pitched 6-18 degrees down, yawed +-20 degrees): a floor, a back wall 6-9.5 m "
    "away and two side walls (no ceiling) with spheres, yawed boxes and vertical cylinders standing on the "
    "floor, placed in view without overlapping. Tasks: semseg with 5 classes floor, wall, sphere, box, "
    "cylinder (255 = ignore, for rays that hit nothing, which a closed room never has); depth as the z "
    "distance along the optical axis in metres (about 1-10 m); normals as unit vectors in the camera frame "
    "(x right, y up, z towards the camera, so visible surfaces have z > 0 on the whole); edge = 1 on the "
    "nearer pixel of two 4-neighbours whose classes differ or that lie on different surfaces with a relative "
    "depth jump above edge_threshold (occlusion edges, 1 pixel wide; wall corners are not edges). All masks "
    "are true where a ray hit something. Appearance: per-class HSV palette with per-surface jitter "
    "(+-35 degrees of hue for objects, so colour is a strong but imperfect cue), procedural textures (floor "
    "tiles, plaster walls, plain/stripes/checker/value-noise objects), Lambertian shading from a directional "
    "light plus ambient, hard shadows cast by objects. The target domain changes appearance only: hue "
    "rotation and desaturation of the palette, planks/wallpaper and the next object pattern at twice the "
    "frequency with more contrast, a lower, dimmer, warm light from the other side with a cool ambient, "
    "Gaussian blur, lower contrast with a brightening gamma of 0.8 (a washed-out camera) and additive, "
    "approximately Gaussian noise (sum of 4 uniforms); every parameter is interpolated linearly "
    "by `shift` (patterns are blended), so shift = 0 renders the target exactly like the source. Images are "
    "3xHxW floats: intensities in [0,1] normalised with the ImageNet mean (0.485, 0.456, 0.406) and std "
    "(0.229, 0.224, 0.225). Determinism: sample i depends only on (seed, i) and the options - not on the run "
    "seed, so the data sets stay fixed across experiment seeds; the target's noise uses its own stream. "
    "Because the same seed gives the same scenes in both domains, give the target another `seed` to keep "
    "its scenes out of the source training set. `corruption` / `severity` corrupt the rendered image after "
    "the domain's camera (docs/corruptions.md), seeded from the run seed, the index, the corruption and the "
    "severity; the depth-aware ones use the rendered depth whether or not depth is a task. Only the "
    "targets of the experiment's [tasks] are rendered. "
    "get() is thread-safe; a 64x64 sample takes about 0.5 ms of one core.";

std::shared_ptr<s4t::Dataset> make_synthetic(const s4t::DatasetContext& ctx, const s4t::Options& o) {
  const Settings s = binding().read(o);
  SyntheticOptions opt;
  opt.target = s.domain == Domain::Target || (s.domain == Domain::Auto && ctx.role == "target");
  opt.size = s.size;
  opt.height = static_cast<int>(s.height);
  opt.width = static_cast<int>(s.width);
  opt.seed = static_cast<std::uint64_t>(s.seed);
  opt.scene.objects_min = static_cast<int>(s.objects_min);
  opt.scene.objects_max = static_cast<int>(s.objects_max);
  opt.scene.horizontal_fov_deg = static_cast<float>(s.fov);
  opt.appearance.shift = static_cast<float>(s.shift);
  opt.appearance.noise_std = static_cast<float>(s.noise_std);
  opt.appearance.hue_shift_deg = static_cast<float>(s.hue_shift);
  opt.appearance.blur = static_cast<float>(s.blur);
  opt.appearance.shadows = s.shadows;
  opt.edge_threshold = static_cast<float>(s.edge_threshold);
  opt.corruption = s.corruption.corruption;
  opt.severity = static_cast<int>(s.corruption.severity);
  opt.run_seed = ctx.seed;
  opt.tasks = ctx.tasks;
  return std::make_shared<s4t::synthetic::SyntheticDataset>(std::move(opt));
}

void register_synthetic(s4t::Registrar& registrar) {
  s4t::ComponentInfo info;
  info.name = "synthetic";
  info.summary = "procedural indoor scenes with 4 consistent tasks; source and appearance-shifted target domain";
  info.doc = kDoc;
  info.schema = binding().schema();
  registrar.add_dataset(std::move(info), &make_synthetic);
}

}  // namespace

S4T_PLUGIN("s4t.synthetic", "1.0.0", register_synthetic)
