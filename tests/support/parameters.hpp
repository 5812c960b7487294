#pragma once
// Names of a model's parameters and buffers by kind, for the checks of what a method adapts. The
// module types are asked directly (not the SDK's helpers), so a test does not trust what it tests.
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace torch::nn { class Module; }

namespace s4t::test {

bool starts_with(const std::string& s, const std::string& prefix);
/// Names of all parameters of `module`.
std::set<std::string> parameter_names(torch::nn::Module& module);
/// Names of the running_mean/running_var buffers of every BatchNorm of `module`.
std::set<std::string> running_stat_names(torch::nn::Module& module);
/// Full names of the affine parameters of every BatchNorm2d layer.
std::set<std::string> batchnorm_affine_names(torch::nn::Module& module);
/// Number of BatchNorm2d modules whose name starts with `prefix`.
std::int64_t count_batchnorm(torch::nn::Module& module, const std::string& prefix);
/// Number of parameter elements whose name starts with `prefix` ("" = all).
std::int64_t count_parameters(const torch::nn::Module& module, const std::string& prefix = "");
/// True when some parameter's name starts with `prefix`.
bool has_parameter_prefix(const torch::nn::Module& module, const std::string& prefix);
/// Names that start with `prefix`.
std::set<std::string> with_prefix(const std::set<std::string>& names, const std::string& prefix);
/// Mean of the first and of the last `k` values.
double head_mean(const std::vector<double>& v, std::size_t k);
double tail_mean(const std::vector<double>& v, std::size_t k);

}  // namespace s4t::test
