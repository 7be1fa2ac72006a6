#pragma once
/// \file
/// The volumetric layers under the names the video models use; they are
/// models' layers (modelzoo/models/layers3d.h).

#include "modelzoo/models/layers3d.h"

namespace modelzoo::video {

using models::AvgPool3d;
using models::AvgPool3dImpl;
using models::BatchNorm3d;
using models::BatchNorm3dImpl;
using models::Conv3d;
using models::Conv3dImpl;
using models::Conv3dOptions;
using models::GlobalAvgPool3d;
using models::GlobalAvgPool3dImpl;
using models::MaxPool3d;
using models::MaxPool3dImpl;
using models::Pool3dOptions;

}  // namespace modelzoo::video
