#pragma once
// The RealNVP normalising flow of TTTFlow (docs/methods.md#tttflow): three affine checkerboard couplings with
// ActNorm layers between them, each coupling conditioned by a ResModule of weight-normalised convs.
// Works on any N×C×H×W feature map (the checkerboard mask is built for the input's H×W).
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace s4t::tttflow {

/// Conv2d with weight normalisation (Salimans & Kingma 2016), implemented here: the effective weight is
/// w = g · v / ‖v‖ with one norm and one gain g per output channel (PyTorch's weight_norm with dim 0;
/// parameter names weight_v, weight_g, bias as PyTorch stores them). Initialised like nn.Conv2d with
/// g = ‖v‖, so the first forward equals the plain conv's.
class WNConv2dImpl : public torch::nn::Module {
 public:
  WNConv2dImpl(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t padding);
  at::Tensor forward(const at::Tensor& x);
  /// The effective weight g · v / ‖v‖.
  at::Tensor weight() const;

  at::Tensor weight_v, weight_g, bias;

 private:
  std::int64_t padding_;
};
TORCH_MODULE(WNConv2d);

/// BN–ReLU, then [WN 1x1, BN, ReLU, WN 3x3, BN, ReLU, WN 1x1] (bottleneck) or [WN 3x3, BN, ReLU, WN 3x3],
/// added to the input.
class ResidualBlockImpl : public torch::nn::Module {
 public:
  ResidualBlockImpl(std::int64_t dim, bool bottleneck);
  at::Tensor forward(const at::Tensor& x);

 private:
  torch::nn::BatchNorm2d in_norm{nullptr};
  std::vector<WNConv2d> convs_;
  std::vector<torch::nn::BatchNorm2d> norms_;
};
TORCH_MODULE(ResidualBlock);

/// WN 3x3 in→dim, `blocks` residual blocks, BN–ReLU–WN 1x1 dim→out.
class ResModuleImpl : public torch::nn::Module {
 public:
  ResModuleImpl(std::int64_t in, std::int64_t dim, std::int64_t out, std::int64_t blocks, bool bottleneck);
  at::Tensor forward(const at::Tensor& x);

 private:
  WNConv2d in_conv{nullptr}, out_conv{nullptr};
  std::vector<ResidualBlock> blocks_;
  torch::nn::BatchNorm2d out_norm{nullptr};
};
TORCH_MODULE(ResModule);

/// Affine coupling with a spatial checkerboard mask m (m(i,j) = (i + j + parity) mod 2): the masked
/// positions condition the transform of the others.
///   (log s, t) = ResModule(x ⊙ m);  log s ← a · tanh(log s) + b  (scalars a, b, initialised to 0);
///   y = x ⊙ exp(log s ⊙ (1 − m)) + t ⊙ (1 − m);  per-element log-det = log s ⊙ (1 − m).
class CouplingImpl : public torch::nn::Module {
 public:
  CouplingImpl(std::int64_t channels, std::int64_t dim, std::int64_t blocks, bool bottleneck, int parity);
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& x);

 private:
  ResModule net{nullptr};
  at::Tensor scale_scale, shift_scale;
  int parity_;
};
TORCH_MODULE(Coupling);

/// Per-channel affine y = x · exp(log_scale) + shift, data-initialised on the first batch it sees in
/// training mode so that y has zero mean and unit variance per channel (log_scale = −log std,
/// shift = −mean/std). Per-element log-det = log_scale.
/// [QUIRK fixed] The released code keeps the "initialised" flag as a plain attribute, so after loading
/// weights the first forward pass (at test time: the first target batch) re-initialises from data. Here
/// the flag is the registered buffer `initialised` (saved in checkpoints) and data initialisation only
/// happens in training mode. Second fix: the released code initialises shift = −mean but applies it
/// after the scale (x·e^s + shift), which does not standardise; here shift = −mean/std.
class ActNormImpl : public torch::nn::Module {
 public:
  explicit ActNormImpl(std::int64_t channels);
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& x);

  at::Tensor log_scale, shift, initialised;
};
TORCH_MODULE(ActNorm);

struct FlowOptions {
  std::int64_t channels = 512;    ///< C of the feature map
  std::int64_t hidden = 512;      ///< width of the ResModules
  std::int64_t blocks = 2;        ///< residual blocks per ResModule
  bool bottleneck = true;
};

/// coupling(parity 1) → ActNorm → coupling(parity 0) → ActNorm → coupling(parity 1).
class RealNVPImpl : public torch::nn::Module {
 public:
  explicit RealNVPImpl(const FlowOptions& options);
  /// z and the per-element log-determinant (both N×C×H×W).
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& x);
  /// −mean over all elements of [log N(z; 0, 1) + log-det] (nats per element).
  at::Tensor nll(const at::Tensor& x);

 private:
  Coupling c0{nullptr}, c1{nullptr}, c2{nullptr};
  ActNorm n0{nullptr}, n1{nullptr};
};
TORCH_MODULE(RealNVP);

}  // namespace s4t::tttflow
