// Plugin entry: registers the `synthetic` dataset (the embedded default: no files needed).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "s4t/error.hpp"
#include "s4t/option_binding.hpp"
#include "s4t/plugin.hpp"
#include "s4t_data/corruptions.hpp"
#include "synthetic_dataset.hpp"

namespace {

using s4t::synthetic::SyntheticOptions;
using s4t::synthetic::TargetShift;

enum class Domain { Auto, Source, Target };

/// [data.*] options of the `synthetic` dataset as read from TOML.
struct Settings {
  Domain domain = Domain::Auto;
  std::int64_t size = 512, height = 64, width = 64, seed = 0;
  std::int64_t objects_min = 3, objects_max = 7;
  double shift = 1.0, noise_std = 0.08, hue_shift = 60.0, blur = 0.6, fov = 60.0, edge_threshold = 0.05;
  bool shadows = true;
  s4t::data::CorruptionSettings corruption;
  // Target shift families (target_shift.hpp): the names, then each family's shift-1 parameters.
  std::vector<std::string> shifts{"appearance"};
  double target_fov = 80, target_camera_height = 0.9, target_pitch = 3, target_room_scale = 1.35;
  double target_object_scale = 1.5;
  std::int64_t target_objects_min = 1, target_objects_max = 3;
  std::vector<double> target_class_weights{1, 1, 3};
  double target_light_azimuth = 75, target_light_elevation = 20, target_light_intensity = 1.3, target_ambient = 0.18;
  std::vector<double> target_light_colour{1.0, 0.9, 0.75};
  bool target_shadows = true;
  TargetShift target;  ///< the above, checked and converted
};

std::string owner_of(const s4t::Options& o) { return o.owner().empty() ? std::string("synthetic:") : o.owner(); }

/// The target shift of the settings: families from `shifts`, parameters checked against each other.
TargetShift target_shift(const Settings& s, const s4t::Options& o) {
  const std::string owner = owner_of(o);
  TargetShift t;
  s4t::synthetic::select_families(t, s.shifts, owner);
  if (s.target_objects_min > s.target_objects_max)
    throw s4t::ConfigError(owner + " target_objects_min = " + std::to_string(s.target_objects_min) +
                           " is larger than target_objects_max = " + std::to_string(s.target_objects_max));
  auto three = [&](const std::vector<double>& v, const std::string& key, const std::string& what) {
    if (v.size() != 3)
      throw s4t::ConfigError(owner + " " + key + ": expected 3 values (" + what + "), got " +
                             std::to_string(v.size()));
  };
  three(s.target_class_weights, "target_class_weights", "sphere, box, cylinder");
  three(s.target_light_colour, "target_light_colour", "red, green, blue");
  if (s.target_class_weights[0] + s.target_class_weights[1] + s.target_class_weights[2] <= 0)
    throw s4t::ConfigError(owner + " target_class_weights: at least one class needs a weight above 0");
  t.camera_to = {static_cast<float>(s.target_fov), static_cast<float>(s.target_camera_height),
                 static_cast<float>(s.target_pitch), static_cast<float>(s.target_room_scale)};
  t.layout_to.object_scale = static_cast<float>(s.target_object_scale);
  t.layout_to.objects_min = static_cast<int>(s.target_objects_min);
  t.layout_to.objects_max = static_cast<int>(s.target_objects_max);
  for (int k = 0; k < 3; ++k) t.layout_to.class_weights[k] = static_cast<float>(s.target_class_weights[k]);
  t.lighting_to.azimuth_deg = static_cast<float>(s.target_light_azimuth);
  t.lighting_to.elevation_deg = static_cast<float>(s.target_light_elevation);
  t.lighting_to.intensity = static_cast<float>(s.target_light_intensity);
  t.lighting_to.colour = {static_cast<float>(s.target_light_colour[0]), static_cast<float>(s.target_light_colour[1]),
                          static_cast<float>(s.target_light_colour[2])};
  t.lighting_to.ambient = static_cast<float>(s.target_ambient);
  t.lighting_to.shadows = s.target_shadows;
  return t;
}

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
                "target domain: strength of every shift family in `shifts`, 0 = renders like the source, 1 = full",
                0, 1)
          .real("noise_std", &S::noise_std, 0.08,
                "target domain: additive Gaussian noise std on [0,1] intensities at shift 1", 0, 1)
          .real("hue_shift", &S::hue_shift, 60.0, "target domain: palette hue rotation in degrees at shift 1", -180,
                180)
          .real("blur", &S::blur, 0.6,
                "target domain: Gaussian blur sigma at shift 1, in pixels per 64 pixels of width", 0, 8)
          .real("fov", &S::fov, 60.0,
                "horizontal field of view of the pinhole camera, degrees (the target's too, unless the camera "
                "family moves it towards target_fov)",
                20, 120)
          .real("edge_threshold", &S::edge_threshold, 0.05,
                "relative depth jump between neighbouring surfaces that makes an edge", 1e-4, 10)
          .flag("shadows", &S::shadows, true, "objects cast hard shadows (both domains)")
          .group(&S::corruption, s4t::data::corruption_binding())
          .texts("shifts", &S::shifts, {"appearance"},
                 "target domain: the shift families it applies, any of appearance (palette, textures, light, "
                 "blur, contrast, noise), camera, layout, lighting; [] = renders like the source")
          .real("target_fov", &S::target_fov, 80.0, "camera family: horizontal field of view at shift 1, degrees",
                20, 120)
          .real("target_camera_height", &S::target_camera_height, 0.9,
                "camera family: centre of the eye-height range at shift 1, metres (source 1.5; the range keeps "
                "the source's +-20 %)",
                0.2, 3)
          .real("target_pitch", &S::target_pitch, 3.0,
                "camera family: centre of the downward pitch range at shift 1, degrees (source 12; the range "
                "keeps the source's +-6 degrees)",
                -20, 60)
          .real("target_room_scale", &S::target_room_scale, 1.35,
                "camera family: scale of the room's width and depth and of the object distances at shift 1",
                0.6, 3)
          .real("target_object_scale", &S::target_object_scale, 1.5,
                "layout family: scale of every object dimension at shift 1", 0.25, 3)
          .integer("target_objects_min", &S::target_objects_min, 1,
                   "layout family: fewest objects per scene at shift 1 (fewer if they do not fit)", 0, 32)
          .integer("target_objects_max", &S::target_objects_max, 3, "layout family: most objects per scene at shift 1",
                   0, 32)
          .reals("target_class_weights", &S::target_class_weights, {1, 1, 3},
                 "layout family: relative frequencies of sphere, box, cylinder at shift 1 (source 1, 1, 1)", 0, 1e6)
          .real("target_light_azimuth", &S::target_light_azimuth, 75.0,
                "lighting family: centre of the light's azimuth range at shift 1, degrees (0 = from behind the "
                "camera, 90 = from the right; source -30, the range keeps the source's +-30)",
                -180, 180)
          .real("target_light_elevation", &S::target_light_elevation, 20.0,
                "lighting family: centre of the light's elevation range above the floor at shift 1, degrees "
                "(source 57.5 +-12.5)",
                1, 89)
          .real("target_light_intensity", &S::target_light_intensity, 1.3,
                "lighting family: centre of the directional intensity range at shift 1 (source 0.85 +-0.1)", 0, 5)
          .reals("target_light_colour", &S::target_light_colour, {1.0, 0.9, 0.75},
                 "lighting family: RGB colour of the directional light at shift 1 (source 1, 1, 1)", 0, 2)
          .real("target_ambient", &S::target_ambient, 0.18,
                "lighting family: ambient light at shift 1 (source 0.35)", 0, 2)
          .flag("target_shadows", &S::target_shadows, true,
                "lighting family: objects cast shadows in the target at any shift above 0")
          .then([](S& s, const s4t::Options& o) {
            if (s.objects_min > s.objects_max)
              throw s4t::ConfigError(owner_of(o) + " objects_min = " + std::to_string(s.objects_min) +
                                     " is larger than objects_max = " + std::to_string(s.objects_max));
            s.target = target_shift(s, o);
          });
  return b;
}

const char* const kDoc =
    "Procedural indoor scenes rendered on demand by per-pixel ray casting through a pinhole camera "
    "(eye height 1.2-1.8 m, pitched 6-18 degrees down, yawed +-20 degrees): a floor, a back wall 6-9.5 m "
    "away and two side walls (no ceiling) with spheres, yawed boxes and vertical cylinders standing on the "
    "floor, placed in view without overlapping. Tasks: semseg with 5 classes floor, wall, sphere, box, "
    "cylinder (255 = ignore, for rays that hit nothing, which a closed room never has); depth as the z "
    "distance along the optical axis in metres (about 1-10 m; up to about 14 m under the camera family); "
    "normals as unit vectors in the camera frame "
    "(x right, y up, z towards the camera, so visible surfaces have z > 0 on the whole); edge = 1 on the "
    "nearer pixel of two 4-neighbours whose classes differ or that lie on different surfaces with a relative "
    "depth jump above edge_threshold (occlusion edges, 1 pixel wide; wall corners are not edges). All masks "
    "are true where a ray hit something. Appearance: per-class HSV palette with per-surface jitter "
    "(+-35 degrees of hue for objects, so colour is a strong but imperfect cue), procedural textures (floor "
    "tiles, plaster walls, plain/stripes/checker/value-noise objects), Lambertian shading from a directional "
    "light plus ambient, hard shadows cast by objects. The target domain applies the shift families listed "
    "in `shifts` (default [\"appearance\"]; [] = the target renders like the source). appearance: hue "
    "rotation and desaturation of the palette, planks/wallpaper and the next object pattern at twice the "
    "frequency with more contrast, a lower, dimmer, warm light from the other side with a cool ambient, "
    "Gaussian blur, lower contrast with a brightening gamma of 0.8 (a washed-out camera) and additive, "
    "approximately Gaussian noise (sum of 4 uniforms). camera: target_fov, target_camera_height, "
    "target_pitch and target_room_scale (a wider, lower, level view of a deeper room: depth distribution "
    "and object scales change). layout: target_object_scale, target_objects_min/max and "
    "target_class_weights (bigger, fewer objects, more cylinders: class priors and task relations change). "
    "lighting: target_light_azimuth/elevation/intensity/colour, target_ambient and target_shadows (a low, "
    "bright side light over a dim ambient; labels do not change); it replaces the appearance family's "
    "light when both are listed. Every parameter is interpolated linearly by `shift` (patterns are "
    "blended), so shift = 0 renders the target exactly like the source; the source domain ignores "
    "`shifts`. With camera or layout the target's geometry differs from the source's for the same seed; "
    "otherwise both show the same scenes. Images are "
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
  opt.target_shift = s.target;
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
  info.summary =
      "procedural indoor scenes with 4 consistent tasks; a source domain and a target domain shifted in appearance, "
      "camera, layout and/or lighting";
  info.doc = kDoc;
  info.schema = binding().schema();
  registrar.add_dataset(std::move(info), &make_synthetic);
}

}  // namespace

S4T_PLUGIN("s4t.synthetic", "1.0.0", register_synthetic)
