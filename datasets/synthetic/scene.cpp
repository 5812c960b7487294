#include "scene.hpp"

#include <algorithm>
#include <cmath>

#include "random.hpp"

namespace s4t::synthetic {

namespace {

constexpr float kPi = 3.14159265358979f;
constexpr float kDeg = kPi / 180.0f;
constexpr std::uint64_t kGeometryStream = 0x67656f6dull;    // "geom"
constexpr std::uint64_t kAppearanceStream = 0x6c6f6f6bull;  // "look"

Look draw_look(Rng& r) {
  Look l;
  l.u_hue = r.uniform();
  l.u_saturation = r.uniform();
  l.u_value = r.uniform();
  l.u_frequency = r.uniform();
  l.pattern = r.integer(0, 3);
  // Uniform direction on the sphere for stripes.
  float z = r.uniform(-1.0f, 1.0f), phi = r.uniform(0.0f, 2.0f * kPi), s = std::sqrt(1.0f - z * z);
  l.stripe_direction = {s * std::cos(phi), z, s * std::sin(phi)};
  l.noise_seed = static_cast<std::uint32_t>(r.next());
  return l;
}

Primitive plane(SemanticClass cls, int surface, Vec3 normal, float offset, Vec3 tangent) {
  Primitive p;
  p.shape = Shape::Plane;
  p.cls = cls;
  p.surface = surface;
  p.normal = normal;
  p.offset = offset;
  p.tangent = tangent;
  return p;
}

/// Object kind 0 sphere, 1 box, 2 cylinder, with the given relative frequencies; one draw either way.
/// Equal weights take the source's draw (a remainder), so the source's scenes stay what they were.
int draw_kind(Rng& g, const std::array<float, 3>& weights) {
  if (weights[0] == weights[1] && weights[1] == weights[2]) return g.integer(0, 2);
  float u = g.uniform() * (weights[0] + weights[1] + weights[2]);
  for (int k = 0; k < 3; ++k) {
    if (weights[k] > 0 && u < weights[k]) return k;
    u -= weights[k];
  }
  return weights[2] > 0 ? 2 : weights[1] > 0 ? 1 : 0;  // rounding at the top end: the last class that occurs
}

/// Radius of the object's footprint on the floor (for non-overlapping placement).
float footprint(const Primitive& p) {
  if (p.shape == Shape::Box) return std::sqrt(p.half_extent.x * p.half_extent.x + p.half_extent.z * p.half_extent.z);
  return p.radius;
}

}  // namespace

std::vector<std::string> class_names() { return {"floor", "wall", "sphere", "box", "cylinder"}; }

Scene generate_scene(std::uint64_t seed, const SceneParams& params) {
  Rng g(hash_combine(seed, kGeometryStream));
  Rng a(hash_combine(seed, kAppearanceStream));
  Scene scene;

  // Camera: eye height of a person or a robot, tilted down a little, turned a little left or right.
  const float eye = g.uniform(params.eye_height_lo, params.eye_height_hi);
  const float pitch = g.uniform(params.pitch_lo_deg, params.pitch_hi_deg) * kDeg;
  const float yaw = g.uniform(-20.0f, 20.0f) * kDeg;
  scene.camera.position = {0, eye, 0};
  scene.camera.horizontal_fov_deg = params.horizontal_fov_deg;
  {
    // to_world = R_y(yaw) * R_x(-pitch): the view axis -z tilts down, then turns about the vertical.
    const float cp = std::cos(pitch), sp = std::sin(pitch), cy = std::cos(yaw), sy = std::sin(yaw);
    Mat3 rx;
    rx.m[1][1] = cp; rx.m[1][2] = sp;
    rx.m[2][1] = -sp; rx.m[2][2] = cp;
    Mat3 ry;
    ry.m[0][0] = cy; ry.m[0][2] = sy;
    ry.m[2][0] = -sy; ry.m[2][2] = cy;
    Mat3& r = scene.camera.to_world;
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) r.m[i][j] = ry.m[i][0] * rx.m[0][j] + ry.m[i][1] * rx.m[1][j] + ry.m[i][2] * rx.m[2][j];
  }

  // Room: the camera stands somewhere across its width, the back wall 6-9.5 m ahead (times room_scale).
  const float scale = params.room_scale;
  const float room_width = g.uniform(5.0f * scale, 8.0f * scale);
  const float back = g.uniform(6.0f * scale, 9.5f * scale);
  const float shift_x = g.uniform(-1.0f, 1.0f) * (room_width / 2 - 1.5f);
  const float left = -room_width / 2 + shift_x, right = room_width / 2 + shift_x;

  scene.light = {a.uniform(), a.uniform(), a.uniform()};
  Look floor_look = draw_look(a), wall_look = draw_look(a);
  scene.primitives.push_back(plane(kFloor, 0, {0, 1, 0}, 0.0f, {1, 0, 0}));
  scene.primitives.push_back(plane(kWall, 1, {0, 0, 1}, -back, {1, 0, 0}));
  scene.primitives.push_back(plane(kWall, 1, {1, 0, 0}, left, {0, 0, 1}));
  scene.primitives.push_back(plane(kWall, 1, {-1, 0, 0}, -right, {0, 0, 1}));
  scene.primitives[0].look = floor_look;
  for (int i = 1; i < 4; ++i) scene.primitives[i].look = wall_look;
  scene.first_object = static_cast<int>(scene.primitives.size());

  // Objects on the floor, inside the horizontal field of view, not overlapping each other or the walls.
  const int count = g.integer(params.objects_min, std::max(params.objects_min, params.objects_max));
  const float half_fov = 0.5f * params.horizontal_fov_deg * kDeg;
  for (int k = 0; k < count; ++k) {
    Primitive o;
    const int kind = draw_kind(g, params.class_weights);
    const float object_scale = params.object_scale;
    if (kind == 0) {
      o.shape = Shape::Sphere;
      o.cls = kSphere;
      o.radius = g.uniform(0.25f, 0.7f) * object_scale;
    } else if (kind == 1) {
      o.shape = Shape::Box;
      o.cls = kBox;
      o.half_extent = Vec3{g.uniform(0.2f, 0.6f), g.uniform(0.15f, 0.6f), g.uniform(0.2f, 0.6f)} * object_scale;
      const float box_yaw = g.uniform(0.0f, kPi / 2);
      o.cos_yaw = std::cos(box_yaw);
      o.sin_yaw = std::sin(box_yaw);
    } else {
      o.shape = Shape::Cylinder;
      o.cls = kCylinder;
      o.radius = g.uniform(0.15f, 0.45f) * object_scale;
      o.height = g.uniform(0.4f, 1.6f) * object_scale;
    }
    const float reach = footprint(o);
    bool placed = false;
    for (int attempt = 0; attempt < 24 && !placed; ++attempt) {
      const float heading = yaw + g.uniform(-0.85f, 0.85f) * half_fov;
      // Nearer positions a little more often: far objects are only a few pixels at 64x64.
      const float u = g.uniform();
      const float distance = 2.2f * scale + (back - 2.5f * scale) * u * std::sqrt(u);
      const float x = -std::sin(heading) * distance, z = -std::cos(heading) * distance;
      if (x - reach < left + 0.05f || x + reach > right - 0.05f || z - reach < -back + 0.05f) continue;
      bool clear = true;
      for (size_t j = scene.first_object; j < scene.primitives.size() && clear; ++j) {
        const Primitive& q = scene.primitives[j];
        const float dx = x - q.centre.x, dz = z - q.centre.z, min_gap = reach + footprint(q) + 0.05f;
        clear = dx * dx + dz * dz >= min_gap * min_gap;
      }
      if (!clear) continue;
      const float lift = o.shape == Shape::Sphere ? o.radius : o.shape == Shape::Box ? o.half_extent.y : 0.0f;
      o.centre = {x, lift, z};
      placed = true;
    }
    Look look = draw_look(a);  // drawn even when placement fails, so later objects keep their looks
    if (!placed) continue;
    o.surface = static_cast<int>(scene.primitives.size()) - scene.first_object + 2;
    if (o.shape == Shape::Cylinder) {
      o.bound_centre = o.centre + Vec3{0, 0.5f * o.height, 0};
      o.bound_radius = std::sqrt(o.radius * o.radius + 0.25f * o.height * o.height);
    } else {
      o.bound_centre = o.centre;
      o.bound_radius = o.shape == Shape::Sphere ? o.radius : std::sqrt(dot(o.half_extent, o.half_extent));
    }
    o.look = look;
    scene.primitives.push_back(o);
  }
  return scene;
}

}  // namespace s4t::synthetic
