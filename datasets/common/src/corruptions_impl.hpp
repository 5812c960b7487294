#pragma once
// One function per corruption (internal to s4t_dataset_common): CV_32FC3 R,G,B in [0, 1] in and out,
// severity 1..5; the depth-aware ones also take a CV_32FC1 depth of the image's size.
#include <opencv2/core/mat.hpp>

#include "corruption_kernels.hpp"

namespace s4t::data::corruption {

cv::Mat gaussian_noise(const cv::Mat& x, int severity, Rng& rng);
cv::Mat shot_noise(const cv::Mat& x, int severity, Rng& rng);
cv::Mat impulse_noise(const cv::Mat& x, int severity, Rng& rng);
cv::Mat speckle_noise(const cv::Mat& x, int severity, Rng& rng);
cv::Mat gaussian_blur(const cv::Mat& x, int severity, Rng& rng);
cv::Mat glass_blur(const cv::Mat& x, int severity, Rng& rng);
cv::Mat defocus_blur(const cv::Mat& x, int severity, Rng& rng);
cv::Mat motion_blur(const cv::Mat& x, int severity, Rng& rng);
cv::Mat zoom_blur(const cv::Mat& x, int severity, Rng& rng);
cv::Mat snow(const cv::Mat& x, int severity, Rng& rng);
cv::Mat frost(const cv::Mat& x, int severity, Rng& rng);
cv::Mat fog(const cv::Mat& x, int severity, Rng& rng);
cv::Mat brightness(const cv::Mat& x, int severity, Rng& rng);
cv::Mat saturate(const cv::Mat& x, int severity, Rng& rng);
cv::Mat contrast(const cv::Mat& x, int severity, Rng& rng);
cv::Mat elastic(const cv::Mat& x, int severity, Rng& rng);
cv::Mat pixelate(const cv::Mat& x, int severity, Rng& rng);
cv::Mat jpeg(const cv::Mat& x, int severity, Rng& rng);
cv::Mat spatter(const cv::Mat& x, int severity, Rng& rng);

cv::Mat fog_3d(const cv::Mat& x, const cv::Mat& depth, int severity, Rng& rng);
/// Defocus with the focal plane near the camera (`far` = false) or far from it.
cv::Mat depth_of_field(const cv::Mat& x, const cv::Mat& depth, int severity, bool far, Rng& rng);

}  // namespace s4t::data::corruption
