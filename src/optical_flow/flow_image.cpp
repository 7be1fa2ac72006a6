#include "modelzoo/optical_flow/flow_image.h"

#include <cmath>
#include <limits>
#include <string>

#include <ATen/ATen.h>

#include "modelzoo/error.h"

namespace modelzoo::optical_flow {

at::Tensor make_colorwheel() {
  const int64_t RY = 15, YG = 6, GC = 4, CB = 11, BM = 13, MR = 6;
  const int64_t ncols = RY + YG + GC + CB + BM + MR;
  at::Tensor w = at::zeros({ncols, 3});
  auto ramp = [](int64_t n) { return at::floor(255 * at::arange(n).to(at::kFloat) / n); };
  int64_t col = 0;
  w.narrow(0, col, RY).select(1, 0).fill_(255);
  w.narrow(0, col, RY).select(1, 1).copy_(ramp(RY));
  col += RY;
  w.narrow(0, col, YG).select(1, 0).copy_(255 - ramp(YG));
  w.narrow(0, col, YG).select(1, 1).fill_(255);
  col += YG;
  w.narrow(0, col, GC).select(1, 1).fill_(255);
  w.narrow(0, col, GC).select(1, 2).copy_(ramp(GC));
  col += GC;
  w.narrow(0, col, CB).select(1, 1).copy_(255 - ramp(CB));
  w.narrow(0, col, CB).select(1, 2).fill_(255);
  col += CB;
  w.narrow(0, col, BM).select(1, 2).fill_(255);
  w.narrow(0, col, BM).select(1, 0).copy_(ramp(BM));
  col += BM;
  w.narrow(0, col, MR).select(1, 2).copy_(255 - ramp(MR));
  w.narrow(0, col, MR).select(1, 0).fill_(255);
  return w;
}

at::Tensor flow_to_image(const at::Tensor& flow_in) {
  if (flow_in.scalar_type() != at::kFloat) {
    throw Error("flow_to_image: expected a float32 flow, got " + std::string(c10::toString(flow_in.scalar_type())));
  }
  const bool single = flow_in.dim() == 3;
  const at::Tensor flow = single ? flow_in.unsqueeze(0) : flow_in;
  if (flow.dim() != 4 || flow.size(1) != 2) {
    std::string shape;
    for (int64_t i = 0; i < flow_in.dim(); ++i) shape += (i ? " x " : "") + std::to_string(flow_in.size(i));
    throw Error("flow_to_image: expected a 2 x H x W or N x 2 x H x W flow, got " + shape);
  }
  const at::Tensor max_norm = flow.pow(2).sum(1).sqrt().max();
  const at::Tensor nf = flow / (max_norm + std::numeric_limits<float>::epsilon());
  const at::Tensor wheel = make_colorwheel();
  const int64_t num_cols = wheel.size(0);
  const at::Tensor norm = nf.pow(2).sum(1).sqrt();
  const at::Tensor a = at::atan2(-nf.select(1, 1), -nf.select(1, 0)) / M_PI;
  const at::Tensor fk = (a + 1) / 2 * (num_cols - 1);
  const at::Tensor k0 = at::floor(fk).to(at::kLong);
  at::Tensor k1 = k0 + 1;
  k1.masked_fill_(k1 == num_cols, 0);
  const at::Tensor f = fk - k0;
  std::vector<at::Tensor> channels;
  for (int64_t c = 0; c < 3; ++c) {
    const at::Tensor tmp = wheel.select(1, c);
    const at::Tensor col0 = tmp.index({k0}) / 255.0;
    const at::Tensor col1 = tmp.index({k1}) / 255.0;
    at::Tensor col = (1 - f) * col0 + f * col1;
    col = 1 - norm * (1 - col);
    channels.push_back(at::floor(255 * col).to(at::kByte));
  }
  const at::Tensor img = at::stack(channels, 1);
  return single ? img[0] : img;
}

}  // namespace modelzoo::optical_flow
