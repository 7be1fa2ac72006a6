// detect: prints (and optionally draws) what a detection model finds in images.
//
//   detect --model fasterrcnn_resnet50_fpn[:TAG] [--weights URL|FILE [--sha256 HEX]]
//          [--registry FILE]... [--cache-dir DIR] [--offline] [--mirror URL]...
//          [--threshold 0.5] [--json] [--draw DIR] [--plain] IMAGE...
//
// The model comes from the hub's pretrained path (registry -> cache ->
// download and verify -> load); each image is decoded (JPEG or PNG, by
// content), scaled to [0, 1] and detected on its own. Detections scoring at
// least --threshold are printed with their category names (from the
// weights' registry entry). --draw DIR writes each image with boxes, labels
// and scores drawn, masks blended in and keypoints joined by their skeleton,
// as DIR/<name> (PNG, or JPEG when the input name ends in .jpg/.jpeg). A bad
// image is reported (naming it) and the others are still processed. Exit
// status: 0 every image processed, 1 a failure (model, weights or any
// image), 2 usage error. The model runs through the inference path
// (modelzoo::optimize_for_inference, applied by the hub) unless --plain.

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "model_cli.h"
#include "modelzoo/error.h"
#include "modelzoo/hub/detection.h"
#include "modelzoo/transforms/draw.h"
#include "modelzoo/transforms/encode.h"
#include "modelzoo/transforms/image.h"

namespace {

namespace fs = std::filesystem;
namespace mz = modelzoo;
namespace tf = modelzoo::transforms;
using nlohmann::json;

using mz::cli::kFailure;
using mz::cli::kOk;
using mz::cli::UsageError;

struct Args : mz::cli::ModelOptions {
  std::string draw_dir;
  std::vector<std::string> images;
  double threshold = 0.5;
};

std::string label_of(const std::vector<std::string>& categories, int64_t index) {
  if (index >= 0 && index < static_cast<int64_t>(categories.size())) return categories[static_cast<std::size_t>(index)];
  return std::to_string(index);
}

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

// DIR/<input file name>, as PNG unless the input is a JPEG name.
fs::path drawn_path(const std::string& dir, const std::string& input) {
  fs::path name = fs::path(input).filename();
  std::string ext = name.extension().string();
  for (auto& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (ext != ".jpg" && ext != ".jpeg" && ext != ".png") name += ".png";
  return fs::path(dir) / name;
}

void draw(at::Tensor& image, const mz::Detection& d, const std::vector<int64_t>& kept,
          const std::vector<std::string>& categories, bool person_keypoints) {
  for (int64_t i : kept) {
    const int64_t label = d.labels[i].item<int64_t>();
    const tf::Color color = tf::palette_color(label);
    if (d.masks.defined()) tf::blend_mask(image, d.masks[i][0], color, 0.5, 0.5);
  }
  for (int64_t i : kept) {
    const int64_t label = d.labels[i].item<int64_t>();
    const tf::Color color = tf::palette_color(label);
    const auto b = d.boxes[i].to(at::kDouble).contiguous();
    const double* p = b.data_ptr<double>();
    tf::draw_box(image, {p[0], p[1], p[2], p[3]}, color, 2);
    if (d.keypoints.defined()) {
      tf::draw_keypoints(image, d.keypoints[i],
                         person_keypoints ? tf::coco_person_skeleton() : std::vector<std::pair<int, int>>{}, color, 3);
    }
    const std::string text = label_of(categories, label) + " " + fixed(d.scores[i].item<double>(), 2);
    const int64_t th = tf::text_size(text, 1).second;
    const int64_t y = static_cast<int64_t>(p[1]) >= th ? static_cast<int64_t>(p[1]) - th : static_cast<int64_t>(p[1]);
    tf::draw_text(image, static_cast<int64_t>(p[0]), y, text, {255, 255, 255}, color, 1);
  }
}

int run(const Args& a) {
  const auto [name, weights] = mz::cli::parse_request(a);
  const mz::HubOptions options = mz::cli::hub_options(a);
  const mz::DetectionWeightsInfo info = mz::detection_weights_info(name, weights, options);
  mz::Detector model = mz::get_detector(name, weights, options);
  if (!a.draw_dir.empty()) fs::create_directories(a.draw_dir);
  const bool person = info.keypoint_names.size() == 17;

  json out = {{"model", name}, {"weights", weights.describe()}, {"threshold", a.threshold}, {"images", json::array()}};
  bool all_ok = true;
  for (const auto& path : a.images) {
    json item = {{"path", path}};
    try {
      at::Tensor image = tf::read_image(path);
      const mz::Detection d = model->forward({image.to(at::kFloat).div(255)}).at(0);
      std::vector<int64_t> kept;
      json list = json::array();
      for (int64_t i = 0; i < d.scores.size(0); ++i) {
        const double score = d.scores[i].item<double>();
        if (score < a.threshold) continue;
        kept.push_back(i);
        const int64_t label = d.labels[i].item<int64_t>();
        const at::Tensor b = d.boxes[i].to(at::kDouble);
        json det = {{"index", label},
                    {"label", label_of(info.categories, label)},
                    {"score", score},
                    {"box", {b[0].item<double>(), b[1].item<double>(), b[2].item<double>(), b[3].item<double>()}}};
        if (d.keypoints.defined()) {
          json kps = json::array();
          for (int64_t k = 0; k < d.keypoints.size(1); ++k) {
            kps.push_back({{"name", k < static_cast<int64_t>(info.keypoint_names.size()) ? json(info.keypoint_names[k]) : json(k)},
                           {"x", d.keypoints[i][k][0].item<double>()},
                           {"y", d.keypoints[i][k][1].item<double>()},
                           {"score", d.keypoint_scores[i][k].item<double>()}});
          }
          det["keypoints"] = std::move(kps);
        }
        if (d.masks.defined()) det["mask_pixels"] = (d.masks[i][0] > 0.5).sum().item<int64_t>();
        list.push_back(std::move(det));
      }
      item["ok"] = true;
      item["detections"] = list;
      if (!a.draw_dir.empty()) {
        draw(image, d, kept, info.categories, person);
        const fs::path target = drawn_path(a.draw_dir, path);
        tf::write_image(target, image);
        item["drawn"] = target.string();
      }
      if (!a.json) {
        std::cout << path << ": " << list.size() << " detection" << (list.size() == 1 ? "" : "s") << "\n";
        for (const auto& det : list) {
          const auto& b = det["box"];
          std::cout << "  " << fixed(det["score"].get<double>(), 3) << "  " << det["label"].get<std::string>() << " ("
                    << det["index"].get<int64_t>() << ")  [" << fixed(b[0], 1) << ", " << fixed(b[1], 1) << ", "
                    << fixed(b[2], 1) << ", " << fixed(b[3], 1) << "]\n";
        }
        if (item.contains("drawn")) std::cout << "  drawn: " << item["drawn"].get<std::string>() << "\n";
      }
    } catch (const std::exception& e) {
      const bool named = dynamic_cast<const mz::ImageError*>(&e) != nullptr;
      const std::string message = named ? e.what() : path + ": " + e.what();
      all_ok = false;
      std::cerr << "detect: " << message << "\n";
      item["ok"] = false;
      item["error"] = message;
    }
    out["images"].push_back(std::move(item));
  }
  out["ok"] = all_ok;
  if (a.json) std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  return all_ok ? kOk : kFailure;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"detect: objects in images with a pretrained modelzoo detection model"};
  Args a;
  mz::cli::add_model_options(app, a, "fasterrcnn_resnet50_fpn or fasterrcnn_resnet50_fpn:COCO_V1");
  app.add_option("--threshold,-t", a.threshold, "minimum score of a reported detection")->check(CLI::Range(0.0, 1.0));
  app.add_option("--draw", a.draw_dir, "write each image with its detections drawn into this directory");
  app.add_option("images", a.images, "JPEG or PNG files")->required();
  app.set_version_flag("--version", std::string("detect (modelzoo) ") + MZ_VERSION);
  app.footer("Exit status: 0 every image processed, 1 failure (model, weights or any image), 2 usage error.");
  return mz::cli::parse_and_run("detect", app, argc, argv, a, [&] { return run(a); });
}
