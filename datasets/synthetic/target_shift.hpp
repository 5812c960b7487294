#pragma once
// Target shift families: which aspects of the world the target domain changes, beyond (or instead of)
// appearance. Appearance changes are repaired by re-estimating BatchNorm statistics; these families
// change what the tasks' relations and the methods' assumptions rest on:
//   camera   - field of view, eye height, pitch and room depth: the depth distribution and object scales;
//   layout   - object size, object count and class frequencies: class priors and task relations;
//   lighting - light direction, elevation, intensity, colour, ambient and shadows: image statistics only.
// Every parameter is interpolated linearly from its source value (shift 0) to its target value
// (shift 1), so shift 0 renders the target exactly like the source.
#include <array>
#include <string>
#include <vector>

#include "appearance.hpp"
#include "scene.hpp"
#include "vec3.hpp"

namespace s4t::synthetic {

/// Camera and room of the target at shift 1 (the camera family).
struct CameraShift {
  float fov_deg = 80;         ///< horizontal field of view (source: the `fov` option, 60)
  float eye_height = 0.9f;    ///< centre of the eye-height range, metres; the range keeps the source's +-20 %
  float pitch_deg = 3;        ///< centre of the downward pitch range; the range keeps the source's +-6 degrees
  float room_scale = 1.35f;   ///< scales room width, depth and object distances (deeper room, farther objects)
};

/// Objects of the target at shift 1 (the layout family).
struct LayoutShift {
  float object_scale = 1.5f;                       ///< scales every object dimension
  int objects_min = 1, objects_max = 3;            ///< object count range
  std::array<float, 3> class_weights{1, 1, 3};     ///< relative frequency of sphere, box, cylinder
};

/// The directional and ambient light of the target at shift 1 (the lighting family).
struct LightingShift {
  float azimuth_deg = 75;     ///< centre of the azimuth range (0: from behind the camera, 90: from the right)
  float elevation_deg = 20;   ///< centre of the elevation range above the floor
  float intensity = 1.3f;     ///< centre of the directional intensity range
  Vec3 colour{1.0f, 0.9f, 0.75f};
  float ambient = 0.18f;
  bool shadows = true;        ///< objects cast shadows in the target (at any shift above 0)
};

/// The families a target domain applies and their shift-1 parameters.
struct TargetShift {
  bool appearance = true, camera = false, layout = false, lighting = false;
  CameraShift camera_to;
  LayoutShift layout_to;
  LightingShift lighting_to;
};

/// The valid family names, in documentation order.
const std::vector<std::string>& shift_family_names();

/// Sets the families of `shift` from their names; throws s4t::ConfigError naming `owner`, the value and
/// the valid names for an unknown or repeated name.
void select_families(TargetShift& shift, const std::vector<std::string>& names, const std::string& owner);

/// The scene parameters of the target domain at strength `strength` (0..1); the source's with the
/// camera and layout families off.
SceneParams shifted_scene(const SceneParams& source, const TargetShift& shift, float strength);

/// Replaces the light of `style` with the lighting family's light at strength `strength`, interpolated
/// from the light of `source` (the source domain's style).
void shift_lighting(Style& style, const Style& source, const LightingShift& light, float strength);

}  // namespace s4t::synthetic
