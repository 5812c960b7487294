#pragma once
// A procedurally generated indoor scene: a room (floor, back wall, two side walls; no ceiling, the
// walls are tall enough for any camera ray) with objects standing on the floor, a pinhole camera,
// and the random draws that appearance styles turn into colours, textures and light.
//
// World frame: y up, floor at y = 0, camera above the origin looking roughly along -z. Layout and
// appearance draws come from separate streams, so both domains render the same geometry.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "vec3.hpp"

namespace s4t::synthetic {

/// Semantic classes, in output-channel order.
enum SemanticClass : std::uint8_t { kFloor = 0, kWall = 1, kSphere = 2, kBox = 3, kCylinder = 4 };
inline constexpr int kNumClasses = 5;
std::vector<std::string> class_names();

enum class Shape : std::uint8_t { Plane, Sphere, Box, Cylinder };

/// Appearance draws of one surface (uniforms in [0, 1)); the domain style maps them to colours and textures.
struct Look {
  float u_hue = 0.5f, u_saturation = 0.5f, u_value = 0.5f;
  float u_frequency = 0.5f;
  int pattern = 0;             ///< objects: 0 plain, 1 stripes, 2 checker, 3 value noise
  Vec3 stripe_direction{0, 1, 0};
  std::uint32_t noise_seed = 0;
};

struct Primitive {
  Shape shape = Shape::Plane;
  SemanticClass cls = kFloor;
  int surface = 0;             ///< 0 floor, 1 walls (one surface: corners are no edges), 2+ one per object
  // Plane: points p with dot(normal, p) == offset; the normal faces into the room.
  Vec3 normal;
  float offset = 0;
  Vec3 tangent;                ///< in-plane axis for 2-D texture coordinates (the other is normal x tangent)
  // Sphere: centre, radius. Box: centre, half extents in its own frame, rotated by yaw about y.
  // Cylinder (vertical): centre of the base disc on the floor, radius, height.
  Vec3 centre;
  float radius = 0;
  Vec3 half_extent;
  float cos_yaw = 1, sin_yaw = 0;
  float height = 0;
  Vec3 bound_centre;           ///< objects: bounding sphere, for cheap shadow-ray rejection
  float bound_radius = 0;
  Look look;
};

struct Camera {
  Vec3 position;
  Mat3 to_world;               ///< camera -> world rotation (camera: x right, y up, z towards the viewer)
  float horizontal_fov_deg = 60;
};

/// Light draws (uniforms); the style maps them to a direction, intensity and colour.
struct LightDraw {
  float u_azimuth = 0.5f, u_elevation = 0.5f, u_intensity = 0.5f;
};

struct Scene {
  Camera camera;
  std::vector<Primitive> primitives;  ///< floor, walls, then objects
  int first_object = 0;               ///< index of the first object in primitives
  LightDraw light;
};

/// What the generator draws from. The defaults are the source domain's; a target shift family moves some
/// of them (target_shift.hpp). The draws are the same random numbers whatever the values, so changing
/// one range changes the mapping of a draw, not the other draws.
struct SceneParams {
  int objects_min = 3;
  int objects_max = 7;
  float horizontal_fov_deg = 60;  ///< objects are placed inside this field of view
  float eye_height_lo = 1.2f, eye_height_hi = 1.8f;  ///< camera height range, metres
  float pitch_lo_deg = 6, pitch_hi_deg = 18;         ///< downward camera pitch range
  float room_scale = 1;           ///< scales the room's width and depth and the objects' distances
  float object_scale = 1;         ///< scales every object dimension
  std::array<float, 3> class_weights{1, 1, 1};  ///< relative frequency of sphere, box, cylinder
};

/// The scene of one sample. Depends only on `seed` and `params`, never on the domain.
Scene generate_scene(std::uint64_t seed, const SceneParams& params);

}  // namespace s4t::synthetic
