#pragma once
// One function per `s4t` subcommand. Each parses its own arguments (argv after the subcommand) and
// returns the process exit code.
#include <string>
#include <vector>

namespace s4t::host {
int cmd_plugins(const std::vector<std::string>& args);
int cmd_config(const std::vector<std::string>& args);
int cmd_train(const std::vector<std::string>& args);
int cmd_adapt(const std::vector<std::string>& args);
int cmd_eval(const std::vector<std::string>& args);
int cmd_info(const std::vector<std::string>& args);
int cmd_compare(const std::vector<std::string>& args);
int cmd_bench(const std::vector<std::string>& args);
int cmd_report(const std::vector<std::string>& args);
int cmd_sweep(const std::vector<std::string>& args);
int cmd_launch(const std::vector<std::string>& args);
}  // namespace s4t::host
