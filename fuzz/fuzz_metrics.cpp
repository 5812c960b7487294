// Fuzz target: the metrics JSON reader (host/src/run/trajectory.cpp, Trajectory::from_json: what
// `s4t report` runs on every adapt/<method>/metrics.json through report/run_collection.cpp).
//
// Contract: parsing throws nlohmann::json::exception (run_directory's read_json turns it into an
// s4t::Error naming the file); from_json accepts the file or throws std::runtime_error or
// nlohmann::json::exception, which run_collection's read_results_file turns into an s4t::Error naming
// the file. Anything else is a finding: a crash, an ASan/UBSan report (e.g. a float-to-integer
// conversion out of range), std::bad_alloc / std::length_error, ...
// Properties of an accepted file: the report's own uses of it (to_json, to_csv, synchronization) do
// not throw, and one round trip is stable: from_json(to_json(t)) writes the same JSON again (the first
// trip may change a file -- infinities become NaN, JSON's null -- the second must not).
#include <nlohmann/json.hpp>

#include <stdexcept>

#include "fuzz_support.hpp"
#include "run/trajectory.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using s4t::host::Trajectory;
  Trajectory t;
  try {
    t = Trajectory::from_json(nlohmann::json::parse(data, data + size));
  } catch (const nlohmann::json::exception& e) {
    s4t::fuzz::note(std::string("refused: ") + e.what());
    return 0;
  } catch (const std::runtime_error& e) {
    s4t::fuzz::note(std::string("refused: ") + e.what());
    return 0;
  }
  s4t::fuzz::note("accepted: method " + t.method + ", " + std::to_string(t.steps.size()) + " steps");
  (void)t.to_csv();
  const std::string once = t.to_json().dump();
  const Trajectory back = Trajectory::from_json(nlohmann::json::parse(once));
  const std::string twice = Trajectory::from_json(nlohmann::json::parse(back.to_json().dump())).to_json().dump();
  if (back.to_json().dump() != twice) s4t::fuzz::broken("metrics.json does not round-trip: " + once);
  return 0;
}
