// `corruption` / `severity` through the dataset plugins: the image changes, the targets do not, the
// same index is corrupted the same way, and the depth-aware corruptions find their depth.
#include <ATen/ATen.h>

#include "fixtures.hpp"
#include "helpers.hpp"
#include "s4t_testkit/doctest.hpp"
#include "test_support.hpp"

using namespace s4t;
using namespace s4t::test;
namespace fx = s4t::test::fixtures;

namespace {

void check_same_targets(const Sample& a, const Sample& b) {
  REQUIRE(a.targets.size() == b.targets.size());
  for (const auto& [name, t] : a.targets) {
    CAPTURE(name);
    CHECK(t.equal(b.targets.at(name)));
    CHECK(a.masks.at(name).equal(b.masks.at(name)));
  }
}

}  // namespace

TEST_CASE("nyudv2: a corruption changes the image only, deterministically; fog_3d needs the depth task") {
  TempDir tmp;
  auto f = fx::write_nyud(tmp.path() / "NYUDv2", false, 24, 32, 1, 3);
  auto opts = [&](std::map<std::string, Value> extra) {
    extra["root"] = Value(f.root.string());
    return extra;
  };
  auto clean = make_real_dataset("nyudv2", "target", opts({}));
  auto noisy = make_real_dataset(
      "nyudv2", "target",
      opts({{"corruption", Value(std::string("gaussian_noise"))}, {"severity", Value(std::int64_t{3})}}));
  const Sample c = clean->get(1), n = noisy->get(1);
  CHECK_FALSE(c.image.equal(n.image));
  CHECK(n.image.equal(noisy->get(1).image));
  CHECK_FALSE((n.image - c.image).equal(noisy->get(2).image - clean->get(2).image));
  check_same_targets(c, n);
  CHECK(noisy->describe().find("gaussian_noise severity 3") != std::string::npos);
  auto off = make_real_dataset("nyudv2", "target",
                               opts({{"corruption", Value(std::string("fog"))}, {"severity", Value(std::int64_t{0})}}));
  CHECK(off->get(1).image.equal(c.image));

  auto fog = make_real_dataset("nyudv2", "target", opts({{"corruption", Value(std::string("fog_3d"))}}));
  const Sample fg = fog->get(0), c0 = clean->get(0);
  CHECK_FALSE(fg.image.equal(c0.image));
  check_same_targets(c0, fg);
  auto no_depth =
      make_real_dataset("nyudv2", "target", opts({{"corruption", Value(std::string("near_focus"))}}), {"semseg"});
  CHECK(data_error_of([&] { no_depth->get(0); }).find("needs the depth target") != std::string::npos);
}

TEST_CASE("synthetic: corruptions on the render, seeded by the run seed, depth-aware ones without the depth task") {
  auto make = [](const std::string& corruption, std::vector<std::string> tasks = {}, std::uint64_t seed = 0) {
    return make_real_dataset(
        "synthetic", "target",
        {{"domain", Value(std::string("source"))}, {"size", Value(std::int64_t{4})}, {"corruption", Value(corruption)}},
        tasks, seed);
  };
  const Sample clean = make("none")->get(0);
  auto noisy = make("shot_noise");
  const Sample n = noisy->get(0);
  CHECK_FALSE(n.image.equal(clean.image));
  CHECK(n.image.equal(noisy->get(0).image));
  CHECK_FALSE(n.image.equal(make("shot_noise", {}, 1)->get(0).image));
  check_same_targets(clean, n);
  CHECK(noisy->describe().find("shot_noise severity 5") != std::string::npos);
  const Sample fog = make("fog_3d", {"semseg"})->get(0);
  CHECK_FALSE(fog.image.equal(make("none", {"semseg"})->get(0).image));
  CHECK(fog.targets.count("depth") == 0);
}
