// engine/compute_mode: parsing [run] precision / memory_format, the autocast scope (on, nested, restored)
// and the memory-format and fp32 conversions, on CPU.
#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "engine/compute_mode.hpp"
#include "s4t/error.hpp"
#include "s4t_testkit/doctest.hpp"

using namespace s4t;
using namespace s4t::host;

TEST_CASE("compute mode: [run] precision and memory_format parse; bad values name the key and the choices") {
  auto m = parse_compute_mode("bf16", "channels_last");
  CHECK(m.bf16);
  CHECK(m.channels_last);
  CHECK(describe(m) == "bf16, channels_last");
  m = parse_compute_mode("fp32", "contiguous");
  CHECK_FALSE(m.bf16);
  CHECK_FALSE(m.channels_last);
  CHECK_THROWS_WITH_AS(parse_compute_mode("fp16", "contiguous"), doctest::Contains("precision = \"fp16\""), ConfigError);
  CHECK_THROWS_WITH_AS(parse_compute_mode("fp32", "nhwc"), doctest::Contains("\"contiguous\" or \"channels_last\""),
                       ConfigError);
}

TEST_CASE("compute mode: the autocast scope runs linear layers in bf16 on CPU, nests, and restores the state") {
  torch::nn::Linear linear(8, 4);
  auto x = at::randn({2, 8});
  CHECK((linear->forward(x).scalar_type() == at::kFloat));
  {
    AutocastScope outer(at::Device(at::kCPU), true);
    CHECK((linear->forward(x).scalar_type() == at::kBFloat16));
    {
      AutocastScope off(at::Device(at::kCPU), false);  // disabled: changes nothing
      CHECK((linear->forward(x).scalar_type() == at::kBFloat16));
    }
    {
      AutocastScope inner(at::Device(at::kCPU), true);
      CHECK((linear->forward(x).scalar_type() == at::kBFloat16));
    }
    CHECK((linear->forward(x).scalar_type() == at::kBFloat16));  // the inner scope restored "enabled"
    CHECK((as_float(linear->forward(x)).scalar_type() == at::kFloat));
  }
  CHECK((linear->forward(x).scalar_type() == at::kFloat));
  CHECK((linear->weight.scalar_type() == at::kFloat));  // weights are never converted
}

TEST_CASE("compute mode: channels_last converts 4-D weights in place (same tensors), conv output unchanged") {
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(3, 4, 3).padding(1));
  auto x = at::randn({2, 3, 8, 8});
  auto reference = conv->forward(x).detach();
  at::Tensor weight = conv->weight;  // a handle, as an optimizer or a snapshot holds it
  to_memory_format(*conv, false);
  CHECK_FALSE(weight.is_contiguous(at::MemoryFormat::ChannelsLast));
  to_memory_format(*conv, true);
  CHECK(weight.is_contiguous(at::MemoryFormat::ChannelsLast));  // the held handle sees the new layout
  CHECK(conv->weight.is_contiguous(at::MemoryFormat::ChannelsLast));
  CHECK(conv->bias.dim() == 1);
  auto nhwc = to_memory_format(x, true);
  CHECK(nhwc.is_contiguous(at::MemoryFormat::ChannelsLast));
  CHECK(to_memory_format(x, false).is_same(x));
  CHECK(at::allclose(conv->forward(nhwc), reference, 1e-5, 1e-6));
  auto ints = at::ones({2}, at::kLong);
  CHECK((as_float(ints).scalar_type() == at::kLong));
  CHECK((as_float(at::ones({2}, at::kDouble)).scalar_type() == at::kDouble));
}
