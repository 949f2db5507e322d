// `attnlab run` as a user runs it: the built binary on .npy files, its output
// parsed, its exit status checked (0 ok, 2 bad input), and its results
// compared with the library called in-process on the same data.
#include "files.hpp"
#include "npy.hpp"
#include "process.hpp"
#include "workload/inputs.hpp"

#include <gtest/gtest.h>
#include <attn/attention.hpp>

#include <cmath>
#include <filesystem>
#include <limits>

namespace attn::test {
namespace {

namespace npy = attnlab::npy;
using i64 = std::int64_t;

struct Run : ::testing::Test {
  TempDir dir;

  std::string path(const std::string& name) const { return dir / name; }
  /// Writes seeded uniform values of `shape` to `name` and returns them.
  std::vector<float> save(const std::string& name, const std::vector<i64>& shape, std::uint64_t seed) {
    i64 n = 1;
    for (i64 s : shape) n *= s;
    std::vector<float> x(static_cast<std::size_t>(n));
    attnlab::fill_uniform(x, seed);
    npy::write(path(name), x, shape);
    return x;
  }
  CommandResult attnlab(const std::string& args) const {
    return run_command("cd " + shell_quote(dir.path().string()) + " && " + shell_quote(ATTNLAB_BINARY) + " " + args +
                       " 2>&1");
  }
  /// The value after "key: " on its own line of `out`, or "" when absent.
  static std::string field(const std::string& out, const std::string& key) {
    const std::string tag = "\n" + key + ": ";
    const std::size_t p = ("\n" + out).find(tag);
    if (p == std::string::npos) return "";
    const std::size_t start = p + tag.size() - 1, end = out.find('\n', start);
    return out.substr(start, end == std::string::npos ? std::string::npos : end - start);
  }
  /// Expects exit status 2, a message holding each of `needles`, and no output file.
  void expect_refused(const std::string& args, const std::vector<std::string>& needles) {
    const CommandResult r = attnlab(args);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.output;
    for (const std::string& n : needles)
      EXPECT_NE(r.output.find(n), std::string::npos) << "missing '" << n << "' in:\n" << r.output;
    EXPECT_FALSE(std::filesystem::exists(path("o.npy"))) << "an output was written by a refused run: " << args;
  }
};

/// The library's own answer for dense [B, H, N, d] inputs.
std::vector<float> direct(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                          std::array<i64, 4> qs, i64 hkv, i64 nk, i64 dv, Options opts,
                          std::vector<float>* lse = nullptr) {
  std::vector<float> out(static_cast<std::size_t>(qs[0] * qs[1] * qs[2] * dv));
  const Tensor lv = lse ? (lse->assign(static_cast<std::size_t>(qs[0] * qs[1] * qs[2]), 0.0f),
                           lse_view(lse->data(), qs[0], qs[1], qs[2]))
                        : Tensor{};
  attention(ConstTensor::contiguous(q.data(), qs[0], qs[1], qs[2], qs[3]),
            ConstTensor::contiguous(k.data(), qs[0], hkv, nk, qs[3]),
            ConstTensor::contiguous(v.data(), qs[0], hkv, nk, dv),
            Tensor::contiguous(out.data(), qs[0], qs[1], qs[2], dv), lv, opts);
  return out;
}

TEST_F(Run, EveryRankMatchesTheLibrary) {
  struct Shape {
    std::vector<i64> q, k, v;
    std::array<i64, 4> q4;
    i64 hkv;
  };
  const std::vector<Shape> shapes = {
      {{7, 4}, {5, 4}, {5, 3}, {1, 1, 7, 4}, 1},                    // 2-D, Nq != Nk, dv != d
      {{4, 6, 8}, {2, 9, 8}, {2, 9, 8}, {1, 4, 6, 8}, 2},           // 3-D, grouped-query
      {{2, 3, 5, 4}, {2, 3, 5, 4}, {2, 3, 5, 4}, {2, 3, 5, 4}, 3},  // 4-D
  };
  for (const Shape& s : shapes) {
    SCOPED_TRACE(npy::shape_string(s.q));
    const auto q = save("q.npy", s.q, 1), k = save("k.npy", s.k, 2), v = save("v.npy", s.v, 3);
    for (const char* causal : {"none", "bottom-right"}) {
      const CommandResult r =
          attnlab("run --q q.npy --k k.npy --v v.npy --out o.npy --lse l.npy --kernel reference --check --causal " +
                  std::string(causal));
      ASSERT_EQ(r.status, 0) << r.output;
      EXPECT_EQ(field(r.output, "kernel"), "reference");
      EXPECT_EQ(field(r.output, "causal"), causal);
      EXPECT_EQ(field(r.output, "q"), "q.npy " + npy::shape_string(s.q));
      EXPECT_NE(field(r.output, "GFLOP/s"), "");
      // The reference checked against itself: exactly zero error.
      EXPECT_EQ(field(r.output, "check"),
                "max abs err 0, max rel err 0, LSE max abs err 0 against the reference kernel (fp64 arithmetic, output "
                "rounded to float32)");

      Options opts;
      opts.kernel = "reference";
      opts.causal = std::string(causal) == "none" ? Causal::none : Causal::bottom_right;
      std::vector<float> lse;
      const auto want = direct(q, k, v, s.q4, s.hkv, s.k[s.k.size() - 2], s.v.back(), opts, &lse);
      const npy::Array o = npy::read(path("o.npy")), l = npy::read(path("l.npy"));
      std::vector<i64> out_shape = s.q;
      out_shape.back() = s.v.back();
      EXPECT_EQ(o.shape, out_shape);
      EXPECT_TRUE(std::ranges::equal(o.data, want));  // same kernel, same inputs: bitwise the same
      EXPECT_EQ(l.shape, std::vector<i64>(s.q.begin(), s.q.end() - 1));
      EXPECT_TRUE(std::ranges::equal(l.data, lse));
    }
  }
}

TEST_F(Run, MaskScaleAndFloat64Inputs) {
  const auto q = save("q.npy", {6, 4}, 1), k = save("k.npy", {6, 4}, 2), v = save("v.npy", {6, 4}, 3);
  std::vector<float> mask(36, 0.0f);
  for (int i = 0; i < 6; ++i) mask[static_cast<std::size_t>(i * 6 + (i + 1) % 6)] = -INFINITY;
  npy::write(path("m.npy"), mask, std::vector<i64>{6, 6});
  // q as float64, by hand: same values, so the result must be identical.
  {
    std::string img = npy::encode(q, std::vector<i64>{6, 4});
    const std::size_t off = static_cast<std::size_t>(npy::parse_header(img, "q").data_offset);
    std::string f8 = img.substr(0, off);
    f8.replace(f8.find("<f4"), 3, "<f8");
    for (float x : q) {
      const double dx = x;
      f8.append(reinterpret_cast<const char*>(&dx), 8);
    }
    attnlab::write_file_atomic(path("q8.npy"), f8);
  }
  const CommandResult r =
      attnlab("run --q q8.npy --k k.npy --v v.npy --mask m.npy --scale 0.3 --kernel blas --out o.npy");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("--q (q8.npy): float64 converted to float32"), std::string::npos) << r.output;
  EXPECT_EQ(field(r.output, "scale"), "0.3");
  Options opts;
  opts.kernel = "blas";
  opts.scale = 0.3f;
  opts.mask = {mask.data(), 6, 6, 0};
  EXPECT_TRUE(std::ranges::equal(npy::read(path("o.npy")).data, direct(q, k, v, {1, 1, 6, 4}, 1, 6, 4, opts)));
}

TEST_F(Run, NonFiniteInputsAreCountedAndRefusedUnlessAllowed) {
  auto q = save("q.npy", {4, 4}, 1);
  save("k.npy", {4, 4}, 2);
  save("v.npy", {4, 4}, 3);
  q[1] = NAN, q[2] = NAN, q[5] = INFINITY;  // rows 0 and 1
  npy::write(path("q.npy"), q, std::vector<i64>{4, 4});
  expect_refused("run --q q.npy --k k.npy --v v.npy --out o.npy",
                 {"--q (q.npy): 3 of 16 values are not finite (2 NaN, 1 inf)", "--allow-nonfinite"});
  const CommandResult r = attnlab("run --q q.npy --k k.npy --v v.npy --out o.npy --allow-nonfinite --kernel reference");
  ASSERT_EQ(r.status, 0) << r.output;
  const npy::Array o = npy::read(path("o.npy"));
  for (int t = 0; t < 4; ++t) EXPECT_TRUE(std::isnan(o.data[static_cast<std::size_t>(t)])) << "row 0 holds a NaN query";
  for (std::size_t i = 8; i < 16; ++i) EXPECT_TRUE(std::isfinite(o.data[i])) << "rows 2 and 3 are clean";
}

TEST_F(Run, BadArgumentsAndFilesExitWithStatus2) {
  save("q.npy", {4, 8}, 1);
  save("k.npy", {5, 8}, 2);
  save("v.npy", {5, 8}, 3);
  save("k3.npy", {1, 5, 8}, 2);
  save("kd.npy", {5, 6}, 2);
  save("m.npy", {4, 4}, 4);
  save("one.npy", {8}, 5);
  {
    std::string img = npy::encode(std::vector<float>(20), std::vector<i64>{4, 5});
    img.resize(img.size() - 12);
    attnlab::write_file_atomic(path("trunc.npy"), img);
  }
  const std::string base = "run --k k.npy --v v.npy --out o.npy ";
  expect_refused(base + "--q missing.npy", {"--q: missing.npy: cannot open: No such file or directory"});
  expect_refused(base + "--q trunc.npy", {"--q: trunc.npy: truncated", "expected 80 bytes of data, file has 68"});
  expect_refused(base + "--q one.npy", {"--q (one.npy): shape (8,) has 1 dimension(s); expected 2-D [N, d]"});
  expect_refused("run --q q.npy --k k3.npy --v v.npy --out o.npy",
                 {"--k (k3.npy): shape (1, 5, 8) has 3 dimensions, expected 2"});
  expect_refused("run --q q.npy --k kd.npy --v v.npy --out o.npy",
                 {"--k (kd.npy, shape (5, 6)): head dim 6 != q head dim 8"});
  // A 16-bit tensor is named with its dtype, as the engine names it ("k (bf16): ...").
  expect_refused("run --q q.npy --k kd.npy --v v.npy --out o.npy --dtype bf16",
                 {"--k (kd.npy, shape (5, 6), bf16): head dim 6 != q head dim 8"});
  expect_refused(base + "--q q.npy --mask m.npy",
                 {"--mask (m.npy, shape (4, 4)): shape [4, 4], expected [Nq, Nk] = [4, 5]"});
  expect_refused(base + "--q q.npy --kernel fastest",
                 {"--kernel: unknown kernel 'fastest' (registered: auto, reference"});
  expect_refused(base + "--q q.npy --threads -1", {"--threads: expected 0 (OpenMP default) to 1024, got -1"});
  expect_refused(base + "--q q.npy --threads 100000", {"--threads: expected 0 (OpenMP default) to 1024, got 100000"});
  expect_refused(base + "--q q.npy --scale nan", {"--scale: must be finite"});
  expect_refused(base + "--q q.npy --memory-budget -5", {"--memory-budget: expected a whole number >= 0, got '-5'"});
  expect_refused(base + "--q q.npy --causal diagonal",
                 {"--causal: expected none, top-left or bottom-right, got 'diagonal'"});
  expect_refused("run --q q.npy --k k.npy --v v.npy --out nowhere/o.npy",
                 {"--out: the directory 'nowhere' does not exist"});
  expect_refused(base + "--q q.npy --lse o.npy", {"--lse: 'o.npy' is the same file as --out"});
  expect_refused("run --k k.npy --v v.npy --out o.npy", {"--q is required"});
  // Inputs 4*8 + 2 * 5*8 floats, output 4*8 floats twice (array and file image), blas's 4 x 5 scores
  // and its one thread's V panel of 5 keys x 8 floats.
  const std::size_t need = 4 * (32 + 80) + 2 * 4 * 32 + 4 * 20 + 4 * 40;
  expect_refused(
      base + "--q q.npy --kernel blas --threads 1 --memory-budget 600",
      {"--memory-budget: this run needs " + std::to_string(need) + " bytes", "over the memory budget of 600 bytes"});
  EXPECT_EQ(attnlab(base + "--q q.npy --kernel blas --threads 1 --memory-budget " + std::to_string(need)).status, 0);
}

// ---- dtypes: float16 files run as f16; --dtype rounds; the output is '<f2' when q is f16.

/// `x` rounded to T (the values a T tensor holds).
template <class T>
std::vector<T> rounded(const std::vector<float>& x) {
  std::vector<T> r;
  for (float f : x) {
    if constexpr (std::is_same_v<T, f16>)
      r.push_back(to_f16(f));
    else
      r.push_back(to_bf16(f));
  }
  return r;
}

std::vector<std::uint16_t> bits(std::span<const f16> v) {
  std::vector<std::uint16_t> b;
  for (f16 h : v) b.push_back(h.bits);
  return b;
}

/// attention() on dense [1, H, N, d] views of any dtype, into `out`.
void direct_any(AnyConstTensor q, AnyConstTensor k, AnyConstTensor v, AnyTensor out, const Options& opts = {}) {
  attention(q, k, v, out, opts);
}

template <class T>
TensorView<const T> dense3(const std::vector<T>& x, i64 h, i64 n, i64 d) {
  return TensorView<const T>::contiguous(x.data(), 1, h, n, d);
}

TEST_F(Run, Float16FilesRunAsF16AndWriteFloat16) {
  const std::vector<i64> shape{2, 9, 16};
  std::vector<float> x[3];
  for (int i = 0; i < 3; ++i) {
    x[i].resize(2 * 9 * 16);
    attnlab::fill_uniform(x[i], static_cast<std::uint64_t>(i + 1));
  }
  const auto q = rounded<f16>(x[0]), k = rounded<f16>(x[1]), v = rounded<f16>(x[2]);
  npy::write(path("q.npy"), q, shape);
  npy::write(path("k.npy"), k, shape);
  npy::write(path("v.npy"), v, shape);
  const CommandResult r = attnlab("run --q q.npy --k k.npy --v v.npy --out o.npy --check");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(field(r.output, "dtype"), "f16");
  EXPECT_NE(field(r.output, "check").find("against the reference kernel on the same f16 inputs"), std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("as --dtype asks"), std::string::npos) << "nothing was converted:\n" << r.output;
  const auto o = npy::read_as<f16>(path("o.npy"));
  EXPECT_EQ(o.stored, npy::DType::f2);
  EXPECT_EQ(o.shape, shape);
  std::vector<f16> want(q.size());
  direct_any(dense3(q, 2, 9, 16), dense3(k, 2, 9, 16), dense3(v, 2, 9, 16),
             TensorView<f16>::contiguous(want.data(), 1, 2, 9, 16));
  EXPECT_EQ(bits(o.data), bits(want));  // the library on the same f16 data: bitwise the same

  // --out-dtype f32: the same call writing fp32 (no rounding of O to f16).
  ASSERT_EQ(attnlab("run --q q.npy --k k.npy --v v.npy --out o.npy --out-dtype f32").status, 0);
  const npy::Array o32 = npy::read(path("o.npy"));
  EXPECT_EQ(o32.stored, npy::DType::f4);
  std::vector<float> want32(q.size());
  direct_any(dense3(q, 2, 9, 16), dense3(k, 2, 9, 16), dense3(v, 2, 9, 16),
             Tensor::contiguous(want32.data(), 1, 2, 9, 16));
  EXPECT_TRUE(std::ranges::equal(o32.data, want32));

  // An f32 query with an f16 K/V cache: out follows q (f32), each tensor keeps its file's dtype.
  npy::write(path("q32.npy"), x[0], shape);
  const CommandResult m = attnlab("run --q q32.npy --k k.npy --v v.npy --out o.npy");
  ASSERT_EQ(m.status, 0) << m.output;
  EXPECT_EQ(field(m.output, "dtype"), "q f32, k f16, v f16, out f32");
  direct_any(dense3(x[0], 2, 9, 16), dense3(k, 2, 9, 16), dense3(v, 2, 9, 16),
             Tensor::contiguous(want32.data(), 1, 2, 9, 16));
  EXPECT_TRUE(std::ranges::equal(npy::read(path("o.npy")).data, want32));
}

TEST_F(Run, DtypeRoundsFloat32InputsToNearestEvenAndSaysSo) {
  const auto q = save("q.npy", {6, 8}, 1), k = save("k.npy", {7, 8}, 2), v = save("v.npy", {7, 8}, 3);
  std::vector<float> mask(42, 0.0f);
  mask[3] = -INFINITY;
  npy::write(path("m.npy"), mask, std::vector<i64>{6, 7});
  const CommandResult r = attnlab("run --q q.npy --k k.npy --v v.npy --mask m.npy --out o.npy --dtype bf16");
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* f : {"--q (q.npy)", "--k (k.npy)", "--v (v.npy)"})
    EXPECT_NE(r.output.find(std::string(f) + ": float32 rounded to bf16 (nearest even), as --dtype asks"),
              std::string::npos)
        << r.output;
  EXPECT_EQ(r.output.find("--mask (m.npy): float32 rounded"), std::string::npos) << "the mask keeps its dtype";
  EXPECT_EQ(field(r.output, "dtype"), "q bf16, k bf16, v bf16, mask f32, out f32");
  const npy::Array o = npy::read(path("o.npy"));
  EXPECT_EQ(o.stored, npy::DType::f4) << "bf16 has no NumPy dtype: a bf16 run writes float32";
  const auto qb = rounded<bf16>(q), kb = rounded<bf16>(k), vb = rounded<bf16>(v);
  std::vector<float> want(48);
  Options opts;
  opts.mask = {mask.data(), 6, 7, 0};
  direct_any(dense3(qb, 1, 6, 8), dense3(kb, 1, 7, 8), dense3(vb, 1, 7, 8), Tensor::contiguous(want.data(), 1, 1, 6, 8),
             opts);
  EXPECT_TRUE(std::ranges::equal(o.data, want));

  // --dtype f16 on f32 files: out is '<f2', equal to the library on the NumPy-rounded inputs.
  ASSERT_EQ(attnlab("run --q q.npy --k k.npy --v v.npy --out o.npy --dtype f16").status, 0);
  const auto qh = rounded<f16>(q), kh = rounded<f16>(k), vh = rounded<f16>(v);
  std::vector<f16> want16(48);
  direct_any(dense3(qh, 1, 6, 8), dense3(kh, 1, 7, 8), dense3(vh, 1, 7, 8),
             TensorView<f16>::contiguous(want16.data(), 1, 1, 6, 8));
  EXPECT_EQ(bits(npy::read_as<f16>(path("o.npy")).data), bits(want16));

  // A float16 file under --dtype f32 is widened (exactly), and said.
  npy::write(path("q2.npy"), qh, std::vector<i64>{6, 8});
  const CommandResult w = attnlab("run --q q2.npy --k k.npy --v v.npy --out o.npy --dtype f32");
  ASSERT_EQ(w.status, 0) << w.output;
  EXPECT_NE(w.output.find("--q (q2.npy): float16 widened exactly to f32, as --dtype asks"), std::string::npos)
      << w.output;
  EXPECT_EQ(field(w.output, "dtype"), "f32");
  EXPECT_EQ(npy::read(path("o.npy")).stored, npy::DType::f4);
}

TEST_F(Run, DtypeErrorsNameTheFlagAndTheLimit) {
  auto q = save("q.npy", {4, 4}, 1);
  save("k.npy", {4, 4}, 2);
  save("v.npy", {4, 4}, 3);
  const std::string base = "run --q q.npy --k k.npy --v v.npy --out o.npy ";
  expect_refused(base + "--dtype f8", {"--dtype: expected auto, f32, f16 or bf16, got 'f8'"});
  expect_refused(base + "--out-dtype bf16", {"--out-dtype: bf16 has no NumPy dtype"});
  expect_refused(base + "--out-dtype f64", {"--out-dtype: expected auto, f32 or f16, got 'f64'"});
  // 70000 is finite in float32 and past f16's largest, 65504: rounding makes it inf, which is refused.
  q[5] = 70000.0f;
  npy::write(path("q.npy"), q, std::vector<i64>{4, 4});
  expect_refused(base + "--dtype f16", {"--q (q.npy): 1 of 16 values are not finite (0 NaN, 1 inf; 1 of them float32 "
                                        "values too large for f16, whose largest is 65504)"});
  EXPECT_EQ(attnlab(base + "--dtype bf16").status, 0) << "bf16 keeps float32's range";
}

TEST_F(Run, HelpListsEveryOption) {
  const CommandResult r = attnlab("run --help");
  EXPECT_EQ(r.status, 0);
  for (const char* opt :
       {"--q", "--k", "--v", "--out", "--lse", "--kernel", "--causal", "--mask", "--scale", "--threads", "--check",
        "--allow-nonfinite", "--memory-budget", "--reps", "--dtype", "--out-dtype"})
    EXPECT_NE(r.output.find(opt), std::string::npos) << opt;
}

}  // namespace
}  // namespace attn::test
