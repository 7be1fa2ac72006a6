#pragma once
/// \file
/// Encoding images: PNG (libpng, lossless, 8-bit RGB) and JPEG (libjpeg-turbo,
/// baseline, 4:2:0 chroma subsampling at quality < 90, 4:4:4 above). The input
/// is what decode_image() returns: a `uint8` tensor of shape 3 x H x W, RGB
/// (a 1 x H x W gray image is accepted and written as gray).
///
/// write_image() publishes atomically: the bytes go to `<path>.<pid>.tmp` in
/// the same directory, which is renamed over `path` only when complete, so a
/// failure (full disk, bad tensor) never leaves a partial file under `path`.
/// Every failure throws ImageError naming the file.

#include <cstdint>
#include <filesystem>
#include <string>

#include <ATen/core/Tensor.h>

#include "modelzoo/transforms/image.h"

namespace modelzoo::transforms {

/// How to encode.
struct EncodeOptions {
  /// JPEG quality 1..100 (libjpeg's scale; PIL's default is 75).
  int jpeg_quality = 90;
};

/// PNG bytes of a 3 x H x W (or 1 x H x W) uint8 image. `name` identifies it in errors.
std::string encode_png(const at::Tensor& image, const std::string& name = "image");

/// JPEG bytes of a 3 x H x W (or 1 x H x W) uint8 image.
std::string encode_jpeg(const at::Tensor& image, const std::string& name = "image",
                        const EncodeOptions& options = {});

/// The format write_image() picks for `path`: JPEG for `.jpg`/`.jpeg`, PNG for
/// `.png` (case-insensitive); Unknown otherwise.
ImageFormat image_format_for_path(const std::filesystem::path& path);

/// Encodes `image` as the format its extension names and writes it to `path`
/// atomically. Throws ImageError for other extensions, bad tensors or I/O errors.
void write_image(const std::filesystem::path& path, const at::Tensor& image,
                 const EncodeOptions& options = {});

}  // namespace modelzoo::transforms
