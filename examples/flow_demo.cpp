// flow_demo: two frames in, a colour-coded optical flow picture out.
//
//   flow_demo [--model raft_small[:TAG]] [--weights FILE] [--updates N] [--every]
//             FRAME1 FRAME2 OUT.png
//
// The model comes from the hub's pretrained path (registry -> cache ->
// download and verify -> load; MODELZOO_* variables apply), or from a local
// weights file with --weights. Both frames (JPEG or PNG, same size; any size
// of at least 8 x 8) go through the OpticalFlow preset; the final flow is
// drawn with the standard colour wheel (as torchvision.utils.flow_to_image)
// and written to OUT.png. --every also writes OUT.<i>.png for each of the N
// iterations. Prints the mean and largest flow magnitude in pixels.

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <modelzoo/modelzoo.h>

namespace {

int usage() {
  std::cerr << "usage: flow_demo [--model raft_small[:TAG]] [--weights FILE] [--updates N] [--every] "
               "FRAME1 FRAME2 OUT.png\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_spec = "raft_small", weights_file;
  int64_t updates = 12;
  bool every = false;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--model" || a == "--weights" || a == "--updates") && i + 1 < argc) {
      const std::string v = argv[++i];
      if (a == "--model") model_spec = v;
      if (a == "--weights") weights_file = v;
      if (a == "--updates") updates = std::atoll(v.c_str());
    } else if (a == "--every") {
      every = true;
    } else if (!a.empty() && a[0] == '-') {
      return usage();
    } else {
      positional.push_back(a);
    }
  }
  if (positional.size() != 3 || updates < 1) return usage();
  try {
    std::string name = model_spec, tag;
    if (const auto colon = name.find(':'); colon != std::string::npos) {
      tag = name.substr(colon + 1);
      name = name.substr(0, colon);
    }
    const modelzoo::Weights weights = !weights_file.empty() ? modelzoo::Weights::file(weights_file)
                                      : tag.empty()         ? modelzoo::Weights::default_weights()
                                                            : modelzoo::Weights::tag(tag);
    modelzoo::RAFT model = modelzoo::get_flow_model(name, weights);
    const auto [a, b] = modelzoo::transforms::optical_flow_preset(modelzoo::transforms::read_image(positional[0]),
                                                                  modelzoo::transforms::read_image(positional[1]));
    c10::NoGradGuard no_grad;
    const auto flows = model->forward_all(a.unsqueeze(0), b.unsqueeze(0), updates);
    const std::string out = positional[2];
    modelzoo::transforms::write_image(out, modelzoo::optical_flow::flow_to_image(flows.back()[0]));
    if (every) {
      const auto dot = out.rfind('.');
      for (std::size_t i = 0; i < flows.size(); ++i) {
        const std::string path = out.substr(0, dot) + "." + std::to_string(i + 1) + out.substr(dot);
        modelzoo::transforms::write_image(path, modelzoo::optical_flow::flow_to_image(flows[i][0]));
      }
    }
    const at::Tensor magnitude = flows.back()[0].pow(2).sum(0).sqrt();
    std::cout << out << ": " << flows.size() << " updates, mean |flow| " << magnitude.mean().item<double>()
              << " px, max " << magnitude.max().item<double>() << " px\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "flow_demo: " << e.what() << "\n";
    return 1;
  }
}
