#pragma once
// Facts fixed when the host was built (generated at configure time into build_info.cpp).
#include <string>

namespace s4t::host {
std::string build_git_revision();
std::string build_compiler();
}  // namespace s4t::host
