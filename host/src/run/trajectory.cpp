#include "run/trajectory.hpp"

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <type_traits>

#include "evaluation/metrics.hpp"
#include "evaluation/synchronization.hpp"
#include "s4t/error.hpp"

namespace s4t::host {

namespace {
// Integer fields. nlohmann-json converts a float (1e300) to an integer with a plain cast, undefined
// behaviour out of range (found by fuzz/), and j.value(key, 0) reads an int (a seed above 2^31 wrapped):
// numbers that are not integers are refused, the others read as 64-bit.
std::int64_t integer(const nlohmann::json& v, const std::string& what) {
  if (!v.is_number_integer()) throw std::runtime_error("\"" + what + "\" must be an integer");
  return v.get<std::int64_t>();
}
std::int64_t integer(const nlohmann::json& j, const char* key, std::int64_t fallback) {
  return j.is_object() && j.contains(key) ? integer(j.at(key), key) : fallback;
}
template <typename List>
List integers(const nlohmann::json& v, const std::string& what) {
  if (!v.is_array()) throw std::runtime_error("\"" + what + "\" must be a list of integers");
  List out{};
  if constexpr (std::is_same_v<List, std::array<std::int64_t, 2>>) {
    if (v.size() != 2) throw std::runtime_error("\"" + what + "\" must hold two integers");
    for (std::size_t i = 0; i < 2; ++i) out[i] = integer(v[i], what);
  } else {
    for (auto& x : v) out.push_back(integer(x, what));
  }
  return out;
}

// Enough of a TaskSpec to restore everything a report uses (the metric kind, not just its label).
nlohmann::json task_json(const TaskSpec& t) {
  return {{"name", t.name},
          {"kind", to_string(t.kind)},
          {"channels", t.channels},
          {"metric", to_string(t.metric)},
          {"label", t.metric_label()},
          {"higher_is_better", t.higher_is_better},
          {"unit", t.unit}};
}

// Reads task_json(), and the files written before it (metric = the label, nothing else): "RMSE" then
// stood for the aligned RMSE of depth and edge.
TaskSpec task_from_json(const nlohmann::json& j) {
  TaskSpec t;
  t.name = j.at("name");
  t.higher_is_better = j.at("higher_is_better");
  const std::string metric = j.at("metric");
  bool known = false;
  for (auto kind : {MetricKind::MeanIoU, MetricKind::Rmse, MetricKind::AlignedRmse, MetricKind::AngularError})
    if (metric == to_string(kind)) {
      t.metric = kind;
      known = true;
    }
  if (!known)
    t.metric = metric == "mIoU" ? MetricKind::MeanIoU : metric == "mErr" ? MetricKind::AngularError : MetricKind::AlignedRmse;
  const std::string kind = j.value("kind", t.metric == MetricKind::MeanIoU ? "classification" : "regression");
  t.kind = kind == to_string(TaskKind::Classification) ? TaskKind::Classification : TaskKind::Regression;
  t.channels = integer(j, "channels", 1);
  t.unit = j.value("unit", "");
  return t;
}
// JSON writes a NaN as null: read it back as NaN.
std::vector<double> doubles(const nlohmann::json& j) {
  std::vector<double> out;
  for (auto& v : j) out.push_back(v.is_number() ? v.get<double>() : std::nan(""));
  return out;
}
// {task: [value per step]} of a [step][task] table.
nlohmann::json columns(const std::vector<TaskSpec>& tasks, const std::vector<std::vector<double>>& values) {
  nlohmann::json j = nlohmann::json::object();
  for (size_t i = 0; i < tasks.size(); ++i) {
    std::vector<double> col;
    for (auto& v : values) col.push_back(v[i]);
    j[tasks[i].name] = col;
  }
  return j;
}

// The [step][task] table of columns() read back; `what` names the field in errors.
std::vector<std::vector<double>> from_columns(const nlohmann::json& j, const std::vector<TaskSpec>& tasks,
                                              std::size_t steps, const std::string& what) {
  std::vector<std::vector<double>> values(steps, std::vector<double>(tasks.size()));
  for (size_t i = 0; i < tasks.size(); ++i) {
    auto col = doubles(j.at(tasks[i].name));
    if (col.size() != steps)
      throw std::runtime_error("\"" + what + "\" of task '" + tasks[i].name + "' has " + std::to_string(col.size()) +
                               " values for " + std::to_string(steps) + " steps");
    for (size_t k = 0; k < steps; ++k) values[k][i] = col[k];
  }
  return values;
}

nlohmann::json at_step(const std::vector<TaskSpec>& tasks, const std::vector<double>& values) {
  nlohmann::json j = nlohmann::json::object();
  for (size_t i = 0; i < tasks.size() && i < values.size(); ++i) j[tasks[i].name] = values[i];
  return j;
}

size_t index_of_step(const std::vector<std::int64_t>& steps, std::int64_t step) {
  for (size_t i = 0; i < steps.size(); ++i)
    if (steps[i] == step) return i;
  return steps.size();
}
}  // namespace

std::string StepSelection::text() const {
  switch (rule) {
    case Rule::Last: return "last";
    case Rule::Step: return "step:" + std::to_string(step);
    case Rule::Validation: return "validation";
    case Rule::Oracle: return "oracle";
  }
  return "last";
}

StepSelection parse_step_selection(const std::string& text) {
  StepSelection s;
  if (text == "last") return s;
  if (text == "oracle") {
    s.rule = StepSelection::Rule::Oracle;
    return s;
  }
  if (text == "validation") {
    s.rule = StepSelection::Rule::Validation;
    return s;
  }
  const std::string accepted =
      "expected \"last\", \"step:N\" (N an evaluated step, e.g. \"step:20\"), \"validation\" or \"oracle\"";
  if (text.rfind("step:", 0) == 0) {
    const std::string digits = text.substr(5);
    bool ok = !digits.empty() && digits.size() <= 9;
    for (char c : digits) ok = ok && c >= '0' && c <= '9';
    if (!ok) throw ConfigError("[ttt] select = \"" + text + "\": N of step:N must be a whole number ≥ 0; " + accepted);
    s.rule = StepSelection::Rule::Step;
    s.step = std::stoll(digits);
    return s;
  }
  throw ConfigError("[ttt] select = \"" + text + "\": " + accepted);
}

std::size_t best_step_index(const std::vector<double>& delta) {
  size_t best = delta.size() > 1 ? 1 : 0;
  for (size_t i = best + 1; i < delta.size(); ++i)
    if (delta[i] > delta[best]) best = i;
  return best;
}

std::size_t Trajectory::index_for(const StepSelection& rule) const {
  switch (rule.rule) {
    case StepSelection::Rule::Last: return last();
    case StepSelection::Rule::Oracle: return best;
    case StepSelection::Rule::Step: {
      auto i = index_of_step(steps, rule.step);
      if (i == steps.size())
        throw Error("select = \"" + rule.text() + "\": step " + std::to_string(rule.step) + " was not evaluated");
      return i;
    }
    case StepSelection::Rule::Validation:
      if (validation_delta.size() != steps.size())
        throw Error("select = \"validation\": the run has no validation trajectory (set [ttt] validation_size)");
      return best_step_index(validation_delta);
  }
  return last();
}

void Trajectory::select(const StepSelection& rule) {
  selected = index_for(rule);
  selection = rule.text();
}

nlohmann::json Trajectory::synchronization() const {
  if (steps.size() < 3) return nlohmann::json::object();
  std::vector<bool> higher;
  for (auto& t : tasks) higher.push_back(t.higher_is_better);
  std::vector<std::vector<double>> adapted(values.begin() + 1, values.end());  // steps 1..S
  auto measures = [](const Curves& c) {
    return nlohmann::json{{"step_variance", step_variance(c)}, {"dtw", dtw(c)},
                          {"cosine_similarity", cosine_similarity(c, true)},
                          {"cosine_similarity_sum", cosine_similarity(c, false)}};
  };
  return {{"relative_gain", measures(relative_gain_curves(adapted, values.front(), higher))},
          {"raw", measures(oriented_curves(adapted, higher))}};
}

nlohmann::json Trajectory::to_json() const {
  nlohmann::json j;
  j["method"] = method;
  j["protocol"] = protocol;
  j["seed"] = seed;
  for (auto& t : tasks) j["tasks"].push_back(task_json(t));
  j["steps"] = steps;
  j["trajectory"] = columns(tasks, values);
  j["delta_ttt"] = delta;
  // "best" is the oracle step: the highest Δ_TTT on the evaluated images' own labels.
  j["best_step"] = steps.empty() ? 0 : steps[best];
  j["best_delta_ttt"] = delta.empty() ? 0.0 : delta[best];
  if (!values.empty()) {
    j["base"] = at_step(tasks, values[0]);
    j["best"] = at_step(tasks, values[best]);
    j["selected"] = at_step(tasks, values[selected]);
  }
  j["selection"] = {{"rule", selection},
                    {"step", steps.empty() ? 0 : steps[selected]},
                    {"delta_ttt", delta.empty() ? 0.0 : delta[selected]}};
  j["last_step"] = steps.empty() ? 0 : steps.back();
  j["last_delta_ttt"] = delta.empty() ? 0.0 : delta.back();
  j["images"] = images;
  if (grid_size[0] > 0) j["grid"] = {{"image_size", grid_size}, {"fused_size", fused_size}};
  if (!validation_delta.empty())
    j["validation"] = {{"images", validation_images},
                       {"trajectory", columns(tasks, validation_values)},
                       {"delta_ttt", validation_delta}};
  j["batches"] = batches;
  j["updates"] = updates;
  j["nonfinite_steps"] = nonfinite_steps;
  j["seconds"] = seconds;
  j["step_ms"] = step_ms;
  j["predict_ms"] = predict_ms;
  j["synchronization"] = synchronization();
  j["loss"] = loss;
  if (!affinity.is_null()) j["affinity"] = affinity;
  if (stream.active()) {
    nlohmann::json groups = nlohmann::json::array(), records = nlohmann::json::array();
    for (auto& g : stream.groups)
      groups.push_back({{"label", g.label},
                        {"images", g.images},
                        {"batches", g.batches},
                        {"trajectory", columns(tasks, g.values)},
                        {"delta_ttt", g.delta},
                        {"selected", at_step(tasks, g.values[selected])},
                        {"selected_delta_ttt", g.delta[selected]}});
    for (auto& b : stream.batches)
      records.push_back({{"domain", b.group}, {"images", b.images}, {"before", b.before}, {"after", b.after},
                         {"delta_ttt", b.delta}});
    j["stream"] = {{"kind", stream.kind}, {"reset", stream.reset}, {"domains", groups}, {"batches", records}};
  }
  return j;
}

Trajectory Trajectory::from_json(const nlohmann::json& j) {
  Trajectory t;
  if (!j.is_object()) throw std::runtime_error("expected a JSON object");
  t.method = j.at("method");
  t.protocol = j.value("protocol", "");
  t.seed = integer(j, "seed", 0);
  for (auto& task : j.at("tasks")) t.tasks.push_back(task_from_json(task));
  t.steps = integers<std::vector<std::int64_t>>(j.at("steps"), "steps");
  t.values.assign(t.steps.size(), std::vector<double>(t.tasks.size()));
  for (size_t i = 0; i < t.tasks.size(); ++i) {
    auto col = doubles(j.at("trajectory").at(t.tasks[i].name));
    for (size_t k = 0; k < col.size() && k < t.steps.size(); ++k) t.values[k][i] = col[k];
  }
  t.delta = doubles(j.at("delta_ttt"));
  // Everything a report reads is indexed by step: the lists must be complete.
  if (t.steps.empty()) throw std::runtime_error("\"steps\" is empty (no evaluated step)");
  if (t.tasks.empty()) throw std::runtime_error("\"tasks\" is empty");
  for (auto& task : t.tasks)
    if (j.at("trajectory").at(task.name).size() != t.steps.size())
      throw std::runtime_error("\"trajectory\" of task '" + task.name + "' has " +
                               std::to_string(j["trajectory"][task.name].size()) + " values for " +
                               std::to_string(t.steps.size()) + " steps");
  if (t.delta.size() != t.steps.size())
    throw std::runtime_error("\"delta_ttt\" has " + std::to_string(t.delta.size()) + " values for " +
                             std::to_string(t.steps.size()) + " steps");
  const auto best_step = integer(j, "best_step", 0);
  for (size_t i = 0; i < t.steps.size(); ++i)
    if (t.steps[i] == best_step) t.best = i;
  // The reported step: files written before selections existed report their last step.
  t.selected = t.last();
  t.selection = "last";
  if (j.contains("selection")) {
    const auto& sel = j.at("selection");
    t.selection = sel.at("rule").get<std::string>();
    try {
      parse_step_selection(t.selection);  // a rule this version knows
    } catch (const Error& e) {  // a layout problem of the file, named with it by the reader
      throw std::runtime_error(std::string("\"selection\": ") + e.what());
    }
    const auto step = integer(sel.at("step"), "selection.step");
    t.selected = index_of_step(t.steps, step);
    if (t.selected == t.steps.size())
      throw std::runtime_error("\"selection\" names step " + std::to_string(step) + ", which is not in \"steps\"");
  }
  if (j.contains("validation")) {
    const auto& v = j.at("validation");
    t.validation_images = integer(v, "images", 0);
    t.validation_delta = doubles(v.at("delta_ttt"));
    if (t.validation_delta.size() != t.steps.size())
      throw std::runtime_error("\"validation\" has " + std::to_string(t.validation_delta.size()) + " Δ_TTT values for " +
                               std::to_string(t.steps.size()) + " steps");
    t.validation_values = from_columns(v.at("trajectory"), t.tasks, t.steps.size(), "validation.trajectory");
  }
  if (j.contains("stream")) {
    const auto& st = j.at("stream");
    t.stream.kind = st.at("kind").get<std::string>();
    t.stream.reset = st.at("reset").get<std::string>();
    for (auto& g : st.at("domains")) {
      StreamResult::Group group;
      group.label = g.at("label").get<std::string>();
      group.images = integer(g, "images", 0);
      group.batches = integer(g, "batches", 0);
      group.values = from_columns(g.at("trajectory"), t.tasks, t.steps.size(), "stream.domains.trajectory");
      group.delta = doubles(g.at("delta_ttt"));
      if (group.delta.size() != t.steps.size())
        throw std::runtime_error("\"stream.domains.delta_ttt\" of '" + group.label + "' has " +
                                 std::to_string(group.delta.size()) + " values for " + std::to_string(t.steps.size()) + " steps");
      t.stream.groups.push_back(std::move(group));
    }
    for (auto& b : st.at("batches")) {
      StreamResult::BatchRecord r;
      r.group = static_cast<std::size_t>(integer(b.at("domain"), "stream.batches.domain"));
      if (r.group >= t.stream.groups.size())
        throw std::runtime_error("\"stream.batches\" names domain " + std::to_string(r.group) + " of " +
                                 std::to_string(t.stream.groups.size()));
      r.images = integer(b, "images", 0);
      r.before = doubles(b.at("before"));
      r.after = doubles(b.at("after"));
      if (r.before.size() != t.tasks.size() || r.after.size() != t.tasks.size())
        throw std::runtime_error("\"stream.batches\": before/after must hold one value per task");
      r.delta = b.at("delta_ttt").is_number() ? b.at("delta_ttt").get<double>() : std::nan("");
      t.stream.batches.push_back(std::move(r));
    }
  }
  t.images = integer(j, "images", 0);
  if (j.contains("grid")) {
    t.grid_size = integers<std::array<std::int64_t, 2>>(j["grid"].at("image_size"), "grid.image_size");
    t.fused_size = integers<std::array<std::int64_t, 2>>(j["grid"].at("fused_size"), "grid.fused_size");
  }
  t.batches = integer(j, "batches", 0);
  t.updates = integer(j, "updates", 0);
  t.nonfinite_steps = integer(j, "nonfinite_steps", 0);
  t.seconds = j.value("seconds", 0.0);
  t.step_ms = j.value("step_ms", 0.0);
  t.predict_ms = j.value("predict_ms", 0.0);
  if (j.contains("affinity")) t.affinity = j["affinity"];
  if (j.contains("loss")) t.loss = doubles(j["loss"]);
  return t;
}

std::string Trajectory::to_csv() const {
  std::ostringstream out;
  out << "step";
  for (auto& t : tasks) out << "," << t.name << "_" << t.metric_label();
  out << ",delta_ttt\n";
  out.precision(8);
  for (size_t i = 0; i < steps.size(); ++i) {
    out << steps[i];
    for (auto v : values[i]) out << "," << v;
    out << "," << delta[i] << "\n";
  }
  return out.str();
}

}  // namespace s4t::host
