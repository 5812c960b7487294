#pragma once
// Small file helpers shared by the decoders. Every failure is an s4t::DataError that names the file
// and says what was expected.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace s4t::data {

namespace fs = std::filesystem;

/// The whole file. Throws DataError when it is missing, not a regular file or unreadable.
std::vector<std::uint8_t> read_file_bytes(const fs::path& file, const std::string& what);

/// Non-empty lines of a text file, trimmed of surrounding white space (split files, CSVs).
std::vector<std::string> read_lines(const fs::path& file, const std::string& what);

/// `path` if absolute, else `base / path` (relative option paths resolve against the config folder).
fs::path resolve_path(const fs::path& base, const std::string& path);

/// Throws DataError("<what> not found: <path>") unless `path` is a directory.
void require_directory(const fs::path& path, const std::string& what);

/// "<file>: <message>" as a DataError.
[[noreturn]] void fail(const fs::path& file, const std::string& message);

}  // namespace s4t::data
