#pragma once
// The plugin entry point and its versioned handshake.
//
// Every plugin library contains exactly one S4T_PLUGIN(id, version, register_fn) line. It exports one
// extern "C" function, s4t_plugin_entry, returning a plain descriptor. The host reads the descriptor's
// size and ABI version first and refuses a plugin built against another SDK ABI, another LibTorch
// version or another C++ ABI before calling anything else in it.
#include <cstdint>

#include "s4t/export.hpp"
#include "s4t/registrar.hpp"
#include "s4t/version.hpp"

// LibTorch's version macros (TORCH_VERSION_MAJOR/MINOR) live in torch/csrc/api/include/torch/version.h.
#include <torch/version.h>

/// Name of the exported entry point.
#define S4T_PLUGIN_ENTRY_SYMBOL "s4t_plugin_entry"

extern "C" {

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
  const char* plugin_version;     ///< e.g. "1.0.0"
  void (*register_components)(s4t::Registrar& registrar);
};

typedef const s4t_plugin_descriptor* (*s4t_plugin_entry_fn)();
}

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

#ifdef S4T_TORCH_CUDA
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
        &register_fn};                                                                               \
    return &descriptor;                                                                              \
  }
