#pragma once
/// \file
/// Drawing onto images, to look at what a detector found: rectangles, text in
/// a small embedded bitmap font (5 x 7 glyphs, scaled), mask blending, lines
/// and keypoints with their skeleton. Images are what decode_image() returns
/// and write_image() takes: uint8 tensors of shape 3 x H x W (RGB), drawn on
/// in place. Everything is clipped to the image: shapes partly or wholly
/// outside it are drawn as far as they fall inside, never an error.

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

namespace modelzoo::transforms {

/// An RGB colour.
using Color = std::array<uint8_t, 3>;

/// A distinct colour per index (a fixed 20-colour palette, repeating).
Color palette_color(int64_t index);

/// The outline of the box (x1, y1) - (x2, y2) (pixel coordinates, inclusive
/// corners rounded to the nearest pixel), `thickness` pixels wide, inwards.
/// modelzoo::ImageError when `image` is not a 3 x H x W uint8 tensor.
void draw_box(at::Tensor& image, std::array<double, 4> box, Color color, int thickness = 2);

/// Width and height in pixels of `text` drawn at `scale` (6 * scale per character, 8 * scale high).
std::pair<int64_t, int64_t> text_size(const std::string& text, int scale = 2);

/// Draws `text` with its top-left corner at (x, y) on a filled background
/// rectangle. Letters are drawn in capitals; characters the font does not
/// have are drawn as '?'.
void draw_text(at::Tensor& image, int64_t x, int64_t y, const std::string& text, Color color, Color background,
               int scale = 2);

/// Blends `color` into the pixels where `mask` (H x W, float probabilities or
/// bool) is above `threshold`: pixel = (1 - alpha) * pixel + alpha * color.
void blend_mask(at::Tensor& image, const at::Tensor& mask, Color color, double alpha = 0.5, double threshold = 0.5);

/// A straight line from (x0, y0) to (x1, y1), `thickness` pixels wide.
void draw_line(at::Tensor& image, double x0, double y0, double x1, double y1, Color color, int thickness = 2);

/// Keypoints (K x 3: x, y, visibility) as filled dots of `radius`, joined by
/// `skeleton` (pairs of keypoint indices); points with visibility <= 0 are skipped.
void draw_keypoints(at::Tensor& image, const at::Tensor& keypoints,
                    const std::vector<std::pair<int, int>>& skeleton, Color color, int radius = 3);

/// COCO's person skeleton (17 keypoints, 0-based pairs), as torchvision's docs draw it.
const std::vector<std::pair<int, int>>& coco_person_skeleton();

}  // namespace modelzoo::transforms
