#include "modelzoo/inference/inference.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <cstdint>
#include <cmath>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <malloc.h>
#include <unistd.h>

#include <dnnl.h>
#include <omp.h>

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/grad_mode.h>
#include <ATen/core/stack.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/ones_like.h>
#include <ATen/ops/zeros_like.h>
#include <ATen/ops/mkldnn_convolution.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/mkldnn_linear.h>
#include <ATen/ops/max_pool2d.h>
#include <ATen/ops/mkldnn_reorder_conv2d_weight.h>
#include <ATen/ops/relu.h>
#include <ATen/ops/softmax.h>
#include <torch/nn/module.h>

#include "modelzoo/error.h"
#include "modelzoo/models/attention.h"
#include "modelzoo/models/layers.h"
#include "modelzoo/models/layers3d.h"
#include "modelzoo/models/maxvit.h"
#include "modelzoo/models/swin_transformer.h"
#include "modelzoo/models/vision_transformer.h"
#include "modelzoo/ops/layers.h"
#include "inference/winograd.h"

namespace modelzoo {
namespace {

namespace mm = modelzoo::models;

// ---------------------------------------------------------------------------
// When a kernel may serve a call
// ---------------------------------------------------------------------------

// A call the plain path must take: gradients recorded, or an input oneDNN's
// float kernels do not take as is.
bool servable(const at::Tensor& x) {
  return !at::GradMode::is_enabled() && x.defined() && x.layout() == at::kStrided &&
         x.device().is_cpu() && x.scalar_type() == at::kFloat && !x.requires_grad();
}

// A tensor's identity and contents as far as staleness goes: which storage
// and how many in-place writes it has seen.
struct Stamp {
  const void* data = nullptr;
  int64_t version = 0;
  bool operator==(const Stamp& o) const { return data == o.data && version == o.version; }
  bool operator!=(const Stamp& o) const { return !(*this == o); }
};

Stamp stamp_of(const at::Tensor& t) {
  if (!t.defined()) return {};
  return {t.data_ptr(), t.is_inference() ? 0 : static_cast<int64_t>(t._version())};
}

std::vector<Stamp> stamps_of(const std::vector<at::Tensor>& ts) {
  std::vector<Stamp> out;
  out.reserve(ts.size());
  for (const auto& t : ts) out.push_back(stamp_of(t));
  return out;
}

// Hands the pages [begin, end) of a weight that only the plain path reads
// back to the kernel, whole pages only. A page still shared with the page
// cache (a weights file mapped in place and never written) is unmapped
// (MADV_DONTNEED): it stays in the page cache for the next process that
// reads the file, and is faulted in again if ever read here. Any other page
// (written to, so the process's own copy) is paged out (MADV_PAGEOUT, a hint
// that loses nothing). Which is which comes from /proc/self/pagemap (bit 61:
// file page; 62: swapped; 63: present); without it every page is paged out,
// which also evicts file pages from the page cache.
void release_span(uintptr_t begin, uintptr_t end) {
#ifdef MADV_PAGEOUT
  const long page = ::sysconf(_SC_PAGESIZE);
  if (page <= 0) return;
  const uintptr_t lo = (begin + page - 1) / page * page, hi = end / page * page;
  if (hi <= lo) return;
  const std::size_t pages = (hi - lo) / static_cast<uintptr_t>(page);
  std::vector<uint64_t> entries(pages);
  bool known = false;
  if (const int fd = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC); fd >= 0) {
    const auto bytes = static_cast<ssize_t>(pages * sizeof(uint64_t));
    known = ::pread(fd, entries.data(), static_cast<std::size_t>(bytes),
                    static_cast<off_t>(lo / static_cast<uintptr_t>(page) * sizeof(uint64_t))) == bytes;
    ::close(fd);
  }
  if (!known) {
    ::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_PAGEOUT);
    return;
  }
  // Runs of pages with the same advice.
  const auto shared = [&](std::size_t i) {
    const uint64_t e = entries[i];
    const bool present = (e >> 63) & 1, swapped = (e >> 62) & 1, file = (e >> 61) & 1;
    return present ? file : !swapped;
  };
  std::size_t first = 0;
  while (first < pages) {
    const bool drop = shared(first);
    std::size_t last = first + 1;
    while (last < pages && shared(last) == drop) ++last;
    ::madvise(reinterpret_cast<void*>(lo + first * static_cast<uintptr_t>(page)),
              (last - first) * static_cast<std::size_t>(page), drop ? MADV_DONTNEED : MADV_PAGEOUT);
    first = last;
  }
#else
  (void)begin, (void)end;
#endif
}

// The whole storage of a tensor (see release_span).
void release_pages(const at::Tensor& t) {
  if (!t.defined() || !t.device().is_cpu() || t.is_mkldnn()) return;
  const auto begin = reinterpret_cast<uintptr_t>(t.storage().data());
  release_span(begin, begin + t.storage().nbytes());
}

// Whether t's memory lies in a mapping of a file (a weights file read in
// place), from /proc/self/maps: such pages can be handed back after a
// reorder (release_pages), while memory of the process's own (random
// initialisation, storages copied out of a misaligned file) would stay
// resident next to the reordered copy.
bool file_backed(const at::Tensor& t) {
  if (!t.defined() || !t.device().is_cpu() || t.is_mkldnn() || t.storage().nbytes() == 0) return false;
  const auto begin = reinterpret_cast<uintptr_t>(t.storage().data());
  const auto end = begin + t.storage().nbytes();
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream in(line);
    std::string range, perms, offset, dev;
    unsigned long long inode = 0;
    if (!(in >> range >> perms >> offset >> dev >> inode)) continue;
    const std::size_t dash = range.find('-');
    if (dash == std::string::npos) continue;
    const auto lo = static_cast<uintptr_t>(std::stoull(range.substr(0, dash), nullptr, 16));
    const auto hi = static_cast<uintptr_t>(std::stoull(range.substr(dash + 1), nullptr, 16));
    if (begin >= lo && begin < hi) return inode != 0 && end <= hi;
  }
  return false;
}

// a [..., M, K] times b [..., N, K] transposed -> [..., M, N], one oneDNN
// inner product per leading index. For ViT's attention (M = N = 197, K = 64)
// this is two orders of magnitude faster than at::matmul, whose batched GEMM
// is the generic BLAS fallback in this LibTorch.
at::Tensor matmul_nt(const at::Tensor& a, const at::Tensor& b) {
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-2);
  const at::Tensor a3 = a.reshape({-1, m, k}), b3 = b.reshape({-1, n, k});
  at::Tensor out = at::empty({a3.size(0), m, n}, a.options());
  for (int64_t i = 0; i < a3.size(0); ++i) {
    out[i].copy_(at::mkldnn_linear(a3[i].contiguous().to_mkldnn(), b3[i].contiguous()).to_dense());
  }
  std::vector<int64_t> shape(a.sizes().begin(), a.sizes().end());
  shape.back() = n;
  return out.view(shape);
}

// A kernel whose weights are folded and reordered after it is installed:
// by the background thread (ReorderThread), or by the first call that needs
// them, whichever comes first. Both hold the kernel's own lock while they
// pack, so a call that reaches a layer being packed waits for it.
class Deferred {
 public:
  virtual ~Deferred() = default;
  // Packs the weights unless they are packed already.
  virtual void ensure_packed() = 0;
};

// ---------------------------------------------------------------------------
// Conv2d / Conv3d (+ a folded BatchNorm2d, FrozenBatchNorm2d or BatchNorm3d)
// ---------------------------------------------------------------------------

// A normalisation layer whose eval-mode forward is a fixed per-channel affine
// map, folded into the convolution before it.
struct NormFold {
  std::weak_ptr<mm::LayerImpl> layer;
  // The tensors whose changes make the folded weights stale.
  std::function<std::vector<at::Tensor>()> sources;
  // (scale, shift) in double: norm(y) = y * scale + shift.
  std::function<std::pair<at::Tensor, at::Tensor>()> affine;
};

// gamma * (y - mean) / sqrt(var + eps) + beta as (scale, shift), in double.
std::pair<at::Tensor, at::Tensor> norm_affine(const at::Tensor& weight, const at::Tensor& bias,
                                              const at::Tensor& mean, const at::Tensor& var, double eps) {
  const at::Tensor v = var.detach().to(at::kDouble);
  const at::Tensor gamma = weight.defined() ? weight.detach().to(at::kDouble) : at::ones_like(v);
  const at::Tensor beta = bias.defined() ? bias.detach().to(at::kDouble) : at::zeros_like(v);
  const at::Tensor scale = gamma * (v + eps).rsqrt();
  return {scale, beta - mean.detach().to(at::kDouble) * scale};
}

// BatchNorm2d and BatchNorm3d: running statistics, weight, bias. A
// training-mode forward updates the running statistics inside the batch-norm
// kernel, which leaves their version counters alone; the batch counter it
// increments with add_ shows it.
template <typename BN>
NormFold batch_norm_fold(const std::shared_ptr<BN>& bn, double eps) {
  std::weak_ptr<BN> w = bn;
  return {bn,
          [w] {
            auto b = w.lock();
            if (!b) return std::vector<at::Tensor>();
            return std::vector<at::Tensor>{b->weight, b->bias, b->running_mean, b->running_var,
                                           b->num_batches_tracked};
          },
          [w, eps] {
            auto b = w.lock();
            return norm_affine(b->weight, b->bias, b->running_mean, b->running_var, eps);
          }};
}

// The norm layer `next` folded into a convolution of `channels` outputs, if
// it is one that can be.
std::optional<NormFold> fold_of(const std::shared_ptr<torch::nn::Module>& next, int64_t channels) {
  if (auto bn = std::dynamic_pointer_cast<mm::BatchNorm2dImpl>(next)) {
    if (bn->options().num_features() == channels) return batch_norm_fold(bn, bn->options().eps());
  } else if (auto bn3 = std::dynamic_pointer_cast<mm::BatchNorm3dImpl>(next)) {
    if (bn3->num_features() == channels) return batch_norm_fold(bn3, bn3->eps());
  } else if (auto f = std::dynamic_pointer_cast<ops::FrozenBatchNorm2dImpl>(next)) {
    if (f->weight.size(0) != channels) return std::nullopt;
    // eps is read at every fold: detection builders set it (frozen_bn_eps)
    // before the model is optimised.
    std::weak_ptr<ops::FrozenBatchNorm2dImpl> w = f;
    return NormFold{f,
                    [w] {
                      auto b = w.lock();
                      if (!b) return std::vector<at::Tensor>();
                      return std::vector<at::Tensor>{b->weight, b->bias, b->running_mean, b->running_var};
                    },
                    [w] {
                      auto b = w.lock();
                      return norm_affine(b->weight, b->bias, b->running_mean, b->running_var, b->eps());
                    }};
  }
  return std::nullopt;
}

// What the kernel needs of a convolution layer.
struct ConvGeometry {
  int64_t spatial_dims = 2;
  std::vector<int64_t> padding, stride, dilation;
  int64_t groups = 1;
};

ConvGeometry geometry_of(const mm::Conv2dImpl& conv) {
  const auto& o = conv.options();
  return {2, std::vector<int64_t>(o.padding()->begin(), o.padding()->end()),
          std::vector<int64_t>(o.stride()->begin(), o.stride()->end()),
          std::vector<int64_t>(o.dilation()->begin(), o.dilation()->end()), o.groups()};
}

ConvGeometry geometry_of(const mm::Conv3dImpl& conv) {
  const auto& o = conv.options();
  return {3, std::vector<int64_t>(o.padding()->begin(), o.padding()->end()),
          std::vector<int64_t>(o.stride()->begin(), o.stride()->end()), {1, 1, 1}, o.groups()};
}

// Whether the CPU has AVX-512 (oneDNN's effective ISA).
bool has_avx512() {
  static const bool avx512 = [] {
    const auto isa = static_cast<unsigned>(dnnl_get_effective_cpu_isa());
    const auto core = static_cast<unsigned>(dnnl_cpu_isa_avx512_core);
    return (isa & core) == core;
  }();
  return avx512;
}

// The weight layout oneDNN's direct convolution picks for a Conv2d (weights
// out x in/groups x kh x kw) on channels-last input of n x in x h x w, as
// LibTorch's conv2d_prepack asks it for its size hint; nullopt when oneDNN
// cannot say. Its brgemm kernels (AVX-512) pick the layout by the input's
// size: resnet50's layer4 1 x 1 weights, prepacked for 56 x 56, are
// Acdb64a, while on its 7 x 7 inputs oneDNN wants Acdb48a and reorders the
// weight on every call, by its reference reorder (40-87 ms per layer, 165 ms
// of a 226 ms forward on one Zen 4 core).
std::optional<dnnl_memory_desc_t> conv_weight_layout(const ConvGeometry& g, at::IntArrayRef weight, bool bias,
                                                     const std::array<int64_t, 3>& input) {
  static dnnl_engine_t engine = [] {
    dnnl_engine_t e = nullptr;
    return dnnl_engine_create(&e, dnnl_cpu, 0) == dnnl_success ? e : nullptr;
  }();
  if (!engine || g.spatial_dims != 2 || weight.size() != 4) return std::nullopt;
  const int64_t out = weight[0], in = weight[1] * g.groups;
  dnnl_dims_t src_dims = {input[0], in, input[1], input[2]};
  dnnl_dims_t dst_dims = {input[0], out, 0, 0};
  dnnl_dims_t strides, dilates, padding;
  for (int i = 0; i < 2; ++i) {
    const int64_t k = weight[2 + i], d = g.dilation[i];
    dst_dims[2 + i] = (input[1 + i] + 2 * g.padding[i] - d * (k - 1) - 1) / g.stride[i] + 1;
    if (dst_dims[2 + i] < 1) return std::nullopt;
    strides[i] = g.stride[i];
    dilates[i] = d - 1;
    padding[i] = g.padding[i];
  }
  dnnl_memory_desc_t src, wei, bia, dst;
  const int wei_ndims = g.groups > 1 ? 5 : 4;
  dnnl_dims_t wei_dims = {out, weight[1], weight[2], weight[3], 0};
  if (g.groups > 1) {
    const dnnl_dims_t grouped = {g.groups, out / g.groups, weight[1], weight[2], weight[3]};
    std::copy(std::begin(grouped), std::end(grouped), std::begin(wei_dims));
  }
  dnnl_dims_t bia_dims = {out};
  if (dnnl_memory_desc_init_by_tag(&src, 4, src_dims, dnnl_f32, dnnl_nhwc) != dnnl_success ||
      dnnl_memory_desc_init_by_tag(&wei, wei_ndims, wei_dims, dnnl_f32, dnnl_format_tag_any) != dnnl_success ||
      dnnl_memory_desc_init_by_tag(&bia, 1, bia_dims, dnnl_f32, dnnl_a) != dnnl_success ||
      dnnl_memory_desc_init_by_tag(&dst, 4, dst_dims, dnnl_f32, dnnl_nhwc) != dnnl_success) {
    return std::nullopt;
  }
  dnnl_convolution_desc_t desc;
  if (dnnl_dilated_convolution_forward_desc_init(&desc, dnnl_forward_training, dnnl_convolution_direct, &src, &wei,
                                                 bias ? &bia : nullptr, &dst, strides, dilates, padding,
                                                 padding) != dnnl_success) {
    return std::nullopt;
  }
  dnnl_primitive_attr_t attr = nullptr;
  if (dnnl_primitive_attr_create(&attr) != dnnl_success) return std::nullopt;
  std::optional<dnnl_memory_desc_t> layout;
  dnnl_primitive_desc_t pd = nullptr;
  if (dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) == dnnl_success &&
      dnnl_primitive_desc_create(&pd, &desc, attr, engine, nullptr) == dnnl_success) {
    if (const dnnl_memory_desc_t* md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0)) layout = *md;
    dnnl_primitive_desc_destroy(pd);
  }
  dnnl_primitive_attr_destroy(attr);
  return layout;
}

// What surrounds a Conv2d in its parent module, for prefers_blocked.
enum class Surroundings {
  Mixed,         // a 1 x 1 or grouped Conv2d among the siblings
  AmongSpatial,  // only spatial, non-grouped Conv2d siblings
  Chained,       // ... in a Sequential that keeps the blocked layout (BlockedChainKernel)
};

// Whether a Conv2d runs on oneDNN's blocked layout (activations reordered
// in and out on each call, weight reordered once) instead of channels-last:
// on CPUs without AVX-512, for spatial kernels over 64 channels or more,
// in a module with no 1 x 1 or grouped convolution (VGG's features): the
// conversions between layouts around a blocked layer among channels-last
// 1 x 1 ones (ResNet's bottlenecks) cost more than it gains (resnet50 at
// batch 1: 135-149 instead of 113-116 ms).
// There oneDNN's channels-last direct convolution is up to twice slower
// than the blocked one: measured at batch 1 on one thread on an AVX2 core
// (Zen 3), 3 x 3 layers, channels-last against blocked with both reorders:
// 128 -> 128 over 112 x 112 91.8 against 45.1 ms, 64 -> 128 over 112 x 112
// 45.9 against 23.5, 256 -> 256 over 56 x 56 67.0 against 47.3, 512 -> 512
// over 7 x 7 5.4 against 3.3; only 64 -> 64 over 56 x 56 is slower (3.8
// against 2.6 ms). With AVX-512 channels-last is the faster one (see the
// README's table), and 1 x 1 and grouped layers keep it everywhere.
// In a chained Sequential a layer of fewer channels with unit stride (VGG's
// 3 -> 64 stem) takes it too where the next one is blocked, its output then
// staying blocked for it: vgg19's first two layers took 64-80 instead of
// 101-119 ms with the stem channels-last and the conversions after it. With
// AVX2 and FMA the next one runs by Winograd (takes_winograd) on
// channels-last input instead, which a blocked stem's output must be
// converted to: vgg19's second layer took 88 ms with those conversions, 29
// after a channels-last stem. AlexNet's 11 x 11 stem of
// stride 4 does not: oneDNN runs it as a GEMM with a plain output, on which
// the max-pooling after it is oneDNN's slow reference kernel.
bool prefers_blocked(const ConvGeometry& g, const at::Tensor& w, Surroundings around, bool winograd) {
  if (around == Surroundings::Mixed || has_avx512() || g.spatial_dims != 2 || g.groups != 1 || w.dim() != 4 ||
      w.size(2) * w.size(3) == 1) {
    return false;
  }
  const bool unit_stride = std::all_of(g.stride.begin(), g.stride.end(), [](int64_t v) { return v == 1; });
  return w.size(1) >= 64 || (around == Surroundings::Chained && unit_stride && !winograd);
}

// The largest transformed weight a Conv2d takes Winograd with (see
// takes_winograd): 512 -> 512 channels, 16 MiB.
constexpr int64_t kWinogradMaxBytes = int64_t{16} << 20;

// Whether a Conv2d runs by Winograd F(2 x 2, 3 x 3) (winograd.h) on CPUs
// with AVX2 and FMA: 3 x 3 kernels of unit stride and dilation, padding 0 to
// 2, not grouped, at least 16 input channels and a multiple of 8 output
// channels. With AVX-512 too: on a Zen 4 core (one thread), whose two FMA
// pipes are 256 bits wide, oneDNN's channels-last direct convolution runs
// these at 108-121 GFLOP/s, its peak, and Winograd (products on AVX-512) at
// 163-233 GFLOP/s of the direct convolution's count, in ms: 64 -> 64 over
// 224 x 224 21.0 against 32.7, 128 -> 128 over 112 x 112 17.6 against 32.2,
// 256 -> 256 over 56 x 56 16.5 against 32.4, 512 -> 512 over 28 x 28 17.3
// against 33.0, 512 -> 512 over 7 x 7 1.4 against 2.1. A core with two
// 512-bit FMA units doubles both. Without AVX-512,
// oneDNN's direct convolution runs these at 65-80 GFLOP/s on an
// AVX2 core (Zen 3, one thread), close to its peak; Winograd does 2.25
// times fewer multiplications, as accurately. Measured at batch 1 against
// oneDNN's blocked layout with its reorders, in ms: 64 -> 64 over 224 x 224
// 34.7 against 52.7, 128 -> 128 over 112 x 112 23.8 against 50.0, 256 -> 256
// over 56 x 56 24.2 against 44.2, 256 -> 512 over 28 x 28 15.8 against 23.1,
// 512 -> 512 over 28 x 28 25.2 against 54.6, 64 -> 64 over 56 x 56 2.1
// against 3.6, 256 -> 256 over 14 x 14 1.8 against 4.0, 512 -> 512 over 7 x 7
// 3.8 against 4.8. Its transformed weight is 16/9 of the original, which
// is what bounds it: layers past kWinogradMaxBytes (FCN's 2048 -> 512 head:
// 64 MiB) stay on oneDNN. vgg19 transforms 142 MiB, 66 more than oneDNN's
// reordered weights. The 3 -> 64 stems are faster on oneDNN (5.0 against
// 7.1 ms at 224 x 224).
bool takes_winograd(const ConvGeometry& g, const at::Tensor& w) {
  if (!winograd::supported() || g.spatial_dims != 2 || g.groups != 1 || w.dim() != 4 ||
      w.scalar_type() != at::kFloat || w.size(2) != 3 || w.size(3) != 3 || w.size(1) < 16 || w.size(0) % 8 != 0) {
    return false;
  }
  for (std::size_t i = 0; i < 2; ++i) {
    if (g.stride[i] != 1 || g.dilation[i] != 1 || g.padding[i] < 0 || g.padding[i] > 2) return false;
  }
  const int64_t ic8 = (w.size(1) + 7) / 8 * 8;
  return 16 * ic8 * w.size(0) * static_cast<int64_t>(sizeof(float)) <= kWinogradMaxBytes;
}

// A kernel that a folded norm layer asks whether it served a call.
class FoldingKernel : public mm::InferenceKernel {
 public:
  // Whether a call with input x takes this kernel (the folded norm asks the
  // same question about the convolution's output).
  virtual bool serves(const at::Tensor& x) const = 0;
};

// Unfolded Conv2d weights from this size on that are not file_backed run on
// their dense parameter (see ConvKernel).
constexpr int64_t kOwnedDenseBytes = int64_t{1} << 20;

// Conv2d: oneDNN on channels-last activations, with the weight reordered
// once for them (LibTorch's mkldnn_prepacked::conv2d_prepack, the op its
// TorchScript freezing uses). The output is a channels-last dense tensor, so
// the next convolution takes it as it is, and the elementwise layers, norms
// and pooling between them run on it in ATen's channels-last kernels. Against
// oneDNN's blocked layout with conversions around each call, measured at
// batch 1 on one thread: a depthwise 3x3 over 144 x 56 x 56 0.15 ms instead of
// 2.4 ms, a 1x1 96 -> 24 0.16 instead of 1.6, the 3 -> 64 stem at 224 x 224
// 0.86 instead of 13.4, a 3x3 512 -> 512 over 14 x 14 4.2 instead of 5.0; only
// a 1x1 2048 -> 512 over 7 x 7 is slower (0.62 instead of 0.51 ms).
// A weight that is not file_backed cannot be handed back after reordering, so
// from kOwnedDenseBytes on an unfolded one is not copied: oneDNN reads the
// dense parameter on dense NCHW activations and reorders it on each call
// (vgg19 from a misaligned legacy file: 80 MiB less resident; NCHW, because
// with a dense weight channels-last is up to 3x slower for large layers).
// Conv3d: oneDNN on dense tensors with a dense (folded) weight; on this
// machine that is as fast as the blocked layout for r3d_18's 3x3x3 layers,
// while ATen's own conv3d leaves oneDNN for kernels such as R(2+1)D's 3x1x1
// at batch 1 (vol2col + the generic BLAS, 40x slower).
template <typename Conv>
class ConvKernel final : public FoldingKernel, public Deferred {
 public:
  // winograd: whether the 3 x 3 layers that take Winograd run by it
  // (InferenceOptions::winograd on a CPU that has it).
  ConvKernel(const std::shared_ptr<Conv>& conv, std::optional<NormFold> norm, Surroundings around, bool winograd)
      : conv_(conv), norm_(std::move(norm)), g_(geometry_of(*conv)), around_(around), winograd_(winograd) {}

  void ensure_packed() override {
    auto conv = conv_.lock();
    if (!conv) return;
    std::lock_guard<std::mutex> lock(mu_);
    if (!packed_) pack(*conv);
  }

  bool serves(const at::Tensor& x) const override {
    return servable(x) && x.dim() == g_.spatial_dims + 2 && norm_in_eval();
  }

  // For BlockedChainKernel, x dense or a oneDNN tensor from the layer
  // before, when the call is one the kernel serves: the convolution of x on
  // oneDNN's blocked layout, as a oneDNN tensor, when its weight is packed
  // for that layout (see prefers_blocked); by Winograd, as a channels-last
  // dense tensor, when it takes that (takes_winograd). relu: whether a ReLU
  // follows, set to whether the result has it applied (Winograd's output
  // transform does). Otherwise undefined.
  at::Tensor run_blocked(const at::Tensor& x, bool& relu) {
    const bool follows = relu;
    relu = false;
    if (!(x.is_mkldnn() ? !at::GradMode::is_enabled() && x.scalar_type() == at::kFloat && x.dim() == 4 &&
                              norm_in_eval()
                        : serves(x))) {
      return at::Tensor();
    }
    auto conv = conv_.lock();
    if (!conv) return at::Tensor();
    std::shared_ptr<const Packed> p = current(*conv);
    if (p->winograd) {
      at::Tensor y = winograd_conv(*p->winograd, x.is_mkldnn() ? x.to_dense() : x, follows);
      relu = follows && y.defined();
      return y;
    }
    return p->blocked.defined() ? blocked_conv(*p, x) : at::Tensor();
  }

  // The norm layer folded into this convolution, null when none.
  std::shared_ptr<mm::LayerImpl> folded_norm() const { return norm_ ? norm_->layer.lock() : nullptr; }

  at::Tensor run(const at::Tensor& x) override {
    if (!serves(x)) return at::Tensor();
    auto conv = conv_.lock();
    if (!conv) return at::Tensor();
    std::shared_ptr<const Packed> p = current(*conv);
    if (p->winograd) return winograd_conv(*p->winograd, x, /*relu=*/false);
    if (p->blocked.defined()) return blocked_conv(*p, x).to_dense();
    if (p->context.isNone()) {  // Conv3d, or a large 2-D weight of the process's own (see pack)
      return at::mkldnn_convolution(x.contiguous(), p->weight, p->bias, g_.padding, g_.stride, g_.dilation, g_.groups);
    }
    torch::jit::Stack stack{x.contiguous(at::MemoryFormat::ChannelsLast), context_for(*conv, *p, x)};
    prepacked_run().callBoxed(&stack);
    return stack.at(0).toTensor();
  }

 private:
  // An input size, N x H x W, and the context prepacked for it.
  using Size = std::array<int64_t, 3>;

  struct Packed {
    c10::IValue context;  // the reordered 2-D weight and the bias (ConvOpContext), or None
    std::optional<dnnl_memory_desc_t> layout;  // oneDNN's weight layout for kPrepackHint (conv_weight_layout)
    // Contexts for the input sizes calls came with, each the context above
    // or one prepacked for that size where oneDNN wants another layout
    // (see context_for); guarded by mu.
    mutable std::mutex mu;
    mutable std::vector<std::pair<Size, c10::IValue>> by_size;
    mutable std::vector<std::pair<dnnl_memory_desc_t, c10::IValue>> by_layout;
    at::Tensor blocked;   // or the 2-D weight in oneDNN's blocked layout (see prefers_blocked)
    std::shared_ptr<const winograd::Filter> winograd;  // or transformed (see takes_winograd)
    at::Tensor weight;    // dense, when there is no context (3-D; large 2-D not file_backed)
    at::Tensor bias;      // dense, may be undefined
    std::vector<Stamp> sources;
  };

  // The convolution on the blocked weight, for x dense or a oneDNN tensor;
  // the result is a oneDNN tensor.
  at::Tensor blocked_conv(const Packed& p, const at::Tensor& x) const {
    return at::mkldnn_convolution(x.is_mkldnn() ? x : x.contiguous().to_mkldnn(), p.blocked, p.bias, g_.padding,
                                  g_.stride, g_.dilation, g_.groups);
  }

  // The convolution by Winograd, as a channels-last dense tensor; undefined
  // when x does not fit the filter (the plain path reports it).
  at::Tensor winograd_conv(const winograd::Filter& f, const at::Tensor& input, bool relu) const {
    const at::Tensor x = input.contiguous(at::MemoryFormat::ChannelsLast);
    const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
    const int64_t oh = h + 2 * g_.padding[0] - 2, ow = w + 2 * g_.padding[1] - 2;
    if (x.size(1) != f.in_channels() || n == 0 || oh < 1 || ow < 1) return at::Tensor();
    at::Tensor y = at::empty({n, f.out_channels(), oh, ow}, x.options().memory_format(at::MemoryFormat::ChannelsLast));
    winograd::convolve(f, x.data_ptr<float>(), n, h, w, g_.padding[0], g_.padding[1], y.data_ptr<float>(), relu,
                       at::get_num_threads());
    return y;
  }

  static const c10::OperatorHandle& prepacked_run() {
    static const c10::OperatorHandle op = c10::Dispatcher::singleton().findSchemaOrThrow("mkldnn_prepacked::conv2d_run", "");
    return op;
  }

  // The weight reordered for channels-last input of size hint. Any input
  // size runs on the result, but where oneDNN picks the layout by the
  // input's size (conv_weight_layout) other sizes reorder it on every call;
  // context_for prepacks again for those.
  c10::IValue prepack(const at::Tensor& w, const at::Tensor& b, const Size& hint) const {
    static const c10::OperatorHandle op =
        c10::Dispatcher::singleton().findSchemaOrThrow("mkldnn_prepacked::conv2d_prepack", "");
    const int64_t in_channels = w.size(1) * g_.groups;
    // The context keeps the tensor it is given next to its reordered copy and
    // never reads it again, so it gets a copy of its own, emptied afterwards:
    // otherwise every convolution weight would be resident twice (vgg19:
    // 80 MiB more at its peak).
    at::Tensor given = at::empty_like(w, at::MemoryFormat::ChannelsLast).copy_(w);
    const at::Tensor held = given;  // the same TensorImpl the context keeps
    torch::jit::Stack stack{std::move(given),
                            b.defined() ? c10::IValue(b) : c10::IValue(),
                            g_.stride,
                            g_.padding,
                            g_.dilation,
                            g_.groups,
                            std::vector<int64_t>{hint[0], in_channels, hint[1], hint[2]},
                            std::string("none")};
    op.callBoxed(&stack);
    c10::IValue context = stack.at(0);
    held.set_();
    return context;
  }

  // No folded norm, or one in eval mode (a training-mode one normalises
  // with the batch's statistics: the plain path).
  bool norm_in_eval() const {
    if (!norm_) return true;
    auto bn = norm_->layer.lock();
    return bn && !bn->is_training();
  }

  std::vector<at::Tensor> sources(const Conv& conv) const {
    std::vector<at::Tensor> s{conv.weight, conv.bias};
    if (norm_) {
      const std::vector<at::Tensor> n = norm_->sources();
      s.insert(s.end(), n.begin(), n.end());
    }
    return s;
  }

  void pack(const Conv& conv) {
    at::NoGradGuard no_grad;
    // Stamped before reading: a write while the weights are read (on the
    // background thread) leaves them stale, and the next call packs again.
    auto p = std::make_shared<Packed>();
    p->sources = stamps_of(sources(conv));
    const bool folded = norm_ && !norm_->layer.expired();
    auto [w, b] = weight_and_bias(conv);
    const bool keep_dense = g_.spatial_dims != 2 ||
                            (!folded && w.numel() * static_cast<int64_t>(sizeof(float)) >= kOwnedDenseBytes &&
                             !file_backed(conv.weight));
    if (!keep_dense && winograd_ && takes_winograd(g_, w)) {
      const at::Tensor wc = w.contiguous(), bc = b.defined() ? b.contiguous() : at::Tensor();
      p->winograd = std::make_shared<const winograd::Filter>(wc.data_ptr<float>(), bc.defined() ? bc.data_ptr<float>() : nullptr,
                                                             wc.size(0), wc.size(1));
      release_pages(conv.weight);
    } else if (!keep_dense) {
      // Only for weights mapped from a file: with a weight of the process's
      // own (a misaligned legacy file) the blocked layers' activation
      // copies put vgg19's peak 35 MiB higher (799 against 763 MiB).
      if (prefers_blocked(g_, w, around_, winograd_) && file_backed(conv.weight)) {
        p->blocked = at::mkldnn_reorder_conv2d_weight(w.contiguous().to_mkldnn(), g_.padding, g_.stride,
                                                      g_.dilation, g_.groups);
      } else {
        p->context = prepack(w, b, kPrepackHint);
        p->layout = conv_weight_layout(g_, w.sizes(), b.defined(), kPrepackHint);
      }
      release_pages(conv.weight);
    } else {
      p->weight = w.contiguous();
      if (folded) release_pages(conv.weight);
    }
    p->bias = b.defined() ? b.contiguous() : at::Tensor();
    packed_ = std::move(p);
  }

  // The weight and bias the kernel runs: the layer's, with the norm folded
  // in when there is one.
  std::pair<at::Tensor, at::Tensor> weight_and_bias(const Conv& conv) const {
    at::Tensor w = conv.weight.detach();
    at::Tensor b = conv.bias.defined() ? conv.bias.detach() : at::Tensor();
    if (norm_ && !norm_->layer.expired()) {
      // y = scale * (conv(x) + b) + shift, in double.
      const auto [scale, shift] = norm_->affine();
      std::vector<int64_t> per_channel(static_cast<std::size_t>(w.dim()), 1);
      per_channel[0] = -1;
      const at::Tensor b0 = b.defined() ? b.to(at::kDouble) : at::zeros_like(scale);
      w = (w.to(at::kDouble) * scale.view(per_channel)).to(at::kFloat);
      b = (b0 * scale + shift).to(at::kFloat);
    }
    return {w, b};
  }

  // The context a call with input x runs on: the packed one, unless oneDNN
  // wants another weight layout for x's size than for the size that one was
  // prepacked for, when the weight is prepacked again for x's size (once
  // per layout: later sizes that want it share it). Up to kMaxSizes sizes
  // and kMaxLayouts extra contexts per layer; past them the packed context,
  // which oneDNN then reorders on each call.
  c10::IValue context_for(const Conv& conv, const Packed& p, const at::Tensor& x) const {
    const Size size{x.size(0), x.size(2), x.size(3)};
    if (size == kPrepackHint || !p.layout) return p.context;
    std::lock_guard<std::mutex> lock(p.mu);
    for (const auto& [s, context] : p.by_size) {
      if (s == size) return context;
    }
    if (p.by_size.size() >= kMaxSizes) return p.context;
    c10::IValue chosen = p.context;
    const bool bias = conv.bias.defined() || (norm_ && !norm_->layer.expired());  // as weight_and_bias gives
    const std::optional<dnnl_memory_desc_t> wanted = conv_weight_layout(g_, conv.weight.sizes(), bias, size);
    if (wanted && !dnnl_memory_desc_equal(&*wanted, &*p.layout)) {
      const auto same = std::find_if(p.by_layout.begin(), p.by_layout.end(),
                                     [&](const auto& e) { return dnnl_memory_desc_equal(&e.first, &*wanted); });
      if (same != p.by_layout.end()) {
        chosen = same->second;
      } else if (p.by_layout.size() < kMaxLayouts) {
        at::NoGradGuard no_grad;
        const auto [w, b] = weight_and_bias(conv);
        chosen = prepack(w, b, size);
        p.by_layout.emplace_back(*wanted, chosen);
        release_pages(conv.weight);
      }
    }
    p.by_size.emplace_back(size, chosen);
    return chosen;
  }

  // The packed weights, packed first when they are not yet or a source
  // tensor changed.
  std::shared_ptr<const Packed> current(const Conv& conv) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!packed_ || stamps_of(sources(conv)) != packed_->sources) pack(conv);
    return packed_;
  }

  // The input size the weights are first prepacked for (the layer's real
  // input size is not known before its first call).
  static constexpr Size kPrepackHint{1, 56, 56};
  static constexpr std::size_t kMaxSizes = 16, kMaxLayouts = 4;

  std::weak_ptr<Conv> conv_;
  std::optional<NormFold> norm_;
  ConvGeometry g_;
  Surroundings around_;
  bool winograd_;
  std::mutex mu_;
  std::shared_ptr<const Packed> packed_;  // null until packed (guarded by mu_)
};

// A norm layer folded into the convolution before it: the identity whenever
// that convolution's kernel served the call that produced x.
class FoldedNormKernel final : public mm::InferenceKernel {
 public:
  FoldedNormKernel(const std::shared_ptr<mm::LayerImpl>& conv, std::shared_ptr<FoldingKernel> kernel)
      : conv_(conv), kernel_(std::move(kernel)) {}

  at::Tensor run(const at::Tensor& x) override {
    auto conv = conv_.lock();
    auto kernel = kernel_.lock();
    if (!conv || !kernel || conv->is_training() || conv->inference_kernel() != kernel || !kernel->serves(x)) {
      return at::Tensor();
    }
    return x;
  }

 private:
  std::weak_ptr<mm::LayerImpl> conv_;
  std::weak_ptr<FoldingKernel> kernel_;
};

// Installs a kernel on `conv` (Conv2d or Conv3d), folding `next` into it
// when it is a norm layer over its outputs; returns whether it folded.
template <typename Conv>
bool install_conv_kernel(const std::shared_ptr<Conv>& conv, const std::shared_ptr<torch::nn::Module>& next,
                         bool fold, Surroundings around, bool winograd,
                         std::vector<std::weak_ptr<Deferred>>& deferred) {
  std::optional<NormFold> norm = fold && next ? fold_of(next, conv->options().out_channels()) : std::nullopt;
  auto kernel = std::make_shared<ConvKernel<Conv>>(conv, norm, around, winograd);
  conv->set_inference_kernel(kernel);
  deferred.push_back(kernel);
  if (!norm) return false;
  norm->layer.lock()->set_inference_kernel(std::make_shared<FoldedNormKernel>(conv, kernel));
  return true;
}

// A Sequential whose convolutions take the blocked layout (VGG's and
// AlexNet's features): its layers run with the activations kept in that
// layout from one blocked convolution to the next, through the ReLUs (in
// place) and max-pooling between them (oneDNN's own kernels for both), and
// go back to a dense tensor only before a layer of another kind and at the
// end. A convolution followed by its own conversions (ConvKernel::run)
// converts each activation twice per layer: vgg19 at batch 1 on one thread
// took 526-632 ms this way against 585-794 ms with those conversions (an
// AVX2 core, Zen 3). Each call
// walks the Sequential's layers as they are then, so a layer added or
// replaced after optimisation runs as it would without the kernel.
class BlockedChainKernel final : public mm::InferenceKernel {
 public:
  explicit BlockedChainKernel(const std::shared_ptr<mm::SequentialImpl>& seq) : seq_(seq) {}

  at::Tensor run(const at::Tensor& x) override {
    if (!servable(x) || x.dim() != 4) return at::Tensor();
    auto seq = seq_.lock();
    if (!seq) return at::Tensor();
    // y: the caller's x, then each layer's result; a oneDNN tensor is always
    // one of the kernel's own, which a ReLU may overwrite.
    at::Tensor y = x;
    std::shared_ptr<mm::LayerImpl> folded;  // the norm folded into the convolution just run
    for (std::size_t i = 0; i < seq->size(); ++i) {
      mm::LayerImpl& layer = *(*seq)[i];
      if (folded.get() == &layer) {
        folded.reset();
        continue;
      }
      folded.reset();
      if (y.is_mkldnn()) {
        if (dynamic_cast<mm::ReLUImpl*>(&layer)) {
          at::relu_(y);
          continue;
        }
        if (const auto* pool = dynamic_cast<mm::MaxPool2dImpl*>(&layer)) {
          const auto& o = pool->options();
          const auto d = *o.dilation();
          if (d[0] == 1 && d[1] == 1) {
            y = at::max_pool2d(y, *o.kernel_size(), *o.stride(), *o.padding(), *o.dilation(), o.ceil_mode());
            continue;
          }
        }
      }
      if (auto* conv = dynamic_cast<mm::Conv2dImpl*>(&layer); conv && !conv->is_training()) {
        if (auto kernel = std::dynamic_pointer_cast<ConvKernel<mm::Conv2dImpl>>(conv->inference_kernel())) {
          // A ReLU right after the convolution (and its folded norm) that
          // the kernel applies on the way out.
          std::size_t next = i + 1;
          const std::shared_ptr<mm::LayerImpl> norm = kernel->folded_norm();
          if (norm && next < seq->size() && (*seq)[next].get() == norm.get()) ++next;
          bool relu = next < seq->size() && dynamic_cast<mm::ReLUImpl*>((*seq)[next].get());
          if (at::Tensor out = kernel->run_blocked(y, relu); out.defined()) {
            y = std::move(out);
            if (relu) {
              i = next;
            } else {
              folded = norm;
            }
            continue;
          }
        }
      }
      if (y.is_mkldnn()) y = y.to_dense();
      mm::apply_to_temporary(layer, y);
    }
    return y.is_mkldnn() ? y.to_dense() : y;
  }

 private:
  std::weak_ptr<mm::SequentialImpl> seq_;
};


// ---------------------------------------------------------------------------
// Linear
// ---------------------------------------------------------------------------

// Weight elements per oneDNN call and per prepacked slice (16 MiB of float):
// bounds the temporaries a reorder needs, whatever the layer's size.
constexpr int64_t kLinearSliceElements = int64_t{4} << 20;

// Rows (products of the leading dimensions) up to which a Linear runs on its
// prepacked weight. oneDNN's inner product reorders a dense weight on every
// call (for vgg19's first classifier layer, 25088 -> 4096, that is 338 ms of
// a 340 ms call at batch 1), and this LibTorch has no way to prepack one; a
// 1 x 1 convolution over a 1 x K x M x 1 image of the M rows computes the
// same product on a weight reordered once (33 ms). Past a few hundred rows
// the per-call reorder is amortised and the inner product is as fast or
// faster (Swin's first stage: 3136 rows of 96 features).
constexpr int64_t kPrepackedMaxRows = 256;

// Hands the pages of elements [offset, offset + count) of t to the kernel
// (see release_span).
void release_range(const at::Tensor& t, int64_t offset, int64_t count) {
  if (!t.defined() || !t.device().is_cpu() || t.is_mkldnn() || !t.is_contiguous()) return;
  const auto begin = reinterpret_cast<uintptr_t>(t.data_ptr()) +
                     static_cast<uintptr_t>(offset * static_cast<int64_t>(t.element_size()));
  release_span(begin, begin + static_cast<uintptr_t>(count * static_cast<int64_t>(t.element_size())));
}

// Linear weights up to this size are reordered when the model is optimised.
// Larger ones (vgg19's and alexnet's classifiers: 392, 144 and 64 MiB) are
// reordered on their second call with few rows: the reorder costs as much
// as the faults of a fresh copy (about 1 s for vgg19's 472 MiB), more than a
// single call saves, so a process that predicts once never pays it. Their
// first call reads the dense weight in place: ATen's GEMV for one row (no
// copy at all; 2.4x faster than the inner product, which reorders), the
// inner product for more.
constexpr int64_t kEagerPrepackBytes = int64_t{16} << 20;
// The same bound for a weight that is not file_backed: ViT-B's and Swin's
// layers and the classifier heads (up to 9 MiB) keep their prepacked
// slices; vgg19's and alexnet's last layers (15.6 MiB) read their dense
// weight.
constexpr int64_t kOwnedPrepackBytes = int64_t{10} << 20;

// One row times the dense weight: y = x W^T + b, for x 1 x K and W N x K
// contiguous float, through oneDNN's JIT SGEMM, which reads W where it lies
// (no reorder, no copy). ATen's matrix product goes to this LibTorch's
// generic BLAS instead: vgg19's first classifier layer (25088 -> 4096)
// takes 27 ms here against about 100 ms there, at the machine's memory
// bandwidth.
at::Tensor dense_row_product(const at::Tensor& row, const at::Tensor& weight, const at::Tensor& bias) {
  const at::Tensor x = row.contiguous();
  if (weight.scalar_type() != at::kFloat || !weight.is_contiguous() ||
      (bias.defined() && bias.scalar_type() != at::kFloat)) {
    return at::linear(x, weight, bias);
  }
  const int64_t n = weight.size(0), k = weight.size(1);
  // With beta 0 the SGEMM does not read y.
  at::Tensor y = bias.defined() ? bias.reshape({1, n}).clone() : at::empty({1, n}, x.options());
  const dnnl_status_t status =
      dnnl_sgemm('N', 'T', 1, n, k, 1.0f, x.data_ptr<float>(), k, weight.data_ptr<float>(), k,
                 bias.defined() ? 1.0f : 0.0f, y.data_ptr<float>(), n);
  if (status != dnnl_success) return at::linear(x, weight, bias);
  return y;
}

// y = x W^T + b through oneDNN, for x of any rank >= 1: up to
// kPrepackedMaxRows rows as 1 x 1 convolutions on weight slices reordered
// once, beyond that through the inner product on the dense weight.
//
// Memory: a prepacked slice hands the pages of its dense rows back to the
// kernel when they come from a mapped file (see release_pages). A weight in
// memory of its own (not file_backed: random initialisation, a storage read
// out of a misaligned file) cannot be handed back, so past
// kOwnedPrepackBytes it is never prepacked: the copy would double it.
class LinearOp {
 public:
  // Packs weight and bias unless a pack exists already (see Deferred).
  void ensure_packed(const at::Tensor& weight, const at::Tensor& bias) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!packed_) pack(weight, bias, /*initial=*/true);
  }

  at::Tensor apply(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
    const int64_t in = weight.size(1);
    const at::Tensor rows = x.reshape({-1, in});
    const int64_t m = rows.size(0);
    std::shared_ptr<const Packed> p;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!packed_ || stamp_of(weight) != packed_->w || stamp_of(bias) != packed_->b) {
        pack(weight, bias, /*initial=*/true);
      } else if (m <= kPrepackedMaxRows && packed_->deferred && small_calls_++ > 0) {
        pack(weight, bias, /*initial=*/false);
      }
      p = packed_;
    }
    const int64_t out = p->weight.size(0);
    at::Tensor y;
    if (m <= kPrepackedMaxRows && p->prepacked) {
      y = at::empty({m, out}, x.options());
      // The rows as the height of a one-image batch: K channels, M x 1 pixels.
      const at::Tensor image = rows.t().contiguous().view({1, in, m, 1}).to_mkldnn();
      for (const Slice& s : p->slices) {
        const at::Tensor part = at::mkldnn_convolution(image, s.weight, s.bias, {0, 0}, {1, 1},
                                                       {1, 1}, 1)
                                    .to_dense();
        y.narrow(1, s.first, s.count).copy_(part.view({s.count, m}).t());
      }
    } else if (m == 1 && p->deferred) {
      // Slice by slice, each slice's pages handed back once read: the next
      // call with few rows reorders the weight (reading it again from the
      // page cache), so nothing needs it resident until then. vgg19's
      // classifier (472 MiB mapped) then adds at most one slice to a
      // one-prediction process's peak.
      y = at::empty({1, out}, x.options());
      for (const Slice& s : p->slices) {
        const at::Tensor b = p->bias.defined() ? p->bias.narrow(0, s.first, s.count) : at::Tensor();
        y.narrow(1, s.first, s.count).copy_(dense_row_product(rows, p->weight.narrow(0, s.first, s.count), b));
        release_range(p->weight, s.first * in, s.count * in);
      }
    } else if (m == 1) {
      y = dense_row_product(rows, p->weight, p->bias);
    } else {
      y = at::empty({m, out}, x.options());
      const at::Tensor xm = rows.contiguous().to_mkldnn();
      for (const Slice& s : p->slices) {
        const at::Tensor b = p->bias.defined() ? p->bias.narrow(0, s.first, s.count) : at::Tensor();
        y.narrow(1, s.first, s.count)
            .copy_(at::mkldnn_linear(xm, p->weight.narrow(0, s.first, s.count), b).to_dense());
      }
    }
    std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
    if (shape.empty()) shape.push_back(1);
    shape.back() = out;
    return y.view(shape);
  }

 private:
  struct Slice {
    int64_t first = 0, count = 0;  // output features [first, first + count)
    at::Tensor weight;             // count x K x 1 x 1, oneDNN's blocked layout
    at::Tensor bias;               // dense, may be undefined
  };
  struct Packed {
    at::Tensor weight, bias;  // dense contiguous float, for the inner product
    std::vector<Slice> slices;
    bool prepacked = false;   // the slices carry reordered weights
    bool deferred = false;    // to be prepacked on the second call with few rows
    Stamp w, b;
  };

  // initial: when the layer is optimised, or its weights changed; otherwise
  // the deferred reorder of a large weight.
  void pack(const at::Tensor& weight, const at::Tensor& bias, bool initial) {
    at::NoGradGuard no_grad;
    auto p = std::make_shared<Packed>();
    // Stamped before reading (see ConvKernel::pack).
    p->w = stamp_of(weight);
    p->b = stamp_of(bias);
    p->weight = weight.detach().contiguous();
    p->bias = bias.defined() ? bias.detach().contiguous() : at::Tensor();
    const int64_t out = p->weight.size(0), in = p->weight.size(1);
    const int64_t bytes = p->weight.numel() * static_cast<int64_t>(sizeof(float));
    // Up to kOwnedPrepackBytes a weight is prepacked wherever it lives, so
    // the mappings are looked up only past it.
    const bool owned = bytes > kOwnedPrepackBytes && !file_backed(p->weight);
    p->prepacked = bytes <= (owned ? kOwnedPrepackBytes : kEagerPrepackBytes) || (!initial && !owned);
    p->deferred = initial && !p->prepacked && !owned;
    if (initial) small_calls_ = 0;
    const int64_t step = std::max<int64_t>(1, kLinearSliceElements / std::max<int64_t>(1, in));
    for (int64_t r0 = 0; r0 < out; r0 += step) {
      Slice s;
      s.first = r0;
      s.count = std::min(step, out - r0);
      if (p->prepacked) {
        s.weight = at::mkldnn_reorder_conv2d_weight(
            p->weight.narrow(0, r0, s.count).reshape({s.count, in, 1, 1}).to_mkldnn(), {0, 0},
            {1, 1}, {1, 1}, 1);
        if (p->bias.defined()) s.bias = p->bias.narrow(0, r0, s.count).contiguous();
        // The dense rows are read again only past kPrepackedMaxRows rows.
        release_range(p->weight, r0 * in, s.count * in);
      }
      p->slices.push_back(std::move(s));
    }
    packed_ = std::move(p);
  }
  std::mutex mu_;
  std::shared_ptr<const Packed> packed_;  // null until packed (guarded by mu_)
  int small_calls_ = 0;  // calls with few rows since the last initial pack (guarded by mu_)
};

class LinearKernel final : public mm::InferenceKernel, public Deferred {
 public:
  explicit LinearKernel(const std::shared_ptr<mm::LinearImpl>& linear) : linear_(linear) {}

  void ensure_packed() override {
    if (auto linear = linear_.lock()) op_.ensure_packed(linear->weight, linear->bias);
  }

  at::Tensor run(const at::Tensor& x) override {
    auto linear = linear_.lock();
    if (!linear || !servable(x) || x.dim() < 1) return at::Tensor();
    return op_.apply(x, linear->weight, linear->bias);
  }

 private:
  std::weak_ptr<mm::LinearImpl> linear_;
  LinearOp op_;
};

// ---------------------------------------------------------------------------
// ViT's nn.MultiheadAttention: the in-projection is a bare parameter, not a
// Linear, so the whole self-attention gets a kernel (out_proj keeps its own).
// ---------------------------------------------------------------------------

class AttentionKernel final : public mm::InferenceKernel, public Deferred {
 public:
  explicit AttentionKernel(const std::shared_ptr<mm::MultiheadAttentionImpl>& attn) : attn_(attn) {}

  void ensure_packed() override {
    if (auto m = attn_.lock()) in_proj_.ensure_packed(m->in_proj_weight, m->in_proj_bias);
  }

  at::Tensor run(const at::Tensor& x) override {
    auto m = attn_.lock();
    if (!m || !servable(x) || x.dim() != 3) return at::Tensor();
    const int64_t e = m->options().embed_dim(), h = m->options().num_heads(), d = e / h;
    const int64_t n = x.size(0), l = x.size(1);
    const at::Tensor qkv = in_proj_.apply(x, m->in_proj_weight, m->in_proj_bias)
                               .view({n, l, 3, h, d})
                               .permute({2, 0, 3, 1, 4});
    const at::Tensor q = qkv[0] / std::sqrt(static_cast<double>(d));
    const at::Tensor attn = at::softmax(matmul_nt(q, qkv[1]), -1);
    const at::Tensor out = matmul_nt(attn, qkv[2].transpose(-2, -1)).transpose(1, 2).reshape({n, l, e});
    return m->out_proj->forward(out);
  }

 private:
  std::weak_ptr<mm::MultiheadAttentionImpl> attn_;
  LinearOp in_proj_;
};

// Swin's and MaxViT's windowed attention: their own forward, with the two
// matrix products through matmul_nt (many small windows: M = N = 49 or 64).
class WindowAttentionKernel final : public mm::AttentionMatmulKernel {
 public:
  at::Tensor run(const at::Tensor&) override { return at::Tensor(); }
  at::Tensor matmul(const at::Tensor& a, const at::Tensor& b) override {
    if (!servable(a) || !servable(b) || a.dim() < 2 || b.dim() != a.dim()) return at::Tensor();
    for (int64_t i = 0; i + 2 < a.dim(); ++i) {
      if (a.size(i) != b.size(i)) return at::Tensor();  // no broadcasting here
    }
    return matmul_nt(a, b.transpose(-2, -1));
  }
};

// ---------------------------------------------------------------------------
// The walk
// ---------------------------------------------------------------------------

std::size_t clear_all(torch::nn::Module& root) {
  std::size_t n = 0;
  const auto clear = [&n](torch::nn::Module* m) {
    if (auto* layer = dynamic_cast<mm::LayerImpl*>(m); layer && layer->inference_kernel()) {
      layer->set_inference_kernel(nullptr);
      ++n;
    }
  };
  clear(&root);  // the root may live outside a shared_ptr (modules(true) needs one)
  for (const auto& m : root.modules(/*include_self=*/false)) clear(m.get());
  return n;
}

void walk(torch::nn::Module& module, const InferenceOptions& options, InferenceReport& report,
          std::vector<std::weak_ptr<Deferred>>& deferred) {
  const auto children = module.children();
  // Whether no Conv2d child is a 1 x 1 or grouped one, which keep
  // channels-last, and whether the module is a Sequential that keeps the
  // blocked layout: one with such children only, some of them over 64
  // channels or more (see prefers_blocked), or with AVX-512 one whose
  // Winograd layers get the ReLU after them fused (BlockedChainKernel; there
  // no layer takes the blocked layout). A root outside a shared_ptr cannot
  // hand its kernel a handle on itself and is not chained.
  bool spatial = true, wide = false;
  for (const auto& child : children) {
    if (const auto c = std::dynamic_pointer_cast<mm::Conv2dImpl>(child)) {
      const auto& o = c->options();
      const auto k = *o.kernel_size();
      spatial = spatial && o.groups() == 1 && k[0] * k[1] > 1;
      wide = wide || o.in_channels() >= 64;
    }
  }
  auto* seq = dynamic_cast<mm::SequentialImpl*>(&module);
  const bool winograd = options.winograd && winograd::supported();
  const bool chained = seq && options.convolutions && (!has_avx512() || winograd) && spatial && wide &&
                       !module.weak_from_this().expired();
  const Surroundings around =
      chained ? Surroundings::Chained : spatial ? Surroundings::AmongSpatial : Surroundings::Mixed;
  for (std::size_t i = 0; i < children.size(); ++i) {
    const auto& child = children[i];
    const auto conv2d = std::dynamic_pointer_cast<mm::Conv2dImpl>(child);
    const auto conv3d = std::dynamic_pointer_cast<mm::Conv3dImpl>(child);
    if (conv2d || conv3d) {
      if (!options.convolutions) continue;
      const auto next = i + 1 < children.size() ? children[i + 1] : nullptr;
      const bool folded =
          conv2d ? install_conv_kernel(conv2d, next, options.fold_batch_norm, around, winograd, deferred)
                 : install_conv_kernel(conv3d, next, options.fold_batch_norm, Surroundings::Mixed, false, deferred);
      ++report.convolutions;
      if (folded) {
        ++report.folded_batch_norms;
        ++i;  // the norm layer has no children of its own
      }
      continue;
    }
    if (auto linear = std::dynamic_pointer_cast<mm::LinearImpl>(child)) {
      if (options.linear) {
        auto kernel = std::make_shared<LinearKernel>(linear);
        linear->set_inference_kernel(kernel);
        deferred.push_back(kernel);
        ++report.linear;
      }
      continue;
    }
    if (auto attn = std::dynamic_pointer_cast<mm::MultiheadAttentionImpl>(child)) {
      if (options.linear) {
        auto kernel = std::make_shared<AttentionKernel>(attn);
        attn->set_inference_kernel(kernel);
        deferred.push_back(kernel);
        ++report.attention;
      }
    } else if (std::dynamic_pointer_cast<mm::ShiftedWindowAttentionImpl>(child) ||
               std::dynamic_pointer_cast<mm::RelativePositionalMultiHeadAttentionImpl>(child)) {
      if (options.linear) {
        std::dynamic_pointer_cast<mm::LayerImpl>(child)->set_inference_kernel(
            std::make_shared<WindowAttentionKernel>());
        ++report.attention;
      }
    }
    walk(*child, options, report, deferred);
  }
  if (chained) {
    seq->set_inference_kernel(
        std::make_shared<BlockedChainKernel>(std::dynamic_pointer_cast<mm::SequentialImpl>(module.shared_from_this())));
  }
}

// ---------------------------------------------------------------------------
// Reorders left to the background
// ---------------------------------------------------------------------------

// The kernels of one optimize_for_inference call, in the order the walk
// installed them (the order of registration, which is the order of the
// forward in every family), and the promise behind its report's reordered.
struct ReorderJob {
  std::chrono::steady_clock::time_point start;
  std::vector<std::weak_ptr<Deferred>> kernels;
  std::promise<double> done;
};

// Hands the heap's free memory back to the system: reordering leaves freed
// temporaries (dense-to-oneDNN copies, weight slices) inside the heap, where
// glibc keeps them; handing them back keeps them out of the peak of the first
// forward (vgg19 from a zip file: 829 to 785 MiB).
void trim_heap() {
#if defined(__GLIBC__)
  ::malloc_trim(0);
#endif
}

// Packs every kernel of the job that is still alive and not yet packed. On
// the background thread (stop set) a failure is left to the call that needs
// the layer: it packs again, and the error reaches its caller; otherwise it
// reaches optimize_for_inference's.
void run_job(ReorderJob& job, const std::atomic<bool>* stop) {
  for (const auto& weak : job.kernels) {
    if (stop && stop->load()) break;
    auto kernel = weak.lock();
    if (!kernel) continue;
    if (!stop) {
      kernel->ensure_packed();
      continue;
    }
    try {
      kernel->ensure_packed();
    } catch (const std::exception&) {
    }
  }
  job.kernels.clear();
  trim_heap();
  job.done.set_value(
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - job.start).count());
}

// Runs each oneDNN op a pack uses once, on tiny tensors and on the calling
// thread: the statics they create on first use (oneDNN's engine, primitive
// cache and JIT kernels) then exist before ReorderThread's own and are
// destroyed after it, so a pack still running when the process exits finds
// them alive while the thread is joined.
void warm_up() {
  at::NoGradGuard no_grad;
  static const c10::OperatorHandle prepack =
      c10::Dispatcher::singleton().findSchemaOrThrow("mkldnn_prepacked::conv2d_prepack", "");
  static const c10::OperatorHandle run =
      c10::Dispatcher::singleton().findSchemaOrThrow("mkldnn_prepacked::conv2d_run", "");
  const at::Tensor w = at::ones({8, 8, 1, 1}).contiguous(at::MemoryFormat::ChannelsLast);
  const at::Tensor x = at::ones({1, 8, 2, 2});
  torch::jit::Stack stack{w, c10::IValue(), std::vector<int64_t>{1, 1}, std::vector<int64_t>{0, 0},
                          std::vector<int64_t>{1, 1}, int64_t{1}, std::vector<int64_t>{1, 8, 2, 2},
                          std::string("none")};
  prepack.callBoxed(&stack);
  torch::jit::Stack call{x.contiguous(at::MemoryFormat::ChannelsLast), stack.at(0)};
  run.callBoxed(&call);
  const at::Tensor packed = at::mkldnn_reorder_conv2d_weight(w.contiguous().to_mkldnn(), {0, 0}, {1, 1}, {1, 1}, 1);
  (void)at::mkldnn_convolution(x.to_mkldnn(), packed, at::Tensor(), {0, 0}, {1, 1}, {1, 1}, 1).to_dense();
  (void)at::mkldnn_linear(at::ones({2, 8}).to_mkldnn(), at::ones({8, 8}), at::Tensor()).to_dense();
}

// One thread for the whole process, started on the first background job and
// joined when the process exits (this function-local static is created after
// LibTorch's own, so it is destroyed before them). It runs one OpenMP thread,
// so at most one core packs while the caller's thread runs the model.
class ReorderThread {
 public:
  static ReorderThread& instance() {
    static const bool warmed = (warm_up(), true);
    (void)warmed;
    static ReorderThread t;
    return t;
  }

  void submit(std::unique_ptr<ReorderJob> job) {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back(std::move(job));
    if (!worker_.joinable()) worker_ = std::thread([this] { loop(); });
    cv_.notify_one();
  }

  ~ReorderThread() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    if (worker_.joinable()) worker_.join();
  }

 private:
  ReorderThread() = default;

  void loop() {
    omp_set_num_threads(1);
    for (;;) {
      std::unique_ptr<ReorderJob> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stop_.load() || !jobs_.empty(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      run_job(*job, &stop_);
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<ReorderJob>> jobs_;
  std::atomic<bool> stop_{false};
  std::thread worker_;
};

}  // namespace

std::string InferenceReport::to_string() const {
  std::ostringstream os;
  os << convolutions << " conv (" << folded_batch_norms << " with BatchNorm folded), " << linear
     << " linear, " << attention << " attention in " << ms << " ms";
  return os.str();
}

bool inference_available() { return at::hasMKLDNN(); }

InferenceReport optimize_for_inference(torch::nn::Module& model, const InferenceOptions& options) {
  if (!inference_available()) {
    throw Error("optimize_for_inference: this LibTorch was built without oneDNN (MKLDNN); "
                "use the model as is");
  }
  auto job = std::make_unique<ReorderJob>();
  job->start = std::chrono::steady_clock::now();
  const auto t0 = job->start;
  clear_all(model);
  InferenceReport report;
  walk(model, options, report, job->kernels);
  report.reordered = job->done.get_future().share();
  if (options.background && !job->kernels.empty()) {
    ReorderThread::instance().submit(std::move(job));
  } else {
    run_job(*job, nullptr);
  }
  report.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

std::size_t clear_inference_kernels(torch::nn::Module& model) { return clear_all(model); }

}  // namespace modelzoo
