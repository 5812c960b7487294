// Fuzz target: the TOML / config layer (host/src/config/config_tree.cpp, and experiment.cpp's
// validation against the host's schemas and the components' schemas).
//
// Contract (config/config_tree.hpp, config/experiment.hpp): ConfigTree::parse and validate_experiment
// accept a text or throw s4t::ConfigError naming the file:line:col and the key. Anything else is a
// finding: a crash, an ASan/UBSan report, another exception type escaping (toml++'s own
// toml::parse_error, std::out_of_range, std::bad_variant_access, ...).
// Property of an accepted experiment: what a run directory stores as config.toml (resolved().to_toml())
// parses and validates again to the same resolved config ("what is written is what runs").
//
// The components are stand-ins registered without plugins (no LibTorch models are built): the names the
// shipped configs/ use, each with the option keys those configs set, so the seed corpus (configs/*.toml)
// validates and mutations explore past the table checks. `extends` is dropped as ConfigTree::load does
// after following it (this target reads one file, never the file system).
#include <filesystem>

#include "config/config_tree.hpp"
#include "config/experiment.hpp"
#include "fuzz_support.hpp"
#include "plugins/component_registry.hpp"
#include "s4t/error.hpp"

namespace {
using s4t::ComponentKind;
using s4t::Schema;

Schema backbone_schema() {
  Schema s;
  s.add_int("depth", 18, "depth", 1, 200).add_int("width", 64, "width", 1, 4096).add_bool("fused", false, "fused");
  s.add_float("bn_momentum", 0.1, "momentum", 0.0, 1.0).add_string("pretrained", "", "weights file");
  s.add_int_list("channels", {}, "channels", 1, 4096);
  return s;
}

Schema dataset_schema() {
  Schema s;
  for (auto key : {"size", "height", "width", "crop_height", "crop_width", "seed", "severity"})
    s.add_int(key, 8, key, 0, 1 << 20);
  for (auto key : {"root", "split", "split_file", "classes", "augment_draws", "corruption", "domain"}) s.add_string(key, "", key);
  s.add_float("test_fraction", 0.1, "fraction", 0.0, 1.0);
  return s;
}

Schema s4t_schema() {
  Schema s;
  s.add_bool("auto_weight", false, "auto").add_int("patch_size", 16, "patch", 1, 512).add_int("tbs_input_res", 256, "res", 1, 4096);
  for (auto key : {"lambda_tbs", "lambda_tbs_source", "lambda_tp", "mask_ratio"}) s.add_float(key, 0.01, key, 0.0, 100.0);
  return s;
}

const s4t::host::ComponentRegistry& stand_in_registry() {
  static const s4t::host::ComponentRegistry registry = [] {
    std::vector<s4t::host::RegisteredComponent> staged;
    auto add = [&](ComponentKind kind, const std::string& name, Schema schema) {
      s4t::host::RegisteredComponent c;
      c.kind = kind;
      c.info.name = name;
      c.info.schema = std::move(schema);
      c.file = "<fuzz stand-in>";
      staged.push_back(std::move(c));
    };
    add(ComponentKind::Backbone, "resnet", backbone_schema());
    add(ComponentKind::Backbone, "mtinet", backbone_schema());
    add(ComponentKind::Head, "conv1x1", Schema{});
    for (auto name : {"synthetic", "nyudv2", "pascal_context", "taskonomy"}) add(ComponentKind::Dataset, name, dataset_schema());
    add(ComponentKind::Method, "s4t", s4t_schema());
    for (auto name : {"none", "tent", "tipi", "ttt", "tttpp", "tttflow", "clust3", "actmad", "ncttt"})
      add(ComponentKind::Method, name, Schema{});
    s4t::host::ComponentRegistry r;
    r.commit(std::move(staged), "<fuzz stand-in>");
    return r;
  }();
  return registry;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace s4t::host;
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto base_dir = s4t::fuzz::scratch_dir();
  std::string written;
  try {
    ConfigTree tree = ConfigTree::parse(text, "fuzz.toml", base_dir);
    tree.erase("extends");
    written = validate_experiment(tree, stand_in_registry()).resolved().to_toml();
  } catch (const s4t::ConfigError& e) {
    s4t::fuzz::note(std::string("refused: ") + e.what());
    return 0;
  }
  s4t::fuzz::note("accepted");
  // No catch: a stored config that does not load again is a finding.
  const auto again = validate_experiment(ConfigTree::parse(written, "config.toml", base_dir), stand_in_registry());
  if (again.resolved().to_toml() != written) s4t::fuzz::broken("resolved config does not round-trip:\n" + written);
  return 0;
}
