// cache_tool bundles: the tar indexer, then the manifest parser on the
// manifest member, as `cache_tool unpack` reads them before anything is written.
#include <fstream>
#include <iterator>

#include "bundle.h"
#include "fuzz_target.h"
#include "modelzoo/error.h"
#include "seeds.h"
#include "tar.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  namespace tar = cache_tool::tar;
  namespace bundle = cache_tool::bundle;
  const auto& file = mz_fuzz::scratch_file(std::string(reinterpret_cast<const char*>(data), size));
  try {
    const tar::Index index = tar::read_index(file);
    for (const auto& m : index.members) {
      if (m.name == bundle::kManifestName && m.type == '0' && m.size <= bundle::kMaxManifestBytes) {
        bundle::Manifest manifest = bundle::parse_manifest(tar::read_member(file, m), "fuzz.tar:manifest.json");
        (void)bundle::to_json(manifest).dump();
      }
    }
  } catch (const modelzoo::Error&) {
  }
  return 0;
}

std::vector<std::string> mz_fuzz_seeds() {
  namespace tar = cache_tool::tar;
  std::vector<std::string> out;
  const std::string manifest =
      R"({"format": "modelzoo-bundle", "format_version": 1, "created_by": "cache_tool 0.1.0",
          "created": "2024-05-01T12:00:00Z", "files": [{"name": "w-0123abcd.pth", "size": 5,
          "sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
          "entries": [{"model": "mynet", "tag": "V1", "default": true, "url": "https://example.org/w-0123abcd.pth"}]}],
          "registry": null})";
  for (const std::string& long_name : {std::string("w-0123abcd.pth"), std::string(120, 'n') + ".pth"}) {
    const std::filesystem::path out_file = mz_fuzz::scratch_file("").string() + ".tar";
    {
      tar::Writer w(out_file);
      w.add_bytes(cache_tool::bundle::kManifestName, manifest, 1700000000);
      w.add_bytes(long_name, "hello", 1700000000);
      w.commit();
    }
    std::ifstream in(out_file, std::ios::binary);
    out.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    std::filesystem::remove(out_file);
  }
  return out;
}
