#pragma once
// Schemas of the host's own config sections ([run], [model], [tasks], [data], [train], [ttt], ...).
#include <map>
#include <string>

#include "s4t/options.hpp"

namespace s4t::host {
/// Section name -> schema, for every fixed section the host reads.
const std::map<std::string, Schema>& host_sections();
/// Keys of [data.source] / [data.target] that belong to the host, not to the dataset.
const Schema& data_role_schema();
}  // namespace s4t::host
