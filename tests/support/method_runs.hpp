#pragma once
// For method tests through the test kit: several adaptation steps of the host's session on one batch,
// and the method's test-time loss on its own (no step), for checks of the loss function itself.
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <vector>

#include "s4t_testkit/doctest.hpp"
#include "s4t_testkit/testkit.hpp"

namespace s4t::test {

/// Steps 1..n of `session` on `images` (target batch `batch_index`); the losses. Every step must update.
inline std::vector<double> steps(host::AdaptationSession& session, const at::Tensor& images, int n,
                                 std::int64_t batch_index = 0) {
  std::vector<double> losses;
  for (int i = 1; i <= n; ++i) {
    auto outcome = session.step(images, {i, batch_index});
    CHECK_MESSAGE(outcome.updated, "step " << i << " of batch " << batch_index << " made no update");
    losses.push_back(outcome.loss);
  }
  return losses;
}

/// The method's adaptation loss on `images` with root() in train mode and normalisation `mode`.
inline at::Tensor loss_in_mode(testkit::TinyExperiment& x, const at::Tensor& images, NormMode mode,
                               const AdaptContext& context = {}) {
  x.root().train();
  x.norm_layers().apply(mode);
  return x.method().adaptation_loss(x.model(), images, context);
}

}  // namespace s4t::test
