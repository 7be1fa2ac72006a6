#include "seeds.h"

#include <ATen/ops/arange.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "io/readers.h"
#include "io/zip.h"
#include "modelzoo/error.h"
#include "modelzoo/io/io.h"

namespace mz_fuzz {

namespace {

namespace io = modelzoo::io;
using io::Value;

// What `write` puts into a FILE, as a string.
template <typename F>
std::string in_memory(F write) {
  char* buf = nullptr;
  std::size_t len = 0;
  std::FILE* f = open_memstream(&buf, &len);
  write(f);
  std::fclose(f);
  std::string out(buf, len);
  std::free(buf);
  return out;
}

Value sample_state_dict() {
  Value sd = Value::ordered_dict();
  at::Tensor w = at::arange(24).to(c10::ScalarType::Float).view({2, 3, 2, 2});
  sd.set("conv.weight", w);
  sd.set("conv.bias", at::arange(2).to(c10::ScalarType::Half));
  sd.set("bn.num_batches_tracked", at::arange(1).to(c10::ScalarType::Long).view({}));
  sd.set("view.t", w.view({2, 12}).t());  // shares conv.weight's storage
  return sd;
}

Value sample_checkpoint() {
  Value ck = Value::dict();
  ck.set("state_dict", sample_state_dict());
  ck.set("epoch", 7);
  ck.set("lr", 0.125);
  ck.set("name", "resnet");
  ck.set("flags", Value::tuple({true, Value(), Value::bytes("\x01\x02")}));
  ck.set("history", Value::list({1, 2, 3}));
  return ck;
}

std::string u32(uint32_t v) {
  std::string s;
  for (int i = 0; i < 4; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
  return s;
}
std::string u64(uint64_t v) {
  std::string s;
  for (int i = 0; i < 8; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
  return s;
}
std::string unicode(const std::string& s) { return "X" + u32(static_cast<uint32_t>(s.size())) + s; }
std::string global(const std::string& module, const std::string& name) { return "c" + module + "\n" + name + "\n"; }
std::string long8(int64_t v) { return std::string("\x8a\x08", 2) + u64(static_cast<uint64_t>(v)); }
const std::string kProto2("\x80\x02", 2);

// A string literal's bytes, embedded NULs included.
template <std::size_t N>
std::string B(const char (&s)[N]) {
  return std::string(s, N - 1);
}

std::string legacy_preamble(bool little) {
  std::string s = kProto2 + std::string("\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 12) + ".";
  s += kProto2 + "M" + std::string("\xe9\x03", 2) + ".";
  s += kProto2 + "}(" + unicode("little_endian") + (little ? "\x88" : "\x89") + unicode("type_sizes") + "}(" +
       unicode("int") + "K\x04" + unicode("long") + "K\x04" + "uu.";
  return s;
}

// _rebuild_tensor_v2 of a 1-D float tensor on storage `key` (numel elements),
// optionally a view (view_metadata) of it.
std::string tensor_pickle(const std::string& key, int64_t numel, int64_t size, int64_t offset, bool view) {
  std::string s = global("torch._utils", "_rebuild_tensor_v2") + "(";
  s += "(" + unicode("storage") + global("torch", "FloatStorage") + unicode(key) + unicode("cpu") + long8(numel);
  s += view ? "(" + unicode(key + "v") + long8(1) + long8(2) + "tt" : std::string("t");
  s += "Q" + long8(offset) + long8(size) + "\x85" + "K\x01\x85" + "\x89" + global("collections", "OrderedDict") + ")R" +
       "tR";
  return s;
}

}  // namespace

std::vector<std::string> zip_seeds() {
  std::vector<std::string> out;
  for (const Value& v : {sample_state_dict(), sample_checkpoint(), Value::dict()}) {
    out.push_back(in_memory([&](std::FILE* f) { io::detail::write_zip(f, v, "archive", "seed.pth"); }));
  }
  out.push_back(in_memory([&](std::FILE* f) { io::detail::write_zip(f, sample_state_dict(), "resnet18", "seed.pth"); }));
  // Big-endian, with the byteorder record torch writes on such machines.
  std::string pkl = kProto2 + "}(" + unicode("w") + tensor_pickle("0", 4, 4, 0, false) + "u.";
  out.push_back(in_memory([&](std::FILE* f) {
    io::detail::ZipWriter z(f, "seed.pth");
    z.add("archive/data.pkl", pkl.data(), pkl.size());
    z.add("archive/byteorder", "big", 3);
    std::string data(16, '\1');
    z.add("archive/data/0", data.data(), data.size());
    z.add("archive/version", "3\n", 2);
    z.finish();
  }));
  return out;
}

std::vector<std::string> legacy_seeds() {
  std::vector<std::string> out;
  const std::string keys1 = kProto2 + "(" + unicode("0") + "l.";
  for (bool little : {true, false}) {
    std::string p = kProto2 + global("collections", "OrderedDict") + ")R(" + unicode("a") +
                    tensor_pickle("0", 4, 4, 0, false) + unicode("b") + tensor_pickle("0", 4, 2, 2, false) + "u.";
    out.push_back(legacy_preamble(little) + p + keys1 + u64(4) + std::string(16, '\x01'));
  }
  std::string view = kProto2 + "}(" + unicode("v") + tensor_pickle("0", 4, 2, 0, true) + "u.";
  out.push_back(legacy_preamble(true) + view + keys1 + u64(4) + std::string(16, '\x02'));
  out.push_back(legacy_preamble(true) + kProto2 + "}." + kProto2 + "].");
  return out;
}

std::vector<std::string> safetensors_seeds() {
  std::vector<std::string> out;
  Value sd = sample_state_dict();
  Value plain = Value::ordered_dict();
  for (const auto& [k, v] : sd.entries()) {
    if (k.as_str() != "view.t") plain.set(k, v);
  }
  out.push_back(in_memory([&](std::FILE* f) { io::detail::write_safetensors(f, plain, "seed.safetensors"); }));
  Value meta = Value::ordered_dict();
  Value m = Value::dict();
  m.set("format", "pt");
  meta.set("__metadata__", m);
  meta.set("x", at::arange(3).to(c10::ScalarType::Int));
  out.push_back(in_memory([&](std::FILE* f) { io::detail::write_safetensors(f, meta, "seed.safetensors"); }));
  std::string h = R"({"u":{"dtype":"U16","shape":[2],"data_offsets":[0,4]},"e":{"dtype":"BF16","shape":[0,3],"data_offsets":[4,4]}})";
  while ((8 + h.size()) % 8) h += ' ';
  out.push_back(u64(h.size()) + h + std::string(4, '\x07'));
  return out;
}

std::vector<std::string> pickle_seeds() {
  std::vector<std::string> out;
  for (const std::string& z : zip_seeds()) {
    auto src = io::detail::memory_source(z, "seed.pth");
    io::detail::ZipReader reader(src);
    for (const auto& e : reader.entries()) {
      if (e.name.size() >= 8 && e.name.compare(e.name.size() - 8, 8, "data.pkl") == 0) out.push_back(reader.read(e));
    }
  }
  // Protocol 0 text opcodes, memo, sets, bytes, big ints, floats.
  out.push_back("(dp0\nS'a'\np1\nI12\nsS'b'\np2\n(lp3\nF1.5\naL123456789012345678901234567890L\nag1\nas.");
  out.push_back(B("\x80\x04\x95\x30\x00\x00\x00\x00\x00\x00\x00\x8f\x94(K\x01K\x02\x90\x8c\x01x\x94"
                  "C\x03" "abc\x94\x86\x94h\x02\x87\x94."));
  out.push_back(kProto2 + global("builtins", "complex") + "G?\xf0\x00\x00\x00\x00\x00\x00" + "G@\x00\x00\x00\x00\x00\x00\x00" +
                "\x86R" + global("_codecs", "encode") + unicode("\xc3\xa9") + unicode("latin1") + "\x86R" + "\x86.");
  out.push_back(kProto2 + global("torch", "device") + unicode("cuda") + "K\x01\x86R" + global("torch", "Size") +
                "(K\x02K\x03t\x85R\x86.");
  return out;
}

namespace {

// The input's bytes; with `mapped`, addressable as a mapping is.
class InputSource final : public io::detail::Source {
 public:
  InputSource(const uint8_t* data, std::size_t size, bool mapped)
      : Source("fuzz-input"), bytes_(reinterpret_cast<const char*>(data), size), mapped_(mapped) {}
  uint64_t size() const override { return bytes_.size(); }
  void read(uint64_t pos, void* buf, std::size_t n) const override {
    check_range(pos, n, "read");
    if (n) std::memcpy(buf, bytes_.data() + pos, n);
  }
  const uint8_t* data() const override { return mapped_ ? reinterpret_cast<const uint8_t*>(bytes_.data()) : nullptr; }

 private:
  std::string bytes_;
  bool mapped_;
};

}  // namespace

std::shared_ptr<const io::detail::Source> mapped_source(const uint8_t* data, std::size_t size) {
  return std::make_shared<InputSource>(data, size, true);
}

std::shared_ptr<const io::detail::Source> plain_source(const uint8_t* data, std::size_t size) {
  return std::make_shared<InputSource>(data, size, false);
}

}  // namespace mz_fuzz
