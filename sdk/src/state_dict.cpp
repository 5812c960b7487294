#include "s4t/state_dict.hpp"

#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/nn/module.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "s4t/error.hpp"

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

StateDict read_state_dict(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError("cannot open state dict '" + path.string() + "'");
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  c10::IValue value;
  try {
    value = torch::jit::pickle_load(bytes);
  } catch (const std::exception& e) {
    throw DataError("'" + path.string() + "' is not a torch.save file: " + e.what());
  }
  if (!value.isGenericDict()) throw DataError("'" + path.string() + "' does not hold a dict (expected a state_dict)");
  StateDict out;
  for (auto& item : value.toGenericDict()) {
    if (!item.key().isString())
      throw DataError("'" + path.string() + "': state dict key is not a string");
    if (!item.value().isTensor()) continue;  // e.g. "_metadata" or non-tensor extras
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
