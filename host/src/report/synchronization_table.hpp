#pragma once
// The synchronisation table of `s4t report`: SV, DTW and CS of each method's task curves (supplement §B).
#include <string>
#include <utility>

#include "report/run_collection.hpp"

namespace s4t::host {
/// Markdown and CSV of SV / DTW / CS per method (signed relative gain, mean ± std over seeds).
std::pair<std::string, std::string> synchronization_tables(const RunCollection& runs);
}  // namespace s4t::host
