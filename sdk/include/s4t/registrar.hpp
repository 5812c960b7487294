#pragma once
// How a plugin adds its components. The host implements Registrar; a plugin's register function
// (see plugin.hpp) calls add_*() once per component it offers.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

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
  /// Unique within its kind, used in TOML and as a folder name of run directories: 1-64 characters of
  /// [a-z0-9_-], starting with a letter. The host refuses other names at registration.
  std::string name;
  /// Component version; empty = the plugin's version (S4T_PLUGIN's second argument).
  std::string version;
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
  virtual void add_method(ComponentInfo info, MethodTraits traits, MethodFactory factory) = 0;
  virtual void add_dataset(ComponentInfo info, DatasetFactory factory) = 0;
};

/// The traits of method type M, read from its type: a method changes source training exactly when it
/// (or a base class between it and TTTMethod) declares source_objective, and has post-training work
/// exactly when it declares after_source_training. Nothing is built to find out.
template <class M>
constexpr MethodTraits method_traits_of() {
  static_assert(std::is_base_of_v<TTTMethod, M>, "M must derive from s4t::TTTMethod");
  using SourceObjective = at::Tensor (TTTMethod::*)(MultiTaskModel&, const Batch&, const ModelOutput&,
                                                    const std::map<std::string, at::Tensor>&);
  using AfterSourceTraining = void (TTTMethod::*)(MultiTaskModel&, BatchStream&);
  MethodTraits t;
  t.source_objective = !std::is_same_v<decltype(&M::source_objective), SourceObjective>;
  t.post_training = !std::is_same_v<decltype(&M::after_source_training), AfterSourceTraining>;
  return t;
}

/// Registers method type M; `factory(const BuildContext&, const Options&)` returns std::shared_ptr<M>.
template <class M, class Factory>
void add_method(Registrar& registrar, ComponentInfo info, Factory&& factory) {
  registrar.add_method(std::move(info), method_traits_of<M>(),
                       [f = std::forward<Factory>(factory)](const BuildContext& ctx, const Options& o)
                           -> std::shared_ptr<TTTMethod> { return f(ctx, o); });
}

}  // namespace s4t
