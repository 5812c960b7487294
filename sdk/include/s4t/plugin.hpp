#pragma once
// The plugin entry point and its versioned handshake.
//
// Every plugin library contains exactly one S4T_PLUGIN(id, version, register_fn) line. It exports one
// extern "C" function, s4t_plugin_entry, returning a plain descriptor. The host reads the descriptor's
// size and ABI version first, then refuses, before calling anything else in the plugin, one built
// against another SDK ABI, another LibTorch MAJOR.MINOR, another C++ ABI (_GLIBCXX_USE_CXX11_ABI),
// another libstdc++ major release, another build device (cpu/cuda), or with a different size of any
// type that crosses the boundary (the fingerprint below, in the manner of gz-plugin).
//
// What the ABI assumes (docs/plugin-guide.md, "The ABI"):
// - one libstdc++ in the process (GCC or Clang with libstdc++, same major release as the host);
// - these STL types cross the boundary by value or reference: std::string, std::vector, std::map,
//   std::set, std::function, std::shared_ptr, std::optional, std::variant, std::array, std::filesystem::path;
// - LibTorch types cross as at::Tensor, at::Device and torch::nn::Module (one LibTorch in the process);
// - exceptions cross as s4t::Error subclasses or c10::Error (anything else is reported as a plugin bug);
// - logging crosses as a level and a string (log.hpp): no logging library's types are in the ABI.
#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "s4t/export.hpp"
#include "s4t/registrar.hpp"
#include "s4t/version.hpp"

// LibTorch's version macros (TORCH_VERSION_MAJOR/MINOR) live in torch/csrc/api/include/torch/version.h.
#include <torch/version.h>

/// Name of the exported entry point.
#define S4T_PLUGIN_ENTRY_SYMBOL "s4t_plugin_entry"

// Types whose size is checked at load time: X(field, type); type may contain commas. Append only.
#define S4T_ABI_FINGERPRINT_TYPES(X)                              \
  X(std_string, std::string)                                      \
  X(std_vector, std::vector<std::int64_t>)                        \
  X(std_map, std::map<std::string, at::Tensor>)                   \
  X(std_set, std::set<std::string>)                               \
  X(std_function, std::function<bool(const std::string&)>)        \
  X(std_shared_ptr, std::shared_ptr<torch::nn::Module>)           \
  X(std_optional, std::optional<double>)                          \
  X(std_filesystem_path, std::filesystem::path)                   \
  X(at_tensor, at::Tensor)                                        \
  X(at_device, at::Device)                                        \
  X(s4t_value, s4t::Value)                                        \
  X(s4t_option_spec, s4t::OptionSpec)                             \
  X(s4t_schema, s4t::Schema)                                      \
  X(s4t_options, s4t::Options)                                    \
  X(s4t_component_info, s4t::ComponentInfo)                       \
  X(s4t_task_spec, s4t::TaskSpec)                                 \
  X(s4t_stage_info, s4t::StageInfo)                               \
  X(s4t_feature_info, s4t::FeatureInfo)                           \
  X(s4t_features, s4t::Features)                                  \
  X(s4t_forward_options, s4t::ForwardOptions)                     \
  X(s4t_model_output, s4t::ModelOutput)                           \
  X(s4t_sample, s4t::Sample)                                      \
  X(s4t_batch, s4t::Batch)                                        \
  X(s4t_build_context, s4t::BuildContext)                         \
  X(s4t_dataset_context, s4t::DatasetContext)                     \
  X(s4t_adaptation_policy, s4t::AdaptationPolicy)                 \
  X(s4t_adapt_context, s4t::AdaptContext)                         \
  X(s4t_method_traits, s4t::MethodTraits)                         \
  X(s4t_optimizer_spec, s4t::OptimizerSpec)

extern "C" {

/// sizeof of every type in S4T_ABI_FINGERPRINT_TYPES as the plugin's compiler saw it.
struct s4t_abi_fingerprint {
#define S4T_FINGERPRINT_FIELD(field, ...) std::uint32_t field;
  S4T_ABI_FINGERPRINT_TYPES(S4T_FINGERPRINT_FIELD)
#undef S4T_FINGERPRINT_FIELD
};

/// Plain-C descriptor. Fields are only ever appended; struct_size tells the host which exist.
struct s4t_plugin_descriptor {
  std::uint32_t struct_size;      ///< sizeof(s4t_plugin_descriptor) in the plugin's SDK
  std::uint32_t sdk_abi_version;  ///< S4T_SDK_ABI_VERSION the plugin was built with
  const char* sdk_version;        ///< SDK release string
  const char* torch_version;      ///< "MAJOR.MINOR" of the LibTorch headers
  std::int32_t cxx11_abi;         ///< _GLIBCXX_USE_CXX11_ABI
  const char* compiler;           ///< e.g. "gcc 12.2.0"
  const char* build_device;       ///< "cpu" or "cuda" (what LibTorch the plugin was built against)
  const char* plugin_id;          ///< e.g. "s4t.resnet"
  const char* plugin_version;     ///< e.g. "1.0.0"; components registered without a version get this one
  void (*register_components)(s4t::Registrar& registrar);
  std::int32_t libstdcxx_release; ///< _GLIBCXX_RELEASE (libstdc++ major version) of the headers
  s4t_abi_fingerprint fingerprint;
};

typedef const s4t_plugin_descriptor* (*s4t_plugin_entry_fn)();
}

namespace s4t {
/// The fingerprint of the code that includes this header (the plugin's, or the host's to compare).
inline s4t_abi_fingerprint abi_fingerprint() {
  s4t_abi_fingerprint f{};
#define S4T_FINGERPRINT_SET(field, ...) f.field = static_cast<std::uint32_t>(sizeof(__VA_ARGS__));
  S4T_ABI_FINGERPRINT_TYPES(S4T_FINGERPRINT_SET)
#undef S4T_FINGERPRINT_SET
  return f;
}
}  // namespace s4t

#define S4T_PLUGIN_STR2(x) #x
#define S4T_PLUGIN_STR(x) S4T_PLUGIN_STR2(x)

#if defined(__clang__)
#define S4T_PLUGIN_COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define S4T_PLUGIN_COMPILER "gcc " S4T_PLUGIN_STR(__GNUC__) "." S4T_PLUGIN_STR(__GNUC_MINOR__) "." S4T_PLUGIN_STR(__GNUC_PATCHLEVEL__)
#else
#define S4T_PLUGIN_COMPILER "unknown"
#endif

// A test fixture may set this to another number to impersonate a plugin built for another SDK.
#ifndef S4T_PLUGIN_ABI_VERSION
#define S4T_PLUGIN_ABI_VERSION S4T_SDK_ABI_VERSION
#endif

#ifdef _GLIBCXX_RELEASE
#define S4T_PLUGIN_LIBSTDCXX_RELEASE _GLIBCXX_RELEASE
#else
#define S4T_PLUGIN_LIBSTDCXX_RELEASE 0
#endif

// Fixtures may override these to impersonate a plugin built elsewhere.
#ifdef S4T_PLUGIN_BUILD_DEVICE
#elif defined(S4T_TORCH_CUDA)
#define S4T_PLUGIN_BUILD_DEVICE "cuda"
#else
#define S4T_PLUGIN_BUILD_DEVICE "cpu"
#endif

/// Writes the plugin's entry point. `register_fn` is `void f(s4t::Registrar&)`; it must not do
/// heavy work (the host may only list plugins) and must not touch global state that could throw at
/// load time. Build modules in the factories instead.
#define S4T_PLUGIN(plugin_id_literal, plugin_version_literal, register_fn)                        \
  extern "C" __attribute__((visibility("default"))) const s4t_plugin_descriptor* s4t_plugin_entry() { \
    static const s4t_plugin_descriptor descriptor{                                                  \
        static_cast<std::uint32_t>(sizeof(s4t_plugin_descriptor)),                                   \
        static_cast<std::uint32_t>(S4T_PLUGIN_ABI_VERSION),                                          \
        S4T_SDK_VERSION_STRING,                                                                      \
        S4T_PLUGIN_STR(TORCH_VERSION_MAJOR) "." S4T_PLUGIN_STR(TORCH_VERSION_MINOR),                 \
        static_cast<std::int32_t>(_GLIBCXX_USE_CXX11_ABI),                                           \
        S4T_PLUGIN_COMPILER,                                                                         \
        S4T_PLUGIN_BUILD_DEVICE,                                                                     \
        plugin_id_literal,                                                                           \
        plugin_version_literal,                                                                      \
        &register_fn,                                                                                \
        static_cast<std::int32_t>(S4T_PLUGIN_LIBSTDCXX_RELEASE),                                     \
        s4t::abi_fingerprint()};                                                                     \
    return &descriptor;                                                                              \
  }
