// .npy reader and writer: round trips against files NumPy writes and reads
// (tests/npy/npy_fixtures.py run by Debian's /usr/bin/python3), and every
// malformed header or size refused with a message naming the file and field.
#include "npy.hpp"
#include "process.hpp"
#include "testkit.hpp"
#include "typed_array.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <tuple>

namespace attn::test {
namespace {

namespace npy = attnlab::npy;

const std::string kScript = std::string(ATTN_TESTS_DIR) + "/npy/npy_fixtures.py";

/// A file's values as a plain std::vector, to compare with expected ones.
std::vector<float> plain(std::span<const float> x) {
  return {x.begin(), x.end()};
}

/// The fixture values: arange(n) * 0.25 - 3, exact in float32.
std::vector<float> expected_values(std::int64_t n) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = static_cast<float>(i) * 0.25f - 3.0f;
  return v;
}

class NumpyFixtures : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    const CommandResult r = run_command(std::string(ATTN_PYTHON) + " " + shell_quote(kScript) + " make " +
                                        shell_quote(dir_->path().string()) + " 2>&1");
    ASSERT_EQ(r.status, 0) << "fixture script failed (is python3-numpy installed?):\n" << r.output;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string file(const std::string& name) { return *dir_ / (name + ".npy"); }
  /// Expects reading `name` to fail with a message holding the path and `needle`.
  static void expect_refused(const std::string& name, const std::string& needle) {
    try {
      npy::read(file(name));
      ADD_FAILURE() << name << ": read without an error; expected one mentioning '" << needle << "'";
    } catch (const npy::Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(file(name)), std::string::npos) << "message does not name the file: " << msg;
      EXPECT_NE(msg.find(needle), std::string::npos) << "message: " << msg;
    }
  }
  static TempDir* dir_;
};
TempDir* NumpyFixtures::dir_ = nullptr;

TEST_F(NumpyFixtures, ReadsFloat32InEveryVersionAndRank) {
  const std::vector<std::pair<std::string, std::vector<std::int64_t>>> cases = {
      {"f4_2d", {3, 4}},    {"f4_1d", {5}},    {"f4_scalar", {}}, {"f4_4d", {2, 3, 4, 5}},
      {"f4_empty", {0, 3}}, {"f4_v2", {3, 4}}, {"f4_v3", {3, 4}}, {"keys_reordered", {3, 4}}};
  for (const auto& [name, shape] : cases) {
    SCOPED_TRACE(name);
    const npy::Array a = npy::read(file(name));
    EXPECT_EQ(a.shape, shape);
    EXPECT_FALSE(a.converted);
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    EXPECT_EQ(plain(a.data), expected_values(n));
    const npy::Header h = npy::inspect(file(name));
    EXPECT_EQ(h.count, n);
    EXPECT_EQ(h.shape, shape);
  }
}

TEST_F(NumpyFixtures, ConvertsFloat64AndSaysSo) {
  const npy::Array a = npy::read(file("f8_2d"));
  EXPECT_TRUE(a.converted);
  EXPECT_EQ(a.shape, (std::vector<std::int64_t>{3, 4}));
  EXPECT_EQ(plain(a.data), expected_values(12));
  EXPECT_EQ(a.overflowed, 0u);

  // 1e300 does not fit in float32: it becomes inf and is counted; NaN and inf stay what they were.
  const npy::Array o = npy::read(file("f8_overflow"));
  ASSERT_EQ(o.data.size(), 5u);
  EXPECT_EQ(o.overflowed, 2u);
  EXPECT_EQ(o.data[0], std::numeric_limits<float>::infinity());
  EXPECT_EQ(o.data[1], -std::numeric_limits<float>::infinity());
  EXPECT_EQ(o.data[2], 1.5f);
  EXPECT_TRUE(std::isnan(o.data[3]));
  EXPECT_EQ(o.data[4], std::numeric_limits<float>::infinity());
}

TEST_F(NumpyFixtures, ReadsBigEndianOfEveryFloatDtype) {
  for (const auto& [name, dtype] :
       {std::pair{"be_f2", npy::DType::f2}, {"be_f4", npy::DType::f4}, {"be_f8", npy::DType::f8}}) {
    SCOPED_TRACE(name);
    const npy::Header h = npy::inspect(file(name));
    EXPECT_TRUE(h.big_endian);
    EXPECT_EQ(h.dtype, dtype);
    const npy::Array a = npy::read(file(name));
    EXPECT_EQ(a.shape, (std::vector<std::int64_t>{3, 4}));
    EXPECT_EQ(a.stored, dtype);
    EXPECT_EQ(a.converted, dtype == npy::DType::f8);
    EXPECT_EQ(plain(a.data), expected_values(12));
  }
}

/// The bits of a float16 array, for comparisons that see NaN payloads and signed zeros.
std::vector<std::uint16_t> bits_of(std::span<const attn::f16> v) {
  std::vector<std::uint16_t> b;
  for (attn::f16 h : v) b.push_back(h.bits);
  return b;
}

TEST_F(NumpyFixtures, ReadsFloat16WidenedExactlyOrKeptAsIs) {
  const std::vector<std::pair<std::string, std::vector<std::int64_t>>> cases = {
      {"f2_2d", {3, 4}}, {"f2_scalar", {}}, {"f2_4d", {2, 3, 4, 5}}, {"f2_empty", {0, 3}}, {"f2_v3", {3, 4}}};
  for (const auto& [name, shape] : cases) {
    SCOPED_TRACE(name);
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    const npy::Array a = npy::read(file(name));
    EXPECT_EQ(a.shape, shape);
    EXPECT_EQ(a.stored, npy::DType::f2);
    EXPECT_FALSE(a.converted) << "float16 widens to float32 exactly";
    EXPECT_EQ(plain(a.data), expected_values(n));
    const auto h = npy::read_as<attn::f16>(file(name));
    EXPECT_FALSE(h.converted);
    std::vector<float> widened;
    for (attn::f16 x : h.data) widened.push_back(attn::to_float(x));
    EXPECT_EQ(widened, expected_values(n));
    EXPECT_EQ(npy::inspect(file(name)).data_bytes, 2 * n);
  }
  // The edges NumPy stored (inf, -inf, NaN, 65504, the smallest subnormal, -0, the smallest
  // normal, -1.5) arrive bit for bit as f16 and as their exact float32 values.
  const auto h = npy::read_as<attn::f16>(file("f2_edges"));
  EXPECT_EQ(bits_of(h.data),
            (std::vector<std::uint16_t>{0x7c00, 0xfc00, 0x7e00, 0x7bff, 0x0001, 0x8000, 0x0400, 0xbe00}));
  const npy::Array f = npy::read(file("f2_edges"));
  ASSERT_EQ(f.data.size(), 8u);
  EXPECT_EQ(f.data[0], std::numeric_limits<float>::infinity());
  EXPECT_EQ(f.data[1], -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(f.data[2]));
  EXPECT_EQ(f.data[3], 65504.0f);
  EXPECT_EQ(f.data[4], 0x1p-24f);
  EXPECT_TRUE(f.data[5] == 0.0f && std::signbit(f.data[5]));
  EXPECT_EQ(f.data[6], 0x1p-14f);
  EXPECT_EQ(f.data[7], -1.5f);
}

TEST_F(NumpyFixtures, RoundsToFloat16AsNumpyDoes) {
  // round_f4_as_f2 is NumPy's astype('<f2') of round_f4: ties, 65519/65520, overflow, subnormals.
  const auto ours = npy::read_as<attn::f16>(file("round_f4"));
  const auto numpy = npy::read_as<attn::f16>(file("round_f4_as_f2"));
  EXPECT_TRUE(ours.converted);
  EXPECT_FALSE(numpy.converted);
  EXPECT_EQ(bits_of(ours.data), bits_of(numpy.data));
  EXPECT_EQ(ours.overflowed, 4u) << "65520, 1e5, -1e5 and 3.4e38 are finite in float32 and inf in float16";

  // bfloat16 keeps float32's range: only 3.4028235e38 (past bf16's largest, 3.3895e38) overflows.
  const auto b = npy::read_as<attn::bf16>(file("round_f4"));
  const npy::Array f = npy::read(file("round_f4"));
  EXPECT_TRUE(b.converted);
  EXPECT_EQ(b.overflowed, 1u);
  ASSERT_EQ(b.data.size(), f.data.size());
  for (std::size_t i = 0; i < f.data.size(); ++i) EXPECT_EQ(b.data[i], attn::to_bf16(f.data[i])) << "element " << i;
}

TEST_F(NumpyFixtures, RoundsFloat64ToFloat16ThroughFloat32) {
  // The rule: float64 is rounded to float32 first (as read() does), then to the 16-bit type.
  const npy::Array f = npy::read(file("f8_2d"));
  const auto h = npy::read_as<attn::f16>(file("f8_2d"));
  EXPECT_TRUE(h.converted);
  ASSERT_EQ(h.data.size(), f.data.size());
  for (std::size_t i = 0; i < f.data.size(); ++i) EXPECT_EQ(h.data[i], attn::to_f16(f.data[i]));
  const auto o = npy::read_as<attn::f16>(file("f8_overflow"));  // 1e300, -1e300: counted once each
  EXPECT_EQ(o.overflowed, 2u);
  EXPECT_EQ(bits_of(o.data)[0], 0x7c00);
  EXPECT_EQ(bits_of(o.data)[2], 0x3e00);  // 1.5
}

TEST_F(NumpyFixtures, ReadsRowsOfFloat16InBothByteOrders) {
  // f2_4d is [2, 3, 4, 5]: rows 1..3 of axis 2 (what one rank of `mpirun attnlab run` reads).
  const npy::Array a = npy::read_rows(file("f2_4d"), 2, 1, 2);
  EXPECT_EQ(a.shape, (std::vector<std::int64_t>{2, 3, 2, 5}));
  EXPECT_EQ(a.stored, npy::DType::f2);
  const auto all = expected_values(120);
  std::vector<float> want;
  for (int o = 0; o < 6; ++o)
    for (int r = 1; r < 3; ++r)
      for (int c = 0; c < 5; ++c) want.push_back(all[static_cast<std::size_t>((o * 4 + r) * 5 + c)]);
  EXPECT_EQ(plain(a.data), want);
  const auto h = npy::read_rows_as<attn::f16>(file("f2_4d"), 2, 1, 2);
  ASSERT_EQ(h.data.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ(attn::to_float(h.data[i]), want[i]);

  // be_f2_3d is [2, 5, 3] big-endian: rows 3..5 of axis 1, and no rows at all.
  const auto b = npy::read_rows_as<attn::f16>(file("be_f2_3d"), 1, 3, 2);
  EXPECT_EQ(b.shape, (std::vector<std::int64_t>{2, 2, 3}));
  const auto all3 = expected_values(30);
  std::vector<float> got, want3;
  for (attn::f16 x : b.data) got.push_back(attn::to_float(x));
  for (int o = 0; o < 2; ++o)
    for (int r = 3; r < 5; ++r)
      for (int c = 0; c < 3; ++c) want3.push_back(all3[static_cast<std::size_t>((o * 5 + r) * 3 + c)]);
  EXPECT_EQ(got, want3);
  EXPECT_EQ(npy::read_rows(file("be_f2_3d"), 1, 5, 0).shape, (std::vector<std::int64_t>{2, 0, 3}));
  try {
    npy::read_rows_as<attn::f16>(file("be_f2_3d"), 1, 4, 2);
    ADD_FAILURE() << "rows past the end were read";
  } catch (const npy::Error& e) {
    EXPECT_NE(
        std::string(e.what()).find(file("be_f2_3d") + ": read_rows: rows [4, 6) of axis 1 are outside shape (2, 5, 3)"),
        std::string::npos)
        << e.what();
  }
}

// `attnlab run` hands these arrays to attention() as Q, K and V: like a KV cache, they start
// on a cache line (decode reads K and V rows in place), whatever the file's dtype, the element
// type they are read as, and whether all of the file or some of its rows are read.
TEST_F(NumpyFixtures, ValuesStartOnACacheLine) {
  for (const char* name : {"f4_2d", "f8_2d", "f2_4d"}) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(on_a_line(npy::read(file(name)).data.data()));
    EXPECT_TRUE(on_a_line(npy::read_as<attn::f16>(file(name)).data.data()));
    EXPECT_TRUE(on_a_line(npy::read_as<attn::bf16>(file(name)).data.data()));
  }
  EXPECT_TRUE(on_a_line(npy::read_rows(file("f2_4d"), 2, 1, 2).data.data()));
  EXPECT_TRUE(on_a_line(npy::read_rows_as<attn::bf16>(file("f2_4d"), 2, 1, 2).data.data()));
  for (attn::DType t : {attn::DType::f32, attn::DType::f16, attn::DType::bf16}) {
    SCOPED_TRACE(attn::to_string(t));
    EXPECT_TRUE(on_a_line(attnlab::read_typed(file("f4_2d"), t).view({1, 1, 3, 4}).data));
    EXPECT_TRUE(on_a_line(attnlab::TypedArray::zeros(t, 5).view({1, 1, 1, 5}).data));
    const std::vector<float> x(7, 0.5f);
    EXPECT_TRUE(on_a_line(attnlab::TypedArray::rounded(t, x).view({1, 1, 1, 7}).data));
  }
}

TEST_F(NumpyFixtures, RefusesWhatItCannotRepresent) {
  expect_refused("fortran", "field 'fortran_order': Fortran (column-major) order is not supported");
  expect_refused("int32",
                 "field 'descr': dtype '<i4' is not supported; expected float16, float32 or float64 ('<f2', '<f4', "
                 "'<f8', or big-endian '>f2', '>f4', '>f8')");
  expect_refused("complex64", "field 'descr': dtype '<c8' is not supported");
  expect_refused("object", "field 'descr': object arrays ('|O') are not supported");
  expect_refused("structured", "field 'descr': structured dtypes");
  expect_refused("truncated",
                 "truncated: the header declares shape (3, 4) of '<f4', expected 48 bytes of data, file has 20");
  expect_refused("does_not_exist", "cannot open: No such file or directory");
}

TEST_F(NumpyFixtures, NumpyReadsWhatWeWrite) {
  TempDir out;
  // float16 files: out_f2_* (the check script expects '<f2' there).
  const std::vector<std::vector<std::int64_t>> f2_shapes = {{3, 4}, {}, {2, 3, 4, 5}};
  for (std::size_t i = 0; i < f2_shapes.size(); ++i) {
    std::int64_t n = 1;
    for (auto d : f2_shapes[i]) n *= d;
    std::vector<attn::f16> v;
    for (float x : expected_values(n)) v.push_back(attn::to_f16(x));
    const std::string path = out / ("out_f2_" + std::to_string(i) + ".npy");
    npy::write(path, v, f2_shapes[i]);
    const auto back = npy::read_as<attn::f16>(path);
    EXPECT_EQ(back.shape, f2_shapes[i]);
    EXPECT_EQ(back.stored, npy::DType::f2);
    EXPECT_EQ(bits_of(back.data), bits_of(v));
  }
  const std::vector<std::vector<std::int64_t>> shapes = {{3, 4}, {5}, {}, {0, 3}, {2, 3, 4, 5}, {1, 1, 1, 1, 1, 1, 7}};
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    std::int64_t n = 1;
    for (auto d : shapes[i]) n *= d;
    const auto v = expected_values(n);
    const std::string path = out / ("out_" + std::to_string(i) + ".npy");
    npy::write(path, v, shapes[i]);
    const npy::Array back = npy::read(path);  // and our own reader agrees
    EXPECT_EQ(back.shape, shapes[i]);
    EXPECT_EQ(plain(back.data), v);
  }
  const CommandResult r = run_command(std::string(ATTN_PYTHON) + " " + shell_quote(kScript) + " check " +
                                      shell_quote(out.path().string()) + " 2>&1");
  EXPECT_EQ(r.status, 0) << r.output;
  std::size_t oks = 0;
  for (std::size_t p = r.output.find("ok out_"); p != std::string::npos; p = r.output.find("ok out_", p + 1)) ++oks;
  EXPECT_EQ(oks, shapes.size() + f2_shapes.size()) << r.output;
}

// ---- Hand-made headers: every field checked, nothing allocated from a bad size.

std::string image(const std::string& dict, std::string_view data = {}, int major = 1, std::uint32_t header_len = 0) {
  std::string s = "\x93NUMPY";
  s += static_cast<char>(major);
  s += '\0';
  const std::uint32_t len = header_len ? header_len : static_cast<std::uint32_t>(dict.size());
  for (int i = 0; i < (major == 1 ? 2 : 4); ++i) s += static_cast<char>((len >> (8 * i)) & 0xff);
  return s + dict + std::string(data);
}

void expect_parse_error(const std::string& bytes, const std::string& needle) {
  try {
    npy::parse(bytes, "x.npy");
    ADD_FAILURE() << "parsed without an error; expected one mentioning '" << needle << "'";
  } catch (const npy::Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("x.npy: ", 0), 0u) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << "message: " << msg;
  }
}

TEST(NpyHeader, EveryFieldIsChecked) {
  const std::string ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n";
  const std::string two(8, '\0');
  EXPECT_EQ(plain(npy::parse(image(ok, two), "x.npy").data), (std::vector<float>{0, 0}));
  EXPECT_EQ(npy::parse(image("{\"shape\":(2,),\"descr\":\"<f4\",\"fortran_order\":False}", two), "x.npy").shape,
            (std::vector<std::int64_t>{2}));

  expect_parse_error("\x93NUMPX\x01\x00\x00\x00", "field 'magic': not a .npy file");
  expect_parse_error("short", "field 'magic'");
  expect_parse_error(image(ok, two, 4), "field 'version': format version 4.0 is not supported");
  expect_parse_error(std::string("\x93NUMPY\x02\x00\x10", 9), "field 'header_len': the file ends inside");
  expect_parse_error(image(ok, two, 2, 70000), "field 'header_len': 70000 bytes, more than the 65536 accepted");
  expect_parse_error(image(ok, two, 1, 500), "truncated: the header declares 500 bytes of header");
  expect_parse_error(image(ok, std::string(4, '\0')), "expected 8 bytes of data, file has 4");
  expect_parse_error(image("{'descr': '>f2', 'fortran_order': False, 'shape': (3,), }", two),
                     "trailing data: the header declares shape (3,) of '>f2', expected 6 bytes of data, file has 8");
  expect_parse_error(image("{'descr': '<f3', 'fortran_order': False, 'shape': (2,), }", two),
                     "field 'descr': dtype '<f3' is not supported");
  expect_parse_error(image("{'descr': '|f2', 'fortran_order': False, 'shape': (2,), }", two),
                     "field 'descr': dtype '|f2' is not supported");
  expect_parse_error(image(ok, std::string(12, '\0')),
                     "trailing data: the header declares shape (2,) of '<f4', expected 8 bytes");
  expect_parse_error(image("{'descr': '<f4', 'shape': (2,), }", two), "field 'fortran_order': missing");
  expect_parse_error(image("{'descr': '<f4', 'fortran_order': False}", two), "field 'shape': missing");
  expect_parse_error(image("{'shape': (2,), 'fortran_order': False}", two), "field 'descr': missing");
  expect_parse_error(image("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", two),
                     "key 'descr' appears twice");
  expect_parse_error(image("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", two),
                     "unexpected key 'x'");
  expect_parse_error(image("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", two), "expected True or False");
  expect_parse_error(image("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", two), "negative dimension");
  expect_parse_error(image("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", two),
                     "does not fit in a 64-bit integer");
  expect_parse_error(image("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}", two),
                     "field 'shape': the element count of (4294967296, 4294967296) overflows");
  expect_parse_error(image("{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,)}", two),
                     "field 'shape': the byte size of (2305843009213693952,) overflows");
  // A huge but representable shape is refused by the size check, before any allocation.
  expect_parse_error(image("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,)}", two),
                     "expected 4000000000000 bytes of data, file has 8");
  expect_parse_error(image("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} junk", two),
                     "expected only padding after the closing '}'");
  expect_parse_error(image("{'descr': '<f4', 'fortran_order': False, 'shape': (2", two), "expected ',' or ')'");
  expect_parse_error(image("{'descr': '\\x3cf4', 'fortran_order': False, 'shape': (2,)}", two), "without escapes");
}

TEST(NpyWriter, HeaderIsPaddedTo64AndShapeMustMatch) {
  const std::vector<float> v(6, 1.0f);
  for (const std::vector<std::int64_t>& shape : {std::vector<std::int64_t>{6}, {2, 3}, {1, 2, 1, 3}}) {
    const std::string s = npy::encode(v, shape);
    const npy::Header h = npy::parse_header(s, "mem");
    EXPECT_EQ(h.data_offset % 64, 0);
    EXPECT_EQ(h.major, 1);
    EXPECT_EQ(s.size(), static_cast<std::size_t>(h.data_offset) + 24);
    EXPECT_EQ(s[static_cast<std::size_t>(h.data_offset) - 1], '\n');
  }
  const std::vector<attn::f16> h(6, attn::to_f16(1.0f));
  const std::string s = npy::encode(h, std::vector<std::int64_t>{2, 3});
  const npy::Header hh = npy::parse_header(s, "mem");
  EXPECT_EQ(hh.dtype, npy::DType::f2);
  EXPECT_EQ(hh.descr(), "'<f2'");
  EXPECT_EQ(hh.data_offset % 64, 0);
  EXPECT_EQ(s.size(), static_cast<std::size_t>(hh.data_offset) + 12);
  EXPECT_THROW(npy::encode(h, std::vector<std::int64_t>{7}), std::invalid_argument);
  EXPECT_THROW(npy::encode(v, std::vector<std::int64_t>{2, 2}), std::invalid_argument);
  EXPECT_THROW(npy::encode(v, std::vector<std::int64_t>{-1, -6}), std::invalid_argument);
}

TEST(NpyWriter, AFailedWriteLeavesTheOldFile) {
  TempDir dir;
  const std::string path = dir / "keep.npy";
  const std::vector<float> v{1, 2, 3};
  npy::write(path, v, std::vector<std::int64_t>{3});
  EXPECT_THROW(npy::write(path, v, std::vector<std::int64_t>{4}), std::invalid_argument);
  EXPECT_EQ(plain(npy::read(path).data), v);
  EXPECT_THROW(npy::write(dir / "missing-dir/x.npy", v, std::vector<std::int64_t>{3}), std::invalid_argument);
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 1u) << "a temporary file was left behind";
}

// read_rows (each MPI rank's own rows, attnlab run under mpirun): every axis, every start and
// count against the slice of the whole file, float32 and float64, .npy 1.0 and 2.0 headers.
TEST_F(NumpyFixtures, ReadRowsIsTheSliceOfTheWholeArray) {
  for (const std::string name : {"f4_4d", "f4_2d", "f8_2d", "f4_v2", "f4_1d", "f4_empty"}) {
    const npy::Array whole = npy::read(file(name));
    const std::vector<std::int64_t>& shape = whole.shape;
    for (std::size_t axis = 0; axis < shape.size(); ++axis) {
      std::int64_t outer = 1, inner = 1;
      for (std::size_t i = 0; i < axis; ++i) outer *= shape[i];
      for (std::size_t i = axis + 1; i < shape.size(); ++i) inner *= shape[i];
      for (std::int64_t start = 0; start <= shape[axis]; ++start)
        for (std::int64_t count = 0; start + count <= shape[axis]; ++count) {
          SCOPED_TRACE(name + " axis " + std::to_string(axis) + " rows " + std::to_string(start) + "+" +
                       std::to_string(count));
          const npy::Array part = npy::read_rows(file(name), axis, start, count);
          std::vector<std::int64_t> want_shape = shape;
          want_shape[axis] = count;
          EXPECT_EQ(part.shape, want_shape);
          EXPECT_EQ(part.converted, whole.converted);
          std::vector<float> want;
          for (std::int64_t o = 0; o < outer; ++o)
            for (std::int64_t i = (o * shape[axis] + start) * inner; i < (o * shape[axis] + start + count) * inner; ++i)
              want.push_back(whole.data[static_cast<std::size_t>(i)]);
          EXPECT_EQ(plain(part.data), want);
        }
    }
  }
  // Rows outside the axis, an axis the array lacks, a negative count: refused, naming the file.
  for (const auto& [axis, start, count, needle] :
       {std::tuple<std::size_t, std::int64_t, std::int64_t, std::string>{1, 3, 2, "rows [3, 5) of axis 1"},
        {0, -1, 1, "are outside shape (3, 4)"},
        {0, 0, -1, "are outside shape (3, 4)"},
        {2, 0, 1, "axis 2 does not exist in shape (3, 4)"}}) {
    try {
      npy::read_rows(file("f4_2d"), axis, start, count);
      ADD_FAILURE() << needle << ": read without an error";
    } catch (const npy::Error& e) {
      EXPECT_NE(std::string(e.what()).find(file("f4_2d")), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  }
  // A file cut short after its header: the rows it lacks are refused as truncated (inspect first).
  EXPECT_THROW(npy::read_rows(file("truncated"), 0, 2, 1), npy::Error);
}

}  // namespace
}  // namespace attn::test
