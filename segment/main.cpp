// segment: the classes present in images, with their pixel share, from a
// pretrained semantic segmentation model; optionally the class map blended
// into each image.
//
//   segment --model deeplabv3_resnet50[:TAG] [--weights URL|FILE [--sha256 HEX]]
//           [--registry FILE]... [--cache-dir DIR] [--offline] [--mirror URL]...
//           [--json] [--draw DIR [--alpha 0.5]] [--plain] IMAGE...
//
// The model comes from the hub's pretrained path (registry -> cache ->
// download and verify -> load). Every image is decoded, preprocessed with the
// weights' SemanticSegmentation preset (registry meta.preset), segmented, and
// its `out` logits resized back to the image's own size (bilinear) before the
// per-pixel argmax, so shares and drawings refer to the original pixels.
// --draw writes DIR/<image stem>.seg.png: the image with every non-background
// pixel mixed with its class colour (PASCAL VOC palette; the JSON lists the
// colours as a legend). A bad image is reported (naming it) and the others are
// still processed. Exit status: 0 every image segmented, 1 a failure, 2 usage.
// The model runs through the inference path (modelzoo::optimize_for_inference,
// applied by the hub) unless --plain.

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <nlohmann/json.hpp>

#include "model_cli.h"
#include "modelzoo/error.h"
#include "modelzoo/segmentation/hub.h"
#include "modelzoo/segmentation/output.h"
#include "modelzoo/transforms/encode.h"
#include "modelzoo/transforms/image.h"
#include "modelzoo/transforms/presets.h"

namespace {

namespace mz = modelzoo;
namespace fs = std::filesystem;
using nlohmann::json;

using mz::cli::kFailure;
using mz::cli::kOk;
using mz::cli::UsageError;

struct Args : mz::cli::ModelOptions {
  std::string draw_dir;
  double alpha = 0.5;
  std::vector<std::string> images;
};

mz::HubOptions hub_options(const Args& a) {
  mz::HubOptions o = mz::cli::hub_options(a);
  // Only the main head is reported: the auxiliary one is not built.
  o.arch_options["aux_loss"] = false;
  return o;
}

// The preset and categories of the request: the registry entry's for a tag
// (or the default), else the model's default entry when registered (custom
// weights of a registered model), else torchvision's SemanticSegmentation
// defaults and no names.
struct Resolved {
  mz::transforms::PresetSpec preset;
  std::vector<std::string> categories;
  std::string tag;
};

Resolved resolve(const std::string& name, const mz::Weights& weights, const mz::HubOptions& options) {
  Resolved r;
  r.preset.name = "SemanticSegmentation";
  r.preset.resize_size = {520};
  const mz::registry::ModelEntry* entry = options.registry.find(name);
  if (entry == nullptr) return r;
  const bool tagged = weights.kind() == mz::Weights::Kind::Tag || weights.kind() == mz::Weights::Kind::Default;
  const auto& we = entry->require_weights(weights.kind() == mz::Weights::Kind::Tag ? weights.value() : "DEFAULT");
  if (we.meta.contains("preset")) r.preset = mz::transforms::PresetSpec::of(we);
  r.categories = we.categories;
  if (tagged) r.tag = we.tag;
  return r;
}

std::string percent(double share) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(2) << std::setw(6) << share * 100.0 << "%";
  return s.str();
}

json color_json(int64_t index) {
  const auto c = mz::segmentation::palette_color(index);
  return json::array({c[0], c[1], c[2]});
}

int run(const Args& a) {
  const auto [name, weights] = mz::cli::parse_request(a);
  const mz::HubOptions options = hub_options(a);
  const Resolved info = resolve(name, weights, options);
  const mz::transforms::SegmentationPreset preset(info.preset);
  mz::Segmenter model = mz::get_segmenter(name, weights, options);
  model->eval();
  if (!a.draw_dir.empty()) {
    std::error_code ec;
    fs::create_directories(a.draw_dir, ec);
    if (ec || !fs::is_directory(a.draw_dir)) throw mz::Error("--draw " + a.draw_dir + ": cannot create the directory");
  }

  json out = {{"model", name},
              {"weights", weights.describe()},
              {"tag", info.tag.empty() ? json(nullptr) : json(info.tag)},
              {"images", json::array()}};
  bool all_ok = true;
  for (const auto& path : a.images) {
    json item = {{"path", path}};
    try {
      const at::Tensor image = mz::transforms::read_image(path);
      const int64_t h = image.size(1), w = image.size(2);
      at::Tensor map;
      {
        c10::NoGradGuard no_grad;
        const at::Tensor logits = model->forward(preset(image).unsqueeze(0)).out;
        map = mz::segmentation::class_map(mz::segmentation::resize_logits(logits, h, w))[0];
      }
      const auto shares = mz::segmentation::class_shares(map, info.categories);
      json classes = json::array();
      for (const auto& s : shares) {
        classes.push_back({{"index", s.index}, {"name", s.name}, {"pixels", s.pixels}, {"share", s.share},
                           {"color", color_json(s.index)}});
      }
      item["ok"] = true;
      item["size"] = {h, w};
      item["classes"] = std::move(classes);
      if (!a.draw_dir.empty()) {
        const fs::path dest = fs::path(a.draw_dir) / (fs::path(path).stem().string() + ".seg.png");
        mz::transforms::write_image(dest, mz::segmentation::blend_class_map(image, map, a.alpha));
        item["drawing"] = dest.string();
      }
      if (!a.json) {
        std::cout << path << " (" << w << "x" << h << ")\n";
        for (const auto& s : shares) std::cout << "  " << percent(s.share) << "  " << s.name << " (" << s.index << ")\n";
        if (item.contains("drawing")) std::cout << "  drawn: " << item["drawing"].get<std::string>() << "\n";
      }
    } catch (const std::exception& e) {
      const bool named = dynamic_cast<const mz::ImageError*>(&e) != nullptr;
      const std::string message = named ? e.what() : path + ": " + e.what();
      all_ok = false;
      std::cerr << "segment: " << message << "\n";
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
  CLI::App app{"segment: classes present in images (pixel share) with a pretrained modelzoo segmentation model"};
  Args a;
  mz::cli::add_model_options(app, a, "deeplabv3_resnet50 or deeplabv3_resnet50:COCO_WITH_VOC_LABELS_V1");
  app.add_option("--draw", a.draw_dir, "write DIR/<image stem>.seg.png with the class map blended in");
  app.add_option("--alpha", a.alpha, "weight of the class colour in --draw pictures")->check(CLI::Range(0.0, 1.0));
  app.add_option("images", a.images, "JPEG or PNG files")->required();
  app.set_version_flag("--version", std::string("segment (modelzoo) ") + MZ_VERSION);
  app.footer("Exit status: 0 every image segmented, 1 failure (model, weights or any image), 2 usage error.");
  return mz::cli::parse_and_run("segment", app, argc, argv, a, [&] { return run(a); });
}
