#pragma once
// QUIRK of the released S4T code, reproduced on request only ([method.s4t] normals_loss =
// "released_cosine_width"; docs/methods.md#fidelity-to-the-released-code): its Taskonomy-source loss for
// surface normals (losses/loss_schemes.py, compute_task_loss, task 'normal') is 1 − cosine similarity
// taken along the last tensor axis of N×3×H×W maps, i.e. between whole image rows of one channel
// (width axis), not between the 3-vectors of a pixel:
//   L = mean over (n, c, h) of [ 1 − Σ_w p·g / ((‖p_{n,c,h,:}‖ + 1e-6) (‖g_{n,c,h,:}‖ + 1e-6)) ].
// Every pixel counts (the release has no mask there). Header-only so the tests check it directly.
#include <ATen/core/Tensor.h>

#include <string>

#include "s4t/error.hpp"

namespace s4t::s4t_method {

inline at::Tensor released_cosine_width_loss(const at::Tensor& prediction, const at::Tensor& target) {
  if (prediction.dim() != 4 || !prediction.sizes().equals(target.sizes()))
    throw Error("s4t: normals_loss = \"released_cosine_width\" needs N×C×H×W prediction and target of one shape");
  const auto t = target.to(prediction.scalar_type());
  auto dot = prediction.mul(t).sum(-1);
  auto pn = prediction.norm(2, {-1}).add(1e-6);
  auto tn = t.norm(2, {-1}).add(1e-6);
  return dot.div(pn).div(tn).neg().add(1.0).mean();
}

}  // namespace s4t::s4t_method
