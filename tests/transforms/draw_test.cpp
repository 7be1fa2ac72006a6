// Drawing primitives: exact pixels of boxes, text, masks, lines and
// keypoints, clipping at the image border, and bad tensors refused.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "modelzoo/transforms/draw.h"
#include "modelzoo/transforms/image.h"

namespace {

namespace tf = modelzoo::transforms;

at::Tensor blank(int64_t h, int64_t w) { return at::zeros({3, h, w}, at::kByte); }

tf::Color at_px(const at::Tensor& im, int64_t x, int64_t y) {
  return {im[0][y][x].item<uint8_t>(), im[1][y][x].item<uint8_t>(), im[2][y][x].item<uint8_t>()};
}

const tf::Color kRed{255, 0, 0};
const tf::Color kBlack{0, 0, 0};

TEST(Draw, BoxOutlineIsDrawnInwardsAtItsCorners) {
  at::Tensor im = blank(20, 30);
  tf::draw_box(im, {2.4, 3.0, 12.6, 10.0}, kRed, 2);
  for (auto [x, y] : {std::pair{2, 3}, {13, 3}, {2, 10}, {13, 10}, {3, 4}, {12, 9}}) {
    EXPECT_EQ(at_px(im, x, y), kRed) << x << "," << y;
  }
  EXPECT_EQ(at_px(im, 4, 5), kBlack) << "inside stays";
  EXPECT_EQ(at_px(im, 14, 3), kBlack) << "outside stays";
  EXPECT_EQ(at_px(im, 1, 3), kBlack);
}

TEST(Draw, ShapesOutsideTheImageAreClipped) {
  at::Tensor im = blank(10, 10);
  tf::draw_box(im, {-5, -5, 4, 4}, kRed, 1);
  EXPECT_EQ(at_px(im, 4, 0), kRed);
  EXPECT_EQ(at_px(im, 0, 4), kRed);
  tf::draw_box(im, {50, 50, 60, 60}, kRed, 3);
  tf::draw_text(im, 8, 8, "LONG TEXT", kRed, kBlack, 2);
  tf::draw_line(im, -20, -20, 40, 40, kRed, 1);
  EXPECT_EQ(at_px(im, 5, 5), kRed);
}

TEST(Draw, TextUsesTheEmbeddedFont) {
  at::Tensor im = blank(20, 40);
  const tf::Color bg{0, 0, 200};
  tf::draw_text(im, 1, 1, "I1", kRed, bg, 1);
  const auto [w, h] = tf::text_size("I1", 1);
  EXPECT_EQ(w, 13);
  EXPECT_EQ(h, 9);
  // 'I' is a vertical bar in its middle column (x = 1 + 1 + 2), rows 1..7 of the glyph.
  for (int y = 2; y <= 8; ++y) EXPECT_EQ(at_px(im, 4, y), kRed) << y;
  EXPECT_EQ(at_px(im, 2, 5), bg) << "background around the glyph";
  EXPECT_EQ(at_px(im, 20, 5), kBlack) << "beyond the label";
  // Lower case is drawn as upper case; unknown characters as '?'.
  at::Tensor a = blank(10, 10), b = blank(10, 10), q = blank(10, 10), unk = blank(10, 10);
  tf::draw_text(a, 0, 0, "a", kRed, kBlack, 1);
  tf::draw_text(b, 0, 0, "A", kRed, kBlack, 1);
  tf::draw_text(q, 0, 0, "?", kRed, kBlack, 1);
  tf::draw_text(unk, 0, 0, "~", kRed, kBlack, 1);
  EXPECT_TRUE(at::equal(a, b));
  EXPECT_TRUE(at::equal(q, unk));
  EXPECT_FALSE(at::equal(a, q));
}

TEST(Draw, MaskBlendsOnlyAboveThreshold) {
  at::Tensor im = at::full({3, 4, 4}, 100, at::kByte);
  at::Tensor mask = at::zeros({4, 4});
  mask[1][2] = 0.9;
  mask[3][3] = 0.4;
  tf::blend_mask(im, mask, {200, 0, 100}, 0.5, 0.5);
  EXPECT_EQ(at_px(im, 2, 1), (tf::Color{150, 50, 100}));
  EXPECT_EQ(at_px(im, 3, 3), (tf::Color{100, 100, 100}));
  EXPECT_THROW(tf::blend_mask(im, at::zeros({3, 4}), kRed), modelzoo::ImageError);
}

TEST(Draw, KeypointsAndSkeleton) {
  at::Tensor im = blank(30, 30);
  const at::Tensor kp = at::tensor({5.f, 5.f, 1.f, 25.f, 5.f, 1.f, 15.f, 25.f, 0.f}).view({3, 3});
  tf::draw_keypoints(im, kp, {{0, 1}, {1, 2}}, kRed, 2);
  EXPECT_EQ(at_px(im, 5, 5), kRed);
  EXPECT_EQ(at_px(im, 15, 5), kRed) << "joined by the skeleton";
  EXPECT_EQ(at_px(im, 15, 25), kBlack) << "invisible keypoint";
  EXPECT_EQ(at_px(im, 20, 15), kBlack) << "no line to an invisible keypoint";
  EXPECT_EQ(tf::coco_person_skeleton().size(), 19u);
}

TEST(Draw, RefusesWhatIsNotAnImage) {
  at::Tensor f = at::zeros({3, 4, 4});
  EXPECT_THROW(tf::draw_box(f, {0, 0, 1, 1}, kRed), modelzoo::ImageError);
  at::Tensor g = at::zeros({4, 4}, at::kByte);
  EXPECT_THROW(tf::draw_text(g, 0, 0, "x", kRed, kBlack), modelzoo::ImageError);
  EXPECT_NE(tf::palette_color(0), tf::palette_color(1));
  EXPECT_EQ(tf::palette_color(20), tf::palette_color(0));
  EXPECT_EQ(tf::palette_color(-1), tf::palette_color(19));
}

}  // namespace
