#include "plugins/component_registry.hpp"

#include <c10/util/Exception.h>

#include <algorithm>

#include "engine/plugin_call.hpp"
#include "s4t/error.hpp"
#include "util/closest_match.hpp"

namespace s4t::host {

std::string component_name_problem(const std::string& name) {
  // Names become TOML table names and folder names of run directories: keep them to a safe alphabet.
  auto ok = [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'; };
  const bool valid = !name.empty() && name.size() <= 64 && name[0] >= 'a' && name[0] <= 'z' &&
                     std::all_of(name.begin(), name.end(), ok);
  if (valid) return {};
  return "name '" + name + "' is invalid: expected 1-64 characters of [a-z0-9_-] starting with a letter";
}

void ComponentRegistry::commit(std::vector<RegisteredComponent> staged, const std::string& file) {
  auto refuse = [&](const std::string& reason) {
    add_failure(file, reason);
    for (auto& c : staged) add_refusal(c.kind, c.info.name, file, reason);
  };
  for (size_t i = 0; i < staged.size(); ++i) {
    auto& c = staged[i];
    if (auto problem = component_name_problem(c.info.name); !problem.empty())
      return refuse("registers a " + to_string(c.kind) + " whose " + problem + "; this plugin was not loaded");
    const RegisteredComponent* clash = find(c.kind, c.info.name);
    for (size_t j = 0; j < i && !clash; ++j)
      if (staged[j].kind == c.kind && staged[j].info.name == c.info.name) clash = &staged[j];
    if (clash)
      return refuse("duplicate " + to_string(c.kind) + " '" + c.info.name + "': already registered by " + clash->file +
                    "; this plugin (" + file + ") was not loaded");
  }
  for (auto& c : components_)
    if (!c.plugin_id.empty() && !staged.empty() && c.plugin_id == staged.front().plugin_id)
      return refuse("plugin id '" + c.plugin_id + "' is already loaded from " + c.file +
                    "; two copies of one plugin cannot be loaded together");
  for (auto& c : staged) components_.push_back(std::move(c));
  files_.push_back(file);
}

void ComponentRegistry::add_failure(std::string file, std::string reason) {
  failures_.push_back({std::move(file), std::move(reason)});
}

bool ComponentRegistry::has_file(const std::string& file) const {
  return std::find(files_.begin(), files_.end(), file) != files_.end();
}

const RegisteredComponent* ComponentRegistry::find(ComponentKind kind, const std::string& name) const {
  for (auto& c : components_)
    if (c.kind == kind && c.info.name == name) return &c;
  return nullptr;
}

std::vector<const RegisteredComponent*> ComponentRegistry::of_kind(ComponentKind kind) const {
  std::vector<const RegisteredComponent*> out;
  for (auto& c : components_)
    if (c.kind == kind) out.push_back(&c);
  return out;
}

std::vector<std::string> ComponentRegistry::names(ComponentKind kind) const {
  std::vector<std::string> out;
  for (auto* c : of_kind(kind)) out.push_back(c->info.name);
  std::sort(out.begin(), out.end());
  return out;
}

const MethodTraits& ComponentRegistry::method_traits(const std::string& name) const {
  return get(ComponentKind::Method, name).method_traits;
}

std::string ComponentRegistry::source_key(const std::string& method_name) const {
  const auto& t = method_traits(method_name);
  return t.source_objective || t.post_training ? method_name : "base";
}

std::string ComponentRegistry::label(ComponentKind kind, const std::string& name) const {
  const auto* c = find(kind, name);
  return to_string(kind) + " '" + name + "' (" + (c ? c->file : std::string("not loaded")) + ")";
}

void ComponentRegistry::add_refusal(ComponentKind kind, std::string name, std::string file, std::string reason) {
  refused_.push_back({kind, std::move(name), std::move(file), std::move(reason)});
}

const RegisteredComponent& ComponentRegistry::get(ComponentKind kind, const std::string& name,
                                                  const std::string& where) const {
  if (auto* c = find(kind, name)) return *c;
  auto valid = names(kind);
  std::string msg = (where.empty() ? "" : where + ": ") + "unknown " + to_string(kind) + " '" + name + "'";
  for (auto& r : refused_)  // the plugin that offers it was refused: say why, not just "unknown"
    if (r.kind == kind && r.name == name)
      throw ConfigError(msg + "; it is offered by " + r.file + ", which was refused: " + r.reason);
  msg += valid.empty() ? "; no " + to_string(kind) + " plugin was loaded (see `s4t plugins`)"
                       : "; valid " + to_string(kind) + "s: " + join(valid) + did_you_mean(name, valid);
  throw ConfigError(msg);
}

namespace {
template <typename T, typename F>
std::shared_ptr<T> guarded(const RegisteredComponent& c, F&& make) {
  const std::string who = to_string(c.kind) + " '" + c.info.name + "' (" + c.file + ")";
  std::shared_ptr<T> object = call_plugin(who, "its factory", {}, make);
  if (!object) throw PluginError(who + ": factory returned nothing");
  // Aliasing pointer: owns the object and the library handle together.
  auto library = c.library;
  auto holder = std::shared_ptr<std::pair<std::shared_ptr<void>, std::shared_ptr<T>>>(
      new std::pair<std::shared_ptr<void>, std::shared_ptr<T>>(library, object),
      [](auto* p) {
        p->second.reset();  // destroy the object while its code is still mapped
        delete p;
      });
  return std::shared_ptr<T>(holder, object.get());
}
}  // namespace

std::shared_ptr<Backbone> ComponentRegistry::make_backbone(const std::string& name, const BuildContext& ctx,
                                                           const Options& o) const {
  auto& c = get(ComponentKind::Backbone, name);
  return guarded<Backbone>(c, [&] { return c.backbone(ctx, o); });
}
std::shared_ptr<TaskHead> ComponentRegistry::make_head(const std::string& name, const BuildContext& ctx,
                                                       const TaskSpec& task, const FeatureInfo& features,
                                                       const Options& o) const {
  auto& c = get(ComponentKind::Head, name);
  return guarded<TaskHead>(c, [&] { return c.head(ctx, task, features, o); });
}
std::shared_ptr<TTTMethod> ComponentRegistry::make_method(const std::string& name, const BuildContext& ctx,
                                                          const Options& o) const {
  auto& c = get(ComponentKind::Method, name);
  return guarded<TTTMethod>(c, [&] { return c.method(ctx, o); });
}
std::shared_ptr<Dataset> ComponentRegistry::make_dataset(const std::string& name, const DatasetContext& ctx,
                                                         const Options& o) const {
  auto& c = get(ComponentKind::Dataset, name);
  return guarded<Dataset>(c, [&] { return c.dataset(ctx, o); });
}

StagingRegistrar::StagingRegistrar(std::string file, std::string plugin_id, std::string plugin_version,
                                   std::shared_ptr<void> library)
    : file_(std::move(file)), plugin_id_(std::move(plugin_id)), plugin_version_(std::move(plugin_version)),
      library_(std::move(library)) {}

RegisteredComponent StagingRegistrar::base(ComponentKind kind, ComponentInfo info) {
  RegisteredComponent c;
  c.kind = kind;
  c.info = std::move(info);
  if (c.info.version.empty()) c.info.version = plugin_version_;  // one version string per plugin
  c.file = file_;
  c.plugin_id = plugin_id_;
  c.plugin_version = plugin_version_;
  c.library = library_;
  return c;
}
void StagingRegistrar::add_backbone(ComponentInfo info, BackboneFactory factory) {
  auto c = base(ComponentKind::Backbone, std::move(info));
  c.backbone = std::move(factory);
  staged_.push_back(std::move(c));
}
void StagingRegistrar::add_head(ComponentInfo info, HeadFactory factory) {
  auto c = base(ComponentKind::Head, std::move(info));
  c.head = std::move(factory);
  staged_.push_back(std::move(c));
}
void StagingRegistrar::add_method(ComponentInfo info, MethodTraits traits, MethodFactory factory) {
  auto c = base(ComponentKind::Method, std::move(info));
  c.method_traits = traits;
  c.method = std::move(factory);
  staged_.push_back(std::move(c));
}
void StagingRegistrar::add_dataset(ComponentInfo info, DatasetFactory factory) {
  auto c = base(ComponentKind::Dataset, std::move(info));
  c.dataset = std::move(factory);
  staged_.push_back(std::move(c));
}

}  // namespace s4t::host
