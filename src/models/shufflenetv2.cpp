#include "modelzoo/models/shufflenetv2.h"

#include <string>
#include <vector>

#include <ATen/ops/cat.h>

#include "modelzoo/error.h"

namespace modelzoo::models {
namespace {

// nn.Conv2d(i, o, kernel_size, stride, padding, bias=False, groups=i).
Conv2d depthwise_conv(int64_t i, int64_t o, int64_t kernel, int64_t stride, int64_t padding,
                      const InitPolicy& init) {
  return Conv2d(Conv2dOptions(i, o, kernel).stride(stride).padding(padding).groups(i).bias(false), init);
}

Conv2d pointwise_conv(int64_t i, int64_t o, const InitPolicy& init) {
  return Conv2d(Conv2dOptions(i, o, 1).bias(false), init);
}

std::string join(const int64_t* values, std::size_t n) {
  std::string s = "[";
  for (std::size_t i = 0; i < n; ++i) s += (i ? ", " : "") + std::to_string(values[i]);
  return s + "]";
}

ShuffleNetV2 make(const std::string& arch, ShuffleNetV2Channels channels, const ArchArgs& args) {
  check_extra_keys(args, arch, {"image_size"});
  return ShuffleNetV2(ShuffleNetV2Options({4, 8, 4}, channels)
                          .num_classes(args.num_classes)
                          .init_weights(args.init_weights));
}

}  // namespace

at::Tensor channel_shuffle(const at::Tensor& x, int64_t groups) {
  if (x.dim() != 4 || groups < 1 || x.size(1) % groups != 0) {
    std::string shape;
    for (int64_t d = 0; d < x.dim(); ++d) shape += (d ? ", " : "") + std::to_string(x.size(d));
    throw Error("channel_shuffle: expected an N x C x H x W input with C divisible by groups (" +
                std::to_string(groups) + "), got shape [" + shape + "]");
  }
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  return x.view({n, groups, c / groups, h, w}).transpose(1, 2).contiguous().view({n, -1, h, w});
}

ShuffleNetV2InvertedResidualImpl::ShuffleNetV2InvertedResidualImpl(int64_t inp, int64_t oup,
                                                                   int64_t stride,
                                                                   const InitPolicy& init)
    : LayerImpl("InvertedResidual"), stride_(stride) {
  if (stride < 1 || stride > 3) {
    throw Error("ShuffleNetV2 InvertedResidual: illegal stride " + std::to_string(stride) +
                " (expected 1, 2 or 3)");
  }
  if (inp < 1 || oup < 2) {
    throw Error("ShuffleNetV2 InvertedResidual: expected inp >= 1 and oup >= 2, got inp=" +
                std::to_string(inp) + " oup=" + std::to_string(oup));
  }
  const int64_t bf = oup / 2;
  if (stride == 1 && inp != bf * 2) {
    throw Error("ShuffleNetV2 InvertedResidual: invalid combination of stride 1, inp " +
                std::to_string(inp) + " and oup " + std::to_string(oup) +
                " (with stride 1, inp must equal oup // 2 * 2)");
  }
  Sequential b1;
  if (stride > 1) {
    b1->push_back(depthwise_conv(inp, inp, 3, stride, 1, init));
    b1->push_back(BatchNorm2d(BatchNorm2dOptions(inp), init));
    b1->push_back(pointwise_conv(inp, bf, init));
    b1->push_back(BatchNorm2d(BatchNorm2dOptions(bf), init));
    b1->push_back(ReLU());
  }
  branch1 = register_module("branch1", b1);
  Sequential b2;
  b2->push_back(pointwise_conv(stride > 1 ? inp : bf, bf, init));
  b2->push_back(BatchNorm2d(BatchNorm2dOptions(bf), init));
  b2->push_back(ReLU());
  b2->push_back(depthwise_conv(bf, bf, 3, stride, 1, init));
  b2->push_back(BatchNorm2d(BatchNorm2dOptions(bf), init));
  b2->push_back(pointwise_conv(bf, bf, init));
  b2->push_back(BatchNorm2d(BatchNorm2dOptions(bf), init));
  b2->push_back(ReLU());
  branch2 = register_module("branch2", b2);
}

at::Tensor ShuffleNetV2InvertedResidualImpl::forward(const at::Tensor& x) {
  at::Tensor out;
  if (stride_ == 1) {
    const std::vector<at::Tensor> halves = x.chunk(2, 1);
    out = at::cat({halves[0], branch2->forward(halves[1])}, 1);
  } else {
    out = at::cat({branch1->forward(x), branch2->forward(x)}, 1);
  }
  return models::channel_shuffle(out, 2);
}

ShuffleNetV2Impl::ShuffleNetV2Impl(const ShuffleNetV2Options& o) : options_(o) {
  const auto& repeats = o.stages_repeats();
  const auto& channels = o.stages_out_channels();
  for (int64_t r : repeats) {
    if (r < 1) {
      throw Error("ShuffleNetV2: stages_repeats must be positive, got " +
                  join(repeats.data(), repeats.size()));
    }
  }
  for (std::size_t i = 0; i < channels.size(); ++i) {
    if (channels[i] < 1 || (i >= 1 && i <= 3 && channels[i] % 2 != 0)) {
      throw Error("ShuffleNetV2: stages_out_channels must be positive, with even stage channels, got " +
                  join(channels.data(), channels.size()));
    }
  }
  if (o.num_classes() < 1) {
    throw Error("ShuffleNetV2: num_classes must be at least 1, got " + std::to_string(o.num_classes()));
  }
  // torchvision does not re-initialise: torch.nn's defaults everywhere.
  const InitPolicy init = InitPolicy::torch_default(o.init_weights());

  int64_t input_channels = 3;
  int64_t output_channels = channels[0];
  Sequential stem;
  stem->push_back(Conv2d(Conv2dOptions(input_channels, output_channels, 3).stride(2).padding(1).bias(false),
                         init));
  stem->push_back(BatchNorm2d(BatchNorm2dOptions(output_channels), init));
  stem->push_back(ReLU());
  conv1 = register_module("conv1", stem);
  input_channels = output_channels;

  maxpool = register_module("maxpool", MaxPool2d(MaxPool2dOptions(3).stride(2).padding(1)));

  Sequential* stages[3] = {&stage2, &stage3, &stage4};
  const char* names[3] = {"stage2", "stage3", "stage4"};
  for (std::size_t s = 0; s < 3; ++s) {
    output_channels = channels[s + 1];
    Sequential seq;
    seq->push_back(ShuffleNetV2InvertedResidual(input_channels, output_channels, 2, init));
    for (int64_t i = 1; i < repeats[s]; ++i) {
      seq->push_back(ShuffleNetV2InvertedResidual(output_channels, output_channels, 1, init));
    }
    *stages[s] = register_module(names[s], seq);
    input_channels = output_channels;
  }

  output_channels = channels[4];
  Sequential last;
  last->push_back(Conv2d(Conv2dOptions(input_channels, output_channels, 1).bias(false), init));
  last->push_back(BatchNorm2d(BatchNorm2dOptions(output_channels), init));
  last->push_back(ReLU());
  conv5 = register_module("conv5", last);

  fc = register_module("fc", Linear(LinearOptions(output_channels, o.num_classes()), init));
}

at::Tensor ShuffleNetV2Impl::forward(at::Tensor x) {
  x = conv1->forward(x);
  x = maxpool->forward(x);
  x = stage2->forward(x);
  x = stage3->forward(x);
  x = stage4->forward(x);
  x = conv5->forward(x);
  x = x.mean(at::IntArrayRef{2, 3});
  return fc->forward(x);
}

ShuffleNetV2 shufflenet_v2_x0_5(const ArchArgs& args) {
  return make("shufflenet_v2_x0_5", {24, 48, 96, 192, 1024}, args);
}
ShuffleNetV2 shufflenet_v2_x1_0(const ArchArgs& args) {
  return make("shufflenet_v2_x1_0", {24, 116, 232, 464, 1024}, args);
}
ShuffleNetV2 shufflenet_v2_x1_5(const ArchArgs& args) {
  return make("shufflenet_v2_x1_5", {24, 176, 352, 704, 1024}, args);
}
ShuffleNetV2 shufflenet_v2_x2_0(const ArchArgs& args) {
  return make("shufflenet_v2_x2_0", {24, 244, 488, 976, 2048}, args);
}

}  // namespace modelzoo::models
