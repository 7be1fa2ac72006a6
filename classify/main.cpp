// classify: prints the top-k labels of images with a pretrained model.
//
//   classify --model resnet50[:TAG] [--weights URL[#sha256=HEX]|FILE [--sha256 HEX]]
//            [--registry FILE]... [--cache-dir DIR] [--offline] [--mirror URL]...
//            [--topk 5] [--json] [--plain] IMAGE...
//
// The model comes from the hub's pretrained path (registry -> cache ->
// download and verify -> load); every image is decoded (JPEG or PNG, by
// content), preprocessed with the weights' own transforms (registry entry)
// and classified on its own. A bad image is reported (naming it) and the
// others are still classified. The model runs through the inference path
// (modelzoo::optimize_for_inference, applied by the hub) unless --plain.
// Exit status: 0 every image classified, 1 a failure (model, weights or any
// image), 2 usage error.

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
#include "modelzoo/hub/hub.h"
#include "modelzoo/hub/weights_info.h"
#include "modelzoo/transforms/image.h"
#include "modelzoo/transforms/labels.h"
#include "modelzoo/transforms/preprocess.h"

namespace {

namespace mz = modelzoo;
using nlohmann::json;

using mz::cli::kFailure;
using mz::cli::kOk;
using mz::cli::UsageError;

struct Args : mz::cli::ModelOptions {
  int64_t topk = 5;
  std::vector<std::string> images;
};

std::string format_probability(double p) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(4) << p;
  return s.str();
}

int run(const Args& a) {
  const auto [name, weights] = mz::cli::parse_request(a);
  const mz::HubOptions options = mz::cli::hub_options(a);
  const mz::WeightsInfo info = mz::weights_info(name, weights, options);
  const mz::transforms::Preprocess preprocess(info.transforms);
  mz::Classifier model = mz::get_model(name, weights, options);
  model->eval();

  json out = {{"model", name},
              {"weights", weights.describe()},
              {"tag", info.tag.empty() ? json(nullptr) : json(info.tag)},
              {"images", json::array()}};
  bool all_ok = true;
  for (const auto& path : a.images) {
    json item = {{"path", path}};
    try {
      const at::Tensor input = preprocess(mz::transforms::read_image(path)).unsqueeze(0);
      at::Tensor logits;
      {
        c10::NoGradGuard no_grad;
        logits = model->forward(input);
      }
      const auto top = mz::transforms::topk(logits, info.categories, a.topk).at(0);
      json list = json::array();
      for (const auto& p : top) list.push_back({{"index", p.index}, {"label", p.label}, {"probability", p.probability}});
      item["ok"] = true;
      item["top"] = std::move(list);
      if (!a.json) {
        std::cout << path << "\n";
        for (std::size_t i = 0; i < top.size(); ++i) {
          std::cout << "  " << std::setw(2) << (i + 1) << ". " << format_probability(top[i].probability) << "  "
                    << top[i].label << " (" << top[i].index << ")\n";
        }
      }
    } catch (const std::exception& e) {
      // modelzoo::ImageError names the file; anything else gets the name here.
      const bool named = dynamic_cast<const mz::ImageError*>(&e) != nullptr;
      const std::string message = named ? e.what() : path + ": " + e.what();
      all_ok = false;
      std::cerr << "classify: " << message << "\n";
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
  CLI::App app{"classify: top-k labels of images with a pretrained modelzoo model and its weights' preprocessing"};
  Args a;
  mz::cli::add_model_options(app, a, "resnet50 or resnet50:IMAGENET1K_V2");
  app.add_option("--topk,-k", a.topk, "number of classes per image")->check(CLI::PositiveNumber);
  app.add_option("images", a.images, "JPEG or PNG files")->required();
  app.set_version_flag("--version", std::string("classify (modelzoo) ") + MZ_VERSION);
  app.footer("Exit status: 0 every image classified, 1 failure (model, weights or any image), 2 usage error.");
  return mz::cli::parse_and_run("classify", app, argc, argv, a, [&] { return run(a); });
}
