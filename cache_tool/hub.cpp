#include "hub.h"

#include <algorithm>

#include "modelzoo/error.h"
#include "modelzoo/fetch/hf.h"

namespace cache_tool {

HubSpec HubSpec::parse(const std::string& text) {
  HubSpec s;
  s.text = text;
  auto bad = [&](const std::string& why) {
    throw UsageError("invalid Hub selection \"" + text + "\": " + why +
                     " (expected hf://ORG/NAME[@REVISION][/PATH])");
  };
  if (!mz::fetch::is_hub_uri(text)) bad("it does not start with hf://");
  const std::string rest = text.substr(5);
  const auto s1 = rest.find('/');
  if (s1 == std::string::npos) bad("no repository name");
  const auto s2 = rest.find('/', s1 + 1);
  if (s2 != std::string::npos && s2 + 1 < rest.size()) {
    try {
      const auto f = mz::fetch::HubFile::parse(text);
      s.repo = f.repo;
      s.revision = rest.substr(0, s2).find('@') == std::string::npos ? std::string() : f.revision;
      s.path = f.path;
    } catch (const mz::FetchError& e) {
      bad(e.what());
    }
    return s;
  }
  std::string name = rest.substr(s1 + 1, s2 == std::string::npos ? std::string::npos : s2 - s1 - 1);
  const auto at = name.find('@');
  if (at != std::string::npos) {
    // The file form's parser decodes the revision (%2F for '/'); reuse it with a placeholder path.
    s.revision = mz::fetch::HubFile::parse("hf://" + rest.substr(0, s1) + "/" + name + "/x").revision;
    name = name.substr(0, at);
  }
  s.repo = rest.substr(0, s1) + "/" + name;
  try {
    mz::cache::check_repo_id(s.repo);
  } catch (const mz::CacheError& e) {
    bad(e.what());
  }
  return s;
}

mz::cache::HfCache hub_cache(const Context& ctx) { return mz::cache::HfCache(ctx.cache.options()); }

std::vector<std::pair<std::filesystem::path, bool>> hub_roots(const Context& ctx) {
  std::vector<std::pair<std::filesystem::path, bool>> roots;
  const auto hf = hub_cache(ctx);
  roots.emplace_back(hf.root(), false);
  for (const auto& r : hf.readonly_roots()) roots.emplace_back(r, true);
  return roots;
}

std::vector<HubEntry> hub_entries(const mz::cache::HfCache& hf) {
  std::vector<HubEntry> out;
  for (const auto& r : hf.scan()) {
    for (const auto& rev : r.revisions) {
      for (const auto& f : rev.files) {
        HubEntry e;
        e.repo = r.repo;
        e.commit = rev.commit;
        e.refs = rev.refs;
        e.path = f.path;
        e.pointer = f.pointer;
        e.etag = f.etag;
        e.size = f.size;
        e.broken = f.broken;
        out.push_back(std::move(e));
      }
    }
  }
  return out;
}

std::vector<HubEntry> select(const std::vector<HubEntry>& all, const HubSpec& spec) {
  std::vector<HubEntry> out;
  for (const auto& e : all) {
    if (e.repo != spec.repo) continue;
    const std::string rev = spec.revision.empty() && !spec.path.empty() ? "main" : spec.revision;
    if (!rev.empty() && e.commit != rev && std::find(e.refs.begin(), e.refs.end(), rev) == e.refs.end()) continue;
    if (!spec.path.empty() && e.path != spec.path) continue;
    out.push_back(e);
  }
  return out;
}

HubSpec hub_spec_of(const Target& t) {
  const auto f = mz::fetch::HubFile::parse(t.weights->url);
  HubSpec s;
  s.text = t.weights->url;
  s.repo = f.repo;
  s.revision = f.revision;
  s.path = f.path;
  return s;
}

}  // namespace cache_tool
