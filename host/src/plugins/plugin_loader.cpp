#include "plugins/plugin_loader.hpp"

#include <dlfcn.h>

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <c10/util/Exception.h>

#include <elf.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>

#include "run/logging.hpp"
#include "s4t/plugin.hpp"

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
#ifdef S4T_TORCH_CUDA
const std::string kHostDevice = "cuda";
#else
const std::string kHostDevice = "cpu";
#endif

// dlopen() of a truncated or corrupt ELF file can die with SIGBUS inside the dynamic loader, so the
// file is checked first: a 64-bit ELF shared object for this machine, whose section and program header
// tables lie inside the file. Empty when it looks loadable, else what is wrong.
std::string elf_problem(const fs::path& file) {
  std::error_code ec;
  const auto size = fs::file_size(file, ec);
  if (ec) return "cannot be read: " + ec.message();
  std::ifstream in(file, std::ios::binary);
  Elf64_Ehdr h{};
  if (size < sizeof(h) || !in.read(reinterpret_cast<char*>(&h), sizeof(h)))
    return "is not a shared library (" + std::to_string(size) + " bytes: truncated or not an ELF file)";
  if (std::memcmp(h.e_ident, ELFMAG, SELFMAG) != 0) return "is not an ELF shared library";
  if (h.e_ident[EI_CLASS] != ELFCLASS64 || h.e_machine != EM_X86_64 && h.e_machine != EM_AARCH64)
    return "is an ELF file for another machine or word size";
  if (h.e_type != ET_DYN) return "is an ELF file but not a shared library";
  const auto end_of = [](std::uint64_t offset, std::uint64_t count, std::uint64_t entry) { return offset + count * entry; };
  if (end_of(h.e_phoff, h.e_phnum, h.e_phentsize) > size || end_of(h.e_shoff, h.e_shnum, h.e_shentsize) > size)
    return "is truncated or corrupt: its ELF header tables end past the file's " + std::to_string(size) + " bytes";
  // Every loadable segment must lie inside the file too (a truncated copy keeps a valid header).
  in.seekg(static_cast<std::streamoff>(h.e_phoff));
  for (int i = 0; i < h.e_phnum; ++i) {
    Elf64_Phdr ph{};
    if (!in.read(reinterpret_cast<char*>(&ph), sizeof(ph))) return "is truncated or corrupt: unreadable program header";
    if (ph.p_type == PT_LOAD && ph.p_offset + ph.p_filesz > size)
      return "is truncated or corrupt: a loadable segment ends at byte " + std::to_string(ph.p_offset + ph.p_filesz) +
             " of a " + std::to_string(size) + "-byte file";
  }
  return {};
}

// Names and sizes of the fingerprint entries that differ between the plugin and this host.
std::string fingerprint_difference(const s4t_abi_fingerprint& plugin) {
  const s4t_abi_fingerprint host = abi_fingerprint();
  std::string out;
#define S4T_FINGERPRINT_COMPARE(field, ...)                                                                 \
  if (plugin.field != host.field)                                                                           \
    out += std::string(out.empty() ? "" : ", ") + #__VA_ARGS__ + ": plugin " + std::to_string(plugin.field) + \
           " bytes, host " + std::to_string(host.field) + " bytes";
  S4T_ABI_FINGERPRINT_TYPES(S4T_FINGERPRINT_COMPARE)
#undef S4T_FINGERPRINT_COMPARE
  return out;
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
  if (auto problem = elf_problem(name); !problem.empty()) return fail(problem);
  std::shared_ptr<boost::dll::shared_library> lib;
  try {
    // Never unloaded (RTLD_NODELETE): modules, autograd nodes and kernels point into plugin code.
    auto mode = static_cast<boost::dll::load_mode::type>(RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    lib = std::make_shared<boost::dll::shared_library>(fs::path(name), mode);
  } catch (const std::exception& e) {
    return fail(std::string("cannot be loaded: ") + e.what());
  } catch (...) {  // a static initialiser that throws something else
    return fail("cannot be loaded: a static initialiser of the library threw a non-standard exception");
  }
  if (!lib->has(S4T_PLUGIN_ENTRY_SYMBOL))
    return fail("has no entry point '" S4T_PLUGIN_ENTRY_SYMBOL "' (not an s4t plugin, or S4T_PLUGIN(...) is missing)");
  const s4t_plugin_descriptor* d = nullptr;
  try {
    d = lib->get<const s4t_plugin_descriptor*()>(S4T_PLUGIN_ENTRY_SYMBOL)();
  } catch (const std::exception& e) {
    return fail(std::string("entry point threw: ") + e.what());
  } catch (...) {
    return fail("entry point threw a non-standard exception");
  }
  if (!d) return fail("entry point returned no descriptor");
  // Read only the first two fields until the ABI is known to match.
  if (d->struct_size < offsetof(s4t_plugin_descriptor, sdk_abi_version) + sizeof(std::uint32_t))
    return fail("descriptor is too small (" + std::to_string(d->struct_size) + " bytes)");
  if (d->sdk_abi_version != S4T_SDK_ABI_VERSION)
    return fail("built for SDK ABI " + std::to_string(d->sdk_abi_version) +
                (d->sdk_abi_version == 1 ? " (s4t SDK 0.1)" : "") + ", but this host (SDK " + kSdkVersion +
                ") expects ABI " + std::to_string(S4T_SDK_ABI_VERSION) +
                "; rebuild the plugin against the installed SDK");
  if (d->struct_size < sizeof(s4t_plugin_descriptor))
    return fail("descriptor has " + std::to_string(d->struct_size) + " bytes, expected at least " +
                std::to_string(sizeof(s4t_plugin_descriptor)));
  const std::string torch = d->torch_version ? d->torch_version : "?";
  if (torch != kHostTorch)
    return fail("built against LibTorch " + torch + ", but this host runs LibTorch " + kHostTorch);
  if (d->cxx11_abi != _GLIBCXX_USE_CXX11_ABI)
    return fail("built with _GLIBCXX_USE_CXX11_ABI=" + std::to_string(d->cxx11_abi) + ", host uses " +
                std::to_string(_GLIBCXX_USE_CXX11_ABI));
  if (d->libstdcxx_release != S4T_PLUGIN_LIBSTDCXX_RELEASE)
    return fail("built against libstdc++ " + std::to_string(d->libstdcxx_release) + ", but this host uses libstdc++ " +
                std::to_string(S4T_PLUGIN_LIBSTDCXX_RELEASE) + " (standard-library types cross the plugin boundary)");
  const std::string device = d->build_device ? d->build_device : "?";
  if (device != kHostDevice)
    return fail("built against a " + device + " LibTorch, but this host runs a " + kHostDevice +
                " LibTorch; rebuild the plugin against this host's SDK");
  if (auto diff = fingerprint_difference(d->fingerprint); !diff.empty())
    return fail("type sizes differ from the host's (" + diff +
                "): built with other SDK headers or another standard library; rebuild against the installed SDK");
  logger()->debug("plugin {} built with {}", name, d->compiler ? d->compiler : "?");
  if (!d->register_components) return fail("descriptor has no register function");
  std::string id = d->plugin_id ? d->plugin_id : "", version = d->plugin_version ? d->plugin_version : "";
  StagingRegistrar staging(name, id, version, std::shared_ptr<void>(lib, lib.get()));
  std::string register_error;
  try {
    d->register_components(staging);
  } catch (const c10::Error& e) {
    register_error = std::string("register function threw: ") + e.what_without_backtrace();
  } catch (const std::exception& e) {
    register_error = std::string("register function threw: ") + e.what();
  } catch (...) {
    register_error = "register function threw a non-standard exception";
  }
  if (!register_error.empty()) {
    for (auto& c : staging.take()) registry.add_refusal(c.kind, c.info.name, name, register_error);
    return fail(register_error);
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
