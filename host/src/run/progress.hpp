#pragma once
// Progress of a long loop: a live line (count, rate, ETA) on a terminal, plain periodic log lines
// otherwise (every 10 s), so CI logs stay readable.
#include <chrono>
#include <cstdint>
#include <string>

namespace s4t::host {

class Progress {
 public:
  Progress(std::string label, std::int64_t total, bool enabled = true, std::int64_t start = 0);
  ~Progress();
  /// Marks `done` units complete; `note` (e.g. the current loss) is shown after the rate.
  void update(std::int64_t done, const std::string& note = "");
  void finish(const std::string& note = "");

 private:
  std::string line(std::int64_t done, const std::string& note) const;
  std::string label_;
  std::int64_t total_, start_, last_done_ = 0;
  bool tty_, enabled_, finished_ = false;
  std::chrono::steady_clock::time_point begin_, last_print_;
};

/// "1m23s"
std::string format_duration(double seconds);

}  // namespace s4t::host
