#include "s4t_data/file_io.hpp"

#include <fstream>

#include "s4t/error.hpp"

namespace s4t::data {

void fail(const fs::path& file, const std::string& message) { throw DataError(file.string() + ": " + message); }

std::vector<std::uint8_t> read_file_bytes(const fs::path& file, const std::string& what) {
  std::error_code ec;
  if (!fs::exists(file, ec)) throw DataError(what + " not found: " + file.string());
  if (!fs::is_regular_file(file, ec)) fail(file, "expected a regular file (" + what + ")");
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(file, "cannot open " + what + " for reading");
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(0, std::ios::beg);
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size > 0 ? size : 0));
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size)) fail(file, "read error (" + what + ")");
  return bytes;
}

std::vector<std::string> read_lines(const fs::path& file, const std::string& what) {
  std::error_code ec;
  if (!fs::exists(file, ec)) throw DataError(what + " not found: " + file.string());
  std::ifstream in(file);
  if (!in) fail(file, "cannot open " + what + " for reading");
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    const auto b = line.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) continue;
    const auto e = line.find_last_not_of(" \t\r\n");
    lines.push_back(line.substr(b, e - b + 1));
  }
  return lines;
}

fs::path resolve_path(const fs::path& base, const std::string& path) {
  fs::path p(path);
  if (p.is_absolute() || base.empty()) return p.lexically_normal();
  return (base / p).lexically_normal();
}

void require_directory(const fs::path& path, const std::string& what) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) throw DataError(what + " not found: " + path.string() + " (expected a folder)");
}

}  // namespace s4t::data
