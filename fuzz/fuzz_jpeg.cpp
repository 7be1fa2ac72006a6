// JPEG decoding (libjpeg-turbo through transforms::decode_image): RGB, gray,
// CMYK / YCCK (Adobe), progressive, with and without an EXIF orientation,
// up to 2^20 pixels.
#include <cstdio>
#include <cstdlib>

#include <jpeglib.h>

#include <ATen/core/Tensor.h>

#include "fuzz_target.h"
#include "modelzoo/error.h"
#include "modelzoo/transforms/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  modelzoo::transforms::DecodeOptions opt;
  opt.max_pixels = uint64_t{1} << 20;
  try {
    modelzoo::transforms::decode_image(data, size, "fuzz.jpg", opt);
  } catch (const modelzoo::Error&) {
  }
  return 0;
}

namespace {

// A w x h JPEG of `components` channels in color space `in`, stored as `out_cs`.
std::string encode_jpeg(int w, int h, int components, J_COLOR_SPACE in, J_COLOR_SPACE out_cs, bool progressive,
                        int orientation) {
  jpeg_compress_struct c{};
  jpeg_error_mgr err{};
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long len = 0;
  jpeg_mem_dest(&c, &buf, &len);
  c.image_width = w;
  c.image_height = h;
  c.input_components = components;
  c.in_color_space = in;
  jpeg_set_defaults(&c);
  jpeg_set_colorspace(&c, out_cs);
  jpeg_set_quality(&c, 90, TRUE);
  if (progressive) jpeg_simple_progression(&c);
  jpeg_start_compress(&c, TRUE);
  if (orientation > 1) {
    // APP1 "Exif", little-endian TIFF, one IFD entry: orientation (0x0112, SHORT).
    const unsigned char exif[] = {'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0,
                                  1, 0, 0, 0, static_cast<unsigned char>(orientation), 0, 0, 0, 0, 0, 0, 0};
    jpeg_write_marker(&c, JPEG_APP0 + 1, exif, sizeof exif);
  }
  std::vector<JSAMPLE> row(static_cast<std::size_t>(w) * components);
  while (c.next_scanline < c.image_height) {
    for (std::size_t i = 0; i < row.size(); ++i) row[i] = static_cast<JSAMPLE>((i * 29 + c.next_scanline * 11) & 0xFF);
    JSAMPROW r = row.data();
    jpeg_write_scanlines(&c, &r, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::string out(reinterpret_cast<const char*>(buf), len);
  std::free(buf);
  return out;
}

}  // namespace

std::vector<std::string> mz_fuzz_seeds() {
  return {encode_jpeg(16, 8, 3, JCS_RGB, JCS_YCbCr, false, 1), encode_jpeg(8, 8, 1, JCS_GRAYSCALE, JCS_GRAYSCALE, false, 1),
          encode_jpeg(9, 7, 4, JCS_CMYK, JCS_CMYK, false, 1),  encode_jpeg(8, 16, 4, JCS_CMYK, JCS_YCCK, false, 1),
          encode_jpeg(17, 5, 3, JCS_RGB, JCS_YCbCr, true, 6),  encode_jpeg(4, 4, 3, JCS_RGB, JCS_RGB, false, 3)};
}
