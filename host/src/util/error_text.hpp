#pragma once
// The text a user is shown for an exception, the same on the terminal, in log.txt and in failed.json.
#include <exception>
#include <string>

namespace s4t::host {
/// The full message of `e`; for a LibTorch error without its C++ backtrace, for a JSON error without
/// nlohmann-json's "[json.exception.<kind>.<id>] " tag.
std::string error_text(const std::exception& e);
}  // namespace s4t::host
