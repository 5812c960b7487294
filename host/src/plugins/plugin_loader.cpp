#include "plugins/plugin_loader.hpp"

#include <dlfcn.h>

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <set>

#include "s4t/log.hpp"
#include "s4t/plugin.hpp"
#include <spdlog/spdlog.h>

namespace fs = std::filesystem;

namespace s4t::host {

namespace {
const std::string kHostTorch = std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR);

void add_unique(std::vector<fs::path>& out, std::set<std::string>& seen, const fs::path& p) {
  if (p.empty()) return;
  std::error_code ec;
  fs::path key = fs::weakly_canonical(p, ec);
  if (seen.insert((ec ? p : key).string()).second) out.push_back(p);
}
}  // namespace

std::vector<fs::path> plugin_search_path(const std::vector<fs::path>& cli_dirs, const std::vector<fs::path>& config_dirs) {
  std::vector<fs::path> out;
  std::set<std::string> seen;
  for (auto& d : cli_dirs) add_unique(out, seen, d);
  if (const char* env = std::getenv("S4T_PLUGIN_PATH")) {
    std::string s = env;
    size_t start = 0;
    while (start <= s.size()) {
      size_t colon = s.find(':', start);
      std::string part = s.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
      if (!part.empty()) add_unique(out, seen, part);
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
  }
  for (auto& d : config_dirs) add_unique(out, seen, d);
  std::error_code ec;
  fs::path exe = boost::dll::program_location(ec);
  fs::path install_dir = ec ? fs::path() : exe.parent_path().parent_path() / S4T_PLUGIN_INSTALL_SUBDIR;
  std::error_code ec2;
  const bool installed = !install_dir.empty() && fs::is_directory(install_dir, ec2);
  if (installed) add_unique(out, seen, install_dir);
#ifdef S4T_BUILD_PLUGIN_DIR
  // The build tree's plugins serve the build tree's host and tests, not an installed copy.
  if (!installed) add_unique(out, seen, S4T_BUILD_PLUGIN_DIR);
#endif
  return out;
}

void load_plugin_dirs(const std::vector<fs::path>& dirs, ComponentRegistry& registry) {
  for (auto& dir : dirs) {
    std::error_code ec;
    logger()->debug("searching plugin folder {}", dir.string());
    if (!fs::is_directory(dir, ec)) {
      logger()->debug("plugin folder {} does not exist; skipped", dir.string());
      continue;
    }
    std::vector<fs::path> files;
    for (auto& entry : fs::directory_iterator(dir, ec))
      if (entry.is_regular_file() && entry.path().extension() == ".so") files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    for (auto& f : files) load_plugin_file(f, registry);
  }
}

bool load_plugin_file(const fs::path& file, ComponentRegistry& registry) {
  const std::string name = fs::absolute(file).lexically_normal().string();
  if (registry.has_file(name)) return true;
  logger()->debug("trying plugin file {}", name);
  auto fail = [&](const std::string& why) {
    registry.add_failure(name, why);
    logger()->warn("plugin {} refused: {}", name, why);
    return false;
  };
  std::shared_ptr<boost::dll::shared_library> lib;
  try {
    // Never unloaded (RTLD_NODELETE): modules, autograd nodes and kernels point into plugin code.
    auto mode = static_cast<boost::dll::load_mode::type>(RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    lib = std::make_shared<boost::dll::shared_library>(fs::path(name), mode);
  } catch (const std::exception& e) {
    return fail(std::string("cannot be loaded: ") + e.what());
  }
  if (!lib->has(S4T_PLUGIN_ENTRY_SYMBOL))
    return fail("has no entry point '" S4T_PLUGIN_ENTRY_SYMBOL "' (not an s4t plugin, or S4T_PLUGIN(...) is missing)");
  const s4t_plugin_descriptor* d = nullptr;
  try {
    d = lib->get<const s4t_plugin_descriptor*()>(S4T_PLUGIN_ENTRY_SYMBOL)();
  } catch (const std::exception& e) {
    return fail(std::string("entry point threw: ") + e.what());
  }
  if (!d) return fail("entry point returned no descriptor");
  // Read only the first two fields until the ABI is known to match.
  if (d->struct_size < offsetof(s4t_plugin_descriptor, sdk_abi_version) + sizeof(std::uint32_t))
    return fail("descriptor is too small (" + std::to_string(d->struct_size) + " bytes)");
  if (d->sdk_abi_version != S4T_SDK_ABI_VERSION)
    return fail("built against SDK ABI version " + std::to_string(d->sdk_abi_version) + ", but this host expects " +
                std::to_string(S4T_SDK_ABI_VERSION) + "; rebuild the plugin against the installed SDK");
  if (d->struct_size < sizeof(s4t_plugin_descriptor))
    return fail("descriptor has " + std::to_string(d->struct_size) + " bytes, expected at least " +
                std::to_string(sizeof(s4t_plugin_descriptor)));
  const std::string torch = d->torch_version ? d->torch_version : "?";
  if (torch != kHostTorch)
    return fail("built against LibTorch " + torch + ", but this host runs LibTorch " + kHostTorch);
  if (d->cxx11_abi != _GLIBCXX_USE_CXX11_ABI)
    return fail("built with _GLIBCXX_USE_CXX11_ABI=" + std::to_string(d->cxx11_abi) + ", host uses " +
                std::to_string(_GLIBCXX_USE_CXX11_ABI));
  if (!d->register_components) return fail("descriptor has no register function");
  std::string id = d->plugin_id ? d->plugin_id : "", version = d->plugin_version ? d->plugin_version : "";
  StagingRegistrar staging(name, id, version, std::shared_ptr<void>(lib, lib.get()));
  try {
    d->register_components(staging);
  } catch (const c10::Error& e) {
    return fail(std::string("register function threw: ") + e.what_without_backtrace());
  } catch (const std::exception& e) {
    return fail(std::string("register function threw: ") + e.what());
  } catch (...) {
    return fail("register function threw a non-standard exception");
  }
  auto staged = staging.take();
  size_t failures_before = registry.failures().size();
  registry.commit(std::move(staged), name);
  if (registry.failures().size() != failures_before) {
    logger()->warn("plugin {} refused: {}", name, registry.failures().back().reason);
    return false;
  }
  logger()->debug("loaded plugin {} {} from {}", id, version, name);
  return true;
}

}  // namespace s4t::host
