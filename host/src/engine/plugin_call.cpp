#include "engine/plugin_call.hpp"

namespace s4t::host {

std::string plugin_failure_prefix(const std::string& label, const std::string& phase,
                                  const std::optional<AdaptContext>& context) {
  std::string out = label + " failed in " + phase;
  if (context)
    out += " at batch " + std::to_string(context->batch_index) + ", step " + std::to_string(context->step);
  return out + ": ";
}

}  // namespace s4t::host
