#pragma once
// State dicts in PyTorch's own file format (torch.save / torch.load of a dict of tensors), so weights
// move between Python and s4t, and atomic file writes.
#include <ATen/core/Tensor.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "s4t/export.hpp"

namespace torch::nn { class Module; }

namespace s4t {

using StateDict = std::map<std::string, at::Tensor>;

/// Reads a file written by Python `torch.save(module.state_dict())` (or write_state_dict).
/// Throws DataError naming the file when it is missing or not a dict of tensors.
S4T_API StateDict read_state_dict(const std::filesystem::path& path);
/// Empty when `bytes`, a zip archive of torch.save or torch::serialize, passes the checks read_state_dict
/// makes before LibTorch reads it (every stored entry's CRC-32, every pickle's declared lengths, every
/// storage a pickle declares against the size of its record), else what is wrong. A file that is no zip
/// at all passes (LibTorch's reader refuses it).
S4T_API std::string torch_archive_problem(const std::vector<char>& bytes);
/// Writes `state` in torch.save's format, atomically.
S4T_API void write_state_dict(const std::filesystem::path& path, const StateDict& state);

/// Parameters and buffers of `module` by their dotted names (cloned = false: views of the live tensors).
S4T_API StateDict state_dict_of(torch::nn::Module& module);

struct S4T_API LoadReport {
  std::vector<std::string> loaded, missing, unexpected;
};
/// Copies tensors of `state` whose names (after stripping `prefix`) match `module`'s into it. Shape
/// mismatches throw DataError naming the tensor and both shapes. With `strict`, missing or unexpected
/// names throw as well.
S4T_API LoadReport load_state_dict(torch::nn::Module& module, const StateDict& state, const std::string& prefix = "",
                                   bool strict = true);

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename.
S4T_API void write_file_atomically(const std::filesystem::path& path, const std::string& bytes);

}  // namespace s4t
