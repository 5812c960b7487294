#pragma once
// Edge maps from label maps (PASCAL-Context), as MTL-PyTorch derives them:
//   edge = thin( |Laplacian(LabelMap)| > 0 )
// Laplacian: OpenCV's 3x3 aperture-1 kernel [0 1 0; 1 -4 1; 0 1 0] on the label values (as
// cv2.Laplacian(labels, CV_64F) with its default BORDER_REFLECT_101), so a pixel is "on" when its
// 4-neighbourhood disagrees with it (labels of both sides of a boundary are marked).
// Thinning: the two-subiteration parallel algorithm of Guo & Hall (1989) with the same deletion
// look-up tables as scikit-image's skimage.morphology.thin (which the reference loader calls):
// repeat { sub-iteration 1 with conditions G1, G2, G3; sub-iteration 2 with G1, G2, G3' } until no pixel
// changes. It reduces the two-pixel-wide boundary bands to 8-connected one-pixel curves while keeping
// their connectivity and end points.
#include <opencv2/core/mat.hpp>

namespace s4t::data {

/// In-place thinning of a binary CV_8UC1 image (non-zero = foreground); the result holds 0/1.
void thin_binary(cv::Mat& image);

/// Thinned label boundaries of an integer label map (CV_32SC1) as CV_32FC1 {0, 1}.
cv::Mat label_boundaries(const cv::Mat& labels);

}  // namespace s4t::data
