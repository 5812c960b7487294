#include "run/progress.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>

#include "run/logging.hpp"

namespace s4t::host {

std::string format_duration(double s) {
  if (s < 0 || s != s) return "?";
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%.1fs", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  else std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s) / 3600, (static_cast<int>(s) % 3600) / 60);
  return buf;
}

Progress::Progress(std::string label, std::int64_t total, bool enabled, std::int64_t start)
    : label_(std::move(label)), total_(total), start_(start), last_done_(start), tty_(isatty(STDERR_FILENO) != 0),
      enabled_(enabled), begin_(std::chrono::steady_clock::now()), last_print_(begin_) {}

Progress::~Progress() {
  if (!finished_) finish();
}

std::string Progress::line(std::int64_t done, const std::string& note) const {
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin_).count();
  double rate = elapsed > 0 ? static_cast<double>(done - start_) / elapsed : 0.0;
  double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : -1;
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s %lld/%lld (%.0f%%) %.2f it/s, elapsed %s, ETA %s", label_.c_str(),
                static_cast<long long>(done), static_cast<long long>(total_),
                total_ > 0 ? 100.0 * static_cast<double>(done) / static_cast<double>(total_) : 100.0, rate,
                format_duration(elapsed).c_str(), format_duration(eta).c_str());
  return note.empty() ? std::string(buf) : std::string(buf) + ", " + note;
}

void Progress::update(std::int64_t done, const std::string& note) {
  last_done_ = done;
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  double since = std::chrono::duration<double>(now - last_print_).count();
  if (tty_) {
    if (since < 0.2 && done < total_) return;
    std::fprintf(stderr, "\r\033[K%s", line(done, note).c_str());
    std::fflush(stderr);
  } else {
    if (since < 10.0) return;
    logger()->info("{}", line(done, note));
  }
  last_print_ = now;
}

void Progress::finish(const std::string& note) {
  if (finished_) return;
  finished_ = true;
  if (!enabled_) return;
  if (tty_) std::fprintf(stderr, "\r\033[K");
  logger()->info("{}", line(last_done_, note));
}

}  // namespace s4t::host
