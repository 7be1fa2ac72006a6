// The Winograd kernels (src/inference/winograd.h) against ATen's convolution
// in float64: odd sizes (partial tiles), padding 0 to 2, input channels that
// are not a multiple of 8, output channels that leave a part strip (8, 16
// or 24 of AVX-512's 32), batches, the fused ReLU, one and two threads, the
// AVX2 products and, where the CPU has it, the AVX-512 ones; and the errors
// for what they do not take. On a CPU without AVX2 and FMA the
// kernels refuse to run, which is checked instead.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "inference/winograd.h"

namespace wg = modelzoo::winograd;

namespace {

struct Shape {
  int64_t n, in, out, h, w, pad;
};

// y = conv(x) by Winograd for x NCHW; y NCHW.
at::Tensor winograd_conv(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, int64_t pad,
                         bool relu, int threads, wg::Isa isa = wg::best_isa()) {
  const wg::Filter f(weight.contiguous().data_ptr<float>(), bias.defined() ? bias.data_ptr<float>() : nullptr,
                     weight.size(0), weight.size(1), isa);
  EXPECT_EQ(f.isa(), isa);
  const at::Tensor xc = x.contiguous(at::MemoryFormat::ChannelsLast);
  const int64_t oh = x.size(2) + 2 * pad - 2, ow = x.size(3) + 2 * pad - 2;
  at::Tensor y = at::empty({x.size(0), weight.size(0), oh, ow},
                           x.options().memory_format(at::MemoryFormat::ChannelsLast))
                     .fill_(std::nanf(""));
  wg::convolve(f, xc.data_ptr<float>(), x.size(0), x.size(2), x.size(3), pad, pad, y.data_ptr<float>(), relu,
               threads);
  return y;
}

// The products' instruction sets this CPU runs.
std::vector<wg::Isa> isas() {
  if (wg::best_isa() == wg::Isa::avx512) return {wg::Isa::avx2, wg::Isa::avx512};
  return {wg::Isa::avx2};
}

}  // namespace

TEST(Winograd, MatchesTheDirectConvolutionInFloat64) {
  if (!wg::supported()) GTEST_SKIP() << "this CPU has no AVX2 and FMA (the kernels refuse to run)";
  at::manual_seed(11);
  const std::vector<Shape> shapes = {
      {1, 16, 8, 5, 7, 1},    {3, 13, 24, 9, 6, 1},  {2, 64, 64, 9, 6, 0},  {1, 32, 40, 3, 3, 2},
      {1, 3, 16, 11, 4, 1},   {1, 128, 64, 1, 1, 1}, {2, 72, 136, 17, 13, 1}, {1, 256, 512, 14, 11, 1},
      {1, 64, 128, 56, 56, 1}, {2, 40, 56, 7, 9, 1}};
  for (const Shape& s : shapes) {
    const at::Tensor x = at::randn({s.n, s.in, s.h, s.w});
    const at::Tensor weight = at::randn({s.out, s.in, 3, 3}) / std::sqrt(9.0 * static_cast<double>(s.in));
    const at::Tensor bias = at::randn({s.out});
    const at::Tensor exact =
        at::conv2d(x.to(at::kDouble), weight.to(at::kDouble), bias.to(at::kDouble), 1, s.pad).to(at::kFloat);
    const double scale = exact.abs().max().item<double>();
    for (const wg::Isa isa : isas()) {
      for (const bool relu : {false, true}) {
        for (const int threads : {1, 2}) {
          const at::Tensor expected = relu ? exact.clamp_min(0) : exact;
          const at::Tensor y = winograd_conv(x, weight, bias, s.pad, relu, threads, isa);
          const std::string what = "input " + std::to_string(s.n) + "x" + std::to_string(s.in) + "x" +
                                   std::to_string(s.h) + "x" + std::to_string(s.w) + " -> " +
                                   std::to_string(s.out) + ", padding " + std::to_string(s.pad) +
                                   (relu ? ", ReLU" : "") + ", " + std::to_string(threads) + " thread(s), " +
                                   (isa == wg::Isa::avx512 ? "AVX-512" : "AVX2");
          ASSERT_EQ(y.sizes(), expected.sizes()) << what;
          ASSERT_FALSE(y.isnan().any().item<bool>()) << what << ": an output was not written";
          // As close as the direct float32 convolution (see winograd.h).
          EXPECT_LE((y - expected).abs().max().item<double>(), 2e-6 * scale) << what;
        }
      }
    }
  }
}

TEST(Winograd, WithoutBiasTheOutputIsTheConvolutionAlone) {
  if (!wg::supported()) GTEST_SKIP() << "this CPU has no AVX2 and FMA";
  at::manual_seed(12);
  const at::Tensor x = at::randn({1, 24, 10, 10});
  const at::Tensor weight = at::randn({16, 24, 3, 3}) / 15.0;
  const at::Tensor exact = at::conv2d(x.to(at::kDouble), weight.to(at::kDouble), {}, 1, 1).to(at::kFloat);
  for (const wg::Isa isa : isas()) {
    const at::Tensor y = winograd_conv(x, weight, at::Tensor(), 1, false, 1, isa);
    EXPECT_LE((y - exact).abs().max().item<double>(), 2e-6 * exact.abs().max().item<double>());
  }
}

TEST(Winograd, RefusesWhatItDoesNotTake) {
  const std::vector<float> weight(12 * 16 * 9, 0.5f);
  try {
    wg::Filter f(weight.data(), nullptr, 12, 16);
    FAIL() << "12 output channels were taken";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("12 output channels"), std::string::npos) << e.what();
  }
  if (wg::best_isa() == wg::Isa::avx2) {
    EXPECT_THROW(wg::Filter(weight.data(), nullptr, 8, 16, wg::Isa::avx512), std::invalid_argument);
  }
  const wg::Filter f(weight.data(), nullptr, 8, 16);
  EXPECT_EQ(f.out_channels(), 8);
  EXPECT_EQ(f.in_channels(), 16);
  EXPECT_EQ(f.bytes(), 16u * 16u * 8u * sizeof(float));  // 16 positions x 16 inputs x 8 outputs
  std::vector<float> x(16 * 4 * 4), y(8 * 4 * 4);
  if (!wg::supported()) {
    EXPECT_THROW(wg::convolve(f, x.data(), 1, 4, 4, 1, 1, y.data(), false, 1), std::runtime_error);
    return;
  }
  try {
    wg::convolve(f, x.data(), 1, 4, 4, 3, 1, y.data(), false, 1);
    FAIL() << "padding 3 was taken";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("padding 3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(wg::convolve(f, x.data(), 1, 2, 2, 0, 0, y.data(), false, 1), std::invalid_argument);
}
