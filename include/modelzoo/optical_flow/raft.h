#pragma once
/// \file
/// RAFT (Teed & Deng, 2020) as torchvision 0.14 builds it
/// (torchvision.models.optical_flow): raft_large and raft_small.
///
/// Children, with torchvision's names: `feature_encoder` and
/// `context_encoder` (FeatureEncoder: a 7x7 stride-2 Conv2dNormActivation,
/// layer1..layer3 of two Residual (large) or Bottleneck (small) blocks, a 1x1
/// `conv`; instance norm without parameters in the feature encoder, BatchNorm
/// (large) or none (small) in the context encoder), `update_block`
/// (`motion_encoder`, `recurrent_block` = one or two ConvGRUs, `flow_head`)
/// and, for raft_large, `mask_predictor` (convex upsampling). The
/// correlation pyramid has no parameters.
///
/// Inputs are two N x 3 x H x W frames in [-1, 1] (the OpticalFlow preset).
/// torchvision refuses sizes that are not multiples of 8; here such frames
/// are padded to the next multiple of 8 by edge replication, split evenly
/// (the larger half at the bottom/right, as RAFT's InputPadder), and every
/// flow is cropped back to H x W. For multiples of 8 nothing changes.
/// Frames must be at least 121 x 121 (128 after padding, torchvision's
/// min_size): smaller ones would leave the coarsest correlation level a
/// single cell, where torchvision's lookup divides by zero.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "modelzoo/models/blocks.h"
#include "modelzoo/models/catalog.h"
#include "modelzoo/models/layers.h"

namespace modelzoo::optical_flow {

/// nn.InstanceNorm2d() as RAFT's feature encoder uses it: no affine
/// parameters, no running statistics (so nothing in the state_dict).
class InstanceNorm2dImpl : public models::LayerImpl {
 public:
  /// `channels` is checked against the input.
  explicit InstanceNorm2dImpl(int64_t channels) : models::LayerImpl("InstanceNorm2d"), channels_(channels) {}
  /// at::instance_norm with eps 1e-5.
  at::Tensor forward(const at::Tensor& x) override;

 private:
  int64_t channels_;
};
/// Handle of InstanceNorm2dImpl.
TORCH_MODULE(InstanceNorm2d);

/// The configuration of one RAFT variant (torchvision's _raft arguments).
struct RaftConfig {
  bool bottleneck = false;                        ///< BottleneckBlock (small) instead of ResidualBlock
  std::vector<int64_t> feature_layers;            ///< 5 widths
  std::vector<int64_t> context_layers;            ///< 5 widths
  std::string context_norm;                       ///< "batch" or "none"
  int64_t corr_levels = 4;                        ///< pyramid levels
  int64_t corr_radius = 4;                        ///< lookup radius
  std::vector<int64_t> motion_corr_layers;        ///< 1 or 2 widths
  std::vector<int64_t> motion_flow_layers;        ///< 2 widths
  int64_t motion_out_channels = 128;              ///< motion features (incl. the 2 flow channels)
  int64_t hidden_size = 128;                      ///< GRU hidden state
  bool separable_gru = true;                      ///< two GRUs (1x5, 5x1) instead of one 3x3
  int64_t flow_head_hidden = 256;                 ///< FlowHead width
  bool mask_predictor = true;                     ///< convex upsampling
  /// raft_large's configuration.
  static RaftConfig large();
  /// raft_small's configuration.
  static RaftConfig small();
};

/// torchvision's RAFT.
class RAFTImpl : public torch::nn::Module {
 public:
  /// Builds the model; `init_weights` false leaves parameters uninitialised.
  RAFTImpl(const RaftConfig& config, bool init_weights);
  /// Every iteration's flow (N x 2 x H x W each), as torchvision's forward.
  /// modelzoo::Error for frames of different shapes, not N x 3 x H x W, too
  /// small (see the file comment), or num_flow_updates < 1.
  std::vector<at::Tensor> forward_all(const at::Tensor& image1, const at::Tensor& image2,
                                      int64_t num_flow_updates = 12);
  /// The final flow only (N x 2 x H x W).
  at::Tensor forward(const at::Tensor& image1, const at::Tensor& image2, int64_t num_flow_updates = 12);
  /// The configuration.
  const RaftConfig& config() const { return config_; }

  std::shared_ptr<torch::nn::Module> feature_encoder;  ///< FeatureEncoder of both frames
  std::shared_ptr<torch::nn::Module> context_encoder;  ///< FeatureEncoder of the first frame
  std::shared_ptr<torch::nn::Module> update_block;     ///< motion encoder, GRU(s), flow head
  std::shared_ptr<torch::nn::Module> mask_predictor;   ///< null for raft_small

 private:
  RaftConfig config_;
};
/// Handle of RAFTImpl.
TORCH_MODULE(RAFT);

/// raft_large (5.3 M parameters).
RAFT raft_large(const models::ArchArgs& args = {});
/// raft_small (1.0 M parameters).
RAFT raft_small(const models::ArchArgs& args = {});

/// One optical-flow architecture.
struct FlowArch {
  std::string name;                                     ///< torchvision's builder name
  std::function<RAFT(const models::ArchArgs&)> build;  ///< the builder
};

/// Every optical-flow architecture, sorted by name.
const std::vector<FlowArch>& flow_architectures();
/// The architecture or nullptr.
const FlowArch* find_flow_architecture(const std::string& name);
/// Builds `name`; modelzoo::Error listing the known names when unknown.
RAFT build_flow_model(const std::string& name, const models::ArchArgs& args = {});

}  // namespace modelzoo::optical_flow
