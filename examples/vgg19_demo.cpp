// vgg19_demo: the first-use and warm-cache path of a pretrained model.
//
//   modelzoo::vgg19(true) resolves vgg19's default weights in the registry,
//   finds them in the cache or downloads and verifies them, reads them, builds
//   the network and loads the weights; then one forward pass runs.
//
// Everything comes from the environment as any program would see it
// (MODELZOO_REGISTRY, MODELZOO_CACHE, MODELZOO_OFFLINE, ...).

#include <chrono>
#include <cstdio>
#include <iostream>

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <modelzoo/modelzoo.h>

int main() {
  try {
    modelzoo::LoadTrace trace;
    modelzoo::HubOptions options = modelzoo::HubOptions::from_env();
    options.trace = &trace;

    auto model = modelzoo::vgg19(/*pretrained=*/true, options);

    at::manual_seed(0);
    const at::Tensor input = at::randn({1, 3, 224, 224});
    const auto t0 = std::chrono::steady_clock::now();
    at::Tensor logits;
    {
      c10::NoGradGuard no_grad;
      logits = model->forward(input);
    }
    const double forward_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

    const auto* entry = modelzoo::resolve_weights_entry("vgg19", modelzoo::Weights::default_weights(), options);
    std::printf("model      vgg19 (%s)\n", entry ? entry->tag.c_str() : "?");
    std::printf("weights    %s\n", trace.file.string().c_str());
    std::printf("source     %s\n", trace.downloaded ? trace.source_url.c_str() : "cache (no network request)");
    std::printf("tensors    %zu\n", trace.tensors);
    std::printf("timings    resolve %.1f ms | fetch %.1f ms | read %.1f ms | build %.1f ms | load %.1f ms"
                " | total %.1f ms | forward %.1f ms\n",
                trace.resolve_ms, trace.fetch_ms, trace.read_ms, trace.build_ms, trace.load_ms, trace.total_ms,
                forward_ms);
    const auto top = logits.softmax(1).topk(3);
    const auto values = std::get<0>(top)[0];
    const auto indices = std::get<1>(top)[0];
    std::printf("logits     shape [%lld, %lld]; top-3 of a random input:",
                static_cast<long long>(logits.size(0)), static_cast<long long>(logits.size(1)));
    for (int i = 0; i < 3; ++i) {
      const int64_t idx = indices[i].item<int64_t>();
      const std::string label = entry && idx < static_cast<int64_t>(entry->categories.size())
                                    ? entry->categories[idx]
                                    : std::to_string(idx);
      std::printf("  %s (%.4f)", label.c_str(), values[i].item<float>());
    }
    std::printf("\n");
    return 0;
  } catch (const modelzoo::Error& e) {
    std::cerr << "vgg19_demo: " << e.what() << "\n";
    return 1;
  }
}
