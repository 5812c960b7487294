#pragma once
// Synchronisation measures of task adaptation curves (supplement §B; docs/methods.md#metrics).
// A trajectory is one curve per task over steps τ = 1..S: curves[i][τ-1] = performance of task i.
// Higher must mean better in every curve; use relative_gain_curves() to turn raw metrics into signed
// relative gains (the default in s4t, since tasks have different units and directions).
#include <vector>



namespace s4t {

using Curves = std::vector<std::vector<double>>;  ///< [task][step]

/// SV = sqrt((1/n) Σ_i (τ_i^peak − mean τ^peak)²), τ_i^peak = 1-based argmax of curve i (first maximum).
double step_variance(const Curves& curves);

/// DTW distance of two curves: DC(τ,κ) = |a_τ − b_κ| + min(DC(τ−1,κ), DC(τ,κ−1), DC(τ−1,κ−1)).
double dtw_distance(const std::vector<double>& a, const std::vector<double>& b);
/// Mean DTW distance over all task pairs.
double dtw(const Curves& curves);

/// Cosine similarity of the step-to-step changes, averaged over task pairs. For scalar changes each term
/// is sign agreement (+1, −1, or 0 when either change is 0). `mean_over_steps` divides each pair's sum by
/// S−1 (the supplement's formula sums without dividing).
double cosine_similarity(const Curves& curves, bool mean_over_steps = true);

/// Signed relative gain in percent of each task vs its base value: (−1)^l (M − M_base)/M_base · 100.
/// `values[step][task]`, `base[task]`; returns [task][step].
Curves relative_gain_curves(const std::vector<std::vector<double>>& values, const std::vector<double>& base,
                                    const std::vector<bool>& higher_is_better);
/// Raw metric curves [task][step], negated where lower is better (so higher is always better).
Curves oriented_curves(const std::vector<std::vector<double>>& values, const std::vector<bool>& higher_is_better);

}  // namespace s4t
