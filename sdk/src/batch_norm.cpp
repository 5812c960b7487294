#include "s4t/batch_norm.hpp"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include <ostream>
#include <string>
#include <vector>

#include "s4t/collectives.hpp"
#include "s4t/error.hpp"

// LibTorch defines BatchNormImplBase::pretty_print in its own sources and does not export the
// instantiation, yet a class derived from BatchNorm2dImpl needs it in its (construction) vtables. This is
// LibTorch's definition, word for word, so that it is instantiated here (hidden in libs4t_sdk).
namespace torch::nn {
template <size_t D, typename Derived>
void BatchNormImplBase<D, Derived>::pretty_print(std::ostream& stream) const {
  stream << std::boolalpha << "torch::nn::BatchNorm" << D << "d(" << this->options.num_features() << ", "
         << "eps=" << this->options.eps() << ", "
         << "momentum=";
  if (this->options.momentum().has_value()) {
    stream << this->options.momentum().value();
  } else {
    stream << "None";
  }
  stream << ", "
         << "affine=" << this->options.affine() << ", "
         << "track_running_stats=" << this->options.track_running_stats() << ")";
}
template class BatchNormImplBase<2, BatchNorm2dImpl>;
}  // namespace torch::nn

namespace s4t::nn {

namespace {

// Per-channel view {1, C, 1, 1} of a {C} vector.
at::Tensor per_channel(const at::Tensor& v) { return v.view({1, -1, 1, 1}); }

Collectives& live_collectives() {
  auto c = collectives();
  if (!c) throw Error("synchronised BatchNorm: the collectives were removed between forward and backward");
  return *c;
}

// y = (x − mean)·invstd·γ + β with the global mean/invstd given; the backward is PyTorch's SyncBatchNorm:
// grad_x = (dy − Σ_g dy / N − (x − mean)·invstd²·Σ_g dy(x − mean) / N)·invstd·γ, with Σ_g over every rank's
// samples (one all-reduce), and local grad_γ = Σ dy·x̂, grad_β = Σ dy.
struct SyncBatchNormFunction : torch::autograd::Function<SyncBatchNormFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight,
                            const at::Tensor& bias, const at::Tensor& mean, const at::Tensor& invstd,
                            double global_count) {
    ctx->save_for_backward({x, weight, mean, invstd});
    ctx->saved_data["count"] = global_count;
    return (x - per_channel(mean)) * per_channel(invstd * weight) + per_channel(bias);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& weight = saved[1];
    const at::Tensor& mean = saved[2];
    const at::Tensor& invstd = saved[3];
    const double count = ctx->saved_data["count"].toDouble();
    at::Tensor dy = grad_outputs[0];
    if (!dy.defined()) dy = at::zeros_like(x);

    at::Tensor xmu = x - per_channel(mean);
    at::Tensor sum_dy = dy.sum({0, 2, 3});
    at::Tensor sum_dy_xmu = (dy * xmu).sum({0, 2, 3});

    at::Tensor grad_weight = sum_dy_xmu * invstd;  // Σ dy·x̂ on this rank's samples
    at::Tensor grad_bias = sum_dy.clone();
    at::Tensor grad_input;
    if (ctx->needs_input_grad(0)) {
      std::vector<at::Tensor> reduce{at::cat({sum_dy, sum_dy_xmu})};
      live_collectives().all_reduce_sum(reduce);
      const auto c = sum_dy.size(0);
      at::Tensor mean_dy = reduce[0].narrow(0, 0, c) / count;
      at::Tensor mean_dy_xmu = reduce[0].narrow(0, c, c) / count;
      grad_input = (dy - per_channel(mean_dy) - xmu * per_channel(invstd * invstd * mean_dy_xmu)) *
                   per_channel(invstd * weight);
    }
    // One gradient per forward argument: x, weight, bias, mean, invstd, count.
    return {grad_input, grad_weight, grad_bias, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

BatchNorm2dImpl::BatchNorm2dImpl(const torch::nn::BatchNorm2dOptions& options)
    : torch::nn::BatchNorm2dImpl(options) {}
BatchNorm2dImpl::BatchNorm2dImpl(std::int64_t num_features)
    : torch::nn::BatchNorm2dImpl(torch::nn::BatchNorm2dOptions(num_features)) {}
BatchNorm2dImpl::~BatchNorm2dImpl() = default;

at::Tensor BatchNorm2dImpl::forward(const at::Tensor& input) {
  auto group = is_training() && sync_batch_norm_enabled() ? collectives() : nullptr;
  if (!group || group->world_size() <= 1) return torch::nn::BatchNorm2dImpl::forward(input);

  _check_input_dim(input);
  // Momentum exactly as torch's BatchNorm: an exponential average, or the cumulative one with momentum None.
  double factor = options.momentum() ? *options.momentum() : 0.0;
  const bool track = options.track_running_stats() && running_mean.defined();
  if (track && num_batches_tracked.defined()) {
    at::NoGradGuard no_grad;
    num_batches_tracked += 1;
    if (!options.momentum()) factor = 1.0 / num_batches_tracked.item<double>();
  }

  // Local Σx, Σx² and count, summed in double (the variance is E[x²] − E[x]², which loses precision in
  // float), then one all-reduce for all three.
  at::Tensor local;
  {
    at::NoGradGuard no_grad;
    const at::Tensor x = input.detach();
    const double n = static_cast<double>(x.numel() / x.size(1));
    local = at::cat({x.sum({0, 2, 3}, false, at::kDouble), (x * x).sum({0, 2, 3}, false, at::kDouble),
                     at::full({1}, n, x.options().dtype(at::kDouble))});
  }
  std::vector<at::Tensor> reduce{local};
  group->all_reduce_sum(reduce);
  const std::int64_t c = input.size(1);
  const double count = reduce[0][2 * c].item<double>();
  if (count <= 1.0)
    throw Error("synchronised BatchNorm: expected more than 1 value per channel over all ranks when training, got " +
                std::to_string(static_cast<long long>(count)) + " (input shape " + std::to_string(input.size(0)) +
                "x" + std::to_string(c) + "x...)");
  at::Tensor mean64 = reduce[0].narrow(0, 0, c) / count;
  at::Tensor var64 = (reduce[0].narrow(0, c, c) / count - mean64 * mean64).clamp_min(0.0);
  at::Tensor mean = mean64.to(input.scalar_type());
  at::Tensor invstd = (var64 + options.eps()).rsqrt().to(input.scalar_type());

  if (track) {
    at::NoGradGuard no_grad;
    // PyTorch's SyncBatchNorm: running_var takes the unbiased variance over the global count.
    running_mean.mul_(1.0 - factor).add_(mean64.to(running_mean.scalar_type()), factor);
    running_var.mul_(1.0 - factor).add_((var64 * (count / (count - 1.0))).to(running_var.scalar_type()), factor);
  }
  // Without affine parameters: γ = 1, β = 0 (constants; autograd functions take no undefined tensors).
  const at::Tensor gamma = weight.defined() ? weight : at::ones({c}, input.options());
  const at::Tensor beta = bias.defined() ? bias : at::zeros({c}, input.options());
  return SyncBatchNormFunction::apply(input, gamma, beta, mean, invstd, count);
}

}  // namespace s4t::nn
