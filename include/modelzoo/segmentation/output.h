#pragma once
/// \file
/// What a segmentation's logits mean to a user: the per-pixel class map, the
/// share of the image each class covers, and a picture of the map blended
/// into the image with a fixed palette (the PASCAL VOC colour map: class i
/// gets the colour whose bits interleave i's bits, so class 15 "person" is
/// (192, 128, 128) for every model and every run).

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace modelzoo::segmentation {

/// argmax over the class dimension of [N x] K x H x W logits: [N x] H x W int64.
at::Tensor class_map(const at::Tensor& logits);

/// Bilinear (align_corners=False) resize of [N x] K x H x W logits to
/// height x width, so the class map can be taken at an image's original size.
at::Tensor resize_logits(const at::Tensor& logits, int64_t height, int64_t width);

/// One class present in a class map.
struct ClassShare {
  int64_t index = 0;   ///< class index (logit channel)
  std::string name;    ///< its category name ("class N" when the categories do not cover it)
  int64_t pixels = 0;  ///< pixels labelled with it
  double share = 0;    ///< pixels / all pixels, in (0, 1]
};

/// The classes present in an H x W class map, largest share first (ties by
/// index). modelzoo::Error for a map that is not 2-D integer or has negative labels.
std::vector<ClassShare> class_shares(const at::Tensor& map, const std::vector<std::string>& categories);

/// The palette colour of class `index` (PASCAL VOC colour map; index >= 0).
std::array<uint8_t, 3> palette_color(int64_t index);

/// The 3 x H x W uint8 `image` with every pixel whose class is not 0
/// (background) mixed with its class colour: (1 - alpha) * image + alpha *
/// colour, rounded. `map` is H x W (the image's size); alpha in [0, 1].
/// modelzoo::Error naming the shapes when they do not fit.
at::Tensor blend_class_map(const at::Tensor& image, const at::Tensor& map, double alpha = 0.5);

}  // namespace modelzoo::segmentation
