#pragma once
// Boost.Program_options plumbing shared by the subcommands.
#include <boost/program_options.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "cli/host_context.hpp"

namespace s4t::host {

namespace po = boost::program_options;

/// Adds --plugin-dir, --set, --log-level to `options`, bound to `common`.
void add_common_options(po::options_description& options, CommonArgs& common);
/// Parses `args`; a positional CONFIG goes to `config` when not null. Returns false if --help was asked
/// (usage already printed).
bool parse_arguments(const std::string& usage, po::options_description& options, const std::vector<std::string>& args,
                     std::string* config, CommonArgs& common);
/// "a,b,c" -> {"a","b","c"}
std::vector<std::string> split_list(const std::string& text);
/// "0,1,2" -> {0, 1, 2}; ConfigError naming `option` for an entry that is not an integer.
std::vector<std::int64_t> split_int_list(const std::string& text, const std::string& option);

}  // namespace s4t::host
