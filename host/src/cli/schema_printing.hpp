#pragma once
// How `s4t plugins show` and `s4t config keys` print options: key, type, default, range or choices, doc.
#include <ostream>

#include "s4t/options.hpp"

namespace s4t::host {
void print_schema(std::ostream& out, const Schema& schema);
}  // namespace s4t::host
