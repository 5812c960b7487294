#pragma once
// Edge labels from the rendered geometry (occlusion and class boundaries, like Taskonomy's
// occlusion edges rather than image-gradient edges).
#include "raycast.hpp"
#include "scene.hpp"

namespace s4t::synthetic {

/// Writes an H×W map with 1 at edges, 0 elsewhere. Two 4-neighbours form an edge where their
/// classes differ, or where they lie on different surfaces and their depths differ by more than
/// `relative_threshold` times the smaller depth. A surface never jumps in depth by itself (all
/// primitives are convex or planar), so grazing floors do not produce false edges. Only the nearer
/// pixel of the pair is marked, so edges are one pixel wide and lie on the occluding side.
void edge_map(const Scene& scene, const GeometryBuffers& geometry, float relative_threshold, float* out);

}  // namespace s4t::synthetic
