#pragma once
// The process-wide logger. Host and plugins write to the same sinks (terminal and the run's log file).
#include <memory>

#include "s4t/export.hpp"

namespace spdlog { class logger; }

namespace s4t {
/// Never null. Use as s4t::logger()->info("...{}...", x).
S4T_API std::shared_ptr<spdlog::logger> logger();
}  // namespace s4t
