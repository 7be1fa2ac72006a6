#pragma once
/// \file
/// Reading a classifier's output as labels: the k most likely classes of
/// each row, with their names from the weights' categories.

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace modelzoo::transforms {

/// One class of a prediction.
struct Prediction {
  int64_t index = 0;        ///< class index (logit index)
  std::string label;        ///< categories[index], or "class <index>" when unknown
  double probability = 0;   ///< softmax probability (or the given probability)
};

/// What the scores passed to topk() are.
enum class Scores {
  Logits,        ///< raw model output: softmax is applied (in float64)
  Probabilities  ///< already probabilities: used as given
};

/// The `k` highest-scoring classes of every row of `scores` (N x C, or a
/// single row of C), best first; ties keep the lower index first. `k` is
/// capped at C. `categories` names the classes: empty (unknown) or exactly C
/// names, else Error.
std::vector<std::vector<Prediction>> topk(const at::Tensor& scores, const std::vector<std::string>& categories,
                                          int64_t k = 5, Scores kind = Scores::Logits);

}  // namespace modelzoo::transforms
