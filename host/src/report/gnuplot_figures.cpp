#include "report/gnuplot_figures.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <sstream>

#include "report/results_table.hpp"
#include "report/stream_table.hpp"
#include "s4t/error.hpp"
#include "evaluation/metrics.hpp"
#include "s4t/state_dict.hpp"

namespace fs = std::filesystem;

namespace s4t::host {

namespace {

// A gnuplot single-quoted string: gnuplot substitutes `command` inside double-quoted strings, never in
// single-quoted ones, where only '' (a quote) is special. Names and paths stay data. Control characters
// could end the line: they become spaces.
std::string gp_quote(const std::string& s) {
  std::string o = "'";
  for (char c : s) {
    if (c == '\'') o += "''";
    else if (static_cast<unsigned char>(c) < 0x20) o += ' ';
    else o += c;
  }
  return o + "'";
}

// Runs `gnuplot script` with an argument vector, no shell: a run name or --out path is only ever data.
// Returns the exit status (-1 when gnuplot could not be started) and its stdout+stderr in `output`.
int run_gnuplot(const fs::path& script, std::string& output) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  std::string program = "gnuplot", arg = script.string();
  char* argv[] = {program.data(), arg.data(), nullptr};
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, "gnuplot", &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    output = std::strerror(rc);
    return -1;
  }
  std::array<char, 1024> buf;
  for (ssize_t n; (n = read(fds[0], buf.data(), buf.size())) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    output.append(buf.data(), static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  // posix_spawnp reports a missing program as exit 127 of the child on glibc.
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string number(double v) {
  if (!std::isfinite(v)) return "NaN";
  std::ostringstream out;
  out.precision(10);
  out << v;
  return out.str();
}

// Mean over seeds of values[step][task] (trajectories of one method share their steps).
std::vector<std::vector<double>> mean_values(const std::vector<Trajectory>& trs) {
  auto out = trs.front().values;
  for (size_t s = 1; s < trs.size(); ++s)
    for (size_t i = 0; i < out.size() && i < trs[s].values.size(); ++i)
      for (size_t t = 0; t < out[i].size(); ++t) out[i][t] += trs[s].values[i][t];
  for (auto& row : out)
    for (auto& v : row) v /= static_cast<double>(trs.size());
  return out;
}

std::string header(const std::string& title, const std::string& xlabel, const std::string& ylabel) {
  return "set title " + gp_quote(title) + " noenhanced\nset xlabel " + gp_quote(xlabel) + "\nset ylabel " + gp_quote(ylabel) +
         " noenhanced\nset grid\nset key outside right top noenhanced\n";
}

}  // namespace

// Method (rows) x corruption (columns) of Δ_TTT at the selected step, each cell labelled; a failed
// method's cell is blank. Diverging palette centred on 0 (no change against Base).
static std::vector<fs::path> plot_corruption_heatmap(const nlohmann::json& sweep, const std::string& label, const fs::path& stem) {
  std::vector<std::string> corruptions, methods;
  for (auto& point : sweep["points"]) {
    corruptions.push_back(point["value"].is_string() ? point["value"].get<std::string>() : point["value"].dump());
    for (auto& [method, result] : point["methods"].items())
      if (std::find(methods.begin(), methods.end(), method) == methods.end()) methods.push_back(method);
  }
  std::string matrix, xtics, ytics;
  double extent = 1e-9;
  for (size_t i = 0; i < methods.size(); ++i) {
    ytics += std::string(i ? ", " : "") + gp_quote(methods[i]) + " " + std::to_string(i);
    size_t j = 0;
    for (auto& point : sweep["points"]) {
      double v = NAN;
      if (point["methods"].contains(methods[i])) {
        const auto& r = point["methods"][methods[i]];
        if (r.contains("delta_ttt") && r["delta_ttt"].is_number()) v = r["delta_ttt"].get<double>();
      }
      if (std::isfinite(v)) extent = std::max(extent, std::abs(v));
      matrix += (j++ ? " " : "") + number(v);
    }
    matrix += "\n";
  }
  for (size_t j = 0; j < corruptions.size(); ++j) xtics += std::string(j ? ", " : "") + gp_quote(corruptions[j]) + " " + std::to_string(j);
  std::string script = "$h << EOD\n" + matrix + "EOD\n";
  script += "set title " + gp_quote("Delta_TTT (%) per corruption" + (label.empty() ? "" : " (" + label + ")")) + " noenhanced\n";
  script += "set xtics (" + xtics + ") rotate by 45 right noenhanced\nset ytics (" + ytics + ") noenhanced\n";
  script += "unset key\nset palette defined (-1 '#2166ac', 0 '#f7f7f7', 1 '#b2182b')\n";
  script += "set cbrange [" + number(-extent) + ":" + number(extent) + "]\nset cblabel 'Delta_TTT (%)' noenhanced\n";
  script += "set xrange [-0.5:" + number(static_cast<double>(corruptions.size()) - 0.5) + "]\nset yrange [-0.5:" +
            number(static_cast<double>(methods.size()) - 0.5) + "]\n";
  script += "plot $h matrix with image, $h matrix using 1:2:(sprintf('%.1f',$3)) with labels font ',9'\n";
  const int width = 200 + 60 * static_cast<int>(corruptions.size()), height = 220 + 40 * static_cast<int>(methods.size());
  return render_gnuplot(script, stem, std::max(width, 500), std::max(height, 320));
}

std::vector<fs::path> render_gnuplot(const std::string& script, const fs::path& stem, int width, int height) {
  fs::create_directories(stem.parent_path());
  std::vector<fs::path> written;
  const std::array<std::pair<std::string, std::string>, 2> formats = {
      {{"png", "set terminal pngcairo size " + std::to_string(width) + "," + std::to_string(height) + " font ',10'"},
       {"svg", "set terminal svg size " + std::to_string(width) + "," + std::to_string(height) + " dynamic"}}};
  for (auto& [ext, terminal] : formats) {
    fs::path out = stem;
    out += "." + ext;
    fs::path gp = stem;
    gp += "." + ext + ".gp";
    write_file_atomically(gp, terminal + "\nset output " + gp_quote(out.string()) + "\n" + script + "\nunset output\n");
    std::string output;
    const int status = run_gnuplot(gp, output);
    if (status == -1 || status == 127)
      throw Error("cannot run gnuplot (install the gnuplot-nox package, or pass --no-figures): " + output);
    std::error_code ec;
    if (status != 0 || !fs::exists(out, ec) || fs::file_size(out, ec) == 0)
      throw Error("gnuplot failed on " + gp.string() + " (is the gnuplot-nox package installed?): " + output);
    fs::remove(gp);
    written.push_back(out);
  }
  return written;
}

std::vector<fs::path> plot_curves(const RunCollection& runs, const fs::path& out_dir) {
  std::vector<fs::path> files;
  if (runs.runs.empty()) return files;
  auto table = build_results_table(runs.methods, runs.runs);
  const auto& tasks = table.tasks;
  std::map<std::string, double> reported_step;
  for (auto& row : table.rows) reported_step[row.name] = row.step_mean;
  const auto higher = higher_is_better(tasks);
  const std::string base_method = runs.runs.count("none") ? "none" : runs.methods.front();
  const auto base = mean_values(runs.runs.at(base_method)).front();

  auto figure = [&](const std::string& stem, const std::string& title, const std::string& ylabel,
                    const std::function<double(const std::vector<double>&)>& y) {
    std::string data, plot = "plot ";
    size_t k = 0;
    std::string best_points;
    for (auto& m : runs.methods) {
      auto& trs = runs.runs.at(m);
      auto mean = mean_values(trs);
      data += "$m" + std::to_string(k) + " << EOD\n";
      for (size_t i = 0; i < mean.size(); ++i) data += std::to_string(trs.front().steps[i]) + " " + number(y(mean[i])) + "\n";
      data += "EOD\n";
      plot += std::string(k ? ", " : "") + "$m" + std::to_string(k) + " with linespoints lw 2 pt 7 ps 0.5 title " + gp_quote(m);
      if (m != "none" && reported_step.count(m)) {
        // the reported step of this method (rounded mean over seeds), marked on its own curve
        long step = std::lround(reported_step[m]);
        for (size_t i = 0; i < mean.size(); ++i)
          if (trs.front().steps[i] == step) best_points += std::to_string(step) + " " + number(y(mean[i])) + "\n";
      }
      ++k;
    }
    if (!best_points.empty()) {
      data += "$best << EOD\n" + best_points + "EOD\n";
      plot += ", $best with points pt 6 ps 2.5 lw 2 lc rgb 'black' title " + gp_quote("reported step (" + table.selection + ")");
    }
    auto written = render_gnuplot(data + header(title, "TTT step", ylabel) + plot + "\n", out_dir / stem);
    files.insert(files.end(), written.begin(), written.end());
  };

  for (size_t t = 0; t < tasks.size(); ++t) {
    const auto& task = tasks[t];
    figure("curve_" + task.name, task.name + " " + task.metric_label() + (task.higher_is_better ? " (higher is better)" : " (lower is better)"),
           task.metric_label(), [t](const std::vector<double>& v) { return v[t]; });
  }
  figure("curve_delta_ttt", "Delta_TTT vs Base (%)", "Delta_TTT (%)",
         [&](const std::vector<double>& v) { return delta_ttt(base, v, higher); });
  return files;
}

std::vector<fs::path> plot_affinity(const RunCollection& runs, const fs::path& out_dir) {
  std::vector<fs::path> files;
  for (auto& m : runs.methods) {
    const auto& a = runs.runs.at(m).front().affinity;
    if (a.is_null() || !a.contains("tasks") || !a.contains("source")) continue;
    auto tasks = a["tasks"].get<std::vector<std::string>>();
    std::string tics;
    for (size_t i = 0; i < tasks.size(); ++i) tics += std::string(i ? ", " : "") + gp_quote(tasks[i]) + " " + std::to_string(i);
    std::string script = "set multiplot layout 1,4 title " + gp_quote("task affinity (cosine similarity of task latents): " + m) + " noenhanced\n";
    script += "set xtics (" + tics + ") rotate by 45 right noenhanced\nset ytics (" + tics + ") noenhanced\n";
    script += "set size ratio -1\nunset key\nset palette defined (-1 '#2166ac', 0 '#f7f7f7', 1 '#b2182b')\n";
    const std::vector<std::pair<std::string, std::string>> panels = {
        {"source", "source model, source data"}, {"target_before", "target, before TTT"},
        {"target_after", "target, after TTT"}, {"gap_after", "|A_target - A_source| after"}};
    for (auto& [key, title] : panels) {
      if (!a.contains(key)) continue;
      auto mat = a[key].get<std::vector<std::vector<double>>>();
      script += "$" + key + " << EOD\n";
      for (auto& row : mat) {
        for (size_t j = 0; j < row.size(); ++j) script += (j ? " " : "") + number(row[j]);
        script += "\n";
      }
      script += "EOD\n";
      script += key.rfind("gap", 0) == 0 ? "set cbrange [0:1]\n" : "set cbrange [-1:1]\n";
      script += "set title " + gp_quote(title) + " noenhanced\n";
      script += "plot $" + key + " matrix with image, $" + key + " matrix using 1:2:(sprintf('%.2f',$3)) with labels font ',8'\n";
    }
    script += "unset multiplot\n";
    auto written = render_gnuplot(script, out_dir / ("affinity_" + m), 1600, 450);
    files.insert(files.end(), written.begin(), written.end());
  }
  return files;
}

std::vector<fs::path> plot_sweeps(const RunCollection& runs, const fs::path& out_dir) {
  std::vector<fs::path> files;
  for (size_t s = 0; s < runs.sweeps.size(); ++s) {
    const auto& sw = runs.sweeps[s];
    const std::string key = sw.value("key", "value");
    std::map<std::string, std::string> data;
    std::map<std::string, std::string> loss;
    std::string xtics;
    size_t index = 0;
    for (auto& point : sw["points"]) {
      const std::string value = point["value"].is_string() ? point["value"].get<std::string>() : point["value"].dump();
      xtics += std::string(index ? ", " : "") + gp_quote(value) + " " + std::to_string(index);
      for (auto& [method, result] : point["methods"].items()) {
        if (result.contains("failed")) continue;  // no value at this point
        const auto delta = result.find("delta_ttt");  // null: a NaN written by JSON
        data[method] += std::to_string(index) + " " + number(delta != result.end() && delta->is_number() ? delta->get<double>() : NAN) + "\n";
        if (result.contains("first_step_loss") && result["first_step_loss"].is_number())
          loss[method] += std::to_string(index) + " " + number(result["first_step_loss"].get<double>()) + "\n";
      }
      ++index;
    }
    std::string script, plot = "plot ";
    size_t k = 0;
    for (auto& [method, rows] : data) {
      script += "$d" + std::to_string(k) + " << EOD\n" + rows + "EOD\n";
      plot += std::string(k ? ", " : "") + "$d" + std::to_string(k) + " with linespoints lw 2 pt 7 title " + gp_quote(method);
      ++k;
    }
    script += "set xtics (" + xtics + ")\n";
    std::string loss_plot;
    if (!loss.empty()) {
      loss_plot = "plot ";
      size_t j = 0;
      for (auto& [method, rows] : loss) {
        script += "$l" + std::to_string(j) + " << EOD\n" + rows + "EOD\n";
        loss_plot += std::string(j ? ", " : "") + "$l" + std::to_string(j) + " with linespoints lw 2 pt 5 title " + gp_quote(method);
        ++j;
      }
      script += "set multiplot layout 1,2\n";
    }
    script += header("Delta_TTT vs " + key, key, "Delta_TTT (%)") + plot + "\n";
    if (!loss.empty()) script += header("TTT loss at step 1 vs " + key, key, "loss") + loss_plot + "\nunset multiplot\n";
    // Several sweeps of one key (a corruption sweep per severity) are told apart by their label.
    const std::string label = sw.contains("label") && sw["label"].is_string() ? sw["label"].get<std::string>() : "";
    std::string suffix = key + (label.empty() ? "" : "_" + label);
    for (auto& c : suffix)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') c = '_';
    auto written = render_gnuplot(script, out_dir / ("sweep_" + suffix), loss.empty() ? 800 : 1400, 500);
    files.insert(files.end(), written.begin(), written.end());
    if (key == "data.target.corruption" && !data.empty()) {
      written = plot_corruption_heatmap(sw, label, out_dir / ("heatmap_" + suffix));
      files.insert(files.end(), written.begin(), written.end());
    }
  }
  return files;
}

}  // namespace s4t::host

namespace s4t::host {

std::vector<fs::path> plot_stream(const RunCollection& runs, const fs::path& out_dir) {
  auto table = build_stream_table(runs.methods, runs.runs);
  if (table.empty() || table.methods.empty()) return {};
  std::string data, plot = "plot ";
  for (size_t k = 0; k < table.methods.size(); ++k) {
    data += "$m" + std::to_string(k) + " << EOD\n";
    for (size_t i = 0; i < table.curve[k].size(); ++i) data += std::to_string(i) + " " + number(table.curve[k][i]) + "\n";
    data += "EOD\n";
    plot += std::string(k ? ", " : "") + "$m" + std::to_string(k) + " with linespoints lw 2 pt 7 ps 0.4 title " +
            gp_quote(table.methods[k]);
  }
  // A dashed line where the domain changes, the new domain's name above it (every one up to 20 domains,
  // then every n-th name so that the labels stay legible).
  std::string marks;
  const size_t label_every = std::max<size_t>(1, table.groups.size() / 20);
  for (size_t i = 0; i < table.curve_group.size(); ++i) {
    if (i > 0 && table.curve_group[i] == table.curve_group[i - 1]) continue;
    const double at = static_cast<double>(i) - 0.5;
    if (i > 0) marks += "set arrow from " + number(at) + ", graph 0 to " + number(at) + ", graph 1 nohead dt 2 lc rgb 'gray40'\n";
    const size_t g = table.curve_group[i];
    if (g % label_every == 0 && table.kind != "mixed")
      marks += "set label " + gp_quote(table.groups[g]) + " at " + number(at + 0.15) +
               ", graph 0.03 left rotate by 90 font ',8' noenhanced tc rgb 'gray30'\n";
  }
  marks += "set xrange [-0.5:" + number(static_cast<double>(table.curve_group.size()) - 0.5) + "]\n";
  const std::string title = "Target stream '" + table.kind + "' (reset " + table.reset + "): Delta_TTT per batch vs " +
                            (table.base == "none" ? std::string("Base") : std::string("own step 0"));
  auto script = data + header(title, "batch along the stream", "Delta_TTT (%)") + marks + plot + "\n";
  const int width = std::max(900, std::min(2400, 300 + 12 * static_cast<int>(table.curve_group.size())));
  return render_gnuplot(script, out_dir / "stream_delta_ttt", width, 600);
}

}  // namespace s4t::host
