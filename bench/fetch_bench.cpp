// fetch_bench CACHE_DIR URL SHA256 SIZE [N]: the cost of a cache hit. Fetches
// URL into CACHE_DIR once (a download unless it is cached already), then asks
// for the same file N more times (default 1000) and prints one JSON line:
// {"first_s":…, "downloaded":…, "hit_us_median":…, "hit_us_p99":…, "hit_us_max":…}.
// A hit is a stat of the file and of its stamp, no rehash; the numbers say so.

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <vector>

#include <nlohmann/json.hpp>

#include <modelzoo/cache/cache.h>
#include <modelzoo/fetch/fetch.h>

int main(int argc, char** argv) {
  if (argc < 5) {
    std::cerr << "usage: fetch_bench CACHE_DIR URL SHA256 SIZE [N]\n";
    return 2;
  }
  using Clock = std::chrono::steady_clock;
  try {
    const modelzoo::cache::Cache cache(modelzoo::cache::CacheOptions{argv[1], {}});
    modelzoo::fetch::FetchRequest req;
    req.url = argv[2];
    req.expect.sha256 = argv[3];
    req.expect.size = std::strtoull(argv[4], nullptr, 10);
    req.label = "bench";
    const int n = argc > 5 ? std::atoi(argv[5]) : 1000;
    const auto options = modelzoo::fetch::FetchOptions::from_env();

    const auto t0 = Clock::now();
    const auto first = modelzoo::fetch::fetch_to_cache(req, cache, options);
    const double first_s = std::chrono::duration<double>(Clock::now() - t0).count();

    std::vector<double> us;
    us.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      const auto a = Clock::now();
      const auto r = modelzoo::fetch::fetch_to_cache(req, cache, options);
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - a).count());
      if (r.downloaded) throw std::runtime_error("a repeated fetch downloaded again");
    }
    std::sort(us.begin(), us.end());
    nlohmann::json out = {{"first_s", first_s},
                          {"downloaded", first.downloaded},
                          {"hits", n},
                          {"hit_us_median", us.empty() ? 0.0 : us[us.size() / 2]},
                          {"hit_us_p99", us.empty() ? 0.0 : us[us.size() * 99 / 100]},
                          {"hit_us_max", us.empty() ? 0.0 : us.back()}};
    std::cout << out.dump() << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "fetch_bench: " << e.what() << "\n";
    return 1;
  }
}
