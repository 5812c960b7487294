#pragma once
// The augmented views TTT++'s contrastive loss compares (SimCLR recipe, on normalised image tensors).
#include <ATen/core/Tensor.h>

namespace s4t::tttpp {

/// Options crop_min, jitter, jitter_p, gray_p of [method.tttpp].
struct ViewSettings {
  double crop_min;  ///< smallest area fraction of the random resized crop
  double jitter;    ///< colour-jitter strength
  double jitter_p;  ///< probability of colour jitter
  double gray_p;    ///< probability of grayscale
};

/// One random view of every image (N×C×H×W in, same shape out): random resized crop (area `crop_min`..1,
/// aspect 3/4..4/3) back to the input size, horizontal flip (p 0.5), colour jitter (p `jitter_p`:
/// brightness as a shift of ±`jitter` image standard deviations, contrast and saturation factors in
/// 1 ± `jitter`; hue is not jittered), grayscale (p `gray_p`). Parameters are uniforms drawn on the CPU
/// from the default generator (seeded per run by the host and saved in its checkpoints, so a resumed run
/// draws the same views), a fixed number per image; no device synchronisation is needed.
at::Tensor simclr_view(const at::Tensor& images, const ViewSettings& s);

}  // namespace s4t::tttpp
