#include "edges.hpp"

#include <algorithm>
#include <cmath>

namespace s4t::synthetic {

void edge_map(const Scene& scene, const GeometryBuffers& g, float relative_threshold, float* out) {
  const int h = g.height, w = g.width;
  std::fill(out, out + static_cast<size_t>(h) * w, 0.0f);
  auto visit = [&](size_t a, size_t b) {
    const int pa = g.primitive[a], pb = g.primitive[b];
    if (pa < 0 || pb < 0) {  // a ray that left the scene: the other side is the boundary
      if (pa >= 0) out[a] = 1;
      if (pb >= 0) out[b] = 1;
      return;
    }
    const Primitive &qa = scene.primitives[pa], &qb = scene.primitives[pb];
    const float da = g.depth[a], db = g.depth[b];
    const bool boundary = qa.cls != qb.cls ||
                          (qa.surface != qb.surface && std::fabs(da - db) > relative_threshold * std::min(da, db));
    if (boundary) out[db < da ? b : a] = 1;
  };
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const size_t i = static_cast<size_t>(y) * w + x;
      if (x + 1 < w) visit(i, i + 1);
      if (y + 1 < h) visit(i, i + w);
    }
}

}  // namespace s4t::synthetic
