#pragma once
// SIGINT / SIGTERM during long work: the first signal asks the loop to stop at the end of the current
// step (it then writes its checkpoint and log and throws Interrupted); a second signal exits at once
// with 128 + signal (nothing is half-written: every file is written through a rename).
#include <string>

#include "s4t/error.hpp"

namespace s4t::host {

/// Thrown by a loop that stopped because of a signal; exit_code is 130 (SIGINT) or 143 (SIGTERM).
class Interrupted : public Error {
 public:
  Interrupted(const std::string& message, int exit_code) : Error(message), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

/// Installs the handlers for its lifetime (nesting is fine) and restores the previous ones.
class InterruptScope {
 public:
  InterruptScope();
  ~InterruptScope();
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;

  /// 0, or the signal number that asked to stop.
  static int requested();
  /// "SIGINT" / "SIGTERM".
  static std::string signal_name(int signal);
};

}  // namespace s4t::host
