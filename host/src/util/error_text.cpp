#include "util/error_text.hpp"

#include <c10/util/Exception.h>

namespace s4t::host {

std::string error_text(const std::exception& e) {
  if (auto* torch_error = dynamic_cast<const c10::Error*>(&e)) return torch_error->what_without_backtrace();
  std::string text = e.what();
  if (text.rfind("[json.exception.", 0) == 0)
    if (auto end = text.find("] "); end != std::string::npos) text.erase(0, end + 2);
  return text;
}

}  // namespace s4t::host
