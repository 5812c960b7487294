#pragma once
// How a run computes: [run] precision (fp32, or bf16 autocast) and [run] memory_format (contiguous or
// channels_last). The session, the trainer and `s4t bench` apply it the same way: weights and images
// converted once with to_memory_format(), forward passes inside an AutocastScope, predictions and
// losses read back in fp32 (as_float) so losses, metrics and the guard never see bfloat16.
#include <ATen/core/Tensor.h>

#include <map>
#include <string>

#include "s4t_host/adaptation_session.hpp"  // ComputeMode

namespace torch::nn { class Module; }

namespace s4t::host {

struct Experiment;

/// `precision` (fp32 | bf16) and `memory_format` (contiguous | channels_last); anything else is a
/// ConfigError naming `where` (e.g. "[run]") and the accepted values.
ComputeMode parse_compute_mode(const std::string& precision, const std::string& memory_format,
                               const std::string& where = "[run]");
/// [run] precision and memory_format of an experiment.
ComputeMode compute_mode(const Experiment& x);
/// "fp32, contiguous", "bf16, channels_last": for log lines and bench headers.
std::string describe(const ComputeMode& mode);

/// Autocast to bfloat16 for the ops of `device`'s type while alive, when `enabled`; restores the previous
/// state (enabled flag and dtype) on destruction and, like PyTorch's `torch.autocast`, clears the cast
/// cache when the outermost scope closes. Thread-local, as autocast itself is.
class AutocastScope {
 public:
  AutocastScope(const at::Device& device, bool enabled);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool enabled_ = false;
  bool cuda_ = false;
  bool previous_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kFloat;
};

/// Every 4-D parameter and buffer of `module` (and its children) in channels_last when `channels_last`
/// (set_data: optimizers and snapshots holding the tensors keep seeing the same tensors). A no-op otherwise.
void to_memory_format(torch::nn::Module& module, bool channels_last);
/// `images` (N,C,H,W) in channels_last when asked, otherwise unchanged.
at::Tensor to_memory_format(const at::Tensor& images, bool channels_last);
/// Floating tensors not in fp32 (bfloat16 under autocast) cast to fp32; others unchanged.
at::Tensor as_float(const at::Tensor& t);
std::map<std::string, at::Tensor> as_float(std::map<std::string, at::Tensor> tensors);

}  // namespace s4t::host
