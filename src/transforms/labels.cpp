#include "modelzoo/transforms/labels.h"

#include <algorithm>
#include <numeric>

#include <ATen/ATen.h>

#include "modelzoo/error.h"

namespace modelzoo::transforms {

std::vector<std::vector<Prediction>> topk(const at::Tensor& scores, const std::vector<std::string>& categories,
                                          int64_t k, Scores kind) {
  if (scores.dim() != 1 && scores.dim() != 2) {
    throw Error("topk: expected scores of shape N x C or C, got a tensor with " + std::to_string(scores.dim()) +
                " dimensions");
  }
  if (!scores.is_floating_point()) throw Error("topk: expected floating-point scores");
  if (k <= 0) throw Error("topk: k must be positive, got " + std::to_string(k));
  at::Tensor s = scores.dim() == 1 ? scores.unsqueeze(0) : scores;
  const int64_t rows = s.size(0), classes = s.size(1);
  if (classes == 0) throw Error("topk: scores have no classes");
  if (!categories.empty() && static_cast<int64_t>(categories.size()) != classes) {
    throw Error("topk: " + std::to_string(categories.size()) + " category names for " + std::to_string(classes) +
                " classes");
  }
  s = s.detach().to(at::kCPU).to(at::kDouble);
  if (at::isnan(s).any().item<bool>()) throw Error("topk: scores contain NaN");
  if (kind == Scores::Logits) s = at::softmax(s, 1);
  s = s.contiguous();
  k = std::min(k, classes);
  std::vector<std::vector<Prediction>> out(static_cast<std::size_t>(rows));
  std::vector<int64_t> order(static_cast<std::size_t>(classes));
  for (int64_t r = 0; r < rows; ++r) {
    const double* p = s.data_ptr<double>() + r * classes;
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [p](int64_t a, int64_t b) {
      return p[a] > p[b] || (p[a] == p[b] && a < b);
    });
    auto& row = out[static_cast<std::size_t>(r)];
    for (int64_t i = 0; i < k; ++i) {
      const int64_t c = order[static_cast<std::size_t>(i)];
      row.push_back({c, categories.empty() ? "class " + std::to_string(c) : categories[static_cast<std::size_t>(c)],
                     p[c]});
    }
  }
  return out;
}

}  // namespace modelzoo::transforms
