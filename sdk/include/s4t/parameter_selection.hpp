#pragma once
// Choosing the parameters a method adapts, without knowing which backbone it runs on. Full names are
// those of MultiTaskModel::root(): "backbone.<name>", "heads.<task>.<name>", "method.<name>".
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "s4t/export.hpp"
#include "s4t/features.hpp"

namespace torch::nn { class Module; }

namespace s4t {

class MultiTaskModel;

/// Where the backbone, the heads and the method's module are mounted under MultiTaskModel::root().
inline constexpr const char* kBackbonePrefix = "backbone.";
inline constexpr const char* kHeadsPrefix = "heads.";
inline constexpr const char* kMethodPrefix = "method.";

/// A predicate over full parameter names (AdaptationPolicy::selects).
using ParameterFilter = std::function<bool(const std::string& name)>;

/// Full-name prefixes of the encoder parameters that compute stages 0..`last_stage` (FeatureInfo::stages).
/// Throws ConfigError naming `who` when the backbone has fewer stages or publishes no prefixes for one.
S4T_API std::vector<std::string> encoder_prefixes_up_to(const FeatureInfo& info, std::int64_t last_stage,
                                                        const std::string& who);
/// Names starting with any of `prefixes`.
S4T_API ParameterFilter select_prefixes(std::vector<std::string> prefixes);
/// Full names of the affine parameters (weight, bias) of every normalisation layer under `root`
/// (BatchNorm, GroupNorm, LayerNorm, InstanceNorm of torch::nn), optionally only those starting with
/// `under` (e.g. kBackbonePrefix).
S4T_API std::set<std::string> norm_affine_parameter_names(torch::nn::Module& root, const std::string& under = "");
/// Filter selecting exactly `names`.
S4T_API ParameterFilter select_names(std::set<std::string> names);
/// Filter selecting what either filter selects.
S4T_API ParameterFilter select_either(ParameterFilter a, ParameterFilter b);

}  // namespace s4t
