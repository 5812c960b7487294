#pragma once
// Per-pixel ray casting of a scene through a pinhole camera: the geometric ground truth (depth,
// normals, surface and class per pixel) and the hit points the shader textures.
#include <cstdint>
#include <vector>

#include "scene.hpp"

namespace s4t::synthetic {

/// Per-pixel results, row-major H×W. A pixel whose ray hits nothing has primitive -1 and depth 0
/// (cannot happen in a closed room, but labels handle it as invalid).
struct GeometryBuffers {
  int height = 0, width = 0;
  std::vector<float> depth;          ///< z distance along the optical axis, metres
  std::vector<Vec3> normal_camera;   ///< unit, camera frame: x right, y up, z towards the camera
  std::vector<Vec3> normal_world;
  std::vector<Vec3> point_world;
  std::vector<std::int16_t> primitive;  ///< index into Scene::primitives, -1 = no hit
};

/// Casts one ray through each pixel centre. Focal length from the horizontal field of view; square pixels.
GeometryBuffers cast_rays(const Scene& scene, int height, int width);

/// True if any object (not the floor or walls) lies on the ray from `origin` towards `direction`.
/// `skip` is the primitive the origin lies on (a convex object cannot shadow itself where lit).
bool occluded(const Scene& scene, Vec3 origin, Vec3 direction, int skip);

}  // namespace s4t::synthetic
