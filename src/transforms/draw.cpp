#include "modelzoo/transforms/draw.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>

#include <ATen/ATen.h>

#include "modelzoo/error.h"
#include "modelzoo/transforms/image.h"

namespace modelzoo::transforms {
namespace {

// 5 x 7 glyphs, one byte per column, bit 0 at the top (the classic LCD font).
struct Glyph {
  char c;
  uint8_t col[5];
};
constexpr Glyph kFont[] = {
    {' ', {0x00, 0x00, 0x00, 0x00, 0x00}}, {'%', {0x23, 0x13, 0x08, 0x64, 0x62}},
    {'(', {0x00, 0x1C, 0x22, 0x41, 0x00}}, {')', {0x00, 0x41, 0x22, 0x1C, 0x00}},
    {'-', {0x08, 0x08, 0x08, 0x08, 0x08}}, {'.', {0x00, 0x60, 0x60, 0x00, 0x00}},
    {'/', {0x20, 0x10, 0x08, 0x04, 0x02}}, {'0', {0x3E, 0x51, 0x49, 0x45, 0x3E}},
    {'1', {0x00, 0x42, 0x7F, 0x40, 0x00}}, {'2', {0x42, 0x61, 0x51, 0x49, 0x46}},
    {'3', {0x21, 0x41, 0x45, 0x4B, 0x31}}, {'4', {0x18, 0x14, 0x12, 0x7F, 0x10}},
    {'5', {0x27, 0x45, 0x45, 0x45, 0x39}}, {'6', {0x3C, 0x4A, 0x49, 0x49, 0x30}},
    {'7', {0x01, 0x71, 0x09, 0x05, 0x03}}, {'8', {0x36, 0x49, 0x49, 0x49, 0x36}},
    {'9', {0x06, 0x49, 0x49, 0x29, 0x1E}}, {':', {0x00, 0x36, 0x36, 0x00, 0x00}},
    {'?', {0x02, 0x01, 0x51, 0x09, 0x06}}, {'A', {0x7E, 0x11, 0x11, 0x11, 0x7E}},
    {'B', {0x7F, 0x49, 0x49, 0x49, 0x36}}, {'C', {0x3E, 0x41, 0x41, 0x41, 0x22}},
    {'D', {0x7F, 0x41, 0x41, 0x22, 0x1C}}, {'E', {0x7F, 0x49, 0x49, 0x49, 0x41}},
    {'F', {0x7F, 0x09, 0x09, 0x09, 0x01}}, {'G', {0x3E, 0x41, 0x49, 0x49, 0x7A}},
    {'H', {0x7F, 0x08, 0x08, 0x08, 0x7F}}, {'I', {0x00, 0x41, 0x7F, 0x41, 0x00}},
    {'J', {0x20, 0x40, 0x41, 0x3F, 0x01}}, {'K', {0x7F, 0x08, 0x14, 0x22, 0x41}},
    {'L', {0x7F, 0x40, 0x40, 0x40, 0x40}}, {'M', {0x7F, 0x02, 0x0C, 0x02, 0x7F}},
    {'N', {0x7F, 0x04, 0x08, 0x10, 0x7F}}, {'O', {0x3E, 0x41, 0x41, 0x41, 0x3E}},
    {'P', {0x7F, 0x09, 0x09, 0x09, 0x06}}, {'Q', {0x3E, 0x41, 0x51, 0x21, 0x5E}},
    {'R', {0x7F, 0x09, 0x19, 0x29, 0x46}}, {'S', {0x46, 0x49, 0x49, 0x49, 0x31}},
    {'T', {0x01, 0x01, 0x7F, 0x01, 0x01}}, {'U', {0x3F, 0x40, 0x40, 0x40, 0x3F}},
    {'V', {0x1F, 0x20, 0x40, 0x20, 0x1F}}, {'W', {0x3F, 0x40, 0x38, 0x40, 0x3F}},
    {'X', {0x63, 0x14, 0x08, 0x14, 0x63}}, {'Y', {0x07, 0x08, 0x70, 0x08, 0x07}},
    {'Z', {0x61, 0x51, 0x49, 0x45, 0x43}}, {'_', {0x40, 0x40, 0x40, 0x40, 0x40}},
};

const Glyph& glyph(char c) {
  const char u = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const auto& g : kFont) {
    if (g.c == u) return g;
  }
  for (const auto& g : kFont) {
    if (g.c == '?') return g;
  }
  return kFont[0];
}

// Checks the image and gives a raw pointer to its (contiguous) pixels.
struct Canvas {
  uint8_t* data;
  int64_t h, w;
  void set(int64_t x, int64_t y, const Color& c) const {
    if (x < 0 || y < 0 || x >= w || y >= h) return;
    for (int ch = 0; ch < 3; ++ch) data[ch * h * w + y * w + x] = c[static_cast<std::size_t>(ch)];
  }
  void fill(int64_t x0, int64_t y0, int64_t x1, int64_t y1, const Color& c) const {  // inclusive
    x0 = std::max<int64_t>(x0, 0), y0 = std::max<int64_t>(y0, 0);
    x1 = std::min<int64_t>(x1, w - 1), y1 = std::min<int64_t>(y1, h - 1);
    for (int64_t y = y0; y <= y1; ++y) {
      for (int64_t x = x0; x <= x1; ++x) set(x, y, c);
    }
  }
};

Canvas canvas(at::Tensor& image, const char* what) {
  if (!image.defined() || image.dim() != 3 || image.size(0) != 3 || image.scalar_type() != at::kByte) {
    std::ostringstream os;
    os << what << ": expected a 3 x H x W uint8 image, got ";
    if (image.defined()) {
      os << image.scalar_type() << " " << image.sizes();
    } else {
      os << "an undefined tensor";
    }
    throw ImageError(os.str());
  }
  if (!image.is_contiguous()) image = image.contiguous();
  return Canvas{image.data_ptr<uint8_t>(), image.size(1), image.size(2)};
}

int64_t px(double v) { return static_cast<int64_t>(std::llround(v)); }

}  // namespace

Color palette_color(int64_t index) {
  static constexpr Color kPalette[] = {
      {230, 25, 75},  {60, 180, 75},  {255, 225, 25}, {0, 130, 200},   {245, 130, 48},
      {145, 30, 180}, {70, 240, 240}, {240, 50, 230}, {210, 245, 60},  {250, 190, 212},
      {0, 128, 128},  {220, 190, 255}, {170, 110, 40}, {255, 250, 200}, {128, 0, 0},
      {170, 255, 195}, {128, 128, 0},  {255, 215, 180}, {0, 0, 128},    {128, 128, 128}};
  const int64_t n = static_cast<int64_t>(sizeof(kPalette) / sizeof(kPalette[0]));
  return kPalette[((index % n) + n) % n];
}

void draw_box(at::Tensor& image, std::array<double, 4> box, Color color, int thickness) {
  const Canvas c = canvas(image, "draw_box");
  const int64_t x0 = px(box[0]), y0 = px(box[1]), x1 = px(box[2]), y1 = px(box[3]);
  const int64_t t = std::max(thickness, 1) - 1;
  c.fill(x0, y0, x1, y0 + t, color);  // top
  c.fill(x0, y1 - t, x1, y1, color);  // bottom
  c.fill(x0, y0, x0 + t, y1, color);  // left
  c.fill(x1 - t, y0, x1, y1, color);  // right
}

std::pair<int64_t, int64_t> text_size(const std::string& text, int scale) {
  const int64_t s = std::max(scale, 1);
  return {static_cast<int64_t>(text.size()) * 6 * s + s, 8 * s + s};
}

void draw_text(at::Tensor& image, int64_t x, int64_t y, const std::string& text, Color color, Color background,
               int scale) {
  const Canvas c = canvas(image, "draw_text");
  const int64_t s = std::max(scale, 1);
  const auto [tw, th] = text_size(text, scale);
  c.fill(x, y, x + tw - 1, y + th - 1, background);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const Glyph& g = glyph(text[i]);
    const int64_t gx = x + s + static_cast<int64_t>(i) * 6 * s;
    for (int col = 0; col < 5; ++col) {
      for (int row = 0; row < 7; ++row) {
        if ((g.col[col] >> row) & 1) c.fill(gx + col * s, y + s + row * s, gx + col * s + s - 1, y + s + row * s + s - 1, color);
      }
    }
  }
}

void blend_mask(at::Tensor& image, const at::Tensor& mask, Color color, double alpha, double threshold) {
  const Canvas c = canvas(image, "blend_mask");
  if (!mask.defined() || mask.dim() != 2 || mask.size(0) != c.h || mask.size(1) != c.w) {
    std::ostringstream os;
    os << "blend_mask: expected a " << c.h << " x " << c.w << " mask, got "
       << (mask.defined() ? mask.sizes() : at::IntArrayRef{});
    throw ImageError(os.str());
  }
  const at::Tensor on = (mask.to(at::kFloat) > threshold).contiguous();
  const bool* m = on.data_ptr<bool>();
  const double a = std::clamp(alpha, 0.0, 1.0);
  for (int64_t i = 0; i < c.h * c.w; ++i) {
    if (!m[i]) continue;
    for (int ch = 0; ch < 3; ++ch) {
      uint8_t& p = c.data[ch * c.h * c.w + i];
      p = static_cast<uint8_t>(std::lround((1.0 - a) * p + a * color[static_cast<std::size_t>(ch)]));
    }
  }
}

void draw_line(at::Tensor& image, double x0, double y0, double x1, double y1, Color color, int thickness) {
  const Canvas c = canvas(image, "draw_line");
  const double len = std::max(std::abs(x1 - x0), std::abs(y1 - y0));
  const int64_t steps = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(len)));
  const int64_t r = std::max(thickness, 1) / 2;
  for (int64_t i = 0; i <= steps; ++i) {
    const double t = static_cast<double>(i) / static_cast<double>(steps);
    const int64_t x = px(x0 + t * (x1 - x0)), y = px(y0 + t * (y1 - y0));
    c.fill(x - r, y - r, x + r, y + r, color);
  }
}

void draw_keypoints(at::Tensor& image, const at::Tensor& keypoints, const std::vector<std::pair<int, int>>& skeleton,
                    Color color, int radius) {
  canvas(image, "draw_keypoints");
  if (!keypoints.defined() || keypoints.dim() != 2 || keypoints.size(1) != 3) {
    throw ImageError("draw_keypoints: expected K x 3 keypoints (x, y, visibility)");
  }
  const at::Tensor k = keypoints.to(at::kDouble).contiguous();
  const auto a = k.accessor<double, 2>();
  const int64_t n = k.size(0);
  for (const auto& [i, j] : skeleton) {
    if (i < 0 || j < 0 || i >= n || j >= n || a[i][2] <= 0 || a[j][2] <= 0) continue;
    draw_line(image, a[i][0], a[i][1], a[j][0], a[j][1], color, 2);
  }
  const Canvas c = canvas(image, "draw_keypoints");
  for (int64_t i = 0; i < n; ++i) {
    if (a[i][2] <= 0) continue;
    const int64_t cx = px(a[i][0]), cy = px(a[i][1]);
    for (int64_t dy = -radius; dy <= radius; ++dy) {
      for (int64_t dx = -radius; dx <= radius; ++dx) {
        if (dx * dx + dy * dy <= radius * radius) c.set(cx + dx, cy + dy, color);
      }
    }
  }
}

const std::vector<std::pair<int, int>>& coco_person_skeleton() {
  static const std::vector<std::pair<int, int>> s = {
      {15, 13}, {13, 11}, {16, 14}, {14, 12}, {11, 12}, {5, 11}, {6, 12}, {5, 6}, {5, 7}, {6, 8},
      {7, 9},   {8, 10},  {1, 2},   {0, 1},   {0, 2},   {1, 3},  {2, 4},  {3, 5}, {4, 6}};
  return s;
}

}  // namespace modelzoo::transforms
