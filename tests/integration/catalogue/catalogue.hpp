#pragma once
// The bad-input and fault catalogue: one row per case, run through the real `s4t` binary.
//
// A case writes its files into a fresh folder, optionally starts from a trained tiny run or a tiny
// dataset, runs one shell command line and asserts the exit code, the words of the message and that
// the files a failure must not leave behind (a run directory, a half-written checkpoint) are absent.
//
// Placeholders in commands and file contents:
//   {s4t}   the s4t binary          {dir}   the case's folder
//   {demo}  configs/demo.toml       {tiny}  tiny settings: 2 iterations, 8/4 samples, 1 TTT step, output in {dir}/runs
//   {data}  the dataset config written for a `dataset` case ({dir}/data.toml)
#include <string>
#include <vector>

namespace s4t::test::catalogue {

/// A change to a file after the case's starting point is in place.
struct Edit {
  enum Kind { Write, Truncate, Remove, FlipBytes, MakeDir } kind;
  std::string path;     ///< relative to the case's folder
  std::string content;  ///< Write: the new content; Truncate: the number of bytes kept; FlipBytes: the offset
};

struct Case {
  std::string name;
  std::string start;  ///< "" (nothing), "trained" (a finished tiny run in {dir}/runs), or a dataset: "nyud", "nyud_atrc", "pascal", "taskonomy"
  std::vector<Edit> edits;
  std::string command;
  int exit_code;
  std::vector<std::string> words;   ///< each must appear in the output
  std::vector<std::string> absent;  ///< relative paths that must not exist afterwards
};

Edit write(std::string path, std::string content);
Edit truncate(std::string path, long bytes);
Edit remove(std::string path);
Edit flip(std::string path, long offset);
Edit make_dir(std::string path);

std::vector<Case> config_cases();
std::vector<Case> cli_cases();
std::vector<Case> file_cases();    ///< plugin files, dataset files, checkpoints, run directories
std::vector<Case> report_cases();
std::vector<Case> fault_cases();   ///< full disk, divergence

}  // namespace s4t::test::catalogue
