// Target streams ([ttt] stream / domains / reset, docs/streams.md) through the adapter on tiny synthetic
// data: the order of the domains and their results, when the weights return to the source's, the mixed
// and gradual layouts, metrics.json round trips, the stream table, and the configurations refused.
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "config/experiment.hpp"
#include "drift_runs.hpp"
#include "engine/adapter.hpp"
#include "evaluation/metrics.hpp"
#include "report/stream_table.hpp"
#include "s4t/error.hpp"
#include "s4t_testkit/doctest.hpp"

using namespace s4t;
using namespace s4t::host;

namespace {

const std::string kThree = "domains = [\"gaussian_noise:3\", \"fog:2\", \"contrast:4\"]\n";

struct Fixture : test::DriftRuns {
  // Source and target 32x32; each target domain has 8 images, in batches of 4. `ttt` is appended to
  // [ttt], `extra` after everything (tables).
  Experiment experiment(const std::string& ttt, int steps = 2, const std::string& extra = "") {
    auto tree = ConfigTree::parse(
        "[run]\nname = \"streams\"\noutput_dir = \"" + (dir.path() / "runs").string() +
            "\"\nprogress = false\n[backbone.resnet]\ndepth = 18\nwidth = 4\n"
            "[data.source]\ndataset = \"synthetic\"\nsize = 8\nheight = 32\nwidth = 32\n"
            "[data.target]\ndataset = \"synthetic\"\ndomain = \"source\"\nsize = 8\nheight = 32\nwidth = 32\n"
            "[data]\nworkers = 0\n[train]\niterations = 2\nbatch = 4\n[ttt]\nmethod = \"drift\"\nsteps = " +
            std::to_string(steps) + "\nbatch = 4\naffinity = false\n" + ttt + extra,
        "streams.toml");
    return validate_experiment(tree, registry);
  }
  Trajectory adapt_with(const std::string& ttt, int steps = 2, const std::string& extra = "") {
    return adapt_drift(experiment(ttt, steps, extra));
  }
};

std::vector<std::string> labels(const Trajectory& tr) {
  std::vector<std::string> out;
  for (auto& g : tr.stream.groups) out.push_back(g.label);
  return out;
}
}  // namespace

TEST_CASE("a continual stream goes through the domains in order and reports each one") {
  Fixture f;
  auto tr = f.adapt_with("stream = \"continual\"\nreset = \"never\"\n" + kThree);
  CHECK(tr.stream.kind == "continual");
  CHECK(tr.stream.reset == "never");
  CHECK(labels(tr) == std::vector<std::string>{"gaussian_noise:3", "fog:2", "contrast:4"});
  CHECK(tr.images == 24);
  CHECK(tr.batches == 6);
  REQUIRE(tr.stream.batches.size() == 6);
  std::vector<std::size_t> order;
  for (auto& b : tr.stream.batches) order.push_back(b.group);
  CHECK(order == std::vector<std::size_t>{0, 0, 1, 1, 2, 2});
  for (auto& g : tr.stream.groups) {
    CHECK(g.images == 8);
    CHECK(g.batches == 2);
    REQUIRE(g.values.size() == tr.steps.size());
    CHECK(g.delta.front() == 0.0);
  }
  // Three different corruptions of the same images: three different Base metrics.
  CHECK(tr.stream.groups[0].values[0] != tr.stream.groups[1].values[0]);
  CHECK(tr.stream.groups[1].values[0] != tr.stream.groups[2].values[0]);
}

TEST_CASE("reset decides when the weights return to the source's") {
  Fixture f;
  // Steps = 0 never adapts: each batch's metrics of the source model.
  auto source = f.adapt_with("stream = \"continual\"\nreset = \"never\"\n" + kThree, 0);
  auto before = [](const Trajectory& tr, size_t b) { return tr.stream.batches.at(b).before; };
  auto per_batch = f.adapt_with("stream = \"continual\"\nreset = \"per_batch\"\n" + kThree);
  auto per_domain = f.adapt_with("stream = \"continual\"\nreset = \"per_domain\"\n" + kThree);
  auto never = f.adapt_with("stream = \"continual\"\nreset = \"never\"\n" + kThree);
  for (size_t b = 0; b < 6; ++b) {
    CAPTURE(b);
    CHECK(before(per_batch, b) == before(source, b));                    // every batch starts from the source
    CHECK((before(per_domain, b) == before(source, b)) == (b % 2 == 0));  // the first batch of each domain does
    CHECK((before(never, b) == before(source, b)) == (b == 0));          // only the very first batch does
    CHECK(per_batch.stream.batches[b].after != per_batch.stream.batches[b].before);  // and adapting moved it
  }
  // reset = "protocol" follows [ttt] protocol: episodic resets per batch, online never.
  auto episodic = f.adapt_with("stream = \"continual\"\nprotocol = \"episodic\"\n" + kThree);
  auto online = f.adapt_with("stream = \"continual\"\nprotocol = \"online\"\n" + kThree);
  CHECK(episodic.stream.reset == "per_batch");
  CHECK(episodic.values == per_batch.values);
  CHECK(online.stream.reset == "never");
  CHECK(online.values == never.values);
  // A single stream with an explicit reset is the protocol it names.
  CHECK(f.adapt_with("reset = \"never\"\n").values == f.adapt_with("protocol = \"online\"\n").values);
  CHECK(f.adapt_with("reset = \"per_batch\"\nprotocol = \"online\"\n").values == f.adapt_with("protocol = \"episodic\"\n").values);
  CHECK_FALSE(f.adapt_with("protocol = \"online\"\n").stream.active());  // single: no stream record
}

TEST_CASE("a mixed stream shuffles the domains together and scores each image with its own domain") {
  Fixture f;
  auto tr = f.adapt_with("stream = \"mixed\"\nreset = \"never\"\n" + kThree);
  CHECK(labels(tr) == std::vector<std::string>{"gaussian_noise:3", "fog:2", "contrast:4"});
  CHECK(tr.images == 24);
  CHECK(tr.batches == 6);
  std::int64_t images = 0, batch_parts = 0;
  for (auto& g : tr.stream.groups) {
    CHECK(g.images == 8);  // each image once, in its own domain's result
    images += g.images;
    batch_parts += g.batches;
  }
  CHECK(images == 24);
  CHECK(batch_parts > 6);  // some batches hold images of more than one domain
  // Not the continual order: the first batch is not all of the first domain.
  auto continual = f.adapt_with("stream = \"continual\"\nreset = \"never\"\n" + kThree);
  CHECK(tr.stream.batches[0].before != continual.stream.batches[0].before);
  // Same seed, same order.
  CHECK(f.adapt_with("stream = \"mixed\"\nreset = \"never\"\n" + kThree).values == tr.values);
}

TEST_CASE("a gradual stream walks each corruption through severities 1 to 5 and back") {
  Fixture f;
  auto tr = f.adapt_with("stream = \"gradual\"\nreset = \"per_domain\"\ndomains = [\"fog:5\", \"contrast\"]\nmax_batches = 1\n", 1);
  const std::vector<std::string> expected{"fog@1", "fog@2", "fog@3", "fog@4", "fog@5", "fog@4", "fog@3", "fog@2", "fog@1",
                                          "contrast@1", "contrast@2", "contrast@3", "contrast@4", "contrast@5",
                                          "contrast@4", "contrast@3", "contrast@2", "contrast@1"};
  CHECK(labels(tr) == expected);
  CHECK(tr.batches == 18);  // max_batches = 1 per segment
  // The same severity is the same images: equal Base metrics at fog@2 on the way up and down.
  auto& g = tr.stream.groups;
  auto source = f.adapt_with("stream = \"gradual\"\nreset = \"per_batch\"\ndomains = [\"fog:5\", \"contrast\"]\nmax_batches = 1\n", 0);
  CHECK(source.stream.groups[1].values[0] == source.stream.groups[7].values[0]);
  CHECK(source.stream.groups[0].values[0] != source.stream.groups[4].values[0]);  // severity 1 vs 5
  // per_domain resets when the corruption changes, not when the severity does.
  CHECK(g[9].values[0] == source.stream.groups[9].values[0]);
  CHECK(g[1].values[0] != source.stream.groups[1].values[0]);
}

TEST_CASE("a [domain.<name>] table overrides [data.target] for that domain") {
  Fixture f;
  auto tr = f.adapt_with("stream = \"continual\"\ndomains = [\"plain\", \"shifted\", \"fog:3\"]\n", 1,
                         "[domain.plain]\ncorruption = \"none\"\n[domain.shifted]\ndomain = \"target\"\n"
                         "shifts = [\"lighting\"]\n");
  CHECK(labels(tr) == std::vector<std::string>{"plain", "shifted", "fog:3"});
  CHECK(tr.stream.groups[0].values[0] != tr.stream.groups[1].values[0]);
  // The resolved config names every domain as a table.
  auto x = f.experiment("stream = \"continual\"\ndomains = [\"plain\", \"fog:3\"]\n", 1, "[domain.plain]\nseverity = 2\n");
  auto resolved = x.resolved();
  CHECK(resolved.has("domain.fog:3.corruption"));
  CHECK(to_string(resolved.find("domain.fog:3.severity")->value) == "3");
  CHECK(to_string(resolved.find("domain.plain.severity")->value) == "2");
  CHECK(to_string(resolved.find("domain.plain.dataset")->value) == "\"synthetic\"");
}

TEST_CASE("metrics.json keeps the stream, and the stream table compares against the Base per domain") {
  Fixture f;
  auto tr = f.adapt_with("stream = \"continual\"\nreset = \"never\"\n" + kThree);
  auto back = Trajectory::from_json(tr.to_json());
  REQUIRE(back.stream.groups.size() == 3);
  CHECK(back.stream.kind == "continual");
  CHECK(back.stream.groups[2].label == "contrast:4");
  CHECK(back.stream.groups[2].values == tr.stream.groups[2].values);
  REQUIRE(back.stream.batches.size() == 6);
  CHECK(back.stream.batches[5].after == tr.stream.batches[5].after);
  CHECK(back.stream.batches[5].group == 2);

  auto base = f.adapt_with("stream = \"continual\"\nreset = \"never\"\n" + kThree, 0);  // the un-adapted model
  auto table = build_stream_table({"none", "drift"}, {{"none", {base}}, {"drift", {tr}}});
  CHECK(table.base == "none");
  CHECK(table.methods == std::vector<std::string>{"drift"});
  REQUIRE(table.mean.size() == 4);  // three domains and the whole stream
  std::vector<bool> higher;
  for (auto& t : tr.tasks) higher.push_back(t.higher_is_better);
  CHECK(table.mean[1][0] == doctest::Approx(delta_ttt(base.stream.groups[1].values[0], tr.stream.groups[1].values.back(), higher)));
  CHECK(table.markdown().find("| fog:2 |") != std::string::npos);
  REQUIRE(table.curve.size() == 1);
  CHECK(table.curve[0].size() == 6);
  CHECK(table.curve_group == std::vector<std::size_t>{0, 0, 1, 1, 2, 2});
  // Without the Base runs, each domain is compared with the method's own step 0.
  CHECK(build_stream_table({"drift"}, {{"drift", {tr}}}).base == "step0");
  CHECK(build_stream_table({"drift"}, {{"drift", {f.adapt_with("")}}}).empty());  // a single stream has none
}

TEST_CASE("streams refuse what they cannot run, naming the key") {
  Fixture f;
  auto refused = [&](const std::string& ttt, const std::string& needle, const std::string& extra = "") {
    CAPTURE(ttt);
    CHECK_THROWS_WITH_AS(f.experiment(ttt, 2, extra), doctest::Contains(needle.c_str()), ConfigError);
  };
  refused(kThree, "stream is \"single\"");
  refused("stream = \"continual\"\n", "needs [ttt] domains");
  refused("stream = \"mixed\"\nreset = \"per_domain\"\n" + kThree, "no new domain to reset at");
  refused("stream = \"mixed\"\ndomains = [\"fog:2\", \"fog:2\"]\n", "lists 'fog:2' twice");
  refused("stream = \"continual\"\ndomains = [\"fog:x\"]\n", "must be a whole number");
  refused("stream = \"continual\"\ndomains = [\"fgo:3\"]\n", "domain 'fgo:3'");
  refused("stream = \"continual\"\ndomains = [\"fog:9\"]\n", "domain 'fog:9'");
  refused("stream = \"continual\"\ndomains = [\"a.b\"]\n", "not a domain name");
  refused("stream = \"gradual\"\ndomains = [\"plain\"]\n", "has no corruption", "[domain.plain]\nsize = 4\n");
  refused("stream = \"continual\"\nprotocol = \"single_batch_then_eval\"\n" + kThree, "single_batch_then_eval");
  refused("stream = \"continual\"\nselect = \"validation\"\nvalidation_size = 2\n" + kThree, "not available over a stream");
  refused("stream = \"continual\"\n" + kThree, "is not a domain of [ttt] domains", "[domain.unused]\nsize = 4\n");
  refused("stream = \"continual\"\ndomains = [\"plain\"]\n", "unknown key 'sizee'", "[domain.plain]\nsizee = 4\n");
  refused("stream = \"continual\"\ndomains = [\"night\"]\n", "corruption", "");  // neither a table nor a corruption
}
