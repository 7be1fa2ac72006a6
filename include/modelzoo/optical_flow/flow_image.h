#pragma once
/// \file
/// Optical flow as a picture: torchvision.utils.flow_to_image on tensors.
/// The flow is divided by its largest vector norm (plus float epsilon); a
/// pixel's direction picks a colour on the standard 55-colour wheel (Baker et
/// al.'s Middlebury colour coding, linearly interpolated), its normalised
/// length fades it from white; values are floored to uint8.

#include <ATen/core/Tensor.h>

namespace modelzoo::optical_flow {

/// The 55 x 3 float colour wheel (torchvision.utils._make_colorwheel).
at::Tensor make_colorwheel();

/// 2 x H x W -> 3 x H x W, or N x 2 x H x W -> N x 3 x H x W, uint8.
/// modelzoo::Error for a non-float32 flow or another shape.
at::Tensor flow_to_image(const at::Tensor& flow);

}  // namespace modelzoo::optical_flow
