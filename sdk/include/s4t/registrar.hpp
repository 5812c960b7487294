#pragma once
// How a plugin adds its components. The host implements Registrar; a plugin's register function
// (see plugin.hpp) calls add_*() once per component it offers.
#include <functional>
#include <memory>
#include <string>

#include "s4t/backbone.hpp"
#include "s4t/context.hpp"
#include "s4t/dataset.hpp"
#include "s4t/export.hpp"
#include "s4t/features.hpp"
#include "s4t/head.hpp"
#include "s4t/method.hpp"
#include "s4t/options.hpp"
#include "s4t/task.hpp"

namespace s4t {

enum class ComponentKind { Backbone, Head, Method, Dataset };
S4T_API std::string to_string(ComponentKind kind);

/// Public description of a component: shown by `s4t plugins` and `s4t plugins show NAME`.
struct S4T_API ComponentInfo {
  std::string name;      ///< unique within its kind, used in TOML (e.g. "resnet", "s4t")
  std::string version;   ///< component version, e.g. "1.0.0"
  std::string summary;   ///< one line
  std::string doc;       ///< longer text: behaviour, decisions taken where the paper is silent
  Schema schema;         ///< options accepted in TOML
};

using BackboneFactory = std::function<std::shared_ptr<Backbone>(const BuildContext&, const Options&)>;
using HeadFactory = std::function<std::shared_ptr<TaskHead>(const BuildContext&, const TaskSpec& task,
                                                            const FeatureInfo& features, const Options&)>;
using MethodFactory = std::function<std::shared_ptr<TTTMethod>(const BuildContext&, const Options&)>;
using DatasetFactory = std::function<std::shared_ptr<Dataset>(const DatasetContext&, const Options&)>;

/// Implemented by the host. A factory may throw (PluginError, ConfigError, c10::Error); the host
/// reports it with the component and file names.
class S4T_API Registrar {
 public:
  virtual ~Registrar();
  virtual void add_backbone(ComponentInfo info, BackboneFactory factory) = 0;
  virtual void add_head(ComponentInfo info, HeadFactory factory) = 0;
  virtual void add_method(ComponentInfo info, MethodFactory factory) = 0;
  virtual void add_dataset(ComponentInfo info, DatasetFactory factory) = 0;
};

}  // namespace s4t
