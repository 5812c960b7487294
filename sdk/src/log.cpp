#include "s4t/log.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace s4t {

namespace {
// The host installs its sink once at start-up; until then lines go to stderr.
struct SinkSlot {
  std::mutex mutex;
  LogSink sink = nullptr;
  void* user = nullptr;
};
SinkSlot& slot() {
  static SinkSlot s;
  return s;
}
std::atomic<int> current_level{static_cast<int>(LogLevel::Info)};
}  // namespace

void set_log_sink(LogSink sink, void* user, LogLevel level) {
  std::lock_guard<std::mutex> lock(slot().mutex);
  slot().sink = sink;
  slot().user = user;
  current_level = static_cast<int>(level);
}

bool log_enabled(LogLevel level) {
  return level != LogLevel::Off && static_cast<int>(level) >= current_level.load(std::memory_order_relaxed);
}

void log_message(LogLevel level, const std::string& text) {
  if (!log_enabled(level)) return;
  std::lock_guard<std::mutex> lock(slot().mutex);
  if (slot().sink) {
    slot().sink(level, text.c_str(), slot().user);
    return;
  }
  static const char* names[] = {"trace", "debug", "info", "warning", "error", "off"};
  std::fprintf(stderr, "[%s] %s\n", names[static_cast<int>(level)], text.c_str());
}

}  // namespace s4t
