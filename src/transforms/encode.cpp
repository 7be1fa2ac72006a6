// PNG and JPEG encoding (libpng, libjpeg-turbo); see encode.h.
#include "modelzoo/transforms/encode.h"

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <system_error>

#include <unistd.h>

#include <ATen/ATen.h>
#include <jpeglib.h>
#include <png.h>

namespace modelzoo::transforms {
namespace {

[[noreturn]] void fail(const std::string& name, const std::string& what) {
  throw ImageError("cannot encode " + name + ": " + what);
}

// The image as a contiguous H x W x C uint8 tensor (C = 1 or 3).
at::Tensor interleaved(const at::Tensor& image, const std::string& name) {
  if (!image.defined()) fail(name, "undefined tensor");
  if (image.scalar_type() != at::kByte) {
    fail(name, std::string("expected a uint8 tensor, got ") + c10::toString(image.scalar_type()));
  }
  if (image.dim() != 3 || (image.size(0) != 3 && image.size(0) != 1)) {
    fail(name, "expected a 3 x H x W or 1 x H x W tensor, got " + std::to_string(image.dim()) +
                   " dimensions" + (image.dim() > 0 ? " (first " + std::to_string(image.size(0)) + ")" : ""));
  }
  if (image.size(1) < 1 || image.size(2) < 1 || image.size(1) > 65500 || image.size(2) > 65500) {
    fail(name, "width and height must be 1..65500, got " + std::to_string(image.size(2)) + " x " +
                   std::to_string(image.size(1)));
  }
  return image.to(at::kCPU).permute({1, 2, 0}).contiguous();
}

// A growable malloc'd buffer that libpng's write callback appends to; no
// C++ exception ever crosses libpng's C frames.
struct PngSink {
  unsigned char* data = nullptr;
  std::size_t size = 0;
  std::size_t capacity = 0;
  std::jmp_buf jump;
  char message[256] = {0};
  ~PngSink() { std::free(data); }
};

extern "C" void mz_png_write(png_structp png, png_bytep bytes, png_size_t n) {
  auto* sink = static_cast<PngSink*>(png_get_io_ptr(png));
  if (sink->size + n > sink->capacity) {
    std::size_t cap = sink->capacity ? sink->capacity : 65536;
    while (cap < sink->size + n) cap *= 2;
    auto* grown = static_cast<unsigned char*>(std::realloc(sink->data, cap));
    if (grown == nullptr) png_error(png, "out of memory");
    sink->data = grown;
    sink->capacity = cap;
  }
  std::memcpy(sink->data + sink->size, bytes, n);
  sink->size += n;
}
extern "C" void mz_png_flush(png_structp) {}
extern "C" void mz_png_encode_error(png_structp png, png_const_charp msg) {
  auto* sink = static_cast<PngSink*>(png_get_error_ptr(png));
  std::snprintf(sink->message, sizeof sink->message, "%s", msg);
  std::longjmp(sink->jump, 1);
}
extern "C" void mz_png_encode_warning(png_structp, png_const_charp) {}

// No C++ objects with destructors live in this frame (setjmp/longjmp).
bool png_encode_c(png_structp png, png_infop info, PngSink* sink, const unsigned char* pixels,
                  png_uint_32 width, png_uint_32 height, int channels) {
  if (setjmp(sink->jump)) return false;
  png_set_write_fn(png, sink, mz_png_write, mz_png_flush);
  png_set_IHDR(png, info, width, height, 8, channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level(png, 6);
  png_write_info(png, info);
  const std::size_t stride = static_cast<std::size_t>(width) * channels;
  for (png_uint_32 y = 0; y < height; ++y) {
    png_write_row(png, const_cast<png_bytep>(pixels + y * stride));
  }
  png_write_end(png, info);
  return true;
}

struct JpegSinkError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = {0};
};

extern "C" void mz_jpeg_encode_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegSinkError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

bool jpeg_encode_c(jpeg_compress_struct* cinfo, JpegSinkError* err, unsigned char** out,
                   unsigned long* out_size, const unsigned char* pixels, JDIMENSION width,
                   JDIMENSION height, int channels, int quality) {
  if (setjmp(err->jump)) return false;
  jpeg_create_compress(cinfo);
  jpeg_mem_dest(cinfo, out, out_size);
  cinfo->image_width = width;
  cinfo->image_height = height;
  cinfo->input_components = channels;
  cinfo->in_color_space = channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(cinfo);
  jpeg_set_quality(cinfo, quality, TRUE);
  if (channels == 3 && quality >= 90) {
    for (int c = 0; c < 3; ++c) cinfo->comp_info[c].h_samp_factor = cinfo->comp_info[c].v_samp_factor = 1;
  }
  jpeg_start_compress(cinfo, TRUE);
  const std::size_t stride = static_cast<std::size_t>(width) * channels;
  while (cinfo->next_scanline < cinfo->image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(pixels + cinfo->next_scanline * stride);
    jpeg_write_scanlines(cinfo, &row, 1);
  }
  jpeg_finish_compress(cinfo);
  return true;
}

std::string lower_extension(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  for (char& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return ext;
}

}  // namespace

std::string encode_png(const at::Tensor& image, const std::string& name) {
  at::Tensor hwc = interleaved(image, name);
  const auto height = static_cast<png_uint_32>(hwc.size(0));
  const auto width = static_cast<png_uint_32>(hwc.size(1));
  const int channels = static_cast<int>(hwc.size(2));
  PngSink sink;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, mz_png_encode_error,
                                            mz_png_encode_warning);
  if (png == nullptr) fail(name, "libpng could not start");
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_write_struct(&png, nullptr);
    fail(name, "libpng could not start");
  }
  const bool ok = png_encode_c(png, info, &sink, hwc.data_ptr<uint8_t>(), width, height, channels);
  png_destroy_write_struct(&png, &info);
  if (!ok) fail(name, std::string("PNG: ") + sink.message);
  return std::string(reinterpret_cast<const char*>(sink.data), sink.size);
}

std::string encode_jpeg(const at::Tensor& image, const std::string& name, const EncodeOptions& options) {
  if (options.jpeg_quality < 1 || options.jpeg_quality > 100) {
    fail(name, "JPEG quality must be 1..100, got " + std::to_string(options.jpeg_quality));
  }
  at::Tensor hwc = interleaved(image, name);
  jpeg_compress_struct cinfo{};
  JpegSinkError err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = mz_jpeg_encode_error_exit;
  unsigned char* out = nullptr;
  unsigned long out_size = 0;
  const bool ok = jpeg_encode_c(&cinfo, &err, &out, &out_size, hwc.data_ptr<uint8_t>(),
                                static_cast<JDIMENSION>(hwc.size(1)), static_cast<JDIMENSION>(hwc.size(0)),
                                static_cast<int>(hwc.size(2)), options.jpeg_quality);
  jpeg_destroy_compress(&cinfo);
  std::string bytes;
  if (ok) bytes.assign(reinterpret_cast<const char*>(out), out_size);
  std::free(out);
  if (!ok) fail(name, std::string("JPEG: ") + err.message);
  return bytes;
}

ImageFormat image_format_for_path(const std::filesystem::path& path) {
  const std::string ext = lower_extension(path);
  if (ext == ".jpg" || ext == ".jpeg") return ImageFormat::Jpeg;
  if (ext == ".png") return ImageFormat::Png;
  return ImageFormat::Unknown;
}

void write_image(const std::filesystem::path& path, const at::Tensor& image, const EncodeOptions& options) {
  const std::string name = path.string();
  std::string bytes;
  switch (image_format_for_path(path)) {
    case ImageFormat::Jpeg: bytes = encode_jpeg(image, name, options); break;
    case ImageFormat::Png: bytes = encode_png(image, name); break;
    default:
      throw ImageError("cannot write " + name + ": unknown image extension " +
                       (path.extension().empty() ? std::string("(none)") : path.extension().string()) +
                       " (expected .png, .jpg or .jpeg)");
  }
  std::filesystem::path tmp = path;
  tmp += "." + std::to_string(::getpid()) + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      out.close();
      std::error_code ignored;
      std::filesystem::remove(tmp, ignored);
      throw ImageError("cannot write " + name + ": writing " + tmp.string() + " failed (" +
                       std::strerror(errno) + ")");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw ImageError("cannot write " + name + ": " + ec.message());
  }
}

}  // namespace modelzoo::transforms
