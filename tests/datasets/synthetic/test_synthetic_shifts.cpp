// The target shift families of the `synthetic` dataset (`shifts`): each family changes what it is
// meant to change and nothing else, `[]` and shift 0 render the source, `appearance` alone is the
// default target, combinations keep the labels consistent with the geometry, determinism, and errors.
// The parameter-level cases call the generator's own functions (compiled into this test).
#include "s4t_testkit/doctest.hpp"

#include <ATen/TensorOperators.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "s4t/error.hpp"
#include "synthetic_plugin_loader.hpp"
#include "target_shift.hpp"

using namespace synthetic_test;

namespace {

constexpr int kSamples = 24;  // enough for the distribution checks below, about 10 ms of rendering

std::map<std::string, s4t::Value> target_with(std::vector<std::string> shifts, I seed = 1) {
  auto o = small("target", seed);
  o["size"] = I{kSamples};
  o["shifts"] = std::move(shifts);
  return o;
}

std::map<std::string, s4t::Value> source_options(I seed = 1) {
  auto o = small("source", seed);
  o["size"] = I{kSamples};
  return o;
}

/// Mean depth over the first `n` samples.
double mean_depth(const s4t::Dataset& ds, int n = kSamples) {
  double sum = 0;
  for (I i = 0; i < n; ++i) sum += ds.get(i).targets.at("depth").mean().item<double>();
  return sum / n;
}

/// Fraction of the pixels of the first `n` samples that are farther than `metres`.
double far_fraction(const s4t::Dataset& ds, double metres, int n = kSamples) {
  double sum = 0;
  for (I i = 0; i < n; ++i) sum += ds.get(i).targets.at("depth").gt(metres).to(at::kFloat).mean().item<double>();
  return sum / n;
}

/// Pixel fraction of each of the 5 classes over the first `n` samples.
std::vector<double> class_fractions(const s4t::Dataset& ds, int n = kSamples) {
  at::Tensor counts = at::zeros({5}, at::kLong);
  for (I i = 0; i < n; ++i) counts += ds.get(i).targets.at("semseg").flatten().bincount({}, 5);
  const double total = counts.sum().item<double>();
  std::vector<double> f(5);
  for (int c = 0; c < 5; ++c) f[c] = counts[c].item<double>() / total;
  return f;
}

/// Share of the cylinder class among object pixels (spheres, boxes, cylinders).
double cylinder_share(const std::vector<double>& f) { return f[4] / (f[2] + f[3] + f[4]); }

/// Intensities in [0, 1] (the image undone from the ImageNet normalisation).
at::Tensor raw_image(const s4t::Sample& s) {
  auto mean = at::tensor({0.485f, 0.456f, 0.406f}).view({3, 1, 1});
  auto stddev = at::tensor({0.229f, 0.224f, 0.225f}).view({3, 1, 1});
  return s.image * stddev + mean;
}

/// The labels agree with a pinhole camera of this horizontal field of view: unit normals facing the
/// camera, positive depth, and an edge beside every class change.
void check_labels_consistent(const s4t::Sample& s, float fov_deg) {
  const I h = s.image.size(1), w = s.image.size(2);
  auto semseg = s.targets.at("semseg");
  auto normals = s.targets.at("normals");
  auto valid = s.masks.at("depth");
  REQUIRE(valid.all().item<bool>());
  CHECK(s.targets.at("depth").min().item<float>() > 0.1f);
  CHECK((normals.norm(2, 0, true) - 1).abs().max().item<float>() < 1e-4f);
  const float focal = 0.5f * w / std::tan(0.5f * fov_deg * 3.14159265f / 180.0f);
  auto u = (at::arange(w, at::kFloat) + 0.5f - 0.5f * w).div(focal).view({1, w}).expand({h, w});
  auto v = -(at::arange(h, at::kFloat) + 0.5f - 0.5f * h).div(focal).view({h, 1}).expand({h, w});
  auto facing = normals[0] * u + normals[1] * v - normals[2];  // dot(n, ray direction) < 0 where visible
  CHECK(facing.max().item<float>() < 1e-3f);
  auto e = s.targets.at("edge")[0].gt(0.5f);
  auto horizontal = semseg.slice(1, 1).ne(semseg.slice(1, 0, -1));
  auto vertical = semseg.slice(0, 1).ne(semseg.slice(0, 0, -1));
  CHECK((horizontal & ~(e.slice(1, 1) | e.slice(1, 0, -1))).any().item<bool>() == false);
  CHECK((vertical & ~(e.slice(0, 1) | e.slice(0, 0, -1))).any().item<bool>() == false);
}

template <class F>
std::string config_error(F&& build) {
  try {
    build();
  } catch (const s4t::ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("the shift options are declared with docs, defaults and ranges") {
  for (auto key : {"shifts", "target_fov", "target_camera_height", "target_pitch", "target_room_scale",
                   "target_object_scale", "target_objects_min", "target_objects_max", "target_class_weights",
                   "target_light_azimuth", "target_light_elevation", "target_light_intensity",
                   "target_light_colour", "target_ambient", "target_shadows"}) {
    const auto* spec = info().schema.find(key);
    REQUIRE_MESSAGE(spec != nullptr, key);
    CHECK_MESSAGE(!spec->doc.empty(), key);
  }
  CHECK(std::get<std::vector<std::string>>(info().schema.find("shifts")->default_value) ==
        std::vector<std::string>{"appearance"});
  CHECK_FALSE(info().schema.find("target_class_weights")->check(std::vector<double>{1, -1, 1}).empty());
  CHECK_FALSE(info().schema.find("target_fov")->check(170.0).empty());
  CHECK_FALSE(info().schema.find("target_room_scale")->check(0.0).empty());
  CHECK(info().doc.find("shifts") != std::string::npos);
}

TEST_CASE("unknown, repeated or inconsistent shift options are ConfigErrors that say what is wrong") {
  std::string msg = config_error([] { make(target_with({"appearance", "weather"})); });
  CHECK(msg.find("'weather'") != std::string::npos);
  CHECK(msg.find("appearance, camera, layout, lighting") != std::string::npos);
  CHECK(msg.find("[data.test]") != std::string::npos);
  CHECK(config_error([] { make(target_with({"camera", "camera"})); }).find("twice") != std::string::npos);

  auto counts = target_with({"layout"});
  counts["target_objects_min"] = I{5};
  counts["target_objects_max"] = I{2};
  msg = config_error([&] { make(counts); });
  CHECK(msg.find("target_objects_min") != std::string::npos);

  auto weights = target_with({"layout"});
  weights["target_class_weights"] = std::vector<double>{1, 2};
  CHECK(config_error([&] { make(weights); }).find("3 values") != std::string::npos);
  weights["target_class_weights"] = std::vector<double>{0, 0, 0};
  CHECK(config_error([&] { make(weights); }).find("target_class_weights") != std::string::npos);

  auto colour = target_with({"lighting"});
  colour["target_light_colour"] = std::vector<double>{1, 1};
  CHECK(config_error([&] { make(colour); }).find("target_light_colour") != std::string::npos);
}

TEST_CASE("shifts = [] and shift = 0 render the target exactly like the source") {
  auto source = make(source_options());
  auto none = target_with({});
  none["target_fov"] = 100.0;  // parameters of families that are off do nothing
  none["target_object_scale"] = 2.0;
  auto unshifted = make(none);
  auto zero = target_with({"appearance", "camera", "layout", "lighting"});
  zero["shift"] = 0.0;
  auto zero_shift = make(zero);
  for (I i = 0; i < 4; ++i) {
    CAPTURE(i);
    CHECK(same_sample(unshifted->get(i), source->get(i)));
    CHECK(same_sample(zero_shift->get(i), source->get(i)));
  }
}

TEST_CASE("appearance alone is the default target, and no family changes the source domain") {
  auto default_target = small("target", 1);
  auto appearance = make(target_with({"appearance"}));
  auto all_families = source_options();
  all_families["shifts"] = std::vector<std::string>{"appearance", "camera", "layout", "lighting"};
  auto source_with_families = make(all_families);
  auto source = make(source_options());
  for (I i = 0; i < 4; ++i) {
    CAPTURE(i);
    CHECK(same_sample(appearance->get(i), make(default_target)->get(i)));
    CHECK(same_sample(source_with_families->get(i), source->get(i)));
  }
}

TEST_CASE("camera: a wider, lower, level view of a deeper room shifts the depth distribution") {
  auto source = make(source_options());
  auto camera = make(target_with({"camera"}));
  auto half_options = target_with({"camera"});
  half_options["shift"] = 0.5;
  auto half = make(half_options);
  const double source_depth = mean_depth(*source), camera_depth = mean_depth(*camera), half_depth = mean_depth(*half);
  const double source_far = far_fraction(*source, 7.0), camera_far = far_fraction(*camera, 7.0);
  MESSAGE("mean depth: source " << source_depth << " m, camera shift 0.5 " << half_depth << " m, shift 1 "
                                << camera_depth << " m; pixels beyond 7 m: source " << source_far << ", camera "
                                << camera_far);
  CHECK(camera_depth > 1.08 * source_depth);
  CHECK(camera_far > 1.4 * source_far);  // the deeper room
  CHECK(half_depth > source_depth);
  CHECK(half_depth < camera_depth);
  // Farther objects under a wider field of view cover fewer pixels.
  auto fs = class_fractions(*source), fc = class_fractions(*camera);
  CHECK(fc[2] + fc[3] + fc[4] < 0.8 * (fs[2] + fs[3] + fs[4]));
  for (I i = 0; i < 4; ++i) check_labels_consistent(camera->get(i), 80.0f);

  // Nothing but the camera: appearance and layout parameters do not matter without their families.
  auto others = target_with({"camera"});
  others["hue_shift"] = 120.0;
  others["noise_std"] = 0.3;
  others["target_object_scale"] = 2.5;
  others["target_light_intensity"] = 3.0;
  auto with_others = make(others);
  for (I i = 0; i < 3; ++i) CHECK(same_sample(with_others->get(i), camera->get(i)));
}

TEST_CASE("layout: bigger objects, fewer of them and more cylinders, in the same room") {
  auto source = make(source_options());
  auto layout = make(target_with({"layout"}));
  auto fs = class_fractions(*source), fl = class_fractions(*layout);
  MESSAGE("cylinder share of object pixels: source " << cylinder_share(fs) << ", layout " << cylinder_share(fl));
  CHECK(cylinder_share(fl) > cylinder_share(fs) + 0.1);
  CHECK(fl[2] / (fl[2] + fl[3] + fl[4]) < fs[2] / (fs[2] + fs[3] + fs[4]));  // fewer sphere pixels

  // Camera and room are drawn before the objects: where both renders see the room, depth and normals agree.
  for (I i = 0; i < 6; ++i) {
    CAPTURE(i);
    auto s = source->get(i), t = layout->get(i);
    auto room = s.targets.at("semseg").lt(2) & t.targets.at("semseg").lt(2);
    REQUIRE(room.any().item<bool>());
    CHECK(s.targets.at("depth")[0].masked_select(room).equal(t.targets.at("depth")[0].masked_select(room)));
    CHECK(s.targets.at("normals").masked_select(room.unsqueeze(0)).equal(
        t.targets.at("normals").masked_select(room.unsqueeze(0))));
    check_labels_consistent(t, 60.0f);
  }

  // Only cylinders: every object pixel is a cylinder.
  auto only = target_with({"layout"});
  only["target_class_weights"] = std::vector<double>{0, 0, 1};
  auto cylinders = class_fractions(*make(only));
  CHECK(cylinders[2] == 0.0);
  CHECK(cylinders[3] == 0.0);
  CHECK(cylinders[4] > 0.0);
}

TEST_CASE("lighting: image statistics change, labels do not") {
  auto source = make(source_options());
  auto lighting = make(target_with({"lighting"}));
  auto no_shadows_options = target_with({"lighting"});
  no_shadows_options["target_shadows"] = false;
  auto no_shadows = make(no_shadows_options);
  auto appearance = make(target_with({"appearance"}));
  auto both = make(target_with({"appearance", "lighting"}));
  double gap = 0, source_contrast = 0, lit_contrast = 0;
  bool shadows_matter = false;
  for (I i = 0; i < 6; ++i) {
    CAPTURE(i);
    auto s = source->get(i), t = lighting->get(i), b = both->get(i);
    CHECK(same_tensors(s.targets, t.targets));
    CHECK(same_tensors(s.masks, t.masks));
    CHECK(same_tensors(s.targets, b.targets));
    gap += (s.image - t.image).abs().mean().item<double>();
    source_contrast += raw_image(s).std().item<double>();
    lit_contrast += raw_image(t).std().item<double>();
    shadows_matter = shadows_matter || !no_shadows->get(i).image.equal(t.image);
    CHECK_FALSE(b.image.equal(t.image));                    // appearance still applies on top
    CHECK_FALSE(b.image.equal(appearance->get(i).image));  // and the light is the lighting family's
  }
  MESSAGE("mean |source - lighting| " << gap / 6 << " (normalised units); intensity std source "
                                      << source_contrast / 6 << ", lighting " << lit_contrast / 6);
  CHECK(gap / 6 > 0.1);
  CHECK(lit_contrast > 1.1 * source_contrast);  // a low, bright side light over a dim ambient
  CHECK(shadows_matter);
}

TEST_CASE("all four families together keep every label consistent with the shifted geometry") {
  auto source = make(source_options());
  auto all = make(target_with({"appearance", "camera", "layout", "lighting"}));
  CHECK(far_fraction(*all, 7.0) > 1.4 * far_fraction(*source, 7.0));
  CHECK(cylinder_share(class_fractions(*all)) > cylinder_share(class_fractions(*source)) + 0.1);
  for (I i = 0; i < 6; ++i) {
    auto t = all->get(i);
    CHECK(t.image.isfinite().all().item<bool>());
    check_labels_consistent(t, 80.0f);
  }
  const std::string d = all->describe();
  CHECK(d.find("synthetic target domain") != std::string::npos);
  CHECK(d.find("camera") != std::string::npos);
  CHECK(d.find("lighting") != std::string::npos);
}

TEST_CASE("a shifted target sample depends only on seed, index and options") {
  const std::vector<std::string> all{"appearance", "camera", "layout", "lighting"};
  auto ds = make(target_with(all));
  auto a = ds->get(3);
  CHECK(same_sample(a, ds->get(3)));
  CHECK(same_sample(a, make(target_with(all))->get(3)));
  s4t::DatasetContext ctx;
  ctx.seed = 99;  // the run seed does not change the data set
  CHECK(same_sample(a, make(target_with(all), ctx)->get(3)));
  CHECK_FALSE(a.targets.at("semseg").equal(make(target_with(all, 2))->get(3).targets.at("semseg")));
  auto wider = target_with(all);
  wider["target_fov"] = 90.0;
  CHECK_FALSE(a.targets.at("depth").equal(make(wider)->get(3).targets.at("depth")));
}

TEST_CASE("shifted_scene moves exactly the parameters of its families, linearly in the strength") {
  using namespace s4t::synthetic;
  const SceneParams source;
  TargetShift shift;
  shift.appearance = false;
  auto frequencies = [](const SceneParams& p) {
    const float total = p.class_weights[0] + p.class_weights[1] + p.class_weights[2];
    return std::vector<float>{p.class_weights[0] / total, p.class_weights[1] / total, p.class_weights[2] / total};
  };
  auto same_layout = [&](const SceneParams& a, const SceneParams& b) {
    return a.objects_min == b.objects_min && a.objects_max == b.objects_max && a.object_scale == b.object_scale &&
           std::abs(frequencies(a)[0] - frequencies(b)[0]) < 1e-6f &&
           std::abs(frequencies(a)[2] - frequencies(b)[2]) < 1e-6f;
  };
  auto same_camera = [](const SceneParams& a, const SceneParams& b) {
    return a.horizontal_fov_deg == b.horizontal_fov_deg && a.eye_height_lo == b.eye_height_lo &&
           a.eye_height_hi == b.eye_height_hi && a.pitch_lo_deg == b.pitch_lo_deg && a.pitch_hi_deg == b.pitch_hi_deg &&
           a.room_scale == b.room_scale;
  };
  shift.camera = true;
  const SceneParams camera = shifted_scene(source, shift, 1.0f);
  CHECK(same_layout(camera, source));
  CHECK(camera.horizontal_fov_deg == doctest::Approx(80));
  CHECK(0.5f * (camera.eye_height_lo + camera.eye_height_hi) == doctest::Approx(0.9));
  CHECK((camera.eye_height_hi - camera.eye_height_lo) / (source.eye_height_hi - source.eye_height_lo) ==
        doctest::Approx(0.9 / 1.5));
  CHECK(0.5f * (camera.pitch_lo_deg + camera.pitch_hi_deg) == doctest::Approx(3));
  CHECK(camera.pitch_hi_deg - camera.pitch_lo_deg == doctest::Approx(source.pitch_hi_deg - source.pitch_lo_deg));
  CHECK(camera.room_scale == doctest::Approx(1.35));
  CHECK(shifted_scene(source, shift, 0.5f).horizontal_fov_deg == doctest::Approx(70));
  CHECK(same_camera(shifted_scene(source, shift, 0.0f), source));

  shift.camera = false;
  shift.layout = true;
  const SceneParams layout = shifted_scene(source, shift, 1.0f);
  CHECK(same_camera(layout, source));
  CHECK(layout.object_scale == doctest::Approx(1.5));
  CHECK(layout.objects_min == 1);
  CHECK(layout.objects_max == 3);
  CHECK(layout.class_weights[2] == doctest::Approx(0.6));
  const SceneParams half = shifted_scene(source, shift, 0.5f);
  CHECK(half.objects_min == 2);
  CHECK(half.objects_max == 5);
  CHECK(half.class_weights[2] == doctest::Approx(0.5 * (1.0 / 3 + 0.6)));
  CHECK(same_layout(shifted_scene(source, shift, 0.0f), source));
}

TEST_CASE("shift_lighting changes the light and nothing else of a style") {
  using namespace s4t::synthetic;
  AppearanceOptions options;
  const Style source = make_style(false, options, 64), appearance = make_style(true, options, 64);
  const LightingShift light;
  Style lit = appearance;
  shift_lighting(lit, source, light, 1.0f);
  // Appearance parameters stay the appearance family's.
  CHECK(lit.shift == appearance.shift);
  CHECK(lit.hue_offset_deg == appearance.hue_offset_deg);
  CHECK(lit.blur_sigma_px == appearance.blur_sigma_px);
  CHECK(lit.noise_std == appearance.noise_std);
  CHECK(lit.tone_curve == appearance.tone_curve);
  // The light is the lighting family's, with the source's range widths.
  CHECK(0.5f * (lit.azimuth_lo + lit.azimuth_hi) == doctest::Approx(75));
  CHECK(lit.azimuth_hi - lit.azimuth_lo == doctest::Approx(source.azimuth_hi - source.azimuth_lo));
  CHECK(0.5f * (lit.elevation_lo + lit.elevation_hi) == doctest::Approx(20));
  CHECK(0.5f * (lit.intensity_lo + lit.intensity_hi) == doctest::Approx(1.3));
  CHECK(lit.ambient == doctest::Approx(0.18));
  CHECK(lit.light_colour.z == doctest::Approx(0.75));
  CHECK(lit.ambient_colour.z == source.ambient_colour.z);
  // Strength 0 leaves the source light.
  Style unlit = source;
  shift_lighting(unlit, source, light, 0.0f);
  CHECK(unlit.azimuth_lo == source.azimuth_lo);
  CHECK(unlit.elevation_hi == source.elevation_hi);
  CHECK(unlit.ambient == source.ambient);
  CHECK(unlit.shadows == source.shadows);
  LightingShift dark = light;
  dark.shadows = false;
  Style shadowless = source;
  shift_lighting(shadowless, source, dark, 0.5f);
  CHECK_FALSE(shadowless.shadows);
  CHECK(shadowless.ambient == doctest::Approx(0.5 * (source.ambient + 0.18)));
}
