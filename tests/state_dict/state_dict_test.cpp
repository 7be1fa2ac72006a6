// state_dict(): Python's key order; load_state_dict(): strict errors listing
// everything, non-strict reports, remapping, aliasing and dtype conversion.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "modelzoo/error.h"
#include "modelzoo/state_dict/state_dict.h"

namespace sd = modelzoo::state_dict;
using modelzoo::LoadError;

namespace {

// A BatchNorm-like leaf: parameters weight, bias; buffers running_mean,
// running_var, num_batches_tracked.
struct Norm : torch::nn::Module {
  explicit Norm(int64_t c) {
    weight = register_parameter("weight", at::ones({c}));
    bias = register_parameter("bias", at::zeros({c}));
    running_mean = register_buffer("running_mean", at::zeros({c}));
    running_var = register_buffer("running_var", at::ones({c}));
    num_batches_tracked = register_buffer("num_batches_tracked", at::zeros({}, at::kLong));
  }
  at::Tensor weight, bias, running_mean, running_var, num_batches_tracked;
};

// A conv-like leaf; `with_bias = false` registers an undefined bias (Python's None).
struct Leaf : torch::nn::Module {
  Leaf(std::vector<int64_t> shape, bool with_bias) {
    weight = register_parameter("weight", at::randn(shape));
    bias = register_parameter("bias", with_bias ? at::randn({shape[0]}) : at::Tensor(), with_bias);
  }
  at::Tensor weight, bias;
};

struct Empty : torch::nn::Module {};

// Net: own parameter "scale" and buffer "offset" first, then children
// features.{0: Leaf, 1: Empty, 2: Norm}, head (Leaf without bias).
struct Net : torch::nn::Module {
  Net() {
    scale = register_parameter("scale", at::full({1}, 2.0));
    offset = register_buffer("offset", at::zeros({2}));
    features = register_module("features", std::make_shared<torch::nn::Module>());
    conv = features->register_module("0", std::make_shared<Leaf>(std::vector<int64_t>{4, 3, 3, 3}, true));
    features->register_module("1", std::make_shared<Empty>());
    norm = features->register_module("2", std::make_shared<Norm>(4));
    head = register_module("head", std::make_shared<Leaf>(std::vector<int64_t>{5, 4}, false));
  }
  at::Tensor scale, offset;
  std::shared_ptr<torch::nn::Module> features;
  std::shared_ptr<Leaf> conv, head;
  std::shared_ptr<Norm> norm;
};

const std::vector<std::string> kNetKeys = {
    "scale",
    "offset",
    "features.0.weight",
    "features.0.bias",
    "features.2.weight",
    "features.2.bias",
    "features.2.running_mean",
    "features.2.running_var",
    "features.2.num_batches_tracked",
    "head.weight",
};

std::vector<std::string> keys_of(const sd::StateDict& d) {
  std::vector<std::string> k;
  for (const auto& item : d) k.push_back(item.key());
  return k;
}

// A state dict with the same keys as `net` but fresh random values.
sd::StateDict random_like(const Net& net) {
  sd::StateDict out;
  for (const auto& item : sd::state_dict(net)) {
    const at::Tensor& t = item.value();
    out.insert(item.key(), t.is_floating_point() ? at::randn_like(t) : at::full_like(t, 7));
  }
  return out;
}

void expect_equal_to(const Net& net, const sd::StateDict& expected) {
  const auto got = sd::state_dict(net);
  ASSERT_EQ(keys_of(got), keys_of(expected));
  for (const auto& item : expected) {
    EXPECT_TRUE(at::equal(got[item.key()], item.value().to(got[item.key()].scalar_type())))
        << item.key();
  }
}

std::string load_error_message(torch::nn::Module& m, const sd::StateDict& d,
                               const sd::LoadOptions& o = {}) {
  try {
    sd::load_state_dict(m, d, o);
  } catch (const LoadError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a LoadError";
  return "";
}

}  // namespace

TEST(StateDict, KeysFollowPythonOrder) {
  Net net;
  EXPECT_EQ(keys_of(sd::state_dict(net)), kNetKeys);
}

TEST(StateDict, TensorsShareStorageButAreDetached) {
  Net net;
  const auto d = sd::state_dict(net);
  EXPECT_EQ(d["features.0.weight"].data_ptr(), net.conv->weight.data_ptr());
  EXPECT_FALSE(d["features.0.weight"].requires_grad());
  EXPECT_TRUE(net.conv->weight.requires_grad());
  EXPECT_EQ(d["features.2.num_batches_tracked"].scalar_type(), at::kLong);
  EXPECT_EQ(d["features.2.num_batches_tracked"].dim(), 0);
}

TEST(StateDict, LoadsEveryTensorStrict) {
  Net net;
  const auto file = random_like(net);
  const auto report = sd::load_state_dict(net, file);
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(report.loaded, kNetKeys.size());
  EXPECT_TRUE(report.defaulted.empty());
  expect_equal_to(net, file);
  // The module's own handles see the new values (the TensorImpl was updated in place).
  EXPECT_TRUE(at::equal(net.norm->running_var, file["features.2.running_var"]));
  EXPECT_EQ(net.norm->num_batches_tracked.item<int64_t>(), 7);
}

TEST(StateDict, StrictErrorListsEveryProblemAndLoadsNothing) {
  Net net;
  const auto before = sd::state_dict(net);
  std::vector<at::Tensor> snapshot;
  for (const auto& item : before) snapshot.push_back(item.value().clone());

  auto file = random_like(net);
  sd::StateDict broken;
  for (const auto& item : file) {
    if (item.key() == "head.weight" || item.key() == "features.0.bias") continue;  // missing
    if (item.key() == "features.0.weight") {
      broken.insert(item.key(), at::randn({8, 3, 3, 3}));  // shape mismatch
      continue;
    }
    if (item.key() == "features.2.running_mean") {
      broken.insert(item.key(), at::zeros({4}, at::kInt));  // dtype not converted
      continue;
    }
    broken.insert(item.key(), item.value());
  }
  broken.insert("zeta.weight", at::zeros({2, 2}));  // unexpected
  broken.insert("alpha", at::zeros({3}));           // unexpected

  const std::string msg = load_error_message(net, broken);
  EXPECT_NE(msg.find("6 problems"), std::string::npos) << msg;  // 2 missing, 2 unexpected, 2 mismatched
  EXPECT_NE(msg.find("missing from the file (2):\n  features.0.bias [4]\n  head.weight [5, 4]\n"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("unexpected in the file (2):\n  alpha [3]\n  zeta.weight [2, 2]\n"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("features.0.weight: module expects [4, 3, 3, 3], file has [8, 3, 3, 3]"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("features.2.running_mean: module expects [4], file has [4] (dtype: module "
                     "Float, file Int"),
            std::string::npos)
      << msg;

  // Validation happens before loading: every tensor still has its old value.
  const auto after = sd::state_dict(net);
  std::size_t i = 0;
  for (const auto& item : after) EXPECT_TRUE(at::equal(item.value(), snapshot[i++])) << item.key();
}

TEST(StateDict, StrictErrorCountsProblems) {
  Net net;
  auto file = random_like(net);
  file.insert("extra", at::zeros({1}));
  // One unexpected key alone: "1 problem".
  const std::string msg = load_error_message(net, file);
  EXPECT_NE(msg.find("1 problem "), std::string::npos) << msg;
  EXPECT_NE(msg.find("extra [1]"), std::string::npos) << msg;
}

TEST(StateDict, NonStrictLoadsWhatMatchesAndReports) {
  Net net;
  const auto old_head = net.head->weight.clone();
  auto file = random_like(net);
  sd::StateDict partial;
  for (const auto& item : file) {
    if (item.key() == "head.weight") continue;
    if (item.key() == "scale") {
      partial.insert(item.key(), at::zeros({2}));
      continue;
    }
    partial.insert(item.key(), item.value());
  }
  partial.insert("bogus", at::zeros({1}));
  sd::LoadOptions o;
  o.strict = false;
  const auto r = sd::load_state_dict(net, partial, o);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.missing, std::vector<std::string>{"head.weight"});
  EXPECT_EQ(r.unexpected, std::vector<std::string>{"bogus"});
  ASSERT_EQ(r.mismatched.size(), 1u);
  EXPECT_EQ(r.mismatched[0].key, "scale");
  EXPECT_EQ(r.mismatched[0].expected, std::vector<int64_t>{1});
  EXPECT_EQ(r.mismatched[0].found, std::vector<int64_t>{2});
  EXPECT_EQ(r.loaded, kNetKeys.size() - 2);
  EXPECT_TRUE(at::equal(net.head->weight, old_head));
  EXPECT_EQ(net.scale.item<float>(), 2.0f);
  EXPECT_TRUE(at::equal(net.conv->weight, file["features.0.weight"]));
  const std::string text = r.to_string();
  EXPECT_NE(text.find("head.weight [5, 4]"), std::string::npos) << text;
  EXPECT_NE(text.find("bogus [1]"), std::string::npos) << text;
}

TEST(StateDict, MissingNumBatchesTrackedIsDefaulted) {
  Net net;
  net.norm->num_batches_tracked.fill_(5);
  auto file = random_like(net);
  sd::StateDict old_style;  // as saved before BatchNorm had num_batches_tracked
  for (const auto& item : file) {
    if (item.key() != "features.2.num_batches_tracked") old_style.insert(item.key(), item.value());
  }
  const auto r = sd::load_state_dict(net, old_style);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.defaulted, std::vector<std::string>{"features.2.num_batches_tracked"});
  EXPECT_EQ(net.norm->num_batches_tracked.item<int64_t>(), 0);
}

TEST(StateDict, StripsModulePrefixOnlyWhenEveryKeyHasIt) {
  Net net;
  const auto file = random_like(net);
  sd::StateDict wrapped;
  for (const auto& item : file) wrapped.insert("module." + item.key(), item.value());

  const auto stripped = sd::remap_keys(wrapped, {});
  EXPECT_EQ(keys_of(stripped), kNetKeys);
  EXPECT_TRUE(sd::load_state_dict(net, wrapped).ok());
  expect_equal_to(net, file);

  sd::LoadOptions keep;
  keep.strip_module_prefix = false;
  EXPECT_EQ(keys_of(sd::remap_keys(wrapped, keep)), keys_of(wrapped));

  wrapped.insert("not_wrapped", at::zeros({1}));
  const auto mixed = sd::remap_keys(wrapped, {});
  EXPECT_EQ(keys_of(mixed), keys_of(wrapped));
}

TEST(StateDict, RegexRenamesApplyInOrder) {
  // Caffe-style names (conv1_1, conv1_2, fc6) onto torchvision's indices.
  sd::StateDict caffe;
  caffe.insert("conv1_1.weight", at::zeros({1}));
  caffe.insert("conv1_1.bias", at::zeros({1}));
  caffe.insert("conv1_2.weight", at::zeros({1}));
  caffe.insert("fc6.weight", at::zeros({1}));
  sd::LoadOptions o;
  o.renames = {
      {R"(conv1_1\.(weight|bias))", "features.0.$1"},
      {R"(conv1_2\.(weight|bias))", "features.2.$1"},
      {R"(fc6\.(.*))", "fc.$1"},
      {R"(fc\.(.*))", "classifier.0.$1"},  // sees the result of the previous rule
      {R"(weight)", "never"},              // whole-key match only: no key is just "weight"
  };
  const auto out = sd::remap_keys(caffe, o);
  EXPECT_EQ(keys_of(out), (std::vector<std::string>{"features.0.weight", "features.0.bias",
                                                    "features.2.weight", "classifier.0.weight"}));
  // Values travel with their keys.
  EXPECT_EQ(out["features.2.weight"].data_ptr(), caffe["conv1_2.weight"].data_ptr());
}

TEST(StateDict, RemapRejectsBadPatternsAndCollisions) {
  sd::StateDict d;
  d.insert("a.weight", at::zeros({1}));
  d.insert("b.weight", at::zeros({1}));

  sd::LoadOptions bad;
  bad.renames = {{"(unclosed", "x"}};
  try {
    sd::remap_keys(d, bad);
    FAIL() << "expected LoadError";
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find("'(unclosed'"), std::string::npos) << e.what();
  }

  sd::LoadOptions collide;
  collide.renames = {{R"([ab]\.weight)", "w"}};
  try {
    sd::remap_keys(d, collide);
    FAIL() << "expected LoadError";
  } catch (const LoadError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'a.weight'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'b.weight'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'w'"), std::string::npos) << msg;
  }

  sd::LoadOptions empty;
  empty.renames = {{R"(a\.weight)", ""}};
  EXPECT_THROW(sd::remap_keys(d, empty), LoadError);
}

TEST(StateDict, HintsAtAWrappingPrefix) {
  Net net;
  sd::StateDict wrapped;
  for (const auto& item : random_like(net)) wrapped.insert("backbone." + item.key(), item.value());
  const std::string msg = load_error_message(net, wrapped);
  EXPECT_NE(msg.find("every unexpected key starts with 'backbone.'"), std::string::npos) << msg;
}

TEST(StateDict, AliasTakesTheFileStorage) {
  Net net;
  const auto file = random_like(net);
  const auto r = sd::load_state_dict(net, file);
  EXPECT_EQ(r.aliased, kNetKeys.size());
  EXPECT_EQ(net.conv->weight.data_ptr(), file["features.0.weight"].data_ptr());
  EXPECT_EQ(net.norm->running_mean.data_ptr(), file["features.2.running_mean"].data_ptr());
  // Still a trainable parameter.
  EXPECT_TRUE(net.conv->weight.requires_grad());
  EXPECT_TRUE(net.conv->weight.is_leaf());
  // Shared memory: a write to the file tensor shows in the module.
  file["features.0.weight"].fill_(3.0);
  EXPECT_EQ(net.conv->weight.max().item<float>(), 3.0f);
}

TEST(StateDict, WithoutAliasEverythingIsCopied) {
  Net net;
  const auto file = random_like(net);
  sd::LoadOptions o;
  o.alias = false;
  const auto r = sd::load_state_dict(net, file, o);
  EXPECT_EQ(r.aliased, 0u);
  EXPECT_EQ(r.loaded, kNetKeys.size());
  EXPECT_NE(net.conv->weight.data_ptr(), file["features.0.weight"].data_ptr());
  expect_equal_to(net, file);
}

TEST(StateDict, NonContiguousFileTensorsAreCopied) {
  Net net;
  auto file = random_like(net);
  sd::StateDict d;
  const at::Tensor transposed = at::randn({4, 5}).t();  // [5, 4], not contiguous
  for (const auto& item : file) d.insert(item.key(), item.key() == "head.weight" ? transposed : item.value());
  const auto r = sd::load_state_dict(net, d);
  EXPECT_EQ(r.aliased, kNetKeys.size() - 1);
  EXPECT_NE(net.head->weight.data_ptr(), transposed.data_ptr());
  EXPECT_TRUE(net.head->weight.is_contiguous());
  EXPECT_TRUE(at::equal(net.head->weight, transposed));
}

TEST(StateDict, FloatDtypesAreConverted) {
  Net net;
  auto file = random_like(net);
  sd::StateDict d;
  for (const auto& item : file) {
    const at::Tensor& t = item.value();
    if (item.key() == "features.0.weight") {
      d.insert(item.key(), t.to(at::kHalf));
    } else if (item.key() == "head.weight") {
      d.insert(item.key(), t.to(at::kDouble));
    } else {
      d.insert(item.key(), t);
    }
  }
  const auto r = sd::load_state_dict(net, d);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.aliased, kNetKeys.size() - 2);
  EXPECT_EQ(net.conv->weight.scalar_type(), at::kFloat);
  EXPECT_EQ(net.head->weight.scalar_type(), at::kFloat);
  EXPECT_TRUE(at::equal(net.conv->weight, d["features.0.weight"].to(at::kFloat)));
  EXPECT_TRUE(at::allclose(net.head->weight, file["head.weight"]));
}

TEST(StateDict, IntegerIntoFloatIsAMismatch) {
  Net net;
  auto file = random_like(net);
  sd::StateDict d;
  for (const auto& item : file) {
    d.insert(item.key(), item.key() == "scale" ? at::ones({1}, at::kLong) : item.value());
  }
  sd::LoadOptions o;
  o.strict = false;
  const auto r = sd::load_state_dict(net, d, o);
  ASSERT_EQ(r.mismatched.size(), 1u);
  EXPECT_EQ(r.mismatched[0].key, "scale");
  EXPECT_NE(r.mismatched[0].detail.find("module Float, file Long"), std::string::npos)
      << r.mismatched[0].detail;
  EXPECT_EQ(net.scale.item<float>(), 2.0f);
}

TEST(StateDict, RoundTripThroughStateDict) {
  Net a, b;
  sd::LoadOptions o;
  o.alias = false;
  EXPECT_TRUE(sd::load_state_dict(b, sd::state_dict(a), o).ok());
  expect_equal_to(b, sd::state_dict(a));
}
