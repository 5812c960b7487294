#include "config_diff.hpp"

namespace s4t::test {

std::set<std::string> differing_keys(const host::ConfigTree& a, const host::ConfigTree& b) {
  std::set<std::string> out;
  for (auto& [key, entry] : a.entries()) {
    auto* other = b.find(key);
    if (!other || !(other->value == entry.value)) out.insert(key);
  }
  for (auto& [key, entry] : b.entries())
    if (!a.find(key)) out.insert(key);
  return out;
}

}  // namespace s4t::test
