#include "engine/checkpoint.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/isfinite.h>
#include <ATen/ops/scalar_tensor.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "s4t/error.hpp"
#include "s4t/state_dict.hpp"
#include "util/error_text.hpp"

namespace fs = std::filesystem;

namespace s4t::host {

namespace {
// Name of the first floating-point tensor of `state` holding a NaN or infinity, or empty.
std::string first_nonfinite(const StateDict& state) {
  for (auto& [name, t] : state)
    if (t.defined() && t.is_floating_point() && !at::isfinite(t).all().item<bool>()) return name;
  return {};
}

// CUDA devices this process has used (a primary context exists): their generators are saved. Asking
// about the others would create a context on every GPU of the machine.
std::vector<int> cuda_devices_in_use() {
  std::vector<int> used;
  if (!at::hasCUDA()) return used;
  const auto& hooks = at::detail::getCUDAHooks();
  for (int i = 0; i < hooks.getNumGPUs(); ++i)
    if (hooks.hasPrimaryContext(i)) used.push_back(i);
  return used;
}

// The generators behind every random stream of a step (S4T's masks, TTT's rotations, TTT++'s views,
// dropout, ...): the CPU one and each used CUDA device's, as "rng.cpu" and "rng.cuda.<index>".
void save_generators(StateDict& state) {
  auto save = [&](const std::string& key, at::Generator generator) {
    std::lock_guard<std::mutex> lock(generator.mutex());
    state[key] = generator.get_state();
  };
  save("rng.cpu", at::detail::getDefaultCPUGenerator());
  for (int i : cuda_devices_in_use())
    save("rng.cuda." + std::to_string(i), at::globalContext().defaultGenerator(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(i))));
}

// Resuming: continue the random streams where the checkpointed run left them. A CUDA state for a device
// this machine lacks is ignored (the run then is not bit-exact, as on any other hardware).
void restore_generators(const StateDict& state, const fs::path& path) {
  auto restore = [&](const std::string& key, at::Generator generator) {
    auto it = state.find(key);
    if (it == state.end()) return;
    std::lock_guard<std::mutex> lock(generator.mutex());
    try {
      generator.set_state(it->second);
    } catch (const std::exception& e) {
      throw Error("checkpoint '" + path.string() + "': '" + key + "' is not a generator state: " + error_text(e));
    }
  };
  restore("rng.cpu", at::detail::getDefaultCPUGenerator());
  if (!at::hasCUDA()) return;
  const int gpus = at::detail::getCUDAHooks().getNumGPUs();
  for (int i = 0; i < gpus; ++i)
    restore("rng.cuda." + std::to_string(i), at::globalContext().defaultGenerator(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(i))));
}
}  // namespace

void save_checkpoint(const fs::path& path, torch::nn::Module& model, torch::optim::Optimizer* optimizer,
                     const CheckpointMeta& meta) {
  StateDict state;
  for (auto& [name, t] : state_dict_of(model)) state["model." + name] = t;
  // A checkpoint is only ever written from finite weights, so "the last checkpoint" is always usable.
  if (auto bad = first_nonfinite(state); !bad.empty())
    throw Error("refusing to write checkpoint '" + path.string() + "': tensor '" + bad.substr(6) +
                "' holds NaN or infinite values (the run diverged)");
  save_generators(state);
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
  for (auto& [k, v] : meta.tensors) state["state." + k] = v.detach().cpu();
  write_state_dict(path, state);
}

CheckpointMeta load_checkpoint(const fs::path& path, torch::nn::Module& model, torch::optim::Optimizer* optimizer,
                               const std::string& allow_missing_prefix) {
  if (!fs::exists(path)) throw Error("checkpoint '" + path.string() + "' does not exist");
  if (fs::is_directory(path)) throw Error("checkpoint '" + path.string() + "' is a directory; expected a checkpoint.pt file");
  StateDict state = read_state_dict(path);
  if (auto bad = first_nonfinite(state); !bad.empty())
    throw Error("checkpoint '" + path.string() + "' is corrupt: tensor '" + bad +
                "' holds NaN or infinite values");
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
    if (bytes.scalar_type() != at::kByte || bytes.dim() != 1)
      throw Error("checkpoint '" + path.string() + "' is corrupt: 'optimizer' is not a byte string");
    std::string s(static_cast<const char*>(bytes.data_ptr()), static_cast<size_t>(bytes.numel()));
    // The optimizer state is an archive of its own, read by LibTorch's TorchScript importer: the same
    // checks as the checkpoint first (a corrupt pickle in it asked the unpickler for gigabytes).
    if (auto problem = torch_archive_problem(std::vector<char>(s.begin(), s.end())); !problem.empty())
      throw Error("checkpoint '" + path.string() + "': its optimizer state is corrupt: " + problem);
    std::istringstream in(s);
    // LibTorch's errors (c10::Error) for a corrupt archive or a mismatched state become ours, naming the file.
    try {
      torch::serialize::InputArchive archive;
      archive.load_from(in);
      optimizer->load(archive);
    } catch (const std::exception& e) {
      throw Error("checkpoint '" + path.string() + "': its optimizer state cannot be loaded: " + error_text(e));
    }
    restore_generators(state, path);
  }
  CheckpointMeta meta;
  for (auto& [k, v] : state)
    if (k.rfind("meta.", 0) == 0) {
      if (v.numel() != 1 || v.is_floating_point() || v.is_complex())
        throw Error("checkpoint '" + path.string() + "' is corrupt: '" + k + "' is not one integer");
      meta.values[k.substr(5)] = v.item<std::int64_t>();
    } else if (k.rfind("state.", 0) == 0) {
      meta.tensors[k.substr(6)] = v;
    }
  return meta;
}

}  // namespace s4t::host
