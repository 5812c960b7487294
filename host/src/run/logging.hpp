#pragma once
// The host's logger (spdlog): terminal and, during a run, the run's log.txt. Plugins reach the same
// sinks through the SDK's s4t::log_message (installed as the SDK's log sink by install_sdk_log_sink()).
#include <memory>

#include <spdlog/spdlog.h>

namespace s4t::host {

/// Never null. host::logger()->info("...{}...", x).
std::shared_ptr<spdlog::logger> logger();
/// Routes the SDK's log lines (plugins) into logger(), at logger()'s level. Call again after changing it.
void install_sdk_log_sink();

}  // namespace s4t::host
