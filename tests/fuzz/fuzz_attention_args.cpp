// libFuzzer harness: random shapes, strides, masks and options into
// attn::attention(). Every call must either throw attn::Error or compute
// without a sanitizer report.
//
// Buffers are sized exactly to what each view addresses, so AddressSanitizer
// catches any read or write outside a valid view. A view that addresses more
// than kMaxElements, or has more elements, gets no buffer (data = nullptr, which attention() must
// refuse when the view is not empty); a view whose extent overflows int64 gets
// a one-element buffer, and attention() must refuse it before touching it.
#include <fuzzer/FuzzedDataProvider.h>
#include <attn/attention.hpp>
#include <attn/kernels.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace {

using i64 = std::int64_t;
using i128 = __int128;
constexpr i64 kMaxElements = 1 << 14;
constexpr i128 kI64Max = std::numeric_limits<i64>::max();

i64 pick_dim(FuzzedDataProvider& f) {
  switch (f.ConsumeIntegralInRange<int>(0, 19)) {
    case 0:
      return f.ConsumeIntegralInRange<i64>(1 << 20, std::numeric_limits<i64>::max());
    case 1:
      return -f.ConsumeIntegralInRange<i64>(1, 3);
    default:
      return f.ConsumeIntegralInRange<i64>(0, 7);
  }
}

i64 pick_stride(FuzzedDataProvider& f, i64 natural) {
  switch (f.ConsumeIntegralInRange<int>(0, 9)) {
    case 0:
      return f.ConsumeIntegralInRange<i64>(0, 40);
    case 1:
      return f.ConsumeIntegralInRange<i64>(1 << 20, std::numeric_limits<i64>::max());
    case 2:
      return -f.ConsumeIntegralInRange<i64>(1, 40);
    case 3:
      return 0;
    default:
      return natural;
  }
}

/// A fuzzed view and the memory behind it.
struct View {
  std::array<i64, 4> shape{}, strides{};
  std::unique_ptr<float[]> buffer;
  float* data = nullptr;
  bool must_throw = false;  ///< attention() has to refuse this view
};

/// `base` gives the shape unless a dimension is fuzzed away from it.
View make_view(FuzzedDataProvider& f, std::array<i64, 4> base, bool fill) {
  View v;
  for (int i = 0; i < 4; ++i) v.shape[i] = f.ConsumeIntegralInRange<int>(0, 7) == 0 ? pick_dim(f) : base[i];
  // Natural strides computed with saturation: a C-order layout of the shape.
  i128 natural = 1;
  for (int i = 3; i >= 0; --i) {
    v.strides[i] = static_cast<i64>(std::min<i128>(natural, kI64Max));
    natural = std::min<i128>(natural * std::max<i64>(v.shape[i], 1), kI64Max);
  }
  for (int i = 0; i < 4; ++i) v.strides[i] = pick_stride(f, v.strides[i]);
  if (f.ConsumeIntegralInRange<int>(0, 5) > 0) v.strides[3] = 1;

  bool negative = false;
  i128 count = 1, extent = 1;
  for (int i = 0; i < 4; ++i) {
    negative |= v.shape[i] < 0 || v.strides[i] < 0;
    count *= std::max<i64>(v.shape[i], 0);
    if (count > kI64Max) count = kI64Max + 1;  // saturate: only "overflows" matters
  }
  if (negative) {
    v.must_throw = true;
  } else if (count > 0) {
    for (int i = 0; i < 4; ++i) {
      extent += static_cast<i128>(v.shape[i] - 1) * v.strides[i];
      if (extent > kI64Max) extent = kI64Max + 1;
    }
    if (count * 4 > kI64Max || extent * 4 > kI64Max) v.must_throw = true;
  }
  if (v.must_throw || count == 0) {
    v.buffer = std::make_unique<float[]>(1);
    v.data = f.ConsumeBool() ? v.buffer.get() : nullptr;
    if (v.must_throw) v.data = v.buffer.get();
    return v;
  }
  // Too big to back with memory, or (with broadcast strides of 0) to compute in
  // a fuzzing iteration: passed as null, which attention() must refuse.
  if (extent > kMaxElements || count > kMaxElements) {
    v.must_throw = true;
    return v;
  }
  v.buffer = std::make_unique<float[]>(static_cast<std::size_t>(extent));
  for (i128 i = 0; i < extent; ++i) {
    float x = static_cast<float>(i % 7) * 0.25f - 0.75f;
    if (fill && f.ConsumeIntegralInRange<int>(0, 63) == 0)
      x = f.ConsumeBool() ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
    v.buffer[static_cast<std::size_t>(i)] = x;
  }
  v.data = v.buffer.get();
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider f(data, size);
  // Base sizes, shared by all views (so that they agree); now and then a huge one,
  // which with a zero elsewhere gives empty views whose other sizes are unbounded.
  auto base_size = [&](i64 hi) {
    return f.ConsumeIntegralInRange<int>(0, 15) == 0
               ? f.ConsumeIntegralInRange<i64>(1 << 20, std::numeric_limits<i64>::max())
               : f.ConsumeIntegralInRange<i64>(0, hi);
  };
  const i64 B = base_size(3), H = base_size(4);
  const i64 Hkv = f.ConsumeBool() ? H : base_size(4);
  const i64 Nq = base_size(9), Nk = base_size(9);
  const i64 d = base_size(9), dv = f.ConsumeBool() ? d : base_size(9);

  View q = make_view(f, {B, H, Nq, d}, true), k = make_view(f, {B, Hkv, Nk, d}, true);
  View v = make_view(f, {B, Hkv, Nk, dv}, true), out = make_view(f, {B, H, Nq, dv}, false);
  const bool with_lse = f.ConsumeBool();
  View lse = with_lse ? make_view(f, {B, H, Nq, 1}, false) : View{};

  attn::Options o;
  if (f.ConsumeBool()) {
    const float choices[] = {
        0.0f, 0.5f, -1.0f, 1e30f, std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()};
    o.scale = choices[f.ConsumeIntegralInRange<int>(0, 5)];
  }
  o.causal = static_cast<attn::Causal>(f.ConsumeIntegralInRange<int>(0, 2));
  o.threads = f.ConsumeIntegralInRange<int>(-1, 3);
  std::vector<std::string> names{"auto", "no-such-kernel"};
  for (const auto& kinfo : attn::kernels()) names.emplace_back(kinfo.name);
  o.kernel = names[f.ConsumeIntegralInRange<std::size_t>(0, names.size() - 1)];
  if (f.ConsumeBool()) o.memory_budget = f.ConsumeIntegralInRange<std::size_t>(1, 1 << 16);

  std::unique_ptr<float[]> mask;
  if (f.ConsumeBool()) {
    attn::Mask m;
    m.rows = f.ConsumeBool() ? Nq : pick_dim(f);
    m.cols = f.ConsumeBool() ? Nk : pick_dim(f);
    m.row_stride = f.ConsumeBool() ? 0 : pick_stride(f, m.cols);
    const i64 stride = m.row_stride ? m.row_stride : m.cols;
    const i128 extent = m.rows > 0 && m.cols > 0 ? static_cast<i128>(m.rows - 1) * stride + m.cols : 0;
    const bool valid = m.rows == Nq && m.cols == Nk && stride >= m.cols;
    if (extent <= kMaxElements || !valid) {  // an addressable mask, or one attention() must refuse
      const i128 n = std::clamp<i128>(extent, 1, kMaxElements);
      mask = std::make_unique<float[]>(static_cast<std::size_t>(n));
      for (i128 i = 0; i < n; ++i)
        mask[static_cast<std::size_t>(i)] = i % 5 == 0 ? -std::numeric_limits<float>::infinity() : 0.1f * (i % 3);
      m.data = f.ConsumeIntegralInRange<int>(0, 9) == 0 ? nullptr : mask.get();
      if (!valid)
        o.mask = m;
      else if (extent <= kMaxElements)
        o.mask = m;
    }
  }

  const bool must_throw = q.must_throw || k.must_throw || v.must_throw || out.must_throw || lse.must_throw;
  const attn::ConstTensor qv{q.data, q.shape, q.strides}, kv{k.data, k.shape, k.strides},
      vv{v.data, v.shape, v.strides};
  const attn::Tensor ov{out.data, out.shape, out.strides};
  const attn::Tensor lv = with_lse ? attn::Tensor{lse.data, lse.shape, lse.strides} : attn::Tensor{};
  if (std::getenv("ATTN_FUZZ_VERBOSE")) {  // to turn a finding into a regression test
    auto show = [](const char* n, const View& x) {
      std::fprintf(stderr, "%s shape [%lld %lld %lld %lld] strides [%lld %lld %lld %lld] data %s\n", n,
                   (long long)x.shape[0], (long long)x.shape[1], (long long)x.shape[2], (long long)x.shape[3],
                   (long long)x.strides[0], (long long)x.strides[1], (long long)x.strides[2], (long long)x.strides[3],
                   x.data ? "set" : "null");
    };
    show("q", q), show("k", k), show("v", v), show("out", out);
    if (with_lse) show("lse", lse);
    std::fprintf(stderr, "kernel %s causal %d threads %d budget %zu scale %s mask %lld x %lld stride %lld %s\n",
                 o.kernel.c_str(), static_cast<int>(o.causal), o.threads, o.memory_budget,
                 o.scale ? std::to_string(*o.scale).c_str() : "default", (long long)o.mask.rows, (long long)o.mask.cols,
                 (long long)o.mask.row_stride, o.mask.data ? "set" : "null");
  }
  try {
    attn::attention(qv, kv, vv, ov, lv, o);
  } catch (const attn::Error&) {
    return 0;
  }
  if (must_throw) std::abort();  // an invalid view was accepted
  return 0;
}
