#include "modelzoo/detection/transform.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include <ATen/ATen.h>

#include "modelzoo/error.h"
#include "modelzoo/ops/postprocess.h"

namespace modelzoo::detection {
namespace {

// torchvision's resize_boxes / resize_keypoints ratio: new / old in float32.
at::Tensor ratio(int64_t now, int64_t before) {
  return at::scalar_tensor(static_cast<double>(now), at::kFloat) / at::scalar_tensor(static_cast<double>(before), at::kFloat);
}

}  // namespace

void DetectorImpl::check_inputs(const std::vector<at::Tensor>& images) const {
  if (is_training()) {
    throw Error(name() + ": training is not supported (there are no losses); call eval() before detecting");
  }
  if (images.empty()) throw Error(name() + ": the list of images is empty");
  for (std::size_t i = 0; i < images.size(); ++i) {
    const at::Tensor& im = images[i];
    if (!im.defined() || im.dim() != 3 || im.size(0) != 3 || !im.is_floating_point() || im.size(1) < 1 ||
        im.size(2) < 1) {
      std::ostringstream os;
      os << name() << ": image " << i << " must be a 3 x H x W floating tensor in [0, 1], got ";
      if (im.defined()) {
        os << im.scalar_type() << " " << im.sizes();
      } else {
        os << "an undefined tensor";
      }
      throw Error(os.str());
    }
  }
}

GeneralizedRCNNTransform::GeneralizedRCNNTransform(TransformOptions options) : options_(options) {
  if (options_.min_size < 1 || options_.max_size < 1 || options_.size_divisible < 1) {
    throw Error("GeneralizedRCNNTransform: min_size, max_size and size_divisible must be positive");
  }
  for (double s : options_.image_std) {
    if (!(s > 0)) throw Error("GeneralizedRCNNTransform: image_std values must be > 0");
  }
}

at::Tensor GeneralizedRCNNTransform::normalize_and_resize(const at::Tensor& image) const {
  const auto opts = image.options();
  const at::Tensor mean = at::tensor(std::vector<double>(options_.image_mean.begin(), options_.image_mean.end())).to(opts);
  const at::Tensor stdv = at::tensor(std::vector<double>(options_.image_std.begin(), options_.image_std.end())).to(opts);
  const at::Tensor x = (image - mean.view({-1, 1, 1})) / stdv.view({-1, 1, 1});
  const int64_t h = image.size(-2), w = image.size(-1);
  int64_t oh, ow;
  if (options_.fixed_size) {
    oh = options_.fixed_size->second;
    ow = options_.fixed_size->first;
  } else {
    const float lo = static_cast<float>(std::min(h, w)), hi = static_cast<float>(std::max(h, w));
    // torchvision computes `self.min_size / min_size` with a float32 tensor on
    // the right, which PyTorch evaluates as reciprocal(min_size) * self.min_size:
    // 800 / 480 is then 1.66666675 (not 1.66666663) and 480 px become 800, not 799.
    const float scale = std::min((1.0f / lo) * static_cast<float>(options_.min_size),
                                 (1.0f / hi) * static_cast<float>(options_.max_size));
    oh = static_cast<int64_t>(std::floor(static_cast<double>(h) * static_cast<double>(scale)));
    ow = static_cast<int64_t>(std::floor(static_cast<double>(w) * static_cast<double>(scale)));
  }
  return at::upsample_bilinear2d(x.unsqueeze(0), {oh, ow}, false, c10::nullopt, c10::nullopt)[0];
}

ImageList GeneralizedRCNNTransform::operator()(const std::vector<at::Tensor>& images) const {
  ImageList out;
  std::vector<at::Tensor> resized;
  int64_t c = 0, mh = 0, mw = 0;
  for (const auto& im : images) {
    resized.push_back(normalize_and_resize(im));
    const at::Tensor& r = resized.back();
    out.image_sizes.emplace_back(r.size(1), r.size(2));
    c = std::max(c, r.size(0));
    mh = std::max(mh, r.size(1));
    mw = std::max(mw, r.size(2));
  }
  const double stride = static_cast<double>(options_.size_divisible);
  mh = static_cast<int64_t>(std::ceil(static_cast<double>(mh) / stride) * stride);
  mw = static_cast<int64_t>(std::ceil(static_cast<double>(mw) / stride) * stride);
  out.tensors = at::zeros({static_cast<int64_t>(images.size()), c, mh, mw}, resized[0].options());
  for (std::size_t i = 0; i < resized.size(); ++i) {
    const at::Tensor& r = resized[i];
    out.tensors[static_cast<int64_t>(i)].narrow(0, 0, r.size(0)).narrow(1, 0, r.size(1)).narrow(2, 0, r.size(2)).copy_(r);
  }
  return out;
}

void GeneralizedRCNNTransform::postprocess(std::vector<Detection>& detections,
                                           const std::vector<std::pair<int64_t, int64_t>>& resized,
                                           const std::vector<std::pair<int64_t, int64_t>>& original) const {
  for (std::size_t i = 0; i < detections.size(); ++i) {
    Detection& d = detections[i];
    const at::Tensor rh = ratio(original[i].first, resized[i].first);
    const at::Tensor rw = ratio(original[i].second, resized[i].second);
    auto u = d.boxes.unbind(1);
    d.boxes = at::stack({u[0] * rw, u[1] * rh, u[2] * rw, u[3] * rh}, 1);
    if (d.masks.defined()) d.masks = ops::paste_masks_in_image(d.masks, d.boxes, original[i]);
    if (d.keypoints.defined()) {
      at::Tensor k = d.keypoints.clone();
      k.select(-1, 0).mul_(rw);
      k.select(-1, 1).mul_(rh);
      d.keypoints = k;
    }
  }
}

}  // namespace modelzoo::detection
