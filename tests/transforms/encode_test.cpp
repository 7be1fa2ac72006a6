// Encoding: PNG is lossless (our decoder and PIL read back the same pixels),
// JPEG is read by PIL within a quality-dependent error, write_image() never
// leaves a partial file, and bad tensors or extensions are refused by name.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include <ATen/ATen.h>

#include "modelzoo/transforms/encode.h"
#include "modelzoo/transforms/image.h"
#include "support/process.h"

namespace {

namespace fs = std::filesystem;
namespace tr = modelzoo::transforms;
using ::testing::AllOf;
using ::testing::HasSubstr;

// A smooth image with sharp edges: gradients plus a bright square.
at::Tensor test_image(int64_t h, int64_t w) {
  auto ys = at::arange(h, at::kFloat).view({1, h, 1}).expand({1, h, w});
  auto xs = at::arange(w, at::kFloat).view({1, 1, w}).expand({1, h, w});
  auto img = at::cat({xs * (255.0 / w), ys * (255.0 / h), (xs + ys) * (127.0 / (h + w))}, 0);
  img.narrow(1, h / 4, h / 4).narrow(2, w / 4, w / 4).fill_(250);
  return img.round().clamp(0, 255).to(at::kByte).contiguous();
}

// Pixels PIL decodes from `path`, as 3 x H x W uint8 (raw RGB through a file).
at::Tensor pil_decode(const fs::path& path, const fs::path& raw, int64_t h, int64_t w) {
  mz_test::must_run(std::string(mz_test::python()) +
                           " -c \"import sys; from PIL import Image; "
                           "open(sys.argv[2], 'wb').write(Image.open(sys.argv[1]).convert('RGB').tobytes())\" " +
                           path.string() + " " + raw.string());
  std::ifstream in(raw, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes.size(), static_cast<std::size_t>(h * w * 3));
  return at::from_blob(bytes.data(), {h, w, 3}, at::kByte).permute({2, 0, 1}).contiguous().clone();
}

TEST(Encode, PngIsLosslessForOurDecoderAndPil) {
  mz_test::TempDir dir;
  const at::Tensor img = test_image(37, 53);
  const fs::path path = dir.path() / "out.png";
  tr::write_image(path, img);
  EXPECT_TRUE(at::equal(tr::read_image(path), img));
  EXPECT_TRUE(at::equal(pil_decode(path, dir.path() / "raw", 37, 53), img));
  // Gray (1 x H x W) is written as gray and read back replicated to RGB.
  const at::Tensor gray = img.narrow(0, 0, 1).contiguous();
  tr::write_image(dir.path() / "gray.PNG", gray);
  EXPECT_TRUE(at::equal(tr::read_image(dir.path() / "gray.PNG"), gray.expand({3, 37, 53})));
  // A non-contiguous view encodes its logical pixels.
  const at::Tensor flipped = img.flip({2});
  EXPECT_TRUE(at::equal(tr::decode_image(tr::encode_png(flipped), "mem"), flipped));
}

TEST(Encode, JpegDecodesCloseToTheImageInPilAndOurs) {
  mz_test::TempDir dir;
  const at::Tensor img = test_image(64, 96);
  for (int quality : {75, 95}) {
    const fs::path path = dir.path() / ("q" + std::to_string(quality) + ".jpg");
    tr::write_image(path, img, tr::EncodeOptions{quality});
    const at::Tensor ours = tr::read_image(path);
    const at::Tensor pil = pil_decode(path, dir.path() / "raw", 64, 96);
    // Both decoders use libjpeg-turbo's default IDCT: the same pixels.
    EXPECT_LE((ours.to(at::kInt) - pil.to(at::kInt)).abs().max().item<int>(), 1) << quality;
    const double mean_err = (ours.to(at::kFloat) - img.to(at::kFloat)).abs().mean().item<double>();
    EXPECT_LT(mean_err, quality >= 90 ? 2.0 : 4.0) << quality;
  }
}

TEST(Encode, RefusesBadTensorsAndExtensionsWithoutLeavingFiles) {
  mz_test::TempDir dir;
  const auto error_of = [](auto&& f) {
    try {
      f();
    } catch (const modelzoo::ImageError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  const fs::path png = dir.path() / "x.png";
  EXPECT_THAT(error_of([&] { tr::write_image(png, at::zeros({3, 4, 4}, at::kFloat)); }),
              AllOf(HasSubstr(png.string()), HasSubstr("uint8")));
  EXPECT_THAT(error_of([&] { tr::write_image(png, at::zeros({4, 4}, at::kByte)); }),
              HasSubstr("3 x H x W"));
  EXPECT_THAT(error_of([&] { tr::write_image(png, at::zeros({2, 4, 4}, at::kByte)); }),
              HasSubstr("3 x H x W"));
  EXPECT_THAT(error_of([&] { tr::write_image(dir.path() / "x.gif", at::zeros({3, 4, 4}, at::kByte)); }),
              AllOf(HasSubstr("x.gif"), HasSubstr(".png, .jpg or .jpeg")));
  EXPECT_THAT(error_of([&] { tr::encode_jpeg(at::zeros({3, 4, 4}, at::kByte), "m", tr::EncodeOptions{0}); }),
              HasSubstr("quality"));
  EXPECT_THAT(error_of([&] { tr::write_image(dir.path() / "missing" / "x.png", at::zeros({3, 4, 4}, at::kByte)); }),
              HasSubstr("missing"));
  EXPECT_TRUE(fs::is_empty(dir.path()));
  // A good write replaces an existing file and leaves only it.
  std::ofstream(png) << "old";
  tr::write_image(png, test_image(8, 8));
  EXPECT_TRUE(at::equal(tr::read_image(png), test_image(8, 8)));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

}  // namespace
