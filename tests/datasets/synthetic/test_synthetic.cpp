// The `synthetic` dataset plugin, loaded through its entry point without the host: schema, sample
// layout, geometric consistency of the labels, determinism, the source/target contract (same
// geometry, different appearance), thread safety and errors.
#include "s4t_testkit/doctest.hpp"

#include <ATen/TensorOperators.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/tensor.h>

#include <cmath>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "s4t/error.hpp"
#include "synthetic_plugin_loader.hpp"

using namespace synthetic_test;

TEST_CASE("the plugin registers one documented dataset, 'synthetic'") {
  const auto* d = plugin().descriptor;
  CHECK(d->sdk_abi_version == S4T_SDK_ABI_VERSION);
  CHECK(std::string(d->plugin_id) == "s4t.synthetic");
  CHECK(plugin().registrar.unexpected.empty());
  CHECK(std::string(d->plugin_version) == "1.0.0");
  CHECK(info().name == "synthetic");
  CHECK((info().version.empty() || info().version == d->plugin_version));  // empty: the plugin's version
  CHECK_FALSE(info().summary.empty());
  CHECK(info().doc.size() > 200);
  for (auto key : {"domain", "size", "height", "width", "seed", "objects_min", "objects_max", "noise_std", "shift"})
    CHECK_MESSAGE(info().schema.find(key) != nullptr, key);
  for (const auto& spec : info().schema.options()) CHECK_MESSAGE(!spec.doc.empty(), spec.key);
  CHECK_FALSE(info().schema.find("domain")->check(std::string("other")).empty());
  CHECK_FALSE(info().schema.find("shift")->check(1.5).empty());
}

TEST_CASE("samples have the documented layout, shapes and types") {
  auto ds = make(small("source"));
  CHECK(ds->size() == 16);
  CHECK(ds->image_size() == std::array<I, 2>{32, 48});
  CHECK(ds->describe().find("synthetic source domain") != std::string::npos);
  auto tasks = ds->tasks();
  REQUIRE(tasks.size() == 4);
  CHECK(tasks[0].name == "semseg");
  CHECK(tasks[0].class_names == std::vector<std::string>{"floor", "wall", "sphere", "box", "cylinder"});
  CHECK(tasks[1].name == "depth");
  CHECK(tasks[2].name == "normals");
  CHECK(tasks[3].name == "edge");

  auto s = ds->get(3);
  CHECK((s.image.sizes() == at::IntArrayRef{3, 32, 48}));
  CHECK((s.image.scalar_type() == at::kFloat));
  CHECK((s.targets.at("semseg").sizes() == at::IntArrayRef{32, 48}));
  CHECK((s.targets.at("semseg").scalar_type() == at::kLong));
  CHECK((s.targets.at("depth").sizes() == at::IntArrayRef{1, 32, 48}));
  CHECK((s.targets.at("normals").sizes() == at::IntArrayRef{3, 32, 48}));
  CHECK((s.targets.at("edge").sizes() == at::IntArrayRef{1, 32, 48}));
  for (auto task : {"depth", "normals", "edge"}) CHECK((s.targets.at(task).scalar_type() == at::kFloat));
  CHECK(s.masks.size() == 4);
  for (const auto& [task, mask] : s.masks) {
    CHECK_MESSAGE((mask.sizes() == at::IntArrayRef{1, 32, 48}), task);
    CHECK_MESSAGE((mask.scalar_type() == at::kBool), task);
  }
  // ImageNet normalisation of intensities in [0, 1].
  auto mean = at::tensor({0.485f, 0.456f, 0.406f}).view({3, 1, 1});
  auto stddev = at::tensor({0.229f, 0.224f, 0.225f}).view({3, 1, 1});
  auto raw = s.image * stddev + mean;
  CHECK(raw.min().item<float>() >= -1e-5f);
  CHECK(raw.max().item<float>() <= 1.0f + 1e-5f);
}

TEST_CASE("labels are consistent with the geometry") {
  for (auto domain : {"source", "target"}) {
    auto ds = make(small(domain));
    std::set<I> classes_seen;
    for (I index = 0; index < 8; ++index) {
      auto s = ds->get(index);
      CAPTURE(index);
      auto semseg = s.targets.at("semseg");
      auto depth = s.targets.at("depth");
      auto normals = s.targets.at("normals");
      auto edge = s.targets.at("edge");
      auto valid = s.masks.at("depth");
      REQUIRE(valid.any().item<bool>());
      CHECK(s.image.isfinite().all().item<bool>());

      // Classes in range where valid, ignore index elsewhere.
      auto labelled = semseg.ne(255);
      CHECK(labelled.equal(s.masks.at("semseg")[0]));
      CHECK(semseg.masked_select(labelled).lt(5).all().item<bool>());
      CHECK(semseg.masked_select(labelled).ge(0).all().item<bool>());
      auto counts = semseg.masked_select(labelled).bincount({}, 5);
      for (I c = 0; c < 5; ++c)
        if (counts[c].item<I>() > 0) classes_seen.insert(c);
      CHECK(counts.gt(0).sum().item<I>() >= 2);

      // Depth: positive, a room's few metres.
      auto d = depth.masked_select(valid);
      CHECK(d.min().item<float>() > 0.3f);
      CHECK(d.max().item<float>() < 15.0f);

      // Normals: unit length, facing the camera (x right, y up, z towards the camera).
      auto norm = normals.norm(2, 0, true);
      CHECK((norm - 1).abs().masked_select(valid).max().item<float>() < 1e-4f);
      const float focal = 0.5f * 48 / std::tan(30.0f * 3.14159265f / 180.0f);
      auto u = (at::arange(48, at::kFloat) + 0.5f - 24.0f).div(focal).view({1, 48}).expand({32, 48});
      auto v = -(at::arange(32, at::kFloat) + 0.5f - 16.0f).div(focal).view({32, 1}).expand({32, 48});
      auto facing = normals[0] * u + normals[1] * v - normals[2];  // dot(n, ray direction)
      CHECK(facing.masked_select(valid[0]).max().item<float>() < 1e-3f);

      // Edges: binary, and on one side of every class change between 4-neighbours.
      CHECK((edge.eq(0) | edge.eq(1)).all().item<bool>());
      const float fraction = edge.mean().item<float>();
      CHECK(fraction > 0.0f);
      CHECK(fraction < 0.3f);
      auto e = edge[0].gt(0.5f);
      auto horizontal = semseg.slice(1, 1).ne(semseg.slice(1, 0, -1));
      auto vertical = semseg.slice(0, 1).ne(semseg.slice(0, 0, -1));
      CHECK(horizontal.any().item<bool>());
      CHECK((horizontal & ~(e.slice(1, 1) | e.slice(1, 0, -1))).any().item<bool>() == false);
      CHECK((vertical & ~(e.slice(0, 1) | e.slice(0, 0, -1))).any().item<bool>() == false);
    }
    CHECK_MESSAGE(classes_seen.size() == 5, domain);
  }
}

TEST_CASE("a sample depends only on seed and index") {
  auto ds = make(small("target"));
  auto a = ds->get(5);
  CHECK(same_sample(a, ds->get(5)));
  CHECK(same_sample(a, make(small("target"))->get(5)));  // a fresh dataset object renders the same
  CHECK_FALSE(a.image.equal(ds->get(6).image));
  auto other_seed = make(small("target", 1))->get(5);
  CHECK_FALSE(a.image.equal(other_seed.image));
  CHECK_FALSE(a.targets.at("semseg").equal(other_seed.targets.at("semseg")));
  // The run seed does not change the data set.
  s4t::DatasetContext ctx;
  ctx.seed = 1234;
  CHECK(same_sample(a, make(small("target"), ctx)->get(5)));
}

TEST_CASE("source and target share the geometry and differ in appearance") {
  auto source = make(small("source"));
  auto target = make(small("target"));
  auto half = small("target");
  half["shift"] = 0.5;
  auto halfway = make(half);
  auto none = small("target");
  none["shift"] = 0.0;
  auto unshifted = make(none);
  double full_gap = 0, half_gap = 0;
  for (I index = 0; index < 4; ++index) {
    auto s = source->get(index), t = target->get(index);
    CAPTURE(index);
    CHECK(same_tensors(s.targets, t.targets));
    CHECK(same_tensors(s.masks, t.masks));
    const double gap = (s.image - t.image).abs().mean().item<double>();
    CHECK(gap > 0.1);
    full_gap += gap;
    half_gap += (s.image - halfway->get(index).image).abs().mean().item<double>();
    CHECK(unshifted->get(index).image.equal(s.image));  // shift 0 is the source look
  }
  CHECK(half_gap > 0.1 * full_gap);
  CHECK(half_gap < full_gap);
  CHECK(target->describe().find("target") != std::string::npos);
}

TEST_CASE("concurrent get() calls return the same samples as serial ones") {
  auto ds = make(small("target"));
  std::vector<s4t::Sample> reference;
  for (I i = 0; i < 4; ++i) reference.push_back(ds->get(i));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w)
    threads.emplace_back([&, w] {
      for (int round = 0; round < 10; ++round)
        for (I i = 0; i < 4; ++i)
          if (!same_sample(ds->get((i + w) % 4), reference[(i + w) % 4])) ++mismatches[w];
    });
  for (auto& t : threads) t.join();
  for (int w = 0; w < 4; ++w) CHECK(mismatches[w] == 0);
}

TEST_CASE("the experiment's task list limits the targets that are rendered") {
  s4t::DatasetContext ctx;
  ctx.tasks = {"depth", "semseg"};
  auto s = make(small("source"), ctx)->get(0);
  CHECK(s.targets.size() == 2);
  CHECK(s.targets.count("depth") == 1);
  CHECK(s.targets.count("semseg") == 1);
  CHECK(s.masks.size() == 2);
  CHECK(s.targets.at("depth").equal(make(small("source"))->get(0).targets.at("depth")));
}

TEST_CASE("bad indices and inconsistent options are clear errors") {
  auto ds = make(small("source"));
  for (I bad : {I{16}, I{-1}}) {
    try {
      ds->get(bad);
      FAIL("no error for index " << bad);
    } catch (const s4t::DataError& e) {
      const std::string msg = e.what();
      CHECK(msg.find("index " + std::to_string(bad)) != std::string::npos);
      CHECK(msg.find("16") != std::string::npos);
    }
  }
  auto options = small("source");
  options["objects_min"] = I{6};
  options["objects_max"] = I{2};
  CHECK_THROWS_AS(make(options), s4t::ConfigError);
  options["objects_min"] = I{0};
  options["objects_max"] = I{0};
  auto empty_room = make(options)->get(0);  // no objects: floor and walls only
  CHECK(empty_room.targets.at("semseg").lt(2).all().item<bool>());
}

TEST_CASE("any resolution renders the same scene") {
  auto options = small("source");
  options["height"] = I{96};
  options["width"] = I{144};
  auto big = make(options)->get(2);
  auto little = make(small("source"))->get(2);
  // Pixel centres differ between the two grids, so compare class fractions, which another scene would not match.
  auto hist = [](const at::Tensor& semseg) { return semseg.flatten().bincount({}, 5).to(at::kFloat) / semseg.numel(); };
  CHECK((hist(big.targets.at("semseg")) - hist(little.targets.at("semseg"))).abs().max().item<float>() < 0.03f);
}

TEST_CASE("domain = auto follows the role the dataset is built for") {
  s4t::DatasetContext source_ctx, target_ctx;
  source_ctx.role = "source";
  target_ctx.role = "target";
  auto as_source = make(small("auto"), source_ctx)->get(3);
  auto as_target = make(small("auto"), target_ctx)->get(3);
  CHECK(same_sample(as_source, make(small("source"))->get(3)));
  CHECK(same_sample(as_target, make(small("target"))->get(3)));
  CHECK_FALSE(as_source.image.equal(as_target.image));
}
