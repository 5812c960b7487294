#include "util/error_text.hpp"

#include <c10/util/Exception.h>

namespace s4t::host {

std::string error_text(const std::exception& e) {
  if (auto* torch_error = dynamic_cast<const c10::Error*>(&e)) return torch_error->what_without_backtrace();
  return e.what();
}

}  // namespace s4t::host
