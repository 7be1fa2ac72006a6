// Optimizer state both ways with Python's torch.optim (tests/oracle/
// optimizer_oracle.py): a checkpoint Python wrote is loaded here and training
// continues to the very parameters Python reached; a checkpoint written here
// is loaded by Python, which continues to the parameters modelzoo reaches.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>

#include "modelzoo/error.h"
#include "modelzoo/io/io.h"
#include "modelzoo/state_dict/optimizer.h"
#include "modelzoo/state_dict/state_dict.h"
#include "support/process.h"

namespace {

namespace fs = std::filesystem;
namespace io = modelzoo::io;
namespace sdict = modelzoo::state_dict;
namespace optim = torch::optim;
using io::Value;
using nlohmann::json;
using ::testing::HasSubstr;

constexpr int kSteps = 3;  // optimizer_oracle.py's STEPS

fs::path oracle() { return fs::path(MZ_SOURCE_DIR) / "tests" / "oracle" / "optimizer_oracle.py"; }
fs::path fixture_dir() { return fs::path(MZ_BINARY_DIR) / "test_fixtures" / "optimizer_from_python"; }

const json& manifest() {
  static const json m = mz_test::cached_fixture(fixture_dir(), oracle(), "");
  return m;
}

torch::nn::Sequential make_model() {
  return torch::nn::Sequential(torch::nn::Linear(4, 5), torch::nn::Tanh(), torch::nn::Linear(5, 3));
}

void load_model(torch::nn::Sequential& model, const Value& sd, const std::string& origin) {
  sdict::LoadOptions lo;
  lo.alias = false;
  sdict::load_state_dict(*model, io::to_state_dict(sd, origin), lo);
}

void train(torch::nn::Sequential& model, optim::Optimizer& opt, const at::Tensor& x, const at::Tensor& y,
           int steps = kSteps) {
  for (int i = 0; i < steps; ++i) {
    opt.zero_grad();
    at::Tensor loss = (model->forward(x) - y).pow(2).mean();
    loss.backward();
    opt.step();
  }
}

double max_diff(torch::nn::Sequential& model, const io::StateDict& want) {
  double worst = 0;
  for (const auto& item : model->named_parameters()) {
    const at::Tensor* w = want.find(item.key());
    EXPECT_NE(w, nullptr) << item.key();
    if (w == nullptr) return INFINITY;
    worst = std::max(worst, (item.value() - *w).abs().max().item<double>());
  }
  return worst;
}

// An optimizer of the case's kind over `model`, grouped as Python groups it,
// with options unlike the file's (loading must replace them).
std::unique_ptr<optim::Optimizer> fresh(const std::string& name, torch::nn::Sequential& model) {
  auto params = model->parameters();
  if (name.rfind("sgd", 0) == 0) return std::make_unique<optim::SGD>(params, optim::SGDOptions(123.0));
  if (name == "adam_two_groups") {
    std::vector<optim::OptimizerParamGroup> groups;
    groups.emplace_back(std::vector<at::Tensor>{params[0], params[1]}, std::make_unique<optim::AdamOptions>(7.0));
    groups.emplace_back(std::vector<at::Tensor>{params[2], params[3]}, std::make_unique<optim::AdamOptions>(7.0));
    return std::make_unique<optim::Adam>(std::move(groups), optim::AdamOptions(7.0));
  }
  return std::make_unique<optim::Adam>(params, optim::AdamOptions(123.0));
}

// The same hyperparameters as optimizer_oracle.py's CASES, built here.
std::unique_ptr<optim::Optimizer> as_python_builds(const std::string& name, torch::nn::Sequential& model) {
  auto params = model->parameters();
  if (name == "sgd_momentum") {
    return std::make_unique<optim::SGD>(params, optim::SGDOptions(0.05).momentum(0.9).dampening(0.1).weight_decay(0.01));
  }
  if (name == "sgd_nesterov") {
    return std::make_unique<optim::SGD>(params,
                                        optim::SGDOptions(0.05).momentum(0.8).nesterov(true).weight_decay(0.001));
  }
  if (name == "sgd_plain") return std::make_unique<optim::SGD>(params, optim::SGDOptions(0.1));
  if (name == "adam") {
    return std::make_unique<optim::Adam>(
        params, optim::AdamOptions(0.01).betas(std::make_tuple(0.8, 0.99)).eps(1e-7).weight_decay(0.01));
  }
  if (name == "adam_amsgrad") return std::make_unique<optim::Adam>(params, optim::AdamOptions(0.02).amsgrad(true));
  std::vector<optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<at::Tensor>{params[0], params[1]}, std::make_unique<optim::AdamOptions>(0.03));
  groups.emplace_back(std::vector<at::Tensor>{params[2], params[3]}, std::make_unique<optim::AdamOptions>(0.005));
  return std::make_unique<optim::Adam>(std::move(groups), optim::AdamOptions(0.005));
}

const std::vector<std::string> kCases = {"sgd_momentum", "sgd_nesterov", "sgd_plain",
                                         "adam",         "adam_amsgrad", "adam_two_groups"};

}  // namespace

TEST(OptimizerFromPython, TrainingContinuesWhereTorchOptimLeftOff) {
  ASSERT_EQ(manifest().size(), kCases.size());
  for (const auto& name : kCases) {
    SCOPED_TRACE(name);
    const Value ckpt = io::read(fixture_dir() / (name + "_ckpt.pt"));
    const io::StateDict after = io::read_state_dict(fixture_dir() / (name + "_after.pt"));
    const at::Tensor x = ckpt.at("x").as_tensor(), y = ckpt.at("y").as_tensor();

    auto model = make_model();
    load_model(model, ckpt.at("model"), name);
    auto opt = fresh(name, model);
    sdict::load_optimizer_state_dict(*opt, ckpt.at("optimizer"));
    // Group options come from the file.
    const json& groups = manifest()[name]["param_groups"];
    ASSERT_EQ(opt->param_groups().size(), groups.size());
    for (std::size_t g = 0; g < groups.size(); ++g) {
      EXPECT_DOUBLE_EQ(opt->param_groups()[g].options().get_lr(), groups[g]["lr"].get<double>());
    }
    if (name == "adam") {
      const auto& o = static_cast<const optim::AdamOptions&>(opt->param_groups()[0].options());
      EXPECT_EQ(o.betas(), std::make_tuple(0.8, 0.99));
      EXPECT_DOUBLE_EQ(o.eps(), 1e-7);
      EXPECT_DOUBLE_EQ(o.weight_decay(), 0.01);
      const auto& s = static_cast<const optim::AdamParamState&>(*opt->state().begin()->second);
      EXPECT_EQ(s.step(), kSteps);
    }
    if (name == "sgd_nesterov") {
      const auto& o = static_cast<const optim::SGDOptions&>(opt->param_groups()[0].options());
      EXPECT_TRUE(o.nesterov());
      EXPECT_DOUBLE_EQ(o.momentum(), 0.8);
    }
    train(model, *opt, x, y);
    EXPECT_LT(max_diff(model, after), 1e-6) << "modelzoo continued differently from torch.optim";

    if (name != "sgd_plain") {
      // Without the state the same steps end elsewhere: the state is what carried over.
      auto cold = make_model();
      load_model(cold, ckpt.at("model"), name);
      auto cold_opt = as_python_builds(name, cold);
      train(cold, *cold_opt, x, y);
      EXPECT_GT(max_diff(cold, after), 1e-4);
    }
  }
}

TEST(OptimizerToPython, TorchOptimContinuesWhereModelzooLeftOff) {
  // The starting checkpoints are Python's fixture: make sure it exists (ctest
  // may run this test in its own process before the one that reads manifest()).
  ASSERT_TRUE(manifest().is_object());
  mz_test::TempDir dir("mz_optim_");
  struct Run {
    std::string name;
    torch::nn::Sequential model;
    std::unique_ptr<optim::Optimizer> opt;
    fs::path file, out;
  };
  std::vector<Run> runs;
  // One Python process continues every case (each start costs an `import torch`).
  std::string cmd = std::string(mz_test::python()) + " " + mz_test::shell_quote(oracle().string()) + " --continue";
  for (const auto& name : kCases) {
    SCOPED_TRACE(name);
    // Start from Python's initial model and data, then train here.
    const Value start = io::read(fixture_dir() / (name + "_ckpt.pt"));
    const at::Tensor x = start.at("x").as_tensor(), y = start.at("y").as_tensor();
    Run r{name, make_model(), nullptr, dir / (name + "_from_cpp.pt"), dir / (name + "_python_after.pt")};
    load_model(r.model, start.at("model"), name);
    r.opt = as_python_builds(name, r.model);
    train(r.model, *r.opt, x, y);

    Value ckpt = Value::dict();
    Value msd = Value::ordered_dict();
    for (const auto& item : r.model->named_parameters()) msd.set(item.key(), item.value().detach().clone());
    ckpt.set("model", msd);
    ckpt.set("optimizer", sdict::optimizer_state_dict(*r.opt));
    ckpt.set("x", x);
    ckpt.set("y", y);
    ckpt.set("kind", name.rfind("sgd", 0) == 0 ? "sgd" : "adam");
    io::write(r.file, ckpt);
    train(r.model, *r.opt, x, y);  // where modelzoo gets to
    cmd += " " + mz_test::shell_quote(r.file.string()) + " " + mz_test::shell_quote(r.out.string());
    runs.push_back(std::move(r));
  }
  const json all = json::parse(mz_test::must_run(cmd));
  for (auto& r : runs) {
    SCOPED_TRACE(r.name);
    EXPECT_LT(max_diff(r.model, io::read_state_dict(r.out)), 1e-6) << "torch.optim continued differently";
    // What Python read back: modelzoo's options and step counts.
    const json& loaded = all.at(r.file.string());
    const json& groups = loaded["param_groups"];
    ASSERT_EQ(groups.size(), r.opt->param_groups().size());
    for (std::size_t g = 0; g < groups.size(); ++g) {
      EXPECT_DOUBLE_EQ(groups[g]["lr"].get<double>(), r.opt->param_groups()[g].options().get_lr());
      EXPECT_EQ(groups[g]["params"].size(), r.opt->param_groups()[g].params().size());
    }
    if (r.name.rfind("adam", 0) == 0) {
      EXPECT_EQ(loaded["steps"].size(), 4u);
      for (const auto& [k, v] : loaded["steps"].items()) EXPECT_EQ(v.get<double>(), double(kSteps)) << k;
      if (r.name == "adam_amsgrad") {
        EXPECT_EQ(groups[0]["amsgrad"], true);
      }
    } else {
      EXPECT_EQ(groups[0]["nesterov"], r.name == "sgd_nesterov");
    }
  }
}

TEST(OptimizerState, RefusesWhatDoesNotFitAndChangesNothing) {
  auto model = make_model();
  optim::Adam opt(model->parameters(), optim::AdamOptions(0.5));
  const at::Tensor x = at::randn({8, 4}), y = at::randn({8, 3});
  train(model, opt, x, y, 1);
  const Value good = sdict::optimizer_state_dict(opt);
  auto error_of = [&](const Value& v) {
    try {
      sdict::load_optimizer_state_dict(opt, v);
    } catch (const modelzoo::LoadError& e) {
      return std::string(e.what());
    }
    ADD_FAILURE() << "expected a LoadError";
    return std::string();
  };
  // Another parameter count in the group.
  auto other = make_model();
  optim::Adam small(std::vector<at::Tensor>{other->parameters()[0]}, optim::AdamOptions(0.5));
  try {
    sdict::load_optimizer_state_dict(small, good);
    ADD_FAILURE() << "expected a LoadError";
  } catch (const modelzoo::LoadError& e) {
    EXPECT_THAT(e.what(), HasSubstr("/param_groups/0/params: the file's group has 4 parameters, the optimizer's 1"));
  }

  // A state tensor of the wrong shape, after a valid group: nothing is applied.
  Value bad = Value::dict();
  Value state = Value::dict();
  Value entry = Value::dict();
  entry.set("step", at::scalar_tensor(5.0));
  entry.set("exp_avg", at::zeros({5, 4}));
  entry.set("exp_avg_sq", at::zeros({4, 5}));
  state.set(0, entry);
  Value group = Value::dict();
  group.set("lr", 0.25);
  group.set("betas", Value::tuple({0.9, 0.999}));
  group.set("eps", 1e-8);
  group.set("weight_decay", 0.0);
  group.set("params", Value::list({0, 1, 2, 3}));
  bad.set("state", state);
  bad.set("param_groups", Value::list({group}));
  EXPECT_THAT(error_of(bad), HasSubstr("/state/0/exp_avg_sq: shape [4, 5] does not match the parameter's [5, 4]"));
  EXPECT_DOUBLE_EQ(opt.param_groups()[0].options().get_lr(), 0.5) << "the options were not replaced";
  const auto& s = static_cast<const optim::AdamParamState&>(*opt.state().begin()->second);
  EXPECT_EQ(s.step(), 1);

  entry.set("exp_avg_sq", at::zeros({5, 4}));
  group.set("maximize", true);
  EXPECT_THAT(error_of(bad), HasSubstr("/param_groups/0/maximize: maximize=True is not implemented"));
  group.set("maximize", false);
  state.set(9, entry);
  EXPECT_THAT(error_of(bad), HasSubstr("/state: key 9 is not a parameter index (0..4)"));

  // A type LibTorch has but this helper does not map.
  optim::RMSprop rms(model->parameters(), optim::RMSpropOptions(0.1));
  EXPECT_THROW(sdict::optimizer_state_dict(rms), modelzoo::Error);
}
