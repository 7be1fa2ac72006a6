// The detect tool end to end: torchvision's fasterrcnn_mobilenet_v3_large_320_fpn
// with random weights (tests/oracle/detection_oracle.py, images written as
// PNG) served by a loopback nginx through a user registry, downloaded into
// an empty cache, verified and loaded; the tool's JSON compared with what
// torchvision detected on the same images, a bad image reported by name
// while the others are processed, and a drawn image checked pixel-wise at
// its box corners.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include <fstream>
#include <iterator>
#include <memory>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "modelzoo/cache/sha256.h"
#include "modelzoo/io/io.h"
#include "modelzoo/registry/registry.h"
#include "modelzoo/transforms/draw.h"
#include "modelzoo/transforms/image.h"
#include "support/nginx_server.h"
#include "support/process.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

const char* const kArch = "fasterrcnn_mobilenet_v3_large_320_fpn";

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class Fixture {
 public:
  static Fixture& get() {
    static Fixture f;
    return f;
  }
  const fs::path& dir() const { return dir_; }
  mz_test::NginxServer& server() { return *server_; }
  const modelzoo::io::StateDict& io() const { return io_; }
  // A user registry pointing the model's COCO_V1 tag at the served file.
  fs::path registry() {
    const fs::path p = registry_dir_.path() / "detect.json";
    json doc = {{"format_version", 1},
                {"models",
                 {{kArch,
                   {{"task", "detection"},
                    {"default", "COCO_V1"},
                    {"weights",
                     {{"COCO_V1",
                       {{"url", server_->http_url() + "/weights.pth"},
                        {"sha256", modelzoo::cache::sha256_file(dir_ / "weights.pth")},
                        {"categories", "coco_detection"}}}}}}}}}};
    std::ofstream(p) << doc.dump(2);
    return p;
  }

 private:
  Fixture() {
    dir_ = fs::path(MZ_BINARY_DIR) / "fixtures" / "detect_cli";
    mz_test::cached_fixture(dir_, fs::path(MZ_SOURCE_DIR) / "tests" / "oracle" / "detection_oracle.py",
                            std::string(kArch) + " " + mz_test::shell_quote(R"({"png": true})"));
    modelzoo::io::ReadOptions ro;
    ro.mmap = false;
    io_ = modelzoo::io::read_state_dict(dir_ / "io.pth", ro);
    mz_test::NginxOptions o;
    o.docroot = dir_;
    server_ = std::make_unique<mz_test::NginxServer>(o);
  }
  fs::path dir_;
  modelzoo::io::StateDict io_;
  std::unique_ptr<mz_test::NginxServer> server_;
  mz_test::TempDir registry_dir_{"mz_detect_registry_"};
};

struct ToolResult {
  int exit_code = -1;
  std::string out, err;
  json doc;
};

ToolResult detect(const std::vector<std::string>& args) {
  mz_test::TempDir tmp("mz_detect_err_");
  std::string cmd = mz_test::shell_quote(MZ_DETECT_BIN);
  for (const auto& a : args) cmd += " " + mz_test::shell_quote(a);
  cmd += " 2>" + mz_test::shell_quote((tmp / "stderr").string());
  const auto r = mz_test::run_command(cmd);
  ToolResult t;
  t.exit_code = r.exit_code;
  t.out = r.out;
  t.err = read_text(tmp / "stderr");
  if (std::find(args.begin(), args.end(), "--json") != args.end()) {
    try {
      t.doc = json::parse(r.out);
    } catch (const json::exception&) {
      ADD_FAILURE() << "not JSON: " << r.out;
    }
  }
  return t;
}

// The tool's default (the inference path: BatchNorm folded, oneDNN; boxes
// within 1e-2 px, scores within 5e-4, as tests/detection/parity_test.cpp
// justifies) and --plain (torchvision's own kernels: 1e-3 px, 1e-4), both
// against torchvision's detections. The first run downloads the weights.
TEST(Detect, JsonMatchesTorchvisionThroughLoopbackDownload) {
  Fixture& f = Fixture::get();
  mz_test::TempDir cache("mz_detect_cache_");
  const std::string img0 = (f.dir() / "image0.png").string(), img1 = (f.dir() / "image1.png").string();
  const std::string missing = (cache.path() / "no_such_image.png").string();
  const auto categories = modelzoo::registry::Registry::builtin()
                              .require("fasterrcnn_resnet50_fpn")
                              .require_weights("COCO_V1")
                              .categories;
  for (const bool plain : {false, true}) {
    std::vector<std::string> args = {"--registry", f.registry().string(), "--cache-dir", cache.path().string(),
                                     "--model", kArch, "--threshold", "0", "--json", img0, missing, img1};
    if (plain) args.insert(args.begin(), "--plain");
    const auto r = detect(args);
    EXPECT_EQ(r.exit_code, 1) << r.err;  // the missing image fails; the others are processed
    EXPECT_THAT(r.err, HasSubstr("no_such_image.png"));
    ASSERT_EQ(r.doc["images"].size(), 3u) << r.out;
    EXPECT_FALSE(r.doc["images"][1]["ok"].get<bool>());
    // One download: a request, or several ranged ones for a file this large.
    EXPECT_GE(f.server().request_count("/weights.pth"), 1u);
    double worst_box = 0, worst_score = 0;
    int64_t total = 0;
    for (int i = 0; i < 2; ++i) {
      const json& got = r.doc["images"][i == 0 ? 0 : 2];
      ASSERT_TRUE(got["ok"].get<bool>()) << got.dump();
      // The tool detects one image at a time (no padding to a common batch size).
      const std::string p = "single/" + std::to_string(i) + "/";
      const at::Tensor boxes = *f.io().find(p + "boxes"), labels = *f.io().find(p + "labels"),
                       scores = *f.io().find(p + "scores");
      ASSERT_EQ(got["detections"].size(), static_cast<std::size_t>(labels.size(0))) << "image " << i;
      // Detections come sorted by score; two whose scores differ by less
      // than the path's rounding may come in either order (seen on an AVX2
      // CPU with the optimized path), so each expected one is matched with
      // the closest box of its label among those of nearly the same score.
      const double score_tol = plain ? 1e-4 : 5e-4;
      const json& dets = got["detections"];
      for (int64_t k = 0; k < labels.size(0); ++k) {
        const int64_t label = labels[k].item<int64_t>();
        const double score = scores[k].item<double>();
        double best_box = INFINITY, best_score = INFINITY;
        for (int64_t j = 0; j < static_cast<int64_t>(dets.size()); ++j) {
          const json& d = dets[static_cast<std::size_t>(j)];
          const double ds = std::abs(d["score"].get<double>() - score);
          if ((j != k && ds > score_tol) || d["index"].get<int64_t>() != label) continue;
          EXPECT_EQ(d["label"].get<std::string>(), categories.at(static_cast<std::size_t>(label)));
          double db = 0;
          for (int c = 0; c < 4; ++c) db = std::max(db, std::abs(d["box"][c].get<double>() - boxes[k][c].item<double>()));
          if (db < best_box) best_box = db, best_score = ds;
        }
        EXPECT_TRUE(std::isfinite(best_box)) << "image " << i << ": no detection of label " << label << " with score "
                                             << score;
        worst_box = std::max(worst_box, best_box);
        worst_score = std::max(worst_score, best_score);
      }
      total += labels.size(0);
    }
    EXPECT_GE(total, 10);
    EXPECT_LE(worst_box, plain ? 1e-3 : 1e-2);
    EXPECT_LE(worst_score, plain ? 1e-4 : 5e-4);
    std::cout << "detect" << (plain ? " --plain" : "") << " vs torchvision: " << total
              << " detections, max |diff| box " << worst_box << " px, score " << worst_score << "\n";
  }
}

TEST(Detect, DrawsTheBoxOfTheBestDetection) {
  Fixture& f = Fixture::get();
  mz_test::TempDir cache("mz_detect_cache_"), out("mz_detect_draw_");
  const fs::path img0 = f.dir() / "image0.png";
  const at::Tensor scores = *f.io().find("single/0/scores");
  const at::Tensor box = f.io().find("single/0/boxes")->select(0, 0);
  const int64_t label = f.io().find("single/0/labels")->select(0, 0).item<int64_t>();
  // Only the best detection passes this threshold.
  const double threshold = (scores[0].item<double>() + scores[1].item<double>()) / 2;
  ASSERT_GT(scores[0].item<double>(), scores[1].item<double>());
  const auto r = detect({"--registry", f.registry().string(), "--cache-dir", cache.path().string(), "--model", kArch,
                         "--threshold", std::to_string(threshold), "--draw", out.path().string(), img0.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("1 detection\n"));
  const at::Tensor drawn = modelzoo::transforms::read_image(out / "image0.png");
  const at::Tensor original = modelzoo::transforms::read_image(img0);
  ASSERT_EQ(drawn.sizes(), original.sizes());
  const auto color = modelzoo::transforms::palette_color(label);
  auto pixel = [&](int64_t x, int64_t y) {
    return std::array<uint8_t, 3>{drawn[0][y][x].item<uint8_t>(), drawn[1][y][x].item<uint8_t>(),
                                  drawn[2][y][x].item<uint8_t>()};
  };
  const int64_t w = drawn.size(2), h = drawn.size(1);
  const int64_t x1 = std::clamp<int64_t>(std::llround(box[0].item<double>()), 0, w - 1);
  const int64_t y2 = std::clamp<int64_t>(std::llround(box[3].item<double>()), 0, h - 1);
  const int64_t x2 = std::clamp<int64_t>(std::llround(box[2].item<double>()), 0, w - 1);
  EXPECT_EQ(pixel(x1, y2), color) << "bottom-left corner";
  EXPECT_EQ(pixel(x2, y2), color) << "bottom-right corner";
  // Far from the box the image is untouched.
  const int64_t fx = x2 + 5 < w ? w - 1 : 0, fy = y2 + 5 < h ? h - 1 : 0;
  EXPECT_TRUE(at::equal(drawn.index({at::indexing::Slice(), fy, fx}), original.index({at::indexing::Slice(), fy, fx})));
}

TEST(Detect, ClassifierNamesAndBadUsageAreRefused) {
  const auto a = detect({"--model", "resnet50", "--offline", "x.png"});
  EXPECT_EQ(a.exit_code, 1);
  EXPECT_THAT(a.err, HasSubstr("get_model"));
  const auto b = detect({"--model", "fasterrcnn_resnet50_fpn:", "x.png"});
  EXPECT_EQ(b.exit_code, 2);
  const auto c = detect({"--model", "fasterrcnn_resnet50_fpn", "--threshold", "2", "x.png"});
  EXPECT_EQ(c.exit_code, 2);
}

}  // namespace
