#pragma once
// For tests of shipped configs: which keys two resolved experiments disagree on.
#include <set>
#include <string>

#include "config/config_tree.hpp"

namespace s4t::test {

/// Keys whose values differ between `a` and `b`, or that only one of them holds (compare resolved
/// trees, Experiment::resolved(), so defaults count too).
std::set<std::string> differing_keys(const host::ConfigTree& a, const host::ConfigTree& b);

}  // namespace s4t::test
