#include "appearance.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "random.hpp"
#include "texture.hpp"

namespace s4t::synthetic {

namespace {

constexpr float kDeg = 3.14159265358979f / 180.0f;

/// Base colour of a class in HSV, and how far one surface may deviate from it.
struct ClassColour {
  float hue, hue_jitter, saturation, saturation_jitter, value, value_jitter;
};
// Source palette, by SemanticClass. Object hues vary by +-35 degrees so colour is a strong but not a
// perfect cue for the class; the target rotates every hue (hue_shift).
constexpr ClassColour kPalette[kNumClasses] = {
    {28, 12, 0.50f, 0.12f, 0.55f, 0.12f},   // floor: wood / terracotta
    {40, 30, 0.12f, 0.06f, 0.82f, 0.08f},   // wall: off-white
    {0, 35, 0.70f, 0.15f, 0.80f, 0.12f},    // sphere: red
    {215, 35, 0.60f, 0.15f, 0.75f, 0.12f},  // box: blue
    {115, 35, 0.55f, 0.15f, 0.70f, 0.12f},  // cylinder: green
};

Vec3 hsv_to_rgb(float hue_deg, float s, float v) {
  float h = std::fmod(hue_deg, 360.0f);
  if (h < 0) h += 360.0f;
  h /= 60.0f;
  const int sector = static_cast<int>(h) % 6;
  const float f = h - std::floor(h), p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  switch (sector) {
    case 0: return {v, t, p};
    case 1: return {q, v, p};
    case 2: return {p, v, t};
    case 3: return {p, q, v};
    case 4: return {t, p, v};
    default: return {v, p, q};
  }
}

float clamp01(float x) { return x < 0 ? 0.0f : x > 1 ? 1.0f : x; }

/// Object texture: 0 plain, 1 stripes, 2 checker, 3 value noise; result in [-1, 1].
float object_pattern(int pattern, Vec3 q, float frequency, const Look& look) {
  switch (pattern) {
    case 1: return 2 * stripes(q, look.stripe_direction, frequency) - 1;
    case 2: return 2 * checker(q, frequency) - 1;
    case 3: return 2 * fractal_noise(q, frequency, look.noise_seed) - 1;
    default: return 0.0f;
  }
}

/// Albedo modulation in [-1, 1]·amplitude of a surface at texture coordinate q, as a blend of the
/// source look and the target look (different patterns, frequencies and amplitudes).
float texture_modulation(const Primitive& p, Vec3 q, float shift) {
  const Look& l = p.look;
  float source = 0, target = 0;
  const bool need_source = shift < 1.0f, need_target = shift > 0.0f;
  if (p.cls == kFloor) {
    // Source: square tiles. Target: planks with grain.
    if (need_source) source = 0.35f * (2 * checker(q, lerp(0.9f, 1.6f, l.u_frequency)) - 1);
    if (need_target)
      target = 0.45f * (1.2f * stripes(q, {0, 1, 0}, lerp(2.5f, 4.0f, l.u_frequency)) +
                        0.8f * fractal_noise(q, 3.0f, l.noise_seed) - 1);
  } else if (p.cls == kWall) {
    // Source: faint plaster noise. Target: vertical wallpaper stripes.
    if (need_source) source = 0.15f * (2 * fractal_noise(q, 1.2f, l.noise_seed) - 1);
    if (need_target) target = 0.30f * (2 * stripes(q, {1, 0, 0}, lerp(3.0f, 6.0f, l.u_frequency)) - 1);
  } else {
    // Objects: the target uses the next pattern kind at about twice the frequency, with more contrast.
    const float frequency = lerp(1.5f, 4.0f, l.u_frequency);
    if (need_source) source = 0.35f * object_pattern(l.pattern, q, frequency, l);
    if (need_target) target = 0.50f * object_pattern((l.pattern + 1) % 4, q, 2.2f * frequency, l);
  }
  return lerp(source, target, shift);
}

/// Texture coordinates: planes use their own 2-D frame, objects their own centre.
Vec3 texture_coordinates(const Primitive& p, Vec3 point) {
  if (p.shape == Shape::Plane) {
    const Vec3 n = p.normal, t = p.tangent;
    const Vec3 b{n.y * t.z - n.z * t.y, n.z * t.x - n.x * t.z, n.x * t.y - n.y * t.x};
    return {dot(t, point), dot(b, point), 0};
  }
  return point - p.centre;
}

Vec3 surface_colour(const Primitive& p, const Style& style) {
  const ClassColour& c = kPalette[p.cls];
  const Look& l = p.look;
  const float hue = c.hue + (2 * l.u_hue - 1) * c.hue_jitter + style.hue_offset_deg;
  const float sat = clamp01((c.saturation + (2 * l.u_saturation - 1) * c.saturation_jitter) * style.saturation_scale);
  const float val = clamp01(c.value + (2 * l.u_value - 1) * c.value_jitter);
  return hsv_to_rgb(hue, sat, val);
}

/// Separable Gaussian blur, one axis, clamping at the borders. Written row-wise so the inner loops vectorise.
void blur_rows(const float* in, float* out, int height, int width, const std::vector<float>& kernel) {
  const int radius = static_cast<int>(kernel.size()) / 2;
  for (int y = 0; y < height; ++y) {
    const float* row = in + static_cast<size_t>(y) * width;
    float* dst = out + static_cast<size_t>(y) * width;
    for (int x = 0; x < width; ++x) {
      float sum = 0;
      if (x >= radius && x < width - radius) {
        for (int k = -radius; k <= radius; ++k) sum += kernel[k + radius] * row[x + k];
      } else {
        for (int k = -radius; k <= radius; ++k) sum += kernel[k + radius] * row[std::clamp(x + k, 0, width - 1)];
      }
      dst[x] = sum;
    }
  }
}

void blur_columns(const float* in, float* out, int height, int width, const std::vector<float>& kernel) {
  const int radius = static_cast<int>(kernel.size()) / 2;
  for (int y = 0; y < height; ++y) {
    float* dst = out + static_cast<size_t>(y) * width;
    std::fill(dst, dst + width, 0.0f);
    for (int k = -radius; k <= radius; ++k) {
      const float* src = in + static_cast<size_t>(std::clamp(y + k, 0, height - 1)) * width;
      const float w = kernel[k + radius];
      for (int x = 0; x < width; ++x) dst[x] += w * src[x];
    }
  }
}

}  // namespace

Style make_style(bool target, const AppearanceOptions& o, int width) {
  const float s = target ? std::clamp(o.shift, 0.0f, 1.0f) : 0.0f;
  Style st;
  st.shift = s;
  st.hue_offset_deg = s * o.hue_shift_deg;
  st.saturation_scale = lerp(1.0f, 0.75f, s);
  // Source: a high light from behind-left. Target: a lower, dimmer, warm light from the right,
  // with a cooler ambient term (e.g. a window in the evening).
  st.azimuth_lo = lerp(-60.0f, 60.0f, s);
  st.azimuth_hi = lerp(0.0f, 120.0f, s);
  st.elevation_lo = lerp(45.0f, 20.0f, s);
  st.elevation_hi = lerp(70.0f, 40.0f, s);
  st.intensity_lo = lerp(0.75f, 0.7f, s);
  st.intensity_hi = lerp(0.95f, 0.9f, s);
  st.ambient = lerp(0.35f, 0.3f, s);
  st.light_colour = lerp(Vec3{1, 1, 1}, Vec3{1.08f, 0.9f, 0.68f}, s);
  st.ambient_colour = lerp(Vec3{1, 1, 1}, Vec3{0.85f, 0.93f, 1.1f}, s);
  st.blur_sigma_px = s * o.blur * static_cast<float>(width) / 64.0f;
  // A washed-out camera: lower contrast and a brightening gamma (the warm, low light alone darkens the image).
  st.contrast = lerp(1.0f, 0.8f, s);
  st.gamma = lerp(1.0f, 0.8f, s);
  st.noise_std = s * o.noise_std;
  if (st.contrast != 1.0f || st.gamma != 1.0f) {
    st.tone_curve.resize(1025);
    for (size_t j = 0; j < st.tone_curve.size(); ++j) {
      const float v = static_cast<float>(j) / 1024.0f;
      st.tone_curve[j] = std::pow(clamp01(0.5f + st.contrast * (v - 0.5f)), st.gamma);
    }
  }
  st.shadows = o.shadows;
  return st;
}

void shade(const Scene& scene, const GeometryBuffers& g, const Style& style, float* rgb) {
  const float az = lerp(style.azimuth_lo, style.azimuth_hi, scene.light.u_azimuth) * kDeg;
  const float el = lerp(style.elevation_lo, style.elevation_hi, scene.light.u_elevation) * kDeg;
  const float intensity = lerp(style.intensity_lo, style.intensity_hi, scene.light.u_intensity);
  const Vec3 to_light{std::sin(az) * std::cos(el), std::sin(el), std::cos(az) * std::cos(el)};
  const Vec3 direct = style.light_colour * intensity, ambient = style.ambient_colour * style.ambient;

  std::vector<Vec3> base(scene.primitives.size());
  for (size_t k = 0; k < base.size(); ++k) base[k] = surface_colour(scene.primitives[k], style);

  const size_t plane = static_cast<size_t>(g.height) * g.width;
  for (size_t i = 0; i < plane; ++i) {
    const int k = g.primitive[i];
    Vec3 colour{0, 0, 0};
    if (k >= 0) {
      const Primitive& p = scene.primitives[k];
      const Vec3 point = g.point_world[i], n = g.normal_world[i];
      const float modulation = texture_modulation(p, texture_coordinates(p, point), style.shift);
      const Vec3 albedo = base[k] * (1.0f + modulation);
      float lambert = std::max(0.0f, dot(n, to_light));
      if (lambert > 0 && style.shadows && occluded(scene, point + n * 1e-3f, to_light, k)) lambert = 0;
      colour = albedo * (ambient + direct * lambert);
    }
    rgb[i] = clamp01(colour.x);
    rgb[plane + i] = clamp01(colour.y);
    rgb[2 * plane + i] = clamp01(colour.z);
  }
}

void apply_camera(float* rgb, int height, int width, const Style& style, std::uint64_t noise_seed) {
  const size_t plane = static_cast<size_t>(height) * width;
  if (style.blur_sigma_px > 0.05f) {
    const int radius = std::max(1, static_cast<int>(std::ceil(2.5f * style.blur_sigma_px)));
    std::vector<float> kernel(2 * radius + 1);
    float total = 0;
    for (int k = -radius; k <= radius; ++k)
      total += kernel[k + radius] = std::exp(-0.5f * k * k / (style.blur_sigma_px * style.blur_sigma_px));
    for (float& w : kernel) w /= total;
    std::vector<float> tmp(plane);
    for (int c = 0; c < 3; ++c) {
      blur_rows(rgb + c * plane, tmp.data(), height, width, kernel);
      blur_columns(tmp.data(), rgb + c * plane, height, width, kernel);
    }
  }
  const std::vector<float>& curve = style.tone_curve;
  const float steps = static_cast<float>(curve.size()) - 1;
  Rng noise(noise_seed);
  for (size_t i = 0; i < 3 * plane; ++i) {
    float v = rgb[i];
    if (!curve.empty()) {  // linear interpolation in the tabulated tone curve (pow per value is slow)
      const float x = clamp01(v) * steps;
      const int j = std::min(static_cast<int>(x), static_cast<int>(steps) - 1);
      v = lerp(curve[j], curve[j + 1], x - j);
    }
    if (style.noise_std > 0) v += style.noise_std * noise.normal();
    rgb[i] = clamp01(v);
  }
}

}  // namespace s4t::synthetic
