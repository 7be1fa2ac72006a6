// PNG decoding (libpng through transforms::decode_image): gray, palette,
// alpha, 16-bit and interlaced images, up to 2^20 pixels.
#include <png.h>

#include <ATen/core/Tensor.h>

#include "fuzz_target.h"
#include "modelzoo/error.h"
#include "modelzoo/transforms/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  modelzoo::transforms::DecodeOptions opt;
  opt.max_pixels = uint64_t{1} << 20;
  try {
    modelzoo::transforms::decode_image(data, size, "fuzz.png", opt);
  } catch (const modelzoo::Error&) {
  }
  return 0;
}

namespace {

// A w x h PNG of `color_type` and `bit_depth` with a gradient, in memory.
std::string encode_png(int w, int h, int color_type, int bit_depth, bool interlaced) {
  std::string out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return {};
  }
  png_set_write_fn(
      png, &out,
      [](png_structp p, png_bytep d, png_size_t n) {
        static_cast<std::string*>(png_get_io_ptr(p))->append(reinterpret_cast<const char*>(d), n);
      },
      nullptr);
  png_set_IHDR(png, info, w, h, bit_depth, color_type, interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (color_type == PNG_COLOR_TYPE_PALETTE) {
    png_color palette[4] = {{0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {0, 0, 255}};
    png_set_PLTE(png, info, palette, 4);
    png_byte alpha[2] = {0, 128};
    png_set_tRNS(png, info, alpha, 2, nullptr);
  }
  png_write_info(png, info);
  const int channels = color_type == PNG_COLOR_TYPE_RGB ? 3 : color_type == PNG_COLOR_TYPE_RGB_ALPHA ? 4
                       : color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
  const std::size_t row_bytes = (static_cast<std::size_t>(w) * channels * bit_depth + 7) / 8;
  std::vector<png_byte> image(row_bytes * h);
  for (std::size_t i = 0; i < image.size(); ++i) image[i] = static_cast<png_byte>((i * 37) & (bit_depth < 8 ? 0x55 : 0xFF));
  std::vector<png_bytep> rows(h);
  for (int y = 0; y < h; ++y) rows[y] = image.data() + y * row_bytes;
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

}  // namespace

std::vector<std::string> mz_fuzz_seeds() {
  return {encode_png(5, 3, PNG_COLOR_TYPE_RGB, 8, false),       encode_png(4, 4, PNG_COLOR_TYPE_GRAY, 8, false),
          encode_png(3, 5, PNG_COLOR_TYPE_RGB_ALPHA, 8, true),  encode_png(6, 2, PNG_COLOR_TYPE_PALETTE, 2, false),
          encode_png(2, 2, PNG_COLOR_TYPE_RGB, 16, false),      encode_png(7, 3, PNG_COLOR_TYPE_GRAY_ALPHA, 8, false),
          encode_png(9, 9, PNG_COLOR_TYPE_GRAY, 1, true)};
}
