#pragma once
// Winograd convolution F(2 x 2, 3 x 3) for 3 x 3 layers of unit stride on
// channels-last (NHWC) float activations, with AVX2 and FMA, its matrix
// products on AVX-512 where the CPU has it (LibTorch's oneDNN path runs
// only the direct convolution). It does 4 multiplications per output and
// input channel where the direct convolution does 9, and its transformed
// weight is 16/9 of the original.
//
// Each image is cut into 2 x 2 output tiles. A tile's 4 x 4 input patch is
// transformed (B^T d B), the weights once at construction (G g G^T), and for
// each of the 16 transformed positions the tiles times the weights is one
// matrix product over the input channels; the output transform (A^T M A)
// adds the bias and, when asked, applies a ReLU. Tiles go through in chunks
// whose transformed data stays in the caches.
//
// Accuracy: F(2 x 2, 3 x 3) is as close to the exact result as the direct
// convolution (relative max error 3e-7 to 7e-7 for 3 to 512 input channels,
// against float64). F(4 x 4, 3 x 3), 2.25 multiplications and a weight 4
// times the original, was 1.6 to 2.5 times faster still but 10 to 30 times
// less accurate (5e-6 to 1.7e-5): inception_v3 with random weights then
// differed from torchvision by 2.5e-4 of its output scale, three times
// torchvision's own float32 error; it is not used.
//
// No LibTorch here: plain float buffers, so the kernels compile without its
// headers and are tested against ATen's convolution by the inference tests.

#include <cstddef>
#include <cstdint>
#include <memory>

namespace modelzoo::winograd {

// Whether this CPU runs the kernels (AVX2 and FMA).
bool supported();

// The instructions of the matrix products (the transforms are AVX2 on both).
enum class Isa { avx2, avx512 };
// AVX-512 where the CPU has it (AVX-512F), else AVX2.
Isa best_isa();

// A 3 x 3 convolution's weight and bias, transformed.
class Filter {
 public:
  // weight: out_channels x in_channels x 3 x 3, contiguous; bias: out_channels
  // values or null. out_channels a multiple of 8; std::invalid_argument
  // otherwise, and for an isa this CPU lacks.
  Filter(const float* weight, const float* bias, int64_t out_channels, int64_t in_channels,
         Isa isa = best_isa());

  int64_t out_channels() const { return oc_; }
  int64_t in_channels() const { return ic_; }
  Isa isa() const { return isa_; }
  // Bytes of the transformed weight.
  std::size_t bytes() const;

 private:
  friend void convolve(const Filter&, const float*, int64_t, int64_t, int64_t, int64_t, int64_t, float*, bool,
                       int);
  struct Free {
    void operator()(float* p) const;
  };
  int64_t oc_, ic_, ic8_;  // ic8_: in_channels rounded up to a multiple of 8
  Isa isa_;                // of the products
  // [16 positions][out-channel strips of 16, or 32 with AVX-512 (the last
  // may be narrower, a multiple of 8)][ic8_][strip width]
  std::unique_ptr<float[], Free> u_;
  std::unique_ptr<float[], Free> bias_;  // out_channels, zeros without a bias
};

// y = conv(x) with the filter, padding (pad_h, pad_w) (each 0, 1 or 2),
// stride 1, for x N x H x W x in_channels and y N x OH x OW x out_channels,
// both contiguous (NHWC), OH = H + 2 pad_h - 2, OW = W + 2 pad_w - 2 (each
// at least 1). relu: max(y, 0) on the way out. threads: OpenMP threads over
// the chunks of tiles (1: the caller's thread only).
void convolve(const Filter& f, const float* x, int64_t n, int64_t h, int64_t w, int64_t pad_h, int64_t pad_w,
              float* y, bool relu, int threads);

}  // namespace modelzoo::winograd
