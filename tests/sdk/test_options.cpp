// Component option schemas.
#include "s4t_testkit/doctest.hpp"

#include "s4t/error.hpp"
#include "s4t/options.hpp"

using namespace s4t;

TEST_CASE("schema checks types, ranges and choices") {
  Schema s;
  s.add_float("lr", 0.1, "learning rate", 0.0, 1.0).add_string("mode", "a", "mode", {"a", "b"}).add_int("n", 3, "count", 1);
  CHECK(s.find("lr")->check(Value(0.5)).empty());
  CHECK(s.find("lr")->check(Value(std::int64_t{1})).empty());  // int is fine for a float
  CHECK(s.find("lr")->check(Value(2.0)).find("out of range") != std::string::npos);
  CHECK(s.find("lr")->check(Value(std::string("x"))).find("expected float") != std::string::npos);
  CHECK(s.find("mode")->check(Value(std::string("c"))).find("not one of") != std::string::npos);
  CHECK(s.find("n")->check(Value(std::int64_t{0})).find(">= 1") != std::string::npos);
  CHECK_THROWS_AS(s.add_int("n", 1, "again"), ConfigError);
}

TEST_CASE("options read typed values and name the owner on misuse") {
  Schema s;
  s.add_float("lr", 0.1, "lr").add_string_list("names", {"x"}, "names");
  auto o = Options::defaults(s, "[method.test]");
  CHECK(o.get_float("lr") == doctest::Approx(0.1));
  CHECK(o.get_string_list("names").size() == 1);
  try {
    o.get_int("missing");
    FAIL("expected a ConfigError");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()).find("[method.test]") != std::string::npos);
  }
}
