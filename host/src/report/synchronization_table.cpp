#include "report/synchronization_table.hpp"


#include "report/results_table.hpp"

namespace s4t::host {

std::pair<std::string, std::string> synchronization_tables(const RunCollection& runs) {
  std::string md = "| Method | SV ↓ | DTW ↓ | CS ↑ | seeds |\n|---|---:|---:|---:|---:|\n";
  std::string csv = "method,sv,sv_std,dtw,dtw_std,cs,cs_std,seeds\n";
  for (auto& m : runs.methods) {
    if (m == "none") continue;
    std::vector<double> sv, dtw, cs;
    for (auto& t : runs.runs.at(m)) {
      auto s = t.synchronization();
      if (s.is_null() || !s.contains("relative_gain")) continue;
      sv.push_back(s["relative_gain"]["step_variance"]);
      dtw.push_back(s["relative_gain"]["dtw"]);
      cs.push_back(s["relative_gain"]["cosine_similarity"]);
    }
    if (sv.empty()) continue;
    double a, as, b, bs, c, cs_;
    mean_std(sv, a, as);
    mean_std(dtw, b, bs);
    mean_std(cs, c, cs_);
    auto pm = [&](double x, double s) { return fixed_digits(x, 3) + (sv.size() > 1 ? " ± " + fixed_digits(s, 3) : ""); };
    md += "| " + m + " | " + pm(a, as) + " | " + pm(b, bs) + " | " + pm(c, cs_) + " | " + std::to_string(sv.size()) + " |\n";
    csv += m + "," + std::to_string(a) + "," + std::to_string(as) + "," + std::to_string(b) + "," + std::to_string(bs) +
           "," + std::to_string(c) + "," + std::to_string(cs_) + "," + std::to_string(sv.size()) + "\n";
  }
  return {md, csv};
}

}  // namespace s4t::host
