#include "run/logging.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include "s4t/log.hpp"

namespace s4t::host {

std::shared_ptr<spdlog::logger> logger() {
  // One logger for the whole process; the run directory adds a file sink per run.
  static std::shared_ptr<spdlog::logger> instance = [] {
    auto existing = spdlog::get("s4t");
    if (existing) return existing;
    auto l = spdlog::stderr_color_mt("s4t");
    l->set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
    return l;
  }();
  return instance;
}

namespace {
spdlog::level::level_enum to_spdlog(LogLevel level) {
  switch (level) {
    case LogLevel::Trace: return spdlog::level::trace;
    case LogLevel::Debug: return spdlog::level::debug;
    case LogLevel::Info: return spdlog::level::info;
    case LogLevel::Warn: return spdlog::level::warn;
    case LogLevel::Error: return spdlog::level::err;
    case LogLevel::Off: return spdlog::level::off;
  }
  return spdlog::level::info;
}

LogLevel from_spdlog(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace: return LogLevel::Trace;
    case spdlog::level::debug: return LogLevel::Debug;
    case spdlog::level::info: return LogLevel::Info;
    case spdlog::level::warn: return LogLevel::Warn;
    case spdlog::level::err:
    case spdlog::level::critical: return LogLevel::Error;
    default: return LogLevel::Off;
  }
}

void forward(LogLevel level, const char* text, void*) { logger()->log(to_spdlog(level), "{}", text); }
}  // namespace

void install_sdk_log_sink() { set_log_sink(&forward, nullptr, from_spdlog(logger()->level())); }

}  // namespace s4t::host
