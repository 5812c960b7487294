#pragma once
// Where this process sits in a distributed run, from the launcher's environment variables
// (docs/distributed.md): torchrun's RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT (also what
// `s4t launch` sets), else Slurm's SLURM_PROCID / SLURM_NTASKS / SLURM_LOCALID with the master taken from
// the node list. No variables: a single-process run.
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace s4t::host {

struct LaunchEnvironment {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr;  ///< host of rank 0's rendezvous store
  int master_port = 0;
  std::string source;  ///< "torchrun" (RANK/WORLD_SIZE), "slurm", or "" (single process)
  bool distributed() const { return world_size > 1; }
  /// "rank 1 of 2 (torchrun variables, master 127.0.0.1:29500)"
  std::string describe() const;
};

using EnvironmentLookup = std::function<std::optional<std::string>(const std::string& name)>;

/// Reads the launch variables through `lookup`. ConfigError naming the variable and what was expected for
/// WORLD_SIZE < 1, RANK outside [0, WORLD_SIZE), a port outside 1..65535, a missing MASTER_ADDR, ...
LaunchEnvironment parse_launch_environment(const EnvironmentLookup& lookup);

/// This process's launch environment (parsed once; throws the parse error every time it is asked).
const LaunchEnvironment& launch_environment();

/// Whether this process writes the run directory: rank 0, or any single-process run.
bool is_primary_process();

/// Expands a Slurm host list: "node[1-3,5],gpu07,rack[01-02]-n[1-2]" -> node1 node2 node3 node5 gpu07
/// rack01-n1 rack01-n2 rack02-n1 rack02-n2 (zero padding kept). ConfigError on unbalanced brackets or a
/// range that is not "a" or "a-b" with a <= b.
std::vector<std::string> expand_slurm_nodelist(const std::string& list);

/// A TCP port nobody listens on now on 127.0.0.1 (the kernel's choice for port 0): what `s4t launch`
/// gives its workers when no --master-port is set.
int free_local_port();

}  // namespace s4t::host
