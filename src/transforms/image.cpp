#include "modelzoo/transforms/image.h"

#include <algorithm>
#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <vector>

#include <ATen/ATen.h>

extern "C" {
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
}

namespace modelzoo::transforms {
namespace {

[[noreturn]] void fail(const std::string& name, const std::string& what) {
  throw ImageError(name + ": " + what);
}

void check_dimensions(const std::string& name, const char* format, uint64_t width, uint64_t height,
                      const DecodeOptions& options) {
  if (width == 0 || height == 0) {
    fail(name, std::string(format) + " header declares an empty image (" + std::to_string(width) + " x " +
                   std::to_string(height) + ")");
  }
  // width and height are at most 2^32 each, so the product fits in 64 bits.
  if (width * height > options.max_pixels) {
    fail(name, std::string(format) + " header declares " + std::to_string(width) + " x " + std::to_string(height) +
                   " (width x height) pixels, more than the limit of " + std::to_string(options.max_pixels) +
                   " (DecodeOptions::max_pixels); refused before decoding");
  }
}

uint16_t read_u16(const uint8_t* p, bool big_endian) {
  return big_endian ? static_cast<uint16_t>(p[0] << 8 | p[1]) : static_cast<uint16_t>(p[1] << 8 | p[0]);
}

uint32_t read_u32(const uint8_t* p, bool big_endian) {
  return big_endian ? (uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3])
                    : (uint32_t{p[3]} << 24 | uint32_t{p[2]} << 16 | uint32_t{p[1]} << 8 | p[0]);
}

// ---------------------------------------------------------------------------
// JPEG. libjpeg reports errors through error_exit, which must not return: it
// longjmps back into the small C-style functions below, which hold no C++
// objects, so nothing is skipped that needs a destructor. The decompressor
// itself is released by JpegHolder in the caller.

struct JpegError {
  jpeg_error_mgr mgr;  // first member: libjpeg sees a jpeg_error_mgr*
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

extern "C" void mz_jpeg_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

extern "C" void mz_jpeg_emit_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  const int code = cinfo->err->msg_code;
  if (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER) {
    // libjpeg would fill the rest of the image with gray and go on.
    (*cinfo->err->format_message)(cinfo, err->message);
    std::longjmp(err->jump, 1);
  }
  cinfo->err->num_warnings++;
}

bool jpeg_create_c(jpeg_decompress_struct* cinfo, JpegError* err) {
  if (setjmp(err->jump)) return false;
  jpeg_create_decompress(cinfo);
  return true;
}

bool jpeg_header_c(jpeg_decompress_struct* cinfo, JpegError* err, const uint8_t* data, std::size_t size) {
  if (setjmp(err->jump)) return false;
  jpeg_mem_src(cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(cinfo, TRUE);
  return true;
}

bool jpeg_start_c(jpeg_decompress_struct* cinfo, JpegError* err, J_COLOR_SPACE out) {
  if (setjmp(err->jump)) return false;
  cinfo->out_color_space = out;
  jpeg_start_decompress(cinfo);
  return true;
}

// PIL's CMYK -> RGB after its "CMYK;I" unpacking, which inverts every stored
// value (PIL assumes Adobe's convention for every 4-channel JPEG): with
// c = 255 - stored, k = 255 - stored_k and nk = 255 - k,
// rgb = clip(nk - c * nk / 255) with PIL's rounding MULDIV255.
void cmyk_row_to_rgb(const uint8_t* in, uint8_t* out, std::size_t width) {
  for (std::size_t x = 0; x < width; ++x, in += 4, out += 3) {
    const int nk = in[3];
    for (int ch = 0; ch < 3; ++ch) {
      const int t = (255 - in[ch]) * nk + 128;
      const int v = nk - (((t >> 8) + t) >> 8);
      out[ch] = static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
    }
  }
}

// Decodes a CMYK / YCCK JPEG (libjpeg turns YCCK into CMYK) row by row through
// `row` (4 x width bytes, allocated by the caller: nothing here may own memory
// across a longjmp) into RGB rows of `out`.
bool jpeg_cmyk_pixels_c(jpeg_decompress_struct* cinfo, JpegError* err, uint8_t* row, uint8_t* out, std::size_t stride) {
  if (setjmp(err->jump)) return false;
  while (cinfo->output_scanline < cinfo->output_height) {
    uint8_t* dst = out + static_cast<std::size_t>(cinfo->output_scanline) * stride;
    JSAMPROW r = row;
    jpeg_read_scanlines(cinfo, &r, 1);
    cmyk_row_to_rgb(row, dst, cinfo->output_width);
  }
  jpeg_finish_decompress(cinfo);
  return true;
}

bool jpeg_pixels_c(jpeg_decompress_struct* cinfo, JpegError* err, uint8_t* out, std::size_t stride) {
  if (setjmp(err->jump)) return false;
  while (cinfo->output_scanline < cinfo->output_height) {
    JSAMPROW row = out + static_cast<std::size_t>(cinfo->output_scanline) * stride;
    jpeg_read_scanlines(cinfo, &row, 1);
  }
  jpeg_finish_decompress(cinfo);
  return true;
}

struct JpegHolder {
  jpeg_decompress_struct cinfo{};
  bool created = false;
  ~JpegHolder() {
    if (created) jpeg_destroy_decompress(&cinfo);
  }
};

at::Tensor decode_jpeg(const uint8_t* data, std::size_t size, const std::string& name,
                       const DecodeOptions& options) {
  JpegError err{};  // outlives the decompressor, which points to it
  JpegHolder h;
  h.cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = mz_jpeg_error_exit;
  err.mgr.emit_message = mz_jpeg_emit_message;
  auto jpeg_fail = [&](const char* stage) { fail(name, std::string("JPEG ") + stage + " failed: " + err.message); };

  if (!jpeg_create_c(&h.cinfo, &err)) jpeg_fail("setup");
  h.created = true;
  if (!jpeg_header_c(&h.cinfo, &err, data, size)) jpeg_fail("header");
  check_dimensions(name, "JPEG", h.cinfo.image_width, h.cinfo.image_height, options);
  const J_COLOR_SPACE cs = h.cinfo.jpeg_color_space;
  const bool cmyk = cs == JCS_CMYK || cs == JCS_YCCK;
  if (!jpeg_start_c(&h.cinfo, &err, cmyk ? JCS_CMYK : JCS_RGB)) jpeg_fail("decompression");
  const int64_t height = h.cinfo.output_height, width = h.cinfo.output_width;
  if (h.cinfo.output_components != (cmyk ? 4 : 3)) {
    fail(name, "JPEG decoder produced " + std::to_string(h.cinfo.output_components) + " components, expected " +
                   (cmyk ? "4 (CMYK)" : "3"));
  }
  at::Tensor hwc = at::empty({height, width, 3}, at::kByte);
  const std::size_t stride = static_cast<std::size_t>(width) * 3;
  if (cmyk) {
    std::vector<uint8_t> row(static_cast<std::size_t>(width) * 4);
    if (!jpeg_cmyk_pixels_c(&h.cinfo, &err, row.data(), hwc.data_ptr<uint8_t>(), stride)) jpeg_fail("decoding");
  } else if (!jpeg_pixels_c(&h.cinfo, &err, hwc.data_ptr<uint8_t>(), stride)) {
    jpeg_fail("decoding");
  }
  at::Tensor chw = hwc.permute({2, 0, 1});
  if (options.apply_exif_orientation) {
    const int orientation = jpeg_exif_orientation(data, size);
    if (orientation != 1) return apply_exif_orientation(chw, orientation);
  }
  return chw.contiguous();
}

// ---------------------------------------------------------------------------
// PNG. Same pattern: libpng's error callback longjmps into the C-style
// functions; the read struct is released by PngHolder in the caller.

struct PngContext {
  const uint8_t* data = nullptr;
  std::size_t size = 0, pos = 0;
  std::jmp_buf jump;
  char message[256] = {0};
};

extern "C" void mz_png_error(png_structp png, png_const_charp msg) {
  auto* ctx = static_cast<PngContext*>(png_get_error_ptr(png));
  std::snprintf(ctx->message, sizeof ctx->message, "%s", msg ? msg : "unknown error");
  std::longjmp(ctx->jump, 1);
}

extern "C" void mz_png_warning(png_structp, png_const_charp) {}

extern "C" void mz_png_read(png_structp png, png_bytep out, png_size_t n) {
  auto* ctx = static_cast<PngContext*>(png_get_io_ptr(png));
  if (n > ctx->size - ctx->pos) png_error(png, "unexpected end of file (truncated)");
  std::memcpy(out, ctx->data + ctx->pos, n);
  ctx->pos += n;
}

struct PngHeader {
  png_uint_32 width = 0, height = 0;
  int bit_depth = 0, color_type = 0, interlace = 0;
};

bool png_header_c(png_structp png, png_infop info, PngContext* ctx, PngHeader* hdr) {
  if (setjmp(ctx->jump)) return false;
  png_set_read_fn(png, ctx, mz_png_read);
  png_set_crc_action(png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
  png_read_info(png, info);
  png_get_IHDR(png, info, &hdr->width, &hdr->height, &hdr->bit_depth, &hdr->color_type, &hdr->interlace,
               nullptr, nullptr);
  return true;
}

bool png_setup_c(png_structp png, png_infop info, PngContext* ctx, const PngHeader* hdr, png_size_t* rowbytes) {
  if (setjmp(ctx->jump)) return false;
  if (hdr->bit_depth == 16) png_set_strip_16(png);
  if (hdr->color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (hdr->color_type == PNG_COLOR_TYPE_GRAY && hdr->bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  // Palette expansion turns tRNS into an alpha channel: dropped as well.
  if ((hdr->color_type & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS)) png_set_strip_alpha(png);
  if (hdr->color_type == PNG_COLOR_TYPE_GRAY || hdr->color_type == PNG_COLOR_TYPE_GRAY_ALPHA) {
    png_set_gray_to_rgb(png);
  }
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  *rowbytes = png_get_rowbytes(png, info);
  return true;
}

bool png_pixels_c(png_structp png, png_infop info, PngContext* ctx, png_bytepp rows) {
  if (setjmp(ctx->jump)) return false;
  png_read_image(png, rows);
  png_read_end(png, nullptr);
  return true;
}

struct PngHolder {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngHolder() {
    if (png != nullptr) png_destroy_read_struct(&png, info != nullptr ? &info : nullptr, nullptr);
  }
};

at::Tensor decode_png(const uint8_t* data, std::size_t size, const std::string& name, const DecodeOptions& options) {
  PngContext ctx;
  ctx.data = data;
  ctx.size = size;
  PngHolder h;
  h.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, mz_png_error, mz_png_warning);
  if (h.png == nullptr) fail(name, "cannot create a PNG reader");
  h.info = png_create_info_struct(h.png);
  if (h.info == nullptr) fail(name, "cannot create a PNG reader");
  auto png_fail = [&](const char* stage) { fail(name, std::string("PNG ") + stage + " failed: " + ctx.message); };

  // The IHDR chunk is the first after the signature: its size is checked
  // before libpng reads (and allocates for) any other chunk.
  if (size >= 24 && std::memcmp(data + 12, "IHDR", 4) == 0) {
    check_dimensions(name, "PNG", read_u32(data + 16, true), read_u32(data + 20, true), options);
  }
  PngHeader hdr;
  if (!png_header_c(h.png, h.info, &ctx, &hdr)) png_fail("header");
  check_dimensions(name, "PNG", hdr.width, hdr.height, options);
  png_size_t rowbytes = 0;
  if (!png_setup_c(h.png, h.info, &ctx, &hdr, &rowbytes)) png_fail("setup");
  const int64_t height = hdr.height, width = hdr.width;
  if (rowbytes != static_cast<png_size_t>(width) * 3) {
    fail(name, "PNG rows are " + std::to_string(rowbytes) + " bytes after conversion, expected " +
                   std::to_string(width * 3));
  }
  at::Tensor hwc = at::empty({height, width, 3}, at::kByte);
  std::vector<png_bytep> rows(static_cast<std::size_t>(height));
  uint8_t* base = hwc.data_ptr<uint8_t>();
  for (int64_t y = 0; y < height; ++y) rows[y] = base + static_cast<std::size_t>(y) * rowbytes;
  if (!png_pixels_c(h.png, h.info, &ctx, rows.data())) png_fail("decoding");
  return hwc.permute({2, 0, 1}).contiguous();
}

// ---------------------------------------------------------------------------
// EXIF: a bounds-checked walk over the JPEG markers up to the first scan.

// The orientation tag of a TIFF structure (the body of an Exif APP1 after
// "Exif\0\0"), or 0 when absent or malformed.
int tiff_orientation(const uint8_t* tiff, std::size_t n) {
  if (n < 8) return 0;
  bool big;
  if (tiff[0] == 'I' && tiff[1] == 'I') {
    big = false;
  } else if (tiff[0] == 'M' && tiff[1] == 'M') {
    big = true;
  } else {
    return 0;
  }
  if (read_u16(tiff + 2, big) != 42) return 0;
  const uint32_t ifd = read_u32(tiff + 4, big);
  if (ifd > n || n - ifd < 2) return 0;
  const uint16_t count = read_u16(tiff + ifd, big);
  for (uint32_t i = 0; i < count; ++i) {
    const uint64_t off = uint64_t{ifd} + 2 + uint64_t{i} * 12;
    if (off + 12 > n) return 0;
    const uint8_t* e = tiff + off;
    if (read_u16(e, big) != 0x0112) continue;
    const uint16_t type = read_u16(e + 2, big);
    const uint32_t cnt = read_u32(e + 4, big);
    if (cnt < 1) return 0;
    if (type == 3) return read_u16(e + 8, big);      // SHORT, stored in the value field
    if (type == 4) return static_cast<int>(read_u32(e + 8, big) & 0xffff);  // LONG
    return 0;
  }
  return 0;
}

}  // namespace

int jpeg_exif_orientation(const uint8_t* data, std::size_t size) {
  if (size < 4 || data[0] != 0xFF || data[1] != 0xD8) return 1;
  std::size_t pos = 2;
  while (pos + 4 <= size) {
    if (data[pos] != 0xFF) return 1;
    const uint8_t marker = data[pos + 1];
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    if (marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) {
      pos += 2;  // markers without a length
      continue;
    }
    if (marker == 0xDA || marker == 0xD9) return 1;  // start of scan / end of image
    const std::size_t len = static_cast<std::size_t>(data[pos + 2]) << 8 | data[pos + 3];
    if (len < 2 || pos + 2 + len > size) return 1;
    const uint8_t* body = data + pos + 4;
    const std::size_t body_len = len - 2;
    if (marker == 0xE1 && body_len >= 6 && std::memcmp(body, "Exif\0\0", 6) == 0) {
      const int o = tiff_orientation(body + 6, body_len - 6);
      return (o >= 1 && o <= 8) ? o : 1;
    }
    pos += 2 + len;
  }
  return 1;
}

at::Tensor apply_exif_orientation(const at::Tensor& image, int orientation) {
  TORCH_CHECK(image.dim() == 3, "apply_exif_orientation: expected a C x H x W tensor, got ", image.sizes());
  switch (orientation) {
    case 2: return image.flip({2}).contiguous();
    case 3: return image.flip({1, 2}).contiguous();
    case 4: return image.flip({1}).contiguous();
    case 5: return image.transpose(1, 2).contiguous();
    case 6: return image.transpose(1, 2).flip({2}).contiguous();
    case 7: return image.transpose(1, 2).flip({1, 2}).contiguous();
    case 8: return image.transpose(1, 2).flip({1}).contiguous();
    default: return image.contiguous();
  }
}

ImageFormat detect_image_format(const uint8_t* d, std::size_t n) {
  if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) return ImageFormat::Jpeg;
  if (n >= 8 && std::memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0) return ImageFormat::Png;
  if (n >= 6 && (std::memcmp(d, "GIF87a", 6) == 0 || std::memcmp(d, "GIF89a", 6) == 0)) return ImageFormat::Gif;
  if (n >= 2 && d[0] == 'B' && d[1] == 'M') return ImageFormat::Bmp;
  if (n >= 12 && std::memcmp(d, "RIFF", 4) == 0 && std::memcmp(d + 8, "WEBP", 4) == 0) return ImageFormat::Webp;
  if (n >= 4 && (std::memcmp(d, "II*\0", 4) == 0 || std::memcmp(d, "MM\0*", 4) == 0)) return ImageFormat::Tiff;
  return ImageFormat::Unknown;
}

const char* image_format_name(ImageFormat format) {
  switch (format) {
    case ImageFormat::Jpeg: return "JPEG";
    case ImageFormat::Png: return "PNG";
    case ImageFormat::Gif: return "GIF";
    case ImageFormat::Bmp: return "BMP";
    case ImageFormat::Webp: return "WebP";
    case ImageFormat::Tiff: return "TIFF";
    case ImageFormat::Unknown: break;
  }
  return "unknown";
}

at::Tensor decode_image(const uint8_t* data, std::size_t size, const std::string& name,
                        const DecodeOptions& options) {
  if (size == 0) fail(name, "empty file (0 bytes), not an image");
  const ImageFormat format = detect_image_format(data, size);
  switch (format) {
    case ImageFormat::Jpeg: return decode_jpeg(data, size, name, options);
    case ImageFormat::Png: return decode_png(data, size, name, options);
    case ImageFormat::Unknown: {
      std::string head;
      for (std::size_t i = 0; i < std::min<std::size_t>(size, 8); ++i) {
        static const char* hex = "0123456789abcdef";
        if (i) head += ' ';
        head += hex[data[i] >> 4];
        head += hex[data[i] & 15];
      }
      fail(name, "not a JPEG or PNG image (unrecognised content; first bytes " + head + ")");
    }
    default:
      fail(name, std::string("unsupported image format ") + image_format_name(format) + " (only JPEG and PNG are decoded)");
  }
}

at::Tensor decode_image(const std::string& bytes, const std::string& name, const DecodeOptions& options) {
  return decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), name, options);
}

at::Tensor read_image(const std::filesystem::path& path, const DecodeOptions& options) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail(path.string(), "is a directory, not an image file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path.string(), std::string("cannot open: ") + std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail(path.string(), "read error");
  return decode_image(bytes, path.string(), options);
}

}  // namespace modelzoo::transforms
