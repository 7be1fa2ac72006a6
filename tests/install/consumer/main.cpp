// Uses the installed library the way a program would: the umbrella header,
// the embedded registry, a named factory and get_model by name.
#include <modelzoo/modelzoo.h>
#include <torch/torch.h>

#include <iostream>

int main() {
  const auto names = modelzoo::list_models();
  const auto registry = modelzoo::registry::Registry::builtin();
  const auto& vgg19 = registry.require("vgg19");
  const auto& entry = vgg19.require_weights("DEFAULT");

  auto model = modelzoo::vgg11();  // no weights: nothing to download
  model->eval();
  torch::NoGradGuard no_grad;
  const auto logits = model->forward(torch::zeros({1, 3, 32, 32}));

  auto by_name = modelzoo::get_model("resnet18");
  by_name->eval();
  const auto logits2 = by_name->forward(torch::zeros({1, 3, 32, 32}));

  std::cout << "models " << names.size() << "\n"
            << "vgg19 " << entry.tag << " " << entry.sha256.hex << "\n"
            << "vgg11 logits " << logits.size(0) << "x" << logits.size(1) << "\n"
            << "resnet18 logits " << logits2.size(0) << "x" << logits2.size(1) << "\n";
  return 0;
}
