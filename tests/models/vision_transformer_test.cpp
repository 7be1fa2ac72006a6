// Vision Transformer: geometry from image_size, torchvision's initialisation,
// input checks, the legacy MLP key renames of the catalog, and the blocks'
// behaviour in train and eval mode. Key layout and numeric parity with
// torchvision are checked by models_test.cpp (goldens) and parity_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <regex>
#include <string>

#include <ATen/ATen.h>

#include "modelzoo/error.h"
#include "modelzoo/models/catalog.h"
#include "modelzoo/models/vision_transformer.h"
#include "modelzoo/state_dict/state_dict.h"
#include "models/model_test_util.h"

namespace mm = modelzoo::models;
using modelzoo::Error;

namespace {

using mz_test::error_of;
using mz_test::uninit;

// A small ViT: 32 x 32 images, 8 x 8 patches (16 + 1 tokens), 2 layers, 4 heads, width 64.
mm::VisionTransformer small_vit(bool init = true, double dropout = 0.0) {
  return mm::VisionTransformer(mm::VisionTransformerOptions(32, 8, 2, 4, 64, 128)
                                   .num_classes(10)
                                   .dropout(dropout)
                                   .init_weights(init));
}

mm::EncoderBlockImpl& block(const mm::VisionTransformer& vit, std::size_t i) {
  return *vit->encoder->layers->at<mm::EncoderBlockImpl>(i);
}

}  // namespace

TEST(VisionTransformer, SequenceLengthFollowsImageSize) {
  // Default 224: (224 / 16)^2 + 1 tokens; the SWAG_E2E weights use 384.
  auto b16 = mm::vit_b_16(uninit());
  EXPECT_EQ(b16->encoder->pos_embedding.sizes(), (at::IntArrayRef{1, 197, 768}));
  EXPECT_EQ(b16->seq_length(), 197);
  auto b16_384 = mm::vit_b_16(uninit({{"image_size", 384}}));
  EXPECT_EQ(b16_384->encoder->pos_embedding.sizes(), (at::IntArrayRef{1, 577, 768}));
  auto l16_512 = mm::vit_l_16(uninit({{"image_size", 512}}));
  EXPECT_EQ(l16_512->encoder->pos_embedding.sizes(), (at::IntArrayRef{1, 1025, 1024}));
  EXPECT_EQ(l16_512->encoder->layers->size(), 24u);
  auto b32 = mm::vit_b_32(uninit());
  EXPECT_EQ(b32->encoder->pos_embedding.sizes(), (at::IntArrayRef{1, 50, 768}));
  EXPECT_EQ(b32->conv_proj->weight.sizes(), (at::IntArrayRef{768, 3, 32, 32}));
  // The catalog passes the same arguments.
  mm::Classifier any = mm::build_architecture("vit_l_32", uninit({{"image_size", 64}}));
  auto* l32 = dynamic_cast<mm::VisionTransformerImpl*>(any.get());
  ASSERT_NE(l32, nullptr);
  EXPECT_EQ(l32->seq_length(), 5);
  EXPECT_EQ(l32->options().hidden_dim(), 1024);
}

TEST(VisionTransformer, BadArgumentsAreRefused) {
  std::string msg = error_of([] { mm::vit_b_16(uninit({{"image_size", 250}})); });
  EXPECT_NE(msg.find("vit_b_16: extra argument 'image_size' (250) must be a multiple of the patch size 16"),
            std::string::npos)
      << msg;
  msg = error_of([] { mm::vit_b_32(uninit({{"image_size", "large"}})); });
  EXPECT_NE(msg.find("vit_b_32: extra argument 'image_size' must be a number"), std::string::npos) << msg;
  msg = error_of([] { mm::vit_b_32(uninit({{"image_size", 64.5}})); });
  EXPECT_NE(msg.find("'image_size' must be a positive integer, got 64.5"), std::string::npos) << msg;
  msg = error_of([] { mm::vit_b_32(uninit({{"patch_size", 8}})); });
  EXPECT_NE(msg.find("unknown extra argument 'patch_size'"), std::string::npos) << msg;
  msg = error_of([] { mm::VisionTransformer(mm::VisionTransformerOptions(32, 8, 2, 5, 64, 128)); });
  EXPECT_NE(msg.find("hidden_dim (64) must be divisible by num_heads (5)"), std::string::npos) << msg;
  msg = error_of([] {
    mm::VisionTransformer(mm::VisionTransformerOptions(32, 8, 2, 4, 64, 128).attention_dropout(1.5));
  });
  EXPECT_NE(msg.find("attention_dropout must be in [0, 1], got 1.5"), std::string::npos) << msg;
  msg = error_of([] { mm::VisionTransformer(mm::VisionTransformerOptions(32, 8, 0, 4, 64, 128)); });
  EXPECT_NE(msg.find("num_layers must be positive, got 0"), std::string::npos) << msg;
}

TEST(VisionTransformer, ForwardChecksTheInputSize) {
  auto vit = small_vit();
  vit->eval();
  at::NoGradGuard no_grad;
  EXPECT_EQ(vit->forward(at::randn({2, 3, 32, 32})).sizes(), (at::IntArrayRef{2, 10}));
  std::string msg = error_of([&] { vit->forward(at::randn({1, 3, 64, 64})); });
  EXPECT_NE(msg.find("expected input of shape [N, 3, 32, 32] (the image_size it was built for), got [1, 3, 64, 64]"),
            std::string::npos)
      << msg;
  msg = error_of([&] { vit->forward(at::randn({1, 1, 32, 32})); });
  EXPECT_NE(msg.find("got [1, 1, 32, 32]"), std::string::npos) << msg;
  msg = error_of([&] { vit->encoder->forward(at::randn({1, 16, 64})); });
  EXPECT_NE(msg.find("Encoder: expected (batch_size, 17, 64), got shape [1, 16, 64]"), std::string::npos) << msg;
  msg = error_of([&] { block(vit, 0).self_attention->forward(at::randn({1, 17, 32})); });
  EXPECT_NE(msg.find("MultiheadAttention(embed_dim=64): expected input of shape [N, L, 64], got [1, 17, 32]"),
            std::string::npos)
      << msg;
}

TEST(VisionTransformer, InitialisesAsTorchvision) {
  at::manual_seed(0);
  auto vit = small_vit();
  // Patchify stem: trunc_normal_(std=sqrt(1 / fan_in)), fan_in = 3 * 8 * 8; zero bias.
  const double conv_std = std::sqrt(1.0 / 192.0);
  EXPECT_NEAR(vit->conv_proj->weight.std().item<double>(), conv_std, 0.05 * conv_std);
  EXPECT_TRUE(at::equal(vit->conv_proj->bias, at::zeros({64})));
  EXPECT_TRUE(at::equal(vit->class_token, at::zeros({1, 1, 64})));
  EXPECT_NEAR(vit->encoder->pos_embedding.std().item<double>(), 0.02, 0.002);
  // Attention: xavier_uniform_ in-projection, zero biases.
  const auto& b0 = block(vit, 0);
  const double in_bound = std::sqrt(6.0 / (64 + 192));
  EXPECT_LE(b0.self_attention->in_proj_weight.abs().max().item<double>(), in_bound);
  EXPECT_NEAR(b0.self_attention->in_proj_weight.std().item<double>(), in_bound / std::sqrt(3.0),
              0.05 * in_bound);
  EXPECT_TRUE(at::equal(b0.self_attention->in_proj_bias, at::zeros({192})));
  EXPECT_TRUE(at::equal(b0.self_attention->out_proj->bias, at::zeros({64})));
  // out_proj.weight keeps Linear's default: kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(64), 1/sqrt(64)).
  EXPECT_LE(b0.self_attention->out_proj->weight.abs().max().item<double>(), 1.0 / 8.0);
  EXPECT_GT(b0.self_attention->out_proj->weight.abs().max().item<double>(), 0.1);
  // MLPBlock: xavier_uniform_ weights, normal(std=1e-6) biases.
  auto fc1 = b0.mlp->at<mm::LinearImpl>(0);
  EXPECT_LE(fc1->weight.abs().max().item<double>(), std::sqrt(6.0 / (64 + 128)));
  EXPECT_GT(fc1->bias.abs().max().item<double>(), 0.0);
  EXPECT_LT(fc1->bias.abs().max().item<double>(), 1e-5);
  EXPECT_NE(b0.mlp->at<mm::GELUImpl>(1), nullptr);
  EXPECT_NE(b0.mlp->at<mm::LinearImpl>(3), nullptr);
  // LayerNorm eps 1e-6, ones / zeros.
  EXPECT_DOUBLE_EQ(b0.ln_1->options().eps(), 1e-6);
  EXPECT_DOUBLE_EQ(vit->encoder->ln->options().eps(), 1e-6);
  EXPECT_TRUE(at::equal(b0.ln_2->weight, at::ones({64})));
  // Zero head: every logit starts at 0.
  auto head = vit->heads->at<mm::LinearImpl>(0);
  EXPECT_TRUE(at::equal(head->weight, at::zeros({10, 64})));
  EXPECT_TRUE(at::equal(head->bias, at::zeros({10})));
}

TEST(VisionTransformer, RepresentationLayerHeads) {
  auto vit = mm::VisionTransformer(
      mm::VisionTransformerOptions(32, 8, 1, 4, 64, 128).representation_size(48).num_classes(7));
  const auto sd = modelzoo::state_dict::state_dict(*vit);
  std::vector<std::string> head_keys;
  for (const auto& item : sd) {
    if (item.key().rfind("heads.", 0) == 0) head_keys.push_back(item.key());
  }
  EXPECT_EQ(head_keys, (std::vector<std::string>{"heads.pre_logits.weight", "heads.pre_logits.bias",
                                                  "heads.head.weight", "heads.head.bias"}));
  EXPECT_NE(vit->heads->at<mm::TanhImpl>(1), nullptr);
  EXPECT_EQ(vit->heads->at<mm::LinearImpl>(2)->weight.sizes(), (at::IntArrayRef{7, 48}));
  // Through the catalog too.
  auto b32 = mm::vit_b_32(uninit({{"representation_size", 768}}));
  EXPECT_EQ(b32->heads->size(), 3u);
}

TEST(VisionTransformer, EvalIsDeterministicTrainingAppliesDropout) {
  at::manual_seed(1);
  auto vit = small_vit(true, 0.3);
  // A non-zero head, so the logits depend on the input.
  at::NoGradGuard no_grad;
  vit->heads->at<mm::LinearImpl>(0)->weight.normal_(0.0, 0.5);
  const at::Tensor x = at::randn({2, 3, 32, 32});
  vit->eval();
  const at::Tensor a = vit->forward(x);
  EXPECT_TRUE(at::equal(a, vit->forward(x)));
  EXPECT_GT(a.abs().max().item<double>(), 0.0);
  vit->train();
  EXPECT_FALSE(at::equal(vit->forward(x), a));
  // Samples are independent: permuting the batch permutes the logits.
  vit->eval();
  const at::Tensor swapped = vit->forward(x.flip(0));
  EXPECT_TRUE(at::allclose(swapped, a.flip(0), 1e-5, 1e-6));
}

TEST(VisionTransformer, CatalogRenamesLegacyMlpKeys) {
  // Weight files written before torchvision 0.13 say mlp.linear_1 / mlp.linear_2.
  const mm::ArchInfo* info = mm::find_architecture("vit_b_32");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->family, "vit");
  auto model = mm::vit_b_32(uninit({{"image_size", 64}}));
  const auto current = modelzoo::state_dict::state_dict(*model);
  modelzoo::io::StateDict legacy;
  const std::regex mlp0(R"((.*\.mlp)\.0\.(weight|bias))"), mlp3(R"((.*\.mlp)\.3\.(weight|bias))");
  std::size_t renamed = 0;
  for (const auto& item : current) {
    std::string key = std::regex_replace(item.key(), mlp0, "$1.linear_1.$2");
    key = std::regex_replace(key, mlp3, "$1.linear_2.$2");
    renamed += key != item.key();
    legacy.insert(key, at::empty_like(item.value()));
  }
  // One tensor with known values to follow through the rename.
  legacy["encoder.layers.encoder_layer_11.mlp.linear_2.bias"] = at::arange(768, at::kFloat);
  EXPECT_EQ(renamed, 12u * 4u);
  EXPECT_NE(legacy.find("encoder.layers.encoder_layer_11.mlp.linear_2.bias"), nullptr);

  modelzoo::state_dict::LoadOptions options;
  for (const auto& [pattern, replacement] : info->key_renames) options.renames.push_back({pattern, replacement});
  const auto report = modelzoo::state_dict::load_state_dict(*model, legacy, options);
  EXPECT_TRUE(report.ok()) << report.to_string();
  EXPECT_EQ(report.loaded, current.size());
  const auto& b11 = *model->encoder->layers->at<mm::EncoderBlockImpl>(11);
  EXPECT_TRUE(at::equal(b11.mlp->at<mm::LinearImpl>(3)->bias, at::arange(768, at::kFloat)));
  // Every ViT of the catalog carries the renames.
  for (const char* arch : {"vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32", "vit_h_14"}) {
    EXPECT_EQ(mm::find_architecture(arch)->key_renames.size(), 2u) << arch;
  }
}
