#pragma once
// The domains of a target stream ([ttt] stream / domains / reset, docs/streams.md), checked when the
// experiment is validated: each listed name is a "<corruption>[:<severity>]" of [data.target] or a
// [domain.<name>] table whose keys override [data.target]'s (a table naming another `dataset` starts
// from that dataset's defaults instead), and every domain is checked against its dataset's schema.
#include <functional>
#include <string>
#include <vector>

#include "config/config_tree.hpp"
#include "config/experiment.hpp"

namespace s4t::host {

/// Checks one dataset table (`section` of `tree`: `dataset` plus that dataset's options) and returns it.
using DatasetTableCheck = std::function<ComponentChoice(const ConfigTree& tree, const std::string& section)>;

/// [ttt] domains resolved to datasets (empty for stream = "single"). ConfigError, naming the file, line
/// and key, for a domain that is neither form, a [domain.<name>] table no stream lists, and the
/// combinations a stream cannot run (single with domains, no domains, gradual without a corruption,
/// mixed with per_domain resets or a repeated domain, single_batch_then_eval, select = validation).
std::vector<TargetDomain> target_domains(const ConfigTree& tree, const Options& ttt, const DatasetTableCheck& check);

}  // namespace s4t::host
