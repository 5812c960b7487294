// The resnet backbone plugin: torchvision names and parameter counts, Python state dicts, features.
#include <ATen/ATen.h>
#include "s4t_testkit/doctest.hpp"
#include <torch/nn/module.h>

#include "host_registry.hpp"
#include "s4t/state_dict.hpp"
#include "test_support.hpp"

using namespace s4t;
using namespace s4t::host;

namespace {
std::shared_ptr<Backbone> make(int depth, std::int64_t width, std::array<std::int64_t, 2> train = {64, 64},
                               const std::string& pretrained = "") {
  auto o = test::component_options(ComponentKind::Backbone, "resnet",
                                   {{"depth", Value(std::int64_t{depth})}, {"width", Value(width)}, {"pretrained", Value(pretrained)}});
  BuildContext ctx;
  ctx.train_size = train;
  return test::plugin_registry().make_backbone("resnet", ctx, o);
}
std::int64_t count(torch::nn::Module& m) {
  std::int64_t n = 0;
  for (auto& p : m.parameters()) n += p.numel();
  return n;
}
}  // namespace

TEST_CASE("ResNet-50 has torchvision's parameter count and names") {
  auto r50 = make(50, 64);
  CHECK(count(*r50->module()) == 23508032);  // torchvision resnet50 without fc
  auto state = state_dict_of(*r50->module());
  CHECK(state.count("conv1.weight") == 1);
  CHECK(state.count("layer1.0.downsample.0.weight") == 1);
  CHECK(state.count("layer1.0.downsample.1.running_mean") == 1);
  CHECK(state.count("layer4.2.bn3.num_batches_tracked") == 1);
  auto info = r50->info();
  CHECK(info.fused_channels == 3840);
  CHECK(info.stage_strides() == std::vector<std::int64_t>{4, 8, 16, 32});
  CHECK(info.stage_channels() == std::vector<std::int64_t>{256, 512, 1024, 2048});
  CHECK(count(*make(18, 64)->module()) == 11176512);  // torchvision resnet18 without fc
}

TEST_CASE("the stages name the parameters that compute them: every parameter in exactly one stage") {
  auto net = make(18, 8);
  auto info = net->info();
  REQUIRE(info.stages.size() == 4);
  CHECK(info.stages[0].parameter_prefixes == std::vector<std::string>{"conv1.", "bn1.", "layer1."});
  CHECK(info.stages[3].parameter_prefixes == std::vector<std::string>{"layer4."});
  for (auto& p : net->module()->named_parameters(true)) {
    int stages = 0;
    for (auto& stage : info.stages)
      for (auto& prefix : stage.parameter_prefixes) stages += p.key().rfind(prefix, 0) == 0 ? 1 : 0;
    CHECK_MESSAGE(stages == 1, p.key());
  }
}

TEST_CASE("stages, fused map at train size / 4, and recorded norm outputs") {
  auto net = make(18, 8, {64, 64});
  ForwardOptions fo;
  fo.record_norm_outputs = true;
  auto f = net->forward(at::randn({2, 3, 96, 64}), fo);  // test image larger than the train size
  REQUIRE(f.stages.size() == 4);
  CHECK(f.stages[0].sizes().vec() == std::vector<std::int64_t>{2, 8, 24, 16});
  CHECK(f.stages[3].sizes().vec() == std::vector<std::int64_t>{2, 64, 3, 2});
  CHECK(f.fused.sizes().vec() == std::vector<std::int64_t>{2, 8 + 16 + 32 + 64, 16, 16});
  CHECK(f.norm_outputs.size() == 1 + 8 * 2 + 3);  // stem + 2 per basic block + 3 downsample BNs
}

TEST_CASE("a torchvision state dict written in torch.save format loads through `pretrained`") {
  test::TempDir dir;
  auto src = make(18, 8);
  StateDict state;
  for (auto& [k, v] : state_dict_of(*src->module())) state[k] = at::randn_like(v.to(at::kFloat)).to(v.dtype());
  state["fc.weight"] = at::randn({10, 64});  // torchvision's classifier is ignored
  state["fc.bias"] = at::randn({10});
  write_state_dict(dir.path() / "r18.pth", state);
  auto loaded = make(18, 8, {64, 64}, (dir.path() / "r18.pth").string());
  auto got = state_dict_of(*loaded->module());
  CHECK(at::equal(got.at("layer2.1.conv2.weight"), state.at("layer2.1.conv2.weight")));
  CHECK(at::equal(got.at("bn1.running_var"), state.at("bn1.running_var")));
  state.erase("layer3.0.conv1.weight");
  write_state_dict(dir.path() / "broken.pth", state);
  CHECK_THROWS_WITH(make(18, 8, {64, 64}, (dir.path() / "broken.pth").string()), doctest::Contains("layer3.0.conv1.weight"));
}
