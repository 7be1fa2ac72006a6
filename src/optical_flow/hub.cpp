#include "modelzoo/optical_flow/hub.h"

#include <torch/nn/module.h>

#include "modelzoo/error.h"
#include "modelzoo/hub/task_model.h"

namespace modelzoo {
namespace {

const TaskArchitectures& flow_tasks() {
  static const TaskArchitectures t = [] {
    TaskArchitectures a;
    a.task = "optical_flow";
    a.knows = [](const std::string& arch) { return optical_flow::find_flow_architecture(arch) != nullptr; };
    a.build = [](const std::string& arch, const models::ArchArgs& args) -> std::shared_ptr<torch::nn::Module> {
      return optical_flow::build_flow_model(arch, args).ptr();
    };
    a.names = list_flow_models;
    return a;
  }();
  return t;
}

Weights from_flag(bool pretrained) { return pretrained ? Weights::default_weights() : Weights::none(); }

}  // namespace

RAFT get_flow_model(const std::string& name, const Weights& weights, const HubOptions& options) {
  auto module = load_task_model(name, weights, options, flow_tasks());
  auto impl = std::dynamic_pointer_cast<optical_flow::RAFTImpl>(module);
  if (!impl) throw Error("optical flow architecture '" + name + "' did not build a RAFT model");
  return RAFT(impl);
}

std::vector<std::string> list_flow_models() {
  std::vector<std::string> names;
  for (const auto& a : optical_flow::flow_architectures()) names.push_back(a.name);
  return names;
}

RAFT raft_large(bool pretrained, const HubOptions& options) {
  return get_flow_model("raft_large", from_flag(pretrained), options);
}
RAFT raft_small(bool pretrained, const HubOptions& options) {
  return get_flow_model("raft_small", from_flag(pretrained), options);
}
RAFT raft_large(const Weights& weights, const HubOptions& options) { return get_flow_model("raft_large", weights, options); }
RAFT raft_small(const Weights& weights, const HubOptions& options) { return get_flow_model("raft_small", weights, options); }

}  // namespace modelzoo
