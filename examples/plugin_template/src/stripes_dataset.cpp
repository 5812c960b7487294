// A complete dataset plugin: "stripes", procedurally generated and needing no files.
//
// Each image is a set of vertical bands of two classes ("dark", "light") on a tilted plane: semseg
// labels the bands, depth grows linearly from left to right, the normal is the plane's, and edges mark
// band borders. `brightness` shifts the appearance so a source and a target domain can differ.
#include <ATen/ATen.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include <s4t/dataset.hpp>
#include <s4t/error.hpp>
#include <s4t/option_binding.hpp>
#include <s4t/plugin.hpp>

namespace {

struct Settings {
  std::int64_t size = 32, height = 32, width = 32;
  double brightness = 0.0;
};

const s4t::Binding<Settings>& binding() {
  static const auto b =
      s4t::Binding<Settings>()
          .integer("size", &Settings::size, 32, "number of images", 1)
          .integer("height", &Settings::height, 32, "image height", 8)
          .integer("width", &Settings::width, 32, "image width", 8)
          .real("brightness", &Settings::brightness, 0.0,
                "appearance shift (use different values for source and target)", -2.0, 2.0);
  return b;
}

class Stripes final : public s4t::Dataset {
 public:
  explicit Stripes(const Settings& s) : size_(s.size), h_(s.height), w_(s.width), brightness_(s.brightness) {}

  std::int64_t size() const override { return size_; }
  std::array<std::int64_t, 2> image_size() const override { return {h_, w_}; }
  std::vector<s4t::TaskSpec> tasks() const override {
    return {s4t::semseg_task({"dark", "light"}), s4t::depth_task(), s4t::normals_task(), s4t::edge_task()};
  }
  std::string describe() const override { return "stripes, " + std::to_string(size_) + " images"; }

  // Thread-safe: everything is derived from the index.
  s4t::Sample get(std::int64_t index) const override {
    if (index < 0 || index >= size_)
      throw s4t::DataError("stripes: index " + std::to_string(index) + " out of range [0, " + std::to_string(size_) + ")");
    std::mt19937 rng(static_cast<unsigned>(index));
    const std::int64_t bands = 2 + static_cast<std::int64_t>(rng() % 4);
    auto column = at::arange(w_, at::kFloat);
    auto label = column.mul(static_cast<double>(bands) / static_cast<double>(w_)).floor().remainder(2.0).to(at::kLong);
    s4t::Sample s;
    auto semseg = label.view({1, w_}).expand({h_, w_}).contiguous();
    auto shade = semseg.to(at::kFloat).mul(0.6).add(0.2 * brightness_);
    s.image = shade.unsqueeze(0).expand({3, h_, w_}).contiguous().sub(0.5).div(0.25);
    s.targets["semseg"] = semseg;
    s.targets["depth"] = column.div(static_cast<double>(w_)).add(1.0).view({1, 1, w_}).expand({1, h_, w_}).contiguous();
    s.targets["normals"] = at::tensor({-0.447f, 0.0f, 0.894f}).view({3, 1, 1}).expand({3, h_, w_}).contiguous();
    auto border = semseg.narrow(1, 1, w_ - 1).ne(semseg.narrow(1, 0, w_ - 1)).to(at::kFloat);
    s.targets["edge"] = at::cat({at::zeros({h_, 1}), border}, 1).unsqueeze(0);
    for (auto& [name, t] : s.targets) s.masks[name] = at::ones({1, h_, w_}, at::kBool);
    return s;
  }

 private:
  std::int64_t size_, h_, w_;
  double brightness_;
};

void register_components(s4t::Registrar& registrar) {
  s4t::ComponentInfo info;
  info.name = "stripes";
  info.summary = "procedural striped planes with consistent semseg/depth/normals/edge labels";
  info.schema = binding().schema();
  registrar.add_dataset(info, [](const s4t::DatasetContext&, const s4t::Options& o) {
    return std::make_shared<Stripes>(binding().read(o));
  });
}

}  // namespace

S4T_PLUGIN("example.stripes", "1.0.0", register_components)
