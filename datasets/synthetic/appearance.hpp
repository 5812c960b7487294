#pragma once
// Appearance: how a domain turns a scene's geometry and appearance draws into an RGB image.
//
// A Style holds the appearance parameters of a domain. The source style is fixed; the target style
// interpolates each parameter linearly from its source value (shift 0) to its target value (shift 1):
// palette hue and saturation, texture patterns, frequencies and contrast, light direction, intensity
// and colour, ambient light, blur, contrast, gamma and sensor noise. Texture patterns are blended,
// not switched, so a sweep over `shift` is continuous; at shift 0 the target renders exactly like
// the source.
#include <cstdint>
#include <vector>

#include "raycast.hpp"
#include "scene.hpp"

namespace s4t::synthetic {

/// User-facing appearance options (see the plugin's schema).
struct AppearanceOptions {
  float shift = 1.0f;           ///< target domain: 0 = source look, 1 = full target look
  float noise_std = 0.08f;      ///< target sensor noise std at shift 1, on [0, 1] intensities
  float hue_shift_deg = 60.0f;  ///< target palette hue rotation at shift 1
  float blur = 0.6f;            ///< target Gaussian blur sigma at shift 1, in pixels of a 64-pixel-wide image
  bool shadows = true;          ///< objects cast hard shadows (both domains)
};

/// Appearance parameters of one domain, already interpolated.
struct Style {
  float shift = 0;              ///< weight of the target look: 0 in the source domain
  float hue_offset_deg = 0;     ///< added to every palette hue
  float saturation_scale = 1;
  float azimuth_lo = 0, azimuth_hi = 0;      ///< light azimuth range, degrees (0: from behind the camera)
  float elevation_lo = 0, elevation_hi = 0;  ///< light elevation range, degrees above the floor
  float intensity_lo = 0, intensity_hi = 0;  ///< directional light intensity range
  float ambient = 0;
  Vec3 light_colour{1, 1, 1}, ambient_colour{1, 1, 1};
  float blur_sigma_px = 0, contrast = 1, gamma = 1, noise_std = 0;
  std::vector<float> tone_curve;  ///< contrast then gamma, tabulated on [0, 1]; empty = identity
  bool shadows = true;
};

/// The style of the source domain (target = false) or of the target domain at options.shift.
Style make_style(bool target, const AppearanceOptions& options, int width);

/// Lambertian shading of textured surfaces: writes planar RGB (3×H×W) in [0, 1] to `rgb`.
void shade(const Scene& scene, const GeometryBuffers& geometry, const Style& style, float* rgb);

/// Camera effects in place: blur, contrast, gamma, additive noise, clamping to [0, 1].
void apply_camera(float* rgb, int height, int width, const Style& style, std::uint64_t noise_seed);

}  // namespace s4t::synthetic
