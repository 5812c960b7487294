// `s4t launch --nproc N -- COMMAND ARGS...`: N local workers of one distributed run (docs/distributed.md).
// Each worker is this executable running COMMAND with the torchrun variables set (RANK, WORLD_SIZE,
// LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1, MASTER_PORT=a free port). The launcher watches
// them: the first that exits non-zero (or is killed) is reported as "rank R exited with code C", the
// others get SIGTERM (they stop at the end of their step, or with an error naming the lost rank) and,
// after --kill-after seconds, SIGKILL; the launcher then exits non-zero. SIGINT/SIGTERM sent to the
// launcher are passed on to every worker; a worker whose launcher dies gets SIGTERM (PR_SET_PDEATHSIG).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.hpp"
#include "distributed/launch_environment.hpp"
#include "distributed/process_group.hpp"
#include "run/logging.hpp"
#include "s4t/error.hpp"

extern char** environ;

namespace s4t::host {

namespace {

const char* kLaunchUsage =
    "usage: s4t launch [--nproc N] [--master-port P] [--kill-after S] -- COMMAND [ARGS...]\n"
    "  Starts N workers of one distributed run on this machine, e.g.\n"
    "    s4t launch --nproc 2 -- train configs/demo.toml\n"
    "  --nproc N         workers (ranks 0..N-1; default 2)\n"
    "  --master-port P   rendezvous port on 127.0.0.1 (default: a free port)\n"
    "  --kill-after S    seconds the other workers get to stop after one failed, before SIGKILL (default 30)\n";

volatile std::sig_atomic_t forwarded_signal = 0;
void on_signal(int signal) { forwarded_signal = signal; }

int parse_int(const std::string& option, const std::string& text, int min, int max) {
  try {
    size_t used = 0;
    long v = std::stol(text, &used);
    if (used == text.size() && v >= min && v <= max) return static_cast<int>(v);
  } catch (const std::exception&) {
  }
  throw ConfigError("s4t launch: " + option + " '" + text + "' is not valid; expected an integer in " +
                    std::to_string(min) + ".." + std::to_string(max));
}

std::string describe_status(int rank, int status) {
  if (WIFEXITED(status)) return "rank " + std::to_string(rank) + " exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return "rank " + std::to_string(rank) + " was killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
           strsignal(WTERMSIG(status)) + ")";
  return "rank " + std::to_string(rank) + " ended with status " + std::to_string(status);
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

int cmd_launch(const std::vector<std::string>& args) {
  int nproc = 2, port = 0, kill_after = 30;
  std::vector<std::string> command;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i], inline_value;
    bool has_inline = false;
    if (a.rfind("--", 0) == 0 && a.size() > 2 && a.find('=') != std::string::npos) {  // --nproc=2
      inline_value = a.substr(a.find('=') + 1);
      a = a.substr(0, a.find('='));
      has_inline = true;
    }
    auto value = [&](const std::string& name) -> std::string {
      if (has_inline) return inline_value;
      if (i + 1 >= args.size()) throw ConfigError("s4t launch: " + name + " needs a value\n" + kLaunchUsage);
      return args[++i];
    };
    if (a == "--help" || a == "-h") {
      std::cout << kLaunchUsage;
      return 0;
    } else if (a == "--") {
      command.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    } else if (a == "--nproc" || a == "--nproc-per-node" || a == "--nproc_per_node") {
      nproc = parse_int("--nproc", value(a), 1, 1024);
    } else if (a == "--master-port") {
      port = parse_int("--master-port", value(a), 1, 65535);
    } else if (a == "--kill-after") {
      kill_after = parse_int("--kill-after", value(a), 0, 86400);
    } else {
      throw ConfigError("s4t launch: unknown option '" + a + "' (the command to run goes after --)\n" + kLaunchUsage);
    }
  }
  if (command.empty()) throw ConfigError("s4t launch: no command after --, e.g. `s4t launch --nproc 2 -- train CONFIG`");
  if (command.front() == "launch") throw ConfigError("s4t launch: the command after -- cannot be launch itself");
  if (nproc > 1 && !distributed_support_compiled()) throw Error("s4t launch: " + no_distributed_support_message());
  if (port == 0) port = free_local_port();

  // Everything the children need is built before fork(): between fork and exec only async-signal-safe calls.
  std::vector<std::string> argv_text{"s4t"};
  argv_text.insert(argv_text.end(), command.begin(), command.end());
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::vector<std::string> launch_names = {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"};
  std::vector<std::string> inherited;
  for (char** e = environ; *e; ++e) {
    std::string entry = *e;
    bool ours = false;
    for (auto& n : launch_names) ours = ours || entry.rfind(n + "=", 0) == 0;
    if (!ours) inherited.push_back(entry);
  }
  std::vector<std::vector<std::string>> env_text(nproc);
  std::vector<std::vector<char*>> envp(nproc);
  for (int r = 0; r < nproc; ++r) {
    env_text[r] = inherited;
    for (auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
             {"RANK", std::to_string(r)}, {"WORLD_SIZE", std::to_string(nproc)}, {"LOCAL_RANK", std::to_string(r)},
             {"LOCAL_WORLD_SIZE", std::to_string(nproc)}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", std::to_string(port)}})
      env_text[r].push_back(k + "=" + v);
    for (auto& e : env_text[r]) envp[r].push_back(e.data());
    envp[r].push_back(nullptr);
  }

  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  struct sigaction old_int {}, old_term {};
  sigaction(SIGINT, &action, &old_int);
  sigaction(SIGTERM, &action, &old_term);

  const pid_t launcher = ::getpid();
  std::vector<pid_t> pids(nproc, -1);
  std::vector<bool> running(nproc, false);
  auto signal_all = [&](int signal) {
    for (int r = 0; r < nproc; ++r)
      if (running[r]) ::kill(pids[r], signal);
  };
  std::string command_text;
  for (auto& c : command) command_text += " " + c;
  logger()->info("s4t launch: {} workers on 127.0.0.1:{}:{}", nproc, port, command_text);
  logger()->flush();
  for (int r = 0; r < nproc; ++r) {
    pid_t pid = ::fork();
    if (pid < 0) {
      signal_all(SIGTERM);
      throw Error("s4t launch: fork failed for rank " + std::to_string(r) + ": " + std::strerror(errno));
    }
    if (pid == 0) {
      // Its own process group: a terminal's Ctrl-C reaches the launcher alone, which passes it on once
      // (a worker that got it twice would exit without its checkpoint).
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // the launcher died: stop too
      if (::getppid() != launcher) ::_exit(143);
      ::signal(SIGINT, SIG_DFL);
      ::signal(SIGTERM, SIG_DFL);
      ::execve("/proc/self/exe", argv.data(), envp[r].data());
      const char msg[] = "s4t launch: cannot execute /proc/self/exe\n";
      (void)!::write(2, msg, sizeof(msg) - 1);
      ::_exit(127);
    }
    pids[r] = pid;
    running[r] = true;
    logger()->info("s4t launch: rank {} is pid {}", r, pid);
  }

  int exit_code = 0, live = nproc;
  bool failed = false;
  std::chrono::steady_clock::time_point kill_at{};
  while (live > 0) {
    if (forwarded_signal != 0) {
      const int s = forwarded_signal;
      forwarded_signal = 0;
      logger()->warn("s4t launch: passing {} on to the workers", strsignal(s));
      signal_all(s);
      if (exit_code == 0) exit_code = 128 + s;
    }
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      for (int r = 0; r < nproc; ++r)
        if (pids[r] == pid && running[r]) {
          running[r] = false;
          --live;
          const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
          if (ok) {
            logger()->info("s4t launch: rank {} finished", r);
          } else {
            std::cerr << "s4t launch: " << describe_status(r, status) << "\n" << std::flush;
            if (!failed) {
              failed = true;
              if (exit_code == 0) exit_code = exit_code_of(status);
              if (live > 0) {
                std::cerr << "s4t launch: stopping the other workers (SIGTERM; SIGKILL after " << kill_after << " s)\n"
                          << std::flush;
                signal_all(SIGTERM);
                kill_at = std::chrono::steady_clock::now() + std::chrono::seconds(kill_after);
              }
            }
          }
        }
      continue;
    }
    if (pid < 0 && errno != EINTR) break;  // no children left
    if (failed && live > 0 && std::chrono::steady_clock::now() >= kill_at) {
      std::cerr << "s4t launch: workers still running " << kill_after << " s after SIGTERM; sending SIGKILL\n" << std::flush;
      signal_all(SIGKILL);
      kill_at = std::chrono::steady_clock::now() + std::chrono::hours(24);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  if (exit_code != 0) std::cerr << "s4t launch: failed (exit code " << exit_code << ")\n" << std::flush;
  return exit_code;
}

}  // namespace s4t::host
