#include "target_shift.hpp"

#include <algorithm>
#include <cmath>

#include "s4t/error.hpp"

namespace s4t::synthetic {

const std::vector<std::string>& shift_family_names() {
  static const std::vector<std::string> names{"appearance", "camera", "layout", "lighting"};
  return names;
}

void select_families(TargetShift& shift, const std::vector<std::string>& names, const std::string& owner) {
  bool* flags[] = {&shift.appearance, &shift.camera, &shift.layout, &shift.lighting};
  for (bool* f : flags) *f = false;
  const auto& valid = shift_family_names();
  for (const auto& name : names) {
    const auto it = std::find(valid.begin(), valid.end(), name);
    if (it == valid.end()) {
      std::string list;
      for (const auto& v : valid) list += (list.empty() ? "" : ", ") + v;
      throw s4t::ConfigError(owner + " shifts: '" + name + "' is not a shift family; expected any of " + list +
                             " (or [] for a target that renders like the source)");
    }
    bool& flag = *flags[it - valid.begin()];
    if (flag) throw s4t::ConfigError(owner + " shifts: '" + name + "' is listed twice");
    flag = true;
  }
}

SceneParams shifted_scene(const SceneParams& source, const TargetShift& shift, float strength) {
  const float s = std::clamp(strength, 0.0f, 1.0f);
  SceneParams p = source;
  if (shift.camera) {
    const CameraShift& c = shift.camera_to;
    p.horizontal_fov_deg = lerp(source.horizontal_fov_deg, c.fov_deg, s);
    // The eye-height range is scaled to its new centre, the pitch range moved to it: the spread stays.
    const float eye_scale = c.eye_height / (0.5f * (source.eye_height_lo + source.eye_height_hi));
    p.eye_height_lo = lerp(source.eye_height_lo, source.eye_height_lo * eye_scale, s);
    p.eye_height_hi = lerp(source.eye_height_hi, source.eye_height_hi * eye_scale, s);
    const float pitch_offset = c.pitch_deg - 0.5f * (source.pitch_lo_deg + source.pitch_hi_deg);
    p.pitch_lo_deg = lerp(source.pitch_lo_deg, source.pitch_lo_deg + pitch_offset, s);
    p.pitch_hi_deg = lerp(source.pitch_hi_deg, source.pitch_hi_deg + pitch_offset, s);
    p.room_scale = lerp(source.room_scale, source.room_scale * c.room_scale, s);
  }
  if (shift.layout) {
    const LayoutShift& l = shift.layout_to;
    p.object_scale = lerp(source.object_scale, source.object_scale * l.object_scale, s);
    p.objects_min = static_cast<int>(std::lround(lerp(static_cast<float>(source.objects_min), l.objects_min, s)));
    p.objects_max = static_cast<int>(std::lround(lerp(static_cast<float>(source.objects_max), l.objects_max, s)));
    // Frequencies, not raw weights, are interpolated: weights {1, 1, 3} and {2, 2, 6} are the same prior.
    float source_total = 0, target_total = 0;
    for (int k = 0; k < 3; ++k) source_total += source.class_weights[k], target_total += l.class_weights[k];
    for (int k = 0; k < 3; ++k)
      p.class_weights[k] = lerp(source.class_weights[k] / source_total, l.class_weights[k] / target_total, s);
  }
  return p;
}

void shift_lighting(Style& style, const Style& source, const LightingShift& light, float strength) {
  const float s = std::clamp(strength, 0.0f, 1.0f);
  // Each range keeps the source's width around the new centre.
  auto shift_range = [s](float source_lo, float source_hi, float centre, float lo_limit, float hi_limit,
                         float& lo, float& hi) {
    const float half = 0.5f * (source_hi - source_lo);
    lo = lerp(source_lo, std::clamp(centre - half, lo_limit, hi_limit), s);
    hi = lerp(source_hi, std::clamp(centre + half, lo_limit, hi_limit), s);
  };
  shift_range(source.azimuth_lo, source.azimuth_hi, light.azimuth_deg, -360.0f, 360.0f, style.azimuth_lo,
              style.azimuth_hi);
  shift_range(source.elevation_lo, source.elevation_hi, light.elevation_deg, 1.0f, 89.0f, style.elevation_lo,
              style.elevation_hi);
  shift_range(source.intensity_lo, source.intensity_hi, light.intensity, 0.0f, 10.0f, style.intensity_lo,
              style.intensity_hi);
  style.ambient = lerp(source.ambient, light.ambient, s);
  style.light_colour = lerp(source.light_colour, light.colour, s);
  style.ambient_colour = source.ambient_colour;
  style.shadows = s > 0 ? light.shadows : source.shadows;
}

}  // namespace s4t::synthetic
