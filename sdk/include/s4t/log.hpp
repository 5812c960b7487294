#pragma once
// Logging for plugins. Host and plugins write to the same sinks (the terminal and the run's log.txt);
// the host decides where lines go and which levels are shown. Only a level and a finished string
// cross the library boundary, so no logging library's types or version are part of the SDK ABI.
// Formatting uses {fmt} (header templates, compiled into the caller): s4t::log::info("{} of {}", a, b).
#include <string>
#include <utility>

#include <fmt/format.h>

#include "s4t/export.hpp"

namespace s4t {

enum class LogLevel { Trace = 0, Debug = 1, Info = 2, Warn = 3, Error = 4, Off = 5 };

/// Writes one line at `level` (dropped when below the host's level). Thread-safe.
S4T_API void log_message(LogLevel level, const std::string& text);
/// True when a line at `level` would be written: skip expensive formatting otherwise.
S4T_API bool log_enabled(LogLevel level);

/// Where log lines go. The host installs one; without it lines go to stderr. Host-side API.
using LogSink = void (*)(LogLevel level, const char* text, void* user);
S4T_API void set_log_sink(LogSink sink, void* user, LogLevel level);

namespace log {
template <class... Args>
void at(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
  if (log_enabled(level)) log_message(level, fmt::format(format, std::forward<Args>(args)...));
}
template <class... Args> void trace(fmt::format_string<Args...> f, Args&&... a) { at(LogLevel::Trace, f, std::forward<Args>(a)...); }
template <class... Args> void debug(fmt::format_string<Args...> f, Args&&... a) { at(LogLevel::Debug, f, std::forward<Args>(a)...); }
template <class... Args> void info(fmt::format_string<Args...> f, Args&&... a) { at(LogLevel::Info, f, std::forward<Args>(a)...); }
template <class... Args> void warn(fmt::format_string<Args...> f, Args&&... a) { at(LogLevel::Warn, f, std::forward<Args>(a)...); }
template <class... Args> void error(fmt::format_string<Args...> f, Args&&... a) { at(LogLevel::Error, f, std::forward<Args>(a)...); }
}  // namespace log

}  // namespace s4t
