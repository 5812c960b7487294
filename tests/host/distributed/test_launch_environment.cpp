// Launch variables: torchrun's and Slurm's, and the clear errors for bad settings.
#include "s4t_testkit/doctest.hpp"

#include <map>

#include "distributed/launch_environment.hpp"
#include "s4t/error.hpp"

using namespace s4t;
using namespace s4t::host;

namespace {
LaunchEnvironment parse(const std::map<std::string, std::string>& vars) {
  return parse_launch_environment([&](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  });
}
std::string error_of(const std::map<std::string, std::string>& vars) {
  try {
    parse(vars);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("no launch variables: one process") {
  auto env = parse({});
  CHECK_FALSE(env.distributed());
  CHECK(env.rank == 0);
  CHECK(env.world_size == 1);
}

TEST_CASE("torchrun variables") {
  auto env = parse({{"RANK", "3"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "node7"}, {"MASTER_PORT", "29501"}});
  CHECK(env.distributed());
  CHECK(env.rank == 3);
  CHECK(env.world_size == 4);
  CHECK(env.local_rank == 1);
  CHECK(env.master_addr == "node7");
  CHECK(env.master_port == 29501);
  CHECK(env.source == "torchrun");
  // WORLD_SIZE=1 needs no master.
  CHECK_FALSE(parse({{"RANK", "0"}, {"WORLD_SIZE", "1"}}).distributed());
}

TEST_CASE("bad torchrun settings are errors naming the variable") {
  const std::map<std::string, std::string> good = {{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "29500"}};
  auto with = [&](const std::string& k, const std::string& v) {
    auto m = good;
    if (v == "<unset>") m.erase(k);
    else m[k] = v;
    return m;
  };
  CHECK(error_of(good).empty());
  CHECK(error_of(with("WORLD_SIZE", "0")).find("WORLD_SIZE='0'") != std::string::npos);
  CHECK(error_of(with("WORLD_SIZE", "two")).find("WORLD_SIZE") != std::string::npos);
  CHECK(error_of(with("RANK", "2")).find("RANK='2'") != std::string::npos);
  CHECK(error_of(with("RANK", "-1")).find("[0, WORLD_SIZE)") != std::string::npos);
  CHECK(error_of(with("MASTER_PORT", "0")).find("MASTER_PORT") != std::string::npos);
  CHECK(error_of(with("MASTER_PORT", "70000")).find("1..65535") != std::string::npos);
  CHECK(error_of(with("MASTER_PORT", "29500x")).find("MASTER_PORT") != std::string::npos);
  CHECK(error_of(with("MASTER_PORT", "<unset>")).find("MASTER_PORT=(unset)") != std::string::npos);
  CHECK(error_of(with("MASTER_ADDR", "<unset>")).find("MASTER_ADDR is not set") != std::string::npos);
  CHECK(error_of(with("WORLD_SIZE", "<unset>")).find("WORLD_SIZE is not") != std::string::npos);
}

TEST_CASE("Slurm variables: the master is the first host of the node list") {
  auto env = parse({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "1"},
                    {"SLURM_JOB_NODELIST", "gpu[03-04,07],login1"}, {"SLURM_JOB_ID", "123456"}});
  CHECK(env.source == "slurm");
  CHECK(env.rank == 5);
  CHECK(env.world_size == 8);
  CHECK(env.local_rank == 1);
  CHECK(env.master_addr == "gpu03");
  CHECK(env.master_port == 20000 + 123456 % 10000);
  // MASTER_ADDR / MASTER_PORT win; torchrun variables win over Slurm's.
  auto set = parse({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}, {"SLURM_NODELIST", "a1"}, {"MASTER_ADDR", "b"}, {"MASTER_PORT", "4000"}});
  CHECK(set.master_addr == "b");
  CHECK(set.master_port == 4000);
  CHECK(parse({{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}, {"RANK", "0"}, {"WORLD_SIZE", "1"}}).source == "torchrun");
  CHECK(error_of({{"SLURM_PROCID", "2"}, {"SLURM_NTASKS", "2"}, {"SLURM_NODELIST", "a"}}).find("SLURM_PROCID") != std::string::npos);
  CHECK(error_of({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}}).find("node list") != std::string::npos);
}

TEST_CASE("Slurm node lists expand") {
  using V = std::vector<std::string>;
  CHECK(expand_slurm_nodelist("node[1-3,5]") == V{"node1", "node2", "node3", "node5"});
  CHECK(expand_slurm_nodelist("gpu07") == V{"gpu07"});
  CHECK(expand_slurm_nodelist("n[08-10],x") == V{"n08", "n09", "n10", "x"});
  CHECK(expand_slurm_nodelist("r[1-2]-n[1-2]") == V{"r1-n1", "r1-n2", "r2-n1", "r2-n2"});
  CHECK_THROWS_AS(expand_slurm_nodelist("node[1-3"), ConfigError);
  CHECK_THROWS_AS(expand_slurm_nodelist("node[3-1]"), ConfigError);
  CHECK_THROWS_AS(expand_slurm_nodelist("node[a]"), ConfigError);
}
