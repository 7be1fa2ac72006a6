// Value semantics and the unpickler on hand-made pickles.

#include <gtest/gtest.h>

#include "modelzoo/error.h"
#include "modelzoo/io/unpickler.h"
#include "modelzoo/io/value.h"

namespace {

namespace io = modelzoo::io;
using io::Value;

Value unpickle(const std::string& bytes) { return io::unpickle(bytes).value; }

// A string literal's bytes, embedded NULs included.
template <std::size_t N>
std::string B(const char (&s)[N]) {
  return std::string(s, N - 1);
}

TEST(Value, DictKeepsInsertionOrderAndReplacesInPlace) {
  Value d = Value::dict();
  d.set("b", 1);
  d.set("a", 2);
  d.set("b", 3);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d.entries()[0].first.as_str(), "b");
  EXPECT_EQ(d.entries()[0].second.as_int(), 3);
  EXPECT_EQ(d.at("a").as_int(), 2);
  EXPECT_EQ(d.find("zzz"), nullptr);
  EXPECT_FALSE(d.is_ordered_dict());
  EXPECT_TRUE(Value::ordered_dict().is_ordered_dict());
  EXPECT_TRUE(d.erase(Value("b")));
  EXPECT_EQ(d.size(), 1u);
  EXPECT_EQ(d.at("a").as_int(), 2);
}

TEST(Value, AtNamesTheMissingKey) {
  Value d = Value::dict();
  d.set("present", 1);
  try {
    d.at("state_dict");
    ADD_FAILURE() << "expected FormatError";
  } catch (const modelzoo::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("'state_dict'"), std::string::npos) << e.what();
  }
  try {
    d.at(Value::tuple({1, "x"}));
    ADD_FAILURE() << "expected FormatError";
  } catch (const modelzoo::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("(1, 'x')"), std::string::npos) << e.what();
  }
}

TEST(Value, KeysFollowPythonEquality) {
  Value d = Value::dict();
  d.set(1, "int");
  d.set(true, "bool");  // True == 1 in Python: same key
  d.set(1.0, "float");  // 1.0 == 1 as well
  d.set(Value::tuple({1, "a"}), "tuple");
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d.at(Value(1)).as_str(), "float");
  EXPECT_EQ(d.at(Value::tuple({1, "a"})).as_str(), "tuple");
  EXPECT_THROW(d.set(Value::list(), 1), modelzoo::FormatError);  // unhashable
}

TEST(Value, AccessorsSayWhatWasExpected) {
  Value s("text");
  try {
    s.as_int();
    ADD_FAILURE() << "expected FormatError";
  } catch (const modelzoo::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("expected an int but found str"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Value(3).as_tensor(), modelzoo::FormatError);
  EXPECT_THROW(Value::dict().items(), modelzoo::FormatError);
}

TEST(Value, BigIntsStayExact) {
  Value small = Value::big_int("-42");
  EXPECT_EQ(small.kind(), Value::Kind::Int);
  EXPECT_EQ(small.as_int(), -42);
  Value big = Value::big_int("123456789012345678901234567890");
  EXPECT_EQ(big.kind(), Value::Kind::BigInt);
  EXPECT_EQ(big.int_text(), "123456789012345678901234567890");
  EXPECT_THROW(big.as_int(), modelzoo::FormatError);
  EXPECT_THROW(Value::big_int("12x"), modelzoo::FormatError);
  EXPECT_EQ(Value(18446744073709551615ull).int_text(), "18446744073709551615");
}

TEST(Value, ContainersHaveReferenceSemantics) {
  Value a = Value::list();
  Value b = a;
  b.append(1);
  EXPECT_EQ(a.size(), 1u);
  EXPECT_TRUE(a.same_object(b));
  EXPECT_FALSE(a.same_object(Value::list({1})));
}

TEST(Value, DeepTreesAreDestroyedWithoutRecursion) {
  Value root = Value::list();
  Value cur = root;
  for (int i = 0; i < 1000000; ++i) {
    Value next = Value::list();
    cur.append(next);
    cur = next;
  }
  cur = Value();
  root = Value();  // would overflow the stack if destruction recursed
  SUCCEED();
}

TEST(Value, DeeplyNestedKeyIsRefusedWithoutCrashing) {
  Value t = Value::tuple({1});
  for (int i = 0; i < 100000; ++i) t = Value::tuple({t});
  Value d = Value::dict();
  EXPECT_THROW(d.set(t, 1), modelzoo::FormatError);
  EXPECT_FALSE(t.is_hashable());
  EXPECT_LT(t.repr().size(), 200u);
}

TEST(Unpickler, MemoSharesMutableContainers) {
  // EMPTY_DICT, BINPUT 0, (MARK 'k' 1 SETITEMS) then a list [memo0, memo0].
  std::string p = B("\x80\x02]q\x01(}q\x00h\x00(X\x01\x00\x00\x00kK\x01ue.");
  Value v = unpickle(p);
  ASSERT_TRUE(v.is_list());
  ASSERT_EQ(v.size(), 2u);
  EXPECT_TRUE(v.items()[0].same_object(v.items()[1]));
  EXPECT_EQ(v.items()[1].at("k").as_int(), 1);
}

TEST(Unpickler, Python2StringsAndLongs) {
  // SHORT_BINSTRING 'abc', BINSTRING 'de', LONG1 -1 (one byte 0xff), LONG1 2**64 (9 bytes), tuple.
  std::string p = B("\x80\x02(U\x03" "abcT\x02\x00\x00\x00" "de\x8a\x01\xff\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01t.");
  Value v = unpickle(p);
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v.items()[0].as_str(), "abc");
  EXPECT_EQ(v.items()[1].as_str(), "de");
  EXPECT_EQ(v.items()[2].as_int(), -1);
  EXPECT_EQ(v.items()[3].int_text(), "18446744073709551616");
  // Negative LONG1 beyond 64 bits: -(2**64) is 00..00 ff (9 bytes).
  std::string n = B("\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\xff.");
  EXPECT_EQ(unpickle(n).int_text(), "-18446744073709551616");
}

TEST(Unpickler, TextProtocolZero) {
  // (I42 / I01 / L7L / F1.5 / S'a\\n' / Vé as raw-unicode-escape \u00e9) tuple
  std::string p = "(I42\nI01\nL7L\nF1.5\nS'a\\n'\nV\\u00e9\nt.";
  Value v = unpickle(p);
  ASSERT_EQ(v.size(), 6u);
  EXPECT_EQ(v.items()[0].as_int(), 42);
  EXPECT_TRUE(v.items()[1].as_bool());
  EXPECT_EQ(v.items()[2].as_int(), 7);
  EXPECT_DOUBLE_EQ(v.items()[3].as_float(), 1.5);
  EXPECT_EQ(v.items()[4].as_str(), "a\n");
  EXPECT_EQ(v.items()[5].as_str(), "\xc3\xa9");
}

TEST(Unpickler, CodecsEncodeMakesBytes) {
  // _codecs.encode('\u00ffA', 'latin1') as Python 3 writes bytes at protocol 2.
  std::string p = B("\x80\x02" "c_codecs\nencode\nX\x03\x00\x00\x00\xc3\xbf" "AX\x06\x00\x00\x00latin1\x86R.");
  Value v = unpickle(p);
  ASSERT_TRUE(v.is_bytes());
  EXPECT_EQ(v.as_bytes(), "\xff" "A");
}

TEST(Unpickler, AllowlistedBuiltins) {
  // set([1, 2, 2]), complex(1.0, -2.0), OrderedDict([('a', 1)]), torch.float16
  std::string p = B("\x80\x02(" "c__builtin__\nset\n](K\x01K\x02K\x02" "e\x85R"
                    "cbuiltins\ncomplex\nG\x3f\xf0\x00\x00\x00\x00\x00\x00G\xc0\x00\x00\x00\x00\x00\x00\x00\x86R"
                    "ccollections\nOrderedDict\n](X\x01\x00\x00\x00" "aK\x01\x86" "e\x85R" "ctorch\nfloat16\nt.");
  Value v = unpickle(p);
  ASSERT_EQ(v.size(), 4u);
  EXPECT_TRUE(v.items()[0].is_set());
  EXPECT_EQ(v.items()[0].size(), 2u);
  EXPECT_EQ(v.items()[1].as_complex(), std::complex<double>(1.0, -2.0));
  EXPECT_TRUE(v.items()[2].is_ordered_dict());
  EXPECT_EQ(v.items()[2].at("a").as_int(), 1);
  EXPECT_EQ(v.items()[3].global_name(), "torch.float16");
}

TEST(Unpickler, AllowlistIsExact) {
  EXPECT_TRUE(io::is_allowed_global("collections", "OrderedDict"));
  EXPECT_TRUE(io::is_allowed_global("torch._utils", "_rebuild_tensor_v2"));
  EXPECT_TRUE(io::is_allowed_global("torch", "HalfStorage"));
  EXPECT_TRUE(io::is_allowed_global("torch.cuda", "FloatStorage"));
  EXPECT_TRUE(io::is_allowed_global("__builtin__", "set"));
  EXPECT_FALSE(io::is_allowed_global("collections", "defaultdict"));
  EXPECT_FALSE(io::is_allowed_global("torch.storage", "_load_from_bytes"));
  EXPECT_FALSE(io::is_allowed_global("torch", "load"));
  EXPECT_FALSE(io::is_allowed_global("builtins", "getattr"));
  EXPECT_FALSE(io::is_allowed_global("numpy.core.multiarray", "_reconstruct"));
}

TEST(Unpickler, PersistentIdWithoutLoaderIsAnError) {
  std::string p = B("\x80\x02X\x01\x00\x00\x00" "0Q.");
  try {
    unpickle(p);
    ADD_FAILURE() << "expected FormatError";
  } catch (const modelzoo::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("persistent id"), std::string::npos) << e.what();
  }
}

TEST(Unpickler, ReportsBytesConsumed) {
  std::string p = B("\x80\x02K\x05.trailing");
  io::UnpickleResult r = io::unpickle(p);
  EXPECT_EQ(r.value.as_int(), 5);
  EXPECT_EQ(r.consumed, 5u);
}

}  // namespace
