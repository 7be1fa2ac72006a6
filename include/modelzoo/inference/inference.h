#pragma once
/// \file
/// Fast CPU inference for a built model: optimize_for_inference() walks the
/// module tree once and installs, on the layers that take one, an inference
/// kernel (models::InferenceKernel) that
/// - folds each BatchNorm2d, FrozenBatchNorm2d (detection backbones, with
///   the eps their builder set) or BatchNorm3d into the Conv2d / Conv3d whose
///   output it normalises (a convolution registered directly before a norm
///   layer of as many channels in the same parent, which is how every family
///   — Sequential, Conv2dNormActivation, BasicConv2d, ResNet's conv1/bn1, the
///   video stems and blocks — is written);
/// - runs every Conv2d (grouped and depthwise too) through oneDNN on
///   channels-last activations, with its weight reordered once for them
///   (LibTorch's mkldnn_prepacked conv2d ops): by default on a background
///   thread while the caller goes on (InferenceOptions::background). One
///   exception, on CPUs without AVX-512, where oneDNN's channels-last direct
///   convolution is up to twice slower than its blocked layout: spatial
///   convolutions over 64 channels or more whose weights are read in place
///   from a file, in a module with no 1 x 1 or grouped convolution (VGG's and
///   AlexNet's features, ResNet-18/34's blocks), take the blocked layout; in
///   a Sequential (VGG's and AlexNet's features) the activations stay in it
///   through the ReLUs and max-pooling between those convolutions;
/// - on CPUs with AVX2 and FMA (AVX-512 ones included), runs the 3 x 3
///   Conv2d of unit stride and dilation (not grouped, at least 16 input
///   channels, a multiple of 8 outputs, transformed weight up to 16 MiB) by
///   Winograd F(2 x 2, 3 x 3) instead, on channels-last activations: 2.25
///   times fewer multiplications than the direct convolution, as accurate,
///   its weight transformed once (16/9 of its size); in VGG's features the
///   ReLU after it is applied in its output transform
///   (InferenceOptions::winograd, MODELZOO_INFERENCE=direct to leave it out);
/// - prepacks a weight again for an input size for which oneDNN wants
///   another layout than the one it was first prepacked for (its AVX-512
///   kernels choose by the input's size), instead of letting oneDNN reorder
///   it on every call;
/// - runs every Conv3d through oneDNN on dense tensors with its (folded)
///   weight: ATen's conv3d leaves oneDNN at batch 1 for kernels such as
///   R(2+1)D's 3x1x1 (vol2col and the generic BLAS, measured 40x slower),
///   while the blocked layout gained nothing over dense tensors for 3-D;
/// - runs every Linear through oneDNN: up to a few hundred rows (classifier
///   heads, ViT at batch 1) as 1 x 1 convolutions on weight slices reordered
///   once, beyond that through the inner product (at::mkldnn_linear), which
///   reorders on every call; and so ViT's in-projection and the two matrix
///   products of every
///   attention (ViT, Swin's windows, MaxViT's blocks and grids): this
///   LibTorch's BLAS is the generic fallback, so at::linear and at::matmul
///   are slower by one to two orders of magnitude.
/// A convolution's output is a dense channels-last tensor (same sizes and
/// values, NHWC strides), which the next convolution takes as it is; pooling,
/// activations, norms, LayerNorm, softmax and the families' own code run
/// unchanged on ATen's kernels, which take either layout. Classifier logits
/// are 2-D; the segmentation and optical-flow models return their masks and
/// flows contiguous (NCHW) on every path. A caller reading a convolution's
/// output through data_ptr() makes it contiguous() first, as for any strided
/// tensor.
///
/// The model's parameters are left untouched and the contract stays
/// forward(dense N x 3 x H x W float) -> dense logits; the input may be NCHW
/// or channels-last. A kernel serves a call
/// only when the layer is in eval mode, gradient recording is off
/// (torch::NoGradGuard or c10::InferenceMode), and the input is a float32
/// strided CPU tensor; any other call takes the layer's own forward, so
/// `model->train()` trains exactly as before and `eval()` gets the fast path
/// back. Kernels watch their source tensors (data pointer and version
/// counter): weights changed in place (an optimizer step, load_state_dict)
/// are re-folded and reordered on the next call.
///
/// \code
///   auto model = modelzoo::get_model("resnet50", modelzoo::Weights::none());
///   model->eval();
///   modelzoo::InferenceReport r = modelzoo::optimize_for_inference(*model);
///   c10::InferenceMode guard;
///   at::Tensor logits = model->forward(images);
/// \endcode
/// The hub applies it to every pretrained model of every task
/// (classification, detection, segmentation, video, optical flow;
/// HubOptions::optimize, MODELZOO_INFERENCE=plain to opt out).

#include <cstddef>
#include <future>
#include <string>

namespace torch::nn {
class Module;
}

namespace modelzoo {

/// What optimize_for_inference may change.
struct InferenceOptions {
  /// Fold BatchNorm2d / FrozenBatchNorm2d / BatchNorm3d into the preceding convolution.
  bool fold_batch_norm = true;
  /// Conv2d (reordered weights) and Conv3d through oneDNN.
  bool convolutions = true;
  /// Linear (and ViT's attention in-projection) through oneDNN.
  bool linear = true;
  /// Unit-stride 3 x 3 Conv2d by Winograd F(2 x 2, 3 x 3) where the CPU has
  /// AVX2 and FMA and the layer takes it (see above). Off: oneDNN's direct
  /// convolution for them too.
  bool winograd = true;
  /// Fold and reorder the weights on a background thread (one, running one
  /// OpenMP thread), layer by layer in the order the layers are registered,
  /// so that optimize_for_inference returns at once and a first forward runs
  /// while later layers are still being reordered; a call that reaches a
  /// layer the thread has not yet done reorders it itself, and one that
  /// reaches the layer the thread is reordering waits for it. Off: every
  /// reorder is done before optimize_for_inference returns.
  bool background = true;
};

/// What optimize_for_inference did.
struct InferenceReport {
  std::size_t convolutions = 0;        ///< Conv2d / Conv3d layers given a kernel
  std::size_t folded_batch_norms = 0;  ///< norm layers folded into one of them
  std::size_t linear = 0;              ///< Linear layers given a kernel
  std::size_t attention = 0;           ///< attention modules (ViT, Swin, MaxViT) given a kernel
  /// Time optimize_for_inference took: the weight reorders included unless
  /// they were left to the background thread (InferenceOptions::background).
  double ms = 0;
  /// Ready once every weight has been folded and reordered, by whichever
  /// thread: the milliseconds from the start of optimize_for_inference until
  /// then. get() waits for it (e.g. before timing steady-state calls).
  std::shared_future<double> reordered;
  /// One line, e.g. "53 conv (53 with BatchNorm folded), 1 linear, 0 attention in 41.2 ms".
  std::string to_string() const;
};

/// Installs inference kernels on every layer of `model` that takes one
/// (replacing kernels installed before). Throws modelzoo::Error when this
/// LibTorch has no oneDNN (at::hasMKLDNN() false), naming the build.
InferenceReport optimize_for_inference(torch::nn::Module& model,
                                       const InferenceOptions& options = InferenceOptions());

/// Removes every inference kernel from `model` (the plain path only);
/// returns how many were removed.
std::size_t clear_inference_kernels(torch::nn::Module& model);

/// Whether optimize_for_inference can run in this process (oneDNN present).
bool inference_available();

}  // namespace modelzoo
