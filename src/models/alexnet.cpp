#include "modelzoo/models/alexnet.h"

#include <sstream>

#include "models/arch_extra.h"
#include "modelzoo/error.h"

namespace modelzoo::models {

AlexNetImpl::AlexNetImpl(const AlexNetOptions& o) : options_(o) {
  if (o.num_classes() < 1) {
    throw Error("AlexNet: num_classes must be at least 1, got " + std::to_string(o.num_classes()));
  }
  if (!(o.dropout() >= 0.0 && o.dropout() <= 1.0)) {
    throw Error("AlexNet: dropout must be in [0, 1], got " + std::to_string(o.dropout()));
  }
  // torchvision's AlexNet keeps torch.nn's construction-time initialisation.
  const InitPolicy init = InitPolicy::torch_default(o.init_weights());

  Sequential f;
  f->push_back(Conv2d(Conv2dOptions(3, 64, 11).stride(4).padding(2), init));  // 0
  f->push_back(ReLU());
  f->push_back(MaxPool2d(MaxPool2dOptions(3).stride(2)));
  f->push_back(Conv2d(Conv2dOptions(64, 192, 5).padding(2), init));  // 3
  f->push_back(ReLU());
  f->push_back(MaxPool2d(MaxPool2dOptions(3).stride(2)));
  f->push_back(Conv2d(Conv2dOptions(192, 384, 3).padding(1), init));  // 6
  f->push_back(ReLU());
  f->push_back(Conv2d(Conv2dOptions(384, 256, 3).padding(1), init));  // 8
  f->push_back(ReLU());
  f->push_back(Conv2d(Conv2dOptions(256, 256, 3).padding(1), init));  // 10
  f->push_back(ReLU());
  f->push_back(MaxPool2d(MaxPool2dOptions(3).stride(2)));
  features = register_module("features", f);
  avgpool = register_module("avgpool", AdaptiveAvgPool2d(6));
  Sequential c;
  c->push_back(Dropout(o.dropout()));
  c->push_back(Linear(LinearOptions(256 * 6 * 6, 4096), init));  // 1
  c->push_back(ReLU());
  c->push_back(Dropout(o.dropout()));
  c->push_back(Linear(LinearOptions(4096, 4096), init));  // 4
  c->push_back(ReLU());
  c->push_back(Linear(LinearOptions(4096, o.num_classes()), init));  // 6
  classifier = register_module("classifier", c);
}

at::Tensor AlexNetImpl::forward(at::Tensor x) {
  if (x.dim() != 4 || x.size(2) < 63 || x.size(3) < 63) {
    std::ostringstream os;
    os << "AlexNet: expected input of shape N x 3 x H x W with H, W >= 63, got " << x.sizes();
    throw Error(os.str());
  }
  x = features->forward(x);
  x = avgpool->forward(x).flatten(1);
  return classifier->forward(x);
}

AlexNet alexnet(const ArchArgs& args) {
  check_extra_keys(args, "alexnet", {"dropout", "image_size"});
  detail::extra_int(args, "alexnet", "image_size", 224);  // validated, otherwise unused
  return AlexNet(AlexNetOptions()
                     .num_classes(args.num_classes)
                     .dropout(extra_number(args, "alexnet", "dropout", 0.5))
                     .init_weights(args.init_weights));
}

}  // namespace modelzoo::models
