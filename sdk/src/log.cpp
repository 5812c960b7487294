#include "s4t/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace s4t {

std::shared_ptr<spdlog::logger> logger() {
  // One logger for the whole process; the host adds a file sink per run.
  static std::shared_ptr<spdlog::logger> instance = [] {
    auto existing = spdlog::get("s4t");
    if (existing) return existing;
    auto l = spdlog::stderr_color_mt("s4t");
    l->set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
    return l;
  }();
  return instance;
}

}  // namespace s4t
