#pragma once
/// \file
/// Building blocks shared by every model family: convolution, linear and
/// normalisation layers whose parameters carry torchvision's names, the
/// parameter-free layers (activations, pooling, dropout) and a Sequential
/// container that names its children "0", "1", ... exactly as nn.Sequential.
///
/// Why not torch::nn's modules: their constructors always draw a random
/// initialisation, which is wasted work when pretrained weights are loaded
/// over every parameter afterwards. Here every layer with parameters takes an
/// InitPolicy:
/// - `policy.enabled == false` (ArchArgs::init_weights = false): parameters
///   are allocated with at::empty and nothing is drawn. The values are
///   garbage until load_state_dict fills them. Buffers (BatchNorm's running
///   statistics) are cheap and always get their defaults (zeros / ones / 0).
/// - `policy.enabled == true`: parameters are drawn from the distribution the
///   family's torchvision builder uses (the family fills the policy, e.g. VGG:
///   kaiming_normal_(fan_out, relu) convolutions, zero biases, normal(0, 0.01)
///   linear layers). The distributions match torchvision; the random streams
///   do not (torchvision first draws torch.nn's default and then redraws), so
///   equal seeds do not give equal values.
///
/// Writing a new family:
/// \code
///   InitPolicy init = InitPolicy::torch_default(args.init_weights);
///   init.conv_weight = ParamInit::kaiming_normal(FanMode::FanOut, Nonlinearity::ReLU);
///   Sequential features;
///   features->push_back(Conv2d(Conv2dOptions(3, 64, 3).padding(1), init));  // "0"
///   features->push_back(ReLU());                                           // "1"
///   features->push_back(MaxPool2d(MaxPool2dOptions(2)));                   // "2"
///   this->features = register_module("features", features);
/// \endcode
/// Register children and parameters in the order the Python module assigns
/// them in __init__: that order is the order of state_dict() keys.
/// Parameter-free layers still take a Sequential slot so that indices (and
/// so keys such as `features.3.weight`) match Python.
///
/// Every layer derives from LayerImpl, a torch::nn::Module with a virtual
/// `forward(const at::Tensor&)`, so a family's own blocks (a ResNet
/// Bottleneck, say) can derive from LayerImpl and be put in a Sequential too.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>
#include <c10/util/Optional.h>
#include <torch/arg.h>
#include <torch/expanding_array.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace modelzoo::models {

// ---------------------------------------------------------------------------
// Initialisation
// ---------------------------------------------------------------------------

/// Which fan a Kaiming initialisation scales by (torch.nn.init's `mode`).
enum class FanMode { FanIn, FanOut };

/// The non-linearity a Kaiming or Xavier gain is computed for
/// (torch.nn.init.calculate_gain).
enum class Nonlinearity { Linear, Sigmoid, Tanh, ReLU, LeakyReLU, SELU };

/// How one parameter tensor is filled when initialisation is enabled; each
/// named constructor mirrors the torch.nn.init function of the same name.
class ParamInit {
 public:
  /// The kinds of initialisation.
  enum class Kind {
    TorchDefault,    ///< what torch.nn's layer does on construction (see torch_default())
    Constant,        ///< constant_(value)
    Normal,          ///< normal_(mean, std)
    Uniform,         ///< uniform_(low, high)
    TruncNormal,     ///< trunc_normal_(mean, std, a, b)
    KaimingNormal,   ///< kaiming_normal_(a, mode, nonlinearity)
    KaimingUniform,  ///< kaiming_uniform_(a, mode, nonlinearity)
    XavierNormal,    ///< xavier_normal_(gain)
    XavierUniform,   ///< xavier_uniform_(gain)
  };

  /// torch.nn's construction-time default for the layer the tensor belongs
  /// to: for Conv2d/Linear weights kaiming_uniform_(a=sqrt(5)), for their
  /// biases uniform_(-1/sqrt(fan_in), 1/sqrt(fan_in)) with the weight's fan_in;
  /// for normalisation layers ones (weight) and zeros (bias). Only layers can
  /// resolve it; fill() refuses it.
  static ParamInit torch_default() { return ParamInit(Kind::TorchDefault); }
  /// constant_(value).
  static ParamInit constant(double value);
  /// zeros_.
  static ParamInit zeros() { return constant(0.0); }
  /// ones_.
  static ParamInit ones() { return constant(1.0); }
  /// normal_(mean, std).
  static ParamInit normal(double mean, double stddev);
  /// uniform_(low, high).
  static ParamInit uniform(double low, double high);
  /// trunc_normal_(mean, std, a, b): normal values redrawn into [a, b].
  static ParamInit trunc_normal(double mean, double stddev, double a = -2.0, double b = 2.0);
  /// kaiming_normal_: N(0, gain / sqrt(fan)).
  static ParamInit kaiming_normal(FanMode mode = FanMode::FanIn,
                                  Nonlinearity nonlinearity = Nonlinearity::LeakyReLU,
                                  double a = 0.0);
  /// kaiming_uniform_: U(-b, b) with b = gain * sqrt(3 / fan).
  static ParamInit kaiming_uniform(FanMode mode = FanMode::FanIn,
                                   Nonlinearity nonlinearity = Nonlinearity::LeakyReLU,
                                   double a = 0.0);
  /// xavier_normal_: N(0, gain * sqrt(2 / (fan_in + fan_out))).
  static ParamInit xavier_normal(double gain = 1.0);
  /// xavier_uniform_: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)).
  static ParamInit xavier_uniform(double gain = 1.0);

  /// The kind of initialisation.
  Kind kind() const { return kind_; }

  /// Fills `t` in place (no autograd recording). Throws modelzoo::Error for
  /// TorchDefault, and for fan-based kinds on tensors with fewer than 2 dims.
  void fill(at::Tensor& t) const;

  /// Python-like description, e.g. "kaiming_normal_(mode='fan_out', nonlinearity='relu')".
  std::string describe() const;

 private:
  explicit ParamInit(Kind kind) : kind_(kind) {}
  Kind kind_;
  double v0_ = 0, v1_ = 0, v2_ = 0, v3_ = 0;  // meaning depends on kind_
  FanMode mode_ = FanMode::FanIn;
  Nonlinearity nonlinearity_ = Nonlinearity::LeakyReLU;
};

/// A family's initialisation scheme: one ParamInit per kind of parameter,
/// plus the switch that turns initialisation off for the pretrained path.
/// A layer's options may override its own weight/bias init (weight_init(),
/// bias_init()).
struct InitPolicy {
  /// false: parameters are at::empty (ArchArgs::init_weights = false).
  bool enabled = true;
  ParamInit conv_weight = ParamInit::torch_default();    ///< Conv2d.weight
  ParamInit conv_bias = ParamInit::torch_default();      ///< Conv2d.bias
  ParamInit linear_weight = ParamInit::torch_default();  ///< Linear.weight
  ParamInit linear_bias = ParamInit::torch_default();    ///< Linear.bias
  ParamInit norm_weight = ParamInit::ones();             ///< BatchNorm2d/LayerNorm.weight
  ParamInit norm_bias = ParamInit::zeros();              ///< BatchNorm2d/LayerNorm.bias

  /// torch.nn's defaults everywhere; `enabled` as given.
  static InitPolicy torch_default(bool enabled = true) {
    InitPolicy p;
    p.enabled = enabled;
    return p;
  }
  /// Nothing initialised: every parameter is at::empty.
  static InitPolicy uninitialised() { return torch_default(false); }
};

/// A float32 CPU tensor of `shape` for a family's own parameters (ViT's
/// class token, say): filled by `init` when `policy.enabled`, else at::empty.
/// The result does not require grad yet; register_parameter() sets that.
at::Tensor new_parameter(c10::IntArrayRef shape, const ParamInit& init, const InitPolicy& policy);

// ---------------------------------------------------------------------------
// Base and container
// ---------------------------------------------------------------------------

/// A replacement of a layer's forward for inference, installed by the
/// inference stage (modelzoo::optimize_for_inference): BatchNorm folded into
/// the convolution before it, weights reordered once for oneDNN. Layers that
/// accept one (Conv2d, Linear, BatchNorm2d, ViT's MultiheadAttention) ask it
/// first whenever they are in eval mode; it declines a call it cannot serve
/// exactly (gradients on, another dtype, device or layout).
class InferenceKernel {
 public:
  virtual ~InferenceKernel() = default;
  /// The layer's output for `x`, or an undefined tensor to let the layer's
  /// own forward run.
  virtual at::Tensor run(const at::Tensor& x) = 0;
};

/// Base of every layer: a module whose forward maps one tensor to one tensor.
/// Family blocks derive from it to live in a Sequential.
class LayerImpl : public torch::nn::Module {
 public:
  /// `name` is what printing the module shows (Python's class name).
  explicit LayerImpl(std::string name) : torch::nn::Module(std::move(name)) {}
  /// Applies the layer.
  virtual at::Tensor forward(const at::Tensor& x) = 0;
  /// Applies the layer by writing its result over `x`, as torchvision's
  /// inplace=True activations do, and returns true; false (x untouched) when
  /// the layer has no in-place form, the default. Sequential calls it on a
  /// tensor nothing but itself refers to, with gradient recording off for it.
  virtual bool forward_in_place(at::Tensor& /*x*/) { return false; }

  /// Installs `kernel` (nullptr removes it); used only by layers that ask
  /// for one in their forward.
  void set_inference_kernel(std::shared_ptr<InferenceKernel> kernel) {
    inference_kernel_ = std::move(kernel);
  }
  /// The installed kernel, null when none.
  const std::shared_ptr<InferenceKernel>& inference_kernel() const { return inference_kernel_; }

 protected:
  /// The kernel's output for `x` when a kernel is installed and the layer is
  /// in eval mode; otherwise (or when the kernel declines) undefined.
  at::Tensor try_inference_kernel(const at::Tensor& x) const {
    if (!inference_kernel_ || is_training()) return at::Tensor();
    return inference_kernel_->run(x);
  }

 private:
  std::shared_ptr<InferenceKernel> inference_kernel_;
};

/// A shared pointer to any layer.
using LayerPtr = std::shared_ptr<LayerImpl>;

/// y = layer(y), written over y in place (LayerImpl::forward_in_place) when
/// nothing but this one handle refers to y or its storage and no gradient is
/// recorded through it: for a block's own intermediate results, which no one
/// else can see. Sequential applies every layer this way.
void apply_to_temporary(LayerImpl& layer, at::Tensor& y);

/// nn.Sequential: children named "0", "1", ... (or given names, as an
/// OrderedDict-built nn.Sequential), applied in order.
class SequentialImpl : public LayerImpl {
 public:
  /// An empty container.
  SequentialImpl() : LayerImpl("Sequential") {}

  /// Appends `layer` under the name str(size()), as nn.Sequential does.
  void push_back(LayerPtr layer);
  /// Appends `layer` under `name` (nn.Sequential(OrderedDict(...))).
  void push_back(const std::string& name, LayerPtr layer);
  /// Appends a layer handle (Conv2d, ReLU, a family block, ...).
  template <typename Contained>
  void push_back(const torch::nn::ModuleHolder<Contained>& layer) {
    push_back(LayerPtr(layer.ptr()));
  }
  /// Appends a named layer handle.
  template <typename Contained>
  void push_back(const std::string& name, const torch::nn::ModuleHolder<Contained>& layer) {
    push_back(name, LayerPtr(layer.ptr()));
  }

  /// Applies every layer in order.
  at::Tensor forward(const at::Tensor& x) override;

  /// Number of layers.
  std::size_t size() const { return layers_.size(); }
  /// The i-th layer; throws modelzoo::Error when out of range.
  const LayerPtr& operator[](std::size_t i) const;
  /// The i-th layer as `T`; throws modelzoo::Error when out of range or of another type.
  template <typename T>
  std::shared_ptr<T> at(std::size_t i) const {
    auto typed = std::dynamic_pointer_cast<T>((*this)[i]);
    if (!typed) throw_wrong_type(i);
    return typed;
  }

 private:
  [[noreturn]] void throw_wrong_type(std::size_t i) const;
  std::vector<LayerPtr> layers_;
};
/// Handle of SequentialImpl (`Sequential s; s->push_back(...)`).
TORCH_MODULE(Sequential);

// ---------------------------------------------------------------------------
// Layers with parameters
// ---------------------------------------------------------------------------

/// Options of Conv2d (torch.nn.Conv2d; zero padding mode only).
struct Conv2dOptions {
  /// Required: channels in/out and kernel size.
  Conv2dOptions(int64_t in_channels, int64_t out_channels, torch::ExpandingArray<2> kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(torch::ExpandingArray<2>, kernel_size);
  TORCH_ARG(torch::ExpandingArray<2>, stride) = 1;
  TORCH_ARG(torch::ExpandingArray<2>, padding) = 0;
  TORCH_ARG(torch::ExpandingArray<2>, dilation) = 1;
  TORCH_ARG(int64_t, groups) = 1;
  TORCH_ARG(bool, bias) = true;
  /// Overrides InitPolicy::conv_weight for this layer.
  TORCH_ARG(c10::optional<ParamInit>, weight_init) = c10::nullopt;
  /// Overrides InitPolicy::conv_bias for this layer.
  TORCH_ARG(c10::optional<ParamInit>, bias_init) = c10::nullopt;
};

/// nn.Conv2d: parameters `weight` [out, in/groups, kh, kw] and `bias` [out] (if any).
class Conv2dImpl : public LayerImpl {
 public:
  /// Validates the options (positive sizes, channels divisible by groups;
  /// modelzoo::Error otherwise) and allocates the parameters per `policy`.
  Conv2dImpl(const Conv2dOptions& options, const InitPolicy& policy);
  /// at::conv2d; checks the channel count of `x`.
  at::Tensor forward(const at::Tensor& x) override;
  /// Python-style description.
  void pretty_print(std::ostream& stream) const override;
  /// The options it was built with.
  const Conv2dOptions& options() const { return options_; }

  at::Tensor weight;  ///< [out_channels, in_channels / groups, kh, kw]
  at::Tensor bias;    ///< [out_channels], undefined without bias

 private:
  Conv2dOptions options_;
};
/// Handle of Conv2dImpl.
TORCH_MODULE(Conv2d);

/// Options of Linear.
struct LinearOptions {
  /// Required: input and output features.
  LinearOptions(int64_t in_features, int64_t out_features)
      : in_features_(in_features), out_features_(out_features) {}
  TORCH_ARG(int64_t, in_features);
  TORCH_ARG(int64_t, out_features);
  TORCH_ARG(bool, bias) = true;
  /// Overrides InitPolicy::linear_weight for this layer.
  TORCH_ARG(c10::optional<ParamInit>, weight_init) = c10::nullopt;
  /// Overrides InitPolicy::linear_bias for this layer.
  TORCH_ARG(c10::optional<ParamInit>, bias_init) = c10::nullopt;
};

/// nn.Linear: parameters `weight` [out, in] and `bias` [out] (if any).
class LinearImpl : public LayerImpl {
 public:
  /// Validates the options and allocates the parameters per `policy`.
  LinearImpl(const LinearOptions& options, const InitPolicy& policy);
  /// at::linear; checks the last dimension of `x`.
  at::Tensor forward(const at::Tensor& x) override;
  /// Python-style description.
  void pretty_print(std::ostream& stream) const override;
  /// The options it was built with.
  const LinearOptions& options() const { return options_; }

  at::Tensor weight;  ///< [out_features, in_features]
  at::Tensor bias;    ///< [out_features], undefined without bias

 private:
  LinearOptions options_;
};
/// Handle of LinearImpl.
TORCH_MODULE(Linear);

/// Options of BatchNorm2d (track_running_stats is always on, as in torchvision).
struct BatchNorm2dOptions {
  /// Required: number of channels.
  /* implicit */ BatchNorm2dOptions(int64_t num_features) : num_features_(num_features) {}
  TORCH_ARG(int64_t, num_features);
  TORCH_ARG(double, eps) = 1e-5;
  /// Running-average factor; nullopt = cumulative average (momentum=None).
  TORCH_ARG(c10::optional<double>, momentum) = 0.1;
  TORCH_ARG(bool, affine) = true;
  /// Overrides InitPolicy::norm_weight for this layer (e.g. ResNet's zero_init_residual).
  TORCH_ARG(c10::optional<ParamInit>, weight_init) = c10::nullopt;
  /// Overrides InitPolicy::norm_bias for this layer.
  TORCH_ARG(c10::optional<ParamInit>, bias_init) = c10::nullopt;
};

/// nn.BatchNorm2d: parameters `weight`, `bias` [C] (if affine); buffers
/// `running_mean` (zeros), `running_var` (ones) [C] and `num_batches_tracked`
/// (int64 scalar 0), in that order. Training mode updates the running
/// statistics as Python does.
class BatchNorm2dImpl : public LayerImpl {
 public:
  /// Validates the options and allocates parameters per `policy`; buffers
  /// always get their defaults.
  BatchNorm2dImpl(const BatchNorm2dOptions& options, const InitPolicy& policy);
  /// at::batch_norm with batch statistics in training mode, running ones in eval.
  at::Tensor forward(const at::Tensor& x) override;
  /// Python-style description.
  void pretty_print(std::ostream& stream) const override;
  /// The options it was built with.
  const BatchNorm2dOptions& options() const { return options_; }

  at::Tensor weight;               ///< [C], undefined unless affine
  at::Tensor bias;                 ///< [C], undefined unless affine
  at::Tensor running_mean;         ///< [C]
  at::Tensor running_var;          ///< [C]
  at::Tensor num_batches_tracked;  ///< int64 scalar

 private:
  BatchNorm2dOptions options_;
};
/// Handle of BatchNorm2dImpl.
TORCH_MODULE(BatchNorm2d);

/// Options of LayerNorm (over the trailing `normalized_shape` dimensions).
struct LayerNormOptions {
  /// Required: the normalised trailing shape.
  /* implicit */ LayerNormOptions(std::vector<int64_t> normalized_shape)
      : normalized_shape_(std::move(normalized_shape)) {}
  TORCH_ARG(std::vector<int64_t>, normalized_shape);
  TORCH_ARG(double, eps) = 1e-5;
  TORCH_ARG(bool, elementwise_affine) = true;
  /// Overrides InitPolicy::norm_weight for this layer.
  TORCH_ARG(c10::optional<ParamInit>, weight_init) = c10::nullopt;
  /// Overrides InitPolicy::norm_bias for this layer.
  TORCH_ARG(c10::optional<ParamInit>, bias_init) = c10::nullopt;
};

/// nn.LayerNorm: parameters `weight`, `bias` of normalized_shape (if elementwise_affine).
class LayerNormImpl : public LayerImpl {
 public:
  /// Validates the options and allocates parameters per `policy`.
  LayerNormImpl(const LayerNormOptions& options, const InitPolicy& policy);
  /// at::layer_norm; checks the trailing shape of `x`.
  at::Tensor forward(const at::Tensor& x) override;
  /// Python-style description.
  void pretty_print(std::ostream& stream) const override;
  /// The options it was built with.
  const LayerNormOptions& options() const { return options_; }

  at::Tensor weight;  ///< normalized_shape, undefined unless elementwise_affine
  at::Tensor bias;    ///< normalized_shape, undefined unless elementwise_affine

 private:
  LayerNormOptions options_;
};
/// Handle of LayerNormImpl.
TORCH_MODULE(LayerNorm);

// ---------------------------------------------------------------------------
// Parameter-free layers
// ---------------------------------------------------------------------------

/// Options of MaxPool2d; stride defaults to kernel_size, as in Python.
struct MaxPool2dOptions {
  /// Required: kernel size (stride set to the same).
  /* implicit */ MaxPool2dOptions(torch::ExpandingArray<2> kernel_size)
      : kernel_size_(kernel_size), stride_(kernel_size) {}
  TORCH_ARG(torch::ExpandingArray<2>, kernel_size);
  TORCH_ARG(torch::ExpandingArray<2>, stride);
  TORCH_ARG(torch::ExpandingArray<2>, padding) = 0;
  TORCH_ARG(torch::ExpandingArray<2>, dilation) = 1;
  TORCH_ARG(bool, ceil_mode) = false;
};

/// nn.MaxPool2d.
class MaxPool2dImpl : public LayerImpl {
 public:
  /// Stores the options.
  explicit MaxPool2dImpl(const MaxPool2dOptions& options)
      : LayerImpl("MaxPool2d"), options_(options) {}
  /// Kernel size only (stride = kernel size), e.g. `MaxPool2d(2)`.
  explicit MaxPool2dImpl(torch::ExpandingArray<2> kernel_size)
      : MaxPool2dImpl(MaxPool2dOptions(kernel_size)) {}
  /// at::max_pool2d.
  at::Tensor forward(const at::Tensor& x) override;
  /// Python-style description.
  void pretty_print(std::ostream& stream) const override;
  /// The options it was built with.
  const MaxPool2dOptions& options() const { return options_; }

 private:
  MaxPool2dOptions options_;
};
/// Handle of MaxPool2dImpl.
TORCH_MODULE(MaxPool2d);

/// Options of AvgPool2d; stride defaults to kernel_size, as in Python.
struct AvgPool2dOptions {
  /// Required: kernel size (stride set to the same).
  /* implicit */ AvgPool2dOptions(torch::ExpandingArray<2> kernel_size)
      : kernel_size_(kernel_size), stride_(kernel_size) {}
  TORCH_ARG(torch::ExpandingArray<2>, kernel_size);
  TORCH_ARG(torch::ExpandingArray<2>, stride);
  TORCH_ARG(torch::ExpandingArray<2>, padding) = 0;
  TORCH_ARG(bool, ceil_mode) = false;
  TORCH_ARG(bool, count_include_pad) = true;
};

/// nn.AvgPool2d.
class AvgPool2dImpl : public LayerImpl {
 public:
  /// Stores the options.
  explicit AvgPool2dImpl(const AvgPool2dOptions& options)
      : LayerImpl("AvgPool2d"), options_(options) {}
  /// Kernel size only (stride = kernel size), e.g. `AvgPool2d(2)`.
  explicit AvgPool2dImpl(torch::ExpandingArray<2> kernel_size)
      : AvgPool2dImpl(AvgPool2dOptions(kernel_size)) {}
  /// at::avg_pool2d.
  at::Tensor forward(const at::Tensor& x) override;
  /// Python-style description.
  void pretty_print(std::ostream& stream) const override;
  /// The options it was built with.
  const AvgPool2dOptions& options() const { return options_; }

 private:
  AvgPool2dOptions options_;
};
/// Handle of AvgPool2dImpl.
TORCH_MODULE(AvgPool2d);

/// nn.AdaptiveAvgPool2d: pools to a fixed output size.
class AdaptiveAvgPool2dImpl : public LayerImpl {
 public:
  /// `output_size`: (h, w) or one value for both.
  explicit AdaptiveAvgPool2dImpl(torch::ExpandingArray<2> output_size)
      : LayerImpl("AdaptiveAvgPool2d"), output_size_(output_size) {}
  /// at::adaptive_avg_pool2d.
  at::Tensor forward(const at::Tensor& x) override;
  /// Python-style description.
  void pretty_print(std::ostream& stream) const override;
  /// The output size.
  const torch::ExpandingArray<2>& output_size() const { return output_size_; }

 private:
  torch::ExpandingArray<2> output_size_;
};
/// Handle of AdaptiveAvgPool2dImpl.
TORCH_MODULE(AdaptiveAvgPool2d);

/// nn.Dropout: active only in training mode.
class DropoutImpl : public LayerImpl {
 public:
  /// `p` in [0, 1]; modelzoo::Error otherwise.
  explicit DropoutImpl(double p = 0.5);
  /// at::dropout(x, p, is_training()).
  at::Tensor forward(const at::Tensor& x) override;
  /// Python-style description.
  void pretty_print(std::ostream& stream) const override;
  /// The drop probability.
  double p() const { return p_; }

 private:
  double p_;
};
/// Handle of DropoutImpl.
TORCH_MODULE(Dropout);

/// nn.Flatten(start_dim, end_dim).
class FlattenImpl : public LayerImpl {
 public:
  /// Flattens dims start_dim..end_dim (Python's defaults: 1, -1).
  explicit FlattenImpl(int64_t start_dim = 1, int64_t end_dim = -1)
      : LayerImpl("Flatten"), start_dim_(start_dim), end_dim_(end_dim) {}
  /// x.flatten(start_dim, end_dim).
  at::Tensor forward(const at::Tensor& x) override;
  /// Python-style description.
  void pretty_print(std::ostream& stream) const override;

 private:
  int64_t start_dim_, end_dim_;
};
/// Handle of FlattenImpl.
TORCH_MODULE(Flatten);

/// nn.GELU; `approximate` is "none" or "tanh".
class GELUImpl : public LayerImpl {
 public:
  /// Throws modelzoo::Error for another `approximate`.
  explicit GELUImpl(std::string approximate = "none");
  /// at::gelu.
  at::Tensor forward(const at::Tensor& x) override;
  /// at::gelu_.
  bool forward_in_place(at::Tensor& x) override;
  /// Python-style description.
  void pretty_print(std::ostream& stream) const override;

 private:
  std::string approximate_;
};
/// Handle of GELUImpl.
TORCH_MODULE(GELU);

/// Declares a parameter-free elementwise layer NameImpl + handle Name.
#define MODELZOO_ELEMENTWISE_LAYER(Name)                  \
  class Name##Impl : public LayerImpl {                   \
   public:                                                \
    /** nn.Name; in place inside a Sequential. */         \
    Name##Impl() : LayerImpl(#Name) {}                    \
    /** Applies the function. */                          \
    at::Tensor forward(const at::Tensor& x) override;     \
    /** Applies the function in place. */                 \
    bool forward_in_place(at::Tensor& x) override;        \
  };                                                      \
  TORCH_MODULE(Name)

/// nn.ReLU.
MODELZOO_ELEMENTWISE_LAYER(ReLU);
/// nn.ReLU6 (hardtanh(x, 0, 6)).
MODELZOO_ELEMENTWISE_LAYER(ReLU6);
/// nn.SiLU.
MODELZOO_ELEMENTWISE_LAYER(SiLU);
/// nn.Hardswish.
MODELZOO_ELEMENTWISE_LAYER(Hardswish);
/// nn.Hardsigmoid.
MODELZOO_ELEMENTWISE_LAYER(Hardsigmoid);
/// nn.Sigmoid.
MODELZOO_ELEMENTWISE_LAYER(Sigmoid);
/// nn.Tanh.
MODELZOO_ELEMENTWISE_LAYER(Tanh);
/// nn.Identity.
MODELZOO_ELEMENTWISE_LAYER(Identity);

#undef MODELZOO_ELEMENTWISE_LAYER

}  // namespace modelzoo::models
