#pragma once
// Every component the loaded plugins offer, by kind and name, with the file it came from, and every
// plugin file that failed to load and why. Implements the SDK's Registrar for one plugin at a time.
#include <memory>
#include <string>
#include <vector>

#include "s4t/registrar.hpp"

namespace s4t::host {

struct RegisteredComponent {
  ComponentKind kind;
  ComponentInfo info;
  std::string file;             ///< shared library that registered it ("<builtin>" for in-process ones)
  std::string plugin_id;
  std::string plugin_version;
  std::shared_ptr<void> library;  ///< keeps the library mapped while anything it made is alive
  MethodTraits method_traits;     ///< methods only: declared at registration
  BackboneFactory backbone;
  HeadFactory head;
  MethodFactory method;
  DatasetFactory dataset;
};

struct LoadFailure {
  std::string file;
  std::string reason;
};

/// A component a refused plugin offered (so a config asking for it hears why it is missing).
struct RefusedComponent {
  ComponentKind kind;
  std::string name, file, reason;
};

/// Empty when `name` may name a component, else a sentence saying what is wrong.
std::string component_name_problem(const std::string& name);

class ComponentRegistry {
 public:
  /// Adds the components staged by one plugin; a name already registered by another file is a
  /// failure naming both files, and none of that plugin's components are added.
  void commit(std::vector<RegisteredComponent> staged, const std::string& file);
  void add_failure(std::string file, std::string reason);

  const RegisteredComponent* find(ComponentKind kind, const std::string& name) const;
  /// Like find(), but throws ConfigError listing the valid names and the closest one.
  const RegisteredComponent& get(ComponentKind kind, const std::string& name, const std::string& where = {}) const;
  std::vector<const RegisteredComponent*> of_kind(ComponentKind kind) const;
  std::vector<std::string> names(ComponentKind kind) const;
  const std::vector<RegisteredComponent>& all() const { return components_; }
  const std::vector<LoadFailure>& failures() const { return failures_; }
  bool has_file(const std::string& file) const;
  /// Traits of a registered method (throws ConfigError like get() for an unknown name).
  const MethodTraits& method_traits(const std::string& name) const;
  /// "base" for methods that neither change source training nor add post-training work (they adapt the
  /// shared Base checkpoint), else the method's own name: the folder of its source checkpoint.
  std::string source_key(const std::string& method_name) const;
  /// "method 's4t' (/path/to/s4t.so)": how errors name a component.
  std::string label(ComponentKind kind, const std::string& name) const;
  /// Records the components of a plugin that registered but was refused afterwards.
  void add_refusal(ComponentKind kind, std::string name, std::string file, std::string reason);

  // Factories, wrapped: exceptions become PluginError naming the component and its file, and every
  // object returned keeps its library alive.
  std::shared_ptr<Backbone> make_backbone(const std::string& name, const BuildContext& ctx, const Options& o) const;
  std::shared_ptr<TaskHead> make_head(const std::string& name, const BuildContext& ctx, const TaskSpec& task,
                                      const FeatureInfo& features, const Options& o) const;
  std::shared_ptr<TTTMethod> make_method(const std::string& name, const BuildContext& ctx, const Options& o) const;
  std::shared_ptr<Dataset> make_dataset(const std::string& name, const DatasetContext& ctx, const Options& o) const;

 private:
  std::vector<RegisteredComponent> components_;
  std::vector<LoadFailure> failures_;
  std::vector<RefusedComponent> refused_;
  std::vector<std::string> files_;
};

/// Registrar that collects one plugin's components before they are committed.
class StagingRegistrar final : public Registrar {
 public:
  StagingRegistrar(std::string file, std::string plugin_id, std::string plugin_version, std::shared_ptr<void> library);
  void add_backbone(ComponentInfo info, BackboneFactory factory) override;
  void add_head(ComponentInfo info, HeadFactory factory) override;
  void add_method(ComponentInfo info, MethodTraits traits, MethodFactory factory) override;
  void add_dataset(ComponentInfo info, DatasetFactory factory) override;
  std::vector<RegisteredComponent> take() { return std::move(staged_); }

 private:
  RegisteredComponent base(ComponentKind kind, ComponentInfo info);
  std::string file_, plugin_id_, plugin_version_;
  std::shared_ptr<void> library_;
  std::vector<RegisteredComponent> staged_;
};

}  // namespace s4t::host
