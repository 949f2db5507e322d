#include "testkit.hpp"

#include "workload/inputs.hpp"

#include <algorithm>
#include <cmath>

namespace attn::test {

std::string Case::name() const {
  std::string s = "B" + std::to_string(B) + "_H" + std::to_string(H) + "_Hkv" + std::to_string(Hkv) + "_Nq" +
                  std::to_string(Nq) + "_Nk" + std::to_string(Nk) + "_d" + std::to_string(d) + "_dv" +
                  std::to_string(dv);
  if (causal == Causal::top_left) s += "_causalTL";
  if (causal == Causal::bottom_right) s += "_causalBR";
  if (mask) s += "_mask";
  if (permuted) s += "_permuted";
  if (value_range != 1.0f) s += "_range" + std::to_string(static_cast<int>(value_range));
  if (dtypes != DTypes{}) s += "_" + dtypes_name(dtypes);
  return s;
}

std::string dtypes_name(const DTypes& t) {
  if (t.q == t.k && t.q == t.v && t.q == t.out && t.q == t.mask) return to_string(t.q);
  return std::string("q") + to_string(t.q) + "_k" + to_string(t.k) + "_v" + to_string(t.v) + "_out" + to_string(t.out) +
         "_mask" + to_string(t.mask);
}

Buffers::Buffers(const Case& cc) : c(cc) {
  q.resize(static_cast<std::size_t>(c.B * c.H * c.Nq * c.d));
  k.resize(static_cast<std::size_t>(c.B * c.Hkv * c.Nk * c.d));
  v.resize(static_cast<std::size_t>(c.B * c.Hkv * c.Nk * c.dv));
  out.assign(static_cast<std::size_t>(c.B * c.H * c.Nq * c.dv), std::numeric_limits<float>::quiet_NaN());
  lse.assign(static_cast<std::size_t>(c.B * c.H * c.Nq), std::numeric_limits<float>::quiet_NaN());
  attnlab::fill_uniform(q, c.seed * 5 + 1, -c.value_range, c.value_range);
  attnlab::fill_uniform(k, c.seed * 5 + 2, -c.value_range, c.value_range);
  attnlab::fill_uniform(v, c.seed * 5 + 3, -1.0f, 1.0f);
  if (c.mask) {
    mask.resize(static_cast<std::size_t>(c.Nq * c.Nk));
    attnlab::fill_uniform(mask, c.seed * 5 + 4, -2.0f, 2.0f);
    // About one key in four masked out, but never a whole row unless Nk is tiny.
    for (std::size_t i = 0; i < mask.size(); ++i) {
      if ((i * 2654435761u + c.seed) % 4 == 0)
        mask[i] = -INFINITY;
      else
        mask[i] += c.logit_offset;
    }
  }
  store_inputs();
  // A 16-bit out starts as NaN too, so an unwritten element shows after load_output().
  out16.store(c.dtypes.out, out);
}

void Buffers::store_inputs() {
  q16.store(c.dtypes.q, q), k16.store(c.dtypes.k, k), v16.store(c.dtypes.v, v);
  if (c.mask) mask16.store(c.dtypes.mask, mask);
}

AnyConstTensor Buffers::typed(ConstTensor fp32, const Narrowed& n, DType t, const std::vector<float>& values) {
  AnyConstTensor view = fp32;
  view.data = n.data(t, values), view.dtype = t;
  return view;
}

AnyTensor Buffers::out_typed() {
  AnyTensor view = outv();
  view.data = out16.data(c.dtypes.out, out), view.dtype = c.dtypes.out;
  return view;
}

void Buffers::load_output() {
  out16.load(c.dtypes.out, out);
}

i64 Buffers::index(i64 heads, i64 n_len, i64 dim, i64 b, i64 h, i64 n, i64 t) const {
  return c.permuted ? ((b * n_len + n) * heads + h) * dim + t : ((b * heads + h) * n_len + n) * dim + t;
}

ConstTensor Buffers::view(const std::vector<float>& x, i64 h, i64 n, i64 d) const {
  if (!c.permuted) return ConstTensor::contiguous(x.data(), c.B, h, n, d);
  return {x.data(), {c.B, h, n, d}, {n * h * d, d, h * d, 1}};
}

Tensor Buffers::mut_view(std::vector<float>& x, i64 h, i64 n, i64 d) {
  if (!c.permuted) return Tensor::contiguous(x.data(), c.B, h, n, d);
  return {x.data(), {c.B, h, n, d}, {n * h * d, d, h * d, 1}};
}

Options Buffers::options(const std::string& kernel, int threads) const {
  Options o;
  o.kernel = kernel;
  o.threads = threads;
  o.causal = c.causal;
  o.scale = c.scale;
  if (c.mask) {
    o.mask = Mask{mask.data(), c.Nq, c.Nk, 0};
    o.mask.data.ptr = mask16.data(c.dtypes.mask, mask), o.mask.data.dtype = c.dtypes.mask;
  }
  return o;
}

void run(Buffers& b, const std::string& kernel, int threads) {
  b.store_inputs();
  attention(b.q_typed(), b.k_typed(), b.v_typed(), b.out_typed(), b.lsev(), b.options(kernel, threads));
  b.load_output();
}

double unit_roundoff(DType t) {
  return std::ldexp(1.0, t == DType::f16 ? -11 : t == DType::bf16 ? -8 : -24);
}

double rounding_error(DType t, double magnitude) {
  // Below the normal range the spacing is fixed: 2^-24 (f16), 2^-133 (bf16), 2^-149 (f32).
  const double half_subnormal = std::ldexp(1.0, t == DType::f16 ? -25 : t == DType::bf16 ? -134 : -150);
  return unit_roundoff(t) * magnitude + half_subnormal;
}

double narrowing_error(DType t, float x) {
  if (t == DType::f32) return 0;
  // |y| <= (|x| + η) / (1 − u) <= |x| (1 + 2u) + 2η, with η = rounding_error(t, 0).
  const double eta = rounding_error(t, 0);
  return rounding_error(t, std::abs(static_cast<double>(x)) * (1 + 2 * unit_roundoff(t)) + 2 * eta);
}

// The error bound. For query row i let u = 2^-24 (fp32 unit roundoff) and
//   A_i = |scale| · max_j Σ_t |q_it k_jt|      (size of the terms in a logit)
//   δ_i = u · ((d + 2) · A_i + max_j |mask_ij|)  (error of one fp32 logit:
//         γ_d for the dot product, one rounding each for scale and mask)
// A perturbation δ of every logit moves softmax weights by at most 2δ in
// ℓ1 (∂p/∂s = diag(p) − p pᵀ has ℓ1 norm ≤ 2), so the output moves by at most
// 2 δ_i · max|V|. exp, the sum of Nk weights and the P·V sum of Nk terms add
// at most (2 Nk + 16) u · max|V| (Higham, Accuracy and Stability, §3.1; the
// same structure as Blanchard, Higham & Higham 2021 for softmax). So
//   |o_it − ô_it| ≤ max|V| · (2 δ_i + (2 Nk + 16) u)
//   |lse_i − lŝe_i| ≤ δ_i + u · |lse_i| + (Nk + 8) u.
// Merged from S partials (each over a subset of the keys, so each within the bounds above
// with Nk): the merge weights softmax(lse_s) move by at most 2 ε_l in ℓ1 when every partial
// LSE errs by at most ε_l (the second bound), which moves O by at most 2 ε_l max|V|; the
// convex combination of the partial outputs keeps their error; the exps, the S-term sums
// and the division add at most (2 S + 8) u max|V|. Its LSE, M + log Σ e^(lse_s − M), errs by
// at most ε_l + u |lse| + (S + 4) u.
// A 16-bit O: the kernel rounds its fp32 result ĝ once, x = rd_t(ĝ), and the oracle's fp32 result
// r32 is rounded the same way, r = rd_t(r32) (Q, K, V and the mask are the same rounded values on
// both sides, so the bounds above hold between ĝ and r32). |x − r| <= tol_o + |x − ĝ| + |r − r32|,
// each bounded from the rounded value alone by narrowing_error.
// The bound is worst case; a wrong answer (a masking or indexing bug) errs by
// O(max|V|), thousands of times more.
void expect_matches_reference(const Buffers& got, const Buffers& ref, const std::string& what, int merged_parts) {
  const Case& c = ref.c;
  const double u = std::ldexp(1.0, -24);
  const double scale = c.scale.value_or(1.0f / std::sqrt(static_cast<float>(c.d)));
  int reported = 0;
  for (i64 b = 0; b < c.B; ++b)
    for (i64 h = 0; h < c.H; ++h) {
      const i64 hk = h / (c.H / c.Hkv);
      for (i64 i = 0; i < c.Nq; ++i) {
        double A = 0, mask_max = 0, vmax = 0;
        for (i64 j = 0; j < c.Nk; ++j) {
          double sum = 0;
          for (i64 t = 0; t < c.d; ++t)
            sum += std::abs(static_cast<double>(ref.q[ref.index(c.H, c.Nq, c.d, b, h, i, t)]) *
                            ref.k[ref.index(c.Hkv, c.Nk, c.d, b, hk, j, t)]);
          A = std::max(A, std::abs(scale) * sum);
          if (c.mask && std::isfinite(ref.mask[i * c.Nk + j]))
            mask_max = std::max(mask_max, std::abs(static_cast<double>(ref.mask[i * c.Nk + j])));
          for (i64 t = 0; t < c.dv; ++t)
            vmax = std::max(vmax, std::abs(static_cast<double>(ref.v[ref.index(c.Hkv, c.Nk, c.dv, b, hk, j, t)])));
        }
        const double delta = u * ((c.d + 2) * A + mask_max);
        const i64 li = (b * c.H + h) * c.Nq + i;
        const double lse_ref = std::abs(static_cast<double>(ref.lse[li]));
        const double tol_lse_one = delta + u * lse_ref + (c.Nk + 8.0) * u;
        const double S = merged_parts;
        double tol_o = vmax * (2 * delta + (2.0 * c.Nk + 16) * u);
        if (merged_parts > 0) tol_o += vmax * (2 * tol_lse_one + (2 * S + 8) * u);
        const double tol_l = tol_lse_one + (merged_parts > 0 ? u * lse_ref + (S + 4) * u : 0.0);
        const DType ot = c.dtypes.out;
        for (i64 t = 0; t < c.dv; ++t) {
          const i64 at = ref.index(c.H, c.Nq, c.dv, b, h, i, t);
          const float x = got.out[at], r = ref.out[at];
          const double tol_t = tol_o + narrowing_error(ot, x) + narrowing_error(ot, r);
          const bool ok = (std::isnan(x) && std::isnan(r)) || x == r || std::abs(static_cast<double>(x) - r) <= tol_t;
          if (!ok && reported++ < 5)
            ADD_FAILURE() << what << " " << c.name() << ": out[b=" << b << ",h=" << h << ",i=" << i << ",t=" << t
                          << "] = " << x << ", reference " << r << ", |diff| " << std::abs(static_cast<double>(x) - r)
                          << " > bound " << tol_t;
        }
        const float x = got.lse[li], r = ref.lse[li];
        const bool ok = (std::isnan(x) && std::isnan(r)) || x == r || std::abs(static_cast<double>(x) - r) <= tol_l;
        if (!ok && reported++ < 5)
          ADD_FAILURE() << what << " " << c.name() << ": lse[b=" << b << ",h=" << h << ",i=" << i << "] = " << x
                        << ", reference " << r << " > bound " << tol_l;
      }
    }
}

std::vector<std::string> kernel_names() {
  std::vector<std::string> names;
  for (const KernelInfo& k : kernels()) names.emplace_back(k.name);
  return names;
}

std::vector<DTypes> contract_dtypes() {
  const DType f32 = DType::f32, f16 = DType::f16, bf16 = DType::bf16;
  return {{f32, f32, f32, f32, f32},
          {f16, f16, f16, f16, f16},
          {bf16, bf16, bf16, bf16, bf16},
          {f32, bf16, bf16, f32, f16}};
}

void PrintTo(const KernelDtypes& p, std::ostream* os) {
  *os << p.kernel << " " << dtypes_name(p.dtypes);
}

std::vector<KernelDtypes> kernels_with_dtypes(bool (*keep)(const std::string&)) {
  std::vector<KernelDtypes> out;
  for (const KernelInfo& k : kernels()) {
    if (keep != nullptr && !keep(std::string(k.name))) continue;
    for (const DTypes& t : contract_dtypes())
      if (k.dtypes.contains(t.q) && k.dtypes.contains(t.k) && k.dtypes.contains(t.v) && k.dtypes.contains(t.out) &&
          k.dtypes.contains(t.mask))
        out.push_back({std::string(k.name), t});
  }
  return out;
}

std::string param_name(const ::testing::TestParamInfo<KernelDtypes>& info) {
  return info.param.kernel + "_" + dtypes_name(info.param.dtypes);
}

void expect_masked_row_zero_and_nan_query_nan(const std::string& kernel, i64 nk, const DTypes& t) {
  Case c = Case{}.shape(3, nk, 16);
  c.mask = true, c.dtypes = t;
  Buffers b(c);
  std::fill_n(b.mask.begin(), nk, -INFINITY);                                                  // row 0: all masked
  for (i64 x = 0; x < c.d; ++x) b.q[2 * c.d + x] = x == 3 ? std::nanf("") : b.q[2 * c.d + x];  // row 2: a NaN query
  run(b, kernel);
  const std::string what = kernel + " Nk=" + std::to_string(nk) + " " + dtypes_name(t);
  for (i64 x = 0; x < c.dv; ++x) {
    EXPECT_EQ(b.out[x], 0.0f) << what;
    EXPECT_TRUE(std::isfinite(b.out[c.dv + x])) << what;
    EXPECT_TRUE(std::isnan(b.out[2 * c.dv + x])) << what;
  }
  EXPECT_EQ(b.lse[0], -INFINITY) << what;
  EXPECT_TRUE(std::isfinite(b.lse[1])) << what;
  EXPECT_TRUE(std::isnan(b.lse[2])) << what;
}

}  // namespace attn::test
