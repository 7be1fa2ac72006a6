#include "modelzoo/models/attention.h"

#include <ATen/ops/matmul.h>

namespace modelzoo::models {

at::Tensor attention_matmul(const LayerImpl& layer, const at::Tensor& a, const at::Tensor& b) {
  if (!layer.is_training()) {
    if (auto* kernel = dynamic_cast<AttentionMatmulKernel*>(layer.inference_kernel().get())) {
      if (at::Tensor y = kernel->matmul(a, b); y.defined()) return y;
    }
  }
  return at::matmul(a, b);
}

}  // namespace modelzoo::models
