#include "engine/checkpoint.hpp"

#include <ATen/ops/from_blob.h>
#include <ATen/ops/scalar_tensor.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <sstream>

#include "s4t/error.hpp"
#include "s4t/state_dict.hpp"

namespace fs = std::filesystem;

namespace s4t::host {

void save_checkpoint(const fs::path& path, torch::nn::Module& model, torch::optim::Optimizer* optimizer,
                     const CheckpointMeta& meta) {
  StateDict state;
  for (auto& [name, t] : state_dict_of(model)) state["model." + name] = t;
  if (optimizer) {
    torch::serialize::OutputArchive archive;
    optimizer->save(archive);
    std::ostringstream bytes;
    archive.save_to(bytes);
    std::string s = bytes.str();
    state["optimizer"] =
        at::from_blob(s.data(), {static_cast<std::int64_t>(s.size())}, at::TensorOptions().dtype(at::kByte)).clone();
  }
  for (auto& [k, v] : meta.values) state["meta." + k] = at::scalar_tensor(v, at::TensorOptions().dtype(at::kLong));
  write_state_dict(path, state);
}

CheckpointMeta load_checkpoint(const fs::path& path, torch::nn::Module& model, torch::optim::Optimizer* optimizer,
                               const std::string& allow_missing_prefix) {
  if (!fs::exists(path)) throw Error("checkpoint '" + path.string() + "' does not exist");
  StateDict state = read_state_dict(path);
  LoadReport report;
  try {
    report = load_state_dict(model, state, "model.", /*strict=*/false);
  } catch (const std::exception& e) {
    throw Error("checkpoint '" + path.string() + "': " + e.what());
  }
  for (auto& m : report.missing)
    if (allow_missing_prefix.empty() || m.rfind(allow_missing_prefix, 0) != 0)
      throw Error("checkpoint '" + path.string() + "' lacks tensor '" + m +
                  "' (was it trained with another backbone, task set or method?)");
  if (!report.unexpected.empty())
    throw Error("checkpoint '" + path.string() + "' has tensor '" + report.unexpected.front() +
                "' that the model does not (was it trained with another backbone, task set or method?)");
  if (optimizer) {
    auto it = state.find("optimizer");
    if (it == state.end()) throw Error("checkpoint '" + path.string() + "' holds no optimizer state to resume from");
    auto bytes = it->second.contiguous();
    std::string s(static_cast<const char*>(bytes.data_ptr()), static_cast<size_t>(bytes.numel()));
    std::istringstream in(s);
    torch::serialize::InputArchive archive;
    archive.load_from(in);
    optimizer->load(archive);
  }
  CheckpointMeta meta;
  for (auto& [k, v] : state)
    if (k.rfind("meta.", 0) == 0) meta.values[k.substr(5)] = v.item<std::int64_t>();
  return meta;
}

}  // namespace s4t::host
