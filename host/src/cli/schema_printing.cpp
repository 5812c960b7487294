#include "cli/schema_printing.hpp"

#include <iomanip>

#include "util/closest_match.hpp"

namespace s4t::host {

void print_schema(std::ostream& out, const Schema& schema) {
  if (schema.options().empty()) {
    out << "  (no options)\n";
    return;
  }
  for (auto& o : schema.options()) {
    out << "  " << std::left << std::setw(22) << o.key << " " << std::setw(16) << type_name(o.type) << " default "
        << to_string(o.default_value);
    if (auto range = range_to_string(o); !range.empty()) out << ", range " << range;
    if (!o.choices.empty()) out << ", one of {" << join(o.choices) << "}";
    out << "\n      " << o.doc << "\n";
  }
}

}  // namespace s4t::host
