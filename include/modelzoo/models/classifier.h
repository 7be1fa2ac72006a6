#pragma once
/// \file
/// The common base of every image classifier, so that get_model() can hand
/// back a model whose forward(images) -> logits works without the caller
/// knowing its concrete type.

#include <memory>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace modelzoo::models {

/// Base of all classifiers: forward(N x 3 x H x W) -> N x num_classes logits.
class ClassifierImpl : public torch::nn::Module {
 public:
  /// Logits for a batch of images (already preprocessed).
  virtual at::Tensor forward(at::Tensor x) = 0;
};

/// A shared handle to any classifier (`model->forward(x)`, `model->eval()`).
class Classifier : public torch::nn::ModuleHolder<ClassifierImpl> {
 public:
  /// Wraps an existing module.
  Classifier(std::shared_ptr<ClassifierImpl> impl)  // NOLINT(google-explicit-constructor)
      : ModuleHolder(std::move(impl)) {}
  /// An empty handle.
  Classifier(std::nullptr_t) : ModuleHolder(nullptr) {}  // NOLINT
};

}  // namespace modelzoo::models
