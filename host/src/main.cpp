// s4t: multi-task test-time training. Dispatches to one subcommand; every error reaches the user once,
// as one clear message on the terminal and in the run's log.txt, and a non-zero exit code.
#include <c10/util/Exception.h>

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>

#include "cli/commands.hpp"
#include "cli/host_context.hpp"
#include "engine/interrupt.hpp"
#include "run/logging.hpp"
#include "s4t/error.hpp"
#include "s4t/version.hpp"
#include "util/closest_match.hpp"

namespace {
const char* kUsage =
    "usage: s4t <command> [options]\n\n"
    "commands:\n"
    "  plugins [show NAME]   list plugins (kind, name, version, file) and load failures; show a component's options\n"
    "  config keys           every key of the host's tables: type, default, range or choices, doc\n"
    "  train CONFIG          source training (with periodic checkpoints; --resume continues)\n"
    "  adapt CONFIG          test-time training on the target set; per-step, per-task metrics and Δ_TTT\n"
    "  eval CONFIG           evaluate a checkpoint without adaptation\n"
    "  compare CONFIG        train what each method needs, adapt each, print a Table-4-style comparison\n"
    "  info CONFIG           parameter counts per group\n"
    "  bench CONFIG          step times (source training, TTT, inference) against an in-process reference\n"
    "  report RUN_DIR...     tables (Markdown/CSV/LaTeX), synchronisation measures and figures (gnuplot)\n"
    "  sweep CONFIG          one comparison per value of a config key (--key, --values)\n"
    "  launch --nproc N -- COMMAND ARGS...   N local workers of one distributed run (docs/distributed.md)\n\n"
    "Run `s4t <command> --help` for its options. Plugins are searched in --plugin-dir, $S4T_PLUGIN_PATH,\n"
    "[plugins] dirs, <prefix>/lib/s4t/plugins and the build tree.\n";
}

namespace {
// OpenMP threads that find no work spin for a while before sleeping (GOMP's "active" wait policy). When
// anything else runs on the machine -- loader threads, a second process -- that spinning steals the cores
// the other OpenMP thread needs: a 60 ms step measured 1.7 s on 2 busy cores. libgomp reads the policy
// once, when it is loaded (before main), so the host re-executes itself once with PASSIVE unless the user
// chose a policy.
void ensure_passive_openmp_wait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY")) return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  execv("/proc/self/exe", argv);  // only returns on failure: then run with the default policy
}
}  // namespace

int main(int argc, char** argv) {
  ensure_passive_openmp_wait(argv);
  s4t::host::configure_runtime(0);
  s4t::host::install_sdk_log_sink();
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::cout << "s4t " << s4t::kSdkVersion << " (SDK ABI " << s4t::kSdkAbiVersion << ")\n";
    return 0;
  }
  using Command = int (*)(const std::vector<std::string>&);
  const std::map<std::string, Command> commands = {
      {"plugins", s4t::host::cmd_plugins}, {"config", s4t::host::cmd_config},
      {"train", s4t::host::cmd_train},     {"adapt", s4t::host::cmd_adapt},
      {"eval", s4t::host::cmd_eval},       {"info", s4t::host::cmd_info},   {"compare", s4t::host::cmd_compare},
      {"bench", s4t::host::cmd_bench},     {"report", s4t::host::cmd_report}, {"sweep", s4t::host::cmd_sweep},
      {"launch", s4t::host::cmd_launch}};
  const std::string name = argv[1];
  auto it = commands.find(name);
  if (it == commands.end()) {
    std::vector<std::string> names;
    for (auto& [k, v] : commands) names.push_back(k);
    std::cerr << "s4t: unknown command '" << name << "'" << s4t::host::did_you_mean(name, names) << "\n\n" << kUsage;
    return 2;
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  // Through the logger: the terminal, and the log.txt of the run directory that is open, if any.
  auto report = [&name](const std::string& what, const std::string& message) {
    s4t::host::logger()->error("s4t {}: {}{}", name, what, message);
    s4t::host::logger()->flush();
  };
  try {
    return it->second(args);
  } catch (const s4t::ConfigError& e) {
    report("config error: ", e.what());
    return 2;
  } catch (const s4t::host::Interrupted& e) {
    report("", e.what());
    return e.exit_code();
  } catch (const s4t::Error& e) {
    report("error: ", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    report("error: ", "out of memory: a size in the config (dataset size, batch, image height/width, model width) "
                      "needs more memory than this machine has; lower it");
    return 1;
  } catch (const c10::Error& e) {
    report("LibTorch error: ", e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {
    report("error: ", e.what());
    return 1;
  } catch (...) {
    report("error: ", "an exception that is not a std::exception");
    return 1;
  }
}
