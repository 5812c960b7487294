#include "engine/interrupt.hpp"

#include <csignal>
#include <unistd.h>

#include <atomic>

namespace s4t::host {

namespace {
std::atomic<int> pending{0};
std::atomic<int> depth{0};
struct sigaction previous_int {}, previous_term {};

void on_signal(int signal) {
  if (pending.exchange(signal) != 0) _exit(128 + signal);  // second signal: leave now
  static const char note[] = "\n[s4t] signal received: finishing the current step, then saving; signal again to exit now\n";
  (void)!write(STDERR_FILENO, note, sizeof(note) - 1);
}
}  // namespace

InterruptScope::InterruptScope() {
  if (depth++ > 0) return;
  pending = 0;
  struct sigaction action {};
  action.sa_handler = &on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &previous_int);
  sigaction(SIGTERM, &action, &previous_term);
}

InterruptScope::~InterruptScope() {
  if (--depth > 0) return;
  sigaction(SIGINT, &previous_int, nullptr);
  sigaction(SIGTERM, &previous_term, nullptr);
}

int InterruptScope::requested() { return pending.load(); }

std::string InterruptScope::signal_name(int signal) {
  return signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "signal " + std::to_string(signal);
}

}  // namespace s4t::host
