#include "distributed/launch_environment.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>

#include "s4t/error.hpp"

namespace s4t::host {

namespace {

// A whole decimal integer, or nothing ("", "2x", "1e3" and out-of-range values are not integers).
std::optional<long long> parse_integer(const std::string& text) {
  if (text.empty()) return std::nullopt;
  try {
    size_t used = 0;
    long long v = std::stoll(text, &used);
    if (used != text.size()) return std::nullopt;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

int integer_variable(const EnvironmentLookup& lookup, const std::string& name, long long min, long long max,
                     const std::string& expected) {
  auto value = lookup(name);
  auto v = value ? parse_integer(*value) : std::nullopt;
  if (!v || *v < min || *v > max)
    throw ConfigError("launch environment: " + name + "=" + (value ? "'" + *value + "'" : std::string("(unset)")) +
                      " is not valid; expected " + expected);
  return static_cast<int>(*v);
}

std::string variables_hint(const std::string& source) {
  return source == "slurm" ? " (Slurm variables; see docs/distributed.md)" : " (torchrun variables; see docs/distributed.md)";
}

void parse_torchrun(const EnvironmentLookup& lookup, LaunchEnvironment& env) {
  env.source = "torchrun";
  if (!lookup("WORLD_SIZE"))
    throw ConfigError("launch environment: RANK is set but WORLD_SIZE is not; set both (or neither, for one process)" +
                      variables_hint(env.source));
  if (!lookup("RANK"))
    throw ConfigError("launch environment: WORLD_SIZE is set but RANK is not; set both (or neither, for one process)" +
                      variables_hint(env.source));
  env.world_size = integer_variable(lookup, "WORLD_SIZE", 1, 1 << 20, "an integer >= 1 (the number of processes)");
  env.rank = integer_variable(lookup, "RANK", 0, env.world_size - 1,
                              "an integer in [0, WORLD_SIZE) = [0, " + std::to_string(env.world_size) + ")");
  env.local_rank = lookup("LOCAL_RANK") ? integer_variable(lookup, "LOCAL_RANK", 0, env.world_size - 1,
                                                           "an integer in [0, WORLD_SIZE)")
                                        : env.rank;
  if (!env.distributed()) return;
  auto addr = lookup("MASTER_ADDR");
  if (!addr || addr->empty())
    throw ConfigError("launch environment: WORLD_SIZE=" + std::to_string(env.world_size) +
                      " but MASTER_ADDR is not set; set it to the host name or address of rank 0" +
                      variables_hint(env.source));
  env.master_addr = *addr;
  env.master_port = integer_variable(lookup, "MASTER_PORT", 1, 65535, "a TCP port in 1..65535 that rank 0 can listen on");
}

void parse_slurm(const EnvironmentLookup& lookup, LaunchEnvironment& env) {
  env.source = "slurm";
  // srun's step size when present (a step may use fewer tasks than the job allocated).
  const std::string size_name = lookup("SLURM_STEP_NUM_TASKS") ? "SLURM_STEP_NUM_TASKS" : "SLURM_NTASKS";
  env.world_size = integer_variable(lookup, size_name, 1, 1 << 20, "an integer >= 1 (the number of tasks)");
  env.rank = integer_variable(lookup, "SLURM_PROCID", 0, env.world_size - 1,
                              "an integer in [0, " + size_name + ") = [0, " + std::to_string(env.world_size) + ")");
  env.local_rank = lookup("SLURM_LOCALID") ? integer_variable(lookup, "SLURM_LOCALID", 0, env.world_size - 1,
                                                              "an integer in [0, " + size_name + ")")
                                           : 0;
  if (!env.distributed()) return;
  if (auto addr = lookup("MASTER_ADDR"); addr && !addr->empty()) {
    env.master_addr = *addr;
  } else {
    for (const char* name : {"SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST", "SLURM_NODELIST"})
      if (auto list = lookup(name); list && !list->empty()) {
        auto hosts = expand_slurm_nodelist(*list);
        if (!hosts.empty()) env.master_addr = hosts.front();
        break;
      }
    if (env.master_addr.empty())
      throw ConfigError("launch environment: " + size_name + "=" + std::to_string(env.world_size) +
                        " but neither MASTER_ADDR nor a Slurm node list (SLURM_JOB_NODELIST) is set" +
                        variables_hint(env.source));
  }
  if (lookup("MASTER_PORT")) {
    env.master_port = integer_variable(lookup, "MASTER_PORT", 1, 65535, "a TCP port in 1..65535 that rank 0 can listen on");
  } else {
    // Per-job port, so two jobs sharing a node do not collide on one default.
    auto job = lookup("SLURM_JOB_ID");
    auto id = job ? parse_integer(*job) : std::nullopt;
    env.master_port = 20000 + static_cast<int>((id && *id > 0 ? *id : 9500) % 10000);
  }
}

// One bracket-free piece or "prefix[ranges]rest" expanded (rest may hold further brackets).
void expand_item(const std::string& item, const std::string& whole, std::vector<std::string>& out) {
  auto open = item.find('[');
  if (open == std::string::npos) {
    if (item.find(']') != std::string::npos)
      throw ConfigError("Slurm node list '" + whole + "': ']' without '['");
    out.push_back(item);
    return;
  }
  auto close = item.find(']', open);
  if (close == std::string::npos) throw ConfigError("Slurm node list '" + whole + "': '[' without ']'");
  const std::string prefix = item.substr(0, open), ranges = item.substr(open + 1, close - open - 1),
                    rest = item.substr(close + 1);
  std::vector<std::string> tails;
  expand_item(rest, whole, tails);
  size_t start = 0;
  for (;;) {
    auto comma = ranges.find(',', start);
    std::string range = ranges.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    auto dash = range.find('-');
    std::string lo = range.substr(0, dash), hi = dash == std::string::npos ? lo : range.substr(dash + 1);
    auto a = parse_integer(lo), b = parse_integer(hi);
    if (!a || !b || *a < 0 || *b < *a || lo.find_first_not_of("0123456789") != std::string::npos ||
        hi.find_first_not_of("0123456789") != std::string::npos)
      throw ConfigError("Slurm node list '" + whole + "': '" + range + "' is not a number or a range a-b with a <= b");
    for (long long v = *a; v <= *b; ++v) {
      std::string digits = std::to_string(v);
      if (digits.size() < lo.size()) digits.insert(0, lo.size() - digits.size(), '0');  // node[01-10]
      for (auto& tail : tails) out.push_back(prefix + digits + tail);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
}

}  // namespace

std::string LaunchEnvironment::describe() const {
  if (!distributed()) return "a single process";
  return "rank " + std::to_string(rank) + " of " + std::to_string(world_size) + " (local rank " +
         std::to_string(local_rank) + ", " + source + " variables, master " + master_addr + ":" +
         std::to_string(master_port) + ")";
}

std::vector<std::string> expand_slurm_nodelist(const std::string& list) {
  std::vector<std::string> hosts;
  int depth = 0;
  std::string item;
  auto flush = [&] {
    if (!item.empty()) expand_item(item, list, hosts);
    item.clear();
  };
  for (char c : list) {
    if (c == '[') ++depth;
    if (c == ']' && --depth < 0) throw ConfigError("Slurm node list '" + list + "': ']' without '['");
    if (c == ',' && depth == 0) flush();
    else item += c;
  }
  if (depth != 0) throw ConfigError("Slurm node list '" + list + "': '[' without ']'");
  flush();
  return hosts;
}

LaunchEnvironment parse_launch_environment(const EnvironmentLookup& lookup) {
  LaunchEnvironment env;
  if (lookup("RANK") || lookup("WORLD_SIZE")) parse_torchrun(lookup, env);
  else if (lookup("SLURM_PROCID") && (lookup("SLURM_NTASKS") || lookup("SLURM_STEP_NUM_TASKS"))) parse_slurm(lookup, env);
  return env;
}

const LaunchEnvironment& launch_environment() {
  static std::once_flag once;
  static LaunchEnvironment env;
  static std::exception_ptr error;
  std::call_once(once, [] {
    try {
      env = parse_launch_environment([](const std::string& name) -> std::optional<std::string> {
        const char* v = std::getenv(name.c_str());
        return v ? std::optional<std::string>(v) : std::nullopt;
      });
    } catch (...) {
      error = std::current_exception();
    }
  });
  if (error) std::rethrow_exception(error);
  return env;
}

bool is_primary_process() { return launch_environment().rank == 0; }

// A port nobody listens on now: bind port 0 on the loopback and read what the kernel chose.
int free_local_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Error("cannot create a socket to find a free port: " + std::string(std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw Error("cannot find a free port on 127.0.0.1: " + std::string(std::strerror(errno)));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace s4t::host
