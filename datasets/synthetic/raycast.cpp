#include "raycast.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace s4t::synthetic {

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// Each intersect_* returns the smallest ray parameter t > t_min at which the ray o + t·d hits the
// primitive (kInf if none) and the outward unit normal there. d need not be unit length.

float intersect_plane(const Primitive& p, Vec3 o, Vec3 d, float t_min, Vec3& n) {
  const float denom = dot(p.normal, d);
  if (denom >= 0) return kInf;  // planes are one-sided: seen from inside the room only
  const float t = (p.offset - dot(p.normal, o)) / denom;
  if (t <= t_min) return kInf;
  n = p.normal;
  return t;
}

float intersect_sphere(const Primitive& p, Vec3 o, Vec3 d, float t_min, Vec3& n) {
  const Vec3 oc = o - p.centre;
  const float a = dot(d, d), b = dot(oc, d), c = dot(oc, oc) - p.radius * p.radius;
  const float disc = b * b - a * c;
  if (disc < 0) return kInf;
  const float root = std::sqrt(disc);
  float t = (-b - root) / a;
  if (t <= t_min) t = (-b + root) / a;
  if (t <= t_min) return kInf;
  n = normalized(o + d * t - p.centre);  // not /radius: float rounding at 10 m would leave |n| off 1 by 1e-4
  return t;
}

float intersect_box(const Primitive& p, Vec3 o, Vec3 d, float t_min, Vec3& n) {
  // Into the box frame (rotation by -yaw about y).
  const Vec3 rel = o - p.centre;
  const Vec3 lo{p.cos_yaw * rel.x - p.sin_yaw * rel.z, rel.y, p.sin_yaw * rel.x + p.cos_yaw * rel.z};
  const Vec3 ld{p.cos_yaw * d.x - p.sin_yaw * d.z, d.y, p.sin_yaw * d.x + p.cos_yaw * d.z};
  const float origin[3] = {lo.x, lo.y, lo.z}, dir[3] = {ld.x, ld.y, ld.z};
  const float half[3] = {p.half_extent.x, p.half_extent.y, p.half_extent.z};
  float t_near = -kInf, t_far = kInf;
  int axis_near = 0, axis_far = 0;
  for (int k = 0; k < 3; ++k) {
    if (std::fabs(dir[k]) < 1e-12f) {
      if (std::fabs(origin[k]) > half[k]) return kInf;
      continue;
    }
    float t1 = (-half[k] - origin[k]) / dir[k], t2 = (half[k] - origin[k]) / dir[k];
    if (t1 > t2) std::swap(t1, t2);
    if (t1 > t_near) t_near = t1, axis_near = k;
    if (t2 < t_far) t_far = t2, axis_far = k;
  }
  if (t_near > t_far) return kInf;
  float t;
  int axis;
  float sign;
  if (t_near > t_min) {
    t = t_near, axis = axis_near, sign = dir[axis] > 0 ? -1.0f : 1.0f;  // entering face
  } else if (t_far > t_min) {
    t = t_far, axis = axis_far, sign = dir[axis] > 0 ? 1.0f : -1.0f;  // leaving face (origin inside)
  } else {
    return kInf;
  }
  Vec3 local{0, 0, 0};
  (axis == 0 ? local.x : axis == 1 ? local.y : local.z) = sign;
  n = {p.cos_yaw * local.x + p.sin_yaw * local.z, local.y, -p.sin_yaw * local.x + p.cos_yaw * local.z};
  return t;
}

float intersect_cylinder(const Primitive& p, Vec3 o, Vec3 d, float t_min, Vec3& n) {
  float best = kInf;
  const float ox = o.x - p.centre.x, oz = o.z - p.centre.z;
  const float a = d.x * d.x + d.z * d.z;
  if (a > 1e-12f) {
    const float b = ox * d.x + oz * d.z, c = ox * ox + oz * oz - p.radius * p.radius;
    const float disc = b * b - a * c;
    if (disc >= 0) {
      const float root = std::sqrt(disc);
      for (float t : {(-b - root) / a, (-b + root) / a}) {
        const float y = o.y + t * d.y;
        if (t > t_min && t < best && y >= 0 && y <= p.height) {
          best = t;
          n = normalized(Vec3{ox + t * d.x, 0, oz + t * d.z});
        }
      }
    }
  }
  if (std::fabs(d.y) > 1e-12f) {
    for (float cap : {p.height, 0.0f}) {
      const float t = (cap - o.y) / d.y;
      const float x = ox + t * d.x, z = oz + t * d.z;
      if (t > t_min && t < best && x * x + z * z <= p.radius * p.radius) {
        best = t;
        n = {0, cap > 0 ? 1.0f : -1.0f, 0};
      }
    }
  }
  return best;
}

float intersect(const Primitive& p, Vec3 o, Vec3 d, float t_min, Vec3& n) {
  switch (p.shape) {
    case Shape::Plane: return intersect_plane(p, o, d, t_min, n);
    case Shape::Sphere: return intersect_sphere(p, o, d, t_min, n);
    case Shape::Box: return intersect_box(p, o, d, t_min, n);
    case Shape::Cylinder: return intersect_cylinder(p, o, d, t_min, n);
  }
  return kInf;
}

/// Pixel rectangle [u0, u1] x [v0, v1] that contains a primitive's image (conservative).
struct PixelRect {
  int u0, u1, v0, v1;
};

/// Objects: the projection of the corners of a world box around the object, widened by a pixel.
/// Planes (and anything reaching behind the camera): the whole image.
PixelRect screen_bounds(const Primitive& p, const Camera& cam, const Mat3& to_camera, float focal, float cx, float cy,
                        int height, int width) {
  const PixelRect whole{0, width - 1, 0, height - 1};
  Vec3 lo, hi;
  switch (p.shape) {
    case Shape::Plane: return whole;
    case Shape::Sphere:
      lo = p.centre - Vec3{p.radius, p.radius, p.radius};
      hi = p.centre + Vec3{p.radius, p.radius, p.radius};
      break;
    case Shape::Box: {
      const float reach = std::sqrt(p.half_extent.x * p.half_extent.x + p.half_extent.z * p.half_extent.z);
      lo = p.centre - Vec3{reach, p.half_extent.y, reach};
      hi = p.centre + Vec3{reach, p.half_extent.y, reach};
      break;
    }
    case Shape::Cylinder:
      lo = p.centre - Vec3{p.radius, 0, p.radius};
      hi = p.centre + Vec3{p.radius, p.height, p.radius};
      break;
  }
  float u_min = kInf, u_max = -kInf, v_min = kInf, v_max = -kInf;
  for (int corner = 0; corner < 8; ++corner) {
    const Vec3 w{corner & 1 ? hi.x : lo.x, corner & 2 ? hi.y : lo.y, corner & 4 ? hi.z : lo.z};
    const Vec3 c = to_camera * (w - cam.position);
    if (c.z > -0.05f) return whole;
    const float u = cx + focal * c.x / -c.z - 0.5f, v = cy - focal * c.y / -c.z - 0.5f;
    u_min = std::min(u_min, u), u_max = std::max(u_max, u), v_min = std::min(v_min, v), v_max = std::max(v_max, v);
  }
  auto clamp_to = [](float x, int n) { return static_cast<int>(std::clamp(x, -1.0f, static_cast<float>(n))); };
  return {clamp_to(std::floor(u_min) - 1, width), clamp_to(std::ceil(u_max) + 1, width),
          clamp_to(std::floor(v_min) - 1, height), clamp_to(std::ceil(v_max) + 1, height)};
}

}  // namespace

GeometryBuffers cast_rays(const Scene& scene, int height, int width) {
  GeometryBuffers g;
  g.height = height;
  g.width = width;
  const size_t n = static_cast<size_t>(height) * width;
  g.depth.assign(n, 0.0f);
  g.normal_camera.assign(n, Vec3{});
  g.normal_world.assign(n, Vec3{});
  g.point_world.assign(n, Vec3{});
  g.primitive.assign(n, -1);

  const Camera& cam = scene.camera;
  const Mat3 to_camera = cam.to_world.transposed();
  const float focal = 0.5f * width / std::tan(0.5f * cam.horizontal_fov_deg * 3.14159265f / 180.0f);
  const float cx = 0.5f * width, cy = 0.5f * height;
  const int count = static_cast<int>(scene.primitives.size());
  // Only primitives whose screen rectangle covers a pixel are intersected there: objects cover a
  // small part of the image, so this removes most ray-object tests.
  std::vector<PixelRect> bounds(count);
  for (int k = 0; k < count; ++k)
    bounds[k] = screen_bounds(scene.primitives[k], cam, to_camera, focal, cx, cy, height, width);
  std::vector<int> row_candidates;
  row_candidates.reserve(count);
  for (int v = 0; v < height; ++v) {
    row_candidates.clear();
    for (int k = 0; k < count; ++k)
      if (v >= bounds[k].v0 && v <= bounds[k].v1) row_candidates.push_back(k);
    for (int u = 0; u < width; ++u) {
      // Camera-frame direction with z = -1: the ray parameter t is then the depth (z distance).
      const Vec3 dc{(u + 0.5f - cx) / focal, -(v + 0.5f - cy) / focal, -1.0f};
      const Vec3 d = cam.to_world * dc;
      float best = kInf;
      int hit = -1;
      Vec3 normal;
      for (int k : row_candidates) {
        if (u < bounds[k].u0 || u > bounds[k].u1) continue;
        Vec3 nk;
        const float t = intersect(scene.primitives[k], cam.position, d, 1e-4f, nk);
        if (t < best) best = t, hit = k, normal = nk;
      }
      if (hit < 0) continue;
      const size_t i = static_cast<size_t>(v) * width + u;
      g.depth[i] = best;
      g.normal_world[i] = normal;
      g.normal_camera[i] = to_camera * normal;
      g.point_world[i] = cam.position + d * best;
      g.primitive[i] = static_cast<std::int16_t>(hit);
    }
  }
  return g;
}

bool occluded(const Scene& scene, Vec3 origin, Vec3 direction, int skip) {
  Vec3 unused;
  const float inv_len2 = 1.0f / dot(direction, direction);
  for (int k = scene.first_object; k < static_cast<int>(scene.primitives.size()); ++k) {
    if (k == skip) continue;
    const Primitive& p = scene.primitives[k];
    // Cheap rejection by the bounding sphere before the exact test.
    const Vec3 to_centre = p.bound_centre - origin;
    const float along = dot(to_centre, direction);
    if (along < -p.bound_radius * std::sqrt(dot(direction, direction))) continue;
    const float dist2 = dot(to_centre, to_centre) - along * along * inv_len2;
    if (dist2 > p.bound_radius * p.bound_radius) continue;
    if (intersect(p, origin, direction, 1e-3f, unused) < kInf) return true;
  }
  return false;
}

}  // namespace s4t::synthetic
