#include "parameters.hpp"

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>

namespace s4t::test {

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

std::set<std::string> parameter_names(torch::nn::Module& module) {
  std::set<std::string> out;
  for (auto& p : module.named_parameters(true)) out.insert(p.key());
  return out;
}

std::set<std::string> running_stat_names(torch::nn::Module& module) {
  auto ends_with = [](const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  std::set<std::string> out;
  for (auto& b : module.named_buffers(true))
    if (ends_with(b.key(), ".running_mean") || ends_with(b.key(), ".running_var")) out.insert(b.key());
  return out;
}

std::set<std::string> batchnorm_affine_names(torch::nn::Module& module) {
  std::set<std::string> out;
  for (auto& item : module.named_modules(std::string(), false))
    if (dynamic_cast<torch::nn::BatchNorm2dImpl*>(item.value().get()))
      for (auto& p : item.value()->named_parameters(false)) out.insert(item.key() + "." + p.key());
  return out;
}

std::int64_t count_batchnorm(torch::nn::Module& module, const std::string& prefix) {
  std::int64_t n = 0;
  for (auto& item : module.named_modules(std::string(), false))
    if (dynamic_cast<torch::nn::BatchNorm2dImpl*>(item.value().get()) && starts_with(item.key(), prefix)) ++n;
  return n;
}

std::int64_t count_parameters(const torch::nn::Module& module, const std::string& prefix) {
  std::int64_t n = 0;
  for (auto& p : module.named_parameters(true))
    if (starts_with(p.key(), prefix)) n += p.value().numel();
  return n;
}

bool has_parameter_prefix(const torch::nn::Module& module, const std::string& prefix) {
  for (auto& p : module.named_parameters(true))
    if (starts_with(p.key(), prefix)) return true;
  return false;
}

std::set<std::string> with_prefix(const std::set<std::string>& names, const std::string& prefix) {
  std::set<std::string> out;
  for (auto& n : names)
    if (starts_with(n, prefix)) out.insert(n);
  return out;
}

double head_mean(const std::vector<double>& v, std::size_t k) {
  double s = 0;
  for (std::size_t i = 0; i < k; ++i) s += v[i];
  return s / static_cast<double>(k);
}

double tail_mean(const std::vector<double>& v, std::size_t k) {
  double s = 0;
  for (std::size_t i = v.size() - k; i < v.size(); ++i) s += v[i];
  return s / static_cast<double>(k);
}

}  // namespace s4t::test
