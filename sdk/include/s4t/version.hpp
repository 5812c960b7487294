#pragma once
// Versions of the SDK. Bump S4T_SDK_ABI_VERSION whenever a change to any header under s4t/ changes
// the layout of a type or a virtual table that crosses the host/plugin boundary (see docs/plugin-guide.md).
#define S4T_SDK_VERSION_STRING "0.2.0"
#define S4T_SDK_ABI_VERSION 2u

namespace s4t {
/// SDK release version, e.g. "0.2.0".
inline constexpr const char* kSdkVersion = S4T_SDK_VERSION_STRING;
/// ABI generation of the plugin interface. A plugin is loaded only if it was built with the same value.
inline constexpr unsigned kSdkAbiVersion = S4T_SDK_ABI_VERSION;
}  // namespace s4t
