// The transforms stage: decoding (against PIL and torchvision), the
// ImageClassification preset (against torchvision 0.14), refused images, and
// topk. Python's results come from tests/oracle/transforms_fixture.py, run
// once into the build tree.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <iterator>
#include <sstream>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <jpeglib.h>
#include <zlib.h>

#include "modelzoo/io/io.h"
#include "modelzoo/transforms/image.h"
#include "modelzoo/transforms/labels.h"
#include "modelzoo/transforms/preprocess.h"
#include "support/process.h"

namespace {

namespace fs = std::filesystem;
namespace tr = modelzoo::transforms;
using nlohmann::json;
using ::testing::AllOf;
using ::testing::HasSubstr;

// Preprocessing of a uint8 image runs the same ATen kernels in the same order
// as torchvision, so the outputs agree to the last bit (max abs diff measured:
// 0 for every case). The tolerance leaves room for a different SIMD path.
constexpr double kPresetTolerance = 1e-5;

class Oracle {
 public:
  static Oracle& get() {
    static Oracle o;
    return o;
  }
  const json& manifest() const { return manifest_; }
  at::Tensor expected(const std::string& key) const { return expected_.at(key).as_tensor(); }
  modelzoo::registry::Transforms transforms(const std::string& name, bool* antialias) const {
    const json& t = manifest_["transforms"][name];
    modelzoo::registry::Transforms out;
    out.resize_size = t["resize_size"];
    out.crop_size = t["crop_size"];
    out.interpolation = t["interpolation"];
    for (int c = 0; c < 3; ++c) {
      out.mean[c] = t["mean"][c];
      out.std[c] = t["std"][c];
    }
    *antialias = t["antialias"];
    return out;
  }
  fs::path decode_file(const std::string& name) const { return dir_ / "decode" / name; }

 private:
  Oracle() {
    dir_ = fs::path(MZ_BINARY_DIR) / "fixtures" / "transforms";
    const fs::path script = fs::path(MZ_SOURCE_DIR) / "tests" / "oracle" / "transforms_fixture.py";
    manifest_ = mz_test::cached_fixture(dir_, script, "");
    expected_ = modelzoo::io::read(manifest_["expected"].get<std::string>());
  }
  fs::path dir_;
  json manifest_;
  modelzoo::io::Value expected_;
};

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_bytes(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

// ---------------------------------------------------------------------------
// Preset parity

TEST(Preset, MatchesTorchvisionForEverySizeAndInterpolation) {
  const auto& o = Oracle::get();
  double worst = 0;
  std::size_t cases = 0;
  for (const auto& c : o.manifest()["preset"]) {
    bool antialias = true;
    const auto t = o.transforms(c["transforms"], &antialias);
    tr::PreprocessOptions opts;
    opts.antialias = antialias;
    const tr::Preprocess pre(t, opts);
    const at::Tensor img = tr::read_image(c["file"].get<std::string>());
    const at::Tensor got = pre(img);
    const at::Tensor want = o.expected(c["key"]);
    ASSERT_EQ(got.sizes(), want.sizes()) << c["key"];
    ASSERT_EQ(got.scalar_type(), at::kFloat);
    const double diff = max_abs_diff(got, want);
    EXPECT_LE(diff, kPresetTolerance) << c["key"];
    worst = std::max(worst, diff);
    ++cases;
  }
  EXPECT_GE(cases, 30u);
  RecordProperty("max_abs_diff", std::to_string(worst));
  std::cout << "preset parity: " << cases << " cases, max abs diff " << worst << "\n";
}

TEST(Preset, BatchOfTensorsAndListOfImagesMatchTorchvision) {
  const auto& o = Oracle::get();
  const json& b = o.manifest()["batch"];
  bool antialias = true;
  const tr::Preprocess pre(o.transforms(b["transforms"], &antialias));
  std::vector<at::Tensor> images;
  for (const auto& f : b["files"]) images.push_back(tr::read_image(f.get<std::string>()));
  const at::Tensor want = o.expected(b["key"]);
  const at::Tensor stacked = pre(at::stack(images));
  const at::Tensor listed = pre.batch(images);
  ASSERT_EQ(stacked.sizes(), want.sizes());
  ASSERT_EQ(listed.sizes(), want.sizes());
  EXPECT_LE(max_abs_diff(stacked, want), kPresetTolerance);
  EXPECT_LE(max_abs_diff(listed, want), kPresetTolerance);
}

TEST(Preset, ResizedSizeAndCenterCropFollowTorchvisionsRounding) {
  using Size = std::pair<int64_t, int64_t>;
  // int(size * long / short), the shorter side becoming `size`.
  EXPECT_EQ(tr::resized_size(300, 400, 256), Size(256, 341));
  EXPECT_EQ(tr::resized_size(401, 299, 256), Size(343, 256));
  EXPECT_EQ(tr::resized_size(100, 100, 232), Size(232, 232));
  EXPECT_EQ(tr::resized_size(3, 1000, 7), Size(7, 2333));

  const at::Tensor img = at::arange(0, 9 * 10, at::kFloat).view({1, 9, 10});
  // (9 - 6) / 2 = 1.5 -> 2 (even); (10 - 5) / 2 = 2.5 -> 2 (even).
  const at::Tensor c = tr::center_crop(img, 6, 5);
  EXPECT_EQ(c.index({0, 0, 0}).item<float>(), 2 * 10 + 2);
  // Padding: 9 -> 12 rows (1 above, 2 below), 10 -> 11 columns (0 left, 1 right).
  const at::Tensor p = tr::center_crop(img, 12, 11);
  ASSERT_EQ(p.sizes(), (std::vector<int64_t>{1, 12, 11}));
  EXPECT_EQ(p.index({0, 0}).abs().sum().item<float>(), 0);
  EXPECT_EQ(p.index({0, 1, 0}).item<float>(), 0);
  EXPECT_EQ(p.index({0, 11}).abs().sum().item<float>(), 0);
  EXPECT_EQ(p.index({0, 1, 10}).item<float>(), 0);
}

TEST(Preset, CaffeEntryGivesBgrPixelsIn0To255MinusMean) {
  // A 3 x 2 x 3 image already at the target size: no resize, no crop, so
  // every output value is a hand computation.
  const uint8_t px[3][2][3] = {{{10, 20, 30}, {40, 50, 60}},      // R
                               {{70, 80, 90}, {100, 110, 120}},   // G
                               {{130, 140, 150}, {160, 170, 255}}};  // B
  at::Tensor img = at::empty({3, 2, 3}, at::kByte);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 3; ++x) img.index_put_({c, y, x}, px[c][y][x]);
  modelzoo::registry::Transforms t;
  t.resize_size = 2;
  t.crop_size = 2;
  t.interpolation = "bilinear";
  t.mean = {103.939, 116.779, 123.68};
  t.std = {1, 1, 1};
  t.value_scale = 255;
  t.channel_order = "BGR";
  const at::Tensor out = tr::Preprocess(t)(img);
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{3, 2, 2}));
  // Crop 2 x 2 of 2 x 3: left offset round(0.5) = 0.
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < 2; ++y) {
      for (int x = 0; x < 2; ++x) {
        const double want = px[2 - c][y][x] - static_cast<float>(t.mean[c]);
        EXPECT_NEAR(out.index({c, y, x}).item<float>(), want, 1e-4) << c << "," << y << "," << x;
      }
    }
  }
  // The same image with torchvision's defaults: x / 255, RGB, ImageNet mean/std.
  modelzoo::registry::Transforms tv;
  tv.resize_size = 2;
  tv.crop_size = 2;
  const at::Tensor rgb = tr::Preprocess(tv)(img);
  EXPECT_NEAR(rgb.index({0, 0, 0}).item<float>(), (10 / 255.0 - 0.485) / 0.229, 1e-5);
  EXPECT_NEAR(rgb.index({2, 1, 1}).item<float>(), (170 / 255.0 - 0.406) / 0.225, 1e-5);
}

TEST(Preset, RejectsInvalidTransformsAndImages) {
  modelzoo::registry::Transforms t;
  t.interpolation = "lanczos";
  EXPECT_THROW(tr::Preprocess{t}, modelzoo::Error);
  t = {};
  t.channel_order = "GBR";
  EXPECT_THROW(tr::Preprocess{t}, modelzoo::Error);
  t = {};
  t.std = {0.2, 0, 0.2};
  EXPECT_THROW(tr::Preprocess{t}, modelzoo::Error);
  const tr::Preprocess pre{modelzoo::registry::Transforms{}};
  EXPECT_THROW(pre(at::zeros({4, 10, 10}, at::kByte)), modelzoo::Error);
  EXPECT_THROW(pre(at::zeros({10, 10}, at::kByte)), modelzoo::Error);
  EXPECT_THROW(pre.batch({}), modelzoo::Error);
}

// ---------------------------------------------------------------------------
// Decoding

TEST(Decode, PngVariantsAndJpegsMatchPilAndTorchvision) {
  const auto& o = Oracle::get();
  std::size_t n = 0;
  for (const auto& c : o.manifest()["decode"]) {
    const std::string file = c["file"];
    const at::Tensor got = tr::read_image(file);
    const at::Tensor want = o.expected(c["key"]);
    ASSERT_EQ(got.sizes(), want.sizes()) << file;
    EXPECT_EQ(got.scalar_type(), at::kByte);
    EXPECT_TRUE(got.is_contiguous());
    EXPECT_EQ(max_abs_diff(got, want), 0) << file;
    ++n;
  }
  EXPECT_GE(n, 15u);
}

TEST(Decode, FormatComesFromContentNotExtension) {
  const auto& o = Oracle::get();
  mz_test::TempDir dir("mz_img_");
  const fs::path png_named_jpg = dir / "really_a_png.jpg";
  write_bytes(png_named_jpg, read_bytes(o.decode_file("rgb8.png")));
  const fs::path jpg_named_png = dir / "really_a_jpeg.png";
  write_bytes(jpg_named_png, read_bytes(o.decode_file("q90_420.jpg")));
  EXPECT_TRUE(tr::read_image(png_named_jpg).equal(tr::read_image(o.decode_file("rgb8.png"))));
  EXPECT_TRUE(tr::read_image(jpg_named_png).equal(tr::read_image(o.decode_file("q90_420.jpg"))));
  const std::string png = read_bytes(o.decode_file("rgb8.png"));
  EXPECT_EQ(tr::detect_image_format(reinterpret_cast<const uint8_t*>(png.data()), png.size()),
            tr::ImageFormat::Png);
}

TEST(Decode, ExifOrientationAsPilExifTranspose) {
  const auto& o = Oracle::get();
  std::size_t n = 0;
  for (const auto& c : o.manifest()["exif"]) {
    const std::string file = c["file"];
    const at::Tensor got = tr::read_image(file);
    const at::Tensor want = o.expected(c["key"]);
    ASSERT_EQ(got.sizes(), want.sizes()) << file;
    EXPECT_EQ(max_abs_diff(got, want), 0) << file;
    ++n;
  }
  EXPECT_EQ(n, 9u);
  // The tag itself, both byte orders, and opting out.
  for (int orientation : {1, 3, 6, 8}) {
    const std::string b = read_bytes(o.decode_file("exif_" + std::to_string(orientation) + ".jpg"));
    EXPECT_EQ(tr::jpeg_exif_orientation(reinterpret_cast<const uint8_t*>(b.data()), b.size()), orientation);
  }
  const std::string mm = read_bytes(o.decode_file("exif_mm_6.jpg"));
  EXPECT_EQ(tr::jpeg_exif_orientation(reinterpret_cast<const uint8_t*>(mm.data()), mm.size()), 6);
  tr::DecodeOptions raw;
  raw.apply_exif_orientation = false;
  const at::Tensor stored = tr::read_image(o.decode_file("exif_6.jpg"), raw);
  EXPECT_EQ(stored.sizes(), (std::vector<int64_t>{3, 24, 40}));
  EXPECT_EQ(tr::read_image(o.decode_file("exif_6.jpg")).sizes(), (std::vector<int64_t>{3, 40, 24}));
}

TEST(Decode, ExifParserSurvivesHostileSegments) {
  // Lengths past the end, offsets past the segment, counts too large.
  const std::string soi = "\xff\xd8";
  const std::vector<std::string> bad = {
      soi + "\xff\xe1\xff\xff" + "Exif",
      soi + std::string("\xff\xe1\x00\x10" "Exif\0\0MM\0\x2a\xff\xff\xff\xff", 18),
      soi + std::string("\xff\xe1\x00\x14" "Exif\0\0II\x2a\0\x08\0\0\0\xff\xff", 20),
      soi + std::string("\xff\xe1\x00\x01", 4),
      soi,
      std::string("\xff"),
  };
  for (const auto& b : bad) {
    EXPECT_EQ(tr::jpeg_exif_orientation(reinterpret_cast<const uint8_t*>(b.data()), b.size()), 1);
  }
}

// A w x h JPEG that libjpeg writes from 4-channel pixels, stored as CMYK or
// YCCK, with or without the Adobe marker.
std::string libjpeg_cmyk(int w, int h, J_COLOR_SPACE stored, bool adobe_marker, bool progressive) {
  jpeg_compress_struct c{};
  jpeg_error_mgr err{};
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long len = 0;
  jpeg_mem_dest(&c, &buf, &len);
  c.image_width = w;
  c.image_height = h;
  c.input_components = 4;
  c.in_color_space = JCS_CMYK;
  jpeg_set_defaults(&c);
  jpeg_set_colorspace(&c, stored);
  jpeg_set_quality(&c, 92, TRUE);
  c.write_Adobe_marker = adobe_marker ? TRUE : FALSE;
  if (progressive) jpeg_simple_progression(&c);
  jpeg_start_compress(&c, TRUE);
  std::vector<JSAMPLE> row(static_cast<std::size_t>(w) * 4);
  while (c.next_scanline < c.image_height) {
    for (int x = 0; x < w; ++x) {
      const unsigned y = c.next_scanline;
      row[4 * x + 0] = static_cast<JSAMPLE>((x * 37 + y * 5) & 0xFF);
      row[4 * x + 1] = static_cast<JSAMPLE>((x * 11 + y * 23 + 64) & 0xFF);
      row[4 * x + 2] = static_cast<JSAMPLE>((x * y * 3 + 128) & 0xFF);
      row[4 * x + 3] = static_cast<JSAMPLE>((255 - x * 9 - y * 7) & 0xFF);
    }
    JSAMPROW r = row.data();
    jpeg_write_scanlines(&c, &r, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::string out(reinterpret_cast<const char*>(buf), len);
  std::free(buf);
  return out;
}

TEST(Decode, CmykAndYcckJpegsMatchPil) {
  mz_test::TempDir dir("mz_cmyk_");
  write_bytes(dir / "cmyk_adobe.jpg", libjpeg_cmyk(13, 9, JCS_CMYK, true, false));
  write_bytes(dir / "cmyk_no_adobe.jpg", libjpeg_cmyk(8, 16, JCS_CMYK, false, false));
  write_bytes(dir / "ycck.jpg", libjpeg_cmyk(17, 11, JCS_YCCK, true, false));
  write_bytes(dir / "ycck_progressive.jpg", libjpeg_cmyk(31, 7, JCS_YCCK, true, true));
  // PIL writes its own CMYK files (Adobe, inverted), one with an EXIF
  // orientation; then it decodes every file: exif_transpose, convert("RGB").
  const fs::path script = dir / "pil_cmyk.py";
  std::ofstream(script) << R"(import os, sys
import numpy as np
from PIL import Image, ImageOps
d = sys.argv[1]
rng = np.random.default_rng(5)
cmyk = Image.fromarray(rng.integers(0, 256, (19, 23, 4), dtype=np.uint8), "CMYK")
cmyk.save(os.path.join(d, "cmyk_pil.jpg"), quality=90)
exif = Image.Exif()
exif[0x0112] = 6
cmyk.save(os.path.join(d, "cmyk_pil_exif6.jpg"), quality=90, exif=exif.tobytes())
for name in sorted(os.listdir(d)):
    if not name.endswith(".jpg"):
        continue
    im = Image.open(os.path.join(d, name))
    assert im.mode == "CMYK", (name, im.mode)
    rgb = ImageOps.exif_transpose(im).convert("RGB")
    with open(os.path.join(d, name + ".rgb"), "wb") as f:
        f.write(rgb.tobytes())
    print(name, rgb.width, rgb.height, im.info.get("adobe_transform", "-"))
)";
  const std::string listing = mz_test::must_run(std::string(mz_test::python()) + " " + script.string() + " " +
                                                dir.path().string());
  std::istringstream lines(listing);
  std::string name;
  int w = 0, h = 0;
  std::string transform;
  std::size_t n = 0;
  std::set<std::string> transforms;
  while (lines >> name >> w >> h >> transform) {
    const at::Tensor got = tr::read_image(dir / name);
    ASSERT_EQ(got.sizes(), (std::vector<int64_t>{3, h, w})) << name;
    const std::string want_bytes = read_bytes(dir / (name + ".rgb"));
    ASSERT_EQ(want_bytes.size(), static_cast<std::size_t>(3 * w * h)) << name;
    const at::Tensor want =
        at::from_blob(const_cast<char*>(want_bytes.data()), {h, w, 3}, at::kByte).permute({2, 0, 1});
    EXPECT_EQ(max_abs_diff(got, want), 0) << name << " (Adobe transform " << transform << ")";
    transforms.insert(transform);
    ++n;
  }
  EXPECT_EQ(n, 6u) << listing;
  // Stored as CMYK (transform 0), as YCCK (2), and without an Adobe marker.
  EXPECT_EQ(transforms, (std::set<std::string>{"-", "0", "2"})) << listing;
}

// ---------------------------------------------------------------------------
// Refused images: each kind of damage built here, each with its own message.

class BadImages : public ::testing::Test {
 protected:
  void expect_refused(const fs::path& file, const std::vector<std::string>& words,
                      const tr::DecodeOptions& options = {}) {
    try {
      tr::read_image(file, options);
      ADD_FAILURE() << file << " was decoded";
    } catch (const modelzoo::ImageError& e) {
      EXPECT_THAT(e.what(), HasSubstr(file.string()));
      for (const auto& w : words) EXPECT_THAT(e.what(), HasSubstr(w)) << file;
    }
  }
  fs::path write(const std::string& name, const std::string& bytes) {
    const fs::path p = dir_ / name;
    write_bytes(p, bytes);
    return p;
  }
  static std::string be32(uint32_t v) {
    return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
  }
  static std::string png_chunk(const std::string& type, const std::string& data) {
    std::string td = type + data;
    const uint32_t crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(td.data()), td.size()));
    return be32(static_cast<uint32_t>(data.size())) + td + be32(crc);
  }
  // A JPEG with its frame header patched to claim height x width.
  static std::string with_sof_size(std::string jpeg, uint16_t height, uint16_t width) {
    for (std::size_t i = 2; i + 9 < jpeg.size(); ++i) {
      const auto m = static_cast<uint8_t>(jpeg[i + 1]);
      if (static_cast<uint8_t>(jpeg[i]) == 0xFF && (m == 0xC0 || m == 0xC2)) {
        jpeg[i + 5] = static_cast<char>(height >> 8);
        jpeg[i + 6] = static_cast<char>(height & 0xFF);
        jpeg[i + 7] = static_cast<char>(width >> 8);
        jpeg[i + 8] = static_cast<char>(width & 0xFF);
        return jpeg;
      }
    }
    ADD_FAILURE() << "no SOF marker";
    return jpeg;
  }
  mz_test::TempDir dir_{"mz_badimg_"};
};

TEST_F(BadImages, EmptyTextUnsupportedMissingAndDirectory) {
  expect_refused(write("empty.jpg", ""), {"empty file"});
  expect_refused(write("notes.jpg", "hello, this is not an image\n"), {"not a JPEG or PNG", "68 65 6c 6c"});
  expect_refused(write("anim.png", std::string("GIF89a\x01\x00\x01\x00", 10)), {"unsupported image format GIF"});
  expect_refused(dir_ / "nope.jpg", {"cannot open"});
  expect_refused(dir_.path(), {"directory"});
}

TEST_F(BadImages, TruncatedAndCorruptFiles) {
  const std::string jpeg = read_bytes(Oracle::get().decode_file("q90_420.jpg"));
  expect_refused(write("half.jpg", jpeg.substr(0, jpeg.size() / 2)), {"JPEG", "Premature end"});
  expect_refused(write("cut_in_header.jpg", jpeg.substr(0, 40)), {"JPEG header"});
  const std::string prog = read_bytes(Oracle::get().decode_file("progressive.jpg"));
  expect_refused(write("half_progressive.jpg", prog.substr(0, prog.size() * 2 / 3)), {"JPEG"});

  // PNG: cut short, then a damaged CRC, then damaged compressed data.
  const std::string png = read_bytes(Oracle::get().decode_file("rgb8.png"));
  expect_refused(write("half.png", png.substr(0, png.size() / 2)), {"PNG", "truncated"});
  expect_refused(write("no_iend.png", png.substr(0, png.size() - 12)), {"PNG", "truncated"});
  expect_refused(write("signature_only.png", png.substr(0, 8)), {"PNG header", "truncated"});
  const std::size_t idat = png.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  const std::size_t idat_len = static_cast<uint8_t>(png[idat - 2]) << 8 | static_cast<uint8_t>(png[idat - 1]);
  std::string bad_crc = png;
  bad_crc[idat + 4 + idat_len] ^= 0x01;  // IDAT's CRC, the data intact
  expect_refused(write("bad_idat_crc.png", bad_crc), {"PNG decoding", "CRC"});
  std::string bad_data = png;
  bad_data[idat + 10] ^= 0x55;  // compressed data: zlib or the CRC check refuses it
  expect_refused(write("bad_idat_data.png", bad_data), {"PNG decoding"});
  std::string bad_ihdr = png;
  bad_ihdr[8 + 8 + 13] ^= 0x01;  // IHDR's CRC
  expect_refused(write("bad_ihdr_crc.png", bad_ihdr), {"PNG header", "CRC"});
}

TEST_F(BadImages, HugeDeclaredDimensionsAreRefusedBeforeDecoding) {
  // A valid IHDR (correct CRC) claiming 100000 x 100000, then nothing else.
  const std::string ihdr = be32(100000) + be32(100000) + std::string("\x08\x02\x00\x00\x00", 5);
  const std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", ihdr) + png_chunk("IEND", "");
  expect_refused(write("huge.png", png), {"100000 x 100000", "limit"});

  const std::string jpeg = read_bytes(Oracle::get().decode_file("q90_420.jpg"));
  expect_refused(write("huge.jpg", with_sof_size(jpeg, 60000, 60000)), {"60000 x 60000", "limit"});
  // Beyond what libjpeg accepts at all: its own error, still naming the file.
  expect_refused(write("huger.jpg", with_sof_size(jpeg, 0xFFFF, 0xFFFF)), {"JPEG"});
  // The limit is an option.
  tr::DecodeOptions small;
  small.max_pixels = 100;
  expect_refused(Oracle::get().decode_file("rgb8.png"), {"53 x 37 (width x height)", "limit of 100"}, small);
}

// ---------------------------------------------------------------------------
// topk

TEST(TopK, BestFirstWithLabelsAndProbabilities) {
  // log(1..4): softmax gives 0.1, 0.2, 0.3, 0.4.
  const at::Tensor logits = at::log(at::tensor({1.0, 2.0, 3.0, 4.0, 1.0, 4.0, 3.0, 2.0}).view({2, 4}));
  const auto r = tr::topk(logits, {"a", "b", "c", "d"}, 2);
  ASSERT_EQ(r.size(), 2u);
  ASSERT_EQ(r[0].size(), 2u);
  EXPECT_EQ(r[0][0].index, 3);
  EXPECT_EQ(r[0][0].label, "d");
  EXPECT_NEAR(r[0][0].probability, 0.4, 1e-12);
  EXPECT_EQ(r[0][1].index, 2);
  EXPECT_NEAR(r[0][1].probability, 0.3, 1e-12);
  EXPECT_EQ(r[1][0].label, "b");
  EXPECT_EQ(r[1][1].label, "c");

  // Probabilities used as given, k capped, ties, unknown labels, errors.
  const at::Tensor p = at::tensor({0.25f, 0.5f, 0.25f});
  const auto q = tr::topk(p, {}, 10, tr::Scores::Probabilities);
  ASSERT_EQ(q.size(), 1u);
  ASSERT_EQ(q[0].size(), 3u);  // k capped at the class count
  EXPECT_EQ(q[0][0].index, 1);
  EXPECT_EQ(q[0][1].index, 0);  // tie: lower index first
  EXPECT_EQ(q[0][2].index, 2);
  EXPECT_EQ(q[0][2].label, "class 2");
  EXPECT_DOUBLE_EQ(q[0][0].probability, 0.5);
  EXPECT_THROW(tr::topk(p, {"a", "b"}, 1), modelzoo::Error);
  EXPECT_THROW(tr::topk(p, {}, 0), modelzoo::Error);
  EXPECT_THROW(tr::topk(at::zeros({1, 2, 3}), {}, 1), modelzoo::Error);
  EXPECT_THROW(tr::topk(at::tensor({1.0f, NAN}), {}, 1), modelzoo::Error);
}

}  // namespace
