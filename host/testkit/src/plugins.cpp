// The kit's plugin search path and one host registry per path, loaded with the host's own loader.
#include <boost/dll/runtime_symbol_info.hpp>

#include <cstdlib>
#include <mutex>
#include <set>

#include "plugins/plugin_loader.hpp"
#include "plugins_access.hpp"
#include "s4t/error.hpp"

namespace fs = std::filesystem;

namespace s4t::testkit {

namespace {

std::vector<fs::path> search_path_with(const std::vector<fs::path>& extra) {
  std::vector<fs::path> out;
  std::set<std::string> seen;
  auto add = [&](const fs::path& p) {
    if (p.empty()) return;
    std::error_code ec;
    const fs::path key = fs::weakly_canonical(p, ec);
    if (seen.insert((ec ? p : key).string()).second) out.push_back(p);
  };
  for (auto& d : extra) add(d);
  for (const char* variable : {"S4T_TEST_PLUGIN_DIR", "S4T_PLUGIN_PATH"}) {
    const char* value = std::getenv(variable);
    if (!value) continue;
    const std::string text = value;
    for (std::size_t start = 0; start <= text.size();) {
      const std::size_t colon = std::min(text.find(':', start), text.size());
      add(text.substr(start, colon - start));
      start = colon + 1;
    }
  }
  // An installed kit serves the installed plugins; the build tree's kit serves the build tree's.
  std::error_code ec;
  const fs::path installed = fs::path(boost::dll::this_line_location(ec)).parent_path() / "s4t" / "plugins";
  std::error_code ec2;
  if (!ec && fs::is_directory(installed, ec2)) add(installed);
  else add(S4T_BUILD_PLUGIN_DIR);
  return out;
}

// Plugins are never unloaded (their code backs live modules and kernels), so neither are registries.
const host::ComponentRegistry& registry_for(const std::vector<fs::path>& path) {
  static std::mutex mutex;
  static auto* cache = new std::map<std::vector<std::string>, std::unique_ptr<host::ComponentRegistry>>();
  std::vector<std::string> key;
  for (auto& p : path) key.push_back(p.string());
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = (*cache)[key];
  if (!slot) {
    slot = std::make_unique<host::ComponentRegistry>();
    host::load_plugin_dirs(path, *slot);
  }
  return *slot;
}

}  // namespace

const host::RegisteredComponent& Plugins::Impl::component(ComponentKind kind, const std::string& name) const {
  try {
    return registry->get(kind, name);
  } catch (const ConfigError& e) {
    std::string where;
    for (auto& p : path) where += (where.empty() ? "" : ", ") + p.string();
    std::string refused;
    for (auto& f : registry->failures()) refused += "; refused " + f.file + ": " + f.reason;
    throw ConfigError(std::string(e.what()) + " (plugin search path: " + where + refused + ")");
  }
}

Plugins::Plugins(const std::vector<fs::path>& extra) {
  auto impl = std::make_shared<Impl>();
  impl->path = search_path_with(extra);
  impl->registry = &registry_for(impl->path);
  impl_ = std::move(impl);
}

const std::vector<fs::path>& Plugins::search_path() const { return impl_->path; }

std::vector<std::pair<std::string, std::string>> Plugins::failures() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& f : impl_->registry->failures()) out.emplace_back(f.file, f.reason);
  return out;
}

ComponentInfo Plugins::info(ComponentKind kind, const std::string& name) const {
  auto& c = impl_->component(kind, name);
  ComponentInfo info = c.info;
  if (info.version.empty()) info.version = c.plugin_version;
  return info;
}

fs::path Plugins::file(ComponentKind kind, const std::string& name) const { return impl_->component(kind, name).file; }

MethodTraits Plugins::method_traits(const std::string& method) const {
  impl_->component(ComponentKind::Method, method);  // the kit's message for an unknown name
  return impl_->registry->method_traits(method);
}

Options Plugins::options(ComponentKind kind, const std::string& name, const std::map<std::string, Value>& overrides) const {
  const auto& schema = impl_->component(kind, name).info.schema;
  const std::string owner = "[" + to_string(kind) + "." + name + "]";
  Options o = Options::defaults(schema, owner);
  for (auto& [key, value] : overrides) {
    const OptionSpec* spec = schema.find(key);
    if (!spec) throw ConfigError(owner + " has no option '" + key + "'");
    const std::string problem = spec->check(value);
    if (!problem.empty()) throw ConfigError(owner + " " + key + ": " + problem);
    o.set(key, value);
  }
  return o;
}

std::shared_ptr<TTTMethod> Plugins::make_method(const std::string& method, const std::map<std::string, Value>& overrides,
                                                const BuildContext& context) const {
  return impl_->registry->make_method(method, context, options(ComponentKind::Method, method, overrides));
}

}  // namespace s4t::testkit
