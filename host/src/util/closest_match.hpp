#pragma once
// "Did you mean" suggestions for unknown names in configs and on the command line.
#include <string>
#include <vector>

namespace s4t::host {
/// Edit distance (insert, delete, substitute, adjacent swap) between two strings.
std::size_t edit_distance(const std::string& a, const std::string& b);
/// The candidate closest to `name`, or "" when none is reasonably close.
std::string closest_match(const std::string& name, const std::vector<std::string>& candidates);
/// ", did you mean 'x'?" or "" — ready to append to a message.
std::string did_you_mean(const std::string& name, const std::vector<std::string>& candidates);
/// "a, b, c"
std::string join(const std::vector<std::string>& items, const std::string& separator = ", ");
}  // namespace s4t::host
