#pragma once
/// \file
/// Decoding images into tensors: JPEG (libjpeg-turbo) and PNG (libpng), the
/// format detected from the first bytes, never from the file name.
///
/// The result is always a contiguous `uint8` tensor of shape 3 x H x W in RGB
/// order, as `torchvision.io.decode_image(..., ImageReadMode.RGB)` returns:
/// - JPEG: grayscale files are converted to RGB by libjpeg; CMYK and YCCK
///   files (libjpeg turns YCCK into CMYK) are converted as PIL does: every
///   4-channel JPEG is taken to hold Adobe's inverted CMYK (PIL's "CMYK;I"),
///   then R = K' - C'K'/255 (and so on, PIL's rounding) with C' = 255 - C,
///   K' = stored K, identical to `Image.open(f).convert("RGB")`;
///   the EXIF orientation tag (APP1 "Exif", TIFF tag 0x0112, either byte
///   order) is applied afterwards as PIL's `ImageOps.exif_transpose` does.
///   libjpeg's "premature end of file" and "premature end of data segment"
///   warnings are errors here (libjpeg itself would return an image whose
///   missing part is gray); other corrupt-data warnings are ignored, as
///   libjpeg and PIL do.
/// - PNG: palette, grayscale (1 to 16 bits) and alpha are converted to 8-bit
///   RGB: the palette is expanded, gray is replicated into three channels,
///   alpha (and tRNS transparency) is dropped without compositing, 16-bit
///   samples keep their high byte. CRC errors in any chunk are errors.
///
/// Before anything is allocated for pixels, the declared width and height
/// are checked against DecodeOptions::max_pixels, so a 100000 x 100000 header
/// in a 100-byte file is refused at once. Every failure throws ImageError
/// naming the file (or the name given for in-memory data) and what is wrong.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include <ATen/core/Tensor.h>

#include "modelzoo/error.h"

namespace modelzoo {

/// An image could not be decoded: empty, truncated, corrupt, too large or in
/// an unsupported format. The message names the file.
class ImageError : public Error {
 public:
  using Error::Error;
};

}  // namespace modelzoo

namespace modelzoo::transforms {

/// Image container formats recognised by their magic bytes.
enum class ImageFormat { Unknown, Jpeg, Png, Gif, Bmp, Webp, Tiff };

/// The format of `data` from its first bytes (Unknown when unrecognised).
ImageFormat detect_image_format(const uint8_t* data, std::size_t size);

/// "JPEG", "PNG", "GIF", ... ("unknown" for Unknown).
const char* image_format_name(ImageFormat format);

/// How to decode.
struct DecodeOptions {
  /// Largest accepted width x height (default 2^28, e.g. 16384 x 16384).
  uint64_t max_pixels = uint64_t{1} << 28;
  /// Apply the JPEG EXIF orientation tag (PIL's exif_transpose).
  bool apply_exif_orientation = true;
};

/// Decodes JPEG or PNG bytes to a 3 x H x W uint8 RGB tensor. `name`
/// identifies the data in error messages.
at::Tensor decode_image(const uint8_t* data, std::size_t size, const std::string& name,
                        const DecodeOptions& options = {});

/// decode_image() of a whole string of bytes.
at::Tensor decode_image(const std::string& bytes, const std::string& name, const DecodeOptions& options = {});

/// Reads and decodes the file `path`; errors name it.
at::Tensor read_image(const std::filesystem::path& path, const DecodeOptions& options = {});

/// The EXIF orientation (1..8) of JPEG bytes: the value of tag 0x0112 in the
/// first APP1 "Exif" segment. 1 (as stored) when there is no such segment or
/// tag, or when the value is outside 1..8. Never throws.
int jpeg_exif_orientation(const uint8_t* data, std::size_t size);

/// Turns a C x H x W image stored with EXIF `orientation` (1..8) upright:
/// 2 mirror, 3 rotate 180, 4 flip vertically, 5 transpose, 6 rotate 90
/// clockwise, 7 transverse, 8 rotate 90 counter-clockwise (PIL's
/// exif_transpose). Returns a contiguous tensor.
at::Tensor apply_exif_orientation(const at::Tensor& image, int orientation);

}  // namespace modelzoo::transforms
