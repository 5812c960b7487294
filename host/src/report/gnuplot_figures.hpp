#pragma once
// Figures rendered by gnuplot (PNG through pngcairo and SVG), from data written inline into the script.
#include <filesystem>
#include <string>
#include <vector>

#include "report/run_collection.hpp"

namespace s4t::host {

/// Runs gnuplot on `script` once per format; `stem` gets .png and .svg. Returns the files written.
/// Throws s4t::Error when gnuplot is missing or fails (its output in the message).
std::vector<std::filesystem::path> render_gnuplot(const std::string& script, const std::filesystem::path& stem,
                                                  int width = 900, int height = 600);

/// Per-task metric vs step for each method (mean over seeds), best step (by Δ_TTT vs Base) marked;
/// plus Δ_TTT vs step. One figure per task and one for Δ.
std::vector<std::filesystem::path> plot_curves(const RunCollection& runs, const std::filesystem::path& out_dir);

/// Affinity heatmaps of every method that recorded them: source, target before, target after, gap.
std::vector<std::filesystem::path> plot_affinity(const RunCollection& runs, const std::filesystem::path& out_dir);

/// One figure per sweep: Δ_TTT (and the mean first-step TTT loss) against the swept value
/// (sweep_<key>[_<label>]); a corruption sweep (key data.target.corruption, `s4t compare --corruptions`)
/// also gets the heatmap method x corruption of Δ_TTT (heatmap_<key>_<label>, label = severity-<s>).
std::vector<std::filesystem::path> plot_sweeps(const RunCollection& runs, const std::filesystem::path& out_dir);

/// The continual-stream curve (stream_delta_ttt): each batch's Δ_TTT after adaptation against the Base on
/// the same batch, along the target stream, per method (mean over seeds), with the domain boundaries marked
/// and labelled. Nothing when no run holds a target stream.
std::vector<std::filesystem::path> plot_stream(const RunCollection& runs, const std::filesystem::path& out_dir);

}  // namespace s4t::host
