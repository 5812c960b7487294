#pragma once
// Checkpoints: one file written by torch::pickle_save (readable by Python's torch.load as a dict of
// tensors): "model.<name>" for every parameter and buffer of the root module (so "model.backbone.conv1.weight"
// matches torchvision names after the prefix), "optimizer" (serialized optimizer state, bytes),
// "meta.<key>" integers, "rng.cpu" (the CPU generator's state, restored on resume). Written to a temporary
// file and renamed, so a crash never leaves half a file; refused when any weight is not finite.
#include <filesystem>
#include <map>
#include <string>

#include <ATen/core/Tensor.h>

namespace torch::nn { class Module; }
namespace torch::optim { class Optimizer; }

namespace s4t::host {

struct CheckpointMeta {
  std::map<std::string, std::int64_t> values;  ///< e.g. "iteration", "seed"
  std::map<std::string, at::Tensor> tensors;   ///< loop state to resume exactly (saved as "state.<key>")
};

void save_checkpoint(const std::filesystem::path& path, torch::nn::Module& model, torch::optim::Optimizer* optimizer,
                     const CheckpointMeta& meta);

/// Loads parameters and buffers by name. Every tensor of `model` must be in the file with the same
/// shape (unless `allow_missing_prefix` names a prefix whose tensors may be absent, e.g. "method.").
/// Returns the meta values. Throws s4t::Error naming the file and the offending tensor.
CheckpointMeta load_checkpoint(const std::filesystem::path& path, torch::nn::Module& model,
                               torch::optim::Optimizer* optimizer, const std::string& allow_missing_prefix = "");

}  // namespace s4t::host
