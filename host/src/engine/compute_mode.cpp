#include "engine/compute_mode.hpp"

#include <ATen/autocast_mode.h>
#include <torch/nn/module.h>
#include <torch/version.h>

#include "config/experiment.hpp"
#include "s4t/error.hpp"

// LibTorch 2.4 replaced the per-backend autocast setters (set_cpu_enabled, set_autocast_gpu_dtype, ...)
// by ones taking the device type and later deprecated the old names; 1.13 has only the old ones.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define S4T_AUTOCAST_BY_DEVICE_TYPE 1
#endif

namespace s4t::host {

ComputeMode parse_compute_mode(const std::string& precision, const std::string& memory_format,
                               const std::string& where) {
  ComputeMode m;
  if (precision == "bf16") m.bf16 = true;
  else if (precision != "fp32")
    throw ConfigError(where + " precision = \"" + precision + "\": expected \"fp32\" or \"bf16\"");
  if (memory_format == "channels_last") m.channels_last = true;
  else if (memory_format != "contiguous")
    throw ConfigError(where + " memory_format = \"" + memory_format + "\": expected \"contiguous\" or \"channels_last\"");
  return m;
}

ComputeMode compute_mode(const Experiment& x) {
  const auto& run = x.section("run");
  return parse_compute_mode(run.get_string("precision"), run.get_string("memory_format"));
}

std::string describe(const ComputeMode& mode) {
  return std::string(mode.bf16 ? "bf16" : "fp32") + ", " + (mode.channels_last ? "channels_last" : "contiguous");
}

namespace {
bool autocast_enabled(bool cuda) {
#ifdef S4T_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::is_autocast_enabled(cuda ? at::kCUDA : at::kCPU);
#else
  return cuda ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}
at::ScalarType autocast_dtype(bool cuda) {
#ifdef S4T_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::get_autocast_dtype(cuda ? at::kCUDA : at::kCPU);
#else
  return cuda ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
#endif
}
void set_autocast(bool cuda, bool enabled, at::ScalarType dtype) {
#ifdef S4T_AUTOCAST_BY_DEVICE_TYPE
  at::autocast::set_autocast_dtype(cuda ? at::kCUDA : at::kCPU, dtype);
  at::autocast::set_autocast_enabled(cuda ? at::kCUDA : at::kCPU, enabled);
#else
  if (cuda) {
    at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(enabled);
  } else {
    at::autocast::set_autocast_cpu_dtype(dtype);
    at::autocast::set_cpu_enabled(enabled);
  }
#endif
}
}  // namespace

AutocastScope::AutocastScope(const at::Device& device, bool enabled) : enabled_(enabled), cuda_(device.is_cuda()) {
  if (!enabled_) return;
  if (!device.is_cuda() && !device.is_cpu())
    throw ConfigError("[run] precision = \"bf16\" needs a cpu or cuda device, not " + device.str());
  previous_enabled_ = autocast_enabled(cuda_);
  previous_dtype_ = autocast_dtype(cuda_);
  set_autocast(cuda_, true, at::kBFloat16);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!enabled_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast(cuda_, previous_enabled_, previous_dtype_);
}

void to_memory_format(torch::nn::Module& module, bool channels_last) {
  if (!channels_last) return;
  at::NoGradGuard no_grad;
  auto convert = [](at::Tensor t) {
    if (t.defined() && t.dim() == 4 && !t.is_contiguous(at::MemoryFormat::ChannelsLast))
      t.set_data(t.data().contiguous(at::MemoryFormat::ChannelsLast));
  };
  for (auto& p : module.parameters(true)) convert(p);
  for (auto& b : module.buffers(true)) convert(b);
}

at::Tensor to_memory_format(const at::Tensor& images, bool channels_last) {
  if (!channels_last || !images.defined() || images.dim() != 4) return images;
  return images.contiguous(at::MemoryFormat::ChannelsLast);
}

at::Tensor as_float(const at::Tensor& t) {
  if (t.defined() && at::isFloatingType(t.scalar_type()) && t.scalar_type() != at::kFloat &&
      t.scalar_type() != at::kDouble)
    return t.to(at::kFloat);
  return t;
}

std::map<std::string, at::Tensor> as_float(std::map<std::string, at::Tensor> tensors) {
  for (auto& [name, t] : tensors) t = as_float(t);
  return tensors;
}

}  // namespace s4t::host
