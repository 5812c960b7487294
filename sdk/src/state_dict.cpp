#include "s4t/state_dict.hpp"

#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/read_adapter_interface.h>
#include <torch/csrc/jit/serialization/import_read.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/nn/module.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "s4t/error.hpp"
#include "torch_archive_check.hpp"

namespace fs = std::filesystem;

namespace s4t {

namespace {
std::string shape_text(at::IntArrayRef s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}
}  // namespace

void write_file_atomically(const fs::path& path, const std::string& bytes) {
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  std::random_device rd;
  fs::path tmp = path;
  tmp += ".tmp-" + std::to_string(rd());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw Error("cannot write '" + tmp.string() + "': " + std::strerror(errno));
  size_t written = 0;
  while (written < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      ::close(fd);
      ::unlink(tmp.c_str());
      throw Error("cannot write '" + tmp.string() + "': " + std::strerror(errno));
    }
    written += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp);
    throw Error("cannot rename '" + tmp.string() + "' to '" + path.string() + "': " + ec.message());
  }
}

namespace {
// LibTorch's pickle_load(std::vector<char>) reads the bytes through an adapter that copies whatever
// miniz asks for, past the end of the buffer when a corrupt zip directory points there (a heap overflow
// found by fuzz/). This adapter returns short reads instead, which miniz reports as an error.
class BoundedBytes final : public caffe2::serialize::ReadAdapterInterface {
 public:
  explicit BoundedBytes(const std::vector<char>& bytes) : bytes_(bytes) {}
  size_t size() const override { return bytes_.size(); }
  size_t read(uint64_t pos, void* buf, size_t n, const char* /*what*/) const override {
    if (pos >= bytes_.size()) return 0;
    n = std::min<size_t>(n, bytes_.size() - static_cast<size_t>(pos));
    std::memcpy(buf, bytes_.data() + pos, n);
    return n;
  }

 private:
  const std::vector<char>& bytes_;
};

// What torch::jit::pickle_load does, through BoundedBytes.
c10::IValue load_pickled(const std::vector<char>& bytes) {
  caffe2::serialize::PyTorchStreamReader reader(std::make_shared<BoundedBytes>(bytes));
  return torch::jit::readArchiveAndTensors("data", /*pickle_prefix=*/"", /*tensor_prefix=*/"", c10::nullopt, c10::nullopt,
                                           c10::nullopt, reader);
}
}  // namespace

std::string torch_archive_problem(const std::vector<char>& bytes) { return archive_check::zip_problem(bytes); }

namespace {
// LibTorch 1.13's unpickler gives a tensor the shape and strides the pickle declares over whatever
// storage it names, without checking that the storage holds them: reading such a tensor reads past its
// buffer (found by fuzz/). Whether the largest element a tensor addresses lies inside its storage (whose
// size archive_check::zip_problem has checked against its record).
bool within_storage(const at::Tensor& t) {
  if (!t.defined() || t.numel() == 0 || !t.has_storage() || t.is_sparse()) return true;
  if (t.storage_offset() < 0) return false;
  unsigned __int128 last = static_cast<unsigned __int128>(t.storage_offset());
  for (int64_t d = 0; d < t.dim(); ++d) {
    if (t.stride(d) < 0) return false;
    last += static_cast<unsigned __int128>(t.size(d) - 1) * static_cast<unsigned __int128>(t.stride(d));
  }
  return (last + 1) * static_cast<unsigned __int128>(t.element_size()) <= t.storage().nbytes();
}
}  // namespace

StateDict read_state_dict(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw DataError("'" + path.string() + "' is a directory; expected a torch.save file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError("cannot open state dict '" + path.string() + "'");
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (auto problem = archive_check::zip_problem(bytes); !problem.empty())
    throw DataError("'" + path.string() + "' is corrupt: " + problem);
  c10::IValue value;
  try {
    value = load_pickled(bytes);
  } catch (const std::exception& e) {
    throw DataError("'" + path.string() + "' is not a torch.save file: " + e.what());
  }
  if (!value.isGenericDict()) throw DataError("'" + path.string() + "' does not hold a dict (expected a state_dict)");
  StateDict out;
  for (auto& item : value.toGenericDict()) {
    if (!item.key().isString())
      throw DataError("'" + path.string() + "': state dict key is not a string");
    if (!item.value().isTensor()) continue;  // e.g. "_metadata" or non-tensor extras
    if (!within_storage(item.value().toTensor()))
      throw DataError("'" + path.string() + "' is corrupt: tensor '" + item.key().toStringRef() +
                      "' declares more elements than its storage holds");
    out[item.key().toStringRef()] = item.value().toTensor();
  }
  return out;
}

void write_state_dict(const fs::path& path, const StateDict& state) {
  c10::Dict<std::string, at::Tensor> dict;
  for (auto& [k, v] : state) dict.insert(k, v.detach().cpu().contiguous());
  auto bytes = torch::jit::pickle_save(c10::IValue(dict));
  write_file_atomically(path, std::string(bytes.begin(), bytes.end()));
}

StateDict state_dict_of(torch::nn::Module& module) {
  StateDict out;
  for (auto& p : module.named_parameters(true)) out[p.key()] = p.value();
  for (auto& b : module.named_buffers(true)) out[b.key()] = b.value();
  return out;
}

LoadReport load_state_dict(torch::nn::Module& module, const StateDict& state, const std::string& prefix, bool strict) {
  LoadReport report;
  auto own = state_dict_of(module);
  std::set<std::string> seen;
  at::NoGradGuard no_grad;
  for (auto& [name, target] : own) {
    auto it = state.find(prefix + name);
    if (it == state.end()) {
      report.missing.push_back(name);
      continue;
    }
    seen.insert(it->first);
    if (!it->second.sizes().equals(target.sizes()))
      throw DataError("tensor '" + name + "' has shape " + shape_text(it->second.sizes()) + " in the file but " +
                      shape_text(target.sizes()) + " in the model");
    target.copy_(it->second);
    report.loaded.push_back(name);
  }
  for (auto& [name, t] : state)
    if (name.rfind(prefix, 0) == 0 && !seen.count(name)) report.unexpected.push_back(name);
  if (strict && (!report.missing.empty() || !report.unexpected.empty())) {
    std::string msg = "state dict does not match the model:";
    if (!report.missing.empty()) msg += " missing " + report.missing.front() + (report.missing.size() > 1 ? " (+" + std::to_string(report.missing.size() - 1) + " more)" : "");
    if (!report.unexpected.empty()) msg += " unexpected " + report.unexpected.front() + (report.unexpected.size() > 1 ? " (+" + std::to_string(report.unexpected.size() - 1) + " more)" : "");
    throw DataError(msg);
  }
  return report;
}

}  // namespace s4t
