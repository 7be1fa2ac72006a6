#pragma once
/// \file
/// Video classification models as torchvision 0.14 builds them
/// (torchvision.models.video), on N x 3 x T x H x W clips (the
/// VideoClassification preset's output), giving N x num_classes logits
/// (400 Kinetics classes for the published weights):
/// - VideoResNet (Tran et al., 2018): r3d_18 (3-D convolutions), mc3_18
///   (3-D in layer1, spatial-only 1x3x3 after), r2plus1d_18 ((2+1)-D: a 1x3x3
///   spatial then a 3x1x1 temporal convolution with a BatchNorm + ReLU
///   between). Children `stem`, `layer1`..`layer4`, `avgpool`, `fc`.
/// - S3D (Xie et al., 2018): `features` (temporally separable convolutions
///   and separable Inception blocks), `avgpool` (AvgPool3d (2, 7, 7),
///   stride 1), `classifier` (Dropout, 1x1x1 Conv3d), then the mean over the
///   remaining T x H x W. Its pooling needs at least 13 frames and 193 px:
///   torchvision's preset gives 16 x 224 x 224.
/// - MViT v1-B and v2-S (multiscale vision transformers with pooling
///   attention): `conv_proj`, `pos_encoding`, `blocks`, `norm`, `head`; built
///   for 16 x 224 x 224 clips, as torchvision's builders.
/// Parameter names and their order are those of torchvision's state_dict().

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "modelzoo/models/catalog.h"
#include "modelzoo/models/layers.h"
#include "modelzoo/video/layers3d.h"

namespace modelzoo::video {

/// Base of every video classifier: forward(N x 3 x T x H x W) -> N x num_classes logits.
class VideoClassifierImpl : public torch::nn::Module {
 public:
  /// `name` is what printing the module shows (Python's class name).
  explicit VideoClassifierImpl(std::string name) : torch::nn::Module(std::move(name)) {}
  /// Logits for a batch of preprocessed clips.
  virtual at::Tensor forward(const at::Tensor& clips) = 0;
};

/// A shared handle to any video classifier.
class VideoClassifier : public torch::nn::ModuleHolder<VideoClassifierImpl> {
 public:
  /// Wraps an existing module.
  VideoClassifier(std::shared_ptr<VideoClassifierImpl> impl)  // NOLINT(google-explicit-constructor)
      : ModuleHolder(std::move(impl)) {}
  /// An empty handle.
  VideoClassifier(std::nullptr_t) : ModuleHolder(nullptr) {}  // NOLINT
};

/// The convolution of a VideoResNet stage (torchvision's conv_makers).
enum class VideoConv {
  Simple3d,      ///< Conv3DSimple: 3x3x3
  NoTemporal,    ///< Conv3DNoTemporal: 1x3x3
  TwoPlusOne,    ///< Conv2Plus1D: 1x3x3, BN, ReLU, 3x1x1 through `midplanes`
};

/// torchvision's video BasicBlock: `conv1` = Sequential(conv, BN, ReLU),
/// `conv2` = Sequential(conv, BN), plus the identity or `downsample(x)`, ReLU.
class VideoBasicBlockImpl : public models::LayerImpl {
 public:
  /// `downsample` may be empty.
  VideoBasicBlockImpl(int64_t inplanes, int64_t planes, VideoConv conv, int64_t stride,
                      models::Sequential downsample, const models::InitPolicy& init);
  /// The residual forward.
  at::Tensor forward(const at::Tensor& x) override;

  models::Sequential conv1{nullptr};       ///< conv, BN, ReLU
  models::Sequential conv2{nullptr};       ///< conv, BN
  models::Sequential downsample{nullptr};  ///< 1x1x1 conv + BN, or empty
};
/// Handle of VideoBasicBlockImpl.
TORCH_MODULE(VideoBasicBlock);

/// torchvision's VideoResNet with BasicBlocks.
class VideoResNetImpl : public VideoClassifierImpl {
 public:
  /// `convs`: the convolution of each of the four stages; `r2plus1d_stem`:
  /// R2Plus1dStem instead of BasicStem. modelzoo::Error for num_classes < 1.
  VideoResNetImpl(const std::vector<VideoConv>& convs, const std::vector<int64_t>& layers, bool r2plus1d_stem,
                  int64_t num_classes, bool init_weights);
  /// stem -> layer1..4 -> avgpool -> flatten -> fc.
  at::Tensor forward(const at::Tensor& clips) override;

  models::Sequential stem{nullptr};     ///< BasicStem or R2Plus1dStem
  models::Sequential layer1{nullptr};   ///< 64 planes
  models::Sequential layer2{nullptr};   ///< 128 planes, stride 2
  models::Sequential layer3{nullptr};   ///< 256 planes, stride 2
  models::Sequential layer4{nullptr};   ///< 512 planes, stride 2
  GlobalAvgPool3d avgpool{nullptr};     ///< to 1 x 1 x 1
  models::Linear fc{nullptr};           ///< 512 -> num_classes
};
/// Handle of VideoResNetImpl.
TORCH_MODULE(VideoResNet);

/// torchvision's S3D.
class S3DImpl : public VideoClassifierImpl {
 public:
  /// modelzoo::Error for num_classes < 1 or dropout outside [0, 1].
  S3DImpl(int64_t num_classes, double dropout, bool init_weights);
  /// features -> avgpool -> classifier -> mean over T, H, W.
  at::Tensor forward(const at::Tensor& clips) override;

  models::Sequential features{nullptr};    ///< the trunk
  AvgPool3d avgpool{nullptr};              ///< (2, 7, 7), stride 1
  models::Sequential classifier{nullptr};  ///< Dropout, Conv3d 1x1x1
};
/// Handle of S3DImpl.
TORCH_MODULE(S3D);

/// One block of MViT's table (torchvision's MSBlockConfig); empty kernel or
/// stride lists mean "no pooling".
struct MViTBlockConfig {
  int64_t num_heads = 1;            ///< attention heads
  int64_t input_channels = 96;      ///< channels in
  int64_t output_channels = 96;     ///< channels out
  std::vector<int64_t> kernel_q;    ///< query pooling kernel (t, h, w)
  std::vector<int64_t> kernel_kv;   ///< key/value pooling kernel
  std::vector<int64_t> stride_q;    ///< query pooling stride
  std::vector<int64_t> stride_kv;   ///< key/value pooling stride
};

/// The variant switches of MViT (v1: all false; v2: residual_pool,
/// rel_pos_embed, proj_after_attn).
struct MViTOptions {
  std::vector<MViTBlockConfig> blocks;  ///< the 16 blocks
  bool residual_pool = false;           ///< add the pooled query to the attention output
  bool residual_with_cls_embed = false;  ///< ... including the class token
  bool rel_pos_embed = false;           ///< decomposed relative positions (v2) instead of absolute ones
  bool proj_after_attn = false;         ///< widen in the attention (v2) rather than after the MLP
  int64_t temporal_size = 16;           ///< frames the positional encoding is built for
  int64_t spatial_size = 224;           ///< pixels (square) the positional encoding is built for
  int64_t num_classes = 400;            ///< outputs of the head
  bool init_weights = true;             ///< false: parameters left uninitialised (to be loaded)
};

/// torchvision's MViT (Fan et al., 2021; Li et al., 2022): `conv_proj`
/// (Conv3d patch embedding), `pos_encoding`, `blocks` (MultiscaleBlocks
/// with pooling attention), `norm`, `head` (Dropout, Linear). Takes clips of
/// exactly temporal_size x spatial_size x spatial_size (16 x 224 x 224).
class MViTImpl : public VideoClassifierImpl {
 public:
  /// modelzoo::Error for an empty table or num_classes < 1.
  explicit MViTImpl(const MViTOptions& options);
  /// Patch embedding, blocks, norm, class token -> head.
  at::Tensor forward(const at::Tensor& clips) override;

 private:
  MViTOptions options_;
  std::shared_ptr<Conv3dImpl> conv_proj_;
  std::shared_ptr<torch::nn::Module> pos_encoding_;
  std::vector<std::shared_ptr<torch::nn::Module>> blocks_;
  std::shared_ptr<models::LayerNormImpl> norm_;
  models::Sequential head_{nullptr};
};
/// Handle of MViTImpl.
TORCH_MODULE(MViT);

/// MViT v1 base (16 x 224 x 224 clips).
VideoClassifier mvit_v1_b(const models::ArchArgs& args = {});
/// MViT v2 small (16 x 224 x 224 clips).
VideoClassifier mvit_v2_s(const models::ArchArgs& args = {});

/// R3D-18. `args.num_classes` outputs (400 for Kinetics).
VideoClassifier r3d_18(const models::ArchArgs& args = {});
/// MC3-18.
VideoClassifier mc3_18(const models::ArchArgs& args = {});
/// R(2+1)D-18.
VideoClassifier r2plus1d_18(const models::ArchArgs& args = {});
/// S3D; `args.extra` may hold {"dropout": p}.
VideoClassifier s3d(const models::ArchArgs& args = {});

/// One video architecture.
struct VideoArch {
  std::string name;                                                ///< torchvision's builder name
  std::function<VideoClassifier(const models::ArchArgs&)> build;  ///< the builder
};

/// Every video architecture, sorted by name.
const std::vector<VideoArch>& video_architectures();
/// The architecture or nullptr.
const VideoArch* find_video_architecture(const std::string& name);
/// Builds `name`; modelzoo::Error listing the known names when unknown.
VideoClassifier build_video_classifier(const std::string& name, const models::ArchArgs& args = {});

}  // namespace modelzoo::video
